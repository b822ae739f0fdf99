"""Training-loop options: early stopping, max_steps with a time budget, TensorBoard scalars, progress
lines when stdout is not a terminal, the default thread count, and config hashes of older runs."""

from __future__ import annotations

import hashlib
import io
import json
import sys

import pytest

from codekd.engine.progress import LineProgress, fmt_seconds
from codekd.engine.runs import distill
from codekd.engine.threads import SMALL_MODEL_PARAMS, default_threads
from codekd.engine.trainer import config_hash
from codekd.config import load_run_config
from codekd.errors import ConfigError


def cfg_for(data, out, *, method="ft", extra=()):
    sets = ["student.preset=gru-1.5m", "student.hidden=16", "student.layers=2", "student.vocab_size=300",
            "train.batch_size=8", "train.epochs=1", "train.max_steps=2", "train.max_length=96",
            "train.eval_batch_size=16", f"method.name={method}", *extra]
    return load_run_config(None, sets, task="exception", data=str(data), out=str(out))


def _events(run):
    return [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]


def test_early_stopping_stops_after_patience_validations_without_improvement(exc_data, tmp_path):
    # lr 1e-12: the weights do not move, so the validation score never improves after epoch 1
    cfg = cfg_for(exc_data, tmp_path / "run", method="ft",
                  extra=["train.epochs=6", "train.max_steps=1000", "train.lr=1e-12", "train.batch_size=16",
                         "train.early_stopping_patience=2"])
    r = distill(cfg, progress=False)
    assert r["best_epoch"] == 1 and len(r["history"]) == 3  # epoch 1, then 2 without improvement
    assert r["early_stopped"] == {"epoch": 3, "best_epoch": 1, "patience": 2}
    assert r["global_steps"] == 3 * 3  # 48 examples, batch 16
    assert [e for e in _events(tmp_path / "run") if e["event"] == "early_stop"]


def test_max_steps_and_minutes_the_smaller_wins(exc_data, tmp_path):
    cfg = cfg_for(exc_data, tmp_path / "run", method="ft",
                  extra=["train.epochs=3", "train.max_steps=4", "train.minutes=10"])
    r = distill(cfg, progress=False)
    assert r["global_steps"] == 4 and r["plan"]["total_steps"] <= 4


def test_new_unset_fields_keep_the_hash_of_older_runs(exc_data, tmp_path):
    cfg = cfg_for(exc_data, tmp_path / "run", method="ft")
    # the hash as it was computed before these fields existed
    d = cfg.model_dump(mode="json")
    d.pop("out")
    for key in ("transfer", "pretrain"):
        if d.get(key, "absent") is None:
            d.pop(key)
    for key in ("minutes", "layer_lr_decay", "eval_every", "early_stopping_patience", "report_to", "log_every_s",
                "flush_denormal"):
        d["train"].pop(key)
    d["train"].pop("precision", None)  # the documented name of mixed_precision: never in the hash
    for key in ("freeze_layers", "lora", "dtype", "device_map"):
        if d["teacher"].get(key, "absent") is None:
            d["teacher"].pop(key)
    old = hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]
    assert config_hash(cfg) == old
    # where progress and scalars go does not change the result; patience does
    shown = cfg.model_copy(update={"train": cfg.train.model_copy(update={"report_to": "tensorboard",
                                                                         "log_every_s": 5.0})})
    assert config_hash(shown) == old
    stop = cfg.model_copy(update={"train": cfg.train.model_copy(update={"early_stopping_patience": 2})})
    assert config_hash(stop) != old


def test_report_to_tensorboard_without_the_package_is_one_line(exc_data, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails as if not installed
    cfg = cfg_for(exc_data, tmp_path / "run", method="ft", extra=["train.report_to=tensorboard"])
    with pytest.raises(ConfigError, match=r"pip install") as ei:
        distill(cfg, progress=False)
    assert "\n" not in str(ei.value)
    log = tmp_path / "run" / "log.jsonl"
    assert not log.exists() or not [e for e in _events(tmp_path / "run") if e["event"] == "start"]  # before training


def test_report_to_tensorboard_writes_loss_lr_and_valid_metric(exc_data, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = cfg_for(exc_data, tmp_path / "run", method="ft",
                  extra=["train.report_to=tensorboard", "train.log_every=1", "train.eval_every=2",
                         "train.max_steps=4"])
    distill(cfg, progress=False)
    acc = EventAccumulator(str(tmp_path / "run" / "tensorboard"))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert {"train/loss", "train/learning_rate", "eval/accuracy", "train/epoch_loss"} <= tags
    assert [e.step for e in acc.Scalars("train/loss")] == [1, 2, 3, 4]
    assert [e.step for e in acc.Scalars("eval/accuracy")] == [2, 4, 4]  # eval_every 2, then the epoch end


def test_accelerate_trackers_get_the_same_scalars(exc_data, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = cfg_for(exc_data, tmp_path / "run", method="ft", extra=["train.trackers=[tensorboard]", "train.log_every=1"])
    distill(cfg, progress=False)
    folders = {p.parent for p in (tmp_path / "run" / "trackers").rglob("events.out.tfevents.*")}
    tags = set()
    for f in folders:
        acc = EventAccumulator(str(f))
        acc.Reload()
        tags |= set(acc.Tags()["scalars"])
    assert {"train/loss", "train/learning_rate", "eval/accuracy"} <= tags


def test_line_progress_prints_every_n_seconds_with_eta():
    now = [0.0]
    out = io.StringIO()
    p = LineProgress(30, stream=out, clock=lambda: now[0])
    t = p.add_task("epoch 1/2", total=100, info="")
    for step in range(1, 101):
        now[0] += 1.0  # one second per step
        p.update(t, completed=step, info=f"step {step}/200 loss 0.5000", eta="1:40")
    p.remove_task(t)
    lines = out.getvalue().splitlines()
    assert len(lines) == 4  # at 30, 60, 90 s, and the last one at the end
    assert lines[0] == "epoch 1/2: 30/100 (30.0%) | step 30/200 loss 0.5000 | elapsed 0:30, ETA 1:10 (run 1:40)"
    assert lines[-1].startswith("epoch 1/2: 100/100 (100.0%)")
    assert fmt_seconds(3725) == "1:02:05" and fmt_seconds(None) == "?"


def test_training_without_a_terminal_prints_progress_lines(exc_data, tmp_path, capsys):
    cfg = cfg_for(exc_data, tmp_path / "run", method="ft", extra=["train.log_every_s=0.001", "train.max_steps=3"])
    distill(cfg, progress=True)  # pytest's captured stdout is not a terminal
    lines = [x for x in capsys.readouterr().out.splitlines() if x.startswith("epoch 1/1: ")]
    assert lines and "loss" in lines[0] and "ex/s" in lines[0] and "ETA" in lines[0]


def test_default_threads_from_free_cores_and_model_size():
    big = 10 * SMALL_MODEL_PARAMS
    assert default_threads(big, cores=2, load=1.7)[0] == 1   # a busy 2-core machine
    assert default_threads(big, cores=2, load=0.2)[0] == 2
    assert default_threads(big, cores=16, load=4.0)[0] == 12
    assert default_threads(big, cores=4, load=9.0)[0] == 1   # never below 1
    assert default_threads(big, cores=4, load=None)[0] == 4  # no load average (not Linux)
    assert default_threads(big, cores=2, load=1.2, own=1.0)[0] == 2  # the load is this process's own
    n, why = default_threads(1_500_000, cores=16, load=0.0)
    assert n == 1 and "5M" in why


def test_run_log_records_the_thread_choice(exc_data, tmp_path):
    distill(cfg_for(exc_data, tmp_path / "a", method="ft"), progress=False)
    start = _events(tmp_path / "a")[0]
    # a tiny model: 1 thread whatever the load (capped for a small model, or only one core free)
    assert start["threads"] == 1 and "usable cores" in start["threads_reason"]
    distill(cfg_for(exc_data, tmp_path / "b", method="ft", extra=["train.num_threads=2"]), progress=False)
    start = _events(tmp_path / "b")[0]
    assert start["threads"] == 2 and start["threads_reason"] == "train.num_threads"
