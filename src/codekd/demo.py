"""``codekd demo``: the main job, end to end, in a budget of minutes.

1. **data**: the pinned CuBERT-scale exception set (``data build-exceptions``: ~390 pinned PyPI
   projects + this Python's stdlib; 25,130 examples, the same on every machine; downloads cached
   in ``~/.cache/codekd``, shared by every run and kept out of the repository). If PyPI cannot be
   reached it falls back to mining this Python's stdlib and site-packages, and says so;
2. a **TF-IDF + logistic-regression baseline** on the same split and input (the teacher's bar);
3. a **speed probe** (under a minute): the teacher recipe's training step and forward, and each
   student's training step, timed on real batches; from it a **plan**: the teacher's minutes, the
   cache's, each student run's minutes (and so its epochs), and which methods fit (FT, DIST and KD
   first, then PKD and CKD where the budget allows). The plan is printed with its estimates and
   kept in ``demo-plan.json``, so a re-run resumes the same jobs;
4. ``studies/offline.yaml`` through the **study runner** with that plan: MiniLM fine-tuned with the
   measured CPU recipe (bottom layers frozen and replayed, bf16 where the CPU is faster with it,
   length-bucketed batches; ``benchmarks/RESULTS-teacher.md``), its outputs cached, every student
   distilled from the cache, then teacher and students benchmarked in one process;
5. the **report** and the verdicts: the teacher against the baseline, and the best student's
   retention and speed-up.

Interrupting and re-running continues where it stopped. ``--quick`` runs the same on a quarter of
the data in a 9-minute budget.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from .data.builders.pinned_exceptions import build_exceptions
from .data.builders.exceptions import mine_exceptions
from .data.loaders import load_task_data
from .data.normalize import STRUCTURE_TOKENS, normalize_code, parse_normalization
from .engine.batching import code_lengths
from .engine.budget import choose_precision, cpu_model
from .engine.frozen import freeze_bottom, frozen_prefix_side
from .engine.sides import student_side, teacher_side
from .errors import CodekdError, ConfigError
from .evaluation.baseline import tfidf_baseline
from .io import atomic_write_json, atomic_write_text
from .models.students.presets import build_student
from .models.teacher import Teacher
from .study.report import collect, write_report
from .study.runner import run_study
from .study.store import Store
from .tasks import get_task
from .vocab import train_vocab_on_texts

DEMO_EXCLUDE = ("Exception", "BaseException")
DEFAULT_MINUTES = 40.0  # make demo's 45-minute goal less the install (about 2 minutes) and a margin
QUICK_MINUTES = 9.5
QUICK_FRACTION = 0.25
STUDENTS = ("roberta-1.5m", "gru-1.5m")
QUICK_STUDENTS = ("roberta-1.5m",)  # quick: one student (FT and DIST), so each run gets enough steps to learn
METHOD_ORDER = ("ft", "dist", "kd", "pkd", "ckd")  # what the measurements favour first
REQUIRED_METHODS = ("ft", "dist")
TEACHER_SHARE = 0.45       # of the time left for training after data, baseline and the fixed costs
QUICK_TEACHER_SHARE = 0.45  # quick: MiniLM needs ~300 steps before it is above the majority class (measured)
QUICK_STUDENT_LR = 1.0e-3  # quick: a few hundred steps; the full demo's 5e-4 learns too slowly there
FIXED_S = 75.0             # vocabularies, benchmark, report (measured 40-60 s)
MIN_STUDENT_EPOCHS = 1.5   # a student run shorter than this is not worth a method (measured curves)
TEACHER_FREEZE = 3         # studies/offline.yaml's teacher recipe (benchmarks/RESULTS-teacher.md)


def _study_doc(out: Path, data: Path, plan: dict[str, Any]) -> dict[str, Any]:
    study = Path(__file__).resolve().parents[2] / "studies" / "offline.yaml"
    if not study.is_file():
        raise ConfigError("the demo runs studies/offline.yaml from a source checkout (git clone, then make demo)",
                          path=study)
    doc = yaml.safe_load(study.read_text())
    doc["out"] = str(out / "study")
    doc["tasks"]["exception"]["data"] = str(data)
    if plan.get("fraction"):
        doc["tasks"]["exception"]["fraction"] = plan["fraction"]
    doc["methods"] = {m: doc["methods"].get(m, {}) for m in plan["methods"]}
    doc["students"] = list(plan.get("students", doc["students"]))
    doc["teachers"]["minilm"]["train"].update(minutes=plan["teacher_minutes"], epochs=50)
    doc["train"].update(minutes=plan["student_minutes"], epochs=50)
    if "ckd" not in plan["methods"]:
        doc["teacher_cache_tokens"] = False
    if plan.get("quick"):
        doc["bench"].update(repeats=3)
        doc["train"].update(lr=QUICK_STUDENT_LR)
    return doc


# ------------------------------------------------------------------------------------------------ data

def demo_data(data: Path, *, progress: bool = True, say=print) -> dict[str, Any]:
    """The pinned exception set in ``data`` (built once), or the stdlib fallback when PyPI is unreachable."""
    stats_file = data / "stats.json"
    source_file = data / "demo-source.json"
    if stats_file.is_file():
        stats = json.loads(stats_file.read_text())
        source = json.loads(source_file.read_text())["source"] if source_file.is_file() else "pinned"
        say(f"[1/5] reusing the {source} dataset in {data}")
        return {"stats": stats, "source": source}
    say(f"[1/5] building the pinned exception dataset (~390 pinned PyPI projects + this Python's stdlib; "
        f"downloads cached in ~/.cache/codekd) into {data}")
    try:
        stats = build_exceptions(data, progress=progress).to_dict()
        source = "pinned"
    except (CodekdError, OSError) as exc:
        say(f"      PyPI could not be used ({str(exc).splitlines()[0][:160]}); FALLING BACK to the code of this "
            "Python's stdlib and site-packages (smaller, and machine-dependent)")
        stats = mine_exceptions(None, data, exclude_labels=DEMO_EXCLUDE, progress=progress).to_dict()
        source = "stdlib"
    atomic_write_json(source_file, {"source": source})
    return {"stats": stats, "source": source}


# ------------------------------------------------------------------------------------------------ probe

def _cpu_s() -> float:
    return time.process_time()


def _median_time(fn, rounds: int = 3) -> float:
    fn()  # warm-up
    ts = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def speed_probe(data: Path, normalization: str, max_length: int, *, fraction: float | None = None,
                freeze: int = TEACHER_FREEZE, teacher_path: str = "minilm") -> dict[str, Any]:
    """Seconds per training step of the teacher recipe and each student, and per teacher forward,
    on a real batch of median length (batch 32). Takes well under a minute."""
    t0 = time.perf_counter()
    td = load_task_data(data, get_task("exception"), fraction=fraction)
    split = td["train"]
    lengths = code_lengths(split, normalization)
    order = np.argsort(lengths, kind="stable")
    mid = len(order) // 2
    rows = order[mid - 16: mid + 16].tolist()
    codes = [tuple(normalize_code(c, normalization) for c in tup) for tup in split.codes(rows)]
    labels = torch.as_tensor(split.labels[rows])
    rows_b = order[mid + 16: mid + 48].tolist()  # a second batch: its prefix is computed in a timed step
    codes_b = [tuple(normalize_code(c, normalization) for c in tup) for tup in split.codes(rows_b)]

    teacher = Teacher.load(teacher_path, td.num_labels, max_length=max_length, pooling="mean")
    if parse_normalization(normalization)[0] == "structure":
        teacher.add_tokens(STRUCTURE_TOKENS)
    full = teacher_side(teacher)
    enc_full = full.encode(codes)

    def t_forward(bf16: bool) -> None:
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            full.forward(teacher, enc_full, False)

    precision, why = choose_precision("auto", cuda=False, step=t_forward)
    bf16 = precision == "bf16"
    forward_s = why.get("probe", {}).get("bf16_s" if bf16 else "fp32_s") or _median_time(lambda: t_forward(False))

    teacher.requires_grad_(True)
    if freeze:
        freeze_bottom(teacher, freeze)
        side, _ = frozen_prefix_side(teacher, freeze)
    else:
        side = full
    teacher.train()
    enc = side.encode(codes)
    enc_b = side.encode(codes_b)
    opt = torch.optim.AdamW([p for p in teacher.parameters() if p.requires_grad], lr=1e-9)

    def t_step(batch: dict[str, Any] = enc) -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = side.forward(teacher, batch, False)
        torch.nn.functional.cross_entropy(out.logits.float(), labels[: out.logits.shape[0]]).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    teacher_step_s = _median_time(t_step)  # warm-up (computes this batch's prefix), then replayed steps
    first = time.perf_counter()
    t_step(enc_b)  # a new batch: computes its frozen prefix, the first epoch's extra cost
    first_s = time.perf_counter() - first if freeze else teacher_step_s

    texts = [c[0] for c in codes] * 4
    students: dict[str, float] = {}
    import tempfile

    for name in STUDENTS:
        with tempfile.TemporaryDirectory() as tmp:
            from transformers import AutoTokenizer

            train_vocab_on_texts(lambda: iter(texts), 2000, tmp, max_length=max_length)
            tok = AutoTokenizer.from_pretrained(tmp)
        model = build_student(name, td.num_labels, tok)
        model.train()
        sside = student_side(model, tok, max_length)
        senc = sside.encode(codes)
        sopt = torch.optim.AdamW(model.parameters(), lr=1e-9)

        def s_step() -> None:
            out = sside.forward(model, senc, False)
            torch.nn.functional.cross_entropy(out.logits, labels).backward()
            sopt.step()
            sopt.zero_grad(set_to_none=True)

        students[name] = _median_time(s_step)
    res = {"cpu": cpu_model(), "threads": torch.get_num_threads(), "precision": precision,
           "precision_info": {k: v for k, v in why.items() if k != "probe"},
           "teacher_step_s": teacher_step_s, "teacher_freeze": freeze, "teacher_first_step_s": first_s, "teacher_forward_s": forward_s,
           "student_step_s": students, "batch": 32, "train_examples": len(split),
           "valid_examples": len(td["valid"]), "seconds": round(time.perf_counter() - t0, 1)}
    return res


def make_plan(minutes: float, elapsed_s: float, probe: dict[str, Any], *, quick: bool,
              fraction: float | None) -> dict[str, Any]:
    """Divide the time left among the teacher, its cache and the student runs (see module docstring)."""
    n_train, n_valid, bs = probe["train_examples"], probe["valid_examples"], probe["batch"]
    left = minutes * 60 - elapsed_s - FIXED_S
    # teacher cache: one forward over train (+ the job's start-up); every student reads it
    cache_s = math.ceil(n_train / bs) * probe["teacher_forward_s"] * 1.1 + 10
    train_left = max(60.0, left - cache_s)
    students_list = QUICK_STUDENTS if quick else STUDENTS
    teacher_s = (QUICK_TEACHER_SHARE if quick else TEACHER_SHARE) * train_left
    students_s = train_left - teacher_s
    # the methods that fit: each student run must see at least MIN_STUDENT_EPOCHS epochs
    slowest = max(t for n, t in probe["student_step_s"].items() if n in students_list)
    epoch_s = math.ceil(n_train / bs) * slowest * 1.25 + n_valid / bs * slowest / 2  # + data, optimizer, validation
    methods = list(REQUIRED_METHODS)
    for m in METHOD_ORDER:
        if m in methods:
            continue
        per_run = students_s / (len(students_list) * (len(methods) + 1))
        if per_run / epoch_s < MIN_STUDENT_EPOCHS:
            break
        methods.append(m)
    methods = [m for m in METHOD_ORDER if m in methods]
    runs = len(students_list) * len(methods)
    run_s = students_s / runs
    teacher_epoch_s = math.ceil(n_train / bs) * probe["teacher_step_s"] * 1.15
    first_epoch_extra = math.ceil(n_train / bs) * max(0.0, probe["teacher_first_step_s"] - probe["teacher_step_s"])
    left_out = [m for m in METHOD_ORDER if m not in methods]
    return {
        "minutes": minutes, "quick": quick, "fraction": fraction, "methods": methods, "left_out": left_out,
        "students": list(students_list),
        "teacher_minutes": round(teacher_s / 60, 2), "student_minutes": round(run_s / 60, 2),
        "estimate": {"cache_s": round(cache_s), "teacher_epochs": round((teacher_s - first_epoch_extra) / teacher_epoch_s, 2),
                     "student_epochs": {s: round(run_s / (math.ceil(n_train / bs) * t * 1.25), 2)
                                        for s, t in probe["student_step_s"].items() if s in students_list},
                     "total_s": round(elapsed_s + FIXED_S + cache_s + teacher_s + students_s)},
        "probe": probe,
    }


def plan_text(plan: dict[str, Any]) -> str:
    e = plan["estimate"]
    lines = [f"      plan for {plan['minutes']:g} minutes (measured on {plan['probe']['cpu']}, "
             f"{plan['probe']['threads']} threads, teacher precision {plan['probe']['precision']}):",
             f"        teacher  {plan['teacher_minutes']:.1f} min (about {e['teacher_epochs']:.1f} epochs; "
             f"{plan['probe']['teacher_step_s']:.2f} s per step of 32, bottom {plan['probe'].get('teacher_freeze')} "
             "layers frozen)",
             f"        cache    about {e['cache_s'] / 60:.1f} min",
             f"        students {len(plan.get('students', STUDENTS))} x {len(plan['methods'])} runs x "
             f"{plan['student_minutes']:.1f} min ("
             + ", ".join(f"{s} about {n:.1f} epochs" for s, n in e["student_epochs"].items()) + ")",
             f"        methods  {', '.join(m.upper() for m in plan['methods'])}"
             + (f"; left out for time: {', '.join(m.upper() for m in plan['left_out'])} (each would cut every "
                f"run below {MIN_STUDENT_EPOCHS} epochs; give --minutes more to include them)" if plan["left_out"] else ""),
             f"        estimated total {e['total_s'] / 60:.1f} min"]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------ verdicts

def teacher_verdict(teacher: float | None, baseline: float) -> str:
    """One line: does the fine-tuned teacher beat the TF-IDF baseline on the same test split?"""
    if teacher is None:
        return "the teacher has no test score (its fine-tuning failed; see the study database)"
    gap = 100 * (teacher - baseline)
    head = f"teacher {100 * teacher:.1f}% vs TF-IDF + logistic regression {100 * baseline:.1f}% on the same test split"
    if gap >= 3:
        return f"{head}: the teacher is {gap:.1f} points better (goal: 3)"
    if gap >= 2:
        return f"{head}: the teacher is {gap:.1f} points better, short of the 3-point goal"
    if gap > -2:
        return (f"{head}: within 2 points of the baseline ({gap:+.1f}), so the teacher is no better than word counts "
                "here; distilling it shows the methods at work, not a teacher worth compressing")
    return (f"{head}: the teacher is {-gap:.1f} points WORSE than word counts; give it more time "
            "(--minutes) or data before trusting what its students learn")


def student_verdict(scores: dict[tuple[str, str], float], teacher: float | None,
                    speedups: dict[str, float], majority: float | None = None) -> str:
    """The best 1.5M student: its retention of the teacher and its speed-up at batch 32. Retention
    of a teacher that is no better than the majority class says nothing, and the verdict says so."""
    if not scores or not teacher:
        return "no student finished"
    (student, method), best = max(scores.items(), key=lambda kv: kv[1])
    ret = best / teacher
    sp = speedups.get(student)
    sp_txt = f", {sp:.1f}x the teacher's throughput at batch 32" if sp else ""
    useless = majority is not None and (teacher < majority + 0.02 or best < majority + 0.02)
    goal = "meets" if ret >= 0.9 and (sp or 0) >= 8 and not useless else "misses"
    tail = (f"; but it is within 2 points of the majority class ({100 * majority:.1f}%), so the retention says "
            "nothing") if useless else ""
    return (f"best student {student} {method.upper()} {100 * best:.1f}%: keeps {100 * ret:.1f}% of the teacher"
            f"{sp_txt} ({goal} the goal of >= 90% and >= 8x){tail}")


def demo_scores(col: dict[str, Any]) -> tuple[dict[tuple[str, str], float], dict[str, float]]:
    """Test score of each (student, method) of the demo's one seed, and each student's speed-up at batch 32."""
    scores: dict[tuple[str, str], float] = {}
    for (_task, _teacher), cells in col["groups"].items():
        for key, vals in cells.items():
            scores[key] = float(statistics.mean(vals))
    speed: dict[str, float] = {}
    for b in col["bench"].values():
        f = b.get("figures") or {}
        if b.get("role") == "student" and b.get("student") and f.get("speedup_vs_teacher"):
            speed[b["student"]] = max(speed.get(b["student"], 0.0), float(f["speedup_vs_teacher"]))
    return scores, speed


# ------------------------------------------------------------------------------------------------ main

def run_demo(out: str | Path = "runs/demo", *, quick: bool = False, minutes: float | None = None,
             progress: bool = True, say=print) -> dict[str, Any]:
    t0 = time.perf_counter()
    cpu0 = _cpu_s()
    minutes = float(minutes if minutes is not None else (QUICK_MINUTES if quick else DEFAULT_MINUTES))
    out = Path(out).resolve()
    data = out / "data" / "exception"
    got = demo_data(data, progress=progress, say=say)
    stats, source = got["stats"], got["source"]
    size_mb = sum(f.stat().st_size for f in data.glob("*.jsonl")) / 1e6
    say(f"      {source} data: {stats['examples']} examples, {len(stats['per_label'])} labels, {size_mb:.1f} MB; "
        "splits " + ", ".join(f"{k} {v['examples']}" for k, v in stats["splits"].items()))
    fraction = QUICK_FRACTION if quick else None
    study_yaml = yaml.safe_load((Path(__file__).resolve().parents[2] / "studies" / "offline.yaml").read_text()) \
        if (Path(__file__).resolve().parents[2] / "studies" / "offline.yaml").is_file() else {}
    norm = (study_yaml.get("tasks", {}).get("exception", {}) or {}).get("normalization", "structure:try=4")
    max_length = int((study_yaml.get("train") or {}).get("max_length", 128))
    freeze = int(((study_yaml.get("teachers") or {}).get("minilm") or {}).get("freeze_layers") or 0)
    tag = "quick" if quick else "full"
    base_file = out / f"baseline-{tag}.json"
    if base_file.is_file():
        base = json.loads(base_file.read_text())
        say(f"[2/5] reusing the TF-IDF baseline ({base_file.name})")
    else:
        say("[2/5] TF-IDF + logistic-regression baseline on the same split and input")
        base = tfidf_baseline(data, "exception", normalization=norm, fraction=fraction)
        atomic_write_json(base_file, base)
    say(f"      baseline test top-1 {100 * base['test']['accuracy']:.1f}%, top-3 {100 * base['test']['top3']:.1f}% "
        f"({base['seconds']:.0f} s)")

    plan_file = out / f"demo-plan-{tag}.json"
    plan = json.loads(plan_file.read_text()) if plan_file.is_file() else None
    if plan is not None and plan.get("minutes") == minutes:
        say(f"[3/5] reusing the plan in {plan_file.name} (re-running resumes the same jobs)")
    else:
        say("[3/5] measuring this machine (teacher and student steps on real batches)")
        probe = speed_probe(data, norm, max_length, fraction=fraction, freeze=freeze)
        plan = make_plan(minutes, time.perf_counter() - t0, probe, quick=quick, fraction=fraction)
        atomic_write_json(plan_file, plan)
    say(plan_text(plan))

    doc = _study_doc(out, data, plan)
    study_file = out / f"study-{tag}.yaml"
    atomic_write_text(study_file, yaml.safe_dump(doc, sort_keys=False))
    say(f"[4/5] running the study {study_file} (teacher fine-tuning, cache, students, benchmark)")
    res = run_study(study_file, progress=progress)
    say("[5/5] writing the report")
    store = Store(res["db"])
    col = collect(store)
    teacher_acc = col["teacher_score"].get(("exception", "minilm"))
    test_labels = [json.loads(line)["target"] for line in (data / "test.jsonl").open(encoding="utf-8")]
    majority = max(test_labels.count(x) for x in set(test_labels)) / max(1, len(test_labels))
    rep = write_report(res["db"], out / f"report-{tag}", teacher_meta={n: t for n, t in doc["teachers"].items()},
                       title="codekd demo", baseline={"exception": base["test_headline"]},
                       majority={"exception": majority})
    verdict = teacher_verdict(teacher_acc, base["test"]["accuracy"])
    scores, speed = demo_scores(col)
    sverdict = student_verdict(scores, teacher_acc, speed, majority)
    summary = {"seconds": round(time.perf_counter() - t0, 1), "cpu_seconds": round(_cpu_s() - cpu0, 1),
               "minutes_budget": minutes, "data_source": source, "baseline": base, "teacher_test": teacher_acc,
               "majority_test": majority, "verdict": verdict, "student_verdict": sverdict, "plan": plan,
               "study": res, "report": rep["report"], "plots": rep["plots"], "data": str(data)}
    atomic_write_json(out / f"demo-summary-{tag}.json", summary)
    say(rep["markdown"])
    say(f"\n{verdict}")
    say(sverdict)
    if res.get("failed"):
        say(f"{res['failed']} job(s) failed: 'codekd study plan {study_file}' lists them (errors in the study database); "
            "re-running the demo retries them")
    say(f"done in {summary['seconds'] / 60:.1f} min (budget {minutes:g}): report {rep['report']}, "
        f"plots {', '.join(rep['plots'])}")
    return summary
