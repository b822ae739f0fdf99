"""The group split of the dataset builders: no group (a project, a file) in two splits.

:func:`group_split` assigns whole groups to ``train`` / ``valid`` / ``test``; the exception, clone
and defect builders write each split through :mod:`codekd.io`'s atomic writers.
"""

from __future__ import annotations

import hashlib

__all__ = ["SPLIT_NAMES", "group_split"]

SPLIT_NAMES: tuple[str, ...] = ("train", "valid", "test")


def group_split(sizes: dict[str, int], ratios: tuple[float, ...], seed: int) -> dict[str, int]:
    """Group -> split index: largest size class (a power of two) first, seeded order inside a
    class, each to the split furthest below its target number of examples."""
    total = sum(sizes.values())
    targets = [r * total for r in ratios]
    counts = [0] * len(ratios)

    def key(g: str) -> tuple:
        return (-sizes[g].bit_length(), hashlib.sha1(f"{seed}\x00{g}".encode("utf-8")).hexdigest(), g)

    assign: dict[str, int] = {}
    for g in sorted(sizes, key=key):
        i = max(range(len(ratios)), key=lambda s: (targets[s] - counts[s], -s))
        assign[g] = i
        counts[i] += sizes[g]
    return assign
