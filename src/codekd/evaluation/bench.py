"""Efficiency benchmark: what the student gains (``codekd bench MODEL... --data DIR``).

For every model: parameters, size on disk (fp32 and fp16 measured by writing the weights as
safetensors; int8 measured from the int8 ONNX file when one is exported, else the analytic
1 byte/parameter bound, and the JSON says which), analytic FLOPs per example, latency at batch 1
(p50 / p95 over many calls) and throughput at batch 32 (examples/s from the median batch time).

Protocol (the reason the numbers can be compared):

* CPU: ``torch.set_num_threads(threads)`` and onnxruntime ``intra_op_num_threads = threads`` (one
  fixed count for all models), ``torch.inference_mode()``, warm-up calls before any timing
  (``warmup`` calls at batch 1, then one at the throughput batch; heavy models warm up at batch
  ``heavy_warmup_batch`` instead, as one batch-32 call of a 125M model costs tens of seconds on 2
  cores and its allocations are a negligible share of such a call).
* GPU (when present): the same, with ``torch.cuda.synchronize()`` before starting and before
  stopping each timer.
* All models are loaded in one process and measured **interleaved**: each round times every model
  once (batch-1 latency calls, then one batch-32 call), and the order rotates every round, so
  load from other processes hits all models alike and the ratios hold on a noisy machine. Large
  models (``heavy_params`` and up) may get fewer rounds; every row records its sample counts.
* Inputs are a fixed sequence length (``seq_len``: truncated / padded to it): real tokenised code
  from ``data`` for models that have a tokenizer, else random token ids (cost does not depend on
  the ids at a fixed length). Padding is computed like real tokens, so the figures are the cost of
  ``seq_len``-token inputs.

Models (``MODEL...``): a student preset (``gru-7m``, ``roberta-0.6m``, ``budget:5M``; random
weights), ``shape:NAME`` for a random-weight model of a known teacher's shape (``unixcoder-base``,
``codebert-base``, ``modernbert-base``, ``minilm``), or anything :func:`codekd.evaluation.inference.resolve_model`
accepts (run folder, student / teacher folder, the ``minilm`` alias, an export folder). The first
model is the baseline of every ratio (normally the teacher).

Runtimes (``runtimes="torch,torch-bf16,onnx,onnx-int8"`` or a subset; ``onnx=True`` = torch and the two
ONNX ones): ``torch-bf16`` runs each student's PyTorch module under ``torch.autocast`` in bfloat16
(oneDNN's AMX / AVX-512-BF16 kernels where the CPU has them; the same module as the fp32 row, so
the weights stay fp32 and only the matrix products run in bf16). For the ONNX runtimes each student
(``onnx_teachers=True``: every model) is exported to ONNX (BERT/RoBERTa graphs fused by
onnxruntime's transformer optimizer, checked) and quantised to int8 (default scheme of
:mod:`codekd.evaluation.export`); the sessions use explicit options (``ORT_ENABLE_ALL``, intra-op
threads = ``threads``, inter-op 1, sequential), recorded in each row's ``info.session``.

Load-robust figures: every call is timed in wall time and in process CPU time (``time.process_time``:
all threads of this process, none of the time spent waiting for a core). Rows carry the per-round
batch times, the throughput median and min-max, the spread (max / min) and ``unstable`` when the
spread exceeds ``unstable_spread``; :func:`ratios` gives the speed-up from the medians, the min-max of
the per-round ratios (rounds paired: both models were timed in the same round) and the speed-up from
CPU time. Several sequence lengths (``seq_len="128,256,512"``) are measured one after another in the
same run, on the same loaded models and sessions; ratios are per length.
"""

from __future__ import annotations

import os
import platform
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

import numpy as np

from ..data.loaders import load_task_data
from ..data.normalize import normalize_code
from ..engine.batching import TextEncoder
from ..errors import ConfigError
from ..io import atomic_write_json
from ..models.hf import position_limit, quiet_transformers
from ..models.students.presets import STUDENTS, build_student, resolve_spec
from ..models.students.sizing import config_flops, flops_per_example, known_teacher_config, size_mb
from ..models.students.spec import make_spec
from .export import INT8_SCHEMES, calibration_feeds, export_onnx, quantize_int8, resolve_int8_scheme
from .inference import describe_session_options, load_inference, ort_session, resolve_model, session_options, versions

LATENCY_BATCH = 1
THROUGHPUT_BATCH = 32


# ------------------------------------------------------------------------------------ environment

def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def ram_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 ** 2, 1)
    except OSError:
        pass
    return None


def environment(threads: int) -> dict[str, Any]:
    import torch

    env: dict[str, Any] = {
        "cpu": cpu_model(), "nproc": os.cpu_count(), "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "ram_gb": ram_gb(), "platform": platform.platform(), "threads": threads,
        "torch_threads": torch.get_num_threads(), "torch_interop_threads": torch.get_num_interop_threads(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "versions": versions(),
    }
    try:
        env["loadavg_start"] = list(os.getloadavg())
    except OSError:  # pragma: no cover
        pass
    return env


# ------------------------------------------------------------------------------------ models

@dataclass
class BenchModel:
    """One row source: a model (PyTorch or an onnxruntime session) with its prepared inputs."""

    name: str
    role: str          # teacher | student
    runtime: str       # pytorch | pytorch bf16 | onnxruntime fp32 | onnxruntime int8
    params: int
    flops: int | None
    sizes_mb: dict[str, float]
    size_notes: dict[str, str]
    module: Any = None        # torch module (pytorch rows)
    session: Any = None       # onnxruntime session (onnx rows)
    inputs_kind: str = "random ids"
    vocab_size: int = 0
    encoder: Callable[[list[tuple[str, ...]], int], dict[str, Any]] | None = None
    onnx_path: str | None = None
    info: dict[str, Any] = field(default_factory=dict)
    flops_by_len: dict[int, int | None] = field(default_factory=dict)
    autocast: str | None = None  # "bfloat16": the module runs under torch.autocast in that dtype


def _state_size_mb(model: Any, dtype: Any, folder: Path) -> float:
    """Write the weights (shared tensors once) as safetensors in ``dtype`` and return the file size."""
    from safetensors.torch import save_file

    seen: set[int] = set()
    tensors = {}
    for k, v in model.state_dict().items():
        ptr = v.data_ptr()
        if ptr in seen:
            continue
        seen.add(ptr)
        t = v.detach()
        tensors[k] = (t.to(dtype) if t.is_floating_point() else t).contiguous().clone()
    path = folder / f"weights-{str(dtype).split('.')[-1]}.safetensors"
    save_file(tensors, str(path))
    size = path.stat().st_size / 1e6
    path.unlink()
    return size


def model_flops(model: Any, seq_len: int, num_labels: int) -> int | None:
    """Analytic FLOPs per example of a loaded model (students and BERT/RoBERTa/ModernBERT shapes)."""
    config = getattr(model, "config", None)
    if config is None:
        return None
    if getattr(config, "model_type", "") == "codekd-bigru":
        spec = make_spec(family="gru", vocab_size=int(config.vocab_size), layers=int(config.num_hidden_layers),
                         hidden=int(config.hidden_size))
        return flops_per_example(spec, seq_len, num_labels)
    return config_flops(config, seq_len, num_labels)


def _random_encoder(vocab: int, pad_id: int = 1) -> Callable[[list[tuple[str, ...]], int], dict[str, Any]]:
    import torch

    def encode(codes: list[tuple[str, ...]], seq_len: int) -> dict[str, Any]:
        g = torch.Generator().manual_seed(len(codes) * 7919 + seq_len)
        ids = torch.randint(min(5, vocab - 1), vocab, (len(codes), seq_len), generator=g)
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}

    return encode


def _fixed_length(enc: dict[str, Any], seq_len: int, pad_id: int) -> dict[str, Any]:
    """Pad or cut an encoding to exactly ``seq_len`` tokens (ids and mask only)."""
    import torch

    ids, mask = enc["input_ids"], enc["attention_mask"]
    t = ids.shape[1]
    if t > seq_len:
        ids, mask = ids[:, :seq_len], mask[:, :seq_len]
    elif t < seq_len:
        pad = seq_len - t
        ids = torch.cat([ids, torch.full((ids.shape[0], pad), pad_id, dtype=ids.dtype)], dim=1)
        mask = torch.cat([mask, torch.zeros((mask.shape[0], pad), dtype=mask.dtype)], dim=1)
    return {"input_ids": ids.contiguous(), "attention_mask": mask.contiguous()}


def _student_encoder(tokenizer: Any) -> Callable[[list[tuple[str, ...]], int], dict[str, Any]]:
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 1

    def encode(codes: list[tuple[str, ...]], seq_len: int) -> dict[str, Any]:
        return _fixed_length(TextEncoder(tokenizer, seq_len, pad_to_max_length=True)(codes), seq_len, pad)

    return encode


def _teacher_encoder(teacher: Any) -> Callable[[list[tuple[str, ...]], int], dict[str, Any]]:
    tok = teacher.tokenizer
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0

    def encode(codes: list[tuple[str, ...]], seq_len: int) -> dict[str, Any]:
        a = [c[0] for c in codes]
        b = [c[1] for c in codes] if teacher.is_pair else None
        return _fixed_length(teacher.encode(a, b, max_length=seq_len), seq_len, pad)

    return encode


def load_bench_model(spec: str, *, num_labels: int = 2, seq_len: int = 256, task: str | None = None,
                     seed: int = 0) -> BenchModel:
    """Build or load one model named on the command line (see the module docstring)."""
    import torch

    quiet_transformers()
    torch.manual_seed(seed)
    encoder = None
    inputs_kind = "random ids"
    if spec.startswith("shape:"):
        from transformers import AutoModelForSequenceClassification

        config = known_teacher_config(spec[len("shape:"):], num_labels)
        if config is None:
            raise ConfigError(f"unknown teacher shape {spec!r} (known: shape:unixcoder-base, shape:codebert-base, "
                              "shape:modernbert-base, shape:minilm)")
        module = AutoModelForSequenceClassification.from_config(config)
        name, role, info = f"{spec[6:]}-shape (random)", "teacher", {"source": spec, "weights": "random"}
    elif spec in STUDENTS or spec.lower().startswith("budget:"):
        sspec = resolve_spec(spec)
        module = build_student(sspec, num_labels)
        name, role, info = spec, "student", {"source": spec, "weights": "random", "spec": sspec.model_dump()}
    else:
        ref = resolve_model(spec)
        if ref.kind == "onnx":
            raise ConfigError("give the run or model folder, not an export (bench exports with --onnx itself)", path=spec)
        inf = load_inference(ref, task=task, device="cpu")
        role = ref.kind
        name = Path(spec).name if Path(spec).exists() else spec
        if ref.run_dir is not None and Path(ref.path).name == "best":
            name = Path(ref.run_dir).name
        info = {"source": spec, "weights": "trained" if not inf.info.get("new_head") else "pretrained encoder, new head"}
        if role == "teacher":
            teacher = inf.module
            module = teacher.model if teacher.head is None else teacher
            encoder = _teacher_encoder(teacher)
        else:
            module = inf.module
            encoder = _student_encoder(inf.side.encode.tokenizer)
        inputs_kind = "tokenised code"
    module.eval()
    config = getattr(module, "config", None)
    limit = position_limit(config) if config is not None else None
    if limit is not None and seq_len > limit:
        raise ConfigError(f"{name}: sequence length {seq_len} exceeds the model's position limit {limit}")
    vocab = int(getattr(config, "vocab_size", 0) or 0)
    params = int(sum(p.numel() for p in module.parameters()))
    return BenchModel(name=name, role=role, runtime="pytorch", params=params,
                      flops=model_flops(module, seq_len, num_labels), sizes_mb={}, size_notes={}, module=module,
                      inputs_kind=inputs_kind, vocab_size=vocab, encoder=encoder, info=info)


RUNTIMES = ("torch", "torch-bf16", "onnx", "onnx-int8")
_RUNTIME_ALIASES = {"torch": "torch", "pytorch": "torch", "torch-bf16": "torch-bf16", "bf16": "torch-bf16",
                    "onnx": "onnx", "onnx-fp32": "onnx", "ort": "onnx", "onnx-int8": "onnx-int8", "int8": "onnx-int8"}
ONNX_RUNTIMES = ("onnx", "onnx-int8")


def parse_runtimes(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """``"torch,onnx,onnx-int8"`` (or a list) -> the runtimes, in :data:`RUNTIMES` order."""
    if value is None:
        return ("torch",)
    items = value.split(",") if isinstance(value, str) else list(value)
    out = set()
    for item in items:
        key = _RUNTIME_ALIASES.get(str(item).strip().lower())
        if key is None:
            raise ConfigError(f"unknown runtime {item!r} (known: {', '.join(RUNTIMES)})")
        out.add(key)
    if not out:
        raise ConfigError("no runtime given (known: " + ", ".join(RUNTIMES) + ")")
    return tuple(r for r in RUNTIMES if r in out)


def parse_seq_lens(value: int | str | Sequence[int]) -> tuple[int, ...]:
    """``256``, ``"128,256,512"`` or a list -> the sequence lengths (order kept, duplicates dropped)."""
    if isinstance(value, int):
        items = [value]
    elif isinstance(value, str):
        items = [v for v in value.split(",") if v.strip()]
    else:
        items = list(value)
    try:
        lens = tuple(dict.fromkeys(int(v) for v in items))
    except (TypeError, ValueError):
        raise ConfigError(f"sequence lengths must be integers, got {value!r}") from None
    if not lens:
        raise ConfigError("no sequence length given")
    for n in lens:
        if n < 8:
            raise ConfigError(f"seq_len must be >= 8, got {n}")
    return lens


def _onnx_rows(bm: BenchModel, folder: Path, threads: int, providers: Sequence[str],
               runtimes: Sequence[str] = ("onnx", "onnx-int8"), *, fuse: bool = True,
               int8_scheme: str | None = None) -> list[BenchModel]:
    """Export ``bm`` to ONNX (fp32, fused when BERT-style; + int8) in ``folder`` and return the
    onnxruntime rows asked for in ``runtimes``."""
    family = "gru" if bm.module.config.model_type == "codekd-bigru" else bm.module.config.model_type
    fp32 = folder / "model.onnx"
    int8 = folder / "model.int8.onnx"
    pad = getattr(bm.module.config, "pad_token_id", 1)
    pad = 1 if pad is None else int(pad)
    info = export_onnx(bm.module, fp32, vocab_size=bm.vocab_size, family=family, pad_id=pad, fuse=fuse)
    files = []
    if "onnx" in runtimes:
        files.append(("fp32", fp32, {}))
    if "onnx-int8" in runtimes:
        name = resolve_int8_scheme(int8_scheme)[0]
        calib = calibration_feeds(fp32, bm.vocab_size, pad_id=pad) if INT8_SCHEMES[name][0] == "qdq" else None
        files.append(("int8", int8, {"int8": quantize_int8(fp32, int8, scheme=name, calibration=calib)}))
    so = describe_session_options(session_options(threads))
    rows = []
    for tag, path, extra in files:
        size = path.stat().st_size / 1e6
        rows.append(BenchModel(
            name=bm.name, role=bm.role, runtime=f"onnxruntime {tag}", params=bm.params, flops=bm.flops,
            sizes_mb={f"onnx_{tag}": size}, size_notes={f"onnx_{tag}": "measured (.onnx file)"},
            session=ort_session(path, threads=threads, providers=providers), inputs_kind=bm.inputs_kind,
            vocab_size=bm.vocab_size, encoder=bm.encoder, onnx_path=str(path),
            info={**bm.info, "exporter": info["exporter"], "fusion": info["fusion"], "session": so,
                  "onnx_file_mb": size, **extra}))
        if tag == "int8":
            bm.sizes_mb["int8"] = size
            bm.size_notes["int8"] = "measured (int8 ONNX file)"
    return rows


# ------------------------------------------------------------------------------------ timing

def _codes_from_data(data: str | os.PathLike[str] | None, task: str | None, n: int) -> list[tuple[str, ...]] | None:
    if data is None:
        return None
    if not task:
        raise ConfigError("--data needs --task (which loader to use)")
    td = load_task_data(data, task, splits=("test",))
    sp = td["test"]
    rows = sp.codes(range(min(n, len(sp))))
    if not rows:
        raise ConfigError("the test split is empty", path=data)
    rows = [tuple(normalize_code(c, "whitespace") for c in r) for r in rows]
    return [rows[i % len(rows)] for i in range(n)]


class _Runner:
    """Prepared inputs and a timed call for one (model, device, sequence length)."""

    def __init__(self, bm: BenchModel, device: str, seq_len: int, codes: list[tuple[str, ...]] | None,
                 batches: Sequence[int]):
        import torch

        self.bm = bm
        self.device = device
        self.seq_len = seq_len
        self.cuda = device.startswith("cuda")
        self.inputs: dict[int, dict[str, Any]] = {}
        for b in sorted(set(batches)):
            if codes is not None and bm.encoder is not None:
                enc = bm.encoder(codes[:b], seq_len)
            else:
                enc = _random_encoder(max(bm.vocab_size, 6))([("",)] * b, seq_len)
            if bm.session is not None:
                self.inputs[b] = {k: v.numpy().astype(np.int64) for k, v in enc.items()
                                  if k in {i.name for i in bm.session.get_inputs()}}
            else:
                self.inputs[b] = {k: v.to(device) for k, v in enc.items()}
        self._torch = torch

    def __call__(self, batch: int) -> tuple[float, float]:
        """``(wall seconds, process CPU seconds)`` of one forward at ``batch`` (GPU: synchronised).

        Process CPU time counts every thread of this process (torch's and onnxruntime's) and none of
        the time the process waited for a core, so it holds on a loaded machine where wall time does not.
        """
        torch = self._torch
        inp = self.inputs[batch]
        if self.bm.session is not None:
            c0, t0 = time.process_time(), time.perf_counter()
            self.bm.session.run(["logits"], inp)
            return time.perf_counter() - t0, time.process_time() - c0
        dtype = getattr(torch, self.bm.autocast) if self.bm.autocast else None
        with torch.inference_mode(), torch.autocast(self.device.split(":")[0], dtype=dtype, enabled=dtype is not None):
            if self.cuda:
                torch.cuda.synchronize()
            c0, t0 = time.process_time(), time.perf_counter()
            self.bm.module(input_ids=inp["input_ids"], attention_mask=inp["attention_mask"])
            if self.cuda:
                torch.cuda.synchronize()
            return time.perf_counter() - t0, time.process_time() - c0


def _stats_ms(samples: list[float]) -> dict[str, float]:
    a = np.asarray(samples, dtype=float) * 1000.0
    return {"p50": float(np.percentile(a, 50)), "p95": float(np.percentile(a, 95)), "mean": float(a.mean()),
            "min": float(a.min()), "max": float(a.max()), "n": int(len(a))}


def spread(samples: Sequence[float]) -> float:
    """max / min of positive samples (1.0 = perfectly stable)."""
    a = [float(x) for x in samples if x > 0]
    return max(a) / min(a) if a else float("nan")


def benchmark(
    models: Sequence[str],
    *,
    data: str | os.PathLike[str] | None = None,
    task: str | None = None,
    seq_len: int | str | Sequence[int] = 256,
    threads: int = 1,
    repeats: int = 5,
    heavy_repeats: int | None = None,
    heavy_params: float = 20e6,
    latency_calls: int = 10,
    warmup: int = 2,
    throughput_batch: int = THROUGHPUT_BATCH,
    heavy_warmup_batch: int = 8,
    onnx: bool = False,
    onnx_teachers: bool = False,
    runtimes: str | Sequence[str] | None = None,
    fuse: bool = True,
    int8_scheme: str | None = None,
    unstable_spread: float = 1.3,
    gpu: bool = True,
    num_labels: int = 2,
    out: str | os.PathLike[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Measure ``models`` in one process, interleaved (see the module docstring). Returns (and writes
    to ``out``) ``{"environment", "settings", "rows", "ratios"}``.

    ``runtimes``: ``"torch,torch-bf16,onnx,onnx-int8"`` or a subset (``onnx=True`` is the same as
    ``torch,onnx,onnx-int8``); the bf16 and ONNX runtimes apply to students (``onnx_teachers``: to
    every model). ``seq_len``: one length
    or several (``"128,256,512"``), measured one after another on the same loaded models and
    sessions. Every timing records wall and process CPU time; a row whose throughput wall-time
    spread (max / min over the rounds) exceeds ``unstable_spread`` is marked ``unstable``.
    ``heavy_repeats`` (default: ``repeats``) gives models of ``heavy_params`` or more fewer rounds.
    """
    import torch

    if not models:
        raise ConfigError("bench needs at least one model")
    seq_lens = parse_seq_lens(seq_len)
    rts = parse_runtimes(runtimes if runtimes is not None else (("torch", *ONNX_RUNTIMES) if onnx else ("torch",)))
    onnx_rts = [r for r in rts if r in ONNX_RUNTIMES]
    heavy_repeats = repeats if heavy_repeats is None else heavy_repeats
    say = progress or (lambda _msg: None)
    t_start = time.perf_counter()
    threads_before = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    env = environment(int(threads))
    codes = _codes_from_data(data, task, throughput_batch)
    batches = (LATENCY_BATCH, min(heavy_warmup_batch, throughput_batch), throughput_batch)
    tmp = Path(tempfile.mkdtemp(prefix="codekd-bench-"))
    try:
        import onnxruntime as ort

        cpu_providers = ["CPUExecutionProvider"]
        entries: list[BenchModel] = []
        for i, spec in enumerate(models):
            say(f"loading {spec}")
            bm = load_bench_model(spec, num_labels=num_labels, seq_len=max(seq_lens), task=task)
            bm.flops_by_len = {n: model_flops(bm.module, n, num_labels) for n in seq_lens}
            bm.sizes_mb["fp32"] = _state_size_mb(bm.module, torch.float32, tmp)
            bm.sizes_mb["fp16"] = _state_size_mb(bm.module, torch.float16, tmp)
            bm.size_notes.update(fp32="measured (safetensors file)", fp16="measured (safetensors file)")
            if "torch" in rts or not (onnx_rts and (bm.role == "student" or onnx_teachers)):
                entries.append(bm)
            if "torch-bf16" in rts and (bm.role == "student" or onnx_teachers):
                entries.append(BenchModel(**{**bm.__dict__, "runtime": "pytorch bf16", "autocast": "bfloat16",
                                             "info": {**bm.info, "autocast": "bfloat16"}}))
            if onnx_rts and (bm.role == "student" or onnx_teachers):
                say(f"exporting {spec} to ONNX ({', '.join(onnx_rts)})")
                folder = tmp / f"m{i}"
                rows_i = _onnx_rows(bm, folder, int(threads), cpu_providers, onnx_rts, fuse=fuse,
                                    int8_scheme=int8_scheme)
                for r in rows_i:
                    r.flops_by_len = bm.flops_by_len
                entries.extend(rows_i)
            if "int8" not in bm.sizes_mb:
                bm.sizes_mb["int8"] = size_mb(bm.params, "int8")
                bm.size_notes["int8"] = "analytic (1 byte per parameter)"

        devices = ["cpu"]
        if gpu and torch.cuda.is_available():
            devices.append("cuda")
        rows: list[dict[str, Any]] = []
        for device in devices:
            bms = []
            for bm in entries:
                if bm.session is not None and device != "cpu":
                    if "CUDAExecutionProvider" not in ort.get_available_providers():
                        continue
                    bms.append(BenchModel(**{**bm.__dict__, "session": ort.InferenceSession(
                        str(bm.onnx_path), providers=["CUDAExecutionProvider", "CPUExecutionProvider"])}))
                    continue
                if bm.module is not None:
                    bm.module.to(device)
                bms.append(bm)
            for n in seq_lens:
                rows.extend(_measure(bms, device, n, codes, batches, env, threads=int(threads), repeats=repeats,
                                     heavy_repeats=heavy_repeats, heavy_params=heavy_params,
                                     latency_calls=latency_calls, warmup=warmup, throughput_batch=throughput_batch,
                                     heavy_warmup_batch=heavy_warmup_batch, unstable_spread=unstable_spread, say=say))
            for bm in entries:
                if bm.module is not None:
                    bm.module.to("cpu")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        torch.set_num_threads(threads_before)
    try:
        env["loadavg_end"] = list(os.getloadavg())
    except OSError:  # pragma: no cover
        pass
    result = {
        "environment": env,
        "settings": {"models": list(models), "seq_len": seq_lens[0], "seq_lens": list(seq_lens), "threads": threads,
                     "latency_batch": LATENCY_BATCH, "throughput_batch": throughput_batch, "repeats": repeats,
                     "heavy_repeats": heavy_repeats, "heavy_params": heavy_params, "latency_calls": latency_calls,
                     "warmup": warmup, "heavy_warmup_batch": heavy_warmup_batch, "interleaved": True,
                     "runtimes": list(rts), "onnx": bool(onnx_rts), "onnx_teachers": onnx_teachers, "fuse": fuse,
                     "int8_scheme": int8_scheme, "unstable_spread": unstable_spread,
                     "timers": "wall (perf_counter) and process CPU (process_time) around every call",
                     "data": str(data) if data else None, "task": task, "num_labels": num_labels},
        "rows": rows,
        "ratios": ratios(rows),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - t_start, 2),
    }
    if out is not None:
        p = Path(out)
        p.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(p, result)
        result["written"] = str(p)
    return result


def _measure(bms: Sequence[BenchModel], device: str, seq_len: int, codes: list[tuple[str, ...]] | None,
             batches: Sequence[int], env: dict[str, Any], *, threads: int, repeats: int, heavy_repeats: int,
             heavy_params: float, latency_calls: int, warmup: int, throughput_batch: int, heavy_warmup_batch: int,
             unstable_spread: float, say: Callable[[str], None]) -> list[dict[str, Any]]:
    """Warm up, then time every model in rotated, interleaved rounds at one sequence length."""
    runners = [_Runner(bm, device, seq_len, codes, batches) for bm in bms]
    heavy = {id(r): r.bm.params >= heavy_params for r in runners}
    n_rounds = {id(r): (heavy_repeats if heavy[id(r)] else repeats) for r in runners}
    n_lat = {id(r): (max(2, latency_calls // 5) if heavy[id(r)] else latency_calls) for r in runners}
    say(f"{device} seq {seq_len}: warm-up")
    for r in runners:
        for _ in range(warmup):
            r(LATENCY_BATCH)
        r(min(heavy_warmup_batch, throughput_batch) if heavy[id(r)] else throughput_batch)
    lat = {id(r): ([], []) for r in runners}
    thr = {id(r): ([], []) for r in runners}
    rounds = max(n_rounds.values())
    for k in range(rounds):
        say(f"{device} seq {seq_len}: round {k + 1}/{rounds}")
        order = runners[k % len(runners):] + runners[:k % len(runners)]
        for r in order:
            if k >= n_rounds[id(r)]:
                continue
            for _ in range(n_lat[id(r)]):
                w, c = r(LATENCY_BATCH)
                lat[id(r)][0].append(w)
                lat[id(r)][1].append(c)
            w, c = r(throughput_batch)
            thr[id(r)][0].append(w)
            thr[id(r)][1].append(c)
    rows = []
    for r in runners:
        bm = r.bm
        wall, cpu = thr[id(r)]
        t_stats, c_stats = _stats_ms(wall), _stats_ms(cpu)
        flops = getattr(bm, "flops_by_len", {}).get(seq_len, bm.flops)
        sp = spread(wall)
        rows.append({
            "model": bm.name, "role": bm.role, "runtime": bm.runtime, "device": device,
            "device_name": env["gpu"] if device != "cpu" else env["cpu"],
            "threads": threads if device == "cpu" else None, "seq_len": seq_len,
            "params": bm.params, "flops_per_example": flops,
            "gflops_per_example": None if flops is None else flops / 1e9,
            "size_mb": dict(bm.sizes_mb), "size_notes": dict(bm.size_notes),
            "latency_batch": LATENCY_BATCH, "latency_ms": _stats_ms(lat[id(r)][0]),
            "latency_cpu_ms": _stats_ms(lat[id(r)][1]),
            "throughput_batch": throughput_batch, "batch_ms": t_stats, "batch_cpu_ms": c_stats,
            "batch_ms_rounds": [1000.0 * x for x in wall], "batch_cpu_ms_rounds": [1000.0 * x for x in cpu],
            "throughput": throughput_batch / (t_stats["p50"] / 1000.0),
            "throughput_range": [throughput_batch / (t_stats["max"] / 1000.0), throughput_batch / (t_stats["min"] / 1000.0)],
            "throughput_cpu": throughput_batch / (c_stats["p50"] / 1000.0),
            "spread": sp, "cpu_spread": spread(cpu), "unstable": bool(sp > unstable_spread),
            "cpu_share": float(sum(cpu) / sum(wall)) if sum(wall) > 0 else None,
            "rounds": n_rounds[id(r)], "inputs": bm.inputs_kind,
            "versions": {k: env["versions"].get(k) for k in ("torch", "transformers", "onnxruntime")},
            "info": bm.info,
        })
    return rows


def ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per device and sequence length, every row against the first row there (the baseline, normally
    the teacher): ``throughput_x`` (median wall time; higher is faster), ``throughput_x_range``
    (min and max of the per-round ratios, rounds paired by index: both were timed in the same round),
    ``cpu_throughput_x`` (median process CPU time), ``latency_x`` (baseline p50 / row p50, wall),
    ``params_x`` and ``flops_x`` (baseline / row: how many times smaller)."""
    out = []
    base_by_key: dict[tuple[str, Any], dict[str, Any]] = {}
    for r in rows:
        base = base_by_key.setdefault((r["device"], r.get("seq_len")), r)
        item = {
            "model": r["model"], "runtime": r["runtime"], "device": r["device"], "baseline": base["model"],
            "throughput_x": r["throughput"] / base["throughput"],
            "latency_x": base["latency_ms"]["p50"] / r["latency_ms"]["p50"],
            "params_x": base["params"] / r["params"],
            "flops_x": (base["flops_per_example"] / r["flops_per_example"]) if base["flops_per_example"] and r["flops_per_example"] else None,
        }
        if "seq_len" in r:
            item["seq_len"] = r["seq_len"]
        if r.get("throughput_cpu") and base.get("throughput_cpu"):
            item["cpu_throughput_x"] = r["throughput_cpu"] / base["throughput_cpu"]
        if r.get("latency_cpu_ms") and base.get("latency_cpu_ms"):
            item["cpu_latency_x"] = base["latency_cpu_ms"]["p50"] / r["latency_cpu_ms"]["p50"]
        pairs = list(zip(base.get("batch_ms_rounds") or [], r.get("batch_ms_rounds") or []))
        if pairs:
            per_round = [b / x for b, x in pairs if x > 0]
            item["throughput_x_range"] = [min(per_round), max(per_round)]
        out.append(item)
    return out


__all__ = ["benchmark", "ratios", "parse_runtimes", "parse_seq_lens", "spread", "RUNTIMES", "ONNX_RUNTIMES", "load_bench_model", "model_flops", "environment", "cpu_model", "BenchModel"]
