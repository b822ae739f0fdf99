"""How much padding can save at 512 tokens on a dataset: the teacher-token lengths of a seeded sample of
training functions (4,096), and for 192 / 1,024 / 4,096 of them at batch 32 and 64 the tokens a batch
holds when padded to 512, when padded to its own longest row in random batches, and in codekd's
length-bucketed batches (``engine.batching.epoch_batches``: pools of 50 batches sorted by character
length). 512 x rows / real tokens is what removing every pad token can save at most; 512 x rows /
bucketed tokens, what codekd's bucketing can save at most, before any fixed per-batch cost.

    python benchmarks/padding_bound.py DATA_DIR TEACHER_DIR
"""
import json, numpy as np, sys
from transformers import AutoTokenizer
from codekd.engine.batching import epoch_batches
from codekd.data.normalize import normalize_code
data, norm = sys.argv[1], "whitespace"
rows = [json.loads(l) for l in open(data + "/train.jsonl")]
rng = np.random.default_rng(0); pick = rng.permutation(len(rows))[:4096]
tok = AutoTokenizer.from_pretrained(sys.argv[2])
codes = [normalize_code(rows[i]["func"], norm) for i in pick]
lens = np.array([len(x) for x in tok(codes, truncation=True, max_length=512)["input_ids"]])
chars = np.array([len(c) for c in codes])
for n in (192, 1024, 4096):
    L, C = lens[:n], chars[:n]
    for bs in (32, 64):
        b = epoch_batches(n, bs, seed=0, epoch=0, lengths=C, bucket=True)
        padded = sum(len(x) * L[x].max() for x in b)
        ub = epoch_batches(n, bs, seed=0, epoch=0, lengths=C, bucket=False)
        upadded = sum(len(x) * L[x].max() for x in ub)
        print(f"n={n} batch={bs}: real {L.sum()} bucketed {padded} (real share {L.sum()/padded:.3f}) unbucketed-dynamic {upadded} pad-to-512 {512*n}  bound 512/bucketed {512*n/padded:.2f}x  512/real {512*n/L.sum():.2f}x")
