"""Unlabeled transfer data: the student also learns from the teacher's outputs on extra code.

This is Compressor's idea (Shi et al. 2022): more functions of the same kind (for example, more
mined functions whose labels are not used) carry the teacher's knowledge without any gold label.
The engine draws, next to every labeled batch, a batch of transfer examples, runs the frozen
teacher and the student on it, and adds ``weight x method.loss(student, teacher, labels=None)``:
by the method contract a loss called without labels holds only teacher-output terms (soft
targets, features, relations), so a transfer example never reaches a cross-entropy on gold
labels. Methods that learn only from labels (``ft``) are refused when the config loads.

File format: JSON Lines, one function per line as ``{"func": ...}`` (``"code"`` also accepted;
pair tasks: ``{"func1": ..., "func2": ...}``); every other field, a label included, is ignored. A
folder means its ``transfer.jsonl``, else its ``train.jsonl``. Functions identical (after the
run's normalisation) to a validation or test function are dropped, so held-out code never
reaches training through the back door; how many were dropped is logged.

The stream of transfer batches is a pure function of ``(seed, batch number)``: batch ``k`` comes
from cycle ``k // m`` (``m`` batches per pass over the set), whose order is a seeded permutation.
A resumed run therefore draws exactly the batches an uninterrupted one would.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..data.loaders import TaskData, iter_json_objects
from ..data.normalize import normalize_code
from ..errors import DataError

IGNORE_LABEL = -100


@dataclass
class TransferSet:
    """Transfer examples with the interface the collator needs (``codes``, ``labels``)."""

    path: str
    rows: list[tuple[str, ...]]
    dropped_overlap: int = 0
    name: str = "transfer"
    _labels: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._labels = np.full(len(self.rows), IGNORE_LABEL, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def labels(self) -> np.ndarray:
        """All ``-100``: a transfer example has no gold label (the engine passes ``labels=None``)."""
        return self._labels

    def codes(self, indices: Sequence[int] | None = None) -> list[tuple[str, ...]]:
        if indices is None:
            return list(self.rows)
        return [self.rows[int(i)] for i in indices]


def _resolve_file(path: str | Path) -> Path:
    p = Path(path)
    if p.is_dir():
        for name in ("transfer.jsonl", "train.jsonl"):
            if (p / name).is_file():
                return p / name
        raise DataError("transfer folder has neither transfer.jsonl nor train.jsonl", path=p)
    if not p.is_file():
        raise DataError("transfer data not found", path=p)
    return p


def read_transfer(path: str | Path, *, is_pair: bool, max_examples: int | None = None) -> tuple[Path, list[tuple[str, ...]]]:
    """Read the functions of a transfer file (labels ignored); bad lines are errors naming the line."""
    file = _resolve_file(path)
    keys = ("func1", "func2") if is_pair else None
    rows: list[tuple[str, ...]] = []
    for lineno, obj in iter_json_objects(file):
        if keys:
            vals = tuple(obj.get(k) for k in keys)
        else:
            vals = (obj.get("func", obj.get("code")),)
        if any(not isinstance(v, str) or not v.strip() for v in vals):
            want = "'func1' and 'func2'" if keys else "'func' (or 'code')"
            raise DataError(f"missing or empty field {want}", path=file, line=lineno)
        rows.append(vals)
        if max_examples is not None and len(rows) >= max_examples:
            break
    if not rows:
        raise DataError("empty transfer file: no functions", path=file)
    return file, rows


def load_transfer(spec: Any, data: TaskData, normalization: str) -> TransferSet:
    """Load ``spec`` (a :class:`codekd.config.TransferSpec`), dropping validation/test duplicates."""
    file, rows = read_transfer(spec.path, is_pair=data.task.is_pair, max_examples=spec.max_examples)
    held_out: set[str] = set()
    for name in ("valid", "test"):
        split = data.splits.get(name)
        if split is None:
            continue
        for tup in split.codes():
            held_out.update(normalize_code(c, normalization) for c in tup)
    kept = [r for r in rows if not any(normalize_code(c, normalization) in held_out for c in r)]
    if not kept:
        raise DataError("every transfer function also occurs in the validation or test split", path=file)
    return TransferSet(str(file), kept, dropped_overlap=len(rows) - len(kept))


def transfer_batch(n: int, batch_size: int, *, seed: int, k: int) -> list[int]:
    """The ``k``-th transfer batch (row indices) of the stream; deterministic in ``(seed, k)``."""
    bs = min(batch_size, n)
    per_cycle = math.ceil(n / bs)
    cycle, j = divmod(k, per_cycle)
    perm = np.random.default_rng([seed, 7919, cycle]).permutation(n)
    return perm[j * bs:(j + 1) * bs].tolist()


__all__ = ["IGNORE_LABEL", "TransferSet", "load_transfer", "read_transfer", "transfer_batch"]
