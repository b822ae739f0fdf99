"""Layer maps: which teacher layer each student layer learns from.

Layers are numbered as in Hugging Face ``hidden_states``: ``0`` is the embedding output and
``1..N`` are the encoder layers. A BiGRU student's layers are numbered the same way (its layer
``l`` is the l-th bidirectional GRU layer), so every strategy works for both student families.
No strategy needs the depths to divide each other (12 -> 3, 22 -> 4, 6 -> 2, or a student deeper
than its teacher).

Strategies, for student layer ``l`` in ``1..L`` and a teacher of depth ``N``:

``uniform``  ``round(l * N / L)`` (half rounds up): layers spread evenly, the last student layer
             on the last teacher layer. 12->3: 4, 8, 12; 22->4: 6, 11, 17, 22; 6->2: 3, 6.
``skip``     PKD-Skip (Sun et al. 2019): every ``k``-th teacher layer, ``k = max(1, N // L)``,
             ``min(l * k, N)``. 12->3: 4, 8, 12; 22->4: 5, 10, 15, 20; 6->2: 3, 6.
``last-k``   PKD-Last: the top ``L`` teacher layers, ``max(1, N - L + l)``. 12->3: 10, 11, 12.
explicit     a list of ``L`` teacher layers (``0..N``), one per student layer, in order; e.g.
             ``[2, 4, 6]``. Given on the command line as ``method.params.layer_map=[2,4,6]``.

>>> build_layer_map("uniform", 3, 12).pairs
((1, 4), (2, 8), (3, 12))
>>> build_layer_map("skip", 4, 22).teacher_layers
(5, 10, 15, 20)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

from ..errors import ConfigError

STRATEGIES: tuple[str, ...] = ("uniform", "skip", "last-k")


@dataclass(frozen=True)
class LayerMap:
    """A mapping ``student layer -> teacher layer`` (both 0 = embeddings, 1.. = layers)."""

    strategy: str
    student_depth: int
    teacher_depth: int
    pairs: tuple[tuple[int, int], ...]

    @property
    def student_layers(self) -> tuple[int, ...]:
        """The mapped student layers, in order."""
        return tuple(s for s, _ in self.pairs)

    @property
    def teacher_layers(self) -> tuple[int, ...]:
        """The teacher layer of each mapped student layer, in order."""
        return tuple(t for _, t in self.pairs)

    def restrict(self, student_layers: Sequence[int]) -> "LayerMap":
        """Only the pairs whose student layer is in ``student_layers`` (order kept)."""
        keep = set(student_layers)
        return LayerMap(self.strategy, self.student_depth, self.teacher_depth,
                        tuple(p for p in self.pairs if p[0] in keep))

    def with_embeddings(self) -> "LayerMap":
        """The same map with the embedding outputs paired first (``0 -> 0``), if not already there."""
        if self.pairs and self.pairs[0] == (0, 0):
            return self
        return LayerMap(self.strategy, self.student_depth, self.teacher_depth, ((0, 0),) + self.pairs)

    def describe(self) -> dict[str, Any]:
        return {"strategy": self.strategy, "student_depth": self.student_depth,
                "teacher_depth": self.teacher_depth, "pairs": [list(p) for p in self.pairs],
                "text": str(self)}

    def __str__(self) -> str:
        return f"{self.strategy}: " + ", ".join(f"s{s}->t{t}" for s, t in self.pairs)


def _round_half_up(x: float) -> int:
    return int(math.floor(x + 0.5))


def map_layer(strategy: str, layer: int, student_layers: int, teacher_layers: int) -> int:
    """The teacher layer for student layer ``layer`` (1-based) under a named strategy."""
    L, N = student_layers, teacher_layers
    if strategy == "uniform":
        return max(1, min(N, _round_half_up(layer * N / L)))
    if strategy == "skip":
        k = max(1, N // L)
        return max(1, min(N, layer * k))
    if strategy in ("last-k", "last"):
        return max(1, N - L + layer)
    raise ConfigError(f"unknown layer map {strategy!r} (use one of {', '.join(STRATEGIES)} or a list of teacher layers)")


def build_layer_map(spec: str | Sequence[int], student_layers: int, teacher_layers: int) -> LayerMap:
    """Map student layers ``1..student_layers`` onto a teacher of depth ``teacher_layers``.

    ``spec`` is a strategy name or an explicit list of ``student_layers`` teacher layers.
    """
    if student_layers < 1 or teacher_layers < 1:
        raise ConfigError(f"layer map needs depths >= 1 (student {student_layers}, teacher {teacher_layers})")
    if isinstance(spec, str):
        text = spec.strip()
        if text.startswith("[") or "," in text:  # "[2,4,6]" or "2,4,6" from a CLI string
            try:
                spec = [int(x) for x in text.strip("[]").split(",") if x.strip()]
            except ValueError:
                raise ConfigError(f"explicit layer map {spec!r} must be a list of integers") from None
        else:
            name = text.lower()
            if name == "last":
                name = "last-k"
            pairs = tuple((l, map_layer(name, l, student_layers, teacher_layers)) for l in range(1, student_layers + 1))
            return LayerMap(name, student_layers, teacher_layers, pairs)
    layers = list(spec)
    if any(isinstance(x, bool) or not isinstance(x, int) for x in layers):
        raise ConfigError(f"explicit layer map {layers!r} must be a list of integers")
    if len(layers) != student_layers:
        raise ConfigError(f"explicit layer map {layers} has {len(layers)} entries but the student has "
                          f"{student_layers} layers (give one teacher layer per student layer)")
    bad = [t for t in layers if not 0 <= t <= teacher_layers]
    if bad:
        raise ConfigError(f"explicit layer map {layers}: teacher layer(s) {bad} out of range 0..{teacher_layers} "
                          "(0 = embeddings)")
    return LayerMap("explicit", student_layers, teacher_layers, tuple(zip(range(1, student_layers + 1), layers)))


def check_layer_map_spec(spec: Any) -> None:
    """Config-time check of a ``layer_map`` parameter (depths are checked once the models are known)."""
    if isinstance(spec, str):
        t = spec.strip().lower()
        if t in STRATEGIES or t == "last" or t.startswith("[") or "," in t:
            return
        raise ConfigError(f"unknown layer map {spec!r} (use one of {', '.join(STRATEGIES)} or a list of teacher layers)")
    if isinstance(spec, (list, tuple)) and all(isinstance(x, int) and not isinstance(x, bool) for x in spec):
        return
    raise ConfigError(f"layer_map must be a strategy name or a list of teacher layers, got {spec!r}")


__all__ = ["LayerMap", "STRATEGIES", "build_layer_map", "map_layer", "check_layer_map_spec"]
