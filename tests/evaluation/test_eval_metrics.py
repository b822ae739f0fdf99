"""Metric values on hand-made predictions: P/R/F1, top-3, ECE, agreement, retention, per-class, aggregate."""

from __future__ import annotations

import numpy as np
import pytest

from codekd.metrics import (aggregate, agreement, classification_metrics, expected_calibration_error,
                                       flatten_numeric, per_class_report, retention, top_k_accuracy)


def one_hot_logits(pred, n, scale=5.0):
    out = np.zeros((len(pred), n))
    out[np.arange(len(pred)), pred] = scale
    return out


def test_binary_metrics_by_hand():
    labels = np.array([1, 0, 1, 1, 0])
    pred = np.array([1, 0, 0, 1, 1])  # TP 2 (rows 0, 3), FP 1 (row 4), FN 1 (row 2), TN 1
    m = classification_metrics(one_hot_logits(pred, 2), labels, 2)
    assert m["accuracy"] == pytest.approx(3 / 5)
    assert m["precision"] == pytest.approx(2 / 3) and m["recall"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 / 3)
    assert "top3" not in m and m["examples"] == 5


def test_multiclass_macro_and_top3_by_hand():
    labels = np.array([0, 0, 1, 2, 3, 3])
    pred = np.array([0, 1, 1, 2, 0, 3])
    m = classification_metrics(one_hot_logits(pred, 4), labels, 4)
    # per class P/R: c0 1/2, 1/2; c1 1/2, 1/1; c2 1/1, 1/1; c3 1/1, 1/2
    p = [0.5, 0.5, 1.0, 1.0]
    r = [0.5, 1.0, 1.0, 0.5]
    f = [2 * a * b / (a + b) for a, b in zip(p, r)]
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["precision"] == pytest.approx(np.mean(p)) and m["recall"] == pytest.approx(np.mean(r))
    assert m["f1"] == pytest.approx(np.mean(f))
    # top-3 with graded logits: the true class of the last row is only 4th
    logits = np.array([[4.0, 3, 2, 1], [1, 4, 3, 2], [1, 2, 4, 3], [4, 3, 2, 1]])
    assert top_k_accuracy(logits, np.array([2, 2, 3, 3]), 3) == pytest.approx(3 / 4)
    assert top_k_accuracy(logits, np.array([0, 1, 2, 3]), 1) == pytest.approx(3 / 4)


def test_ece_known_cases():
    # every example at confidence 0.8, 6 of 10 correct: ECE = |0.6 - 0.8| = 0.2
    probs = np.tile([0.8, 0.2], (10, 1))
    labels = np.array([0] * 6 + [1] * 4)
    assert expected_calibration_error(probs, labels) == pytest.approx(0.2)
    # two bins: 5 at 0.9 all correct (gap 0.1), 5 at 0.6 with 3 correct (gap 0) -> 0.5 * 0.1
    probs = np.array([[0.9, 0.1]] * 5 + [[0.6, 0.4]] * 5)
    labels = np.array([0] * 5 + [0, 0, 0, 1, 1])
    assert expected_calibration_error(probs, labels) == pytest.approx(0.05)
    # perfectly calibrated certainty
    assert expected_calibration_error(np.eye(3), np.arange(3)) == pytest.approx(0.0)


def test_agreement_and_retention():
    a = one_hot_logits(np.array([0, 1, 2, 1]), 3)
    b = one_hot_logits(np.array([0, 1, 1, 1]), 3)
    assert agreement(a, b) == pytest.approx(0.75) and agreement(a, a) == 1.0
    assert retention(0.6, 0.8) == pytest.approx(0.75)
    assert retention(0.5, 0.0) is None


def test_per_class_report_names_and_support():
    labels = np.array([0, 0, 1, 1])
    pred = np.array([0, 1, 1, 1])
    rep = per_class_report(one_hot_logits(pred, 3), labels, ["ValueError", "KeyError", "OSError"])
    assert list(rep)[:3] == ["ValueError", "KeyError", "OSError"]
    assert rep["ValueError"] == pytest.approx({"precision": 1.0, "recall": 0.5, "f1-score": 2 / 3, "support": 2})
    assert rep["KeyError"]["precision"] == pytest.approx(2 / 3) and rep["OSError"]["support"] == 0
    assert "macro avg" in rep and "weighted avg" in rep and "accuracy" not in rep
    with pytest.raises(ValueError):
        per_class_report(one_hot_logits(pred, 3), labels, ["a", "b"])


def test_aggregate_mean_std_over_seeds():
    runs = [{"accuracy": 0.5, "f1": 0.4}, {"accuracy": 0.7, "f1": 0.6}, {"accuracy": 0.6, "f1": 0.5, "extra": 1.0}]
    agg = aggregate(runs)
    assert agg["n"] == 3 and "extra" not in agg
    assert agg["accuracy"]["mean"] == pytest.approx(0.6) and agg["accuracy"]["std"] == pytest.approx(0.1)
    assert flatten_numeric({"a": {"b": 1, "c": None}, "d": 2.5, "e": True, "s": "x"}) == {"a.b": 1.0, "d": 2.5}
