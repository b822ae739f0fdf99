"""Small-data guard: a too-small training split is warned about before training, with the measured
threshold and where it comes from; a large enough one is not."""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import pytest

from codekd.data.guard import CURVES, SmallDataWarning, small_data_message, warn_small_data


def _data(n: int, num_labels: int = 20):
    return SimpleNamespace(splits={"train": [None] * n}, num_labels=num_labels)


def test_message_states_threshold_source_and_the_way_out():
    t = CURVES["exception"].threshold
    msg = small_data_message(48, "exception", 20)
    assert msg is not None and "48 examples" in msg and f"{t:,}" in msg
    assert "benchmarks/RESULTS-small-data.md" in msg and "README, 'Your own code'" in msg
    assert "{" not in msg  # every measured number filled in
    assert small_data_message(t, "exception", 20) is None
    assert small_data_message(t - 1, "exception", 20) is not None


def test_unmeasured_task_uses_the_exception_curve_per_label_and_says_so():
    ref = CURVES["exception"]
    per_label = ref.threshold / ref.labels
    msg = small_data_message(int(per_label * 2) - 1, "defect", 2)
    assert msg is not None and "not measured for 'defect'" in msg
    assert small_data_message(int(per_label * 2), "defect", 2) is None


def test_warning_for_tiny_data_none_for_large_enough():
    with pytest.warns(SmallDataWarning, match="48 examples"):
        warn_small_data(_data(48), "exception")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert warn_small_data(_data(CURVES["exception"].threshold), "exception") is None
        assert warn_small_data(_data(10_000), "exception", max_examples=100) is not None  # train_max_examples counts
    assert len(caught) == 1


def test_distill_warns_before_any_training(exc_data, tmp_path, monkeypatch):
    import codekd.engine.runs as runs
    from codekd.config import load_run_config

    seen: list[int] = []

    def no_training(job, **kw):  # stands in for the loop: how many warnings were out when training would start
        seen.append(sum(issubclass(w.category, SmallDataWarning) for w in caught))
        return {"status": "done"}

    monkeypatch.setattr(runs, "run_training", no_training)
    cfg = load_run_config(None, ["method.name=ft", "student.vocab_size=300", "student.hidden=16"], task="exception",
                          data=str(exc_data), out=str(tmp_path / "run"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        runs.distill(cfg, progress=False)
    small = [w for w in caught if issubclass(w.category, SmallDataWarning)]
    assert len(small) == 1 and seen == [1]


def test_cli_prints_the_warning_as_one_line(exc_data, tmp_path, capsys):
    from codekd.cli import main

    rc = main(["distill", "--method", "ft", "--data", str(exc_data), "--task", "exception", "--out",
               str(tmp_path / "run"), "--set", "student.vocab_size=300", "--set", "student.hidden=16",
               "--max-steps", "1", "--max-length", "64"])
    err = capsys.readouterr().err
    assert rc == 0
    lines = [x for x in err.splitlines() if "training split has" in x]
    assert len(lines) == 1 and lines[0].startswith("warning: the training split has 48 examples")


def test_the_places_the_warning_points_to_exist():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text(encoding="utf-8")
    assert "\n## Your own code\n" in readme
    results = (root / CURVES["exception"].source).read_text(encoding="utf-8")
    assert f"**{CURVES['exception'].threshold:,} training examples**" in results
