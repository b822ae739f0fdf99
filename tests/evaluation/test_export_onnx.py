"""`codekd export --onnx [--int8]`: RoBERTa and GRU students and a teacher, parity, refusal, ONNX inference."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fixtures_models import single_thread, tiny_eval_runs  # noqa: F401  (single_thread: autouse)

from codekd.cli import main
from codekd.evaluation.evaluate import evaluate
from codekd.evaluation.export import ExportError, Thresholds, export_model
from codekd.evaluation.inference import load_inference, ort_session


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return tiny_eval_runs(tmp_path_factory)


@pytest.mark.parametrize("family", ["gru", "roberta"])
def test_student_export_parity_fp32_and_int8(runs, tmp_path, family):
    out = tmp_path / f"{family}-onnx"
    meta = export_model(runs[family], out=out, int8=True)
    assert meta["status"] == "ok" and meta["family"] == family
    assert meta["exporter"] == "legacy"  # BiGRU; RoBERTa: legacy + eager attention, then fused
    assert meta["fusion"]["applied"] == (family == "roberta")
    if family == "roberta":
        assert meta["fusion"]["fused"]["Attention"] == 2 and meta["int8"]["scheme"] == "qoperator-per-tensor"
    # dynamic axes checked at shapes other than the export example
    assert meta["verify"]["shapes"] == [[3, 29], [1, 11]] and meta["verify"]["max_abs_diff"] < 1e-4
    fp32, int8 = meta["parity"]["fp32"], meta["parity"]["int8"]
    assert fp32["examples"] == 12 and fp32["agreement"] == 1.0 and fp32["metric_diff"] == 0.0
    assert fp32["max_abs_logit_diff"] < 1e-4
    assert int8["agreement"] >= 0.95 and int8["metric_diff"] <= 0.02 and int8["max_abs_logit_diff"] < 0.05
    assert meta["sizes_bytes"]["int8"] < meta["sizes_bytes"]["fp32"]
    saved = json.loads((out / "export.json").read_text())
    assert saved["files"] == {"fp32": "model.onnx", "int8": "model.int8.onnx"}
    assert saved["labels"] == ["ValueError", "KeyError", "OSError"] and saved["max_length"] == 96
    assert (out / "tokenizer.json").is_file() and (out / "codekd_student.json").is_file()
    assert [i.name for i in ort_session(out / "model.onnx").get_inputs()] == ["input_ids", "attention_mask"]
    # the export evaluates (onnxruntime) to the run's own figures, and keeps the label names
    inf = load_inference(out)
    assert inf.runtime == "onnxruntime fp32" and inf.label_names == saved["labels"]
    r = evaluate(out / "model.onnx", write=False)
    run_metrics = json.loads((runs[family] / "metrics.json").read_text())["test"]
    assert r["metrics"] == pytest.approx(run_metrics, abs=1e-6)
    codes = [("def f(x):\n    try:\n        pass\n    except __HOLE__:\n        pass",)] * 3
    torch_logits = load_inference(runs[family]).logits(codes)
    assert np.allclose(load_inference(out, int8=False).logits(codes), torch_logits, atol=1e-4)


def test_teacher_export_with_token_types(runs, tmp_path):
    out = tmp_path / "teacher-onnx"
    meta = export_model(runs["teacher"], out=out, data=runs["data"], task="exception", max_examples=8)
    assert meta["kind"] == "teacher" and meta["family"] == "bert"
    assert meta["input_names"] == ["input_ids", "attention_mask", "token_type_ids"]
    assert meta["fusion"]["applied"] and meta["fusion"]["fused"]["Attention"] == 2  # encoder teachers fuse too
    assert meta["parity"]["fp32"]["agreement"] == 1.0 and meta["parity"]["fp32"]["examples"] == 8
    assert meta["teacher"]["num_labels"] == 3
    # the teacher's tokenisation is rebuilt from the export folder alone (no weights there)
    assert not (out / "model.safetensors").exists()
    inf = load_inference(out)
    codes = [("def g():\n    return 1",), ("x = 1",)]
    assert np.allclose(inf.logits(codes), load_inference(runs["teacher"], task="exception").logits(codes), atol=1e-4)


def test_parity_failure_is_refused(runs, tmp_path):
    out = tmp_path / "refused"
    with pytest.raises(ExportError, match="refused"):
        export_model(runs["gru"], out=out, thresholds=Thresholds(min_agreement=1.01))
    assert not (out / "model.onnx").exists()
    meta = json.loads((out / "export.json").read_text())
    assert meta["status"] == "refused" and meta["parity"]["fp32"]["agreement"] == 1.0 and meta["files"] == {}
    # int8 refused: fp32 kept, int8 removed, exit code 2 from the CLI
    assert main(["export", str(runs["gru"]), "--onnx", "--int8", "--out", str(out),
                 "--int8-max-metric-diff", "-1"]) == 2
    meta = json.loads((out / "export.json").read_text())
    assert meta["status"] == "int8_refused" and (out / "model.onnx").is_file() and not (out / "model.int8.onnx").exists()


def test_cli_export_needs_format_and_data(runs, tmp_path, capsys):
    assert main(["export", str(runs["gru"]), "--out", str(tmp_path / "x")]) == 2
    assert "--onnx" in capsys.readouterr().err
    assert main(["export", str(runs["teacher"]), "--onnx", "--out", str(tmp_path / "y")]) == 2
    assert "--data" in capsys.readouterr().err
    assert main(["export", str(runs["gru"]), "--onnx", "--out", str(tmp_path / "z")]) == 0
    assert "model.onnx" in capsys.readouterr().out
