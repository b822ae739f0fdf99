"""TinyBERT-style hidden-state distillation (Jiao et al. 2020): the student's token states, through a
learned projection per mapped layer, regress the teacher's token states.

``alpha*T^2*soft + (1-alpha)*CE + beta * sum_l MSE(W_l h_s^l, h_t^m(l))`` over the mapped layers
(default ``uniform`` map; the embedding outputs are paired too, ``0 -> 0``, as in TinyBERT). The
projections (``Linear(D_s^l, D_t)`` with bias; a BiGRU student's H-wide embedding output gets its
own) are trained with the student and are not exported. TinyBERT's attention-map loss is not
included (it needs a shared tokenizer and equal head counts).

Corrected default (``T=4, alpha=0.7, beta=1``): token positions aligned across the two tokenizers
by character offsets (:mod:`codekd.methods.align`), the MSE a masked mean over real, aligned
tokens x hidden; soft term KL(batchmean)*T^2.

Paper-faithful (TinyBERT's own setting, which assumes the teacher's tokenizer): position-wise
comparison, every position (special tokens and padding too) in the mean, ``T=1, alpha=1`` with
the soft-target cross-entropy as the prediction-layer loss. TinyBERT trains the intermediate
layers and the prediction layer in two stages; here they are one joint loss.
"""

from __future__ import annotations

from typing import Sequence

import torch

from .base import Outputs, register_method
from .feature import FeatureMethod, FeatureParams, MappedStates
from .golden import Golden


def hidden_mse(student_states: Sequence[torch.Tensor], teacher_states: Sequence[torch.Tensor],
               mask: torch.Tensor | None) -> torch.Tensor:
    """``sum_l`` mean squared error of projected student states against teacher states.

    Each pair is ``[B, n, D]`` on common positions; ``mask`` ``[B, n]`` picks the positions in
    the mean (None: all of them).
    """
    total = torch.zeros((), device=student_states[0].device)
    for s, t in zip(student_states, teacher_states):
        d = (s.float() - t.detach().float()).pow(2)
        if mask is None:
            total = total + d.mean()
        else:
            m = mask.unsqueeze(-1).to(d.dtype)
            total = total + (d * m).sum() / (m.sum() * d.shape[-1]).clamp_min(1)
    return total


@register_method
class TinyBERTHidden(FeatureMethod):
    __doc__ = __doc__
    name = "tinybert"
    description = "TinyBERT-style hidden-state MSE through learned projections, tokens aligned across tokenizers"
    projection = "student"
    formula = "regresses the teacher's token states position by position"

    class Params(FeatureParams):
        include_embeddings: bool = True

    paper = Params(temperature=1.0, alpha=1.0, align="position")

    # one mapped layer (1 -> 1), widths 2 (identity projection), equal logits, no labels: total = beta * MSE
    _h = torch.zeros(1, 3, 2)
    _spans = torch.tensor([[[0, 1], [1, 2], [0, 0]]])  # token 2: a special token (empty span)
    _s = Outputs(logits=torch.zeros(1, 3), hidden_states=(_h, torch.tensor([[[1., 2.], [3., 4.], [9., 9.]]])),
                 attention_mask=torch.ones(1, 3), offsets=_spans)
    _t = Outputs(logits=torch.zeros(1, 3), hidden_states=(_h, torch.tensor([[[1., 0.], [3., 5.], [0., 0.]]])),
                 attention_mask=torch.ones(1, 3), offsets=_spans)
    _p = {"layer_map": [1], "include_embeddings": False}
    golden = (
        Golden(_s, _t, None, total=5 / 4, parts={"soft": 0.0, "hidden_mse": 5 / 4}, params=_p,
               why="offsets: token 2 is masked out; squared errors token 0: 0 + 4, token 1: 0 + 1 -> 5 / (2 x 2)"),
        Golden(_s, _t, None, total=167 / 6, parts={"soft": 0.0, "hidden_mse": 167 / 6}, params={**_p, "align": "position"},
               why="position: every position counts: (0 + 4) + (0 + 1) + (81 + 81) over 3 x 2"))
    del _h, _spans, _s, _t, _p

    def embeddings(self) -> bool:
        return self.p.include_embeddings

    def feature_loss(self, states: MappedStates) -> tuple[torch.Tensor, dict[str, float]]:
        mse = hidden_mse(states.student, states.teacher, states.mask)
        return mse, {"hidden_mse": float(mse.detach())}
