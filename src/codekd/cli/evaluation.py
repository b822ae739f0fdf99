"""`codekd evaluate`, `codekd bench`, `codekd export` and `codekd predict`: thin layers over
:mod:`codekd.evaluation` (evaluate, bench, export, predict).

Those four are imported in the commands: they load models, so they import torch and transformers
(seconds), which the CLI does not pay for at start-up or for ``--help``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, List, Optional

import typer
from rich.table import Table

from ..errors import ConfigError, OutputError
from ..evaluation.sarif import to_sarif
from ..io import atomic_write_text
from .common import console, print_json


def _pct(v: Any) -> str:
    return "-" if v is None else f"{100 * float(v):.2f}"


# ------------------------------------------------------------------------------------ evaluate

def _metrics_row(name: str, m: dict[str, Any], head: float, extra: dict[str, Any]) -> list[str]:
    ret = _pct(extra.get("retention")) + (" (teacher degenerate)" if extra.get("teacher_degenerate") else "")
    return [name, *(_pct(m.get(k)) for k in ("accuracy", "precision", "recall", "f1", "top3")),
            f"{m.get('ece', 0):.4f}", _pct(head), ret, _pct(extra.get("agreement"))]


def _print_evaluation(r: dict[str, Any]) -> None:
    t = Table("model", "acc", "P", "R", "F1", "top-3", "ECE", f"headline ({r['headline_metric']})", "retention",
              "agreement", title=f"{r['task']} · {r['split']} split · {r['examples']} examples")
    t.add_row(*_metrics_row(r["model"]["source"], r["metrics"], r["headline"], r))
    if "teacher" in r:
        tr = r["teacher"]
        t.add_row(*_metrics_row(f"teacher: {tr['model']['source']}", tr["metrics"], tr["headline"], {}))
    console.print(t)
    if "per_class" in r:
        pc = Table("class", "precision", "recall", "F1", "support", title="per class")
        for name, d in r["per_class"].items():
            pc.add_row(name, _pct(d.get("precision")), _pct(d.get("recall")), _pct(d.get("f1-score")),
                       str(d.get("support", "")))
        console.print(pc)
    for who in (r["model"], (r.get("teacher") or {}).get("model") or {}):
        if who.get("warning"):
            console.print(f"[yellow]warning[/]: {who['source']}: {who['warning']}")
    for line in r.get("warnings", []):
        console.print(line, markup=False, style="yellow")
    console.print(f"logits: {r['logits']}" + (f"; written to {r['written']}" if r.get("written") else ""))


def _print_aggregate(agg: dict[str, Any]) -> None:
    t = Table("metric", "mean", "std", title=f"{agg['task']} · {agg['split']} · mean ± std over {agg['n']} runs")
    for k in ("headline", "accuracy", "precision", "recall", "f1", "top3", "ece", "retention", "agreement",
              "teacher_headline"):
        if k in agg:
            scale = 1 if k == "ece" else 100
            fmt = ".4f" if k == "ece" else ".2f"
            t.add_row(k, f"{scale * agg[k]['mean']:{fmt}}", f"{scale * agg[k]['std']:{fmt}}")
    console.print(t)
    if agg.get("written"):
        console.print(f"aggregate written to {agg['written']}")


def evaluate_cmd(
    models: List[str] = typer.Argument(..., metavar="RUN_OR_MODEL...", help="Run folder(s), model folder(s), export folder(s) or alias."),
    data: Optional[Path] = typer.Option(None, "--data", "-d", help="Dataset folder (default: the run's)."),
    task: Optional[str] = typer.Option(None, "--task", "-t", help="Task name (default: the run's)."),
    split: str = typer.Option("test", help="Split to evaluate."),
    teacher: Optional[str] = typer.Option(None, "--teacher", help="Teacher (run, folder or alias): adds retention and agreement."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="JSON file or folder (default: evaluation.json in the run folder)."),
    aggregate: bool = typer.Option(True, "--aggregate/--no-aggregate", help="Mean ± std over several runs (seeds)."),
    normalization: Optional[str] = typer.Option(None, help="Override the run's normalisation (whitespace | structure | none, optionally :hole=N or :try=N)."),
    teacher_normalization: Optional[str] = typer.Option(None, help="Override the teacher's normalisation."),
    max_length: Optional[int] = typer.Option(None, help="Override the max tokens per example."),
    batch_size: int = typer.Option(64, help="Inference batch size."),
    device: Optional[str] = typer.Option(None, help="cpu, cuda, cuda:1 ... (default: cuda when present)."),
    recompute: bool = typer.Option(False, "--recompute", help="Do not reuse a run's test_logits.npy."),
    max_examples: Optional[int] = typer.Option(None, help="Only the first N examples (quick look)."),
    as_json: bool = typer.Option(False, "--json", help="Print the JSON result instead of tables."),
) -> None:
    """Accuracy, P/R/F1, top-3, ECE, headline metric and per-class report; with --teacher, retention and agreement."""
    from ..evaluation.evaluate import evaluate_many

    kwargs = dict(data=data, task=task, split=split, teacher=teacher, normalization=normalization,
                  teacher_normalization=teacher_normalization, batch_size=batch_size, max_length=max_length,
                  device=device, use_cached=not recompute, max_examples=max_examples)
    multi = len(models) > 1
    res = evaluate_many(models, aggregate_runs=aggregate, aggregate_out=out if multi else None,
                        on_result=None if as_json else _print_evaluation, out=None if multi else out, **kwargs)
    if as_json:
        print_json(res if len(models) > 1 else res["runs"][0])
    elif "aggregate" in res:
        _print_aggregate(res["aggregate"])


# ------------------------------------------------------------------------------------ bench

def _print_bench(res: dict[str, Any]) -> None:
    env = res["environment"]
    ratio = {(r["model"], r["runtime"], r["device"], r.get("seq_len")): r for r in res["ratios"]}
    for device, seq_len in dict.fromkeys((r["device"], r.get("seq_len")) for r in res["rows"]):
        rows = [r for r in res["rows"] if r["device"] == device and r.get("seq_len") == seq_len]
        where = f"{env['cpu']}, {rows[0]['threads']} threads" if device == "cpu" else f"{env['gpu']}"
        t = Table("model", "runtime", "params", "fp32 MB", "fp16 MB", "int8 MB", "GFLOPs/ex", "p50 ms", "p95 ms",
                  f"ex/s @{rows[0]['throughput_batch']}", "x thr (min-max)", "x thr CPU", "x lat", "x params",
                  title=f"{device} ({where}) · seq len {seq_len} · ratios vs {rows[0]['model']}")
        for r in rows:
            x = ratio[(r["model"], r["runtime"], r["device"], r.get("seq_len"))]
            sz = r["size_mb"]
            rng = x.get("throughput_x_range")
            t.add_row(r["model"], r["runtime"].replace("onnxruntime", "ort"), f"{r['params'] / 1e6:.2f}M",
                      f"{sz['fp32']:.1f}" if "fp32" in sz else (f"{sz['onnx_fp32']:.1f}*" if "onnx_fp32" in sz else "-"),
                      f"{sz['fp16']:.1f}" if "fp16" in sz else "-",
                      f"{sz['int8']:.1f}" if "int8" in sz else (f"{sz['onnx_int8']:.1f}*" if "onnx_int8" in sz else "-"),
                      "-" if r["gflops_per_example"] is None else f"{r['gflops_per_example']:.2f}",
                      f"{r['latency_ms']['p50']:.2f}", f"{r['latency_ms']['p95']:.2f}",
                      f"{r['throughput']:.1f}" + (" !" if r.get("unstable") else ""),
                      f"{x['throughput_x']:.1f}" + (f" ({rng[0]:.1f}-{rng[1]:.1f})" if rng else ""),
                      f"{x['cpu_throughput_x']:.1f}" if x.get("cpu_throughput_x") else "-",
                      f"{x['latency_x']:.1f}", f"{x['params_x']:.1f}")
        console.print(t)
    console.print("ort = onnxruntime. * ONNX file size. ! = unstable (wall-time spread over the rounds above "
                  f"{res['settings'].get('unstable_spread', '-')}x). x thr CPU: the ratio from process CPU time. "
                  "fp32/fp16 sizes are measured safetensors files; int8 of PyTorch rows is the int8 "
                  "ONNX file when exported, else 1 byte/parameter (see size_notes in the JSON).")
    v = env["versions"]
    console.print(f"torch {v.get('torch')} · transformers {v.get('transformers')} · onnxruntime {v.get('onnxruntime')} · "
                  f"load average {[round(x, 2) for x in env.get('loadavg_start', [])]} -> "
                  f"{[round(x, 2) for x in env.get('loadavg_end', [])]} · {res['seconds']} s"
                  + (f" · written to {res['written']}" if res.get("written") else ""))


def bench_cmd(
    models: List[str] = typer.Argument(..., metavar="MODEL...", help="Teacher first: presets (gru-7m), shape:unixcoder-base, run/model folders, minilm."),
    data: Optional[Path] = typer.Option(None, "--data", "-d", help="Dataset folder: real tokenised code as inputs (else random ids)."),
    task: Optional[str] = typer.Option(None, "--task", "-t", help="Task of --data."),
    seq_len: str = typer.Option("256", help="Fixed tokens per example (truncate / pad); several: 128,256,512."),
    threads: int = typer.Option(1, help="CPU threads (torch and onnxruntime), fixed for every model so that ratios "
                                "hold; 1 as in studies (on a busy 2-core machine 2 threads were 24-30x slower)."),
    repeats: int = typer.Option(5, help="Interleaved rounds per model."),
    heavy_repeats: Optional[int] = typer.Option(None, help="Rounds for models of --heavy-params or more (default: --repeats)."),
    heavy_params: float = typer.Option(20e6, help="Parameter count from which a model is 'heavy'."),
    latency_calls: int = typer.Option(10, help="Batch-1 calls per round (heavy models: a fifth, at least 2)."),
    warmup: int = typer.Option(2, help="Warm-up calls at batch 1 (plus one at the throughput batch)."),
    batch: int = typer.Option(32, "--batch", help="Throughput batch size."),
    heavy_warmup_batch: int = typer.Option(8, help="Warm-up batch of heavy models (instead of --batch)."),
    onnx: bool = typer.Option(False, "--onnx", help="Also export students to ONNX fp32 + int8 and time them in onnxruntime."),
    runtime: Optional[str] = typer.Option(None, "--runtime", help="Runtimes: torch,torch-bf16,onnx,onnx-int8 (any subset; --onnx = torch,onnx,onnx-int8). torch-bf16: the students under torch.autocast in bfloat16."),
    no_fuse: bool = typer.Option(False, "--no-fuse", help="ONNX rows without onnxruntime's transformer fusion."),
    int8_scheme: Optional[str] = typer.Option(None, help="int8 scheme of the onnx-int8 rows (default qoperator-per-tensor)."),
    unstable_spread: float = typer.Option(1.3, help="Mark rows whose max/min batch time over the rounds exceeds this."),
    onnx_teachers: bool = typer.Option(False, "--onnx-teachers", help="With --onnx: export the teachers too."),
    no_gpu: bool = typer.Option(False, "--no-gpu", help="Skip the GPU even when present."),
    num_labels: int = typer.Option(2, help="Classifier outputs of built models."),
    out: Path = typer.Option(Path("bench.json"), "--out", "-o", help="JSON results file."),
    as_json: bool = typer.Option(False, "--json", help="Print the JSON instead of tables."),
) -> None:
    """Parameters, size on disk, FLOPs, latency (batch 1 p50/p95) and throughput (batch 32), interleaved; ratios to the first model."""
    from ..evaluation.bench import benchmark

    res = benchmark(models, data=data, task=task, seq_len=seq_len, threads=threads, repeats=repeats,
                    heavy_repeats=heavy_repeats, heavy_params=heavy_params, latency_calls=latency_calls,
                    warmup=warmup, throughput_batch=batch, heavy_warmup_batch=heavy_warmup_batch, onnx=onnx,
                    onnx_teachers=onnx_teachers, runtimes=runtime, fuse=not no_fuse, int8_scheme=int8_scheme,
                    unstable_spread=unstable_spread, gpu=not no_gpu, num_labels=num_labels, out=out,
                    progress=None if as_json else (lambda m: console.print(f"[dim]{m}[/]")))
    if as_json:
        print_json(res)
    else:
        _print_bench(res)


# ------------------------------------------------------------------------------------ export

def export_cmd(
    model: str = typer.Argument(..., metavar="MODEL", help="Run folder or student / teacher folder."),
    onnx: bool = typer.Option(False, "--onnx", help="Export to ONNX (the format codekd exports)."),
    int8: bool = typer.Option(False, "--int8", help="Also write a dynamically quantised int8 model."),
    data: Optional[Path] = typer.Option(None, "--data", "-d", help="Dataset for the parity check (default: the run's)."),
    task: Optional[str] = typer.Option(None, "--task", "-t", help="Task (default: the run's)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Export folder (default: RUN/onnx or MODEL-onnx)."),
    split: str = typer.Option("test", help="Split of the parity check."),
    exporter: str = typer.Option("auto", help="auto (dynamo; legacy for BiGRU) | dynamo | legacy."),
    opset: int = typer.Option(18, help="ONNX opset (legacy exporter: at most 17)."),
    min_agreement: float = typer.Option(0.99, help="fp32: minimum prediction agreement with PyTorch."),
    max_metric_diff: float = typer.Option(0.01, help="fp32: maximum |headline metric difference| (fraction)."),
    int8_min_agreement: float = typer.Option(0.95, help="int8: minimum prediction agreement."),
    int8_max_metric_diff: float = typer.Option(0.02, help="int8: maximum |headline metric difference|."),
    normalization: Optional[str] = typer.Option(None, help="Override the run's normalisation."),
    max_length: Optional[int] = typer.Option(None, help="Override the max tokens per example."),
    batch_size: int = typer.Option(32, help="Batch size of the parity check."),
    max_examples: Optional[int] = typer.Option(None, help="Parity on the first N examples only."),
    threads: Optional[int] = typer.Option(None, help="onnxruntime threads for the parity check."),
    no_fuse: bool = typer.Option(False, "--no-fuse", help="Skip onnxruntime's transformer fusion of BERT/RoBERTa graphs."),
    int8_scheme: Optional[str] = typer.Option(None, help="int8 scheme: qoperator-per-tensor (default), "
                                              "qoperator-per-channel, qdq-per-tensor, qdq-per-channel."),
    as_json: bool = typer.Option(False, "--json", help="Print export.json."),
) -> None:
    """Export to ONNX (+ int8), fuse BERT/RoBERTa graphs (checked), verify dynamic shapes, and refuse the export when parity on test data fails."""
    from ..evaluation.export import Thresholds, export_model

    if not onnx:
        raise ConfigError("choose the export format: --onnx")
    meta = export_model(model, out=out, data=data, task=task, int8=int8, split=split, normalization=normalization,
                        max_length=max_length, exporter=exporter, opset=opset,
                        thresholds=Thresholds(min_agreement, max_metric_diff, int8_min_agreement, int8_max_metric_diff),
                        batch_size=batch_size, max_examples=max_examples, threads=threads, fuse=not no_fuse,
                        int8_scheme=int8_scheme)
    if as_json:
        print_json(meta)
        return
    t = Table("file", "MB", "agreement", f"{meta['task']} PyTorch", "ONNX", "|diff|", "max |logit diff|",
              title=f"export of {meta['source']} ({meta['kind']}, {meta['family']}, exporter {meta['exporter']})")
    for prec, fname in meta["files"].items():
        p = meta["parity"][prec]
        t.add_row(fname, f"{meta['sizes_bytes'][prec] / 1e6:.2f}", f"{100 * p['agreement']:.2f}%",
                  _pct(p["headline_pytorch"]), _pct(p["headline_onnx"]), f"{100 * p['metric_diff']:.2f}",
                  f"{p['max_abs_logit_diff']:.2e}")
    console.print(t)
    fusion = meta.get("fusion") or {}
    console.print("fusion: " + (", ".join(f"{k} {v}" for k, v in fusion.get("fused", {}).items())
                                + f" ({fusion.get('nodes_before')} -> {fusion.get('nodes_after')} nodes)"
                                if fusion.get("applied") else f"none ({fusion.get('reason', '-')})"))
    console.print(f"dynamic shapes verified at {meta['verify']['shapes']} (max |diff| {meta['verify']['max_abs_diff']:.1e}); "
                  f"parity on {meta['split']} ({meta['parity']['fp32']['examples']} examples); folder: {meta['folder']}")


# ------------------------------------------------------------------------------------ predict

PREDICT_FORMATS = ("jsonl", "sarif", "table")


def predict_cmd(
    model: str = typer.Argument(..., metavar="MODEL", help="Run, model or export folder, or an exported .onnx file."),
    target: Optional[Path] = typer.Argument(None, metavar="FILE_OR_DIR", help="Source file or folder (not with --pairs)."),
    task: Optional[str] = typer.Option(None, "--task", "-t", help="Task (default: the model's)."),
    pattern: List[str] = typer.Option([], "--pattern", "-p", help="File glob(s), e.g. '*.c' (default: by task)."),
    unit: str = typer.Option("function", help="function (per function) | file (whole file)."),
    fmt: str = typer.Option("jsonl", "--format", "-f", help="jsonl (one prediction or finding a line) | sarif (SARIF 2.1.0, "
                            "for GitHub code scanning and IDE viewers) | table."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write the output to this file (default: standard output)."),
    lint: bool = typer.Option(False, "--lint", help="Exception models: mask every 'except Name:' clause and report where the "
                              "model is confident (--threshold) that another type is caught there, with the top-3 types."),
    threshold: float = typer.Option(0.8, help="--lint: least probability of the model's type for a finding."),
    pairs: Optional[Path] = typer.Option(None, "--pairs", help="Pair tasks (clone): JSON lines of func1/func2 code or "
                                         "file1/file2 paths (relative to the file); instead of FILE_OR_DIR."),
    int8: bool = typer.Option(False, "--int8", help="Use the int8 model of an export folder."),
    batch_size: int = typer.Option(32),
    top_k: int = typer.Option(3, help="Most likely labels kept per prediction."),
    limit: Optional[int] = typer.Option(None, help="--format table: print at most N rows."),
    device: Optional[str] = typer.Option(None, help="cpu, cuda ... (PyTorch models)."),
    as_json: bool = typer.Option(False, "--json", help="Print the whole result as one JSON document."),
) -> None:
    """Run a saved or exported model over source files: one prediction per function (or file), or
    with --lint one finding per suspicious except clause; JSON lines, SARIF 2.1.0 or a table.

    Pair models (clone detection) read their pairs with --pairs FILE. Files that do not parse are
    skipped and named on standard error (and in SARIF as notifications)."""
    from ..evaluation.predict import lint as run_lint
    from ..evaluation.predict import predict, predict_pairs

    if fmt not in PREDICT_FORMATS:
        raise ConfigError(f"unknown --format {fmt!r} (expected one of {', '.join(PREDICT_FORMATS)})")
    if pairs is not None:
        if target is not None:
            raise ConfigError("give either FILE_OR_DIR or --pairs FILE, not both")
        if lint:
            raise ConfigError("--lint checks except clauses in a folder; it does not take --pairs")
        if fmt == "sarif":
            raise ConfigError("--format sarif needs source locations; predictions of --pairs are written as jsonl or table")
        res = predict_pairs(model, pairs, task=task, batch_size=batch_size, int8=int8, top_k=top_k, device=device)
        rows = res["predictions"]
    elif target is None:
        raise ConfigError("give the FILE_OR_DIR to scan (or --pairs FILE for a pair-task model)")
    elif lint:
        if unit != "function":
            raise ConfigError("--lint checks except clauses in functions; --unit file does not apply")
        res = run_lint(model, target, threshold=threshold, task=task, patterns=pattern or None, batch_size=batch_size,
                       int8=int8, top_k=top_k, device=device)
        rows = res["findings"]
    else:
        res = predict(model, target, task=task, unit=unit, patterns=pattern or None, batch_size=batch_size,
                      int8=int8, top_k=top_k, device=device)
        rows = res["predictions"]
    for s in res.get("skipped", []):
        _note(f"skipped {s['file']}: {s['reason']}")
    if as_json:
        text = json.dumps(res, default=str, indent=2) + "\n"
    elif fmt == "jsonl":
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    elif fmt == "sarif":
        text = json.dumps(to_sarif(res, target), indent=2, ensure_ascii=False) + "\n"
    else:
        text = None
    if not lint and not as_json and fmt != "table":
        _note(f"{len(rows)} predictions" + (f" of {len(rows)} pairs" if pairs is not None else f" in {res['files']} files"))
    if lint and not as_json:
        nil = res["not_in_labels_total"]
        _note(f"{len(rows)} findings at threshold {res['threshold']} in {res['checked']} of {res['clauses']} "
                          f"except clauses ({res['files']} files)" + (f"; {nil} clauses catch a type the model has no "
                          "label for" if nil else ""))
    if text is not None:
        if out is not None:
            _check_replaceable(out)
            atomic_write_text(out, text)
            _note(f"wrote {len(rows)} {'findings' if lint else 'predictions'} to {out}")
        else:
            sys.stdout.write(text)
            sys.stdout.flush()
        return
    _print_predict_table(res, rows, lint, limit)


def _is_predict_output(text: str) -> bool:
    """Whether ``text`` is what ``codekd predict`` writes (JSON lines, SARIF or --json)."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        doc = None
    if isinstance(doc, dict):
        if "runs" in doc:
            try:
                return doc["runs"][0]["tool"]["driver"]["name"] == "codekd"
            except (KeyError, IndexError, TypeError):
                return False
        return "model" in doc and any(k in doc for k in ("predictions", "findings"))
    try:
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError:
        return False
    return all(isinstance(r, dict) and ("label" in r or "expected" in r) for r in rows)


def _check_replaceable(out: Path) -> None:
    """codekd never replaces a file of yours: an existing --out must be an earlier predict output."""
    if not out.is_file() or out.stat().st_size == 0:
        return
    if out.stat().st_size > 512_000_000:
        raise OutputError("exists and is too large to be checked as an earlier predict output; codekd never "
                          "replaces a file of yours", path=out)
    try:
        text = out.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        text = None
    if text is None or not _is_predict_output(text):
        raise OutputError("exists and is not an earlier 'codekd predict' output; codekd never replaces a file of "
                          "yours (choose another --out)", path=out)


def _note(line: str) -> None:
    """One unwrapped line on standard error (standard output carries the JSON lines or SARIF)."""
    sys.stderr.write(line + "\n")


def _print_predict_table(res: dict[str, Any], rows: list[dict[str, Any]], lint: bool, limit: Optional[int]) -> None:
    if "pairs" in res:
        t = Table("pair", "file1", "file2", "prediction", "prob",
                  title=f"{res['model']} ({res['runtime']}) · {len(rows)} pairs")
        for p in rows[: limit if limit is not None else None]:
            t.add_row(str(p["id"]), p["file1"] or "-", p["file2"] or "-", p["label"], f"{p['probability']:.3f}")
    elif lint:
        t = Table("location", "function", "caught", "model expects", "prob", "top-3",
                  title=f"{res['model']} ({res['runtime']}) · {len(rows)} findings in {res['checked']} clauses")
        for f in rows[: limit if limit is not None else None]:
            t.add_row(f"{f['file']}:{f['line']}", f["function"], f["caught"], f["expected"], f"{f['probability']:.3f}",
                      ", ".join(f"{x['label']} {x['probability']:.2f}" for x in f["top"]))
    else:
        exc = res["task"] == "exception"
        cols = ["location", "function", "prediction", "prob"] + (["actual"] if exc else [])
        t = Table(*cols, title=f"{res['model']} ({res['runtime']}) · {len(rows)} predictions in {res['files']} files")
        for p in rows[: limit if limit is not None else None]:
            row = [f"{p['file']}:{p['line']}", p["function"], p["label"], f"{p['probability']:.3f}"]
            if exc:
                row.append(p.get("actual") or "-")
            t.add_row(*row)
    console.print(t)
