"""Running a study: locally one job after another (default) or as Ray tasks on a cluster.

Jobs run in dependency order: teacher fine-tuning and teacher caches first (once, shared by the
runs that need them), then the student runs. Finished jobs are skipped (the database says done and
the job's output is there); a half-done run resumes from its checkpoint (the engine does that); a
failed job is recorded with its error and does not stop the others (jobs that depend on it are
marked failed with "dependency failed"). Every status change is written to the study's SQLite
database at once, so an interrupted study loses nothing it had finished.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Sequence

from ..errors import ConfigError
from .bench_stage import bench_study
from .eta import StudyEta, format_eta, job_costs
from .jobs import (execute_job, exit_code, failure_reason, job_output_done, ready_to_run, recorded_output,
                   summarise_error)
from .ray_backend import run_ray
from .spec import Job, StudySpec, expand, load_study, study_db_path
from .store import Store


def plan(path: str | Path, overrides: Sequence[str] = ()) -> tuple[StudySpec, list[Job], dict[str, str]]:
    """The study's jobs and each one's status (done / failed / pending / running)."""
    spec, root = load_study(path, overrides)
    jobs = expand(spec, root)
    db = study_db_path(spec, root)
    status: dict[str, str] = {}
    store = Store(db) if db.exists() else None
    for j in jobs:
        s = store.status(j.key) if store else None
        if job_output_done(j):
            s = "done"
        status[j.key] = s or "pending"
    return spec, jobs, status


def run_study(path: str | Path, *, overrides: Sequence[str] = (), backend: str = "local", address: str | None = None,
              progress: bool = True, bench: bool | None = None, retry_failed: bool = True,
              stop_after_jobs: int | None = None, ray_init: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run (or resume) a study. Returns counts of done / failed / skipped jobs and the DB path.

    ``stop_after_jobs`` stops after that many jobs have run (a simulated interruption, for tests).
    """
    spec, root = load_study(path, overrides)
    jobs = expand(spec, root)
    store = Store(study_db_path(spec, root))
    for j in jobs:
        store.register(j, spec.name)
    if backend == "local":
        counts = _run_local(jobs, store, progress=progress, retry_failed=retry_failed, stop_after_jobs=stop_after_jobs,
                            teacher_bases=teacher_bases(spec, root))
    elif backend == "ray":
        counts = run_ray(jobs, store, address=address, retry_failed=retry_failed, init_kwargs=ray_init or {})
    else:
        raise ConfigError(f"unknown backend {backend!r} (local or ray)")
    do_bench = spec.bench.enabled if bench is None else bench
    if do_bench and not counts.get("interrupted"):
        bench_study(spec, jobs, store, progress=progress)
    failed = {r["key"]: r for r in store.jobs(status="failed")}
    failures = []
    for j in jobs:  # every failed job of the study, with its one-line reason (this run's or an earlier one's)
        row = failed.get(j.key)
        if row is not None:
            failures.append({"key": j.key, "job": j.describe(), "reason": failure_reason(row.get("error")),
                             "exit_code": counts.get("exit_codes", {}).get(j.key, 1)})
    counts.pop("exit_codes", None)
    return {**counts, "db": str(store.path), "jobs": len(jobs), "failures": failures}


def teacher_bases(spec: StudySpec, root: Path) -> dict[str, str]:
    """For the remaining-time estimate: what each study teacher's size can be read from."""
    out = {}
    for name, t in spec.teachers.items():
        src = t.base if t.finetune else (next(iter(t.path.values()), None) if isinstance(t.path, dict) else t.path)
        if src:
            p = root / src
            out[name] = str(p) if p.exists() else src
    return out


def _run_local(jobs: list[Job], store: Store, *, progress: bool, retry_failed: bool,
               stop_after_jobs: int | None, teacher_bases: dict[str, str] | None = None) -> dict[str, Any]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    counts: dict[str, Any] = {"done": 0, "failed": 0, "skipped": 0, "ran": 0, "interrupted": False}
    eta_model = StudyEta(job_costs(jobs, teacher_bases or {}))
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.fields[eta]}"), disable=not progress) as prog:
        bar = prog.add_task("study", total=len(jobs), eta="")
        for i, job in enumerate(jobs):
            status = store.status(job.key)
            if job_output_done(job):
                if status != "done":  # finished, but the study was stopped before recording it
                    store.mark_done(job.key, *recorded_output(job))
                counts["skipped"] += 1
                counts["done"] += 1
                prog.advance(bar)
                continue
            if status == "failed" and not retry_failed:
                counts["failed"] += 1
                prog.advance(bar)
                continue
            ok, why = ready_to_run(job, store)
            if not ok:
                store.mark_failed(job.key, why or "not ready", 0.0)
                counts["failed"] += 1
                prog.advance(bar)
                continue
            if stop_after_jobs is not None and counts["ran"] >= stop_after_jobs:
                counts["interrupted"] = True
                break
            eta = format_eta(eta_model.remaining([j.key for j in jobs[i:]]))
            prog.update(bar, description=f"[{i + 1}/{len(jobs)}] {job.describe()}", eta=eta)
            store.mark_running(job.key)
            t0 = time.perf_counter()
            try:
                metrics = execute_job(job, progress=progress)
            except KeyboardInterrupt:
                store.mark_failed(job.key, "interrupted (resume by running the study again)", time.perf_counter() - t0)
                raise
            except Exception as exc:  # a failed run must not stop the others
                store.mark_failed(job.key, summarise_error(exc), time.perf_counter() - t0)
                counts["failed"] += 1
                counts.setdefault("exit_codes", {})[job.key] = exit_code(exc)
            else:
                dt = time.perf_counter() - t0
                eta_model.observe(job.key, dt)
                store.mark_done(job.key, metrics, dt)
                counts["done"] += 1
            counts["ran"] += 1
            prog.advance(bar)
    return counts


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
