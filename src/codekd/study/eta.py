"""Remaining-time estimate for a study: a cost model per job, calibrated on the jobs that finished.

Each job's work is counted in two kinds of analytic FLOPs (:mod:`codekd.models.students.sizing`):
teacher FLOPs (fine-tuning: forward + backward, 3x the forward; a teacher cache: one forward over
the training split; a student run with a live teacher: one teacher forward per training example
and epoch) and student FLOPs (3x the student's forward per training example and epoch). FLOPs
alone do not predict time (a BiGRU runs far fewer FLOPs per second than a transformer), so each
kind gets its own seconds-per-FLOP rate, measured on the jobs that finished in this session:
teacher and cache jobs give the teacher rate, student runs the student rate (after their
teacher part is taken out). Until a rate has been measured the other one stands in, and the
estimate says it is rough.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from ..data.loaders import load_task_data
from ..engine.runs import student_spec
from ..methods import METHODS
from ..models.students.sizing import flops_per_example, teacher_reference
from .spec import Job

FALLBACK_STUDENT_SLOWDOWN = 8.0  # seconds per FLOP, student vs teacher, before a student run has been timed


@dataclass
class JobCost:
    teacher_flops: float
    student_flops: float


def _train_examples(job: Job, counts: dict[tuple[str, Any], int]) -> int:
    cfg = job.cfg
    key = (cfg.data, cfg.fraction, cfg.task)
    if key not in counts:
        try:
            split = load_task_data(cfg.data, cfg.task, splits=("train",), fraction=cfg.fraction,
                                   seed=cfg.data_seed)["train"]
            counts[key] = len(split)
        except Exception:  # an estimate must never stop a study
            counts[key] = 0
    n = counts[key]
    if cfg.train.train_max_examples:
        n = min(n, cfg.train.train_max_examples)
    return n


def _teacher_flops(source: str | None, seq_len: int, cache: dict[str, float]) -> float:
    if not source:
        return 0.0
    if source not in cache:
        try:
            cache[source] = float(teacher_reference(str(source), seq_len=seq_len).flops or 0.0)
        except Exception:
            cache[source] = 0.0
    return cache[source]


def job_costs(jobs: Sequence[Job], teacher_bases: dict[str, str]) -> dict[str, JobCost]:
    """The analytic cost of each job (by key). ``teacher_bases`` maps a study teacher's name to
    what its size can be read from (its base model or folder), since a fine-tuned teacher's folder
    does not exist before its job has run."""
    counts: dict[tuple[str, Any], int] = {}
    tcache: dict[str, float] = {}
    out: dict[str, JobCost] = {}
    for job in jobs:
        cfg = job.cfg
        seq = int(cfg.train.max_length)
        n = _train_examples(job, counts)
        epochs = int(cfg.train.epochs)
        if cfg.train.max_steps:
            epochs = min(epochs, max(1, -(-cfg.train.max_steps * cfg.train.batch_size // max(n, 1))))
        tf = _teacher_flops(teacher_bases.get(job.teacher or "", None), seq, tcache)
        if job.kind == "teacher":
            out[job.key] = JobCost(3.0 * n * epochs * tf, 0.0)
        elif job.kind == "cache":
            out[job.key] = JobCost(float(n) * tf, 0.0)
        else:
            try:
                sf = float(flops_per_example(student_spec(cfg), seq))
            except Exception:
                sf = 0.0
            live = METHODS.get(job.method).needs.teacher and not cfg.teacher.cache
            out[job.key] = JobCost(float(n * epochs) * tf if live else 0.0, 3.0 * n * epochs * sf)
    return out


class StudyEta:
    """Calibrated remaining-time estimate: :meth:`observe` each finished job, :meth:`remaining`
    for the jobs still to run."""

    def __init__(self, costs: dict[str, JobCost]):
        self.costs = costs
        self._t = [0.0, 0.0]   # seconds, teacher FLOPs of the teacher-only jobs
        self._s = [0.0, 0.0]   # seconds, student FLOPs of the student runs (teacher part removed)

    def observe(self, key: str, seconds: float) -> None:
        c = self.costs.get(key)
        if c is None:
            return
        if c.student_flops == 0 and c.teacher_flops > 0:
            self._t[0] += seconds
            self._t[1] += c.teacher_flops
        elif c.student_flops > 0:
            rt = self.teacher_rate
            own = seconds - (rt * c.teacher_flops if rt is not None else 0.0)
            self._s[0] += max(own, 0.1 * seconds)
            self._s[1] += c.student_flops

    @property
    def teacher_rate(self) -> float | None:
        return self._t[0] / self._t[1] if self._t[1] else None

    @property
    def student_rate(self) -> float | None:
        return self._s[0] / self._s[1] if self._s[1] else None

    def remaining(self, keys: Sequence[str]) -> tuple[float, bool] | None:
        """(seconds, rough) for the jobs ``keys``; None before any job has been timed. ``rough``
        when one of the two rates is a stand-in for the other."""
        rt, rs = self.teacher_rate, self.student_rate
        if rt is None and rs is None:
            return None
        rough = False
        if rt is None:
            rt, rough = rs / FALLBACK_STUDENT_SLOWDOWN, True
        if rs is None:
            rs, rough = rt * FALLBACK_STUDENT_SLOWDOWN, True
        total = 0.0
        for k in keys:
            c = self.costs.get(k)
            if c is not None:
                total += rt * c.teacher_flops + rs * c.student_flops
        return total, rough


def format_eta(est: tuple[float, bool] | None) -> str:
    if est is None:
        return ""
    seconds, rough = est
    return f"~{seconds / 60:.0f} min left ({'rough ' if rough else ''}estimate)"
