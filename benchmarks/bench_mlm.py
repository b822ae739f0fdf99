"""Masked-LM benchmark: domain adaptation of MiniLM to code, and pre-training of gru-1.5m.

Stages (``--stages``, comma-separated; each writes its run folder under ``--work`` and its numbers
into the ``--out`` JSON):

``adapt``     MiniLM (all-MiniLM-L6-v2) masked-LM on Python functions from ``--corpus`` (default:
              this Python's standard library): held-out perplexity before (the checkpoint ships
              no MLM head, so "before" is the encoder with a new, untrained head) and after.
``head``      control for ``adapt``: the same budget with the encoder frozen (only the new MLM head
              learns), so "after adapt" vs "after head" is the effect of adapting the encoder.
``gru``       gru-1.5m pre-training on the same corpus with its own 2k BPE vocabulary: the
              held-out perplexity curve (``--eval-every``).
``teachers``  needs ``--data`` (an exception dataset): fine-tune MiniLM and the adapted MiniLM on
              the same split with the same settings; test top-1 of both.
``students``  needs ``--data`` and a teacher (``--teacher``, default: the adapted one if it was
              fine-tuned here): KD into gru-1.5m from scratch and from the pre-trained weights.

The corpus excludes the dataset's valid and test functions when ``--data`` is given (leakage guard).

Short run (what benchmarks/RESULTS-mlm.md reports):

    python benchmarks/bench_mlm.py --stages adapt,head,gru --adapt-steps 150 --gru-steps 300 --threads 1

Full comparison (hours on 2 CPU cores; minutes on a GPU):

    codekd data mine-exceptions --out data/exception
    python benchmarks/bench_mlm.py --stages adapt,gru,teachers,students --data data/exception \\
        --adapt-steps 3000 --gru-steps 5000 --ft-epochs 3 --kd-epochs 5 --max-length 256
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path


def _versions() -> dict[str, str]:
    import accelerate
    import tokenizers
    import torch
    import transformers

    return {"python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__, "accelerate": accelerate.__version__}


def _machine(threads: int) -> dict[str, object]:
    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(), "torch_threads": threads}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stages", default="adapt,gru")
    ap.add_argument("--corpus", nargs="*", default=None, help="Source folders (default: this Python's stdlib).")
    ap.add_argument("--data", default=None, help="Exception dataset folder (teachers/students stages; leakage guard).")
    ap.add_argument("--work", default="runs/bench-mlm")
    ap.add_argument("--out", default="benchmarks/results/mlm.json")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--max-functions", type=int, default=None)
    ap.add_argument("--heldout-max", type=int, default=200)
    ap.add_argument("--adapt-steps", type=int, default=60)
    ap.add_argument("--adapt-batch", type=int, default=16)
    ap.add_argument("--adapt-lr", type=float, default=1e-4)
    ap.add_argument("--adapt-minutes", type=float, default=None)
    ap.add_argument("--gru-steps", type=int, default=300)
    ap.add_argument("--gru-batch", type=int, default=32)
    ap.add_argument("--gru-lr", type=float, default=2e-3)
    ap.add_argument("--eval-every", type=int, default=None)
    ap.add_argument("--normalization", default="whitespace")
    ap.add_argument("--ft-epochs", type=int, default=3)
    ap.add_argument("--kd-epochs", type=int, default=5)
    ap.add_argument("--teacher", default=None, help="Fine-tuned teacher for the students stage.")
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from codekd.pretrain import mlm

    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    work = Path(args.work)
    corpus = args.corpus or [__import__("sysconfig").get_paths()["stdlib"]]
    out_path = Path(args.out)
    results = json.loads(out_path.read_text()) if out_path.is_file() else {}
    results.update(machine=_machine(args.threads), versions=_versions(), corpus=corpus)
    common = {"pretrain.heldout_max": args.heldout_max, "pretrain.max_functions": args.max_functions,
              "pretrain.lang": "python", "train.checkpoint_every": 50}
    exclude = [args.data] if args.data else None

    def save() -> None:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(json.dumps(results, indent=2, default=float) + "\n")

    if "adapt" in stages:
        t0 = time.perf_counter()
        r = mlm("minilm", corpus, work / "minilm-code", exclude_data=exclude, steps=args.adapt_steps,
                minutes=args.adapt_minutes, batch_size=args.adapt_batch, max_length=args.max_length, lr=args.adapt_lr,
                threads=args.threads, eval_every=args.eval_every, normalization=args.normalization, **common)
        results["adapt"] = {"steps": r["global_steps"], "batch_size": args.adapt_batch, "lr": args.adapt_lr,
                            "max_length": args.max_length, "before": r["initial_valid"], "after": r["valid"],
                            "evals": r.get("evals"), "train_seconds": r["train_seconds"],
                            "wall_seconds": round(time.perf_counter() - t0, 1), "corpus": r.get("corpus")}
        save()
    if "head" in stages:  # control: same budget, encoder frozen (only the new MLM head learns)
        t0 = time.perf_counter()
        r = mlm("minilm", corpus, work / "minilm-head-only", exclude_data=exclude, steps=args.adapt_steps,
                minutes=args.adapt_minutes, batch_size=args.adapt_batch, max_length=args.max_length, lr=args.adapt_lr,
                threads=args.threads, eval_every=args.eval_every, normalization=args.normalization,
                **{**common, "pretrain.freeze_encoder": True})
        results["head_only"] = {"steps": r["global_steps"], "before": r["initial_valid"], "after": r["valid"],
                                "evals": r.get("evals"), "train_seconds": r["train_seconds"],
                                "wall_seconds": round(time.perf_counter() - t0, 1)}
        save()
    if "gru" in stages:
        t0 = time.perf_counter()
        r = mlm("gru-1.5m", corpus, work / "gru-mlm", exclude_data=exclude, steps=args.gru_steps,
                batch_size=args.gru_batch, max_length=args.max_length, lr=args.gru_lr, threads=args.threads,
                eval_every=args.eval_every or max(1, args.gru_steps // 6), normalization=args.normalization, **common)
        results["gru"] = {"steps": r["global_steps"], "batch_size": args.gru_batch, "lr": args.gru_lr,
                          "max_length": args.max_length, "before": r["initial_valid"], "after": r["valid"],
                          "curve": [{"step": 0, **r["initial_valid"]}] + [{"step": e["step"], **e["valid"]}
                                                                         for e in r.get("evals") or []],
                          "train_seconds": r["train_seconds"], "wall_seconds": round(time.perf_counter() - t0, 1),
                          "vocab_size": r.get("vocab_size"), "params": r.get("params")}
        save()
    if "teachers" in stages or "students" in stages:
        if not args.data:
            ap.error("the teachers and students stages need --data (an exception dataset)")
        from codekd.config import load_run_config
        from codekd.engine.runs import distill, finetune_teacher

        base = [f"train.max_length={args.max_length}", f"train.num_threads={args.threads}",
                f"normalization={args.normalization}"]
    if "teachers" in stages:
        rows = {}
        for name, src in (("minilm", "minilm"), ("minilm-code", str(work / "minilm-code"))):
            cfg = load_run_config(None, base + ["train.lr=5e-5", f"train.epochs={args.ft_epochs}"], kind="finetune",
                                  task="exception", data=args.data, out=str(work / f"teacher-{name}"),
                                  **{"teacher.path": src})
            m = finetune_teacher(cfg)
            rows[name] = {"test_top1": m["test"]["accuracy"], "test_top3": m["test"].get("top3"),
                          "valid": m["valid"], "train_seconds": m["train_seconds"]}
        results["teachers"] = rows
        save()
    if "students" in stages:
        teacher = args.teacher or str(work / "teacher-minilm-code")
        rows = {}
        for name, init in (("gru-1.5m", None), ("gru-1.5m-mlm", str(work / "gru-mlm"))):
            fields = {"teacher.path": teacher, "student.preset": "gru-1.5m", "student.init_from": init}
            cfg = load_run_config(None, base + ["method.name=kd", f"train.epochs={args.kd_epochs}"], task="exception",
                                  data=args.data, out=str(work / f"kd-{name}"), **fields)
            m = distill(cfg)
            rows[name] = {"test_top1": m["test"]["accuracy"], "test_top3": m["test"].get("top3"),
                          "train_seconds": m["train_seconds"]}
        results["students"] = rows
        save()
    print(json.dumps({k: v for k, v in results.items() if k not in ("machine", "versions")}, indent=2, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
