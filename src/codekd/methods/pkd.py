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

from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from .base import Method, Needs, register_method
from .layermap import LayerMap, build_layer_map, check_layer_map_spec
from .soft import soft_and_hard

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


class PKDProjections(nn.Module):
    """One ``Linear(in, out)`` (with bias) per mapped layer, keyed by student layer."""

    def __init__(self, layers: Sequence[int], in_width: int, out_width: int):
        super().__init__()
        self.proj = nn.ModuleDict({str(l): nn.Linear(in_width, out_width) for l in layers})

    def forward(self, layer: int, x: torch.Tensor) -> torch.Tensor:
        return self.proj[str(layer)](x)


@register_method
class PKD(Method):
    __doc__ = __doc__
    name = "pkd"
    description = "patient KD: normalised intermediate [CLS]/final states through a learned projection (Sun et al. 2019)"
    needs = Needs(teacher=True, logits=True, pooled_states=True)
    defaults = {"temperature": 4.0, "alpha": 0.7, "beta": 1.0, "layer_map": "skip", "projection": "student",
                "reduction": "sum"}
    paper_defaults = {"temperature": 10.0, "alpha": 1.0, "beta": 10.0, "layer_map": "skip", "projection": "teacher",
                      "reduction": "mean"}
    task_support = "all tasks"

    @classmethod
    def validate_params(cls, params: dict[str, Any]) -> None:
        check_layer_map_spec(params["layer_map"])
        if params["projection"] not in ("student", "teacher"):
            raise ConfigError(f"pkd: projection must be 'student' or 'teacher', got {params['projection']!r}")
        if params["reduction"] not in REDUCTIONS:
            raise ConfigError(f"pkd: reduction must be one of {REDUCTIONS}, got {params['reduction']!r}")
        if not 0 <= float(params["alpha"]) <= 1:
            raise ConfigError("pkd: alpha must be in [0, 1]")
        if float(params["temperature"]) <= 0:
            raise ConfigError("pkd: temperature must be > 0")

    def check(self) -> None:
        ctx = self.ctx
        self.refuse_causal_paper_faithful("matches per-layer [CLS] states (the first token: in a causal model it "
                                          "has seen only itself)")
        if ctx.student_layers < 2:
            raise ConfigError("pkd needs a student with at least 2 layers (the patient term covers layers 1..L-1)")
        if ctx.teacher_layers is None or ctx.teacher_hidden is None:
            raise ConfigError("pkd needs the teacher's depth and width (a live teacher)")
        full = build_layer_map(self.params["layer_map"], ctx.student_layers, ctx.teacher_layers)
        self.layer_map: LayerMap = full.restrict(range(1, ctx.student_layers))
        if 0 in self.layer_map.teacher_layers:
            raise ConfigError("pkd compares per-layer [CLS] states; teacher layer 0 (embeddings) has none in the map")
        t_width = int(ctx.extra.get("teacher_pooled_hidden", ctx.teacher_hidden))
        s_width = ctx.student_hidden
        layers = self.layer_map.student_layers
        if self.params["projection"] == "student":
            self._projections = PKDProjections(layers, s_width, t_width)
        else:
            self._projections = PKDProjections(layers, t_width, s_width)

    def modules(self) -> nn.Module:
        return self._projections

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["layer_map"] = self.layer_map.describe()
        d["state"] = "[CLS] per layer" if self.ctx.student_family != "gru" else "GRU final states (both directions)"
        d["teacher_state"] = "last real token per layer (causal teacher)" if self.causal_teacher else "pooled per layer"
        return d

    def loss(self, student, teacher, labels, modules=None):
        proj = modules if modules is not None else self._projections
        if student.pooled_states is None or teacher is None or teacher.pooled_states is None:
            raise RuntimeError("pkd needs pooled per-layer states of both sides (needs.pooled_states)")
        s_list, t_list = [], []
        for s_layer, t_layer in self.layer_map.pairs:
            hs = student.pooled_states[s_layer - 1]
            ht = teacher.pooled_states[t_layer - 1].detach().to(hs.dtype)
            if self.params["projection"] == "student":
                hs = proj(s_layer, hs)
            else:
                ht = proj(s_layer, ht)
            s_list.append(hs)
            t_list.append(ht)
        pt = patient_loss(s_list, t_list, reduction=self.params["reduction"])
        total, parts = soft_and_hard(student.logits, teacher.logits, labels, temperature=float(self.params["temperature"]),
                                     alpha=float(self.params["alpha"]), soft="ce" if self.paper_faithful else "kl")
        total = total + float(self.params["beta"]) * pt
        parts["pt"] = float(pt.detach())
        return total, parts
