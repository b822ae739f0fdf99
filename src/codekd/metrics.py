"""Classification metrics (scikit-learn) and the task's headline and selection scores.

Binary tasks report binary precision/recall/F1 of the positive class; multi-class tasks report macro
averages and top-3 accuracy. Scores are fractions in [0, 1].
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .tasks import Task


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def top_k_accuracy(logits: np.ndarray, labels: np.ndarray, k: int) -> float:
    if logits.shape[1] <= k:
        return 1.0
    topk = np.argsort(-logits, axis=1, kind="stable")[:, :k]
    return float(np.mean(np.any(topk == labels[:, None], axis=1)))


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """ECE with equal-width confidence bins (Guo et al. 2017)."""
    conf = probs.max(axis=1)
    pred = probs.argmax(axis=1)
    correct = (pred == labels).astype(float)
    edges = np.linspace(0, 1, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            ece += m.mean() * abs(correct[m].mean() - conf[m].mean())
    return float(ece)


def classification_metrics(logits: np.ndarray, labels: np.ndarray, num_labels: int | None = None) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    n = num_labels or logits.shape[1]
    pred = logits.argmax(axis=1)
    out: dict[str, float] = {"accuracy": float(accuracy_score(labels, pred)), "examples": float(len(labels))}
    if n == 2:
        p, r, f, _ = precision_recall_fscore_support(labels, pred, average="binary", pos_label=1, zero_division=0)
    else:
        p, r, f, _ = precision_recall_fscore_support(labels, pred, average="macro", labels=list(range(n)), zero_division=0)
        out["top3"] = top_k_accuracy(logits, labels, 3)
    out.update(precision=float(p), recall=float(r), f1=float(f))
    out["ece"] = expected_calibration_error(softmax(logits), labels)
    return out


def headline(task: Task, metrics: dict[str, float]) -> float:
    """The task's headline score: accuracy (defect), F1 (clone), top-1 accuracy (exception)."""
    key = {"accuracy": "accuracy", "top1": "accuracy", "f1": "f1", "macro_f1": "f1"}[task.metric]
    return float(metrics[key])


def selection_score(task: Task, metrics: dict[str, float]) -> float:
    """Validation score used to keep the best epoch: the sum of the task's selection metrics
    (paper: accuracy + F1; accuracy + top-3 for exception)."""
    return float(sum(metrics.get(k, 0.0) for k in task.selection))


def agreement(a_logits: np.ndarray, b_logits: np.ndarray) -> float:
    return float(np.mean(np.asarray(a_logits).argmax(1) == np.asarray(b_logits).argmax(1)))


def aggregate(runs: Sequence[dict[str, float]]) -> dict[str, Any]:
    """Mean and sample std over seeds for every numeric key present in all runs."""
    keys = set.intersection(*(set(r) for r in runs)) if runs else set()
    out: dict[str, Any] = {"n": len(runs)}
    for k in sorted(keys):
        vals = np.asarray([r[k] for r in runs], dtype=float)
        out[k] = {"mean": float(vals.mean()), "std": float(vals.std(ddof=1)) if len(vals) > 1 else 0.0}
    return out


# ------------------------------------------------------------------------------ evaluation extras

def per_class_report(logits: np.ndarray, labels: np.ndarray, label_names: Sequence[str] | None = None) -> dict[str, Any]:
    """Per-class precision / recall / F1 / support (scikit-learn ``classification_report``).

    Keys are the label names (``label_names[i]`` for class ``i``, or ``"0"``, ``"1"``, ...), plus
    ``macro avg`` and ``weighted avg``; every class of the label set appears, with support 0 when it
    is absent from ``labels``.
    """
    from sklearn.metrics import classification_report

    logits = np.asarray(logits)
    labels = np.asarray(labels, dtype=np.int64)
    n = logits.shape[1]
    names = [str(x) for x in label_names] if label_names is not None else [str(i) for i in range(n)]
    if len(names) != n:
        raise ValueError(f"{len(names)} label names for {n} classes")
    rep = classification_report(labels, logits.argmax(axis=1), labels=list(range(n)), target_names=names,
                                output_dict=True, zero_division=0)
    rep.pop("accuracy", None)
    rep.pop("micro avg", None)
    return {k: {m: (int(v) if m == "support" else float(v)) for m, v in d.items()} for k, d in rep.items()}


def retention(student_score: float, teacher_score: float) -> float | None:
    """Teacher-retention ratio: student score / teacher score (None when the teacher scores 0)."""
    if teacher_score == 0:
        return None
    return float(student_score) / float(teacher_score)


def flatten_numeric(d: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """``{"a": {"b": 1.0}, "c": 2}`` -> ``{"a.b": 1.0, "c": 2.0}`` (numbers only; bools and None dropped)."""
    out: dict[str, float] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten_numeric(v, key + "."))
        elif isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
            out[key] = float(v)
    return out
