"""Evaluate a trained student or teacher: what the student keeps.

``evaluate(model, data=..., teacher=...)`` runs a model over a split (default ``test``) and reports
accuracy, precision, recall, F1 (binary for binary tasks, macro for multi-class), top-3 (multi-class),
expected calibration error, the task's headline metric and, for multi-class tasks, a per-class
report. Given a teacher it also reports the teacher's metrics on the same split, the retention
ratio (student headline / teacher headline) and the prediction agreement with the teacher.
Every model also gets degeneracy checks (:mod:`codekd.sanity`: one predicted class, no
better than a constant answer, not above a TF-IDF ``baseline.json`` of the same input) and one-line
``warnings``; ``teacher_degenerate`` says a retention ratio is against a useless teacher.
:func:`evaluate_many` evaluates several runs (for example one per seed) and aggregates every
figure to mean and sample std.

What can be evaluated (``RUN_OR_MODEL``), see :func:`codekd.evaluation.inference.resolve_model`:

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
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..data.loaders import load_task_data
from ..errors import ConfigError
from ..io import atomic_write_json
from ..tasks import get_task
from .baseline import find_baseline
from .inference import DEFAULT_LABEL, InferenceModel, ModelRef, load_inference, resolve_model, versions
from ..metrics import (aggregate, agreement, classification_metrics, flatten_numeric, headline, per_class_report,
                      retention)
from ..sanity import degeneracy, is_degenerate, warnings_for

EVALUATION_FILE = "evaluation.json"


def _versions() -> dict[str, str]:
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
    if inf.label_names and ref.config is None and any(not DEFAULT_LABEL.match(x) for x in inf.label_names) \
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
            p = Path(aggregate_out)
            p = p if p.suffix.lower() == ".json" else p / "evaluation_aggregate.json"
            p.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_json(p, combined["aggregate"])
            combined["aggregate"]["written"] = str(p)
    return combined


__all__ = ["model_logits", "evaluate", "evaluate_many", "summary_row", "EVALUATION_FILE"]
