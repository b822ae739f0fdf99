"""Student efficiency benchmark: the teachers against every student preset, CPU (and GPU when present).

Measures, in one process and interleaved (``codekd.evaluation.bench.benchmark``):

* ``shape:unixcoder-base``: a random-weight RoBERTa of UniXcoder-base's exact shape (125.9M
  parameters: vocab 51416, 12 layers, hidden 768, 1026 positions, 10 token types), the speed
  baseline of every ratio (its accuracy is meaningless; only its cost is used);
* ``minilm``: the offline MiniLM teacher (pretrained encoder, new head);
* all eight student presets with random weights (cost does not depend on the weights), each in
  PyTorch fp32 and, exported by ``codekd.evaluation.export``, onnxruntime fp32 and int8.

Then writes the JSON results and ``benchmarks/RESULTS.md`` (table, machine, versions, command,
and whether the goal holds: every student of the 7M class or smaller reaches at least 20x the
UniXcoder-shape teacher's CPU throughput at batch 32).

    .venv/bin/python benchmarks/bench_students.py                       # CPU, 2 threads, seq 256
    .venv/bin/python benchmarks/bench_students.py --seq-len 512 --out benchmarks/results/students-512.json

On a shared machine, ``--wait-idle`` waits (up to that many seconds) for the 1-minute load average
to fall below ``--idle-load`` before measuring; the load averages at start and end are recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

GOAL_X = 20.0
GOAL_PARAMS = 7.5e6  # the 7M class: presets named up to "7m" (gru-7m has 7.10M parameters)


def wait_idle(max_seconds: float, threshold: float) -> dict:
    t0 = time.time()
    load = os.getloadavg()[0]
    while load > threshold and time.time() - t0 < max_seconds:
        time.sleep(10)
        load = os.getloadavg()[0]
    return {"waited_s": round(time.time() - t0, 1), "load_1min": load, "threshold": threshold,
            "idle": load <= threshold}


def _f(v, fmt=".1f", dash="-"):
    return dash if v is None else format(v, fmt)


def goal_rows(res: dict, device: str = "cpu") -> list[dict]:
    rows = [r for r in res["rows"] if r["device"] == device]
    base = next(r for r in rows if r["model"].startswith("unixcoder") and r["runtime"] == "pytorch")
    out = []
    for r in rows:
        if r["role"] != "student" or r["params"] > GOAL_PARAMS:
            continue
        x = r["throughput"] / base["throughput"]
        out.append({"model": r["model"], "runtime": r["runtime"], "params": r["params"], "x": x, "ok": x >= GOAL_X})
    return out


def markdown(res: dict, command: str, idle: dict | None, title: str | None = None) -> str:
    env = res["environment"]
    s = res["settings"]
    v = env["versions"]
    title = title or f"CPU, {s['threads']} threads, sequence length {s['seq_len']}"
    lines = [f"## Student efficiency: {title} (`benchmarks/bench_students.py`)", "",
             f"Measured {res['created']} in {res['seconds']:.0f} s.", "",
             "**Machine**: " + f"{env['cpu']}, {env['nproc']} CPUs (`nproc`), {env['ram_gb']} GiB RAM, "
             f"{env['platform']}; GPU: {env['gpu'] or 'none'}.", "",
             "**Versions**: " + ", ".join(f"{k} {v[k]}" for k in ("python", "torch", "transformers", "onnx",
                                                                   "onnxruntime", "numpy") if k in v) + ".", "",
             f"**Settings**: sequence length {s['seq_len']} (inputs padded/truncated to it; random token ids), "
             f"{s['threads']} CPU thread{'s' if s['threads'] != 1 else ''} (torch and onnxruntime), latency at batch {s['latency_batch']} "
             f"(p50/p95 over {s['latency_calls']} calls per round), throughput at batch {s['throughput_batch']} "
             f"(examples/s from the median batch time), {s['warmup']} warm-up calls at batch 1 and one at the throughput "
             f"batch (batch {s.get('heavy_warmup_batch', s['throughput_batch'])} for the heavy models), {s['repeats']} interleaved "
             f"rounds ({s['heavy_repeats']} for models of {s['heavy_params'] / 1e6:.0f}M parameters or more; "
             "the round order rotates).", "",
             "**Command**:", "", "```", command, "```", ""]
    if idle is not None:
        lines += [f"Load average (1, 5, 15 min) at start {[round(x, 2) for x in env.get('loadavg_start', [])]}, "
                  f"at end {[round(x, 2) for x in env.get('loadavg_end', [])]} (waited {idle['waited_s']} s for "
                  f"the 1-minute load to fall below {idle['threshold']}: "
                  f"{'reached' if idle['idle'] else 'not reached'}). Other processes shared this machine; the "
                  "models were measured interleaved in one process, so that load hits them all alike and the "
                  "ratios hold better than the absolute figures."
                  + (" With more than one thread per process on a loaded machine that is only partly true: "
                     "PyTorch's OpenMP threads stall on each other at every parallel region, which inflates the "
                     "cost of small models far more than that of the teacher (see README.md); the 1-thread "
                     "section is the fair comparison under load."
                     if s["threads"] > 1 and env.get("loadavg_start", [0])[0] > 1.0 else ""), ""]
    for device in dict.fromkeys(r["device"] for r in res["rows"]):
        rows = [r for r in res["rows"] if r["device"] == device]
        base = next((r for r in rows if r["model"].startswith("unixcoder") and r["runtime"] == "pytorch"), rows[0])
        mini = next((r for r in rows if r["model"] == "minilm" and r["runtime"] == "pytorch"), None)
        where = f"{env['cpu']}, {s['threads']} thread{'s' if s['threads'] != 1 else ''}" if device == "cpu" else env["gpu"]
        lines += [f"### {device} ({where}, sequence length {s['seq_len']})", "",
                  "| model | runtime | params | fp32 MB | fp16 MB | int8 MB | GFLOPs/ex | b1 p50 ms | b1 p95 ms | "
                  f"ex/s @{s['throughput_batch']} | x UniXcoder thr | x MiniLM thr | x UniXcoder b1 latency |",
                  "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in rows:
            sz = r["size_mb"]
            fp32 = sz.get("fp32", sz.get("onnx_fp32"))
            int8 = sz.get("int8", sz.get("onnx_int8"))
            onnx_row = r["runtime"] != "pytorch"
            lines.append(
                f"| {r['model']} | {r['runtime']} | {r['params'] / 1e6:.2f}M | "
                f"{_f(fp32)}{'†' if onnx_row and 'onnx_fp32' in sz else ''} | {_f(sz.get('fp16'))} | "
                f"{_f(int8)}{'†' if onnx_row and 'onnx_int8' in sz else ('‡' if 'analytic' in r['size_notes'].get('int8', '') else '')} | "
                f"{_f(r['gflops_per_example'], '.2f')} | {r['latency_ms']['p50']:.1f} | {r['latency_ms']['p95']:.1f} | "
                f"{r['throughput']:.1f} | {r['throughput'] / base['throughput']:.1f} | "
                f"{_f(None if mini is None else r['throughput'] / mini['throughput'])} | "
                f"{base['latency_ms']['p50'] / r['latency_ms']['p50']:.1f} |")
        twin = next((r for r in rows if r["model"] == "roberta-124m" and r["runtime"] == "pytorch"), None)
        if twin is not None and base["model"].startswith("unixcoder"):
            lines += ["", f"Noise gauge: roberta-124m has the UniXcoder shape's architecture and FLOPs (only the "
                      f"vocabulary, position and token-type tables differ), so its PyTorch figures should match the "
                      f"baseline's: throughput {twin['throughput']:.2f} vs {base['throughput']:.2f} ex/s "
                      f"({twin['throughput'] / base['throughput']:.2f}x), batch-1 p50 {twin['latency_ms']['p50']:.0f} vs "
                      f"{base['latency_ms']['p50']:.0f} ms. The further this is from 1.00x, the less the run's ratios "
                      "can be trusted."]
        lines += ["", "fp32 / fp16 MB: safetensors files written and measured. int8 MB: the int8 ONNX file (measured); "
                  "‡ = analytic (1 byte per parameter, no ONNX export of that model). † = size of that ONNX file. "
                  "FLOPs: analytic matmul FLOPs per example at this sequence length (multiply-add = 2).", ""]
        if device == "cpu":
            goal = goal_rows(res, device)
            lines += [f"### Goal ({s['threads']} thread{'s' if s['threads'] != 1 else ''}): students of the 7M class or smaller at >= {GOAL_X:.0f}x the "
                      f"UniXcoder-shape teacher's CPU throughput at batch {s['throughput_batch']} (teacher in PyTorch fp32)", "",
                      "| student | params | PyTorch fp32 | ONNX fp32 | ONNX int8 |", "|---|---:|---:|---:|---:|"]
            for name in dict.fromkeys(g["model"] for g in goal):
                cells = []
                for rt in ("pytorch", "onnxruntime fp32", "onnxruntime int8"):
                    g = next((g for g in goal if g["model"] == name and g["runtime"] == rt), None)
                    cells.append("-" if g is None else f"{g['x']:.1f}x {'yes' if g['ok'] else 'no'}")
                p = next(g["params"] for g in goal if g["model"] == name)
                lines.append(f"| {name} | {p / 1e6:.2f}M | " + " | ".join(cells) + " |")
            same = [g for g in goal if g["runtime"] == "pytorch"]
            best: dict[str, float] = {}
            for g in goal:
                best[g["model"]] = max(best.get(g["model"], 0.0), g["x"])
            lines += ["", f"Same runtime (PyTorch fp32 student vs PyTorch fp32 teacher): goal "
                      f"{'holds' if same and all(g['ok'] for g in same) else 'does NOT hold'} "
                      f"({sum(g['ok'] for g in same)}/{len(same)} students). Best deployment of each student "
                      f"(fastest of PyTorch / ONNX fp32 / ONNX int8) against the PyTorch teacher: "
                      f"{sum(x >= GOAL_X for x in best.values())}/{len(best)} students reach {GOAL_X:.0f}x.", ""]
    return "\n".join(lines) + "\n"


def write_section(md_path: Path, tag: str, text: str) -> None:
    """Put ``text`` between ``<!-- bench_students:TAG -->`` markers in the Markdown file, replacing the
    previous section of that tag and keeping everything else (other sections, hand-written notes)."""
    start, end = f"<!-- bench_students:{tag} -->", f"<!-- /bench_students:{tag} -->"
    block = f"{start}\n{text.rstrip()}\n{end}\n"
    old = md_path.read_text() if md_path.is_file() else "# Benchmark results\n\n"
    if start in old and end in old:
        new = old[:old.index(start)] + block + old[old.index(end) + len(end) + 1:]
    else:
        new = old.rstrip() + "\n\n" + block
    md_path.write_text(new)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--heavy-repeats", type=int, default=2)
    ap.add_argument("--heavy-params", type=float, default=20e6)
    ap.add_argument("--latency-calls", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--heavy-warmup-batch", type=int, default=8)
    ap.add_argument("--no-onnx", action="store_true", help="PyTorch rows only")
    ap.add_argument("--students", nargs="*", default=None, help="presets (default: all eight)")
    ap.add_argument("--no-minilm", action="store_true")
    ap.add_argument("--wait-idle", type=float, default=0.0, help="wait up to N s for an idle machine")
    ap.add_argument("--idle-load", type=float, default=1.0)
    ap.add_argument("--out", default="benchmarks/results/students-cpu.json")
    ap.add_argument("--md", default="benchmarks/RESULTS.md", help="Markdown report ('' to skip)")
    ap.add_argument("--tag", default=None, help="section name in the Markdown (default: cpu-<threads>t-seq<len>)")
    ap.add_argument("--title", default=None, help="section title")
    ap.add_argument("--from-json", default=None, help="only (re)write the Markdown section of a saved result")
    args = ap.parse_args(argv)
    if args.from_json:
        res = json.loads(Path(args.from_json).read_text())
        s = res["settings"]
        tag = args.tag or f"cpu-{s['threads']}t-seq{s['seq_len']}"
        write_section(Path(args.md), tag, markdown(res, res.get("command", "?"), res.get("idle"), args.title))
        print(f"wrote section {tag} of {args.md}")
        return 0

    from codekd.evaluation.bench import benchmark
    from codekd.models.students.presets import preset_names

    models = ["shape:unixcoder-base"] + ([] if args.no_minilm else ["minilm"]) + (args.students or preset_names())
    idle = wait_idle(args.wait_idle, args.idle_load) if args.wait_idle else None
    command = ".venv/bin/python " + " ".join(shlex.quote(a) for a in [sys.argv[0], *(argv if argv is not None else sys.argv[1:])])
    res = benchmark(models, seq_len=args.seq_len, threads=args.threads, repeats=args.repeats,
                    heavy_repeats=args.heavy_repeats, heavy_params=args.heavy_params,
                    latency_calls=args.latency_calls, warmup=args.warmup, throughput_batch=args.batch,
                    heavy_warmup_batch=args.heavy_warmup_batch,
                    onnx=not args.no_onnx, out=args.out,
                    progress=lambda m: print(f"[{time.strftime('%H:%M:%S')}] {m}", flush=True))
    res["command"] = command
    res["idle"] = idle
    Path(args.out).write_text(json.dumps(res, indent=2, default=str) + "\n")
    os.chmod(args.out, 0o644)
    if args.md:
        tag = args.tag or f"cpu-{args.threads}t-seq{args.seq_len}"
        write_section(Path(args.md), tag, markdown(res, command, idle, args.title))
        print(f"wrote section {tag} of {args.md}")
    for g in goal_rows(res):
        print(f"{g['model']:14s} {g['runtime']:18s} {g['x']:6.1f}x {'ok' if g['ok'] else 'below goal'}")
    print(f"wrote {args.out} ({res['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
