"""Peak CPU memory of the CKD loss (forward + backward) at batch 16 x 512 tokens, 125M-teacher shape.

Teacher: 13 hidden states (embeddings + 12 layers) of width 768 (RoBERTa-base / UniXcoder shape),
random, no grad. Student: roberta-7m shape, 5 states (embeddings + 4 layers) of width 320, leaf
tensors with grad (standing in for the student's outputs). Each configuration runs in a fresh
subprocess; the figure is the growth of the process's peak RSS (``ru_maxrss``) over the RSS after
the inputs were allocated, i.e. what the loss itself adds on top of the model's activations.
Each configuration is measured twice: with glibc's default allocator settings (freed 10-30 MB
blocks stay in the heap, so RSS overstates the live peak) and with ``MALLOC_MMAP_THRESHOLD_=131072``
(large blocks go back to the system when freed, so the RSS peak is close to the live peak).

    .venv/bin/python benchmarks/ckd_memory.py
"""

from __future__ import annotations

import json
import subprocess
import sys

CHILD = r'''
import json, resource, sys, time, torch
torch.set_num_threads(2)
from codekd.methods import MethodContext, Outputs, get_method
align, paper, B, T = sys.argv[1], sys.argv[2] == "1", int(sys.argv[3]), int(sys.argv[4])
torch.manual_seed(0)
th = tuple(torch.randn(B, T, 768) for _ in range(13))
sh = tuple(torch.randn(B, T, 320, requires_grad=True) for _ in range(5))
offs = torch.stack([torch.arange(T), torch.arange(T) + 1], -1).unsqueeze(0).expand(B, T, 2).clone()
offs[:, 0] = 0; offs[:, -1] = 0  # specials
mask = torch.ones(B, T, dtype=torch.long)
s = Outputs(logits=torch.randn(B, 20, requires_grad=True), hidden_states=sh, attention_mask=mask, offsets=offs)
t = Outputs(logits=torch.randn(B, 20), hidden_states=th, attention_mask=mask, offsets=offs)
ctx = MethodContext(task="exception", num_labels=20, student_family="roberta", student_layers=4, student_hidden=320,
                    teacher_layers=12, teacher_hidden=768)
m = get_method("ckd")(ctx, None if paper else {"align": align}, paper_faithful=paper)
def rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
with open("/proc/self/status") as fh:
    cur = [int(l.split()[1]) for l in fh if l.startswith("VmRSS")][0] / 1024
t0 = time.perf_counter()
loss, parts = m.loss(s, t, torch.zeros(B, dtype=torch.long))
loss.backward()
dt = time.perf_counter() - t0
print(json.dumps({"align": align, "paper_faithful": paper, "batch": B, "tokens": T, "rss_before_mib": round(cur),
                  "peak_mib": round(rss_mib()), "loss_peak_extra_mib": round(rss_mib() - cur),
                  "inputs_mib": round((sum(x.numel() for x in th) + sum(x.numel() for x in sh)) * 4 / 2**20),
                  "seconds": round(dt, 2), "layer_map": str(m.layer_map)}))
'''


def main() -> None:
    import os

    rows = []
    for align, paper in (("offsets", "0"), ("position", "1")):
        for malloc in ("default", "mmap-threshold-128k"):
            env = dict(os.environ)
            if malloc != "default":
                env["MALLOC_MMAP_THRESHOLD_"] = "131072"
            out = subprocess.run([sys.executable, "-c", CHILD, align, paper, "16", "512"], capture_output=True,
                                 text=True, check=True, env=env)
            row = json.loads(out.stdout.strip().splitlines()[-1])
            row["malloc"] = malloc
            rows.append(row)
    for r in rows:
        print(json.dumps(r))


if __name__ == "__main__":
    main()
