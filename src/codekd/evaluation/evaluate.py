"""Evaluate a trained student or teacher: what the student keeps.

``evaluate(model, data=..., teacher=...)`` runs a model over a split (default ``test``) and reports
accuracy, precision, recall, F1 (binary for binary tasks, macro for multi-class), top-3 (multi-class),
expected calibration error, the task's headline metric and, for multi-class tasks, a per-class
report. Given a teacher it also reports the teacher's metrics on the same split, the retention
ratio (student headline / teacher headline) and the prediction agreement with the teacher.
Every model also gets degeneracy checks (:mod:`codekd.evaluation.sanity`: one predicted class, no
better than a constant answer, not above a TF-IDF ``baseline.json`` of the same input) and one-line
``warnings``; ``teacher_degenerate`` says a retention ratio is against a useless teacher.
:func:`evaluate_many` evaluates several runs (for example one per seed) and aggregates every
figure to mean and sample std.

What can be evaluated (``RUN_OR_MODEL``), see :func:`resolve_model`:

* a run folder (``config.yaml`` + ``best/``, written by ``codekd distill`` or ``codekd teacher
  finetune``): its ``best/`` model, and its config's data, task, normalisation and max length as
  defaults. The run's own ``test_logits.npy`` is reused when the split, data and normalisation are
  the run's (``use_cached=False`` recomputes);
* a student folder (``codekd_student.json``, or any BiGRU student folder), a teacher folder
  (``codekd_teacher.json``) or any Hugging Face classifier folder or alias (loaded as a teacher);
* an export folder (``export.json``, from ``codekd export``) or one of its ``.onnx`` files: the
  model runs in onnxruntime with the same tokenisation.

Every model reads each example with its own tokenizer and its own run's normalisation, so a
teacher and a student are compared on the same examples exactly as each was trained.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import ConfigError, ModelLoadError
from .baseline import find_baseline
from .metrics import (aggregate, agreement, classification_metrics, flatten_numeric, headline, per_class_report,
                      retention)
from .sanity import degeneracy, is_degenerate, warnings_for

RUN_CONFIG = "config.yaml"
BEST = "best"
EXPORT_FILE = "export.json"
EVALUATION_FILE = "evaluation.json"
_DEFAULT_LABEL = re.compile(r"^LABEL_\d+$")


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
    from ..config import load_run_config

    return load_run_config(run_dir / RUN_CONFIG)


def _folder_kind(folder: Path) -> str:
    from ..models.students.presets import STUDENT_SPEC_FILE
    from ..models.teacher import TEACHER_FILE

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
    from ..io import read_json

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
    from ..models.hf import MODEL_ALIASES, hub_model_available

    if src.lower() not in MODEL_ALIASES and not hub_model_available(src):
        raise ModelLoadError("no such run, model or export folder (nor a hub model in the local Hugging Face cache; "
                             "loading is offline)", path=p)
    return ModelRef(src, "teacher", src)  # alias or hub id


# ------------------------------------------------------------------------------------ inference

@dataclass
class InferenceModel:
    """A loaded model with its tokenisation settings; PyTorch or onnxruntime behind one interface."""

    ref: ModelRef
    side: Any                 # codekd.engine.sides.ModelSide
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
        import torch

        from ..engine.batching import code_lengths
        from ..engine.sides import predict_logits

        with torch.inference_mode():
            return predict_logits(self.side, self.module, split, self.normalization, batch_size, self.device,
                                  lengths=code_lengths(split, self.normalization), max_examples=max_examples)

    def logits(self, codes: Sequence[tuple[str, ...]], batch_size: int = 32) -> np.ndarray:
        """Logits for raw (un-normalised) code tuples: ``(func,)`` or ``(func1, func2)``."""
        import torch

        from ..data.normalize import normalize_code
        from ..engine.batching import to_device

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
    import torch

    if device:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _tokenizer_max_length(tokenizer: Any) -> int | None:
    ml = getattr(tokenizer, "model_max_length", None)
    return int(ml) if ml and ml < 1_000_000 else None


def _config_label_names(config: Any, n: int) -> list[str] | None:
    id2label = getattr(config, "id2label", None) or {}
    names = [str(id2label.get(i, id2label.get(str(i), ""))) for i in range(n)]
    if not all(names) or all(_DEFAULT_LABEL.match(x) for x in names):
        return None
    return names


def _run_label_names(cfg: Any) -> list[str] | None:
    """The label list of a run's dataset (labels.json or the task's labels), if still readable."""
    if cfg is None:
        return None
    from ..data.loaders import read_label_names
    from ..errors import CodekdError
    from ..tasks import get_task

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
    from ..engine.sides import student_side, teacher_side
    from ..tasks import get_task

    ref = source if isinstance(source, ModelRef) else resolve_model(source)
    if ref.kind == "onnx":
        from .export import load_onnx_inference

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
        from ..models.students.presets import load_student

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
        from ..models.teacher import TEACHER_FILE, Teacher

        saved: dict[str, Any] = {}
        folder = ref.folder
        if folder is not None and (folder / TEACHER_FILE).is_file():
            from ..io import read_json

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


# ------------------------------------------------------------------------------------ evaluation

def _versions() -> dict[str, str]:
    from .bench import versions

    return versions(("codekd", "torch", "transformers", "onnxruntime", "scikit-learn"))


def _writable_dir(folder: Path) -> bool:
    return folder.is_dir() and os.access(folder, os.W_OK)


def _default_out(ref: ModelRef, split: str) -> Path | None:
    name = EVALUATION_FILE if split == "test" else f"evaluation_{split}.json"
    if ref.run_dir is not None and _writable_dir(ref.run_dir):
        return ref.run_dir / name
    folder = ref.folder
    if ref.kind == "onnx" and folder is not None and _writable_dir(folder):
        return folder / name
    if folder is not None and _writable_dir(folder) and any(
            (folder / f).is_file() for f in ("codekd_student.json", "codekd_teacher.json")):
        return folder / name
    return None


def _cached_logits(inf: InferenceModel, data_root: str, split_name: str, n_rows: int) -> np.ndarray | None:
    """The run's own test logits, when they were computed on exactly this split and setting."""
    ref = inf.ref
    if ref.run_dir is None or ref.config is None or split_name != "test" or ref.kind == "onnx":
        return None
    cfg = ref.config
    f = ref.run_dir / "test_logits.npy"
    if not f.is_file():
        return None
    try:
        metrics = json.loads((ref.run_dir / "metrics.json").read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if metrics.get("status") != "done":
        return None
    if not inf.info.get("run_settings") or Path(cfg.data).resolve() != Path(data_root).resolve():
        return None
    try:
        logits = np.load(f)
    except (OSError, ValueError, EOFError):  # truncated or not an array: recompute
        return None
    if getattr(logits, "shape", None) != (n_rows, inf.num_labels):
        return None
    return logits


class _SplitCache:
    """Loaded datasets keyed by (path, task, split, fraction, seed); avoids re-reading for many models."""

    def __init__(self) -> None:
        self._data: dict[tuple, Any] = {}

    def get(self, path: str, task: str, split: str, fraction: float | None, seed: int) -> Any:
        from ..data.loaders import load_task_data

        key = (str(Path(path).resolve()), task, split, fraction if split != "test" else None, seed)
        if key not in self._data:
            self._data[key] = load_task_data(path, task, splits=(split,), fraction=key[3], seed=seed)
        return self._data[key]


def model_logits(inf: InferenceModel, data: Any, split: str, *, batch_size: int = 64, use_cached: bool = True,
                 max_examples: int | None = None) -> tuple[np.ndarray, str]:
    """``(logits, source)`` of a model on a split; ``source`` says whether they were cached or computed."""
    sp = data[split]
    if use_cached and max_examples is None:
        cached = _cached_logits(inf, data.root, split, len(sp))
        if cached is not None:
            return cached, "cached (run test_logits.npy)"
    return inf.split_logits(sp, batch_size, max_examples=max_examples), f"computed ({inf.runtime}, {inf.device})"


def _model_summary(inf: InferenceModel) -> dict[str, Any]:
    s = {"source": inf.ref.source, "kind": inf.ref.kind, "runtime": inf.runtime, "family": inf.family,
         "path": str(inf.ref.path), "run": str(inf.ref.run_dir) if inf.ref.run_dir else None,
         "normalization": inf.normalization, "max_length": inf.max_length, "num_labels": inf.num_labels}
    try:
        s["params"] = int(sum(p.numel() for p in inf.module.parameters()))
    except Exception:  # onnxruntime placeholder
        pass
    if inf.info.get("new_head"):
        s["warning"] = "classification head freshly initialised (not a fine-tuned model)"
    return s


def evaluate(
    model: str | os.PathLike[str],
    *,
    data: str | os.PathLike[str] | None = None,
    task: str | None = None,
    split: str = "test",
    teacher: str | os.PathLike[str] | None = None,
    out: str | os.PathLike[str] | None = None,
    normalization: str | None = None,
    teacher_normalization: str | None = None,
    batch_size: int = 64,
    max_length: int | None = None,
    device: str | None = None,
    use_cached: bool = True,
    max_examples: int | None = None,
    write: bool = True,
    _cache: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Evaluate ``model`` on ``split`` of the data; with ``teacher``, add retention and agreement.

    ``data`` / ``task`` default to the run's. The result (see the module docstring) is written as
    JSON to ``out`` (a file, or a folder that gets ``evaluation.json``), by default into the run
    folder; ``write=False`` only returns it.
    """
    from ..tasks import get_task

    t0 = time.perf_counter()
    cache = _cache if _cache is not None else {}
    splits: _SplitCache = cache.setdefault("splits", _SplitCache())
    ref = resolve_model(model)
    cfg = ref.config
    task_name = task or (cfg.task if cfg is not None else None) or ((ref.export or {}).get("task"))
    data_path = str(data) if data is not None else (cfg.data if cfg is not None else (ref.export or {}).get("data"))
    if not task_name:
        raise ConfigError(f"cannot tell the task of {ref.source!r}: pass --task")
    if not data_path:
        raise ConfigError(f"cannot tell the dataset of {ref.source!r}: pass --data")
    task_obj = get_task(task_name)
    trained_for = cfg.task if cfg is not None else (ref.export or {}).get("task")
    if trained_for and trained_for != task_obj.name:
        raise ConfigError(f"the model was trained for the task {trained_for!r}, not {task_obj.name!r}: its outputs "
                          "mean other labels (evaluate it on its own task)", path=ref.run_dir or ref.path)
    if max_examples is not None and (isinstance(max_examples, bool) or max_examples < 1):
        raise ConfigError(f"max_examples must be at least 1, got {max_examples}")
    fraction = cfg.fraction if cfg is not None else None
    seed = cfg.data_seed if cfg is not None else 0
    tdata = splits.get(data_path, task_obj.name, split, fraction, seed)
    inf = load_inference(ref, task=task_obj.name, num_labels=tdata.num_labels, max_length=max_length,
                         normalization=normalization, device=device)
    if inf.label_names and ref.config is None and any(not _DEFAULT_LABEL.match(x) for x in inf.label_names) \
            and list(inf.label_names) != list(tdata.labels):
        raise ConfigError(f"the model's labels ({', '.join(inf.label_names[:5])}...) are not the data's "
                          f"({', '.join(list(tdata.labels)[:5])}...): it was trained for another label set",
                          path=ref.path)
    logits, source = model_logits(inf, tdata, split, batch_size=batch_size, use_cached=use_cached,
                                  max_examples=max_examples)
    labels = tdata[split].labels[: len(logits)]
    metrics = classification_metrics(logits, labels, tdata.num_labels)
    head = headline(task_obj, metrics)
    names = list(tdata.labels)
    result: dict[str, Any] = {
        "model": _model_summary(inf),
        "task": task_obj.name,
        "data": str(Path(data_path).resolve()),
        "split": split,
        "examples": int(len(labels)),
        "labels": names,
        "metrics": metrics,
        "headline_metric": task_obj.metric,
        "headline": head,
        "logits": source,
    }
    if tdata.num_labels > 2:
        result["per_class"] = per_class_report(logits, labels, names)
    # a TF-IDF baseline (teacher finetune writes one) of the same test split and input, if any
    base = find_baseline([ref.run_dir, teacher, cfg.teacher.path if cfg is not None else None], data=data_path,
                         task=task_obj.name, normalization=inf.normalization) if split == "test" else None
    base_score = base["test_headline"] if base is not None else None
    result["baseline"] = base_score
    result["sanity"] = degeneracy(logits, labels, tdata.num_labels, metric=task_obj.metric, baseline=base_score,
                                  label_names=names, split=split)
    warn = warnings_for(result["sanity"], f"model {ref.source}")
    present = np.unique(labels)
    if len(labels) and len(present) < 2:
        warn.append(f"WARNING: every example of the {split} split has the label {names[int(present[0])]!r}: "
                    "its scores say little about the model")
    if teacher is not None:
        tkey = ("teacher", str(teacher), data_path, split, teacher_normalization, max_examples)
        if tkey not in cache:
            tref = resolve_model(teacher)
            tinf = load_inference(tref, task=task_obj.name, num_labels=tdata.num_labels,
                                  normalization=teacher_normalization or (None if tref.config is not None else inf.normalization),
                                  device=device)
            tlogits, tsource = model_logits(tinf, tdata, split, batch_size=batch_size, use_cached=use_cached,
                                            max_examples=max_examples)
            tlabels = tdata[split].labels[: len(tlogits)]
            tmetrics = classification_metrics(tlogits, tlabels, tdata.num_labels)
            tbase = find_baseline([tref.run_dir], data=data_path, task=task_obj.name,
                                  normalization=tinf.normalization) if split == "test" else None
            tsanity = degeneracy(tlogits, tlabels, tdata.num_labels, metric=task_obj.metric, label_names=names,
                                 baseline=tbase["test_headline"] if tbase is not None else None, split=split)
            cache[tkey] = (tlogits, {"model": _model_summary(tinf), "metrics": tmetrics,
                                     "headline": headline(task_obj, tmetrics), "logits": tsource,
                                     "sanity": tsanity})
            del tinf
        tlogits, tres = cache[tkey]
        result["teacher"] = tres
        result["retention"] = retention(head, tres["headline"])
        result["agreement"] = agreement(logits, tlogits)
        # a retention against a teacher that is no better than a constant answer means nothing
        result["teacher_degenerate"] = is_degenerate(tres["sanity"])
        warn += warnings_for(tres["sanity"], f"teacher {tres['model']['source']}")
        if result["teacher_degenerate"] and result["retention"] is not None:
            warn.append(f"WARNING: retention {100 * result['retention']:.0f}% is against a degenerate teacher "
                        "and says nothing about the student")
    result["warnings"] = warn
    result["seconds"] = round(time.perf_counter() - t0, 3)
    result["created"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    result["versions"] = _versions()
    if write:
        path = _resolve_out(out, ref, split)
        if path is not None:
            from ..io import atomic_write_json

            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_json(path, result)
            result["written"] = str(path)
    return result


def _resolve_out(out: str | os.PathLike[str] | None, ref: ModelRef, split: str) -> Path | None:
    if out is None:
        return _default_out(ref, split)
    p = Path(out)
    if p.suffix.lower() == ".json":
        return p
    return p / (EVALUATION_FILE if split == "test" else f"evaluation_{split}.json")


def summary_row(result: dict[str, Any]) -> dict[str, float]:
    """The flat numbers of one evaluation that are aggregated over seeds."""
    row = {f"{k}": v for k, v in flatten_numeric(result.get("metrics", {})).items()}
    row["headline"] = float(result["headline"])
    for k in ("retention", "agreement"):
        if result.get(k) is not None:
            row[k] = float(result[k])
    if "teacher" in result:
        row["teacher_headline"] = float(result["teacher"]["headline"])
    return row


def evaluate_many(
    models: Sequence[str | os.PathLike[str]],
    *,
    aggregate_runs: bool = True,
    aggregate_out: str | os.PathLike[str] | None = None,
    on_result: Callable[[dict[str, Any]], None] | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """Evaluate several models (e.g. one run per seed) with the same settings; a teacher is run once.

    Each run's result is written into its own folder as :func:`evaluate` does. With
    ``aggregate_runs`` the numbers are aggregated to mean and sample std (``n`` runs); the aggregate
    is written to ``aggregate_out`` (a ``.json`` file or a folder that gets
    ``evaluation_aggregate.json``) when given. ``kwargs`` go to :func:`evaluate`.
    """
    if not models:
        raise ConfigError("no model to evaluate")
    cache: dict[str, Any] = {}
    results = []
    for m in models:
        r = evaluate(m, _cache=cache, **kwargs)
        results.append(r)
        if on_result is not None:
            on_result(r)
    combined: dict[str, Any] = {"runs": results}
    if aggregate_runs and len(results) > 1:
        tasks = {r["task"] for r in results}
        if len(tasks) > 1:
            raise ConfigError(f"cannot aggregate runs of different tasks: {sorted(tasks)}")
        agg = aggregate([summary_row(r) for r in results])
        combined["aggregate"] = {"task": results[0]["task"], "split": results[0]["split"],
                                 "headline_metric": results[0]["headline_metric"],
                                 "models": [r["model"]["source"] for r in results], **agg}
        if aggregate_out is not None:
            from ..io import atomic_write_json

            p = Path(aggregate_out)
            p = p if p.suffix.lower() == ".json" else p / "evaluation_aggregate.json"
            p.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_json(p, combined["aggregate"])
            combined["aggregate"]["written"] = str(p)
    return combined


__all__ = ["ModelRef", "InferenceModel", "resolve_model", "load_inference", "model_logits", "evaluate",
           "evaluate_many", "summary_row", "default_device", "EVALUATION_FILE", "EXPORT_FILE"]
