"""PKD (Sun et al. 2019, "Patient Knowledge Distillation"): the student also matches the teacher's
normalised intermediate [CLS] states.

``alpha*T^2*soft + (1-alpha)*CE + beta*PT`` with the patient term over student layers
``1..L-1`` (the last layer is already taught through the logits) and teacher layers ``m(l)``
from a layer map (default ``skip``, i.e. PKD-Skip; any depth to any depth). The compared state of
a layer is its [CLS] (first-token) state for transformer students and teachers, and the layer's
final state in both directions for a BiGRU student (forward state at the last real token ++
backward state at the first). A decoder-only (causal) teacher's state is its pooled one: the last
real token's state of each layer, the only one that has seen the whole input (its first token has
seen only itself); paper-faithful PKD, written for [CLS], refuses such a teacher. A learned linear projection (with bias, one per mapped layer)
bridges the widths; projections are trained with the student, in its optimizer, and are not part
of the exported student.

Corrected default (``T=4, alpha=0.7, beta=1``): the projection is on the *student* side,
``PT = sum_l mean_b || norm(W_l h_s^l) - norm(h_t^m(l)) ||^2`` (Sun et al.'s squared distance of
unit vectors, summed over the mapped layers, averaged over the batch), soft term KL(batchmean)*T^2.

Paper-faithful (the paper's code; ``T=10, alpha=1, beta=10``): the projection is on the *teacher*
side before normalisation, ``norm(h_s^l)`` against ``norm(W_l h_t^m(l))``; the soft term is the
soft-target cross-entropy times ``T^2``; the MSE is one mean over batch x layers x hidden (so the
term is ``D`` times smaller than Sun et al.'s, and a trainable map on the teacher side can move
the target towards the student instead of the student towards the teacher).
"""

from __future__ import annotations

from typing import Any, Literal, Sequence

import math

import torch
import torch.nn.functional as F

from ..errors import ConfigError
from .base import Outputs, register_method
from .feature import FeatureMethod, MappedStates
from .golden import Golden
from .layermap import LayerMap
from .params import Alpha, LayerMapSpec, MethodParams, Temperature, Weight

REDUCTIONS = ("sum", "mean")


def patient_loss(student_states: Sequence[torch.Tensor], teacher_states: Sequence[torch.Tensor], *,
                 reduction: str = "sum") -> torch.Tensor:
    """The patient term between already projected pooled states (lists of ``[B, D]``, one per layer).

    Each vector is L2-normalised. ``reduction="sum"``: ``sum_l mean_b ||s - t||^2``;
    ``"mean"``: one mean of the squared differences over batch x layers x hidden (the paper's code).
    """
    if len(student_states) != len(teacher_states) or not student_states:
        raise ValueError("patient_loss needs the same, non-zero number of student and teacher layers")
    diffs = [F.normalize(s.float(), dim=-1) - F.normalize(t.float(), dim=-1) for s, t in zip(student_states, teacher_states)]
    if reduction == "mean":
        return torch.stack([d.pow(2) for d in diffs]).mean()
    if reduction == "sum":
        return sum(d.pow(2).sum(-1).mean() for d in diffs)
    raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


@register_method
class PKD(FeatureMethod):
    __doc__ = __doc__
    name = "pkd"
    description = "patient KD: normalised intermediate [CLS]/final states through a learned projection (Sun et al. 2019)"
    states = "pooled"
    formula = "matches per-layer [CLS] states (the first token: in a causal model it has seen only itself)"
    task_support = "all tasks"

    class Params(MethodParams):
        temperature: Temperature = 4.0
        alpha: Alpha = 0.7
        beta: Weight = 1.0
        layer_map: LayerMapSpec = "skip"
        projection: Literal["student", "teacher"] = "student"
        reduction: Literal["sum", "mean"] = "sum"

    paper = Params(temperature=10.0, alpha=1.0, beta=10.0, projection="teacher", reduction="mean")

    # student layers 1, 2 of 3 -> teacher layers 2, 4 of 6 (skip, k = 2); equal logits; identity projections
    _s = Outputs(logits=torch.zeros(1, 2), pooled_states=tuple(torch.tensor([v]) for v in ([3., 4.], [0., 2.], [9., 9.])))
    _t = Outputs(logits=torch.zeros(1, 2), pooled_states=tuple(torch.tensor([v]) for v in (
        [7., 7.], [1., 0.], [7., 7.], [0., 5.], [7., 7.], [7., 7.])))
    _ctx = {"num_labels": 2, "student_layers": 3, "teacher_layers": 6}
    golden = (
        Golden(_s, _t, torch.tensor([0]), total=0.3 * math.log(2) + 0.8, parts={"soft": 0.0, "ce": math.log(2), "pt": 0.8},
               context=_ctx, why="pair 1: norm[3,4] = [.6,.8] vs [1,0]: .16 + .64 = .8; pair 2: [0,1] vs [0,1]: 0; "
                                 "PT (sum) = 0.8; KL = 0 (equal logits); CE = ln 2; 0.3 ln 2 + 1 * 0.8"),
        Golden(_s, _t, torch.tensor([0]), total=100 * math.log(2) + 10 * 0.2, parts={"soft": 100 * math.log(2), "pt": 0.2},
               context=_ctx, paper_faithful=True, tol=1e-5,
               why="paper: PT one mean over B x L x H = 0.8 / 4 = 0.2, beta 10; soft-target CE of equal uniform "
                   "logits = ln 2, x T^2 = 100; alpha 1: no CE"))
    del _s, _t, _ctx

    def projection_side(self) -> str:
        return self.p.projection

    def map_layers(self) -> LayerMap:
        if self.ctx.student_layers < 2:
            raise ConfigError("pkd needs a student with at least 2 layers (the patient term covers layers 1..L-1)")
        lm = super().map_layers().restrict(range(1, self.ctx.student_layers))
        if 0 in lm.teacher_layers:
            raise ConfigError("pkd compares per-layer [CLS] states; teacher layer 0 (embeddings) has none in the map")
        return lm

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["state"] = "[CLS] per layer" if self.ctx.student_family != "gru" else "GRU final states (both directions)"
        d["teacher_state"] = "last real token per layer (causal teacher)" if self.causal_teacher else "pooled per layer"
        return d

    def feature_loss(self, states: MappedStates) -> tuple[torch.Tensor, dict[str, float]]:
        pt = patient_loss(states.student, states.teacher, reduction=self.p.reduction)
        return pt, {"pt": float(pt.detach())}
