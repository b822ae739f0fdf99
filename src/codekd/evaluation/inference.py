"""Loading a model for inference: what ``RUN_OR_MODEL`` points at, and one interface over PyTorch and
onnxruntime.

:func:`resolve_model` tells what a user-given run folder, model folder, export folder, ``.onnx``
file, alias or hub id is (a :class:`ModelRef`); :func:`load_inference` loads it as an
:class:`InferenceModel` (a student, a teacher, or an export run by onnxruntime through
:func:`load_onnx_inference`), with its own tokenisation and its run's normalisation. Evaluation,
prediction, export (its parity check) and the benchmark all load models here.

onnxruntime sessions (:func:`ort_session`) get their options set explicitly (:func:`session_options`):
graph optimisation level ``ORT_ENABLE_ALL``, ``intra_op_num_threads`` = the given threads,
``inter_op_num_threads`` = 1, sequential execution.

onnxruntime is imported where it is used: it is heavy, and only export folders need it.
"""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import platform
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")  # before onnxruntime is imported (STACK-NOTES)

import numpy as np
import torch
from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification, AutoTokenizer

from ..config import load_run_config
from ..data.loaders import read_label_names
from ..data.normalize import normalize_code
from ..engine.batching import TextEncoder, code_lengths, to_device
from ..engine.sides import ModelSide, predict_logits, student_side, teacher_side
from ..errors import CodekdError, ConfigError, ModelLoadError
from ..io import read_json
from ..methods.base import Outputs
from ..models.hf import MODEL_ALIASES, hf_load, hub_model_available, quiet_transformers
from ..models.students.presets import STUDENT_SPEC_FILE, load_student
from ..models.teacher import TEACHER_FILE, Teacher, has_sequence_classifier
from ..tasks import get_task

RUN_CONFIG = "config.yaml"
BEST = "best"
EXPORT_FILE = "export.json"
#: the placeholder label names Hugging Face gives a config without its own (LABEL_0, LABEL_1, ...)
DEFAULT_LABEL = re.compile(r"^LABEL_\d+$")


# ------------------------------------------------------------------------------------ references

@dataclass
class ModelRef:
    """What a user-given ``RUN_OR_MODEL`` points at.

    ``kind`` is ``student``, ``teacher`` or ``onnx``; ``path`` is the folder (or alias) to load;
    ``run_dir`` and ``config`` are set for run folders; ``onnx_file`` and ``export`` for exports.
    """

    source: str
    kind: str
    path: str
    run_dir: Path | None = None
    config: Any = None  # codekd.config.RunConfig
    onnx_file: Path | None = None
    export: dict[str, Any] | None = None

    @property
    def folder(self) -> Path | None:
        p = Path(self.path)
        return p if p.is_dir() else None


def _load_run_config(run_dir: Path) -> Any:
    return load_run_config(run_dir / RUN_CONFIG)


def _folder_kind(folder: Path) -> str:
    if (folder / STUDENT_SPEC_FILE).is_file():
        return "student"
    if (folder / TEACHER_FILE).is_file():
        return "teacher"
    try:
        cfg = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        cfg = {}
    return "student" if cfg.get("model_type") == "codekd-bigru" else "teacher"


def _export_meta(path: Path) -> dict[str, Any]:
    meta = read_json(path, "export settings", error=ModelLoadError)
    if not isinstance(meta, dict):
        raise ModelLoadError("export settings must be a JSON object", path=path)
    return meta


def resolve_model(source: str | os.PathLike[str]) -> ModelRef:
    """Classify a run folder, model folder, export folder, ``.onnx`` file, alias or hub id."""
    src = str(source)
    p = Path(src)
    if p.is_file() and p.suffix == ".onnx":
        meta_file = p.parent / EXPORT_FILE
        if not meta_file.is_file():
            raise ModelLoadError(f"{p.name} has no {EXPORT_FILE} beside it (export folders are written by "
                                 "'codekd export'; the tokenizer and settings live there)", path=p)
        return ModelRef(src, "onnx", str(p.parent), onnx_file=p, export=_export_meta(meta_file))
    if p.is_dir():
        if (p / EXPORT_FILE).is_file():
            meta = _export_meta(p / EXPORT_FILE)
            files = meta.get("files") or {}
            name = files.get("fp32") or files.get("int8")
            if not name or not (p / name).is_file():
                raise ModelLoadError("export folder holds no ONNX model (was the export refused?)", path=p)
            return ModelRef(src, "onnx", str(p), onnx_file=p / name, export=meta)
        if (p / RUN_CONFIG).is_file():
            best = p / BEST
            if not (best / "config.json").is_file():
                raise ModelLoadError("run folder has no best/ model (has the run finished?)", path=p)
            cfg = _load_run_config(p)
            kind = "teacher" if cfg.kind == "finetune" else _folder_kind(best)
            return ModelRef(src, kind, str(best), run_dir=p, config=cfg)
        if (p / "config.json").is_file():
            # a run's best/ folder: pick up the run around it
            parent = p.parent
            if p.name == BEST and (parent / RUN_CONFIG).is_file():
                cfg = _load_run_config(parent)
                return ModelRef(src, _folder_kind(p), str(p), run_dir=parent, config=cfg)
            return ModelRef(src, _folder_kind(p), str(p))
        raise ModelLoadError("not a run, model or export folder (no config.yaml, config.json or export.json)", path=p)
    if p.suffix == ".onnx" or src.startswith((".", "/", "~")):
        raise ModelLoadError("no such file or folder", path=p)
    if src.lower() not in MODEL_ALIASES and not hub_model_available(src):
        raise ModelLoadError("no such run, model or export folder (nor a hub model in the local Hugging Face cache; "
                             "loading is offline)", path=p)
    return ModelRef(src, "teacher", src)  # alias or hub id


# ------------------------------------------------------------------------------------ PyTorch

@dataclass
class InferenceModel:
    """A loaded model with its tokenisation settings; PyTorch or onnxruntime behind one interface."""

    ref: ModelRef
    side: Any                 # codekd.engine.trainer.ModelSide
    module: Any               # torch.nn.Module (a placeholder for onnxruntime)
    num_labels: int
    max_length: int
    normalization: str
    task: str | None
    data: str | None
    family: str
    device: Any
    label_names: list[str] | None = None
    runtime: str = "pytorch"  # pytorch | onnxruntime
    info: dict[str, Any] = field(default_factory=dict)

    def split_logits(self, split: Any, batch_size: int = 64, max_examples: int | None = None) -> np.ndarray:
        """Logits for every row of a :class:`~codekd.data.loaders.Split` (row order)."""
        with torch.inference_mode():
            return predict_logits(self.side, self.module, split, self.normalization, batch_size, self.device,
                                  lengths=code_lengths(split, self.normalization), max_examples=max_examples)

    def logits(self, codes: Sequence[tuple[str, ...]], batch_size: int = 32) -> np.ndarray:
        """Logits for raw (un-normalised) code tuples: ``(func,)`` or ``(func1, func2)``."""
        out: list[np.ndarray] = []
        order = np.argsort([-sum(len(c) for c in tup) for tup in codes], kind="stable")
        self.module.eval()
        with torch.inference_mode():
            for i in range(0, len(codes), batch_size):
                idx = order[i:i + batch_size]
                batch = [tuple(normalize_code(c, self.normalization) for c in codes[j]) for j in idx]
                enc = to_device(self.side.encode(batch), self.device)
                out.append(self.side.forward(self.module, enc, False).logits.float().cpu().numpy())
        if not out:
            return np.zeros((0, self.num_labels), dtype=np.float32)
        logits = np.concatenate(out)
        result = np.empty_like(logits)
        result[order] = logits
        return result


def default_device(device: str | None = None) -> Any:
    if device:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _tokenizer_max_length(tokenizer: Any) -> int | None:
    ml = getattr(tokenizer, "model_max_length", None)
    return int(ml) if ml and ml < 1_000_000 else None


def _config_label_names(config: Any, n: int) -> list[str] | None:
    id2label = getattr(config, "id2label", None) or {}
    names = [str(id2label.get(i, id2label.get(str(i), ""))) for i in range(n)]
    if not all(names) or all(DEFAULT_LABEL.match(x) for x in names):
        return None
    return names


def _run_label_names(cfg: Any) -> list[str] | None:
    """The label list of a run's dataset (labels.json or the task's labels), if still readable."""
    if cfg is None:
        return None
    try:
        task = get_task(cfg.task)
        if task.labels_from_data:
            return list(read_label_names(Path(cfg.data)))
        return list(task.labels) or None
    except CodekdError:
        return None


def load_inference(
    source: str | os.PathLike[str] | ModelRef,
    *,
    task: str | None = None,
    num_labels: int | None = None,
    max_length: int | None = None,
    normalization: str | None = None,
    device: str | None = None,
    int8: bool = False,
    threads: int | None = None,
) -> InferenceModel:
    """Load ``source`` for inference (see :func:`resolve_model` for what it may be).

    ``task`` / ``normalization`` / ``max_length`` default to the run's (or the export's) settings,
    else to the task given, ``whitespace`` and the model's own limit. ``num_labels`` is checked
    against the model when given (a new, random head is never silently used for a fine-tuned model).
    ``int8`` picks the int8 file of an export folder.
    """
    ref = source if isinstance(source, ModelRef) else resolve_model(source)
    if ref.kind == "onnx":
        return load_onnx_inference(ref, task=task, num_labels=num_labels, max_length=max_length,
                                   normalization=normalization, int8=int8, threads=threads)
    cfg = ref.config
    task_name = task or (cfg.task if cfg is not None else None)
    task_obj = get_task(task_name) if task_name else None
    norm = normalization or (cfg.normalization if cfg is not None else "whitespace")
    dev = default_device(device)
    info: dict[str, Any] = {}
    if num_labels is None and task_obj is not None and task_obj.labels:
        num_labels = len(task_obj.labels)
    if ref.kind == "student":
        model, tokenizer = load_student(ref.path)
        if tokenizer is None:
            raise ModelLoadError("the student folder has no tokenizer (tokenizer_config.json)", path=ref.path)
        n = int(model.config.num_labels)
        if num_labels is not None and n != num_labels:
            raise ConfigError(f"the student has {n} labels but the task data has {num_labels}", path=ref.path)
        ml = max_length or (cfg.train.max_length if cfg is not None else None) or _tokenizer_max_length(tokenizer) or 512
        side = student_side(model, tokenizer, ml)
        ml = side.encode.max_length  # capped by the position table
        family = "gru" if model.config.model_type == "codekd-bigru" else model.config.model_type
        module = model
        names = _config_label_names(model.config, n)
    else:
        saved: dict[str, Any] = {}
        folder = ref.folder
        if folder is not None and (folder / TEACHER_FILE).is_file():
            saved = read_json(folder / TEACHER_FILE, "teacher settings", error=ModelLoadError)
            saved = saved if isinstance(saved, dict) else {}
            if num_labels is not None and int(saved.get("num_labels", num_labels)) != num_labels:
                raise ConfigError(f"the teacher was fine-tuned with {saved['num_labels']} labels but the task data "
                                  f"has {num_labels}", path=ref.path)
        elif folder is not None:
            try:
                hf_cfg = json.loads((folder / "config.json").read_text())
                n_cfg = len(hf_cfg.get("id2label") or {}) or int(hf_cfg.get("num_labels", 0) or 0)
            except (OSError, json.JSONDecodeError, ValueError):
                n_cfg = 0
            if num_labels is None and n_cfg:
                num_labels = n_cfg  # a plain classifier folder: its own head
            elif n_cfg and n_cfg != num_labels:
                info["new_head"] = True
        is_pair = task_obj.is_pair if task_obj is not None else None
        pair_mode = cfg.teacher.pair_mode if cfg is not None else None
        ml_req = max_length or (cfg.train.max_length if cfg is not None and cfg.kind == "finetune" else None)
        teacher = Teacher.load(ref.path, num_labels, is_pair=is_pair, pair_mode=pair_mode, max_length=ml_req)
        if not saved and ref.run_dir is None and folder is None:
            info["new_head"] = True  # an alias or hub id: its classification head is freshly initialised
        side = teacher_side(teacher)
        module = teacher
        n = teacher.num_labels
        ml = teacher.max_length
        family = teacher.config.model_type
        names = _config_label_names(teacher.config, n)
    if cfg is not None:
        info["run_settings"] = norm == cfg.normalization and (max_length is None or max_length == cfg.train.max_length)
    module.to(dev).eval()
    names = names or _run_label_names(cfg) or (list(task_obj.labels) if task_obj is not None and task_obj.labels else None)
    if names is not None and len(names) != n:
        names = None
    return InferenceModel(ref=ref, side=side, module=module, num_labels=n, max_length=int(ml), normalization=norm,
                          task=task_name, data=cfg.data if cfg is not None else None, family=family, device=dev,
                          label_names=names, info=info)


# ------------------------------------------------------------------------------------ onnxruntime

def session_options(threads: int | None = None) -> Any:
    """onnxruntime session options, every one that matters for speed set explicitly: graph optimisation
    ``ORT_ENABLE_ALL``, ``intra_op_num_threads`` = ``threads`` (0: onnxruntime's default), inter-op 1,
    sequential execution."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.intra_op_num_threads = int(threads or 0)
    so.inter_op_num_threads = 1
    return so


def describe_session_options(so: Any) -> dict[str, Any]:
    """The settings of :func:`session_options` as plain values (recorded with every ONNX bench row)."""
    return {"graph_optimization_level": str(so.graph_optimization_level).split(".")[-1],
            "execution_mode": str(so.execution_mode).split(".")[-1],
            "intra_op_num_threads": int(so.intra_op_num_threads), "inter_op_num_threads": int(so.inter_op_num_threads)}


def ort_session(path: str | os.PathLike[str], *, threads: int | None = None, providers: Sequence[str] | None = None):
    """An onnxruntime session (CPU by default) with :func:`session_options` (``threads`` intra-op threads)."""
    import onnxruntime as ort

    return ort.InferenceSession(str(path), session_options(threads), providers=list(providers or ["CPUExecutionProvider"]))


def ort_feed(session: Any, inputs: dict[str, Any]) -> dict[str, np.ndarray]:
    """``inputs`` (tensors or arrays) as the int64 arrays a session's inputs take, by the session's input names."""
    feed = {}
    for i in session.get_inputs():
        v = inputs[i.name]
        feed[i.name] = (v.detach().cpu().numpy() if hasattr(v, "detach") else np.asarray(v)).astype(np.int64)
    return feed


def onnx_side(session: Any, encode: Any) -> Any:
    """A :class:`~codekd.engine.trainer.ModelSide` whose forward runs an onnxruntime session."""
    def forward(_m: Any, enc: dict[str, Any], hidden: bool) -> Any:
        logits = session.run(["logits"], ort_feed(session, enc))[0]
        return Outputs(logits=torch.from_numpy(np.ascontiguousarray(logits)))

    return ModelSide("onnx", torch.nn.Identity(), encode, forward)


def _meta_teacher(folder: Path, settings: dict[str, Any]) -> Any:
    """A :class:`~codekd.models.teacher.Teacher` built on the meta device: its tokenisation, no weights."""
    quiet_transformers()
    config = hf_load(AutoConfig.from_pretrained, str(folder), what="exported teacher config")
    tokenizer = hf_load(AutoTokenizer.from_pretrained, str(folder), what="exported teacher tokenizer")
    with torch.device("meta"):
        if has_sequence_classifier(config) and not settings.get("custom_head"):
            model = AutoModelForSequenceClassification.from_config(config)
        else:
            model = AutoModel.from_config(config)
    return Teacher(model, tokenizer, num_labels=int(settings["num_labels"]), is_pair=bool(settings.get("is_pair")),
                   pair_mode=settings.get("pair_mode", "joint"), unixcoder=bool(settings.get("unixcoder")),
                   max_length=int(settings["max_length"]))


def export_encoder(folder: Path, meta: dict[str, Any], max_length: int | None = None) -> tuple[Any, int]:
    """The tokenisation of an export folder: ``(encode, max_length)``."""
    ml = int(max_length or meta["max_length"])
    if meta["kind"] == "teacher":
        settings = dict(meta.get("teacher") or {})
        settings.setdefault("num_labels", meta["num_labels"])
        settings["max_length"] = ml
        teacher = _meta_teacher(folder, settings)

        def encode(codes: Sequence[tuple[str, ...]]) -> dict[str, Any]:
            a = [c[0] for c in codes]
            b = [c[1] for c in codes] if codes and len(codes[0]) > 1 else None
            return teacher.encode(a, b)

        return encode, teacher.max_length
    tok = hf_load(AutoTokenizer.from_pretrained, str(folder), what="exported student tokenizer")
    return TextEncoder(tok, ml), ml


def load_onnx_inference(ref: ModelRef, *, task: str | None = None, num_labels: int | None = None,
                        max_length: int | None = None, normalization: str | None = None, int8: bool = False,
                        threads: int | None = None, providers: Sequence[str] | None = None) -> InferenceModel:
    """An :class:`InferenceModel` running an exported ``.onnx`` file."""
    folder = Path(ref.path)
    meta = ref.export or json.loads((folder / EXPORT_FILE).read_text())
    onnx_file = ref.onnx_file
    if int8:
        name = (meta.get("files") or {}).get("int8")
        if not name or not (folder / name).is_file():
            raise ModelLoadError("this export has no int8 model (export with --int8)", path=folder)
        onnx_file = folder / name
    n = int(meta["num_labels"])
    if num_labels is not None and n != num_labels:
        raise ConfigError(f"the exported model has {n} labels but the task data has {num_labels}", path=folder)
    encode, ml = export_encoder(folder, meta, max_length)
    session = ort_session(onnx_file, threads=threads, providers=providers)
    side = onnx_side(session, encode)
    precision = "int8" if onnx_file.name == (meta.get("files") or {}).get("int8") else "fp32"
    labels = meta.get("labels")
    return InferenceModel(ref=ref, side=side, module=side.model, num_labels=n, max_length=int(ml),
                          normalization=normalization or meta.get("normalization", "whitespace"),
                          task=task or meta.get("task"), data=meta.get("data"), family=meta.get("family", ""),
                          device=torch.device("cpu"), label_names=list(labels) if labels else None,
                          runtime=f"onnxruntime {precision}", info={"onnx_file": str(onnx_file)})


# ------------------------------------------------------------------------------------ environment

def versions(packages: Sequence[str] = ("codekd", "torch", "transformers", "onnx", "onnxruntime", "numpy")
             ) -> dict[str, str]:
    """Python and the installed versions of ``packages`` (those not installed are left out)."""
    out = {"python": platform.python_version()}
    for pkg in packages:
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


__all__ = ["ModelRef", "InferenceModel", "resolve_model", "load_inference", "load_onnx_inference", "default_device",
           "session_options", "describe_session_options", "ort_session", "ort_feed", "onnx_side", "export_encoder",
           "versions", "DEFAULT_LABEL", "EXPORT_FILE", "RUN_CONFIG", "BEST"]
