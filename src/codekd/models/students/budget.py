"""A student shape for a parameter budget: ``"5M"`` -> the :class:`StudentConfigSpec` whose exact
parameter count (:mod:`codekd.models.students.spec`) is closest, at a typical depth for that size."""

from __future__ import annotations

import re
from typing import Iterable

from ...errors import ConfigError
from .spec import StudentConfigSpec, gru_params, make_spec, roberta_params

_BUDGET_RE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([kmgb]?)\s*$", re.IGNORECASE)


def parse_budget(budget: str | int | float) -> int:
    """``"5M"`` -> 5_000_000, ``"500k"``, ``"1.5m"``, ``"2e6"``, ``"1,000,000"``, ``"1G"``/``"1B"``."""
    if isinstance(budget, (int, float)) and not isinstance(budget, bool):
        value = float(budget)
    else:
        text = str(budget).replace(",", "").replace("_", "")
        m = _BUDGET_RE.match(text)
        if not m:
            raise ConfigError(f"cannot read parameter budget {budget!r} (examples: 5M, 500k, 1.5m, 2e6)")
        mult = {"": 1, "k": 1e3, "m": 1e6, "g": 1e9, "b": 1e9}[m.group(2).lower()]
        value = float(m.group(1)) * mult
    if value < 1:
        raise ConfigError(f"parameter budget must be positive, got {budget!r}")
    return int(round(value))


def _target_layers(family: str, budget: int) -> int:
    if family == "roberta":
        return 3 if budget <= 2e6 else 4 if budget <= 10e6 else 6 if budget <= 50e6 else 12
    return 2 if budget <= 3e6 else 3 if budget <= 15e6 else 6


def _roberta_grid(max_positions: int) -> Iterable[tuple[int, int, int, int]]:
    for layers in range(2, 13):
        for hidden in range(64, 1025, 16):
            for heads in sorted({h for h in (2, 4, 5, 6, 8, 12, 16) if hidden % h == 0 and 16 <= hidden // h <= 128}):
                ratios = (4,) if hidden > 256 else (2, 3, 4)
                for r in ratios:
                    yield layers, hidden, heads, r * hidden


def size_for_budget(budget: str | int | float, vocab_size: int, family: str = "roberta", *, num_labels: int = 2,
                    max_positions: int = 512, dropout: float = 0.1, name: str | None = None,
                    tolerance: float = 0.03) -> StudentConfigSpec:
    """A student config whose parameter count is close to ``budget`` for a given vocabulary.

    Searches layers 2..12 (GRU 1..8), hidden in steps of 16 (RoBERTa: heads dividing hidden with a
    head size of 16-128, FFN = 4H, or 2H/3H for H <= 256). Among the candidates within
    ``tolerance`` (default 3%) of the budget, the one closest to a typical depth for that size (the
    SPEC presets' depths: RoBERTa 3/4/6/12, GRU 2/3/6) wins, preferring FFN = 4H and 64-wide heads,
    then the smallest distance; if none is within the tolerance, the closest candidate wins.
    """
    target = parse_budget(budget)
    fam = family.lower()
    fam = "gru" if fam in {"gru", "bigru"} else fam
    if fam not in {"roberta", "gru"}:
        raise ConfigError(f"unknown student family {family!r} (known: roberta, gru)")
    if vocab_size < 1:
        raise ConfigError(f"vocab_size must be >= 1, got {vocab_size}")
    want_layers = _target_layers(fam, target)
    best: tuple | None = None
    if fam == "roberta":
        for layers, hidden, heads, ffn in _roberta_grid(max_positions):
            p = roberta_params(vocab_size=vocab_size, hidden=hidden, layers=layers, ffn=ffn, num_labels=num_labels,
                               position_rows=max_positions + 2)
            rel = abs(p - target) / target
            key = (rel > tolerance, abs(layers - want_layers) if rel <= tolerance else 0, ffn != 4 * hidden,
                       abs(hidden // heads - 64), rel)
            if best is None or key < best[0]:
                best = (key, dict(layers=layers, hidden=hidden, heads=heads, ffn=ffn), p)
    else:
        for layers in range(1, 9):
            for hidden in range(32, 1025, 16):
                p = gru_params(vocab_size=vocab_size, hidden=hidden, layers=layers, num_labels=num_labels,
                               max_positions=max_positions)
                rel = abs(p - target) / target
                key = (rel > tolerance, abs(layers - want_layers) if rel <= tolerance else 0, 0, 0, rel)
                if best is None or key < best[0]:
                    best = (key, dict(layers=layers, hidden=hidden), p)
    assert best is not None
    _, shape, params = best
    if params > 1.25 * target:
        raise ConfigError(
            f"no {fam} student fits a budget of {target:,} parameters with vocab {vocab_size:,}: the smallest "
            f"candidate has {params:,} (the embedding table is most of it); use a smaller vocabulary or a larger budget"
        )
    label = name or f"{fam}-budget-{_short(target)}"
    return make_spec(name=label, family=fam, vocab_size=vocab_size, max_positions=max_positions, dropout=dropout,
                     description=f"sized for a budget of {target:,} parameters ({params:,} with {num_labels} labels)",
                     **shape)


def _short(n: float) -> str:
    for div, suf in ((1e9, "b"), (1e6, "m"), (1e3, "k")):
        if n >= div:
            return f"{n / div:g}{suf}"
    return str(int(n))


__all__ = ["parse_budget", "size_for_budget"]
