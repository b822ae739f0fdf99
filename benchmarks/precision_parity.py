"""Accuracy of trained models in low precision against fp32, on a real test split.

For every model (run folder, student / teacher folder): the test split's logits in fp32 and under
``torch.autocast`` in bfloat16 (the ``torch-bf16`` runtime of ``codekd bench``), the accuracy of
each, the share of examples whose top-1 agrees, and the largest logit difference. The goal of
issue 17 for a faster runtime: within 0.5 points of fp32 accuracy.

    python benchmarks/precision_parity.py --data runs/demo/data --task exception \\
        runs/demo/study/runs/exception-minilm-roberta-1.5m-dist-* --out benchmarks/results/precision-parity.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+")
    ap.add_argument("--data", required=True)
    ap.add_argument("--task", required=True)
    ap.add_argument("--split", default="test")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="benchmarks/results/precision-parity.json")
    args = ap.parse_args(argv)

    import numpy as np
    import torch

    from codekd.data.loaders import load_task_data
    from codekd.evaluation.inference import load_inference, resolve_model
    from codekd.tasks import get_task

    torch.set_num_threads(args.threads)
    td = load_task_data(args.data, get_task(args.task), splits=(args.split,))
    split = td[args.split]
    labels = np.asarray(split.labels)
    rows = []
    for spec in args.models:
        inf = load_inference(resolve_model(spec), task=args.task, device="cpu")
        t0 = time.perf_counter()
        fp32 = inf.split_logits(split)
        t1 = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            bf16 = inf.split_logits(split)
        t2 = time.perf_counter()
        acc32, acc16 = float((fp32.argmax(-1) == labels).mean()), float((bf16.argmax(-1) == labels).mean())
        rows.append({"model": spec, "examples": int(len(labels)), "accuracy_fp32": acc32, "accuracy_bf16": acc16,
                     "points_bf16_minus_fp32": round(100 * (acc16 - acc32), 3),
                     "top1_agreement": float((fp32.argmax(-1) == bf16.argmax(-1)).mean()),
                     "max_abs_logit_diff": float(np.abs(fp32 - bf16).max()),
                     "seconds_fp32": round(t1 - t0, 2), "seconds_bf16": round(t2 - t1, 2)})
        print(json.dumps(rows[-1]), flush=True)
    result = {"data": args.data, "task": args.task, "split": args.split, "threads": args.threads,
              "torch": torch.__version__, "date": time.strftime("%Y-%m-%d %H:%M"), "rows": rows}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
