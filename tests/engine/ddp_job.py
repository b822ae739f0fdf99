"""Run a list of engine stages in one process of a (possibly distributed) launch.

Usage: ``torchrun|accelerate launch ... tests/engine/ddp_job.py STAGES.json`` (or ``--check-launch``:
refuse a launch that is not one job, else print the world size); STAGES.json is a list
of ``{"kind": "finetune"|"distill", "fields": {...}, "sets": [...]}``. Each stage writes its run
folder (metrics.json, test_logits.npy, best/) as usual; used by tests/engine/test_ddp.py.
"""

from __future__ import annotations

import json
import sys


def main(path: str) -> None:
    if path == "--check-launch":  # only what a launch looks like to the engine (no training)
        from codekd.engine.dist import launch_world, refuse_single_process_launch

        refuse_single_process_launch()
        print(f"world {launch_world()}")
        return
    import torch

    from codekd.config import load_run_config
    from codekd.engine.runs import distill, finetune_teacher

    torch.set_num_threads(1)
    for stage in json.loads(open(path, encoding="utf-8").read()):
        cfg = load_run_config(None, stage["sets"], **stage["fields"])
        run = finetune_teacher if stage["kind"] == "finetune" else distill
        run(cfg, progress=False)


if __name__ == "__main__":
    main(sys.argv[1])
