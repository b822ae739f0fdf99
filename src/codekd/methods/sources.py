"""Where a run's teacher outputs come from, and whether that source can serve a method.

The one owner of "can this teacher source serve this method": the config check
(:func:`codekd.methods.compat.check_run_config`), the engine (:func:`codekd.engine.runs.distill`,
:class:`codekd.engine.teacher_cache.TeacherCache`) and the study planner (:mod:`codekd.study.spec`)
all ask :meth:`TeacherSource.can_serve`.

A live teacher serves every method. A teacher cache serves a method that needs nothing but what the
cache holds: logits always (KD, DIST, DKD), per-layer pooled states when built with them (PKD), the
token states of chosen layers when built with them and the method says which layers it reads (CKD,
TinyBERT: :meth:`~codekd.methods.base.Method.teacher_token_layers`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Sequence

from .base import Method


def reads_tokens(method: type[Method] | Method) -> bool:
    """Whether the method reads the teacher's token states (per-layer states or token offsets)."""
    return bool(method.needs.hidden_states or method.needs.token_alignment)


@dataclass(frozen=True)
class TeacherSource:
    """A live teacher, or a teacher cache and what it holds.

    For a cache, ``pooled`` says whether it holds per-layer pooled states and ``token_layers`` the
    teacher layers (0 = embeddings) whose token states it holds (empty: none); None where the
    cache's contents are not known yet (a config checked before the cache is read). Logits are in
    every cache.
    """

    kind: Literal["live", "cache"] = "live"
    pooled: bool | None = None
    token_layers: tuple[int, ...] | None = None

    @classmethod
    def live(cls) -> "TeacherSource":
        """The teacher itself, run alongside the student: it serves every method."""
        return cls("live")

    @classmethod
    def cache(cls, *, pooled: bool = False, token_layers: Sequence[int] | None = ()) -> "TeacherSource":
        """A cache holding logits, with ``pooled`` states and the token states of ``token_layers``
        (None: it holds token states of layers not known yet)."""
        layers = None if token_layers is None else tuple(sorted({int(x) for x in token_layers}))
        return cls("cache", pooled=bool(pooled), token_layers=layers)

    @classmethod
    def any_cache(cls) -> "TeacherSource":
        """A cache whose contents are not read yet (config time): only what no cache can hold is refused."""
        return cls("cache")

    @property
    def is_cache(self) -> bool:
        return self.kind == "cache"

    def can_serve(self, method: type[Method] | Method) -> str | None:
        """None when this source can stand in for what ``method`` reads of the teacher, else the reason.

        ``method`` is a method class (what its :class:`~codekd.methods.base.Needs` say) or a built
        method, which also says which teacher layers it reads (checked against a cache's token layers).
        """
        if not self.is_cache:
            return None
        name = method.name
        if method.needs.pooled_states and self.pooled is False:
            return (f"method {name!r} reads the teacher's pooled per-layer states; this cache holds none "
                    "(rebuild it with 'codekd teacher cache --pooled')")
        if not reads_tokens(method):
            return None
        if self.token_layers == ():
            return (f"method {name!r} reads the teacher's token states; this cache holds none "
                    "(rebuild it with 'codekd teacher cache --token-layer N ...')")
        if isinstance(method, type):  # which layers: only a built method can say
            return None
        read = method.teacher_token_layers()
        if read is None:
            return (f"method {name!r} does not say which teacher layers it reads, so a teacher cache cannot "
                    "stand in for the teacher (drop --teacher-cache)")
        return self.missing_token_layers(read)

    def missing_token_layers(self, layers: Sequence[int]) -> str | None:
        """None when the cache holds the token states of every one of ``layers``, else the reason."""
        if not self.is_cache or self.token_layers is None:
            return None
        missing = sorted(set(layers) - set(self.token_layers))
        if not missing:
            return None
        have = ", ".join(map(str, self.token_layers)) or "none"
        return (f"the teacher cache holds token states of layers {have}; this run reads layers "
                f"{', '.join(map(str, missing))} too (rebuild it with --token-layer for each)")


__all__ = ["TeacherSource", "reads_tokens"]
