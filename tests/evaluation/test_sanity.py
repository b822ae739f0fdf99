"""Degeneracy checks and warnings on hand-made label / prediction arrays."""

from __future__ import annotations

import json

import numpy as np
import pytest

from codekd.sanity import (MAJORITY_MARGIN, ONE_CLASS_SHARE, degeneracy, is_degenerate, warnings_for,
                                      with_baseline)

NAMES = ["ValueError", "KeyError", "OSError", "TypeError"]


def test_thresholds_are_named():
    assert ONE_CLASS_SHARE == 0.90 and MAJORITY_MARGIN == 0.02


def test_one_class_predictor_warns_with_the_class_and_the_majority():
    labels = np.array([1] * 19 + [0] * 41 + [2] * 40)  # majority: ValueError 41%
    pred = np.array([1] * 97 + [0] * 3)                # KeyError for 97% of test
    s = degeneracy(pred, labels, 4, label_names=NAMES)
    assert s["predicted_label"] == "KeyError" and s["predicted_share"] == pytest.approx(0.97)
    assert s["majority_label"] == "ValueError" and s["majority_share"] == pytest.approx(0.41)
    assert s["score"] == pytest.approx(0.19) and s["flags"] == ["one_class", "near_majority"] and s["degenerate"]
    json.dumps(s)  # stored in metrics.json
    assert warnings_for(s, "teacher") == [
        "WARNING: teacher is degenerate on test: predicts 'KeyError' for 97% of test; its accuracy 19.0% is "
        "22.0 points below always answering the majority class 'ValueError' (41.0%)"]


def test_within_two_points_of_the_majority_class():
    labels = np.array([0] * 50 + [1] * 30 + [2] * 20)
    # logits input: right on 50 of the majority, 1 of the others -> 51%, varied predictions
    pred = np.array([0] * 50 + [1] * 1 + [2] * 29 + [1] * 20)
    logits = np.eye(3)[pred]
    s = degeneracy(logits, labels, 3, label_names=NAMES[:3], split="valid")
    assert s["score"] == pytest.approx(0.51) and s["flags"] == ["near_majority"]
    (line,) = warnings_for(s, "student runs/kd")
    assert line == ("WARNING: student runs/kd is degenerate on valid: its accuracy 51.0% is within 2 points of "
                    "always answering the majority class 'ValueError' (50.0%)")


def test_a_sound_model_does_not_warn():
    labels = np.array([0] * 40 + [1] * 35 + [2] * 25)
    pred = labels.copy()
    pred[:20] = 1  # 80% right, largest predicted class 55%
    s = degeneracy(pred, labels, 3, baseline=0.70)
    assert s["score"] == pytest.approx(0.80) and s["flags"] == [] and not s["degenerate"]
    assert not is_degenerate(s) and warnings_for(s, "teacher") == []


def test_not_above_the_baseline_is_its_own_warning():
    labels = np.array([0] * 40 + [1] * 35 + [2] * 25)
    pred = labels.copy()
    pred[:20] = 1
    s = degeneracy(pred, labels, 3, baseline=0.80)  # equal: not above
    assert s["flags"] == ["not_above_baseline"] and not s["degenerate"]
    assert warnings_for(s, "teacher") == [
        "WARNING: teacher is not above the TF-IDF baseline on test: accuracy 80.0% vs 80.0%"]
    # a baseline given later (teacher finetune scores it after training)
    plain = degeneracy(pred, labels, 3)
    assert warnings_for(plain, "t") == [] and len(warnings_for(plain, "t", baseline=0.9)) == 1
    assert with_baseline(plain, 0.5)["flags"] == [] and with_baseline(plain, 0.9)["baseline"] == 0.9


def test_binary_f1_compares_against_always_answering_the_positive_minority():
    labels = np.array([1] * 20 + [0] * 80)  # constant "1": precision .2, recall 1 -> F1 1/3
    pred = np.ones(100, dtype=int)
    s = degeneracy(pred, labels, 2, metric="f1", label_names=["no", "clone"])
    assert s["metric"] == "f1" and s["constant_label"] == "clone"
    assert s["constant_score"] == pytest.approx(1 / 3) and s["score"] == pytest.approx(1 / 3)
    assert s["flags"] == ["one_class", "near_majority"]
    assert "always answering the minority class 'clone' (F1 33.3%)" in warnings_for(s, "m")[0]
    # a good binary classifier is fine
    good = labels.copy()
    good[:3] = 0
    assert degeneracy(good, labels, 2, metric="f1")["flags"] == []


def test_binary_accuracy_uses_the_majority_share():
    labels = np.array([0] * 55 + [1] * 45)
    pred = np.array([0] * 56 + [1] * 44)  # 99% right
    s = degeneracy(pred, labels, 2, metric="accuracy")
    assert s["constant_score"] == pytest.approx(0.55) and s["flags"] == []


def test_macro_f1_constant_predictor_and_empty_split():
    labels = np.array([0] * 60 + [1] * 20 + [2] * 20)
    s = degeneracy(np.zeros(100, dtype=int), labels, 3, metric="macro_f1")
    assert s["constant_score"] == pytest.approx((2 * 0.6 / 1.6) / 3) and s["score"] == pytest.approx(s["constant_score"])
    empty = degeneracy(np.zeros((0, 3)), np.zeros(0), 3)
    assert empty["flags"] == [] and warnings_for(empty, "x") == [] and warnings_for(None, "x") == []


def test_a_tied_majority_is_named_as_such():
    labels = np.array([0, 1, 2] * 10)
    s = degeneracy(np.ones(30, dtype=int), labels, 3, label_names=NAMES[:3])
    assert s["majority_tied"] and "always answering one of the most frequent classes 'ValueError' (33.3%)" in \
        warnings_for(s, "m")[0]
