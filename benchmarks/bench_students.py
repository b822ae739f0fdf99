"""Student efficiency benchmark: the teacher against the students, every runtime, several lengths, one run.

Measures, in one process and interleaved (``codekd.evaluation.bench.benchmark``; every timing
records wall and process CPU time, the round order rotates, rows whose batch-time spread over the
rounds exceeds ``--unstable-spread`` are marked unstable):

* ``shape:unixcoder-base``: a random-weight RoBERTa of UniXcoder-base's exact shape (125.9M
  parameters), the speed baseline of every ratio (only its cost is used); measured over as many
  rounds as every other model (a teacher measured over fewer rounds overstated the ratios before);
* optionally ``minilm`` (``--minilm``);
* the students (default: the five of the 7M class and below), each in every runtime of
  ``--runtime`` (``torch,torch-bf16,onnx,onnx-int8``): PyTorch fp32 and under bf16 autocast, ONNX exports fused by onnxruntime's transformer
  optimizer (RoBERTa), int8 in the default scheme (``--int8-scheme``);
* at every length of ``--seq-len`` (``128,256,512``).

Then writes the JSON results and a section of ``benchmarks/RESULTS.md``: machine (``lscpu`` model
name), versions, the table per length with median and min-max, the speed-up from CPU time beside the
wall-clock one, and the goals of issue 17 at 256 tokens (best runtime >= 0.5x the FLOP ratio; ONNX
int8 >= 1.5x PyTorch fp32; gru-1.5m batch-1 latency speed-up >= 30x).

    taskset -c 1 .venv/bin/python benchmarks/bench_students.py --threads 1 --runtime torch,onnx,onnx-int8 \
        --seq-len 128,256,512
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

DEFAULT_STUDENTS = ["roberta-0.6m", "roberta-1.5m", "gru-1.5m", "roberta-7m", "gru-7m"]
GOAL_FLOP_SHARE = 0.5     # best runtime >= 0.5x the FLOP ratio
GOAL_INT8_X = 1.5         # ONNX int8 >= 1.5x PyTorch fp32 throughput
GOAL_GRU_B1 = ("gru-1.5m", 30.0)
GOAL_SEQ = 256
RT_NAMES = {"pytorch": "PyTorch fp32", "pytorch bf16": "PyTorch bf16", "onnxruntime fp32": "ONNX fp32",
            "onnxruntime int8": "ONNX int8"}


def lscpu_model() -> str:
    import subprocess

    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in out.splitlines():
            if line.strip().lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return "?"


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


def _x(ratio: dict | None, key: str = "throughput_x") -> str:
    if ratio is None:
        return "-"
    rng = ratio.get(key + "_range")
    return f"{ratio[key]:.1f}" + (f" ({rng[0]:.1f}-{rng[1]:.1f})" if rng else "")


def _index(res: dict) -> tuple[dict, dict]:
    rows = {(r["device"], r["seq_len"], r["model"], r["runtime"]): r for r in res["rows"]}
    ratios = {(r["device"], r.get("seq_len"), r["model"], r["runtime"]): r for r in res["ratios"]}
    return rows, ratios


def goals(res: dict, seq_len: int = GOAL_SEQ, device: str = "cpu") -> dict:
    """The issue's goals at ``seq_len`` (students only)."""
    rows, ratios = _index(res)
    students = list(dict.fromkeys(r["model"] for r in res["rows"] if r["role"] == "student" and r["seq_len"] == seq_len))
    out = {"seq_len": seq_len, "students": []}
    for name in students:
        # the goals compare like with like: bf16 rows run against the fp32 teacher, and AMX's bf16 peak is
        # several times its fp32 one, so a bf16 speed-up can exceed the FLOP ratio; they are reported apart
        per = {rt: ratios.get((device, seq_len, name, rt)) for rt in RT_NAMES if rt != "pytorch bf16"}
        per = {k: v for k, v in per.items() if v is not None}
        if not per:
            continue
        flops_x = next(iter(per.values()))["flops_x"]
        best_rt = max(per, key=lambda k: per[k]["throughput_x"])
        best = per[best_rt]["throughput_x"]
        best_b1_rt = max(per, key=lambda k: per[k]["latency_x"])
        torch_thr = rows.get((device, seq_len, name, "pytorch"))
        int8_thr = rows.get((device, seq_len, name, "onnxruntime int8"))
        int8_x = int8_thr["throughput"] / torch_thr["throughput"] if torch_thr and int8_thr else None
        int8_cpu_x = (int8_thr["throughput_cpu"] / torch_thr["throughput_cpu"]) if torch_thr and int8_thr else None
        bf16_thr = rows.get((device, seq_len, name, "pytorch bf16"))
        bf16_x = bf16_thr["throughput"] / torch_thr["throughput"] if torch_thr and bf16_thr else None
        out["students"].append({
            "model": name, "flops_x": flops_x, "best_runtime": best_rt, "best_x": best,
            "best_share_of_flops": (best / flops_x) if flops_x else None,
            "flop_goal": bool(flops_x and best >= GOAL_FLOP_SHARE * flops_x),
            "int8_vs_torch": int8_x, "int8_vs_torch_cpu": int8_cpu_x,
            "int8_goal": None if int8_x is None else bool(int8_x >= GOAL_INT8_X),
            "bf16_vs_torch": bf16_x,
            "best_b1_runtime": best_b1_rt, "best_b1_x": per[best_b1_rt]["latency_x"],
        })
    gru = next((g for g in out["students"] if g["model"] == GOAL_GRU_B1[0]), None)
    out["gru_b1_goal"] = None if gru is None else bool(gru["best_b1_x"] >= GOAL_GRU_B1[1])
    return out


def markdown(res: dict, command: str, idle: dict | None, title: str | None = None) -> str:
    env = res["environment"]
    s = res["settings"]
    v = env["versions"]
    seq_lens = s.get("seq_lens") or [s["seq_len"]]
    rows_by, ratios_by = _index(res)
    title = title or f"CPU, {s['threads']} thread{'s' if s['threads'] != 1 else ''}, sequence length {', '.join(map(str, seq_lens))}"
    lines = [f"## Student efficiency: {title} (`benchmarks/bench_students.py`)", "",
             f"Measured {res['created']} in {res['seconds']:.0f} s.", "",
             "**Machine**: " + f"{env.get('lscpu_model') or env['cpu']} (`lscpu` model name), {env['nproc']} CPUs (`nproc`), "
             f"{env.get('cpus_usable')} usable by the process (affinity), {env['ram_gb']} GiB RAM, {env['platform']}; "
             f"GPU: {env['gpu'] or 'none'}.", "",
             "**Versions**: " + ", ".join(f"{k} {v[k]}" for k in ("python", "torch", "transformers", "onnx",
                                                                   "onnxruntime", "numpy") if k in v) + ".", "",
             f"**Settings**: {s['threads']} CPU thread{'s' if s['threads'] != 1 else ''} (torch `set_num_threads`; "
             "onnxruntime intra-op threads = the same, inter-op 1, sequential, `ORT_ENABLE_ALL`); runtimes "
             f"{', '.join(s.get('runtimes', []))}; random token ids at a fixed length (cost does not depend on the "
             f"ids); latency at batch {s['latency_batch']} ({s['latency_calls']} calls per round), throughput at batch "
             f"{s['throughput_batch']} (one call per round); {s['repeats']} interleaved rounds for every model "
             f"(heavy models: {s['heavy_repeats']}), the order rotating each round; {s['warmup']} warm-up calls at "
             "batch 1 and one at the throughput batch. Every call timed in wall time and process CPU time. "
             f"Rows marked ! have a wall-time spread (max/min batch time over the rounds) above {s.get('unstable_spread')}x. "
             "ONNX: RoBERTa graphs fused by onnxruntime's transformer optimizer (attention, skip-LayerNorm, bias-GELU; "
             f"the export fails when nothing fuses), int8 scheme {s.get('int8_scheme') or 'qoperator-per-tensor (default)'}.", "",
             "**Command**:", "", "```", command, "```", ""]
    la, lb = env.get("loadavg_start", []), env.get("loadavg_end", [])
    lines += [f"Load average (1, 5, 15 min) at start {[round(x, 2) for x in la]}, at end {[round(x, 2) for x in lb]}."
              + ("" if idle is None else f" Waited {idle['waited_s']} s for the 1-minute load to fall below "
                 f"{idle['threshold']} ({'reached' if idle['idle'] else 'not reached'})."), ""]
    for n in seq_lens:
        rows = [r for r in res["rows"] if r["device"] == "cpu" and r["seq_len"] == n]
        if not rows:
            continue
        base = rows[0]
        lines += [f"### {n} tokens (ratios against {base['model']}, {RT_NAMES.get(base['runtime'], base['runtime'])})", "",
                  "| model | runtime | params | GFLOPs/ex | FLOP ratio | b1 p50 ms (min-max) | ex/s @"
                  f"{s['throughput_batch']} median (min-max) | x thr, wall (min-max) | x thr, CPU | x b1 latency | spread |",
                  "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in rows:
            x = ratios_by.get(("cpu", n, r["model"], r["runtime"]))
            lat = r["latency_ms"]
            lines.append(
                f"| {r['model']} | {RT_NAMES.get(r['runtime'], r['runtime'])} | {r['params'] / 1e6:.2f}M | "
                f"{_f(r['gflops_per_example'], '.2f')} | {_f(x and x['flops_x'])} | "
                f"{lat['p50']:.1f} ({lat['min']:.1f}-{lat.get('max', lat['p95']):.1f}) | "
                f"{r['throughput']:.1f} ({r['throughput_range'][0]:.1f}-{r['throughput_range'][1]:.1f}) | "
                f"{_x(x)} | {_f(x and x.get('cpu_throughput_x'))} | {_f(x and x['latency_x'])} | "
                f"{r['spread']:.2f}{' !' if r['unstable'] else ''} |")
        lines.append("")
    g = goals(res)
    if g["students"]:
        names = " / ".join(RT_NAMES.values())
        lines += [f"### Goals at {GOAL_SEQ} tokens (issue 17)", "",
                  "Speed-up over the teacher, throughput at batch 32, median (min-max of the per-round ratios):", "",
                  "| student | FLOP ratio | " + " | ".join(RT_NAMES.values()) + f" | CPU-time: {names} | "
                  f"batch-1 latency, {names} | best / FLOP ratio | int8 / PyTorch | bf16 / PyTorch |",
                  "|---|---:|" + "---:|" * len(RT_NAMES) + "---:|---:|---:|---:|---:|"]
        for st in g["students"]:
            per = {rt: ratios_by.get(("cpu", GOAL_SEQ, st["model"], rt)) for rt in RT_NAMES}
            lines.append(
                f"| {st['model']} | {_f(st['flops_x'])} | " + " | ".join(_x(per[rt]) for rt in RT_NAMES) + " | "
                + " / ".join(_f(per[rt] and per[rt].get("cpu_throughput_x")) for rt in RT_NAMES) + " | "
                + " / ".join(_f(per[rt] and per[rt]["latency_x"]) for rt in RT_NAMES) + " | "
                f"{_f(st['best_share_of_flops'], '.2f')} ({RT_NAMES[st['best_runtime']]}) {'yes' if st['flop_goal'] else 'no'} | "
                f"{_f(st['int8_vs_torch'], '.2f')} {'' if st['int8_goal'] is None else ('yes' if st['int8_goal'] else 'no')} | "
                f"{_f(st['bf16_vs_torch'], '.2f')} |")
        ok_f = sum(st["flop_goal"] for st in g["students"])
        ok_i = sum(bool(st["int8_goal"]) for st in g["students"])
        gru = next((st for st in g["students"] if st["model"] == GOAL_GRU_B1[0]), None)
        lines += ["", f"* best runtime >= {GOAL_FLOP_SHARE}x the FLOP ratio: {ok_f}/{len(g['students'])} students;",
                  f"* ONNX int8 >= {GOAL_INT8_X}x PyTorch fp32 throughput: {ok_i}/{len(g['students'])} students;"]
        bf = [st for st in g["students"] if st["bf16_vs_torch"] is not None]
        if bf:
            ok_b = sum(st["bf16_vs_torch"] >= GOAL_INT8_X for st in bf)
            lines.append(f"* (not a goal of the issue) PyTorch bf16 autocast >= {GOAL_INT8_X}x PyTorch fp32 throughput: "
                         f"{ok_b}/{len(bf)} students; the bf16 rows are left out of 'best' (their speed-up over "
                         "the fp32 teacher includes the CPU's higher bf16 peak, so it can exceed the FLOP ratio);")
        if gru is not None:
            lines.append(f"* {GOAL_GRU_B1[0]} batch-1 latency speed-up >= {GOAL_GRU_B1[1]:.0f}x in its best runtime: "
                         f"{gru['best_b1_x']:.1f}x ({RT_NAMES[gru['best_b1_runtime']]}) "
                         f"{'yes' if g['gru_b1_goal'] else 'no'}.")
        lines.append("")
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
    ap.add_argument("--seq-len", default="256", help="one or several lengths: 128,256,512")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runtime", default="torch,torch-bf16,onnx,onnx-int8", help="torch,torch-bf16,onnx,onnx-int8 (any subset)")
    ap.add_argument("--int8-scheme", default=None)
    ap.add_argument("--no-fuse", action="store_true")
    ap.add_argument("--repeats", type=int, default=4)
    ap.add_argument("--heavy-repeats", type=int, default=None, help="rounds of models >= --heavy-params (default: --repeats)")
    ap.add_argument("--heavy-params", type=float, default=20e6)
    ap.add_argument("--latency-calls", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--heavy-warmup-batch", type=int, default=8)
    ap.add_argument("--unstable-spread", type=float, default=1.3)
    ap.add_argument("--students", nargs="*", default=None, help=f"presets (default: {' '.join(DEFAULT_STUDENTS)})")
    ap.add_argument("--minilm", action="store_true", help="also the MiniLM teacher")
    ap.add_argument("--onnx-teachers", action="store_true", help="the teacher in the ONNX runtimes too")
    ap.add_argument("--wait-idle", type=float, default=0.0, help="wait up to N s for an idle machine")
    ap.add_argument("--idle-load", type=float, default=1.0)
    ap.add_argument("--out", default="benchmarks/results/students-cpu.json")
    ap.add_argument("--md", default="benchmarks/RESULTS.md", help="Markdown report ('' to skip)")
    ap.add_argument("--tag", default=None, help="section name in the Markdown (default: cpu-<threads>t)")
    ap.add_argument("--title", default=None, help="section title")
    ap.add_argument("--from-json", default=None, help="only (re)write the Markdown section of a saved result")
    args = ap.parse_args(argv)
    if args.from_json:
        res = json.loads(Path(args.from_json).read_text())
        tag = args.tag or f"cpu-{res['settings']['threads']}t"
        write_section(Path(args.md), tag, markdown(res, res.get("command", "?"), res.get("idle"), args.title))
        print(f"wrote section {tag} of {args.md}")
        return 0

    from codekd.evaluation.bench import benchmark

    models = ["shape:unixcoder-base"] + (["minilm"] if args.minilm else []) + (args.students or DEFAULT_STUDENTS)
    idle = wait_idle(args.wait_idle, args.idle_load) if args.wait_idle else None
    command = ".venv/bin/python " + " ".join(shlex.quote(a) for a in [sys.argv[0], *(argv if argv is not None else sys.argv[1:])])
    res = benchmark(models, seq_len=args.seq_len, threads=args.threads, repeats=args.repeats,
                    heavy_repeats=args.heavy_repeats, heavy_params=args.heavy_params,
                    latency_calls=args.latency_calls, warmup=args.warmup, throughput_batch=args.batch,
                    heavy_warmup_batch=args.heavy_warmup_batch, runtimes=args.runtime, fuse=not args.no_fuse,
                    int8_scheme=args.int8_scheme, onnx_teachers=args.onnx_teachers,
                    unstable_spread=args.unstable_spread, out=args.out,
                    progress=lambda m: print(f"[{time.strftime('%H:%M:%S')}] {m}", flush=True))
    res["command"] = command
    res["idle"] = idle
    res["environment"]["lscpu_model"] = lscpu_model()
    res["goals"] = goals(res)
    Path(args.out).write_text(json.dumps(res, indent=2, default=str) + "\n")
    os.chmod(args.out, 0o644)
    if args.md:
        tag = args.tag or f"cpu-{args.threads}t"
        write_section(Path(args.md), tag, markdown(res, command, idle, args.title))
        print(f"wrote section {tag} of {args.md}")
    for st in res["goals"]["students"]:
        print(f"{st['model']:14s} FLOPx {st['flops_x']:6.1f} best {st['best_x']:6.1f} ({st['best_runtime']}) "
              f"int8/torch {_f(st['int8_vs_torch'], '.2f')} b1 best {st['best_b1_x']:.1f}x")
    print(f"wrote {args.out} ({res['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
