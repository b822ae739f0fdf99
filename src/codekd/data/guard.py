"""Small-data guard: warn, before any training time is spent, when a training split is too small.

The threshold is measured, not guessed: a learning curve on the pinned exception set
(``codekd data build-exceptions``, 20,104 training functions, 20 labels, majority class 22.7% of
test), training sizes 250 / 1,000 / 4,000 drawn with a fixed seed, TF-IDF + logistic regression and
a roberta-1.5m trained from scratch (FT, 256 steps each, and a 3-minute budget each); numbers,
machine and commands in ``benchmarks/RESULTS-small-data.md``. See :data:`CURVES`.

For a task without a measured curve the exception curve's examples per label is used, and the
warning says so. Models that already know code (a pre-trained teacher, a student pre-trained with
``codekd pretrain mlm``, transfer from a related task) need less: the warning points to README,
"Your own code".
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any


class SmallDataWarning(UserWarning):
    """The training split is below the measured threshold for its task (printed as one line by the CLI)."""


@dataclass(frozen=True)
class Curve:
    task: str
    labels: int
    threshold: int          # training examples below which the measured student collapsed / was far off
    summary: str            # the measured points, for the message
    source: str = "benchmarks/RESULTS-small-data.md"


#: measured learning curves (benchmarks/RESULTS-small-data.md)
CURVES: dict[str, Curve] = {
    # 256 optimizer steps of batch 32 each (the same compute at every size): 250 examples were
    # memorised (training loss 0.42 after 32 epochs) and stayed 14 points under TF-IDF on the same
    # split, which itself lost 20.8 points against the full set; from 1,000 on the runs were still
    # limited by their steps, not by their data. A 3-minute budget on a busy machine (95 and 125
    # steps) left the 250 and 4,000 runs predicting the majority class only.
    "exception": Curve(
        task="exception", labels=20, threshold=1000,
        summary=("256 steps of roberta-1.5m from scratch reached test top-1 33.0% / 39.2% / 41.9% with "
                 "250 / 1,000 / 4,000 examples (TF-IDF 47.0% / 54.3% / 61.1%, majority class 22.7%), "
                 "and memorised the 250")),
}


def small_data_message(n_train: int, task: str, num_labels: int) -> str | None:
    """The warning for a training split of ``n_train`` examples, or None when it is large enough."""
    curve = CURVES.get(task)
    if curve is not None:
        threshold, basis = curve.threshold, f"measured on the pinned exception set ({curve.source})"
    else:
        ref = CURVES["exception"]
        per_label = ref.threshold / ref.labels
        threshold = int(round(per_label * max(2, num_labels)))
        curve = ref
        basis = (f"{per_label:g} per label x {num_labels} labels, from the exception task's curve "
                 f"({ref.source}); not measured for {task!r}")
    if n_train >= threshold:
        return None
    return (f"the training split has {n_train:,} examples, under the {threshold:,} below which a student trained "
            f"from scratch learns little ({basis}: {curve.summary}); with this little labelled data, start from a "
            f"model that already knows code" + (": for exception types in your own Python, 'codekd adapt DIR' (a teacher "
            "fine-tuned on the pinned public set, adapted to and distilled on your code)" if task == "exception" else "")
            + "; see README, 'Your own code'")


def warn_small_data(data: Any, task: str, max_examples: int | None = None) -> str | None:
    """Emit :class:`SmallDataWarning` for ``data``'s training split (at most ``max_examples`` of it
    are used) when it is too small; returns the text."""
    split = data.splits.get("train")
    if split is None:
        return None
    n = len(split) if max_examples is None else min(len(split), max_examples)
    msg = small_data_message(n, task, data.num_labels)
    if msg is not None:
        warnings.warn(msg, SmallDataWarning, stacklevel=3)
    return msg


__all__ = ["CURVES", "SmallDataWarning", "small_data_message", "warn_small_data"]
