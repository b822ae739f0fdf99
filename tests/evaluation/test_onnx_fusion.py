"""ONNX speed path: transformer fusion (checked), explicit session options, int8 schemes; bench matrix helpers.

Tiny models built here (2 layers, width 32); no downloads, a few seconds in all.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from fixtures_models import single_thread  # noqa: F401  (autouse)

from codekd.errors import ConfigError
from codekd.evaluation.bench import parse_runtimes, parse_seq_lens, ratios, spread
from codekd.evaluation.export import (DEFAULT_INT8_SCHEME, INT8_SCHEMES, ExportError, calibration_feeds,
                                      eager_attention, export_onnx, op_counts, resolve_int8_scheme, quantize_int8)
from codekd.evaluation.inference import describe_session_options, ort_session, session_options
from codekd.models.students.roberta import build_roberta

VOCAB = 120


def _roberta():
    torch.manual_seed(0)
    return build_roberta(vocab_size=VOCAB, hidden=32, layers=2, heads=2, ffn=64, num_labels=3, max_positions=64).eval()


def _run(path, ids, mask):
    return ort_session(path, threads=1).run(["logits"], {"input_ids": ids, "attention_mask": mask})[0]


def _inputs(b=3, t=21):
    g = torch.Generator().manual_seed(5)
    ids = torch.randint(5, VOCAB, (b, t), generator=g)
    mask = torch.ones_like(ids)
    ids[0, t - 6:] = 1
    mask[0, t - 6:] = 0
    return ids, mask


@pytest.fixture(scope="module")
def fused(tmp_path_factory):
    model = _roberta()
    path = tmp_path_factory.mktemp("fused") / "model.onnx"
    info = export_onnx(model, path, vocab_size=VOCAB, family="roberta")
    return model, path, info


def test_roberta_export_is_fused_and_matches_pytorch(fused):
    model, path, info = fused
    assert info["exporter"] == "legacy"
    f = info["fusion"]
    assert f["applied"] and f["fused"]["Attention"] == 2 and f["fused"]["SkipLayerNormalization"] >= 2
    assert f["nodes_after"] < f["nodes_before"]
    ops = op_counts(path)
    assert ops.get("Attention") == 2 and "Softmax" not in ops  # the attention really is one node per layer
    assert model.config._attn_implementation == "sdpa"  # eager only during the export
    ids, mask = _inputs()
    with torch.no_grad():
        ref = model(input_ids=ids, attention_mask=mask).logits.numpy()
    assert np.abs(_run(path, ids.numpy(), mask.numpy()) - ref).max() < 1e-4


def test_fusion_that_fuses_nothing_fails_the_export(tmp_path):
    # the dynamo graph of an sdpa model has no pattern the optimizer knows: refused, not shipped unfused
    with pytest.raises(ExportError, match="fused 0 of 2 attention"):
        export_onnx(_roberta(), tmp_path / "d.onnx", vocab_size=VOCAB, family="roberta", exporter="dynamo")
    info = export_onnx(_roberta(), tmp_path / "u.onnx", vocab_size=VOCAB, family="roberta", fuse=False)
    assert info["fusion"]["applied"] is False and "fuse=False" in info["fusion"]["reason"]
    assert info["exporter"] == "dynamo" and "Attention" not in op_counts(tmp_path / "u.onnx")


def test_eager_attention_switch_restores():
    m = _roberta()
    with eager_attention(m):
        assert m.config._attn_implementation == "eager"
    assert m.config._attn_implementation == "sdpa"


def test_session_options_are_explicit():
    d = describe_session_options(session_options(3))
    assert d == {"graph_optimization_level": "ORT_ENABLE_ALL", "execution_mode": "ORT_SEQUENTIAL",
                 "intra_op_num_threads": 3, "inter_op_num_threads": 1}


@pytest.mark.parametrize("scheme", list(INT8_SCHEMES))
def test_int8_schemes_quantise_the_fused_graph(fused, tmp_path, scheme):
    model, path, _ = fused
    dst = tmp_path / f"{scheme}.onnx"
    calib = calibration_feeds(path, VOCAB, n=2, shape=(2, 16)) if scheme.startswith("qdq") else None
    info = quantize_int8(path, dst, scheme=scheme, calibration=calib)
    assert info["scheme"] == scheme and info["per_channel"] == scheme.endswith("per-channel")
    ops = op_counts(dst)
    if scheme.startswith("qoperator"):
        assert ops.get("QAttention") == 2 and ops.get("DynamicQuantizeLinear")
    else:
        assert ops.get("QuantizeLinear") and ops.get("DequantizeLinear")
    ids, mask = _inputs()
    with torch.no_grad():
        ref = model(input_ids=ids, attention_mask=mask).logits.numpy()
    got = _run(dst, ids.numpy(), mask.numpy())
    assert got.shape == ref.shape and np.abs(got - ref).max() < 0.1


def test_int8_scheme_names():
    assert resolve_int8_scheme(None)[0] == DEFAULT_INT8_SCHEME
    with pytest.raises(ConfigError, match="unknown int8 scheme"):
        resolve_int8_scheme("int4")
    with pytest.raises(ConfigError, match="calibration"):
        quantize_int8("x.onnx", "y.onnx", scheme="qdq-per-tensor")


def test_bench_matrix_parsers_and_spread():
    assert parse_runtimes("onnx-int8, torch") == ("torch", "onnx-int8")
    assert parse_runtimes(["pytorch", "ort", "int8"]) == ("torch", "onnx", "onnx-int8")
    assert parse_runtimes("bf16,onnx") == ("torch-bf16", "onnx")
    with pytest.raises(ConfigError, match="unknown runtime"):
        parse_runtimes("tensorrt")
    assert parse_seq_lens("128,256,512") == (128, 256, 512) and parse_seq_lens(64) == (64,)
    with pytest.raises(ConfigError):
        parse_seq_lens("128,x")
    assert spread([2.0, 3.0, 4.0]) == 2.0


def test_ratios_per_seq_len_with_round_ranges_and_cpu():
    def row(model, seq, wall, cpu):
        med = sorted(wall)[len(wall) // 2]
        return {"model": model, "runtime": "pytorch", "device": "cpu", "seq_len": seq, "params": 10,
                "flops_per_example": 100, "latency_ms": {"p50": med}, "latency_cpu_ms": {"p50": sorted(cpu)[1]},
                "throughput": 1000.0 / med, "throughput_cpu": 1000.0 / sorted(cpu)[1], "batch_ms_rounds": wall}

    rows = [row("t", 128, [100.0, 120.0, 110.0], [90.0, 90.0, 90.0]), row("s", 128, [10.0, 10.0, 20.0], [9.0, 9.0, 9.0]),
            row("t", 256, [200.0, 200.0, 200.0], [180.0, 180.0, 180.0]), row("s", 256, [20.0, 20.0, 20.0], [18.0, 18.0, 18.0])]
    x = ratios(rows)
    assert [r["baseline"] for r in x] == ["t", "t", "t", "t"]
    assert x[1]["seq_len"] == 128 and x[1]["throughput_x"] == pytest.approx(11.0)
    assert x[1]["throughput_x_range"] == [pytest.approx(5.5), pytest.approx(12.0)]  # per-round pairs
    assert x[1]["cpu_throughput_x"] == pytest.approx(10.0)
    assert x[3]["throughput_x"] == pytest.approx(10.0) and x[2]["throughput_x"] == 1.0
