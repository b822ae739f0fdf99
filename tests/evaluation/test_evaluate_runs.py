"""`codekd evaluate` on tiny trained runs: JSON fields, retention, agreement, cache reuse, aggregation, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fixtures_models import single_thread, tiny_eval_runs  # noqa: F401  (single_thread: autouse)

from codekd.cli import main
from codekd.errors import CodekdError
from codekd.evaluation.evaluate import evaluate, evaluate_many
from codekd.evaluation.inference import resolve_model
from codekd.metrics import agreement


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return tiny_eval_runs(tmp_path_factory)


def test_resolve_model_kinds(runs):
    ref = resolve_model(runs["gru"])
    assert ref.kind == "student" and ref.run_dir == runs["gru"] and ref.config.task == "exception"
    best = resolve_model(runs["gru"] / "best")
    assert best.run_dir == runs["gru"]  # a run's best/ folder picks up its run
    assert resolve_model(runs["teacher"]).kind == "teacher"
    assert resolve_model("minilm").kind == "teacher"
    with pytest.raises(CodekdError):
        resolve_model(runs["data"])  # a dataset folder is not a model


def test_evaluate_with_teacher_writes_json(runs, tmp_path):
    r = evaluate(runs["gru"], teacher=runs["roberta"])
    out = runs["gru"] / "evaluation.json"
    assert r["written"] == str(out) and json.loads(out.read_text())["headline"] == r["headline"]
    assert r["task"] == "exception" and r["split"] == "test" and r["examples"] == 12
    assert set(r["metrics"]) >= {"accuracy", "precision", "recall", "f1", "top3", "ece"}
    assert r["headline_metric"] == "top1" and r["headline"] == r["metrics"]["accuracy"]
    assert list(r["per_class"])[:3] == ["ValueError", "KeyError", "OSError"]
    assert r["logits"].startswith("cached")  # the run's own test_logits.npy, same data and settings
    # retention and agreement from the two runs' own test logits
    s_logits = np.load(runs["gru"] / "test_logits.npy")
    t_logits = np.load(runs["roberta"] / "test_logits.npy")
    t_head = r["teacher"]["headline"]
    assert r["retention"] == pytest.approx(r["headline"] / t_head)
    assert r["agreement"] == pytest.approx(agreement(s_logits, t_logits))
    assert r["model"]["params"] > 0 and r["versions"]["torch"]
    # recomputing gives the same figures as the cached logits
    again = evaluate(runs["gru"], use_cached=False, out=tmp_path / "e.json")
    assert again["logits"].startswith("computed") and (tmp_path / "e.json").is_file()
    assert again["metrics"] == pytest.approx(r["metrics"], abs=1e-6)


def test_model_folder_needs_task_and_data(runs):
    with pytest.raises(CodekdError, match="--task"):
        evaluate(runs["teacher"], write=False)
    r = evaluate(runs["teacher"], data=runs["data"], task="exception", write=False, split="valid")
    assert r["split"] == "valid" and r["model"]["kind"] == "teacher" and 0 <= r["headline"] <= 1


def test_multi_seed_aggregate(runs, tmp_path):
    res = evaluate_many([runs["gru"], runs["roberta"]], aggregate_out=tmp_path, write=False)
    heads = [r["headline"] for r in res["runs"]]
    agg = res["aggregate"]
    assert agg["n"] == 2 and agg["headline"]["mean"] == pytest.approx(np.mean(heads))
    assert agg["headline"]["std"] == pytest.approx(np.std(heads, ddof=1))
    assert agg["ece"]["mean"] == pytest.approx(np.mean([r["metrics"]["ece"] for r in res["runs"]]))
    assert json.loads((tmp_path / "evaluation_aggregate.json").read_text())["n"] == 2


def test_cli_evaluate(runs, tmp_path, capsys):
    assert main(["evaluate", str(runs["gru"]), "--teacher", str(runs["roberta"]), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "retention" in out and "per class" in out and "KeyError" in out
    assert (tmp_path / "evaluation.json").is_file()
    assert main(["evaluate", str(runs["gru"]), str(runs["roberta"]), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["aggregate"]["n"] == 2
    assert main(["evaluate", str(runs["teacher"])]) == 2
    assert "--task" in capsys.readouterr().err
