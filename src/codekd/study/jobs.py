"""One study job, wherever it runs: run it, tell whether it is done, summarise its failure.

Shared by the local runner (:mod:`codekd.study.runner`) and the Ray backend
(:mod:`codekd.study.ray_backend`, whose workers call :func:`execute_job`).
"""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any

from ..engine.runs import distill, finetune_teacher
from ..engine.teacher_cache import build_teacher_cache
from ..engine.trainer import finished_metrics
from ..errors import CodekdError
from ..io import read_json, storage_error
from ..plugins import load_plugins
from .spec import Job
from .store import Store


def job_output_done(job: Job) -> bool:
    """Whether the job's output is there, finished (a cache's meta.json, a run's final metrics)."""
    if job.kind == "cache":
        return (Path(job.out) / "meta.json").is_file()
    return finished_metrics(job.out, job.cfg) is not None


def recorded_output(job: Job) -> tuple[dict[str, Any], float]:
    """What a job that finished but was never recorded (killed in between) left: its metrics (a
    cache's meta.json) and its seconds, for the store."""
    try:
        if job.kind == "cache":
            meta = read_json(Path(job.out) / "meta.json", "teacher cache metadata")
            meta = meta if isinstance(meta, dict) else {}
            return {"status": "done", "cache": meta}, float(meta.get("seconds") or 0.0)
        m = finished_metrics(job.out) or {"status": "done"}
        return m, float(m.get("train_seconds") or 0.0)
    except (CodekdError, TypeError, ValueError):
        return {"status": "done"}, 0.0


def failure_reason(error: str | None) -> str:
    """The one-line reason of a recorded failure (its first line)."""
    return (error or "failed").strip().splitlines()[0] if (error or "").strip() else "failed"


def execute_job(job: Job, progress: bool = False) -> dict[str, Any]:
    """Run one job in this process; returns its metrics (what the store records)."""
    load_plugins()  # user tasks / students / methods, also in a Ray worker's process

    cfg = job.cfg
    if job.kind == "teacher":
        return finetune_teacher(cfg, progress=progress)
    if job.kind == "cache":
        meta = build_teacher_cache(cfg.teacher.path, cfg.data, cfg.task, job.out, splits=["train"],
                                   normalization=cfg.normalization, max_length=cfg.train.max_length,
                                   batch_size=cfg.train.eval_batch_size, pooled=job.cache_pooled,
                                   token_layers=job.cache_token_layers, progress=progress,
                                   precision=cfg.train.mixed_precision, fraction=cfg.fraction,
                                   data_seed=cfg.data_seed)
        return {"status": "done", "cache": meta}
    return distill(cfg, progress=progress)


def summarise_error(exc: BaseException) -> str:
    """First line: the one-line reason (a codekd error as it reads; else the exception's type and
    first line); then, for anything but a codekd error, the end of the traceback."""
    fault = storage_error(exc) if isinstance(exc, Exception) else None
    if fault is not None:
        exc = fault
    if isinstance(exc, CodekdError):
        return " ".join(str(exc).split("\n"))
    first = (str(exc).strip().splitlines() or [""])[0]
    tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
    return f"{type(exc).__name__}: {first}\n" + "".join(tb[-6:])


def exit_code(exc: BaseException) -> int:
    """The exit code a failed job's exception stands for (a codekd error's own; else 1)."""
    fault = storage_error(exc) if isinstance(exc, Exception) else None
    if fault is not None:
        return fault.exit_code
    return exc.exit_code if isinstance(exc, CodekdError) else 1


def ready_to_run(job: Job, store: Store) -> tuple[bool, str | None]:
    """Whether every job ``job`` depends on is done; else why not."""
    for dep in job.depends_on:
        s = store.status(dep)
        if s == "failed":
            return False, f"dependency failed: {dep}"
        if s != "done":
            return False, f"dependency not done: {dep}"
    return True, None


__all__ = ["execute_job", "exit_code", "failure_reason", "job_output_done", "ready_to_run", "recorded_output",
           "summarise_error"]
