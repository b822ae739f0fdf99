"""The method contract.

A method is one file: pure loss functions (tensors in, scalar out, no data or model loading) plus a
:class:`Method` subclass that declares what it needs and which tasks and students it supports, and
maps the engine's :class:`Outputs` onto its loss. The engine never knows a method's formula; a
method never loads data or models.

Each method has ``paper_faithful`` settings (what the paper's code does) and corrected defaults:
its :class:`~codekd.methods.params.MethodParams` model ``Params`` (typed, constrained fields whose
defaults are the corrected settings) and ``paper``, the paper-faithful instance; the class
docstring documents the difference. :attr:`Method.defaults` and :attr:`Method.paper_defaults` are
the same two settings as plain dicts (what ``codekd methods show`` prints).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

import torch
from torch import nn

from ..errors import ConfigError
from ..registry import Registry
from .params import MethodParams, model_from_dicts, parse_params


@dataclass(frozen=True)
class Needs:
    """What a method needs from the engine."""

    teacher: bool = True            # FT needs no teacher at all
    logits: bool = True             # teacher logits (cacheable)
    hidden_states: bool = False     # per-layer token states of teacher and student
    pooled_states: bool = False     # per-layer pooled ([CLS] / GRU final) states
    token_alignment: bool = False   # character offsets of both tokenizations


@dataclass
class Outputs:
    """What the engine hands a method for one side (student or teacher) of a batch."""

    logits: torch.Tensor
    hidden_states: tuple[torch.Tensor, ...] | None = None
    pooled_states: tuple[torch.Tensor, ...] | None = None
    attention_mask: torch.Tensor | None = None
    offsets: torch.Tensor | None = None
    attentions: tuple[torch.Tensor, ...] | None = None
    # per-position targets of a self-supervised objective (masked-LM: the original token ids of the
    # scored positions, aligned with ``logits``); None for classification
    targets: torch.Tensor | None = None


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
    """Base class: subclass, set the class attributes, implement :meth:`loss`.

    Parameters: declare ``class Params(MethodParams)`` (corrected defaults) and ``paper =
    Params(...)`` (paper-faithful); :attr:`params` is the run's resolved settings as a plain dict
    (logged, written to metrics.json) and :attr:`p` the same settings typed. A plugin may still
    give plain ``defaults`` / ``paper_defaults`` dicts: a model is made from them.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    family: ClassVar[str] = "logit"     # what the method distils: "logit" (outputs) or "feature" (states)
    needs: ClassVar[Needs] = Needs()
    families: ClassVar[tuple[str, ...]] = ("roberta", "gru")
    Params: ClassVar[type[MethodParams]] = MethodParams
    paper: ClassVar[MethodParams] = MethodParams()
    defaults: ClassVar[Mapping[str, Any]] = {}
    paper_defaults: ClassVar[Mapping[str, Any]] = {}
    task_support: ClassVar[str] = "all tasks"   # human-readable; enforced by supports_task()
    # hand-computed examples of the loss (:class:`~codekd.methods.golden.Golden`), checked for every method
    golden: ClassVar[tuple[Any, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = cls.__dict__
        if "Params" in own or "paper" in own:  # typed parameters: the dicts are derived from them
            if "paper" not in own:
                cls.paper = cls.Params()
            cls.defaults = cls.Params().model_dump()
            cls.paper_defaults = cls.paper.model_dump()
        elif "defaults" in own or "paper_defaults" in own:  # plain dicts (a plugin): a model made from them
            cls.Params = model_from_dicts(cls.name or cls.__name__, cls.defaults, cls.paper_defaults)
            cls.paper = cls.Params(**cls.paper_defaults)

    def __init__(self, ctx: MethodContext, params: Mapping[str, Any] | None = None, paper_faithful: bool = False):
        self.ctx = ctx
        self.paper_faithful = paper_faithful
        self.params, self.p = self._resolve(params, paper_faithful)
        if ctx.student_family not in self.families:
            raise ConfigError(f"method {self.name!r} does not support {ctx.student_family} students")
        reason = self.supports_task(ctx.task, ctx.num_labels)
        if reason:
            raise ConfigError(f"method {self.name!r} cannot run on task {ctx.task!r}: {reason}")
        self.check()

    @property
    def causal_teacher(self) -> bool:
        """Whether the teacher is decoder-only (causal attention: each token state sees only its left
        context; its per-layer pooled states are last-token states, not [CLS])."""
        return bool(self.ctx.extra.get("teacher_causal"))

    def refuse_causal_paper_faithful(self, formula: str) -> None:
        """Raise the one-line error of a paper-faithful run whose formula assumes an encoder teacher."""
        if self.paper_faithful and self.causal_teacher:
            raise ConfigError(f"{self.name} --paper-faithful {formula}, which assumes an encoder teacher; this "
                              "teacher is decoder-only (causal). Drop --paper-faithful: the corrected defaults "
                              "handle a decoder teacher")

    def note_causal_teacher(self) -> None:
        """Warn (once per run, kept in the run info) that token states of a causal teacher see only
        their left context while the student's see both sides."""
        if self.causal_teacher:
            self.warn(f"{self.name}: the teacher is decoder-only (causal attention): its token states see only "
                      "the tokens to their left, the student's see both sides; the token-level terms match them "
                      "anyway (the logits and last-token states carry the whole input)")

    def teacher_token_layers(self) -> tuple[int, ...] | None:
        """The teacher layers (0 = embeddings) whose token states :meth:`loss` reads, when the method
        reads token states of a known set of layers and nothing else of the teacher's internals
        (attentions); then a teacher cache holding those layers can stand in for the live teacher.
        None (the default): the method reads no token states, or cannot say which."""
        return None

    # -- declarations checked at configuration time (no models needed) -------------------------

    @classmethod
    def _resolve(cls, params: Mapping[str, Any] | None, paper_faithful: bool) -> tuple[dict[str, Any], MethodParams]:
        base = dict(cls.paper_defaults if paper_faithful else cls.defaults)
        resolved = {**base, **dict(params or {})}
        typed = parse_params(cls.name, cls.Params, resolved)
        cls.validate_params(resolved)
        return resolved, typed

    @classmethod
    def resolve_params(cls, params: Mapping[str, Any] | None, paper_faithful: bool = False) -> dict[str, Any]:
        """The defaults (or paper defaults) updated with ``params``, validated by :attr:`Params`
        (unknown names and bad values are a :class:`ConfigError` naming the method and the field)."""
        return cls._resolve(params, paper_faithful)[0]

    @classmethod
    def validate_params(cls, params: dict[str, Any]) -> None:
        """Raise :class:`ConfigError` for bad combinations the :attr:`Params` model cannot express
        (called with the resolved params, after the model has validated each field)."""

    @classmethod
    def supports_task(cls, task: str, num_labels: int | None) -> str | None:
        """None if the method can run on this task, else the reason it cannot.

        ``num_labels`` is None when it is not known yet (a task whose labels come from the data).
        """
        return None

    @classmethod
    def supports_unlabeled(cls) -> bool:
        """Whether the method can learn from unlabeled transfer data (teacher outputs only).

        Such a method's :meth:`loss` accepts ``labels=None`` and then returns only its
        teacher-output (soft / feature) terms, never a gold-label term.
        """
        return cls.needs.teacher

    @classmethod
    def check_compatibility(cls, *, family: str | None = None, task: str | None = None,
                            num_labels: int | None = None, params: Mapping[str, Any] | None = None,
                            paper_faithful: bool = False) -> dict[str, Any]:
        """Method x student x task check done when a config loads; returns the resolved params."""
        resolved = cls.resolve_params(params, paper_faithful)
        if family is not None and family not in cls.families:
            raise ConfigError(f"method {cls.name!r} does not support {family} students "
                              f"(it supports: {', '.join(f for f in cls.families if f != 'teacher')})")
        if task is not None:
            reason = cls.supports_task(task, num_labels)
            if reason:
                raise ConfigError(f"method {cls.name!r} cannot run on task {task!r}: {reason}")
        return resolved

    @classmethod
    def info(cls) -> dict[str, Any]:
        """What ``codekd methods list/show`` prints: needs, support, defaults, paper settings."""
        import dataclasses

        needs = [k for k, v in dataclasses.asdict(cls.needs).items() if v]
        doc = (cls.__doc__ or "").strip()
        return {"name": cls.name, "description": cls.description, "needs": needs,
                "students": [f for f in cls.families if f != "teacher"],
                "tasks": cls.task_support, "unlabeled_transfer": cls.supports_unlabeled(),
                "defaults": dict(cls.defaults), "paper_defaults": dict(cls.paper_defaults), "doc": doc}

    # -- hooks -------------------------------------------------------------------------------

    def check(self) -> None:
        """Raise :class:`ConfigError` for unsupported combinations; ``warnings.warn`` for dubious ones."""

    def modules(self) -> nn.Module | None:
        """Extra trainable modules (e.g. PKD projections), trained with the student, not exported."""
        return None

    def loss(self, student: Outputs, teacher: Outputs | None, labels: torch.Tensor | None,
             modules: nn.Module | None = None) -> tuple[torch.Tensor, dict[str, float]]:
        """The training loss of one batch and its named parts (floats, for the log).

        ``labels`` is None for a batch of unlabeled transfer examples: the method then returns
        only its teacher-output terms (soft targets, features, relations) and no gold-label term.
        """
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
