"""Big-teacher memory (issue 21): the live-run estimate (hand-computed golden values), a teacher in
bfloat16 for live KD, a ``device_map``-dispatched teacher (on CPU here: the code path that keeps its
layers where accelerate put them), and the estimate printed before a live CKD run."""

from __future__ import annotations

import json

import pytest
import torch
from fixtures_decoders import tiny_decoder_teacher

from codekd.config import load_run_config
from codekd.engine.memory import CKD_MEASURED_BYTES, estimate_live_memory
from codekd.engine.runs import distill, finetune_teacher
from codekd.engine.teacher_cache import build_teacher_cache
from codekd.models.teacher import Teacher

COMMON = ["train.batch_size=8", "train.epochs=1", "train.max_steps=2", "train.max_length=96",
          "train.eval_batch_size=16", "train.num_threads=1"]
GRU = ["student.preset=gru-1.5m", "student.hidden=16", "student.layers=2", "student.vocab_size=300"]


@pytest.fixture(scope="module", autouse=True)
def _restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_estimate_golden_values():
    # 125M-shaped teacher, fp32 weights 500 MB, batch 16 x 512, CKD with 5 pairs and window 10
    e = estimate_live_memory(teacher_weight_bytes=500_000_000, teacher_layers=12, teacher_hidden=768,
                             teacher_heads=12, teacher_ffn=3072, act_bytes=4, batch=16, tokens=512,
                             student_params=1_000_000, keeps_states=True, ckd_pairs=5, ckd_window=10)
    assert e.teacher_weights == 500_000_000
    assert e.teacher_states == 13 * 16 * 512 * 768 * 4 == 327_155_712
    assert e.teacher_layer_peak == (2 * 16 * 12 * 512 * 512 + 16 * 512 * 3072) * 4 == 503_316_480
    assert e.student == 16_000_000
    assert e.loss == CKD_MEASURED_BYTES  # the measured point itself
    assert e.total == 500_000_000 + 327_155_712 + 503_316_480 + 16_000_000 + CKD_MEASURED_BYTES
    # half the batch, window 4 (9 slots): the loss term scales with batch x tokens x slots^2
    h = estimate_live_memory(teacher_weight_bytes=0, teacher_layers=12, teacher_hidden=768, teacher_heads=12,
                             teacher_ffn=3072, act_bytes=2, batch=8, tokens=512, student_params=0,
                             keeps_states=False, ckd_pairs=5, ckd_window=4)
    assert h.loss == int(CKD_MEASURED_BYTES * 0.5 * (9 / 21) ** 2)
    assert h.teacher_states == 2 * 8 * 512 * 768 * 2  # logits-only method: one layer in, one out
    assert "CKD relations" in e.describe() and "CKD" not in estimate_live_memory(
        teacher_weight_bytes=1, teacher_layers=1, teacher_hidden=1, teacher_heads=1, teacher_ffn=1, act_bytes=4,
        batch=1, tokens=1, student_params=1, keeps_states=False).describe()


@pytest.fixture(scope="module")
def qwen(exc_data, tmp_path_factory):
    root = tmp_path_factory.mktemp("qwen-mem")
    base = tiny_decoder_teacher(root / "base", "qwen2")
    finetune_teacher(load_run_config(None, [*COMMON, "train.lr=1e-3"], kind="finetune", task="exception",
                                     data=str(exc_data), out=str(root / "teacher"), **{"teacher.path": str(base)}),
                     progress=False)
    return root / "teacher"


def _kd(data, out, teacher, extra=()):
    return distill(load_run_config(None, [*GRU, *COMMON, "method.name=kd", *extra], task="exception", data=str(data),
                                   out=str(out), **{"teacher.path": str(teacher)}), progress=False)


# one device here, so transformers would not dispatch "auto"; a layer offloaded to disk makes accelerate
# dispatch with hooks, the same code path as layers spread over several GPUs
SPLIT = {"model.embed_tokens": "cpu", "model.rotary_emb": "cpu", "model.layers.0": "cpu", "model.layers.1": "disk",
         "model.norm": "cpu", "score": "cpu"}


def test_device_map_teacher_keeps_its_layers_and_gives_the_same_run(qwen, exc_data, tmp_path):
    t = Teacher.load(str(qwen / "best"), max_length=96, device_map=SPLIT)
    assert t.dispatched and t.input_device.type == "cpu"
    assert t.place("cpu") is t and t.model.hf_device_map["model.layers.1"] == "disk"
    plain = Teacher.load(str(qwen / "best"), max_length=96)
    assert not plain.dispatched
    codes = ["def f(x):\n    return x + 1", "def g():\n    pass"]
    assert torch.allclose(t.predict_logits(codes), plain.predict_logits(codes), atol=1e-5)
    a = _kd(exc_data, tmp_path / "plain", qwen)
    cfg = load_run_config(None, [*GRU, *COMMON, "method.name=kd"], task="exception", data=str(exc_data),
                          out=str(tmp_path / "mapped"), **{"teacher.path": str(qwen), "teacher.device_map": SPLIT})
    b = distill(cfg, progress=False)
    assert b["test"]["accuracy"] == pytest.approx(a["test"]["accuracy"], abs=1e-9)
    assert b["test"]["f1"] == pytest.approx(a["test"]["f1"], abs=1e-9)
    # a cache built from the dispatched teacher holds the same logits
    ma = build_teacher_cache(qwen, exc_data, "exception", tmp_path / "ca", max_length=96, progress=False)
    mb = build_teacher_cache(qwen, exc_data, "exception", tmp_path / "cb", max_length=96, progress=False,
                             device_map=SPLIT)
    from safetensors.numpy import load_file
    la, lb = load_file(str(tmp_path / "ca" / "train.safetensors")), load_file(str(tmp_path / "cb" / "train.safetensors"))
    assert ma["splits"] == mb["splits"] and abs(la["logits"] - lb["logits"]).max() < 1e-5


def test_bf16_live_teacher_halves_its_weights_and_stays_close(qwen, exc_data, tmp_path):
    a = _kd(exc_data, tmp_path / "fp32", qwen)
    b = _kd(exc_data, tmp_path / "bf16", qwen, ["teacher.dtype=bfloat16"])
    ea = json.loads((tmp_path / "fp32" / "log.jsonl").read_text().splitlines()[0])["memory_estimate"]
    eb = json.loads((tmp_path / "bf16" / "log.jsonl").read_text().splitlines()[0])["memory_estimate"]
    assert eb["teacher_weights"] * 2 == ea["teacher_weights"]
    assert eb["teacher_states"] * 2 == ea["teacher_states"]
    # two steps of a tiny student on bf16 teacher logits (8 significant bits): the same run within rounding
    assert abs(a["valid"]["accuracy"] - b["valid"]["accuracy"]) <= 0.2
    t16 = Teacher.load(str(qwen / "best"), max_length=96, dtype="bfloat16")
    t32 = Teacher.load(str(qwen / "best"), max_length=96)
    codes = ["def f(x):\n    return x + 1"]
    assert torch.allclose(t16.predict_logits(codes).float(), t32.predict_logits(codes), atol=0.05, rtol=0.05)


def test_live_ckd_prints_its_memory_before_training(qwen, exc_data, tmp_path, capsys):
    cfg = load_run_config(None, [*GRU, *COMMON, "method.name=ckd"], task="exception", data=str(exc_data),
                          out=str(tmp_path / "ckd"), **{"teacher.path": str(qwen)})
    distill(cfg, progress=True)
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("live teacher run"))
    assert "ckd at batch 8 x 96 tokens" in line and "CKD relations" in line and "free on cpu" in line
    est = json.loads((tmp_path / "ckd" / "log.jsonl").read_text().splitlines()[0])["memory_estimate"]
    assert est["loss"] > 0 and est["total_bytes"] == sum(est[k] for k in (
        "teacher_weights", "teacher_states", "teacher_layer_peak", "student", "loss"))


def test_teacher_dtype_is_checked_at_load():
    from codekd.errors import ConfigError

    with pytest.raises((ConfigError, ValueError), match="dtype"):
        load_run_config(None, ["teacher.dtype=bf8"], task="exception", data="d", out="o")
