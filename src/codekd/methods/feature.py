"""The frame of the hidden-state methods (PKD, CKD, TinyBERT, cosine, ...): :class:`FeatureMethod`.

A feature method's loss is ``alpha*T^2*soft + (1-alpha)*CE + beta * F(student states, teacher
states)``: the soft and hard terms of :mod:`codekd.methods.terms` plus one feature term ``F``
over the mapped layer pairs. The base holds what they share:

* the layer map (``layer_map`` parameter; the embedding outputs paired first, ``0 -> 0``, when
  :meth:`FeatureMethod.embeddings` says so): :attr:`FeatureMethod.layer_map`;
* the compared states (:attr:`FeatureMethod.states`): ``"pooled"``, each layer's pooled state
  ([CLS], a BiGRU's final states, a causal teacher's last real token), or ``"tokens"``, the token
  states aligned across the two tokenizers by the ``align`` parameter
  (:mod:`codekd.methods.align`), with the mask of the positions allowed into a mean;
* learned per-layer projections (:class:`LayerProjections`, one ``Linear`` with bias per mapped
  student layer) on the side :meth:`FeatureMethod.projection_side` names, trained with the student
  and never exported.

A subclass sets ``name``, ``states`` and ``projection``, gives its ``Params`` (the fields
:class:`FeatureParams` has, and its own), and implements :meth:`FeatureMethod.feature_loss` on
the :class:`MappedStates` of a batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Mapping

import torch
from torch import nn

from ..errors import ConfigError
from .align import Alignment, align_tokens
from .base import Method, Needs, Outputs
from .layermap import LayerMap, build_layer_map
from .params import Alpha, AlignMode, LayerMapSpec, MethodParams, Temperature, Weight
from .terms import soft_and_hard


class FeatureParams(MethodParams):
    """The fields every feature method reads (``align`` only when it compares token states)."""

    temperature: Temperature = 4.0
    alpha: Alpha = 0.7
    beta: Weight = 1.0          # weight of the feature term
    layer_map: LayerMapSpec = "uniform"
    align: AlignMode = "offsets"


class LayerProjections(nn.Module):
    """One ``Linear(in, out)`` (with bias) per mapped student layer: ``widths[layer] = (in, out)``.

    A layer without an entry passes its states through unchanged.
    """

    def __init__(self, widths: Mapping[int, tuple[int, int]]):
        super().__init__()
        self.proj = nn.ModuleDict({str(l): nn.Linear(i, o) for l, (i, o) in widths.items()})

    def forward(self, layer: int, x: torch.Tensor) -> torch.Tensor:
        key = str(layer)
        return self.proj[key](x) if key in self.proj else x


@dataclass
class MappedStates:
    """The states one batch compares, one entry per mapped layer pair (projections applied).

    ``student[k]``, ``teacher[k]``: ``[B, D]`` (pooled) or ``[B, n, D]`` on common token positions;
    ``mask``: ``[B, n]`` bool of the positions allowed into a mean, or None (all of them);
    ``alignment``: the token :class:`~codekd.methods.align.Alignment` (None for pooled states).
    """

    student: list[torch.Tensor]
    teacher: list[torch.Tensor]
    mask: torch.Tensor | None = None
    alignment: Alignment | None = None


_NEEDS = {"tokens": Needs(teacher=True, logits=True, hidden_states=True, token_alignment=True),
          "pooled": Needs(teacher=True, logits=True, pooled_states=True)}


class FeatureMethod(Method):
    """Base of the hidden-state methods: layer map, state alignment, projections (see the module)."""

    family = "feature"
    states: ClassVar[str] = "tokens"         # "tokens" (aligned token states) | "pooled" (per-layer pooled)
    projection: ClassVar[str | None] = None  # "student" | "teacher" | "where-widths-differ" | None
    formula: ClassVar[str | None] = None     # what paper-faithful mode assumes of an encoder teacher (refused
                                             # for a causal one); None: no paper-faithful formula to refuse
    Params = FeatureParams

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "needs" not in cls.__dict__:
            cls.needs = _NEEDS[cls.states]

    # -- built once the depths and widths are known ------------------------------------------

    def check(self) -> None:
        ctx = self.ctx
        side = self.projection_side()
        if ctx.teacher_layers is None or (side is not None and ctx.teacher_hidden is None):
            raise ConfigError(f"{self.name} needs the teacher's depth{' and width' if side else ''} (a live teacher)")
        if self.formula:
            self.refuse_causal_paper_faithful(self.formula)
        if self.states == "tokens":
            self.note_causal_teacher()
        self.layer_map: LayerMap = self.map_layers()
        self._projections = self.make_projections(side)

    def embeddings(self) -> bool:
        """Whether the embedding outputs are paired too (``0 -> 0``)."""
        return False

    def map_layers(self) -> LayerMap:
        """The layer map of the run (``layer_map`` over student layers ``1..L``, plus the embeddings)."""
        lm = build_layer_map(self.p.layer_map, self.ctx.student_layers, self.ctx.teacher_layers)
        return lm.with_embeddings() if self.embeddings() else lm

    def projection_side(self) -> str | None:
        return self.projection

    def widths(self, student_layer: int) -> tuple[int, int]:
        """``(student width, teacher width)`` of the states compared at a mapped student layer."""
        ctx = self.ctx
        if self.states == "pooled":
            return ctx.student_hidden, int(ctx.extra.get("teacher_pooled_hidden", ctx.teacher_hidden))
        width = ctx.student_hidden
        if student_layer == 0:  # the embedding output: a BiGRU's is H wide, its layers 2H
            width = ctx.extra.get("student_embedding_hidden") or (width // 2 if ctx.student_family == "gru" else width)
        return int(width), int(ctx.teacher_hidden)

    def make_projections(self, side: str | None) -> LayerProjections | None:
        if side is None:
            return None
        layers = self.layer_map.student_layers
        w = {l: self.widths(l) for l in layers}
        if side == "student":
            return LayerProjections(w)
        if side == "teacher":
            return LayerProjections({l: (t, s) for l, (s, t) in w.items()})
        differ = {l: (s, t) for l, (s, t) in w.items() if s != t}  # "where-widths-differ": student side
        return LayerProjections(differ) if differ else None

    def modules(self) -> nn.Module | None:
        return self._projections

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["layer_map"] = self.layer_map.describe()
        return d

    def teacher_token_layers(self) -> tuple[int, ...] | None:
        return tuple(sorted(set(self.layer_map.teacher_layers))) if self.states == "tokens" else None

    # -- one batch -----------------------------------------------------------------------------

    def mapped_states(self, student: Outputs, teacher: Outputs | None, modules: nn.Module | None = None) -> MappedStates:
        """The compared states of each mapped layer pair, projected (the teacher's detached)."""
        proj = modules if modules is not None else self._projections
        side = self.projection_side() if proj is not None else None
        pairs, s_list, t_list = self.layer_map.pairs, [], []
        mask = al = None
        if self.states == "pooled":
            if student.pooled_states is None or teacher is None or teacher.pooled_states is None:
                raise RuntimeError(f"{self.name} needs pooled per-layer states of both sides (needs.pooled_states)")
            for s, t in pairs:
                hs = student.pooled_states[s - 1]
                s_list.append(hs)
                t_list.append(teacher.pooled_states[t - 1].detach().to(hs.dtype))
        else:
            if student.hidden_states is None or teacher is None or teacher.hidden_states is None:
                raise RuntimeError(f"{self.name} needs per-layer token states of both sides (needs.hidden_states)")
            al = align_tokens(self.p.align, student_mask=student.attention_mask, teacher_mask=teacher.attention_mask,
                              student_offsets=student.offsets, teacher_offsets=teacher.offsets)
            mask = al.mask
            for s, t in pairs:
                s_list.append(al.student(student.hidden_states[s]))
                with torch.no_grad():
                    t_list.append(al.teacher(teacher.hidden_states[t].detach().float()))
        if side is not None:
            target = t_list if side == "teacher" else s_list
            target[:] = [proj(s, h) for (s, _), h in zip(pairs, target)]
        return MappedStates(s_list, t_list, mask, al)

    def feature_loss(self, states: MappedStates) -> tuple[torch.Tensor, dict[str, float]]:
        """The feature term ``F`` of a batch and its named parts (floats, for the log)."""
        raise NotImplementedError

    def loss(self, student, teacher, labels, modules=None):
        feature, feature_parts = self.feature_loss(self.mapped_states(student, teacher, modules))
        p = self.p
        total, parts = soft_and_hard(student.logits, teacher.logits, labels, temperature=p.temperature, alpha=p.alpha,
                                     soft="ce" if self.paper_faithful else "kl")
        parts.update(feature_parts)
        return total + p.beta * feature, parts


__all__ = ["FeatureMethod", "FeatureParams", "LayerProjections", "MappedStates"]
