"""ONNX graph variants of a RoBERTa student against PyTorch fp32: 256 tokens, batch 32, 1 thread,
interleaved rotated rounds, process CPU seconds per batch (median, min-max)."""
import json, sys, time, os, shutil, tempfile, statistics
from pathlib import Path
import numpy as np, torch
torch.set_num_threads(1)
import onnxruntime as ort
from onnxruntime.transformers.optimizer import optimize_model
from onnxruntime.transformers.fusion_options import FusionOptions
from codekd.evaluation.bench import load_bench_model
from codekd.evaluation.export import export_onnx, quantize_int8

name = sys.argv[1]; L = int(os.environ.get("SEQ", 256)); B = 32; N = int(os.environ.get("ITERS", 5)); R = int(os.environ.get("ROUNDS", 3))
bm = load_bench_model(name, seq_len=L); m = bm.module.eval(); cfg = m.config
d = Path(tempfile.mkdtemp())
export_onnx(m, d / "plain.onnx", vocab_size=bm.vocab_size, family="roberta", pad_id=1, fuse=False)
def fused(tag, **opts):
    fo = FusionOptions("bert")
    for k, v in opts.items(): setattr(fo, k, v)
    o = optimize_model(str(d / "plain.onnx"), model_type="bert", num_heads=cfg.num_attention_heads,
                       hidden_size=cfg.hidden_size, opt_level=0, optimization_options=fo)
    o.save_model_to_file(str(d / f"{tag}.onnx"))
    ops = {}
    for n in o.model.graph.node: ops[n.op_type] = ops.get(n.op_type, 0) + 1
    return {k: v for k, v in ops.items() if k in ("Attention", "MultiHeadAttention", "SkipLayerNormalization", "BiasGelu", "FastGelu", "Gelu", "LayerNormalization", "Softmax", "MatMul")}
info = {"plain": {}}
info["fused"] = fused("fused")
info["fused-mha"] = fused("fused-mha", use_multi_head_attention=True)
info["fused-noskip"] = fused("fused-noskip", enable_skip_layer_norm=False, enable_bias_skip_layer_norm=False)
info["fused-noattn"] = fused("fused-noattn", enable_attention=False)
info["fused-mha-noskip"] = fused("fused-mha-noskip", use_multi_head_attention=True, enable_skip_layer_norm=False,
                                 enable_bias_skip_layer_norm=False)
for tag in list(info):
    quantize_int8(d / f"{tag}.onnx", d / f"{tag}-int8.onnx", scheme="qoperator-per-tensor")
ids = torch.randint(5, bm.vocab_size, (B, L)); mask = torch.ones(B, L, dtype=torch.long)
feeds = {"input_ids": ids.numpy(), "attention_mask": mask.numpy()}
with torch.inference_mode():
    tref = m(input_ids=ids, attention_mask=mask).logits.numpy()
runners, parity = {}, {}
def torch_run():
    with torch.inference_mode(): m(input_ids=ids, attention_mask=mask)
runners["torch fp32"] = torch_run
for tag in info:
    for q in ("", "-int8"):
        so = ort.SessionOptions(); so.intra_op_num_threads = 1; so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL; so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        s = ort.InferenceSession(str(d / f"{tag}{q}.onnx"), so, providers=["CPUExecutionProvider"])
        names = [i.name for i in s.get_inputs()]; f = {k: v for k, v in feeds.items() if k in names}
        parity[f"onnx {tag}{q}"] = float(np.abs(s.run(None, f)[0] - tref).max())  # largest logit gap to PyTorch
        runners[f"onnx {tag}{q}"] = (lambda s=s, f=f: s.run(None, f))
for fn in runners.values(): fn()
times = {k: [] for k in runners}
keys = list(runners)
for r in range(R):
    order = keys[r % len(keys):] + keys[:r % len(keys)]
    if r % 2: order = order[::-1]
    for k in order:
        c = time.process_time()
        for _ in range(N): runners[k]()
        times[k].append((time.process_time() - c) / N)
base = statistics.median(times["torch fp32"])
out = {"student": name, "seq": L, "batch": B, "iters": N, "rounds": R, "fusion": info, "max_abs_logit_diff": parity,
       "cpu_s_per_batch": {}}
for k in keys:
    t = times[k]
    out["cpu_s_per_batch"][k] = {"median": round(statistics.median(t), 4), "min": round(min(t), 4), "max": round(max(t), 4),
                                 "x_torch": round(base / statistics.median(t), 2)}
print(json.dumps(out, indent=1))
shutil.rmtree(d, ignore_errors=True)
