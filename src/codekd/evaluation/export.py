"""ONNX export (fp32) and dynamic int8 quantisation, with a mandatory parity check.

``export_model(RUN_OR_MODEL, data=..., int8=True)`` writes an export folder::

    model.onnx          fp32 graph, one file (no external data), inputs input_ids / attention_mask
                        (+ token_type_ids for teachers that use them), output logits; batch and
                        sequence axes dynamic; BERT/RoBERTa graphs fused (see below)
    model.int8.onnx     onnxruntime.quantization int8 (``--int8-scheme``, default
                        :data:`DEFAULT_INT8_SCHEME`), with --int8
    tokenizer files, config.json (with the label names as id2label), codekd_student.json or
    codekd_teacher.json (tokenisation settings), export.json (settings, sizes, parity figures)

Export paths (see STACK-NOTES.md):

* RoBERTa/BERT-style models (students and teachers): the legacy TorchScript exporter with eager
  attention (switched on for the export, restored afterwards), then onnxruntime's transformer
  optimizer (``onnxruntime.transformers.optimizer``, BERT fusions at ``opt_level=0``: attention,
  skip-LayerNorm, bias-GELU; the result stays portable, the session applies its own graph
  optimisations on top). Measured on a tiny RoBERTa: only eager attention + the legacy exporter
  fuses attention; sdpa (either exporter) and the dynamo exporter (either attention) leave the
  attention as ~30 unfused MatMul/Softmax/Reshape nodes per layer. The fusion is checked: every
  layer must give one ``Attention`` node and at least one ``SkipLayerNormalization``, else the
  export fails (:class:`ExportError`) instead of shipping a silently unfused graph. ``fuse=False``
  (``--no-fuse``) skips it; ``exporter="dynamo"`` exports unfused (``Dim.AUTO`` shapes).
* Other encoders (ModernBERT, ...): the dynamo exporter, unfused (no BERT fusion patterns).
* BiGRU students: the legacy TorchScript exporter by default. The dynamo exporter keeps the
  sequence axis of a GRU dynamic only in the first GRU export of a process, so
  ``exporter="dynamo"`` exports a GRU in a fresh subprocess.
* Every export is checked in onnxruntime at two batch sizes and sequence lengths that differ from
  the export example (a graph that silently baked a shape in is caught there), with the wrapper
  and the model in eval mode.

int8 (``quantize_int8``): dynamic quantisation (weights int8, activations quantised at run time),
QOperator format (``MatMulInteger``/``QAttention``/``DynamicQuantizeLinear``), per-tensor or
per-channel weights (:data:`INT8_SCHEMES`); ``qdq-*`` schemes are static QDQ graphs calibrated on
example inputs (onnxruntime's ``quantize_dynamic`` writes QOperator only). The default was chosen by
measurement (benchmarks/RESULTS.md).

Sessions (:func:`codekd.evaluation.inference.ort_session`): options set explicitly: graph optimisation
level ``ORT_ENABLE_ALL``, ``intra_op_num_threads`` = the given threads, ``inter_op_num_threads`` = 1,
sequential execution.

Parity: the exported model and the PyTorch model are run over the test split (of ``--data`` or the
run's data) with the same tokenisation; the prediction agreement and the difference of the task's
headline metric are compared with thresholds (fp32: agreement >= 0.99 and |diff| <= 0.01; int8:
agreement >= 0.95 and |diff| <= 0.02, all configurable). An export that fails is refused: its
``.onnx`` file is removed, ``export.json`` records the figures with ``status`` ``refused`` (or
``int8_refused``), and :class:`ExportError` is raised.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")  # before onnxruntime is imported (STACK-NOTES)

import numpy as np

from ..data.loaders import load_task_data
from ..errors import CodekdError, ConfigError
from ..io import atomic_write_json
from ..models.students.presets import load_student
from ..models.teacher import Teacher
from ..tasks import get_task
from .inference import (EXPORT_FILE, InferenceModel, ModelRef, load_inference, load_onnx_inference, ort_feed,
                        ort_session, resolve_model, versions)
from ..metrics import agreement, classification_metrics, headline

FP32_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
EXPORT_FORMAT = 1
DEFAULT_OPSET = 18
EXAMPLE_SHAPE = (2, 16)
VERIFY_SHAPES = ((3, 29), (1, 11))
# families whose graphs onnxruntime's BERT optimizer fuses (model_type of the HF config)
FUSABLE_FAMILIES = ("bert", "roberta", "xlm-roberta", "camembert")
# fused operators the optimizer can produce (counted in export.json)
FUSED_OPS = ("Attention", "MultiHeadAttention", "EmbedLayerNormalization", "SkipLayerNormalization", "BiasGelu",
             "Gelu", "FastGelu", "GemmFastGelu")
# int8 schemes: (format, per_channel); qoperator = dynamic quantisation, qdq = static, calibrated
INT8_SCHEMES = {
    "qoperator-per-tensor": ("qoperator", False),
    "qoperator-per-channel": ("qoperator", True),
    "qdq-per-tensor": ("qdq", False),
    "qdq-per-channel": ("qdq", True),
}
DEFAULT_INT8_SCHEME = "qoperator-per-tensor"


class ExportError(CodekdError):
    """An export that failed its shape check or its parity check."""


@dataclass(frozen=True)
class Thresholds:
    min_agreement: float = 0.99
    max_metric_diff: float = 0.01
    int8_min_agreement: float = 0.95
    int8_max_metric_diff: float = 0.02


# ------------------------------------------------------------------------------------ graph export

def _torch_module():
    import torch

    class LogitsOnly(torch.nn.Module):
        """Exported wrapper: ids (+ mask, + token types) -> logits only."""

        def __init__(self, model: torch.nn.Module, with_token_types: bool = False):
            super().__init__()
            self.model = model
            self.with_token_types = with_token_types

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            kwargs = {"input_ids": input_ids, "attention_mask": attention_mask}
            if token_type_ids is not None:
                kwargs["token_type_ids"] = token_type_ids
            return self.model(**kwargs).logits

    return LogitsOnly


def logits_wrapper(model: Any, input_names: Sequence[str] = ("input_ids", "attention_mask")) -> Any:
    """The module that is exported: ``forward(input_ids, attention_mask[, token_type_ids]) -> logits``, in eval mode."""
    wrapper = _torch_module()(model, "token_type_ids" in input_names)
    return wrapper.eval()


def example_inputs(shape: tuple[int, int], vocab_size: int, input_names: Sequence[str], *, seed: int = 0,
                   pad_id: int = 1) -> dict[str, Any]:
    """Random token ids (ids 5.. to skip specials) with right padding in the first row."""
    import torch

    b, t = shape
    g = torch.Generator().manual_seed(seed)
    low = min(5, max(vocab_size - 1, 0))
    ids = torch.randint(low, max(vocab_size, low + 1), (b, t), generator=g)
    mask = torch.ones_like(ids)
    if t > 4:
        ids[0, t - 3:] = pad_id
        mask[0, t - 3:] = 0
    out = {"input_ids": ids, "attention_mask": mask}
    if "token_type_ids" in input_names:
        out["token_type_ids"] = torch.zeros_like(ids)
    return out


@contextlib.contextmanager
def _quiet():
    """Silence exporter chatter: progress prints, deprecation/trace warnings, info logs."""
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "torch.export", "torch._dynamo", "torch.__trace", "torch.fx", "onnxscript",
                                        "onnx_ir", "root", "")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    buf = io.StringIO()
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(buf):
            warnings.simplefilter("ignore")
            yield buf
    finally:
        for lg, lv in zip(loggers, levels):
            lg.setLevel(lv)


def _export_in_process(wrapper: Any, path: Path, inputs: dict[str, Any], input_names: Sequence[str],
                       exporter: str, opset: int) -> None:
    import torch

    args = tuple(inputs[n] for n in input_names)
    wrapper.eval()
    with _quiet(), torch.no_grad():
        if exporter == "dynamo":
            auto = torch.export.Dim.AUTO
            shapes = {n: {0: auto, 1: auto} for n in input_names}
            torch.onnx.export(wrapper, args, str(path), input_names=list(input_names), output_names=["logits"],
                              dynamo=True, external_data=False, dynamic_shapes=shapes, opset_version=opset,
                              verbose=False)
        else:
            axes = {n: {0: "batch", 1: "sequence"} for n in input_names}
            axes["logits"] = {0: "batch"}
            torch.onnx.export(wrapper, args, str(path), input_names=list(input_names), output_names=["logits"],
                              dynamo=False, dynamic_axes=axes, opset_version=min(opset, 17), do_constant_folding=True)
    wrapper.eval()  # the legacy exporter restores the training flag recursively (STACK-NOTES); keep eval


def is_fusable(family: str) -> bool:
    """True for the BERT-style families onnxruntime's transformer optimizer fuses."""
    return family in FUSABLE_FAMILIES


@contextlib.contextmanager
def eager_attention(model: Any):
    """Switch an HF model (or a :class:`~codekd.models.teacher.Teacher`) to eager attention for the
    block, restoring the previous implementation afterwards (sdpa graphs do not fuse)."""
    config = getattr(model, "config", None)
    prev = getattr(config, "_attn_implementation", None)
    switch = prev != "eager" and hasattr(model, "set_attn_implementation")
    if switch:
        model.set_attn_implementation("eager")
    try:
        yield model
    finally:
        if switch and prev is not None:  # unknown before: stays eager (same logits, see STACK-NOTES)
            model.set_attn_implementation(prev)


def op_counts(path: str | os.PathLike[str]) -> dict[str, int]:
    """Node count per operator type of an ONNX file (top-level graph)."""
    import onnx

    counts: dict[str, int] = {}
    for node in onnx.load(str(path), load_external_data=False).graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return counts


def fuse_transformer(path: str | os.PathLike[str], *, num_heads: int, hidden_size: int, num_layers: int) -> dict[str, Any]:
    """Run onnxruntime's BERT optimizer on ``path`` (in place) and check that it fused the graph.

    Returns ``{"optimizer", "nodes_before", "nodes_after", "fused"}``. Raises :class:`ExportError`
    when fewer than ``num_layers`` attention blocks or no skip-LayerNorm were fused (the file is then
    left unchanged).
    """
    from onnxruntime.transformers.optimizer import optimize_model

    path = Path(path)
    before = op_counts(path)
    logging.getLogger("onnxruntime").setLevel(logging.ERROR)
    with _quiet():
        opt = optimize_model(str(path), model_type="bert", num_heads=int(num_heads), hidden_size=int(hidden_size),
                             opt_level=0)
    after: dict[str, int] = {}
    for node in opt.model.graph.node:
        after[node.op_type] = after.get(node.op_type, 0) + 1
    fused = {op: after[op] for op in FUSED_OPS if after.get(op)}
    attention = fused.get("Attention", 0) + fused.get("MultiHeadAttention", 0)
    skip_ln = fused.get("SkipLayerNormalization", 0)
    if attention < num_layers or skip_ln == 0:
        raise ExportError(f"onnxruntime's optimizer fused {attention} of {num_layers} attention blocks and "
                          f"{skip_ln} skip-LayerNorms ({sum(before.values())} -> {sum(after.values())} nodes): "
                          "export with the legacy exporter and eager attention (exporter=auto), or pass --no-fuse")
    tmp = path.with_name(f".{path.name}.fused.tmp")
    try:
        opt.save_model_to_file(str(tmp), use_external_data_format=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return {"optimizer": "onnxruntime.transformers.optimizer (bert, opt_level 0)", "nodes_before": sum(before.values()),
            "nodes_after": sum(after.values()), "fused": fused}


def verify_shapes(wrapper: Any, path: Path, vocab_size: int, input_names: Sequence[str], *, pad_id: int = 1,
                  shapes: Sequence[tuple[int, int]] = VERIFY_SHAPES, atol: float = 1e-3) -> dict[str, Any]:
    """Run the ONNX file and the PyTorch wrapper at shapes other than the export example; raise on mismatch."""
    import torch

    sess = ort_session(path, threads=1)
    graph_inputs = {i.name: list(i.shape) for i in sess.get_inputs()}
    worst = 0.0
    wrapper.eval()
    for k, shape in enumerate(shapes):
        inputs = example_inputs(shape, vocab_size, input_names, seed=100 + k, pad_id=pad_id)
        with torch.no_grad():
            ref = wrapper(*(inputs[n] for n in input_names)).float().numpy()
        try:
            got = sess.run(["logits"], ort_feed(sess, inputs))[0]
        except Exception as exc:  # a shape baked into the graph
            raise ExportError(f"the exported graph rejects batch {shape[0]} x length {shape[1]} "
                              f"(graph inputs {graph_inputs}): {str(exc).splitlines()[0][:200]}") from None
        if got.shape != ref.shape:
            raise ExportError(f"exported logits have shape {got.shape}, PyTorch {ref.shape} at {shape}")
        diff = float(np.abs(got - ref).max())
        tol = atol * max(1.0, float(np.abs(ref).max()))
        if not diff <= tol:
            raise ExportError(f"exported logits differ from PyTorch by {diff:.3g} at batch {shape[0]} x length "
                              f"{shape[1]} (tolerance {tol:.3g})")
        worst = max(worst, diff)
    return {"shapes": [list(s) for s in shapes], "max_abs_diff": worst, "graph_inputs": graph_inputs}


def _export_gru_subprocess(model_dir: str, kind: str, path: Path, opset: int, input_names: Sequence[str]) -> None:
    cmd = [sys.executable, "-m", "codekd.evaluation.export", "--child", model_dir, kind, str(path), str(opset),
           ",".join(input_names)]
    env = dict(os.environ)
    env.setdefault("ORT_DISABLE_TELEMETRY", "1")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0 or not path.is_file():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise ExportError(f"GRU export in a fresh process failed: {tail[0]}")


def export_onnx(model: Any, path: str | os.PathLike[str], *, vocab_size: int, family: str,
                input_names: Sequence[str] = ("input_ids", "attention_mask"), exporter: str = "auto",
                opset: int = DEFAULT_OPSET, pad_id: int = 1, model_dir: str | None = None,
                kind: str = "student", fuse: bool = True) -> dict[str, Any]:
    """Export ``model`` (an HF-style classifier whose output has ``.logits``) to one ONNX file, fuse it
    (BERT-style families, ``fuse=True``) and verify it at other shapes.
    Returns ``{"exporter", "opset", "fusion", "verify", "seconds"}``.

    ``exporter``: ``auto`` (legacy for BiGRU and for fused BERT/RoBERTa, dynamo otherwise), ``dynamo``
    or ``legacy``. A BiGRU with ``dynamo`` is exported in a fresh subprocess from ``model_dir``
    (required then). With ``fuse`` and a fusable family, a graph the optimizer cannot fuse raises
    :class:`ExportError`.
    """
    t0 = time.perf_counter()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if exporter not in ("auto", "dynamo", "legacy"):
        raise ConfigError(f"exporter must be auto, dynamo or legacy, got {exporter!r}")
    is_gru = family == "gru"
    do_fuse = bool(fuse) and is_fusable(family)
    used = ("legacy" if is_gru or do_fuse else "dynamo") if exporter == "auto" else exporter
    model.eval()
    wrapper = logits_wrapper(model, input_names)
    inputs = example_inputs(EXAMPLE_SHAPE, vocab_size, input_names, pad_id=pad_id)
    fusion: dict[str, Any] = {"applied": False, "reason": "BiGRU (no transformer fusions)" if is_gru else
                              ("disabled (fuse=False)" if not fuse else
                               (f"no BERT fusion patterns for {family}" if not do_fuse else ""))}
    with (eager_attention(model) if do_fuse else contextlib.nullcontext()):
        if is_gru and used == "dynamo":
            if model_dir is None:
                raise ConfigError("a BiGRU is exported with dynamo only from a saved folder (fresh subprocess); "
                                  "use exporter='legacy' or save the model first")
            _export_gru_subprocess(model_dir, kind, path, opset, input_names)
            used = "dynamo (fresh subprocess)"
        else:
            _export_in_process(wrapper, path, inputs, input_names, used, opset)
        if model.training or wrapper.training:  # pragma: no cover - guarded by _export_in_process
            model.eval()
            wrapper.eval()
        if do_fuse:
            config = model.config
            fusion = {"applied": True, **fuse_transformer(path, num_heads=int(config.num_attention_heads),
                                                          hidden_size=int(config.hidden_size),
                                                          num_layers=int(config.num_hidden_layers))}
        verify = verify_shapes(wrapper, path, vocab_size, input_names, pad_id=pad_id)
    return {"exporter": used, "opset": opset if used != "legacy" else min(opset, 17), "fusion": fusion,
            "verify": verify, "seconds": round(time.perf_counter() - t0, 3)}


def resolve_int8_scheme(name: str | None) -> tuple[str, str, bool]:
    """``(name, format, per_channel)`` of an int8 scheme (``None``: the default)."""
    key = DEFAULT_INT8_SCHEME if name in (None, "", "default") else str(name)
    if key not in INT8_SCHEMES:
        raise ConfigError(f"unknown int8 scheme {name!r} (known: {', '.join(INT8_SCHEMES)})")
    fmt, per_channel = INT8_SCHEMES[key]
    return key, fmt, per_channel


class _Calibration:
    """onnxruntime ``CalibrationDataReader`` over a list of feeds (static QDQ schemes)."""

    def __init__(self, feeds: Sequence[dict[str, np.ndarray]]):
        self._it = iter(list(feeds))

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._it, None)


def calibration_feeds(path: str | os.PathLike[str], vocab_size: int, *, n: int = 8, shape: tuple[int, int] = (4, 64),
                      pad_id: int = 1) -> list[dict[str, np.ndarray]]:
    """Random-id feeds for the inputs of the ONNX file at ``path`` (static calibration when no data is given)."""
    import onnx

    names = [i.name for i in onnx.load(str(path), load_external_data=False).graph.input]
    feeds = []
    for k in range(n):
        inp = example_inputs(shape, vocab_size, names, seed=1000 + k, pad_id=pad_id)
        feeds.append({nm: inp[nm].numpy().astype(np.int64) for nm in names})
    return feeds


def quantize_int8(src: str | os.PathLike[str], dst: str | os.PathLike[str], *, scheme: str | None = None,
                  calibration: Sequence[dict[str, np.ndarray]] | None = None) -> dict[str, Any]:
    """int8 quantisation of an ONNX file; returns ``{"scheme", "format", "per_channel"}``.

    ``qoperator-*``: ``quantize_dynamic`` (QInt8 weights, activations quantised at run time).
    ``qdq-*``: ``quantize_static`` in QDQ format (QInt8 weights and activations), calibrated on
    ``calibration`` feeds (required for these schemes).
    """
    import onnx
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_dynamic, quantize_static

    name, fmt, per_channel = resolve_int8_scheme(scheme)
    # a fused graph's com.microsoft ops (Attention, SkipLayerNormalization) have no ONNX shape inference,
    # so the quantiser cannot type their outputs: they are float32 tensors
    extra = {"DefaultTensorType": onnx.TensorProto.FLOAT}
    with _quiet():
        if fmt == "qoperator":
            quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=per_channel,
                             extra_options=extra)
        else:
            if not calibration:
                raise ConfigError(f"int8 scheme {name} is static: it needs calibration inputs")
            # MatMul and the fused Attention only: the quantiser cannot scale the biases of the fused
            # embedding/LayerNorm ops (their inputs' types are unknown to ONNX shape inference)
            quantize_static(str(src), str(dst), _Calibration(calibration), quant_format=QuantFormat.QDQ,
                            per_channel=per_channel, weight_type=QuantType.QInt8, activation_type=QuantType.QInt8,
                            op_types_to_quantize=["MatMul", "Attention"], extra_options=extra)
    return {"scheme": name, "format": fmt, "per_channel": per_channel}


# ------------------------------------------------------------------------------------ the command

def _versions() -> dict[str, str]:
    return versions(("codekd", "torch", "transformers", "onnx", "onnxruntime", "onnxscript"))


def _default_export_dir(ref: ModelRef) -> Path:
    if ref.run_dir is not None:
        return Path(ref.run_dir) / "onnx"
    folder = ref.folder
    if folder is None:
        raise ConfigError(f"{ref.source!r} is not a folder: pass --out for the export folder")
    return folder.parent / f"{folder.name}-onnx"


def _parity(task: Any, ref_logits: np.ndarray, got: np.ndarray, labels: np.ndarray, num_labels: int) -> dict[str, Any]:
    m_ref = classification_metrics(ref_logits, labels, num_labels)
    m_got = classification_metrics(got, labels, num_labels)
    return {"examples": int(len(labels)), "agreement": agreement(ref_logits, got),
            "headline_pytorch": headline(task, m_ref), "headline_onnx": headline(task, m_got),
            "metric_diff": abs(headline(task, m_got) - headline(task, m_ref)),
            "max_abs_logit_diff": float(np.abs(ref_logits - got).max()) if len(labels) else 0.0}


@dataclass
class _Subject:
    """What is exported of a loaded model: the module, its tokenizer and config, the graph's inputs."""

    module: Any                    # a Teacher (its forward returns .logits, custom heads included) or a student
    tokenizer: Any
    config: Any
    input_names: list[str]
    family: str
    teacher_settings: dict[str, Any] | None = None  # a teacher's tokenisation settings (export.json "teacher")

    @property
    def pad_id(self) -> int:
        return self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 1

    @property
    def vocab_size(self) -> int:
        return int(getattr(self.config, "vocab_size", len(self.tokenizer)))


@dataclass
class _ExportFolder:
    """The export folder and its ``export.json`` (``meta``), written at every status change."""

    path: Path
    meta: dict[str, Any]
    t0: float  # time.perf_counter() when the export started: export.json records the seconds so far

    def write(self, status: str) -> None:
        self.meta["status"] = status
        self.meta["seconds"] = round(time.perf_counter() - self.t0, 3)
        atomic_write_json(self.path / EXPORT_FILE, self.meta)

    def refuse(self, status: str, error: str) -> None:
        """Record why the export (``refused``) or its int8 model (``int8_refused``) was refused."""
        self.meta["error"] = error
        self.write(status)


@dataclass
class _ParityCheck:
    """The PyTorch model's logits on the parity split, against which each exported file is run."""

    task: Any
    split: Any  # codekd.data.loaders.Split
    labels: np.ndarray
    ref_logits: np.ndarray
    num_labels: int
    normalization: str
    batch_size: int
    max_examples: int | None
    threads: int | None

    def run(self, folder: _ExportFolder, onnx_name: str) -> dict[str, Any]:
        """The parity figures of ``onnx_name`` in the export folder (run as an export is loaded)."""
        dest = folder.path
        eref = ModelRef(str(dest), "onnx", str(dest), onnx_file=dest / onnx_name, export=folder.meta)
        oinf = load_onnx_inference(eref, num_labels=self.num_labels, threads=self.threads)
        oinf.normalization = self.normalization
        got = oinf.split_logits(self.split, self.batch_size, max_examples=self.max_examples)
        return _parity(self.task, self.ref_logits, got, self.labels, self.num_labels)


def _load_for_export(model: str | os.PathLike[str], *, data: str | os.PathLike[str] | None, task: str | None,
                     split: str, max_length: int | None, normalization: str | None
                     ) -> tuple[Any, str, Any, InferenceModel]:
    """``(task, data path, data, model)``: the model to export loaded on the CPU, and the data whose
    ``split`` its parity is checked on (the run's by default)."""
    ref = resolve_model(model)
    if ref.kind == "onnx":
        raise ConfigError("this is already an export (give the run or model folder)", path=ref.path)
    cfg = ref.config
    task_name = task or (cfg.task if cfg is not None else None)
    data_path = str(data) if data is not None else (cfg.data if cfg is not None else None)
    if not task_name or not data_path:
        raise ConfigError("export checks parity on test data: pass --data and --task (or export a run folder)")
    task_obj = get_task(task_name)
    tdata = load_task_data(data_path, task_obj, splits=(split,))
    inf = load_inference(ref, task=task_obj.name, num_labels=tdata.num_labels, max_length=max_length,
                         normalization=normalization, device="cpu")
    return task_obj, data_path, tdata, inf


def _fresh_export_dir(out: str | os.PathLike[str] | None, ref: ModelRef) -> Path:
    """The export folder (``out``, else beside the model), made, without the files of an earlier export."""
    dest = Path(out) if out is not None else _default_export_dir(ref)
    dest.mkdir(parents=True, exist_ok=True)
    for f in (FP32_FILE, INT8_FILE, EXPORT_FILE):
        (dest / f).unlink(missing_ok=True)
    return dest


def _export_subject(inf: InferenceModel) -> _Subject:
    """What of the loaded student or teacher goes into the graph; a separately-encoding pair teacher is refused."""
    module = inf.module
    if inf.ref.kind == "teacher":
        teacher = module
        if teacher.separate:
            raise ConfigError("a teacher that encodes pairs separately (pair_mode=separate) is not exportable "
                              "as one graph; export a joint-pair or single-function model")
        sample = teacher.encode(["a b"], ["c"] if teacher.is_pair else None)
        input_names = ["input_ids", "attention_mask"] + (["token_type_ids"] if "token_type_ids" in sample else [])
        settings = {"num_labels": teacher.num_labels, "is_pair": teacher.is_pair, "pair_mode": teacher.pair_mode,
                    "unixcoder": teacher.unixcoder, "max_length": teacher.max_length,
                    "custom_head": teacher.head is not None, "source": teacher.source}
        return _Subject(teacher, teacher.tokenizer, teacher.config, input_names, teacher.config.model_type, settings)
    config = module.config
    family = "gru" if config.model_type == "codekd-bigru" else config.model_type
    return _Subject(module, inf.side.encode.tokenizer, config, ["input_ids", "attention_mask"], family)


def _write_model_files(dest: Path, ref: ModelRef, subject: _Subject, names: list[str]) -> None:
    """The tokenizer, the config (the data's label names as id2label) and codekd's settings file."""
    config = subject.config
    config.id2label = {i: n for i, n in enumerate(names)}
    config.label2id = {n: i for i, n in enumerate(names)}
    subject.tokenizer.save_pretrained(dest)
    config.save_pretrained(dest)
    if ref.folder is not None:
        for extra in ("codekd_student.json", "codekd_teacher.json"):
            if (ref.folder / extra).is_file():
                shutil.copy2(ref.folder / extra, dest / extra)


def _manifest(inf: InferenceModel, subject: _Subject, task: Any, data_path: str, split: str, names: list[str],
              num_labels: int, thresholds: Thresholds) -> dict[str, Any]:
    """``export.json`` as the export starts (status ``exporting``); the steps add their figures."""
    ref = inf.ref
    return {
        "format": EXPORT_FORMAT, "status": "exporting", "kind": ref.kind, "family": subject.family,
        "source": ref.source, "run": str(ref.run_dir) if ref.run_dir else None, "task": task.name,
        "data": str(Path(data_path).resolve()), "split": split, "labels": names, "num_labels": num_labels,
        "normalization": inf.normalization, "max_length": inf.max_length, "input_names": subject.input_names,
        "output_names": ["logits"], "files": {}, "sizes_bytes": {},
        "params": int(sum(p.numel() for p in subject.module.parameters())), "thresholds": thresholds.__dict__,
        "teacher": subject.teacher_settings, "versions": _versions(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _export_fp32(folder: _ExportFolder, subject: _Subject, *, model_dir: str, kind: str, exporter: str, opset: int,
                 fuse: bool) -> Path:
    """The fp32 graph (:func:`export_onnx`: fused where BERT-style, checked at other shapes). A graph
    that fails its checks is removed, the export recorded as refused, and the error raised."""
    fp32 = folder.path / FP32_FILE
    try:
        info = export_onnx(subject.module, fp32, vocab_size=subject.vocab_size, family=subject.family,
                           input_names=subject.input_names, exporter=exporter, opset=opset, pad_id=subject.pad_id,
                           model_dir=model_dir, kind=kind, fuse=fuse)
    except ExportError as exc:
        fp32.unlink(missing_ok=True)
        folder.refuse("refused", str(exc))
        raise
    meta = folder.meta
    meta.update(exporter=info["exporter"], opset=info["opset"], fusion=info["fusion"], verify=info["verify"],
                export_seconds=info["seconds"])
    meta["files"]["fp32"] = FP32_FILE
    meta["sizes_bytes"]["fp32"] = fp32.stat().st_size
    return fp32


def _parity_check(inf: InferenceModel, tdata: Any, split: str, task: Any, *, batch_size: int,
                  max_examples: int | None, threads: int | None) -> _ParityCheck:
    """The PyTorch model run over ``split`` of the data: the reference of every parity check."""
    labels = tdata[split].labels
    ref_logits = inf.split_logits(tdata[split], batch_size, max_examples=max_examples)
    return _ParityCheck(task=task, split=tdata[split], labels=labels[: len(ref_logits)], ref_logits=ref_logits,
                        num_labels=tdata.num_labels, normalization=inf.normalization, batch_size=batch_size,
                        max_examples=max_examples, threads=threads)


def _check_fp32(folder: _ExportFolder, parity: _ParityCheck, thresholds: Thresholds, fp32: Path) -> None:
    """The fp32 graph's parity; one below the thresholds is removed and the export refused (raised)."""
    meta = folder.meta
    meta["parity"] = {"fp32": parity.run(folder, FP32_FILE)}
    p = meta["parity"]["fp32"]
    if p["agreement"] < thresholds.min_agreement or p["metric_diff"] > thresholds.max_metric_diff:
        fp32.unlink(missing_ok=True)
        meta["files"].pop("fp32")
        msg = (f"fp32 export refused: agreement {p['agreement']:.4f} (min {thresholds.min_agreement}), "
               f"{parity.task.metric} diff {p['metric_diff']:.4f} (max {thresholds.max_metric_diff})")
        folder.refuse("refused", msg)
        raise ExportError(msg, path=folder.path)


def _quantise(folder: _ExportFolder, fp32: Path, scheme: str, subject: _Subject) -> Path:
    """The int8 model of the fp32 graph (:func:`quantize_int8`; static schemes calibrated on random ids)."""
    meta = folder.meta
    q = folder.path / INT8_FILE
    calib = calibration_feeds(fp32, subject.vocab_size, pad_id=subject.pad_id) if INT8_SCHEMES[scheme][0] == "qdq" \
        else None
    meta["int8"] = quantize_int8(fp32, q, scheme=scheme, calibration=calib)
    if calib:
        meta["int8"]["calibration"] = f"{len(calib)} batches of random token ids"
    meta["files"]["int8"] = INT8_FILE
    meta["sizes_bytes"]["int8"] = q.stat().st_size
    return q


def _check_int8(folder: _ExportFolder, parity: _ParityCheck, thresholds: Thresholds, q: Path) -> None:
    """The int8 model's parity; one below the thresholds is removed (the fp32 model is kept) and refused (raised)."""
    meta = folder.meta
    meta["parity"]["int8"] = pi = parity.run(folder, INT8_FILE)
    if pi["agreement"] < thresholds.int8_min_agreement or pi["metric_diff"] > thresholds.int8_max_metric_diff:
        q.unlink(missing_ok=True)
        meta["files"].pop("int8")
        meta["sizes_bytes"].pop("int8")
        msg = (f"int8 export refused: agreement {pi['agreement']:.4f} (min {thresholds.int8_min_agreement}), "
               f"{parity.task.metric} diff {pi['metric_diff']:.4f} (max {thresholds.int8_max_metric_diff}); "
               "the fp32 model is kept")
        folder.refuse("int8_refused", msg)
        raise ExportError(msg, path=folder.path)


def export_model(
    model: str | os.PathLike[str],
    *,
    out: str | os.PathLike[str] | None = None,
    data: str | os.PathLike[str] | None = None,
    task: str | None = None,
    int8: bool = False,
    split: str = "test",
    normalization: str | None = None,
    max_length: int | None = None,
    exporter: str = "auto",
    opset: int = DEFAULT_OPSET,
    thresholds: Thresholds = Thresholds(),
    batch_size: int = 32,
    max_examples: int | None = None,
    threads: int | None = None,
    fuse: bool = True,
    int8_scheme: str | None = None,
) -> dict[str, Any]:
    """Export a student or teacher (run folder or model folder) to ONNX (+ int8), check parity on
    ``split`` of the data, and write the export folder. Returns the ``export.json`` content.

    ``fuse``: run onnxruntime's transformer optimizer on BERT/RoBERTa graphs (checked, see the module
    docstring). ``int8_scheme``: one of :data:`INT8_SCHEMES` (default :data:`DEFAULT_INT8_SCHEME`;
    static ``qdq-*`` schemes are calibrated on random token ids).

    Raises :class:`ExportError` when a shape check or a parity check fails (the failed file is
    removed; ``export.json`` records why).
    """
    t0 = time.perf_counter()
    scheme_name = resolve_int8_scheme(int8_scheme)[0]
    task_obj, data_path, tdata, inf = _load_for_export(model, data=data, task=task, split=split,
                                                       max_length=max_length, normalization=normalization)
    ref = inf.ref
    if inf.info.get("new_head"):
        warnings.warn(f"{ref.source}: the classification head is freshly initialised; the export has random "
                      "predictions", stacklevel=2)
    names = list(tdata.labels)
    dest = _fresh_export_dir(out, ref)
    subject = _export_subject(inf)
    _write_model_files(dest, ref, subject, names)
    folder = _ExportFolder(dest, _manifest(inf, subject, task_obj, data_path, split, names, tdata.num_labels,
                                           thresholds), t0)
    fp32 = _export_fp32(folder, subject, model_dir=str(ref.path), kind=ref.kind, exporter=exporter, opset=opset,
                        fuse=fuse)
    parity = _parity_check(inf, tdata, split, task_obj, batch_size=batch_size, max_examples=max_examples,
                           threads=threads)
    folder.write("checking")
    _check_fp32(folder, parity, thresholds, fp32)
    if int8:
        q = _quantise(folder, fp32, scheme_name, subject)
        _check_int8(folder, parity, thresholds, q)
    folder.write("ok")
    folder.meta["folder"] = str(dest)
    return folder.meta


# ------------------------------------------------------------------------------------ child process

def _child(argv: list[str]) -> int:
    """``--child MODEL_DIR KIND OUT.onnx OPSET NAMES``: dynamo export of one saved model, then exit."""
    model_dir, kind, out, opset, names = argv
    input_names = names.split(",")
    if kind == "teacher":
        model = Teacher.load(model_dir)
        vocab = int(model.config.vocab_size)
    else:
        model, _ = load_student(model_dir, with_tokenizer=False)
        vocab = int(model.config.vocab_size)
    model.eval()
    wrapper = logits_wrapper(model, input_names)
    inputs = example_inputs(EXAMPLE_SHAPE, vocab, input_names)
    _export_in_process(wrapper, Path(out), inputs, input_names, "dynamo", int(opset))
    return 0


if __name__ == "__main__":  # pragma: no cover - exercised through export_onnx(exporter="dynamo") on a GRU
    if len(sys.argv) == 7 and sys.argv[1] == "--child":
        sys.exit(_child(sys.argv[2:]))
    print("usage: python -m codekd.evaluation.export --child MODEL_DIR KIND OUT.onnx OPSET NAMES", file=sys.stderr)
    sys.exit(2)


__all__ = ["ExportError", "Thresholds", "export_model", "export_onnx", "quantize_int8", "fuse_transformer",
           "op_counts", "is_fusable", "eager_attention", "resolve_int8_scheme", "calibration_feeds", "INT8_SCHEMES",
           "DEFAULT_INT8_SCHEME", "logits_wrapper", "verify_shapes", "example_inputs", "FP32_FILE", "INT8_FILE"]
