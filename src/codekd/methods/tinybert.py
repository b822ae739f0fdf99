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

from typing import Any, Sequence

import torch
from torch import nn

from ..errors import ConfigError
from .align import align_tokens, check_align_mode
from .base import Method, Needs, register_method
from .layermap import LayerMap, build_layer_map, check_layer_map_spec
from .soft import soft_and_hard


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


class HiddenProjections(nn.Module):
    def __init__(self, widths: dict[int, int], out_width: int):
        super().__init__()
        self.proj = nn.ModuleDict({str(l): nn.Linear(w, out_width) for l, w in widths.items()})

    def forward(self, layer: int, x: torch.Tensor) -> torch.Tensor:
        return self.proj[str(layer)](x)


@register_method
class TinyBERTHidden(Method):
    __doc__ = __doc__
    name = "tinybert"
    description = "TinyBERT-style hidden-state MSE through learned projections, tokens aligned across tokenizers"
    needs = Needs(teacher=True, logits=True, hidden_states=True, token_alignment=True)
    defaults = {"temperature": 4.0, "alpha": 0.7, "beta": 1.0, "layer_map": "uniform", "align": "offsets",
                "include_embeddings": True}
    paper_defaults = {"temperature": 1.0, "alpha": 1.0, "beta": 1.0, "layer_map": "uniform", "align": "position",
                      "include_embeddings": True}

    @classmethod
    def validate_params(cls, params: dict[str, Any]) -> None:
        check_layer_map_spec(params["layer_map"])
        check_align_mode(params["align"])
        if not isinstance(params["include_embeddings"], bool):
            raise ConfigError("tinybert: include_embeddings must be true or false")
        if not 0 <= float(params["alpha"]) <= 1:
            raise ConfigError("tinybert: alpha must be in [0, 1]")

    def check(self) -> None:
        ctx = self.ctx
        if ctx.teacher_layers is None or ctx.teacher_hidden is None:
            raise ConfigError("tinybert needs the teacher's depth and width (a live teacher)")
        self.refuse_causal_paper_faithful("regresses the teacher's token states position by position")
        self.note_causal_teacher()
        lm = build_layer_map(self.params["layer_map"], ctx.student_layers, ctx.teacher_layers)
        if self.params["include_embeddings"]:
            lm = lm.with_embeddings()
        self.layer_map: LayerMap = lm
        emb_width = int(ctx.extra.get("student_embedding_hidden")
                        or (ctx.student_hidden // 2 if ctx.student_family == "gru" else ctx.student_hidden))
        widths = {s: (emb_width if s == 0 else ctx.student_hidden) for s in lm.student_layers}
        self._projections = HiddenProjections(widths, ctx.teacher_hidden)

    def modules(self) -> nn.Module:
        return self._projections

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["layer_map"] = self.layer_map.describe()
        return d

    def teacher_token_layers(self) -> tuple[int, ...]:
        return tuple(sorted(set(self.layer_map.teacher_layers)))

    def loss(self, student, teacher, labels, modules=None):
        proj = modules if modules is not None else self._projections
        if student.hidden_states is None or teacher is None or teacher.hidden_states is None:
            raise RuntimeError("tinybert needs per-layer token states of both sides (needs.hidden_states)")
        al = align_tokens(self.params["align"], student_mask=student.attention_mask, teacher_mask=teacher.attention_mask,
                          student_offsets=student.offsets, teacher_offsets=teacher.offsets)
        s_list, t_list = [], []
        for s, t in self.layer_map.pairs:
            s_list.append(proj(s, al.student(student.hidden_states[s])))
            with torch.no_grad():
                t_list.append(al.teacher(teacher.hidden_states[t].detach().float()))
        mse = hidden_mse(s_list, t_list, al.mask)
        total, parts = soft_and_hard(student.logits, teacher.logits, labels, temperature=float(self.params["temperature"]),
                                     alpha=float(self.params["alpha"]), soft="ce" if self.paper_faithful else "kl")
        total = total + float(self.params["beta"]) * mse
        parts["hidden_mse"] = float(mse.detach())
        return total, parts
