"""Teacher recipes on CPU, measured: which way of fine-tuning MiniLM beats TF-IDF in bounded time?

Three parts (any subset with --parts):

* ``padding``: the share of padded token slots in a training epoch, with random batches and with
  length-bucketed batches (the engine's bucketing), on the teacher's own tokenisation.
* ``speed``: seconds per optimizer step (forward + backward + AdamW) on real batches of the
  median length, for fp32 vs bf16 autocast, 1 vs 2 threads, torch.compile, and freezing the bottom
  k layers (replayed from the stored prefix, so only the top runs); variants interleaved and rotated
  over ``--rounds`` rounds; median and min-max of wall and process CPU seconds.
* ``curves``: learning curves: each recipe is fine-tuned through the real engine
  (``codekd.engine.runs.finetune_teacher``) with the same time budget (``--minutes``), validated
  every ``--eval-every`` steps (wall and CPU seconds logged); then its test top-1 with the best
  epoch. The TF-IDF + logistic-regression baseline is scored on the same split and input.

Usage::

    python benchmarks/bench_teacher.py --data runs/demo/data/exception --out benchmarks/results/teacher \
        --parts padding,speed,curves --minutes 12 --recipes full-bf16,freeze3-bf16

Results: ``<out>/bench_teacher.json`` (and the run folders of the curves). The figures quoted in
``benchmarks/RESULTS-teacher.md`` come from this script.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

RECIPES = {
    # name: (overrides for `teacher finetune`)
    "full-fp32": ["train.mixed_precision=no"],
    "full-bf16": ["train.mixed_precision=bf16"],
    "full-bf16-llrd": ["train.mixed_precision=bf16", "train.layer_lr_decay=0.8"],
    "freeze2-bf16": ["train.mixed_precision=bf16", "teacher.freeze_layers=2"],
    "freeze3-bf16": ["train.mixed_precision=bf16", "teacher.freeze_layers=3"],
    "freeze3-auto": ["train.mixed_precision=auto", "teacher.freeze_layers=3"],  # the demo's recipe
    "freeze4-bf16": ["train.mixed_precision=bf16", "teacher.freeze_layers=4"],
    "full-bf16-nobucket": ["train.mixed_precision=bf16", "train.bucket=false"],
    "full-bf16-quarter": ["train.mixed_precision=bf16", "fraction=0.25"],  # less data, more epochs
}


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def machine() -> dict:
    from codekd.engine.budget import cpu_flags, cpu_model

    import transformers

    flags = cpu_flags()
    return {"cpu": cpu_model(), "cores": torch.get_num_threads(), "python": platform.python_version(),
            "torch": torch.__version__, "transformers": transformers.__version__,
            "bf16_flags": sorted(f for f in ("amx_bf16", "avx512_bf16", "amx_tile") if f in flags)}


def load(data: str, normalization: str, max_length: int):
    from codekd.data.loaders import load_task_data
    from codekd.data.normalize import STRUCTURE_TOKENS, parse_normalization
    from codekd.models.teacher import Teacher
    from codekd.tasks import get_task

    td = load_task_data(data, get_task("exception"))
    t = Teacher.load("minilm", td.num_labels, max_length=max_length)
    if parse_normalization(normalization)[0] == "structure":
        t.add_tokens(STRUCTURE_TOKENS)
    return td, t


def part_padding(td, teacher, normalization: str, batch_size: int, max_length: int) -> dict:
    from codekd.data.normalize import normalize_code
    from codekd.engine.batching import code_lengths, epoch_batches

    split = td["train"]
    codes = [normalize_code(c[0], normalization) for c in split.codes()]
    ntok = np.array([len(x) for x in teacher.tokenizer(codes, truncation=True, max_length=max_length)["input_ids"]])
    lengths = code_lengths(split, normalization)
    out = {"examples": len(codes), "tokens_mean": float(ntok.mean()), "tokens_p50": float(np.median(ntok)),
           "tokens_p90": float(np.percentile(ntok, 90)), "at_max_length": float((ntok >= max_length).mean())}
    for bucket in (False, True):
        batches = epoch_batches(len(codes), batch_size, seed=42, epoch=0, lengths=lengths, bucket=bucket)
        slots = sum(len(b) * int(ntok[b].max()) for b in batches)
        out["padding_bucketed" if bucket else "padding_random"] = 1 - float(ntok.sum()) / slots
    out["padding_to_max_length"] = 1 - float(ntok.sum()) / (len(codes) * max_length)
    return out


def part_speed(td, normalization: str, batch_size: int, max_length: int, rounds: int) -> dict:
    """Seconds per optimizer step of each variant on the same real batches (median length)."""
    from codekd.data.normalize import normalize_code
    from codekd.engine.batching import code_lengths
    from codekd.engine.frozen import freeze_bottom, frozen_prefix_side
    from codekd.engine.sides import teacher_side

    split = td["train"]
    lengths = code_lengths(split, normalization)
    order = np.argsort(lengths)
    mid = len(order) // 2
    rows = order[mid - batch_size // 2: mid - batch_size // 2 + batch_size].tolist()
    codes = [tuple(normalize_code(c, normalization) for c in tup) for tup in split.codes(rows)]
    labels = torch.as_tensor(split.labels[rows])

    variants: dict[str, dict] = {}

    def make(name: str, *, bf16: bool, threads: int, freeze: int = 0, compile_: bool = False):
        _, t = load(ARGS.data, normalization, max_length)
        t.requires_grad_(True)
        if freeze:
            freeze_bottom(t, freeze)
            side, _ = frozen_prefix_side(t, freeze)
        else:
            side = teacher_side(t)
        t.train()
        enc = side.encode(codes)
        opt = torch.optim.AdamW([p for p in t.parameters() if p.requires_grad], lr=1e-5)
        fwd = side.forward
        if compile_:
            t.model = torch.compile(t.model)

        def step():
            torch.set_num_threads(threads)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                out = fwd(t, enc, False)
            loss = torch.nn.functional.cross_entropy(out.logits.float(), labels)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)

        variants[name] = {"step": step, "wall": [], "cpu": [], "threads": threads}

    make("fp32 2thr", bf16=False, threads=2)
    make("bf16 2thr", bf16=True, threads=2)
    make("fp32 1thr", bf16=False, threads=1)
    make("bf16 1thr", bf16=True, threads=1)
    make("bf16 2thr freeze2", bf16=True, threads=2, freeze=2)
    make("bf16 2thr freeze3", bf16=True, threads=2, freeze=3)
    make("bf16 2thr freeze4", bf16=True, threads=2, freeze=4)
    if ARGS.compile:
        make("bf16 2thr compile", bf16=True, threads=2, compile_=True)
    names = list(variants)
    for n in names:  # warm-up (and the frozen variants store their prefix here)
        t0 = time.perf_counter()
        variants[n]["step"]()
        variants[n]["first_s"] = time.perf_counter() - t0
    for r in range(rounds):
        order_ = names[r % len(names):] + names[: r % len(names)]
        for n in order_:
            w, c = time.perf_counter(), cpu_s()
            variants[n]["step"]()
            variants[n]["wall"].append(time.perf_counter() - w)
            variants[n]["cpu"].append(cpu_s() - c)
    torch.set_num_threads(2)
    ref = statistics.median(variants["fp32 2thr"]["wall"])
    ref_cpu = statistics.median(variants["fp32 2thr"]["cpu"])
    out = {}
    for n, v in variants.items():
        mw, mc = statistics.median(v["wall"]), statistics.median(v["cpu"])
        out[n] = {"wall_median_s": mw, "wall_min_s": min(v["wall"]), "wall_max_s": max(v["wall"]), "cpu_median_s": mc,
                  "first_step_s": v["first_s"], "speedup_wall": ref / mw, "speedup_cpu": ref_cpu / mc,
                  "examples_per_s": batch_size / mw}
    return {"batch_size": batch_size, "rounds": rounds, "variants": out,
            "batch_chars_max": int(max(len(c[0]) for c in codes))}


def part_curves(args) -> dict:
    from codekd.config import load_run_config
    from codekd.engine.runs import finetune_teacher
    from codekd.evaluation.baseline import tfidf_baseline

    out: dict = {}
    t0 = time.perf_counter()
    base = tfidf_baseline(args.data, "exception", normalization=args.normalization)
    out["baseline"] = {"valid": base["valid"]["accuracy"], "test": base["test"]["accuracy"],
                       "seconds": round(time.perf_counter() - t0, 1)}
    print(f"baseline valid {base['valid']['accuracy']:.4f} test {base['test']['accuracy']:.4f}", flush=True)
    for name in args.recipes.split(","):
        sets = ["train.batch_size=32", f"train.max_length={args.max_length}", f"train.lr={args.lr}",
                f"train.minutes={args.minutes}", "train.epochs=50", f"train.eval_every={args.eval_every}",
                f"train.eval_max_examples={args.valid_max}", "train.checkpoint_every=100000",
                *RECIPES[name], *args.set]
        fields = {"task": "exception", "data": args.data, "out": str(Path(args.out) / name),
                  "normalization": args.normalization, "teacher.path": "minilm", "kind": "finetune"}
        fr = [s for s in sets if s.startswith("fraction=")]
        sets = [s for s in sets if not s.startswith("fraction=")]
        if fr:
            fields["fraction"] = float(fr[0].split("=")[1])
        cfg = load_run_config(None, sets, **fields)
        w, c = time.perf_counter(), cpu_s()
        r = finetune_teacher(cfg, progress=False)
        log = [json.loads(x) for x in (Path(cfg.out) / "log.jsonl").read_text().splitlines()]
        curve = [{"step": e["step"], "examples": e.get("examples"), "train_s": e.get("train_s"),
                  "cpu_s": e.get("cpu_s"), "valid_top1": e["valid"]["accuracy"]} for e in log if e["event"] == "eval"]
        epochs = [{"epoch": e["epoch"], "valid_top1": e["valid"]["accuracy"], "seconds": e["seconds"]}
                  for e in log if e["event"] == "epoch"]
        out[name] = {"test_top1": r["test"]["accuracy"], "best_epoch": r["best_epoch"], "steps": r["global_steps"],
                     "wall_s": round(time.perf_counter() - w, 1), "cpu_s": round(cpu_s() - c, 1),
                     "precision": r.get("precision"), "frozen_prefix": r.get("frozen_prefix"),
                     "curve": curve, "epochs": epochs,
                     "gap_vs_baseline_points": round(100 * (r["test"]["accuracy"] - base["test"]["accuracy"]), 2)}
        print(name, json.dumps({k: v for k, v in out[name].items() if k not in ("curve",)}), flush=True)
        write(args, "curves", out)
    return out


RESULTS: dict = {}


def write(args, part, value) -> None:
    RESULTS[part] = value
    p = Path(args.out) / "bench_teacher.json"
    p.parent.mkdir(parents=True, exist_ok=True)
    old = json.loads(p.read_text()) if p.is_file() else {}
    old.update(RESULTS)
    old["machine"] = machine()
    tmp = p.with_suffix(".tmp")
    tmp.write_text(json.dumps(old, indent=2))
    tmp.replace(p)


def main(argv=None) -> None:
    global ARGS
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", default="benchmarks/results/teacher")
    ap.add_argument("--parts", default="padding,speed,curves")
    ap.add_argument("--normalization", default="structure:try=4")
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--compile", action="store_true", help="Also time torch.compile (slow to compile).")
    ap.add_argument("--recipes", default="full-bf16,freeze3-bf16")
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--valid-max", type=int, default=1000)
    ap.add_argument("--set", action="append", default=[], help="Extra overrides for every recipe.")
    ARGS = args = ap.parse_args(argv)
    from codekd.models.hf import quiet_transformers

    quiet_transformers()
    parts = args.parts.split(",")
    print(json.dumps(machine()), flush=True)
    if "padding" in parts or "speed" in parts:
        td, t = load(args.data, args.normalization, args.max_length)
    if "padding" in parts:
        pad = part_padding(td, t, args.normalization, args.batch_size, args.max_length)
        print("padding", json.dumps(pad), flush=True)
        write(args, "padding", pad)
    if "speed" in parts:
        sp = part_speed(td, args.normalization, args.batch_size, args.max_length, args.rounds)
        for n, v in sp["variants"].items():
            print(f"{n:24s} wall {v['wall_median_s']:.2f}s ({v['wall_min_s']:.2f}-{v['wall_max_s']:.2f}) "
                  f"cpu {v['cpu_median_s']:.2f}s  x{v['speedup_wall']:.2f} wall, x{v['speedup_cpu']:.2f} cpu; "
                  f"first {v['first_step_s']:.2f}s", flush=True)
        write(args, "speed", sp)
    if "curves" in parts:
        part_curves(args)


ARGS = None

if __name__ == "__main__":
    sys.exit(main())
