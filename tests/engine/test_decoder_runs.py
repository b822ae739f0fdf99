"""End to end with tiny random decoder-only teachers (Qwen2, Llama): fine-tune with and without
LoRA, cache (logits, last-token pooled states, token states), distil with KD, DIST, PKD and CKD
into gru-1.5m and roberta-1.5m shapes, the cached run equal to the live one, LoRA resume,
evaluate and bench, and the paper-faithful refusal."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from fixtures_decoders import tiny_decoder_teacher
from safetensors.torch import load_file

from codekd.config import load_run_config
from codekd.engine.runs import distill, finetune_teacher
from codekd.engine.teacher_cache import TeacherCache, build_teacher_cache
from codekd.engine.trainer import Interrupted
from codekd.errors import ConfigError

TINY = {"gru": ["student.preset=gru-1.5m", "student.hidden=16", "student.layers=2"],
        "roberta": ["student.preset=roberta-1.5m", "student.hidden=32", "student.heads=2", "student.ffn=64",
                    "student.layers=3"]}
COMMON = ["train.batch_size=8", "train.epochs=1", "train.max_steps=2", "train.max_length=96",
          "train.eval_batch_size=16", "train.num_threads=1"]


@pytest.fixture(scope="module", autouse=True)
def _restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def student_cfg(data, out, teacher, *, method, family="gru", extra=()):
    sets = [*TINY[family], "student.vocab_size=300", *COMMON, f"method.name={method}", *extra]
    return load_run_config(None, sets, task="exception", data=str(data), out=str(out),
                           **{"teacher.path": str(teacher)})


def teacher_cfg(data, out, teacher, extra=()):
    return load_run_config(None, [*COMMON, "train.lr=1e-3", *extra], kind="finetune", task="exception",
                           data=str(data), out=str(out), **{"teacher.path": str(teacher)})


@pytest.fixture(scope="module")
def qwen(exc_data, tmp_path_factory):
    """A tiny Qwen2 teacher fine-tuned for 2 steps (full fine-tuning), its run folder and a cache."""
    root = tmp_path_factory.mktemp("qwen")
    base = tiny_decoder_teacher(root / "base", "qwen2")
    r = finetune_teacher(teacher_cfg(exc_data, root / "teacher", base), progress=False)
    cache = root / "cache"
    build_teacher_cache(root / "teacher", exc_data, "exception", cache, max_length=96, pooled=True,
                        token_layers=[0, 1, 2], progress=False)
    return {"run": root / "teacher", "result": r, "cache": cache, "base": base}


def _same_weights(a_dir, b_dir, atol=1e-4):
    a = load_file(str(a_dir / "best" / "model.safetensors"))
    b = load_file(str(b_dir / "best" / "model.safetensors"))
    return all(torch.allclose(a[k], b[k], atol=atol) for k in a)


def test_decoder_teacher_finetune_records_pooling_and_cache_holds_last_token_states(qwen, exc_data):
    r = qwen["result"]
    assert r["status"] == "done" and r["global_steps"] == 2
    start = json.loads((qwen["run"] / "log.jsonl").read_text().splitlines()[0])
    assert start["pooling"] == "last" and start["causal"] is True and start["architecture"] == "qwen2"
    saved = json.loads((qwen["run"] / "best" / "codekd_teacher.json").read_text())
    assert saved["pooling"] == "last" and "lora" not in saved
    cache = TeacherCache(qwen["cache"])
    assert cache.has_pooled and cache.token_layers == (0, 1, 2)
    # the cached pooled states are the live teacher's last-real-token states per layer
    from codekd.data.loaders import load_task_data
    from codekd.engine.sides import teacher_side
    from codekd.models.teacher import Teacher, last_token_index
    from codekd.tasks import get_task

    t = Teacher.load(str(qwen["run"] / "best"), max_length=96)
    split = load_task_data(exc_data, get_task("exception"), splits=("train",))["train"]
    from codekd.data.loaders import normalized_codes

    i = 3
    side = teacher_side(t)
    enc = side.encode(normalized_codes(split, [i], "whitespace"))
    with torch.no_grad():
        out = side.forward(t, enc, True)
    row = cache.rows_for("train", [split.ids[i]])
    states = cache.pooled("train")[row][0]
    assert states.shape == (t.num_layers, t.hidden_size)
    last = int(last_token_index(enc["attention_mask"])[0])
    for layer in range(t.num_layers):
        np.testing.assert_allclose(states[layer], out.hidden_states[layer + 1][0, last].numpy(), atol=1e-4)
    np.testing.assert_allclose(cache.logits("train")[row][0], out.logits[0].numpy(), atol=1e-4)


@pytest.mark.parametrize("method", ["kd", "pkd", "ckd"])
def test_cached_decoder_run_equals_the_live_one(qwen, exc_data, tmp_path, method):
    live = distill(student_cfg(exc_data, tmp_path / "live", qwen["run"], method=method), progress=False)
    cached = distill(student_cfg(exc_data, tmp_path / "cached", qwen["run"], method=method,
                                 extra=[f"teacher.cache={qwen['cache']}"]), progress=False)
    assert cached["teacher_cache"] and not live["teacher_cache"] and live["teacher_causal"]
    assert cached["test"]["accuracy"] == live["test"]["accuracy"]
    assert _same_weights(tmp_path / "live", tmp_path / "cached")
    if method == "ckd":
        assert any("causal attention" in w for w in live["method_warnings"])


@pytest.mark.parametrize("method", ["dist", "pkd", "ckd"])
def test_decoder_teacher_into_a_roberta_student(qwen, exc_data, tmp_path, method):
    r = distill(student_cfg(exc_data, tmp_path / "run", qwen["run"], method=method, family="roberta"),
                progress=False)
    assert r["status"] == "done" and r["global_steps"] == 2 and 0 <= r["test"]["accuracy"] <= 1
    steps = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert all(e["loss"] == e["loss"] for e in steps if e["event"] == "step")


def test_paper_faithful_pkd_refuses_a_decoder_teacher(qwen, exc_data, tmp_path):
    cfg = student_cfg(exc_data, tmp_path / "run", qwen["run"], method="pkd", extra=["method.paper_faithful=true"])
    with pytest.raises(ConfigError, match="decoder-only"):
        distill(cfg, progress=False)


def test_lora_teacher_finetune_resumes_merges_and_distils(exc_data, tmp_path):
    pytest.importorskip("peft")
    base = tiny_decoder_teacher(tmp_path / "llama", "llama")
    extra = ["train.max_steps=4", "train.checkpoint_every=2", "train.batch_size=12", "teacher.lora=r=4,alpha=8"]
    full = finetune_teacher(teacher_cfg(exc_data, tmp_path / "full", base, extra), progress=False)
    cfg = teacher_cfg(exc_data, tmp_path / "cut", base, extra)
    with pytest.raises(Interrupted):
        finetune_teacher(cfg, progress=False, stop_after=3)
    resumed = finetune_teacher(cfg, progress=False)
    assert resumed["test"] == full["test"] and resumed["valid"] == full["valid"]
    assert _same_weights(tmp_path / "full", tmp_path / "cut", atol=1e-6)
    best = tmp_path / "full" / "best"
    assert (best / "lora" / "adapter_model.safetensors").is_file()
    saved = json.loads((best / "codekd_teacher.json").read_text())
    assert saved["lora"]["r"] == 4 and saved["lora"]["merged"]
    start = json.loads((tmp_path / "full" / "log.jsonl").read_text().splitlines()[0])
    assert 0 < start["lora"]["trainable_params"] < start["lora"]["total_params"]
    assert "lora" not in "".join(load_file(str(best / "model.safetensors")))  # merged: a plain HF folder
    # the merged teacher distils, evaluates and benchmarks like any teacher
    run = tmp_path / "student"
    r = distill(student_cfg(exc_data, run, tmp_path / "full", method="kd"), progress=False)
    assert r["status"] == "done"
    from codekd.evaluation.bench import benchmark
    from codekd.evaluation.evaluate import evaluate

    e = evaluate(run, teacher=tmp_path / "full", out=tmp_path / "eval.json")
    assert e["retention"] is not None and 0 <= e["agreement"] <= 1
    b = benchmark([str(tmp_path / "full"), str(run)], data=exc_data, task="exception", seq_len=32, threads=1,
                  repeats=1, latency_calls=1, warmup=1, throughput_batch=2, num_labels=3)
    t_row = b["rows"][0]
    assert t_row["role"] == "teacher" and t_row["flops_per_example"] > 0 and b["rows"][1]["role"] == "student"


def test_lora_and_a_frozen_bottom_do_not_combine(exc_data, tmp_path):
    cfg = teacher_cfg(exc_data, tmp_path / "t", tmp_path, ["teacher.lora=on", "teacher.freeze_layers=1"])
    with pytest.raises(ConfigError, match="freeze-layers 0"):
        finetune_teacher(cfg, progress=False)


def test_cache_size_is_estimated_and_a_bf16_teacher_caches_close_to_fp32(qwen, exc_data, tmp_path):
    meta = json.loads((qwen["cache"] / "meta.json").read_text())
    actual = (qwen["cache"] / "train.safetensors").stat().st_size
    assert 0.8 * actual < meta["estimated_bytes"] < 1.2 * actual and meta["dtype"] == "float32"
    half = build_teacher_cache(qwen["run"], exc_data, "exception", tmp_path / "bf16", max_length=96,
                               dtype="bfloat16", progress=False)
    assert half["dtype"] == "bfloat16"
    a, b = TeacherCache(qwen["cache"]).logits("train"), TeacherCache(tmp_path / "bf16").logits("train")
    np.testing.assert_allclose(b, a, atol=0.1)
