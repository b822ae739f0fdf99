"""Where the time of a small student goes at 256 tokens, batch 32, 1 thread: PyTorch fp32 ops,
ONNX fp32 (fused) and ONNX int8 nodes. Prints shares by op type."""
import json, sys, time, os, collections, tempfile
from pathlib import Path
import numpy as np, torch
torch.set_num_threads(1)
from codekd.evaluation.bench import load_bench_model
from codekd.evaluation.export import export_onnx, quantize_int8
import onnxruntime as ort

name = sys.argv[1] if len(sys.argv) > 1 else "roberta-1.5m"
L, B, N = int(os.environ.get("SEQ", 256)), 32, int(os.environ.get("ITERS", 8))
bm = load_bench_model(name, seq_len=L)
m = bm.module.eval()
ids = torch.randint(5, bm.vocab_size, (B, L)); mask = torch.ones(B, L, dtype=torch.long)
res = {"student": name, "seq": L, "batch": B}
with torch.inference_mode():
    for _ in range(2): m(input_ids=ids, attention_mask=mask)
    t = time.process_time()
    for _ in range(N): m(input_ids=ids, attention_mask=mask)
    res["torch_cpu_s_per_batch"] = (time.process_time() - t) / N
    from torch.profiler import profile, ProfilerActivity
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(3): m(input_ids=ids, attention_mask=mask)
tot = collections.Counter()
for e in prof.key_averages():
    tot[e.key] += e.self_cpu_time_total
s = sum(tot.values())
res["torch_ops"] = {k: round(v / s, 3) for k, v in tot.most_common(12)}
d = Path(tempfile.mkdtemp())
family = "gru" if m.config.model_type == "codekd-bigru" else m.config.model_type
info = export_onnx(m, d / "m.onnx", vocab_size=bm.vocab_size, family=family, pad_id=1, fuse=True)
res["fusion"] = info.get("fusion")
quantize_int8(d / "m.onnx", d / "m8.onnx", scheme="qoperator-per-tensor")
feeds = {"input_ids": ids.numpy(), "attention_mask": mask.numpy()}
for tag, path in (("onnx_fp32", d / "m.onnx"), ("onnx_int8", d / "m8.onnx")):
    so = ort.SessionOptions(); so.intra_op_num_threads = 1; so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    f = {k: v for k, v in feeds.items() if k in names}
    for _ in range(2): sess.run(None, f)
    t = time.process_time()
    for _ in range(N): sess.run(None, f)
    res[f"{tag}_cpu_s_per_batch"] = (time.process_time() - t) / N
    so.enable_profiling = True; so.profile_file_prefix = str(d / tag)
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    for _ in range(3): sess.run(None, f)
    pf = sess.end_profiling()
    ev = json.load(open(pf))
    c = collections.Counter()
    for e in ev:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            c[e["args"]["op_name"]] += e["dur"]
    s = sum(c.values())
    res[f"{tag}_ops"] = {k: round(v / s, 3) for k, v in c.most_common(12)}
print(json.dumps(res, indent=1))
