"""PyTorch fp32 vs torch.ao dynamic int8 (linear layers) vs bf16 autocast for one student: batch 32 x 256
tokens, 1 thread, 4 rotated rounds of 4 calls, process CPU seconds per batch (median) and the ratio to fp32.

    taskset -c 0 python benchmarks/torch_lowp.py roberta-1.5m
"""
import time, torch, statistics, sys
torch.set_num_threads(1)
from codekd.evaluation.bench import load_bench_model
bm = load_bench_model(sys.argv[1], seq_len=256); m = bm.module.eval()
q = torch.ao.quantization.quantize_dynamic(m, {torch.nn.Linear}, dtype=torch.qint8)
ids = torch.randint(5, bm.vocab_size, (32, 256)); mask = torch.ones(32, 256, dtype=torch.long)
def run(mod, bf16=False):
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        mod(input_ids=ids, attention_mask=mask)
R = {"fp32": lambda: run(m), "torch-int8-dynamic": lambda: run(q), "bf16-autocast": lambda: run(m, True)}
for f in R.values(): f()
t = {k: [] for k in R}
for r in range(4):
    ks = list(R)[r % 3:] + list(R)[:r % 3]
    for k in ks:
        c = time.process_time()
        for _ in range(4): R[k]()
        t[k].append((time.process_time() - c) / 4)
b = statistics.median(t["fp32"])
for k in R: print(sys.argv[1], k, round(statistics.median(t[k]), 4), "x", round(b / statistics.median(t[k]), 2), [round(x, 3) for x in t[k]])
