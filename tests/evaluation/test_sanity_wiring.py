"""Degeneracy warnings wired into teacher finetune, distill, evaluate and report (tiny runs, seconds)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from fixtures_data import write_jsonl
from fixtures_models import single_thread  # noqa: F401  (single_thread: autouse)
from typer.testing import CliRunner

from codekd.cli import app

TINY_GRU = ["--set", "student.hidden=16", "--set", "student.layers=2", "--set", "student.vocab_size=300",
            "--set", "train.max_steps=4", "--set", "train.eval_batch_size=16"]


@pytest.fixture(scope="module")
def one_class_data(exc_data, tmp_path_factory):
    """The exception fixture with every valid label and all train labels but one KeyError: FT learns
    to answer KeyError (a training split of one class only is refused: it teaches nothing)."""
    root = tmp_path_factory.mktemp("oneclass") / "data"
    shutil.copytree(exc_data, root)
    for split in ("train", "valid"):
        rows = [json.loads(x) for x in (root / f"{split}.jsonl").read_text().splitlines()]
        write_jsonl(root / f"{split}.jsonl", [{**r, "target": "ValueError" if split == "train" and i == 0 else
                                               "KeyError"} for i, r in enumerate(rows)])
    return root


@pytest.fixture(scope="module")
def one_class_run(one_class_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "ft"
    res = CliRunner().invoke(app, ["distill", "--method", "ft", "--student", "gru-1.5m", "--data", str(one_class_data),
                                   "--task", "exception", "--out", str(out), "--lr", "0.01", "--batch-size", "8",
                                   "--epochs", "1", "--max-length", "96", *TINY_GRU])
    assert res.exit_code == 0, (res.output, res.exception)
    return out, res.output


def test_distill_of_a_one_class_model_warns_and_stores_sanity(one_class_run):
    out, output = one_class_run
    m = json.loads((out / "metrics.json").read_text())
    s = m["sanity"]
    assert s["split"] == "test" and s["predicted_label"] == "KeyError" and s["predicted_share"] == 1.0
    assert s["flags"] == ["one_class", "near_majority"] and s["degenerate"] is True
    assert s["majority_share"] == pytest.approx(1 / 3) and s["examples"] == 12
    assert (f"WARNING: student {out} is degenerate on test: predicts 'KeyError' for 100% of test; its accuracy "
            "33.3% is within 2 points of always answering one of the most frequent classes 'ValueError' (33.3%)") \
        in output


def test_teacher_finetune_scores_a_baseline_and_warns(exc_data, bert_teacher, tmp_path):
    out = tmp_path / "teacher"
    args = ["teacher", "finetune", "--teacher", str(bert_teacher), "--data", str(exc_data), "--task", "exception",
            "--out", str(out), "--epochs", "1", "--batch-size", "8", "--max-length", "96",
            "--set", "train.max_steps=2", "--set", "train.eval_batch_size=16"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, (res.output, res.exception)
    base = json.loads((out / "baseline.json").read_text())
    assert base["mode"] == "fast" and base["task"] == "exception" and base["normalization"] == "whitespace"
    assert base["data"] == str(exc_data.resolve()) and base["test_headline"] >= 0.9  # the fixture is learnable
    assert "sanity" in json.loads((out / "metrics.json").read_text())
    # two random-weight steps are far below a baseline that reads the label off a comment
    assert f"WARNING: teacher {out} is not above the TF-IDF baseline on test: accuracy" in res.output
    assert "TF-IDF baseline" in res.output and str(out / "baseline.json") in res.output
    # the finished run is not redone, the baseline file is reused; --no-baseline scores none
    stamp = (out / "baseline.json").stat().st_mtime_ns
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0 and "not above the TF-IDF baseline" in again.output
    assert (out / "baseline.json").stat().st_mtime_ns == stamp
    again = CliRunner().invoke(app, args + ["--no-baseline"])
    assert again.exit_code == 0 and "not above the TF-IDF baseline" not in again.output


def test_evaluate_annotates_retention_against_a_degenerate_teacher(one_class_run, tmp_path):
    from codekd.evaluation.evaluate import evaluate

    out, _ = one_class_run
    r = evaluate(out, teacher=out, write=False)  # the degenerate run as its own "teacher": retention 100%
    assert r["retention"] == pytest.approx(1.0) and r["teacher_degenerate"] is True
    assert r["sanity"]["degenerate"] and r["teacher"]["sanity"]["degenerate"]
    assert r["warnings"][-1] == ("WARNING: retention 100% is against a degenerate teacher and says nothing "
                                 "about the student")
    assert any(w.startswith(f"WARNING: model {out} is degenerate on test: predicts 'KeyError'") for w in r["warnings"])
    res = CliRunner().invoke(app, ["evaluate", str(out), "--teacher", str(out), "--out", str(tmp_path)])
    assert res.exit_code == 0, (res.output, res.exception)
    assert "(teacher" in res.output and "degenerate)" in res.output  # the retention cell (may wrap)
    assert "against a degenerate teacher" in res.output
    assert json.loads((tmp_path / "evaluation.json").read_text())["teacher_degenerate"] is True


def _store_with_runs(tmp_path: Path, teacher_sanity: dict | None):
    from codekd.config import RunConfig
    from codekd.study.spec import Job
    from codekd.study.store import Store

    store = Store(tmp_path / "study.sqlite")
    tcfg = RunConfig(task="exception", data=str(tmp_path / "d"), out=str(tmp_path / "T"))
    t = Job("teacher", "T", tcfg, "exception", teacher="minilm")
    store.register(t, "x")
    store.mark_done("T", {"test_headline": 0.30, "params": 22_000_000,
                          **({"sanity": teacher_sanity} if teacher_sanity else {})}, 1.0)
    cfg = RunConfig(task="exception", data=str(tmp_path / "d"), out=str(tmp_path / "o"))
    for key, method, score in (("s-ft", "ft", 0.35), ("s-kd", "kd", 0.60)):
        j = Job("student", key, cfg, "exception", teacher=None if method == "ft" else "minilm", student="gru-1.5m",
                method=method, seed=1)
        store.register(j, "x")
        store.mark_done(key, {"test_headline": score, "params": 1_500_930}, 1.0)
    return store


def test_report_lists_degenerate_teachers_and_models_below_the_baseline(tmp_path, monkeypatch):
    import numpy as np

    from codekd.sanity import degeneracy
    from codekd.study import plots
    from codekd.study.report import write_report

    labels = np.array([0] * 30 + [1] * 70)
    sanity = degeneracy(np.ones(100, dtype=int), labels, 3, label_names=["ValueError", "KeyError", "OSError"])
    store = _store_with_runs(tmp_path, sanity)
    drawn = []
    real = plots.plot_scores
    monkeypatch.setattr(plots, "plot_scores", lambda *a, **kw: (drawn.append(kw), real(*a, **kw))[1])
    res = write_report(store.path, tmp_path / "rep", baseline=0.50)
    md = Path(res["report"]).read_text()
    section = md.split("## Warnings", 1)[1]
    assert ("- WARNING: teacher minilm (exception) is degenerate on test: predicts 'KeyError' for 100% of test"
            in section)
    assert "- WARNING: teacher minilm (exception) is not above the TF-IDF baseline on test: accuracy 70.0% vs 50.0%" \
        not in section  # 70% > 50%: the sanity score is what is compared
    assert "student gru-1.5m ft seed 1 (exception) is not above the TF-IDF baseline on test: accuracy 35.0% vs 50.0%" \
        in section
    assert "gru-1.5m kd seed 1" not in section  # 60% > 50%
    assert "the teacher is degenerate: these ratios say nothing" in md
    assert "TF-IDF baseline 50.0, majority class 70.0" in md
    assert drawn and drawn[0]["baseline"] == 0.50 and drawn[0]["majority"] == pytest.approx(0.70)
    assert Path(res["plots"][0]).stat().st_size > 5000


def test_report_reads_a_teacher_runs_baseline_json_and_warns_nothing_when_sound(tmp_path):
    from codekd.study.report import write_report

    store = _store_with_runs(tmp_path, None)
    (tmp_path / "d").mkdir()
    (tmp_path / "T").mkdir()
    (tmp_path / "T" / "baseline.json").write_text(json.dumps(
        {"task": "exception", "data": str((tmp_path / "d").resolve()), "normalization": "whitespace",
         "test_headline": 0.20}))
    res = write_report(store.path, tmp_path / "rep")
    md = Path(res["report"]).read_text()
    assert res["warnings"] == [] and "- none: no model is degenerate or below a known baseline." in md
    assert "TF-IDF baseline 20.0" in md
    res = write_report(store.path, tmp_path / "rep2", baseline={"exception": 0.40})  # explicit wins
    assert res["warnings"] == ["WARNING: teacher minilm (exception) is not above the TF-IDF baseline on test: "
                               "accuracy 30.0% vs 40.0%",
                               "WARNING: student gru-1.5m ft seed 1 (exception) is not above the TF-IDF baseline on "
                               "test: accuracy 35.0% vs 40.0%"]
