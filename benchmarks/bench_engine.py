"""Engine benchmark: padding at the paper's 512 tokens, and where a live teacher's KD time goes.

Real training through the public API (``codekd.engine.runs.distill``, ``build_teacher_cache``) on
real data. Every configuration records the wall seconds and the process CPU seconds of the work
it times (the training loop of one epoch, or the whole cache build); configurations are
interleaved and their order rotates from round to round (A B, B A, ...); the report gives the
median and the min-max over the rounds, and the ratios are computed per round (paired) before
taking their median, so load that changes between rounds cancels.

Parts (``--parts``):

* ``padding``: at ``--max-length`` (default 512), dynamic padding with length-bucketed batches
  (codekd's default) against every batch padded to max length with unbucketed batches (the paper's
  way, ``train.pad_to_max_length`` + ``train.bucket=false``; the teacher padded too), for teacher
  caching (``--cache-examples`` training functions), KD from the cache, and FT.
* ``live``: one KD epoch with the live teacher against the same epoch from the cache and an FT
  epoch (the teacher's share of a live step is (live - cache) / live), with the teacher's weights in
  bf16 (``teacher.dtype``), and against the paper's way (both sides padded to max length, random
  batches: what the paper's scripts do).

    python benchmarks/bench_engine.py --data /path/to/pinned-exc --task exception --teacher runs/teacher \\
        --parts padding,live --examples 512 --cache-examples 512 --repeats 3 --threads 1
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _stats(xs: list[float]) -> dict:
    return {"median": round(statistics.median(xs), 3), "min": round(min(xs), 3), "max": round(max(xs), 3),
            "all": [round(x, 3) for x in xs]}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def length_profile(data: str, task: str, normalization: str, teacher: str, max_length: int, n: int) -> dict:
    """Teacher-token lengths of the first ``n`` training functions: what padding to max costs."""
    import numpy as np

    from codekd.data.loaders import load_task_data, normalized_codes
    from codekd.models.teacher import Teacher
    from codekd.tasks import get_task

    td = load_task_data(data, get_task(task), splits=("train",))
    t = Teacher.load(teacher, td.num_labels, max_length=max_length)
    split = td["train"]
    codes = normalized_codes(split, range(min(n, len(split))), normalization)
    lens = np.array([int(t.encode([c[0]])["attention_mask"].sum()) for c in codes])
    return {"examples": int(len(lens)), "max_length": int(t.max_length),
            "p50": int(np.percentile(lens, 50)), "p90": int(np.percentile(lens, 90)), "mean": round(float(lens.mean()), 1),
            "share_at_max": round(float((lens >= t.max_length).mean()), 3),
            "real_token_share_padded_to_max": round(float(lens.mean()) / t.max_length, 3)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--task", default="exception")
    ap.add_argument("--teacher", required=True, help="fine-tuned teacher folder or its run folder")
    ap.add_argument("--student", default="gru-1.5m")
    ap.add_argument("--parts", default="padding,live", help="padding, live (comma-separated)")
    ap.add_argument("--examples", type=int, default=512, help="training examples of the timed epoch")
    ap.add_argument("--cache-examples", type=int, default=512, help="training functions the timed cache build runs")
    ap.add_argument("--max-length", type=int, default=512)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--normalization", default="whitespace")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="benchmarks/results/engine.json")
    args = ap.parse_args(argv)
    parts = {p.strip() for p in args.parts.split(",") if p.strip()}

    import torch
    import transformers

    from codekd.config import load_run_config
    from codekd.data.loaders import load_task_data
    from codekd.engine.runs import distill
    from codekd.engine.teacher_cache import build_teacher_cache, resolve_teacher_dir
    from codekd.tasks import get_task
    from codekd.vocab import train_vocab

    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="codekd-bench-engine-"))
    tdir = resolve_teacher_dir(args.teacher) or Path(args.teacher)
    n_train = len(load_task_data(args.data, get_task(args.task), splits=("train",))["train"])
    # the timed epoch and the cache cover the same first functions of a seeded subsample
    frac = min(1.0, max(args.examples, args.cache_examples) / n_train)
    common = [f"train.max_length={args.max_length}", f"train.batch_size={args.batch_size}", "train.epochs=1",
              f"train.train_max_examples={args.examples}", "train.eval_max_examples=32",
              "train.checkpoint_every=100000", f"student.vocab={work / 'vocab'}", f"train.num_threads={args.threads}"]
    fields = {"task": args.task, "data": args.data, "normalization": args.normalization, "fraction": frac,
              "student.preset": args.student, "teacher.path": str(args.teacher)}
    train_vocab(args.data, args.task, 2000, work / "vocab", max_length=args.max_length, normalization=args.normalization)
    cache = work / "cache"
    build_teacher_cache(args.teacher, args.data, args.task, cache, splits=["train"], normalization=args.normalization,
                        max_length=args.max_length, progress=False, fraction=frac)

    dyn = ["train.bucket=true", "train.pad_to_max_length=false"]
    fixed = ["train.bucket=false", "train.pad_to_max_length=true"]
    train_cfgs: dict[str, list[str]] = {}
    if "padding" in parts:
        train_cfgs.update({
            "FT, dynamic + bucketing": ["method.name=ft", *dyn],
            f"FT, padded to {args.max_length}": ["method.name=ft", *fixed],
            "KD from the cache, dynamic + bucketing": ["method.name=kd", f"teacher.cache={cache}", *dyn],
            f"KD from the cache, padded to {args.max_length}": ["method.name=kd", f"teacher.cache={cache}", *fixed],
        })
    if "live" in parts:
        train_cfgs.update({
            "FT, dynamic + bucketing": ["method.name=ft", *dyn],
            "KD from the cache, dynamic + bucketing": ["method.name=kd", f"teacher.cache={cache}", *dyn],
            "KD, live teacher, dynamic + bucketing": ["method.name=kd", *dyn],
            "KD, live bf16 teacher, dynamic + bucketing": ["method.name=kd", "teacher.dtype=bfloat16", *dyn],
            f"KD, live teacher, padded to {args.max_length} (paper-style)": ["method.name=kd", *fixed],
        })
    cache_cfgs = {"cache build, dynamic + bucketing": {"bucket": True, "pad_to_max_length": False},
                  f"cache build, padded to {args.max_length}": {"bucket": False, "pad_to_max_length": True}} \
        if "padding" in parts else {}
    cache_frac = min(1.0, args.cache_examples / n_train)

    names = list(train_cfgs) + list(cache_cfgs)
    wall: dict[str, list[float]] = {k: [] for k in names}
    cpu: dict[str, list[float]] = {k: [] for k in names}
    seen: dict[str, int] = {}
    t_all = time.perf_counter()
    for r in range(args.repeats):
        order = names[r % len(names):] + names[:r % len(names)]  # rotate: every config leads once
        if r % 2:
            order = order[::-1]
        for name in order:
            if name in train_cfgs:
                out = work / f"run-{r}-{names.index(name)}"
                res = distill(load_run_config(None, common + train_cfgs[name], out=str(out), **fields),
                              progress=False, resume=False)
                ep = res["history"][0]
                w, c, n = ep["train_loop_seconds"], ep["train_loop_cpu_seconds"], ep["train_examples_seen"]
                shutil.rmtree(out, ignore_errors=True)
            else:
                out = work / f"cache-{r}-{names.index(name)}"
                c0, w0 = time.process_time(), time.perf_counter()
                meta = build_teacher_cache(args.teacher, args.data, args.task, out, splits=["train"],
                                           normalization=args.normalization, max_length=args.max_length,
                                           progress=False, fraction=cache_frac, **cache_cfgs[name])
                w, c, n = time.perf_counter() - w0, time.process_time() - c0, meta["splits"]["train"]
                shutil.rmtree(out, ignore_errors=True)
            wall[name].append(w)
            cpu[name].append(c)
            seen[name] = n
            print(f"[{r + 1}/{args.repeats}] {name}: {n} examples, {w:.1f} s wall, {c:.1f} s CPU", flush=True)

    def paired(a: str, b: str, d: dict[str, list[float]]) -> dict:
        return _stats([x / y for x, y in zip(d[a], d[b])])

    rows = [{"config": k, "examples": seen[k], "wall_s": _stats(wall[k]), "cpu_s": _stats(cpu[k]),
             "examples_per_s": round(seen[k] / statistics.median(wall[k]), 1)} for k in names]
    comparisons = []
    if "padding" in parts:
        for what in ("FT", "KD from the cache", "cache build"):
            a, b = f"{what}, padded to {args.max_length}", f"{what}, dynamic + bucketing"
            comparisons.append({"what": what, "padded / dynamic (wall)": paired(a, b, wall),
                                "padded / dynamic (CPU)": paired(a, b, cpu)})
    if "live" in parts:
        a, b, f = "KD, live teacher, dynamic + bucketing", "KD from the cache, dynamic + bucketing", "FT, dynamic + bucketing"
        comparisons.append({"what": "live KD", "live / cache (wall)": paired(a, b, wall),
                            "live / cache (CPU)": paired(a, b, cpu), "live / FT (CPU)": paired(a, f, cpu),
                            "teacher share of a live step (CPU)": _stats([1 - y / x for x, y in zip(cpu[a], cpu[b])])})
        paper = f"KD, live teacher, padded to {args.max_length} (paper-style)"
        for mine in (a, "KD, live bf16 teacher, dynamic + bucketing"):
            comparisons.append({"what": f"{mine} vs paper-style", "speed-up (wall)": paired(paper, mine, wall),
                                "speed-up (CPU)": paired(paper, mine, cpu)})
    env = {"processor": _cpu_model(), "cores": os.cpu_count(), "threads": args.threads,
           "python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__,
           "date": time.strftime("%Y-%m-%d %H:%M")}
    result = {"args": vars(args), "env": env, "teacher": str(tdir),
              "lengths": length_profile(args.data, args.task, args.normalization, str(tdir / "best")
                                        if (tdir / "best").is_dir() else str(tdir), args.max_length,
                                        args.cache_examples),
              "rows": rows, "comparisons": comparisons, "seconds": round(time.perf_counter() - t_all, 1)}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({"lengths": result["lengths"], "comparisons": comparisons}, indent=2))
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
