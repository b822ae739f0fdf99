"""Is a model useless? Degeneracy checks on one split's predictions, and one-line warnings.

A model is *degenerate* on a split when it predicts one class for at least
:data:`ONE_CLASS_SHARE` of the examples, or when its headline score is less than
:data:`MAJORITY_MARGIN` above what a constant predictor gets on the same gold labels: the majority
class's share for accuracy (multi-class top-1 and binary accuracy), and for F1 tasks the best F1 of
answering one class always (for binary F1 that is the positive class, even when it is the minority).
Separately, a model is flagged when it is not above a TF-IDF baseline scored on the same split and
input (:mod:`codekd.evaluation.baseline`), when one is known.

Everything here is pure (arrays in, plain dicts and strings out): the training engine stores
:func:`degeneracy` in ``metrics.json`` under ``"sanity"``; ``teacher finetune``, ``distill``,
``evaluate`` and ``report`` print :func:`warnings_for`.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

ONE_CLASS_SHARE = 0.90   # predicting one class for this share of a split (or more) is degenerate
MAJORITY_MARGIN = 0.02   # a headline score less than 2 points above a constant predictor is degenerate

FLAG_ONE_CLASS = "one_class"
FLAG_NEAR_MAJORITY = "near_majority"
FLAG_NOT_ABOVE_BASELINE = "not_above_baseline"
DEGENERATE_FLAGS = (FLAG_ONE_CLASS, FLAG_NEAR_MAJORITY)


def score_kind(metric: str) -> str:
    """``"f1"`` for the F1 headline metrics (``f1``, ``macro_f1``), else ``"accuracy"``."""
    return "f1" if metric in ("f1", "macro_f1") else "accuracy"


def _predictions(pred_or_logits: Any) -> np.ndarray:
    a = np.asarray(pred_or_logits)
    if a.ndim == 2:
        return a.argmax(axis=1).astype(np.int64)
    return a.astype(np.int64).reshape(-1)


def _f1(pred: np.ndarray, labels: np.ndarray, num_labels: int) -> float:
    """Binary F1 of class 1 for two classes, else macro F1 over every class (0 for an empty class)."""
    def f1_of(c: int) -> float:
        tp = float(np.sum((pred == c) & (labels == c)))
        denom = float(np.sum(pred == c) + np.sum(labels == c))
        return 2 * tp / denom if denom else 0.0

    if num_labels == 2:
        return f1_of(1)
    return float(np.mean([f1_of(c) for c in range(num_labels)]))


def _constant_predictor(shares: np.ndarray, kind: str, num_labels: int) -> tuple[int, float]:
    """(class, score) of the best "always answer one class" predictor on gold labels with these shares."""
    if kind == "accuracy":
        c = int(np.argmax(shares))
        return c, float(shares[c])
    f1 = 2 * shares / (1 + shares)  # F1 of the answered class; every other class scores 0
    if num_labels == 2:
        return 1, float(f1[1])
    c = int(np.argmax(f1))
    return c, float(f1[c] / num_labels)


def degeneracy(pred_or_logits: Any, labels: Any, num_labels: int, *, metric: str = "accuracy",
               baseline: float | None = None, label_names: Sequence[str] | None = None,
               split: str = "test") -> dict[str, Any]:
    """Degeneracy figures of predictions (class ids ``[N]`` or logits ``[N, C]``) against gold labels.

    ``metric`` is the task's headline metric (``accuracy``/``top1`` or ``f1``/``macro_f1``);
    ``baseline`` a TF-IDF baseline's score on the same split, if known. Returns a JSON-ready dict:
    the predicted-class share and class, the gold majority class and share, the model's score, the
    constant predictor's class and score, the baseline, ``flags`` (a list of ``one_class``,
    ``near_majority``, ``not_above_baseline``) and ``degenerate`` (one of the first two).
    """
    pred = _predictions(pred_or_logits)
    gold = np.asarray(labels, dtype=np.int64).reshape(-1)[: len(pred)]
    pred = pred[: len(gold)]
    n = int(len(gold))
    kind = score_kind(metric)

    def name(c: int) -> str:
        return str(label_names[c]) if label_names is not None and 0 <= c < len(label_names) else str(c)

    out: dict[str, Any] = {"split": split, "examples": n, "metric": kind}
    if n == 0:
        return {**out, "flags": [], "degenerate": False, "baseline": baseline}
    pred_counts = np.bincount(pred, minlength=num_labels)[:num_labels]
    gold_shares = np.bincount(gold, minlength=num_labels)[:num_labels] / n
    top = int(np.argmax(pred_counts))
    top_share = float(pred_counts[top] / n)
    maj = int(np.argmax(gold_shares))
    score = float(np.mean(pred == gold)) if kind == "accuracy" else _f1(pred, gold, num_labels)
    const, const_score = _constant_predictor(gold_shares, kind, num_labels)
    flags = []
    if top_share >= ONE_CLASS_SHARE:
        flags.append(FLAG_ONE_CLASS)
    if score < const_score + MAJORITY_MARGIN:
        flags.append(FLAG_NEAR_MAJORITY)
    if baseline is not None and score <= baseline:
        flags.append(FLAG_NOT_ABOVE_BASELINE)
    out.update(score=score, predicted_class=top, predicted_label=name(top), predicted_share=top_share,
               majority_class=maj, majority_label=name(maj), majority_share=float(gold_shares[maj]),
               majority_tied=bool(np.sum(gold_shares == gold_shares[maj]) > 1),
               constant_class=const, constant_label=name(const), constant_score=const_score,
               baseline=None if baseline is None else float(baseline), flags=flags,
               degenerate=any(f in flags for f in DEGENERATE_FLAGS))
    return out


def with_baseline(sanity: dict[str, Any] | None, baseline: float | None) -> dict[str, Any] | None:
    """A copy of ``sanity`` compared against ``baseline`` (the ``not_above_baseline`` flag recomputed)."""
    if sanity is None or baseline is None or "score" not in sanity:
        return sanity
    flags = [f for f in sanity.get("flags", []) if f != FLAG_NOT_ABOVE_BASELINE]
    if sanity["score"] <= baseline:
        flags.append(FLAG_NOT_ABOVE_BASELINE)
    return {**sanity, "baseline": float(baseline), "flags": flags}


def is_degenerate(sanity: dict[str, Any] | None) -> bool:
    return bool(sanity and sanity.get("degenerate"))


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def warnings_for(sanity: dict[str, Any] | None, name: str, *, baseline: float | None = None) -> list[str]:
    """One-line warnings (none for a sound model) for a :func:`degeneracy` result; ``name`` says
    which model (``teacher``, ``student runs/kd``...). ``baseline`` overrides the stored one."""
    s = with_baseline(sanity, baseline)
    if not s or "score" not in s:
        return []
    flags, split, metric = s.get("flags", []), s["split"], s["metric"]
    lines = []
    if s.get("degenerate"):
        parts = []
        if FLAG_ONE_CLASS in flags:
            parts.append(f"predicts {s['predicted_label']!r} for {100 * s['predicted_share']:.0f}% of {split}")
        if FLAG_NEAR_MAJORITY in flags:
            gap = s["score"] - s["constant_score"]
            how = (f"within {100 * MAJORITY_MARGIN:g} points of" if gap > -MAJORITY_MARGIN
                   else f"{-100 * gap:.1f} points below")
            role = ("the minority class" if s["constant_class"] != s["majority_class"] and metric == "f1"
                    else "one of the most frequent classes" if s.get("majority_tied")
                    else "the majority class" if s["constant_class"] == s["majority_class"] else "one class")
            const = (_pct(s["constant_score"]) if metric == "accuracy"
                     else f"F1 {_pct(s['constant_score'])}")
            parts.append(f"its {metric} {_pct(s['score'])} is {how} always answering {role} "
                         f"{s['constant_label']!r} ({const})")
        lines.append(f"WARNING: {name} is degenerate on {split}: " + "; ".join(parts))
    if FLAG_NOT_ABOVE_BASELINE in flags:
        lines.append(f"WARNING: {name} is not above the TF-IDF baseline on {split}: {metric} "
                     f"{_pct(s['score'])} vs {_pct(s['baseline'])}")
    return lines


__all__ = ["ONE_CLASS_SHARE", "MAJORITY_MARGIN", "FLAG_ONE_CLASS", "FLAG_NEAR_MAJORITY", "FLAG_NOT_ABOVE_BASELINE",
           "degeneracy", "with_baseline", "is_degenerate", "warnings_for", "score_kind"]
