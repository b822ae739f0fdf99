from __future__ import annotations

from fixtures_data import bcb_native_folder

from codekd.evaluation.baseline import tfidf_baseline


def test_tfidf_baseline_learns_a_learnable_split(exc_data):
    # the fixture's functions carry their label's name in a comment: a bag of tokens must find it
    res = tfidf_baseline(exc_data, "exception")
    assert res["test"]["accuracy"] >= 0.9 and res["test_headline"] == res["test"]["accuracy"]  # chance: 1/3
    assert res["C"] in (1.0, 10.0) and res["features"] > 10


def test_tfidf_baseline_on_pairs(tmp_path):
    res = tfidf_baseline(bcb_native_folder(tmp_path), "clone")
    assert set(res["test"]) >= {"accuracy", "f1"} and 0 <= res["test"]["f1"] <= 1


def test_fast_mode_fits_one_c_with_saga(exc_data):
    from codekd.evaluation.baseline import FAST

    res = tfidf_baseline(exc_data, "exception", fast=True)
    assert res["mode"] == "fast" and res["C"] == FAST["cs"][0] and FAST["solver"] == "saga"
    assert res["test"]["accuracy"] >= 0.9
