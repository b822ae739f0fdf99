"""Engine benchmark: what a KD epoch costs with a live teacher vs a teacher-output cache, against an
FT epoch, and dynamic padding vs padding every batch to the maximum length.

Runs real training through the public API (``codekd.engine.runs.distill``) on real data, one epoch
over the first ``--examples`` training examples, and reads the training-loop time of that epoch
from the run's metrics (validation excluded). Each configuration is run ``--repeats`` times,
interleaved, and the median is reported.

    python benchmarks/bench_engine.py --data data/exception --teacher runs/teacher-minilm \
        --examples 1024 --max-length 256 --out benchmarks/results/engine.json
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--task", default="exception")
    ap.add_argument("--teacher", required=True, help="fine-tuned teacher folder or its run folder")
    ap.add_argument("--student", default="gru-1.5m")
    ap.add_argument("--examples", type=int, default=1024)
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--normalization", default="whitespace")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", default="benchmarks/results/engine.json")
    args = ap.parse_args(argv)

    import torch
    import transformers

    from codekd.config import load_run_config
    from codekd.engine.runs import distill
    from codekd.engine.teacher_cache import build_teacher_cache

    if args.threads:
        torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="codekd-bench-engine-"))
    common = [f"train.max_length={args.max_length}", f"train.batch_size={args.batch_size}", "train.epochs=1",
              f"train.train_max_examples={args.examples}", "train.eval_max_examples=32", "train.checkpoint_every=100000",
              f"student.vocab={work / 'vocab'}"]
    fields = {"task": args.task, "data": args.data, "normalization": args.normalization,
              "student.preset": args.student, "teacher.path": args.teacher}

    # one shared student vocabulary, so every configuration tokenises identically
    from codekd.vocab import train_vocab

    train_vocab(args.data, args.task, 2000, work / "vocab", max_length=args.max_length, normalization=args.normalization)
    t0 = time.perf_counter()
    build_teacher_cache(args.teacher, args.data, args.task, work / "cache", splits=["train"],
                        normalization=args.normalization, max_length=args.max_length, progress=False)
    cache_seconds = time.perf_counter() - t0

    configs = {
        "FT, dynamic padding": ["method.name=ft"],
        "FT, padded to max length": ["method.name=ft", "train.pad_to_max_length=true"],
        "KD, live teacher": ["method.name=kd"],
        "KD, teacher cache": ["method.name=kd", f"teacher.cache={work / 'cache'}"],
        "KD, live teacher, padded to max length": ["method.name=kd", "train.pad_to_max_length=true"],
    }
    times: dict[str, list[float]] = {k: [] for k in configs}
    for r in range(args.repeats):
        for name, sets in configs.items():
            out = work / f"run-{r}-{abs(hash(name))}"
            res = distill(load_run_config(None, common + sets, out=str(out), **fields), progress=False, resume=False)
            ep = res["history"][0]
            times[name].append(ep["train_loop_seconds"])
            print(f"[{r + 1}/{args.repeats}] {name}: {ep['train_examples_seen']} examples in "
                  f"{ep['train_loop_seconds']:.1f} s", flush=True)
            shutil.rmtree(out, ignore_errors=True)
    n = min(args.examples, 10 ** 9)
    rows = []
    ft = statistics.median(times["FT, dynamic padding"])
    for name, ts in times.items():
        med = statistics.median(ts)
        rows.append({"config": name, "seconds_median": round(med, 2), "examples_per_s": round(n / med, 1),
                     "vs_ft_epoch": round(med / ft, 2), "all_seconds": [round(t, 2) for t in ts]})
    env = {"machine": platform.machine(), "processor": _cpu_model(), "cores": os.cpu_count(),
           "threads": torch.get_num_threads(), "python": platform.python_version(), "torch": torch.__version__,
           "transformers": transformers.__version__, "date": time.strftime("%Y-%m-%d")}
    result = {"args": vars(args), "env": env, "cache_build_seconds": round(cache_seconds, 2), "rows": rows}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    shutil.rmtree(work, ignore_errors=True)
    return 0


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    sys.exit(main())
