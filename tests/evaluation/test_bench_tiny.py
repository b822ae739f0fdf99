"""`codekd bench` on tiny models: every field written, interleaved rounds, ONNX rows, ratios."""

from __future__ import annotations

import json

import pytest
from fixtures_models import single_thread, tiny_eval_runs  # noqa: F401  (single_thread: autouse)

from codekd.cli import main
from codekd.errors import CodekdError
from codekd.evaluation.bench import benchmark, model_flops, ratios


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return tiny_eval_runs(tmp_path_factory)


def test_bench_writes_every_field(runs, tmp_path):
    out = tmp_path / "bench.json"
    res = benchmark([str(runs["teacher"]), "roberta-0.6m", str(runs["gru"])], data=runs["data"], task="exception",
                    seq_len=32, threads=1, repeats=2, latency_calls=2, warmup=1, throughput_batch=4, onnx=True,
                    out=out)
    assert res["written"] == str(out)
    saved = json.loads(out.read_text())
    env = saved["environment"]
    assert env["threads"] == 1 and env["torch_threads"] == 1 and env["cpu"] and env["nproc"]
    assert {"torch", "transformers", "onnxruntime"} <= set(env["versions"])
    assert saved["settings"]["interleaved"] and saved["settings"]["seq_len"] == 32
    rows = saved["rows"]
    # teacher (PyTorch only) + two students x (PyTorch, ONNX fp32, ONNX int8)
    assert [(r["model"], r["runtime"]) for r in rows] == [
        ("teacher", "pytorch"), ("roberta-0.6m", "pytorch"), ("roberta-0.6m", "onnxruntime fp32"),
        ("roberta-0.6m", "onnxruntime int8"), ("run_gru", "pytorch"), ("run_gru", "onnxruntime fp32"),
        ("run_gru", "onnxruntime int8")]
    for r in rows:
        assert r["device"] == "cpu" and r["threads"] == 1 and r["seq_len"] == 32 and r["versions"]["torch"]
        assert r["params"] > 0 and r["flops_per_example"] > 0
        assert r["latency_ms"]["n"] == 4 and 0 < r["latency_ms"]["p50"] <= r["latency_ms"]["p95"]
        assert r["batch_ms"]["n"] == 2 and r["throughput"] > 0 and r["throughput_batch"] == 4
        assert r["size_mb"] and all(v > 0 for v in r["size_mb"].values())
    t, s = rows[0], rows[1]
    assert t["role"] == "teacher" and s["role"] == "student"
    assert t["inputs"] == "tokenised code" and s["inputs"] == "random ids"  # a preset has no trained vocabulary
    assert set(s["size_mb"]) == {"fp32", "fp16", "int8"} and s["size_notes"]["int8"].startswith("measured")
    assert t["size_notes"]["int8"].startswith("analytic")
    assert s["size_mb"]["fp16"] < s["size_mb"]["fp32"] and rows[3]["size_mb"]["onnx_int8"] == s["size_mb"]["int8"]
    assert s["params"] == 563_138  # the SPEC table's roberta-0.6m with 2 labels
    x = saved["ratios"]
    assert x[0]["throughput_x"] == 1.0 and x[0]["params_x"] == 1.0
    assert x[1]["params_x"] == pytest.approx(t["params"] / s["params"])


def test_ratios_and_flops_helpers():
    rows = [{"model": "t", "runtime": "pytorch", "device": "cpu", "throughput": 10.0, "latency_ms": {"p50": 8.0},
             "params": 100, "flops_per_example": 1000},
            {"model": "s", "runtime": "pytorch", "device": "cpu", "throughput": 250.0, "latency_ms": {"p50": 2.0},
             "params": 5, "flops_per_example": 10}]
    x = ratios(rows)
    assert x[1] == {"model": "s", "runtime": "pytorch", "device": "cpu", "baseline": "t", "throughput_x": 25.0,
                    "latency_x": 4.0, "params_x": 20.0, "flops_x": 100.0}
    from codekd.models.students.presets import build_student
    from codekd.models.students.sizing import flops_per_example

    assert model_flops(build_student("gru-1.5m", 2), 64, 2) == flops_per_example("gru-1.5m", 64, 2)


def test_cli_bench_and_errors(tmp_path, capsys):
    out = tmp_path / "b.json"
    assert main(["bench", "roberta-0.6m", "gru-1.5m", "--seq-len", "16", "--threads", "1", "--repeats", "1",
                 "--latency-calls", "2", "--warmup", "1", "--batch", "2", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "ratios vs roberta-0.6m" in text and "gru-1.5m" in text
    assert len(json.loads(out.read_text())["rows"]) == 2
    with pytest.raises(CodekdError, match="position limit"):
        benchmark(["roberta-0.6m"], seq_len=4096, threads=1)
    with pytest.raises(CodekdError):
        benchmark(["shape:no-such-teacher"], seq_len=16, threads=1)


def test_bench_runtime_matrix_seq_lens_and_cpu_time(tmp_path):
    res = benchmark(["roberta-0.6m", "gru-1.5m"], seq_len="16,24", threads=1, repeats=2, latency_calls=2, warmup=1,
                    throughput_batch=2, runtimes="torch,onnx-int8", unstable_spread=1e9)
    rows = res["rows"]
    assert res["settings"]["seq_lens"] == [16, 24] and res["settings"]["runtimes"] == ["torch", "onnx-int8"]
    assert [(r["seq_len"], r["model"], r["runtime"]) for r in rows] == [
        (n, m, rt) for n in (16, 24) for m in ("roberta-0.6m", "gru-1.5m") for rt in ("pytorch", "onnxruntime int8")]
    for r in rows:
        assert r["batch_cpu_ms"]["n"] == 2 and r["latency_cpu_ms"]["n"] == 4 and r["throughput_cpu"] > 0
        assert len(r["batch_ms_rounds"]) == 2 and r["throughput_range"][0] <= r["throughput"] <= r["throughput_range"][1]
        assert r["spread"] >= 1.0 and r["unstable"] is False
    assert rows[0]["flops_per_example"] < rows[4]["flops_per_example"]  # FLOPs at each length
    onnx = rows[1]["info"]
    assert onnx["fusion"]["applied"] and onnx["int8"]["scheme"] == "qoperator-per-tensor"
    assert onnx["session"]["intra_op_num_threads"] == 1 and onnx["session"]["inter_op_num_threads"] == 1
    assert rows[3]["info"]["fusion"]["applied"] is False  # BiGRU
    x = [r for r in res["ratios"] if r["seq_len"] == 24]
    assert x[0]["throughput_x"] == 1.0 and x[0]["baseline"] == "roberta-0.6m" and "cpu_throughput_x" in x[1]
    # every row unstable with a threshold below 1
    res = benchmark(["roberta-0.6m"], seq_len=16, threads=1, repeats=2, latency_calls=1, warmup=1, throughput_batch=2,
                    unstable_spread=0.5)
    assert res["rows"][0]["unstable"] is True


def test_bench_torch_bf16_rows_run_the_same_module_under_autocast(monkeypatch):
    """torch-bf16: a row per student, beside the fp32 one, whose forward really runs in bfloat16 (a hook on
    a linear layer sees both dtypes); the teacher (first model) gets no bf16 row."""
    import torch

    from codekd.evaluation import bench as bench_mod

    seen: list[torch.dtype] = []
    real = bench_mod.load_bench_model

    def hooked(spec, **kw):
        bm = real(spec, **kw)
        if bm.role == "student":
            lin = next(m for m in bm.module.modules() if isinstance(m, torch.nn.Linear))
            lin.register_forward_hook(lambda _m, _i, out: seen.append(out.dtype))
        return bm

    monkeypatch.setattr(bench_mod, "load_bench_model", hooked)
    res = benchmark(["shape:minilm", "roberta-0.6m"], seq_len=16, threads=1, repeats=1, latency_calls=1, warmup=1,
                    throughput_batch=2, runtimes="torch-bf16,torch", unstable_spread=1e9)
    assert res["settings"]["runtimes"] == ["torch", "torch-bf16"]
    assert [(r["model"], r["runtime"]) for r in res["rows"]] == [
        ("minilm-shape (random)", "pytorch"), ("roberta-0.6m", "pytorch"), ("roberta-0.6m", "pytorch bf16")]
    assert res["rows"][2]["info"]["autocast"] == "bfloat16"
    assert torch.float32 in seen and torch.bfloat16 in seen
