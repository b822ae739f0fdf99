"""``codekd report``: the paper's tables, figures and findings from a study database.

Writes into ``--out``:

* ``report.md``: a warnings section (below); per task and teacher, a method x student table of the
  test headline score (mean ± std over seeds, in %), the teacher's score, retention (student /
  teacher), and KD gain over FT; an efficiency table; a findings section that states from the numbers whether each of
  the paper's four findings holds in this study.
* ``scores.csv`` (long format, one row per task x teacher x student x method) and ``efficiency.csv``.
* ``<task>-<teacher>.png``: score vs student size, one line per method, teacher as a dashed line,
  and the TF-IDF baseline and the majority class (a constant answer) as horizontal lines when known.

A "Warnings" section lists degenerate teachers and students (one predicted class, or no better than
a constant answer: the ``sanity`` entry of each run's metrics, see :mod:`codekd.sanity`)
and models not above the task's TF-IDF baseline. The baseline is ``write_report(baseline=...)``, else
a ``baseline.json`` in a fine-tuned teacher's run folder scored on the same data and normalisation.
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CodekdError
from ..evaluation.baseline import find_baseline
from ..sanity import is_degenerate, score_kind, warnings_for
from ..io import atomic_write_text
from ..tasks import get_task
from .store import Store

METHOD_ORDER = ["ft", "kd", "dist", "pkd", "ckd"]


def feature_methods() -> set[str]:
    """The registered methods that distil hidden states (``family == "feature"``), plugins included."""
    from ..methods import METHODS

    return {name for name, cls in METHODS.items() if cls.family == "feature"}


def _method_key(m: str) -> tuple[int, str]:
    return (METHOD_ORDER.index(m) if m in METHOD_ORDER else len(METHOD_ORDER), m)


def _fmt(mean: float | None, std: float | None = None, n: int = 1) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "-"
    s = f"{100 * mean:.1f}"
    if n > 1 and std is not None:
        s += f" ± {100 * std:.1f}"
    return s


def collect(store: Store) -> dict[str, Any]:
    """Scores grouped as {(task, teacher): {(student, method): [scores]}} plus params and teacher scores."""
    jobs = store.jobs()
    students = [j for j in jobs if j["kind"] == "student" and j["status"] == "done" and j["test_headline"] is not None]
    teachers_ft = {(j["task"], j["teacher"]): j for j in jobs if j["kind"] == "teacher" and j["status"] == "done"}
    bench = {b["model"]: b for b in store.bench_rows()}
    teacher_score: dict[tuple[str, str], float] = {}
    teacher_params: dict[tuple[str, str], int] = {}
    for (task, t), j in teachers_ft.items():
        teacher_score[(task, t)] = j["test_headline"]
        teacher_params[(task, t)] = j["params"]
    for b in bench.values():
        f = b["figures"]
        if b["role"] == "teacher" and f.get("teacher") and f.get("test_headline") is not None:
            teacher_score.setdefault((b["task"], f["teacher"]), f["test_headline"])
            if f.get("params"):
                teacher_params.setdefault((b["task"], f["teacher"]), f["params"])
    teacher_names = sorted({t for (_, t) in teacher_score} | {j["teacher"] for j in students if j["teacher"]})
    groups: dict[tuple[str, str], dict[tuple[str, str], list[float]]] = defaultdict(lambda: defaultdict(list))
    params: dict[str, int] = {}
    for j in students:
        params[j["student"]] = j["params"] or params.get(j["student"], 0)
        # FT has no teacher: its row belongs to every teacher's table of the task
        targets = [j["teacher"]] if j["teacher"] else (teacher_names or ["none"])
        for t in targets:
            groups[(j["task"], t)][(j["student"], j["method"])].append(float(j["test_headline"]))
    return {"groups": groups, "params": params, "teacher_score": teacher_score, "teacher_params": teacher_params,
            "bench": bench, "jobs": jobs}


def score_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for (task, teacher), cells in sorted(data["groups"].items()):
        tscore = data["teacher_score"].get((task, teacher))
        ft = {s: float(np.mean(v)) for (s, m), v in cells.items() if m == "ft"}
        for (student, method), vals in sorted(cells.items(), key=lambda kv: (data["params"].get(kv[0][0], 0), _method_key(kv[0][1]))):
            mean = float(np.mean(vals))
            std = float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0
            rows.append({"task": task, "teacher": teacher, "student": student, "method": method, "seeds": len(vals),
                         "mean": mean, "std": std, "params": data["params"].get(student),
                         "teacher_score": tscore,
                         "retention": mean / tscore if tscore else None,
                         "gain_over_ft": mean - ft[student] if student in ft and method != "ft" else None})
    return rows


def findings(rows: list[dict[str, Any]], data: dict[str, Any], teacher_meta: dict[str, Any] | None = None) -> list[str]:
    """The paper's four findings, checked against this study's numbers."""
    out = []
    by = defaultdict(dict)
    for r in rows:
        by[(r["task"], r["teacher"], r["student"])][r["method"]] = r
    # 1. KD beats FT at every size
    cmp_ = [(k, v["kd"]["mean"] > v["ft"]["mean"]) for k, v in by.items() if "kd" in v and "ft" in v]
    if cmp_:
        wins = sum(ok for _, ok in cmp_)
        verdict = "holds" if wins == len(cmp_) else ("partly holds" if wins else "does not hold")
        out.append(f"**KD beats FT at every size** — {verdict} here: KD > FT in {wins} of {len(cmp_)} "
                   "task x teacher x student cells.")
    else:
        out.append("**KD beats FT at every size** — not testable (the study needs both FT and KD runs).")
    # 2. code-specific teacher better than a general one
    meta = teacher_meta or {}
    code = [t for t, m in meta.items() if m.get("code_specific") is True]
    general = [t for t, m in meta.items() if m.get("code_specific") is False]
    if code and general:
        res = []
        for task in sorted({r["task"] for r in rows}):
            def best(t: str) -> float | None:
                vals = [r["mean"] for r in rows if r["task"] == task and r["teacher"] == t and r["method"] != "ft"]
                return max(vals) if vals else None
            c, g = best(code[0]), best(general[0])
            if c is not None and g is not None:
                res.append(c > g)
        if res:
            verdict = "holds" if all(res) else ("partly holds" if any(res) else "does not hold")
            out.append(f"**A code-specific teacher distils better than a general one** — {verdict} here "
                       f"({code[0]} vs {general[0]}: better best-student score in {sum(res)} of {len(res)} tasks).")
        else:
            out.append("**A code-specific teacher distils better** — not testable (no comparable runs).")
    else:
        out.append("**A code-specific teacher distils better than a general one** — not testable: the study has "
                   "no pair of teachers marked code_specific true/false.")
    # 3. feature-based KD (CKD) is best
    best_counts = defaultdict(int)
    cells = 0
    for k, v in by.items():
        distil = {m: r["mean"] for m, r in v.items() if m != "ft"}
        if len(distil) >= 2:
            cells += 1
            top_score = max(distil.values())
            winners = [m for m, x in distil.items() if x == top_score]
            best_counts[winners[0] if len(winners) == 1 else "tie"] += 1
    if cells:
        top = max(best_counts, key=best_counts.get)  # "tie" when no method is strictly best
        feature = feature_methods()
        feat = sum(n for m, n in best_counts.items() if m in feature)
        ret = [r["retention"] for r in rows if r["method"] == "ckd" and r["retention"]]
        extra = f"; CKD keeps up to {100 * max(ret):.1f}% of the teacher's score" if ret else ""
        verdict = ("holds" if top == "ckd" else "is undecided (methods tie)" if top == "tie"
                   else "partly holds" if feat else "does not hold")
        out.append(f"**Feature-based KD (CKD) is best** — {verdict} here: the best method per cell is "
                   + ", ".join(f"{m} {n}x" for m, n in sorted(best_counts.items(), key=lambda x: -x[1]))
                   + f" over {cells} cells{extra}.")
    else:
        out.append("**Feature-based KD (CKD) is best** — not testable (needs at least two distillation methods).")
    # 4. a student similar to the teacher in architecture is not necessarily better
    pairs = []
    for (task, teacher, student), v in by.items():
        if student.startswith("gru-"):
            twin = "roberta-" + student.split("-", 1)[1]
            other = by.get((task, teacher, twin))
            if other:
                for m in set(v) & set(other):
                    pairs.append(v[m]["mean"] >= other[m]["mean"])
    if pairs:
        g = sum(pairs)
        verdict = "holds" if g else "does not hold"
        out.append(f"**An architecture like the teacher's is not necessarily better** — {verdict} here: the BiGRU "
                   f"student matches or beats the RoBERTa student of the same size in {g} of {len(pairs)} "
                   "method x size comparisons.")
    else:
        out.append("**An architecture like the teacher's is not necessarily better** — not testable (needs BiGRU and "
                   "RoBERTa students of the same size).")
    return out


def _per_task(value: float | dict[str, float] | None, task: str) -> float | None:
    if isinstance(value, dict):
        v = value.get(task)
        return None if v is None else float(v)
    return None if value is None else float(value)


def _job_name(j: dict[str, Any]) -> str:
    if j["kind"] == "teacher":
        return f"teacher {j['teacher']} ({j['task']})"
    return (f"student {j['student']} {j['method']} seed {j['seed']} ({j['task']}"
            + (f", teacher {j['teacher']})" if j["teacher"] else ")"))


def task_references(data: dict[str, Any], baseline: float | dict[str, float] | None = None,
                    majority: float | dict[str, float] | None = None) -> dict[str, dict[str, float | None]]:
    """Per task, the TF-IDF baseline and the constant (majority-class) score of the test split.

    Given values win; else the baseline comes from a ``baseline.json`` in a teacher run folder (same
    data and normalisation) and the majority from any run's ``sanity`` entry."""
    out: dict[str, dict[str, float | None]] = {}
    for task in sorted({j["task"] for j in data["jobs"] if j["task"]}):
        b, m = _per_task(baseline, task), _per_task(majority, task)
        for j in data["jobs"]:
            if j["task"] != task or j["status"] != "done":
                continue
            if b is None and j["kind"] == "teacher" and j.get("out") and isinstance(j.get("config"), dict):
                cfg = j["config"]
                rec = find_baseline([j["out"]], data=cfg.get("data", ""), task=task,
                                    normalization=cfg.get("normalization", "whitespace"))
                b = rec["test_headline"] if rec is not None else None
            sanity = (j.get("metrics") or {}).get("sanity") if isinstance(j.get("metrics"), dict) else None
            if m is None and sanity and sanity.get("constant_score") is not None:
                m = float(sanity["constant_score"])
        out[task] = {"baseline": b, "majority": m}
    return out


def warning_lines(data: dict[str, Any], refs: dict[str, dict[str, float | None]]) -> tuple[list[str], set]:
    """The report's warnings (one line per finding) and the (task, teacher) pairs whose teacher is degenerate."""
    lines, bad_teachers = [], set()
    for j in sorted(data["jobs"], key=lambda j: (j["task"] or "", j["kind"] != "teacher", j["key"])):
        if j["status"] != "done" or j["test_headline"] is None:
            continue
        metrics = j.get("metrics") if isinstance(j.get("metrics"), dict) else {}
        sanity = metrics.get("sanity")
        if sanity is None:  # an older run: only the baseline comparison is possible
            try:
                kind = score_kind(get_task(j["task"]).metric)
            except CodekdError:  # an unknown task name in an old database
                kind = "accuracy"
            sanity = {"split": "test", "metric": kind, "score": float(j["test_headline"]), "flags": []}
        if j["kind"] == "teacher" and is_degenerate(sanity):
            bad_teachers.add((j["task"], j["teacher"]))
        lines += warnings_for(sanity, _job_name(j), baseline=refs.get(j["task"], {}).get("baseline"))
    return lines, bad_teachers


def efficiency_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    order = sorted(data["bench"].items(), key=lambda kv: (kv[1]["task"] or "", kv[1]["role"] != "teacher",
                                                           -(kv[1]["figures"].get("params") or 0)))
    for model, b in order:
        f = b["figures"]
        rows.append({"model": model, "role": b["role"], "task": b["task"], "student": b["student"],
                     "params": f.get("params"), "fp32_mb": f.get("fp32_mb"), "int8_mb": f.get("int8_mb"),
                     "latency_b1_p50_ms": f.get("latency_b1_p50_ms"), "throughput_b32": f.get("throughput_b32"),
                     "speedup_vs_teacher": f.get("speedup_vs_teacher"), "size_ratio": f.get("size_ratio"),
                     "device": f.get("device"), "threads": f.get("threads"), "seq_len": f.get("seq_len")})
    return rows


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    import io

    buf = io.StringIO()
    if rows:
        w = csv.DictWriter(buf, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    atomic_write_text(path, buf.getvalue())


def write_report(db: str | Path, out: str | Path, *, teacher_meta: dict[str, Any] | None = None,
                 title: str = "codekd study report", baseline: float | dict[str, float] | None = None,
                 majority: float | dict[str, float] | None = None) -> dict[str, Any]:
    """Write the report (see the module docstring). ``baseline`` / ``majority``: the TF-IDF baseline's
    and the majority class's test headline score (one number, or one per task); found in the runs when
    not given."""
    from .plots import plot_scores

    store = Store(db)
    data = collect(store)
    rows = score_rows(data)
    refs = task_references(data, baseline, majority)
    warnings, bad_teachers = warning_lines(data, refs)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _write_csv(out / "scores.csv", rows)
    eff = efficiency_rows(data)
    _write_csv(out / "efficiency.csv", eff)
    md = [f"# {title}", "", f"Database: `{store.path}`. Scores are test-split headline metrics in % "
          "(mean ± std over seeds); retention = student / teacher; gain = method − FT for the same student.", ""]
    # first, so nobody reads the tables of a useless model without being told
    refs_known = [f"{t}: TF-IDF baseline {_fmt(r['baseline'])}, majority class {_fmt(r['majority'])}"
                  for t, r in refs.items() if r["baseline"] is not None or r["majority"] is not None]
    md += ["## Warnings", ""]
    md += ([f"- {x}" for x in warnings] if warnings else ["- none: no model is degenerate or below a known baseline."])
    md += ([""] + [f"Reference scores (test, %): {'; '.join(refs_known)}."] if refs_known else []) + [""]
    plots = []
    for (task, teacher), _cells in sorted(data["groups"].items()):
        sub = [r for r in rows if r["task"] == task and r["teacher"] == teacher]
        students = sorted({r["student"] for r in sub}, key=lambda s: (data["params"].get(s) or 0, s))
        methods = sorted({r["method"] for r in sub}, key=_method_key)
        cell = {(r["student"], r["method"]): r for r in sub}
        tscore = data["teacher_score"].get((task, teacher))
        md += [f"## {task} — teacher {teacher}" + (f" ({_fmt(tscore)})" if tscore else ""), ""]
        hdr = "| method | " + " | ".join(f"{s} ({(data['params'].get(s) or 0) / 1e6:.2f}M)" for s in students) + " |"
        md += ["### Score", "", hdr, "|" + "---|" * (len(students) + 1)]
        for m in methods:
            md.append(f"| {m.upper()} | " + " | ".join(_fmt(cell[(s, m)]["mean"], cell[(s, m)]["std"], cell[(s, m)]["seeds"])
                                                       if (s, m) in cell else "-" for s in students) + " |")
        if tscore:
            md.append("| teacher | " + " | ".join(_fmt(tscore) for _ in students) + " |")
            md += ["", "### Retention (student / teacher)"
                   + (" — the teacher is degenerate: these ratios say nothing" if (task, teacher) in bad_teachers
                      else ""), "", hdr, "|" + "---|" * (len(students) + 1)]
            for m in methods:
                md.append(f"| {m.upper()} | " + " | ".join(f"{100 * cell[(s, m)]['retention']:.1f}%"
                                                           if (s, m) in cell and cell[(s, m)]["retention"] else "-"
                                                           for s in students) + " |")
        gains = [m for m in methods if m != "ft"]
        if "ft" in methods and gains:
            md += ["", "### Gain over FT (points)", "", hdr, "|" + "---|" * (len(students) + 1)]
            for m in gains:
                md.append(f"| {m.upper()} | " + " | ".join(f"{100 * cell[(s, m)]['gain_over_ft']:+.1f}"
                                                           if (s, m) in cell and cell[(s, m)]["gain_over_ft"] is not None
                                                           else "-" for s in students) + " |")
        png = out / f"{task}-{teacher}.png"
        ref = refs.get(task, {})
        plot_scores(png, sub, tscore, title=f"{task} — teacher {teacher}", baseline=ref.get("baseline"),
                    majority=ref.get("majority"))
        plots.append(str(png))
        md += ["", f"![{task} {teacher}]({png.name})", ""]
    if eff:
        md += ["## Efficiency", "", "| model | role | params | fp32 MB | int8 MB | latency b1 p50 (ms) | "
               "throughput b32 (ex/s) | speed-up vs teacher | size ratio |", "|---|---|---|---|---|---|---|---|---|"]
        for r in eff:
            def f(v: Any, fmt: str) -> str:
                return format(v, fmt) if isinstance(v, (int, float)) else "-"
            md.append(f"| {r['model']} | {r['role']} | {f(r['params'], ',')} | {f(r['fp32_mb'], '.2f')} | "
                      f"{f(r['int8_mb'], '.2f')} | {f(r['latency_b1_p50_ms'], '.2f')} | {f(r['throughput_b32'], '.1f')} | "
                      f"{f(r['speedup_vs_teacher'], '.1f')}x | {f(r['size_ratio'], '.3f')} |")
        first = eff[0]
        md += ["", f"Measured on {first.get('device')} with {first.get('threads')} threads at sequence length "
                   f"{first.get('seq_len')}.", ""]
    md += ["## Findings", ""] + [f"- {x}" for x in findings(rows, data, teacher_meta)] + [""]
    failed = [j for j in data["jobs"] if j["status"] == "failed"]
    if failed:
        md += ["## Failed jobs", ""] + [f"- `{j['key']}` {j['kind']} {j['task']} {j['student'] or ''} "
                                        f"{j['method'] or ''}: {(j['error'] or '').splitlines()[0]}" for j in failed] + [""]
    atomic_write_text(out / "report.md", "\n".join(md))
    return {"out": str(out), "report": str(out / "report.md"), "plots": plots, "rows": len(rows),
            "markdown": "\n".join(md), "warnings": warnings}
