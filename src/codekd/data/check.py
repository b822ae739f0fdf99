"""``codekd data check``: validate a dataset folder and describe it."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from ..tasks import Task, get_task
from .loaders import TaskData, load_task_data
from .normalize import normalize_code

PERCENTILES = (50, 90, 95, 99, 100)
MIN_SPLIT_EXAMPLES = 100
MIN_TRAIN_PER_LABEL = 10


def _percentiles(values: list[int]) -> dict[str, int]:
    if not values:
        return {}
    arr = np.asarray(values)
    return {f"p{p}" if p < 100 else "max": int(np.percentile(arr, p, method="nearest")) for p in PERCENTILES}


def dataset_stats(data: TaskData, normalization: str = "whitespace", max_examples: int | None = 200_000) -> dict[str, Any]:
    """Counts per split and label, and length percentiles (characters and whitespace tokens of the
    normalised code; pairs count each side). Lengths are computed on at most ``max_examples`` rows
    per split (the first ones), the counts on all rows."""
    out: dict[str, Any] = {
        "task": data.task.name, "root": data.root, "format": data.format, "labels": list(data.labels),
        "num_labels": data.num_labels, "normalization": normalization, "splits": {},
        "bad_lines": [str(b) for b in data.bad_lines],
    }
    for name, split in data.splits.items():
        labels = split.labels
        counts = Counter(int(x) for x in labels)
        n = len(split)
        m = n if max_examples is None else min(n, max_examples)
        chars: list[int] = []
        toks: list[int] = []
        for start in range(0, m, 2000):
            for tup in split.codes(range(start, min(start + 2000, m))):
                for code in tup:
                    norm = normalize_code(code, normalization)
                    chars.append(len(norm))
                    toks.append(len(norm.split()))
        out["splits"][name] = {
            "path": split.path,
            "examples": n,
            "per_label": {data.labels[k]: counts.get(k, 0) for k in range(data.num_labels)},
            "chars": _percentiles(chars),
            "whitespace_tokens": _percentiles(toks),
            "over_512_whitespace_tokens": float(np.mean(np.asarray(toks) > 512)) if toks else 0.0,
            "lengths_from": m,
        }
        if split.functions is not None:
            out["functions"] = len(split.functions)
    out["warnings"] = dataset_warnings(out)
    return out


def dataset_warnings(stats: dict[str, Any], *, min_split: int = MIN_SPLIT_EXAMPLES,
                     min_train_per_label: int = MIN_TRAIN_PER_LABEL) -> list[str]:
    """What makes scores on this dataset untrustworthy: labels missing from a split, splits under
    ``min_split`` examples, labels under ``min_train_per_label`` training examples."""
    out: list[str] = []
    splits = stats["splits"]
    for name, sp in splits.items():
        missing = [lab for lab, n in sp["per_label"].items() if n == 0]
        if missing:
            shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
            what = ("the model cannot learn them" if name == "train" else "scores on it say nothing about them")
            out.append(f"{len(missing)} of {len(sp['per_label'])} labels have no example in the {name} split "
                       f"({shown}): {what}")
    for name, sp in splits.items():
        if sp["examples"] < min_split:
            why = {"train": "few to learn from", "valid": "model selection on it is noisy"}.get(name, "its scores are noisy")
            out.append(f"the {name} split has {sp['examples']} examples (under {min_split}): {why}")
    train = splits.get("train")
    if train is not None:
        few = {lab: n for lab, n in train["per_label"].items() if 0 < n < min_train_per_label}
        if few:
            out.append(f"{len(few)} labels have fewer than {min_train_per_label} training examples: "
                       + ", ".join(f"{k} ({v})" for k, v in list(few.items())[:10])
                       + (f" and {len(few) - 10} more" if len(few) > 10 else ""))
    return out


def check_dataset(path: str | Path, task: str | Task, *, skip_bad: bool = False, fraction: float | None = None,
                  seed: int = 0, normalization: str = "whitespace") -> dict[str, Any]:
    """Load (validating every line) and return :func:`dataset_stats`."""
    data = load_task_data(path, get_task(task), skip_bad=skip_bad, fraction=fraction, seed=seed)
    return dataset_stats(data, normalization=normalization)
