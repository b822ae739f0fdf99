"""The method contract.

A method is one file: pure loss functions (tensors in, scalar out, no data or model loading) plus a
:class:`Method` subclass that declares what it needs and which tasks and students it supports, and
maps the engine's :class:`Outputs` onto its loss. The engine never knows a method's formula; a
method never loads data or models.

Each method has ``paper_faithful`` settings (what the paper's code does) and corrected defaults;
:attr:`Method.defaults` and :attr:`Method.paper_defaults` hold them and the class docstring
documents the difference.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

import torch
from torch import nn

from ..errors import ConfigError
from ..registry import Registry


@dataclass(frozen=True)
class Needs:
    """What a method needs from the engine."""

    teacher: bool = True            # FT needs no teacher at all
    logits: bool = True             # teacher logits (cacheable)
    hidden_states: bool = False     # per-layer token states of teacher and student
    pooled_states: bool = False     # per-layer pooled ([CLS] / GRU final) states
    token_alignment: bool = False   # character offsets of both tokenizations
    attentions: bool = False        # attention maps (eager attention)


@dataclass
class Outputs:
    """What the engine hands a method for one side (student or teacher) of a batch."""

    logits: torch.Tensor
    hidden_states: tuple[torch.Tensor, ...] | None = None
    pooled_states: tuple[torch.Tensor, ...] | None = None
    attention_mask: torch.Tensor | None = None
    offsets: torch.Tensor | None = None
    attentions: tuple[torch.Tensor, ...] | None = None


@dataclass
class MethodContext:
    """Static facts about the run a method may adapt to (set once, before training)."""

    task: str
    num_labels: int
    student_family: str                 # "roberta" | "gru"
    student_layers: int
    student_hidden: int                 # width of the student's per-layer states
    teacher_layers: int | None = None
    teacher_hidden: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Method:
    """Base class: subclass, set the class attributes, implement :meth:`loss`."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    needs: ClassVar[Needs] = Needs()
    families: ClassVar[tuple[str, ...]] = ("roberta", "gru")
    defaults: ClassVar[Mapping[str, Any]] = {}
    paper_defaults: ClassVar[Mapping[str, Any]] = {}

    def __init__(self, ctx: MethodContext, params: Mapping[str, Any] | None = None, paper_faithful: bool = False):
        self.ctx = ctx
        self.paper_faithful = paper_faithful
        base = dict(self.paper_defaults if paper_faithful else self.defaults)
        params = dict(params or {})
        unknown = set(params) - set(self.defaults) - set(self.paper_defaults)
        if unknown:
            raise ConfigError(f"method {self.name!r} has no parameter(s) {', '.join(sorted(unknown))} "
                              f"(known: {', '.join(sorted(set(self.defaults) | set(self.paper_defaults)))})")
        base.update(params)
        self.params = base
        if ctx.student_family not in self.families:
            raise ConfigError(f"method {self.name!r} does not support {ctx.student_family} students")
        self.check()

    # -- hooks -------------------------------------------------------------------------------

    def check(self) -> None:
        """Raise :class:`ConfigError` for unsupported combinations; ``warnings.warn`` for dubious ones."""

    def modules(self) -> nn.Module | None:
        """Extra trainable modules (e.g. PKD projections), trained with the student, not exported."""
        return None

    def loss(self, student: Outputs, teacher: Outputs | None, labels: torch.Tensor,
             modules: nn.Module | None = None) -> tuple[torch.Tensor, dict[str, float]]:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "paper_faithful": self.paper_faithful, "params": dict(self.params)}

    @staticmethod
    def warn(message: str) -> None:
        warnings.warn(message, UserWarning, stacklevel=3)


METHODS: Registry[type[Method]] = Registry("method")


def register_method(cls: type[Method]) -> type[Method]:
    METHODS.register(cls.name, cls)
    return cls


def get_method(name: str) -> type[Method]:
    return METHODS.get(name)
