"""The study's efficiency stage: each task's teachers and its distilled students measured together.

Per task, one :func:`codekd.evaluation.bench.benchmark` call measures the fine-tuned teacher(s) and
one trained model per student preset (the first finished run of that preset), interleaved in one
process, so the speed-ups are ratios measured under the same conditions. Teachers given by path are
also evaluated on the test split here, so the report has their score. Figures go to the ``bench``
table of the study database and to ``OUT/bench/<task>.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..data.loaders import load_task_data
from ..engine.teacher_cache import resolve_teacher_dir
from ..evaluation.bench import benchmark
from ..evaluation.evaluate import evaluate
from .spec import Job, StudySpec
from .store import Store


def _teacher_dir(job_or_path: str) -> str | None:
    d = resolve_teacher_dir(job_or_path)
    return str(d) if d else None


def bench_study(spec: StudySpec, jobs: list[Job], store: Store, *, progress: bool = True,
                root: Path | None = None) -> dict[str, Any]:
    done = {j["key"]: j for j in store.jobs(status="done")}
    results = {}
    out_dir = store.path.parent / "bench"  # the database sits in the study's output root
    for task in spec.tasks:
        teachers: dict[str, str] = {}
        for j in jobs:
            if j.task != task or j.teacher is None or j.teacher in teachers:
                continue
            path = j.cfg.out if j.kind == "teacher" else j.cfg.teacher.path
            if path and (j.kind != "teacher" or j.key in done):
                d = _teacher_dir(path)
                if d:
                    teachers[j.teacher] = d
        students: dict[str, tuple[str, Job]] = {}
        for j in jobs:
            if j.kind == "student" and j.task == task and j.key in done and j.student not in students:
                best = Path(j.cfg.out) / "best"
                if best.is_dir():
                    students[j.student] = (str(best), j)
        if not students:
            continue
        models = list(teachers.values()) + [p for p, _ in students.values()]
        names = list(teachers) + list(students)
        cfg0 = next(iter(students.values()))[1].cfg
        res = benchmark(models, data=cfg0.data, task=task, seq_len=spec.bench.seq_len,
                        threads=spec.bench.threads, repeats=spec.bench.repeats,
                        num_labels=len(_labels(cfg0)), out=out_dir / f"{task}.json",
                        progress=None)
        results[task] = res
        torch_rows = [r for r in res["rows"] if r["runtime"] == "pytorch" and r["device"] == "cpu"]
        base = torch_rows[0] if teachers and torch_rows else None
        for name, row in zip(names, torch_rows):
            role = "teacher" if name in teachers else "student"
            figures = {
                "params": row["params"], "fp32_mb": row["size_mb"].get("fp32"), "fp16_mb": row["size_mb"].get("fp16"),
                "int8_mb": row["size_mb"].get("int8"), "latency_b1_p50_ms": row["latency_ms"]["p50"],
                "latency_b1_p95_ms": row["latency_ms"].get("p95"), "throughput_b32": row["throughput"],
                "gflops_per_example": row.get("gflops_per_example"), "device": row.get("device_name"),
                "threads": row.get("threads"), "seq_len": row.get("seq_len"), "versions": row.get("versions"),
                "speedup_vs_teacher": (row["throughput"] / base["throughput"]) if base else None,
                "size_ratio": (row["params"] / base["params"]) if base else None,
            }
            if role == "teacher":
                figures["teacher"] = name
                figures.update(_teacher_score(teachers[name], cfg0, task, jobs, done, name))
            store.record_bench(f"{task}:{name}", spec.name, role, task, None if role == "teacher" else name, figures)
    return results


def _labels(cfg) -> tuple[str, ...]:
    return load_task_data(cfg.data, cfg.task, splits=("valid",)).labels


def _teacher_score(teacher_dir: str, cfg, task: str, jobs: list[Job], done: dict, name: str) -> dict[str, Any]:
    """The teacher's test score: from its fine-tuning run when the study made it, else evaluated here."""
    for j in jobs:
        if j.kind == "teacher" and j.task == task and j.teacher == name and j.key in done:
            m = done[j.key].get("metrics") or {}
            return {"test_headline": m.get("test_headline")}
    res = evaluate(teacher_dir, data=cfg.data, task=task, split="test", normalization=cfg.normalization, write=False)
    return {"test_headline": res.get("headline")}
