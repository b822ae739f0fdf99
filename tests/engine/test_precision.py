"""train.precision: fp32 | bf16 | fp16 | auto on every stage (stored as train.mixed_precision)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from codekd.config import load_run_config
from codekd.engine.runs import distill, finetune_teacher
from codekd.engine.teacher_cache import TeacherCache, build_teacher_cache
from codekd.engine.trainer import config_hash
from codekd.errors import ConfigError

STUDENT = ["student.preset=roberta-0.6m", "student.hidden=32", "student.heads=2", "student.ffn=64", "student.layers=2",
           "student.vocab_size=300", "student.dropout=0"]
TRAIN = ["train.epochs=1", "train.max_steps=6", "train.batch_size=8", "train.max_length=96", "train.eval_batch_size=16",
         "train.lr=3e-3", "train.num_threads=1"]
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def _cfg(data, out, *sets, teacher=None, kind="distill"):
    fields = {"task": "exception", "data": str(data), "out": str(out), "kind": kind}
    if teacher is not None:
        fields["teacher.path"] = str(teacher)
    extra = [*STUDENT, "method.name=kd"] if kind == "distill" else []
    return load_run_config(None, [*extra, *TRAIN, *sets], **fields)


def test_precision_is_the_documented_name_of_mixed_precision(exc_data, tmp_path):
    base = {"task": "exception", "data": "d", "out": "o"}
    for given, stored in (("fp32", "no"), ("bf16", "bf16"), ("fp16", "fp16"), ("auto", "auto")):
        cfg = load_run_config(None, [f"train.precision={given}"], **base)
        assert cfg.train.mixed_precision == stored and cfg.train.precision is None
    # the same run whichever name set it (existing run folders keep their config hash)
    assert config_hash(load_run_config(None, ["train.precision=bf16"], **base)) == \
        config_hash(load_run_config(None, ["train.mixed_precision=bf16"], **base))
    assert config_hash(load_run_config(None, ["train.precision=fp32"], **base)) == config_hash(load_run_config(None, [], **base))
    assert load_run_config(None, ["train.mixed_precision=fp32"], **base).train.mixed_precision == "no"
    with pytest.raises(ConfigError, match="precision"):
        load_run_config(None, ["train.precision=fp8"], **base)


@pytest.mark.skipif(torch.cuda.is_available(), reason="the CPU refusal")
def test_fp16_on_a_cpu_is_refused_not_silently_fp32(exc_data, tmp_path):
    with pytest.raises(ConfigError, match="fp16 needs a GPU"):
        distill(_cfg(exc_data, tmp_path / "r", "train.precision=fp16", "method.name=ft"), progress=False)


def test_bf16_on_cpu_runs_and_stays_close_to_fp32(exc_data, bert_teacher, tmp_path):
    runs = {}
    for p in ("fp32", "bf16"):
        r = distill(_cfg(exc_data, tmp_path / p, f"train.precision={p}", "train.cpu=true", teacher=bert_teacher),
                    progress=False)
        runs[p] = (r, np.load(tmp_path / p / "test_logits.npy"))
    (r32, l32), (r16, l16) = runs["fp32"], runs["bf16"]
    assert r32["precision"] == "no" and r16["precision"] == "bf16" and r16["global_steps"] == 6
    gap = float(np.abs(l32 - l16).max())
    print(f"[precision] bf16 vs fp32 on CPU: max |test logit gap| {gap:.2e}, test accuracy "
          f"{r16['test']['accuracy']:.3f} vs {r32['test']['accuracy']:.3f}")
    assert 0 < gap < 0.1, gap  # bf16 really ran (not bit-equal) and stayed close (measured 3e-2 here)
    assert abs(r32["test"]["accuracy"] - r16["test"]["accuracy"]) <= 1 / 6  # at most 2 of 12 test rows
    # the teacher cache under bf16 autocast: logits close to the fp32 cache's
    for p in ("no", "bf16"):
        build_teacher_cache(bert_teacher, exc_data, "exception", tmp_path / f"cache-{p}", max_length=96, precision=p,
                            progress=False)
    a, b = (TeacherCache(tmp_path / f"cache-{p}").logits("train") for p in ("no", "bf16"))
    assert 0 < float(np.abs(a - b).max()) < 0.05


@cuda
@pytest.mark.gpu
def test_gpu_fp16_with_scaler_and_half_teacher(exc_data, bert_teacher, tmp_path):
    r = distill(_cfg(exc_data, tmp_path / "fp16", "train.precision=fp16", teacher=bert_teacher), progress=False)
    assert r["precision"] == "fp16" and r["teacher_dtype"] == "torch.float16" and r["device"].startswith("cuda")
    assert np.isfinite(np.load(tmp_path / "fp16" / "test_logits.npy")).all()
    r = distill(_cfg(exc_data, tmp_path / "bf16", "train.precision=bf16", teacher=bert_teacher), progress=False)
    assert r["precision"] == "bf16" and r["teacher_dtype"] == "torch.bfloat16"
    t = finetune_teacher(_cfg(exc_data, tmp_path / "t", "train.precision=bf16", teacher=bert_teacher, kind="finetune"),
                         progress=False)
    assert t["precision"] == "bf16" and t["device"].startswith("cuda")


@cuda
@pytest.mark.gpu
def test_gpu_teacher_cache_in_half_precision(exc_data, bert_teacher, tmp_path):
    for p, dt in (("no", None), ("fp16", "float16"), ("bf16", "bfloat16")):
        build_teacher_cache(bert_teacher, exc_data, "exception", tmp_path / p, max_length=96, precision=p, dtype=dt,
                            progress=False)
    ref = TeacherCache(tmp_path / "no").logits("train")
    for p in ("fp16", "bf16"):
        assert float(np.abs(TeacherCache(tmp_path / p).logits("train") - ref).max()) < 0.05
