"""Cosine: DistilBERT's cosine embedding loss (Sanh et al. 2019) on hidden states: the student's
token states (through a learned projection where the widths differ) point the way the teacher's do.

``alpha*T^2*KL + (1-alpha)*CE + beta * sum_l mean_tokens (1 - cos(h_s^l, h_t^m(l)))`` over the mapped
layers (``uniform`` map) and the real tokens aligned by character offsets (:mod:`codekd.methods.align`).
No paper-faithful variant: DistilBERT compares the last layer with a shared tokenizer (``layer_map``,
``align=shared-tokens``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .base import Outputs, register_method
from .feature import FeatureMethod, MappedStates
from .golden import Golden


def _side(states: list[list[float]]) -> Outputs:  # one layer of 3 tokens; token 0 special (empty span)
    return Outputs(logits=torch.zeros(1, 3), hidden_states=(torch.zeros(1, 3, 2), torch.tensor([states]).float()),
                   attention_mask=torch.ones(1, 3), offsets=torch.tensor([[[0, 0], [0, 1], [1, 2]]]))


@register_method
class Cosine(FeatureMethod):
    __doc__ = __doc__
    name = "cosine"
    description = "cosine distance of hidden states (DistilBERT's cosine embedding loss), tokens aligned"
    projection = "where-widths-differ"
    golden = (Golden(_side([[9, 9], [3, 4], [0, 2]]), _side([[-1, 1], [1, 0], [0, 5]]), None, total=0.2,
                     parts={"soft": 0.0, "cos": 0.2}, params={"layer_map": [1]},
                     why="token 0 masked; 1 - cos([3,4], [1,0]) = 0.4, 1 - cos([0,2], [0,5]) = 0: mean 0.2"),)

    def feature_loss(self, states: MappedStates) -> tuple[torch.Tensor, dict[str, float]]:
        total = torch.zeros(())
        for s, t in zip(states.student, states.teacher):
            d = 1 - F.cosine_similarity(s.float(), t.float(), dim=-1)
            total = total + (d.mean() if states.mask is None else (d * states.mask).sum() / states.mask.sum().clamp_min(1))
        return total, {"cos": float(total.detach())}
