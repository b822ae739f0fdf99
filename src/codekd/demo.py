"""``codekd demo``: the main job, end to end, on what every machine has.

1. mines the exception-classification dataset from the running Python's stdlib and site-packages
   (``data mine-exceptions``; the catch-alls ``Exception`` and ``BaseException`` are left out, as
   in CuBERT's label set, since they say nothing about the code);
2. scores a TF-IDF + logistic-regression baseline on the same split (the bar the teacher must
   clear);
3. runs ``studies/offline.yaml`` through the study runner: fine-tunes the offline MiniLM teacher
   (cached: a second demo reuses it), caches its logits, pooled states and the token states CKD
   reads, trains vocabularies and distils the students with every method (none of them runs the
   teacher), then benchmarks teacher and students in one process;
4. writes the report (Markdown, CSV, PNG), prints the table, the teacher's verdict against the
   baseline and where everything is.

Interrupting and re-running continues where it stopped (every stage is resumable). ``--quick``
uses a quarter of the data, FT/KD/CKD only and fewer epochs (teacher 3, students 2): a check that
every stage runs (about 6 minutes on 2 cores), not a measurement.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import yaml

from .io import atomic_write_text

DEMO_EXCLUDE = ("Exception", "BaseException")


def _study_doc(out: Path, data: Path, quick: bool) -> dict[str, Any]:
    study = Path(__file__).resolve().parents[2] / "studies" / "offline.yaml"
    if not study.is_file():
        from .errors import ConfigError

        raise ConfigError("the demo runs studies/offline.yaml from a source checkout (git clone, then make demo)",
                          path=study)
    doc = yaml.safe_load(study.read_text())
    doc["out"] = str(out / "study")
    doc["tasks"]["exception"]["data"] = str(data)
    if quick:
        doc["tasks"]["exception"]["fraction"] = 0.25
        doc["methods"] = {"ft": {}, "kd": {}, "ckd": doc["methods"].get("ckd", {})}
        # one epoch over a quarter of the data leaves MiniLM at the majority class (measured): keep 3
        doc["teachers"]["minilm"]["train"].update(epochs=3)
        # measured here: 6 min in all; the students stay near the majority class in 2 epochs (4 epochs of
        # batch 16 lift roberta-1.5m to 38% but take the demo to 8.5 min): a pipeline check, not a result
        doc["train"].update(epochs=2)
        doc["bench"].update(repeats=3)
    return doc


def teacher_verdict(teacher: float | None, baseline: float) -> str:
    """One line: does the fine-tuned teacher beat the TF-IDF baseline on the same test split?"""
    if teacher is None:
        return "the teacher has no test score (its fine-tuning failed; see the study database)"
    gap = 100 * (teacher - baseline)
    head = f"teacher {100 * teacher:.1f}% vs TF-IDF + logistic regression {100 * baseline:.1f}% on the same test split"
    if gap >= 2:
        return f"{head}: the teacher is {gap:.1f} points better"
    if gap > -2:
        return (f"{head}: within 2 points of the baseline ({gap:+.1f}), so the teacher is no better than word counts "
                "here; distilling it shows the methods at work, not a teacher worth compressing")
    return (f"{head}: the teacher is {-gap:.1f} points WORSE than word counts; give it more epochs or data "
            "(train.epochs, a larger mined dataset) before trusting what its students learn")


def run_demo(out: str | Path = "runs/demo", *, quick: bool = False, progress: bool = True,
             say=print) -> dict[str, Any]:
    from .data.builders.exceptions import mine_exceptions
    from .evaluation.baseline import tfidf_baseline
    from .study.report import write_report
    from .study.runner import run_study

    t0 = time.perf_counter()
    out = Path(out).resolve()
    data = out / "data" / "exception"
    if not (data / "stats.json").is_file():
        say(f"[1/4] mining exception-classification examples from this Python's code into {data}")
        stats = mine_exceptions(None, data, exclude_labels=DEMO_EXCLUDE, progress=progress).to_dict()
    else:
        stats = json.loads((data / "stats.json").read_text())
        say(f"[1/4] reusing the mined dataset in {data}")
    size_mb = sum(f.stat().st_size for f in data.glob("*.jsonl")) / 1e6
    say(f"      {stats['examples']} examples, {len(stats['per_label'])} labels, {size_mb:.1f} MB; splits "
        + ", ".join(f"{k} {v['examples']}" for k, v in stats["splits"].items()))
    doc = _study_doc(out, data, quick)
    study_file = out / ("study-quick.yaml" if quick else "study.yaml")
    atomic_write_text(study_file, yaml.safe_dump(doc, sort_keys=False))
    norm = doc["tasks"]["exception"].get("normalization") or doc.get("normalization", "whitespace")
    frac = doc["tasks"]["exception"].get("fraction")
    say("[2/4] TF-IDF + logistic-regression baseline on the same split")
    base = tfidf_baseline(data, "exception", normalization=norm, fraction=frac)
    say(f"      baseline test top-1 {100 * base['test']['accuracy']:.1f}%, top-3 {100 * base['test']['top3']:.1f}%")
    say(f"[3/4] running the study {study_file} (teacher fine-tuning, caches, students, benchmark)")
    res = run_study(study_file, progress=progress)
    say(f"[4/4] writing the report")
    rep = write_report(res["db"], out / ("report-quick" if quick else "report"),
                       teacher_meta={n: t for n, t in doc["teachers"].items()}, title="codekd demo",
                       baseline={"exception": base["test_headline"]})
    md = rep["markdown"]
    from .study.report import collect
    from .study.store import Store

    teacher_acc = collect(Store(res["db"]))["teacher_score"].get(("exception", "minilm"))
    verdict = teacher_verdict(teacher_acc, base["test"]["accuracy"])
    summary = {"seconds": round(time.perf_counter() - t0, 1), "baseline": base, "teacher_test": teacher_acc,
               "verdict": verdict, "study": res, "report": rep["report"], "plots": rep["plots"], "data": str(data)}
    atomic_write_text(out / "demo-summary.json", json.dumps(summary, indent=2, default=str))
    say(md)
    say(f"\n{verdict}")
    if res.get("failed"):
        say(f"{res['failed']} job(s) failed: 'codekd study plan {study_file}' lists them (errors in the study database); "
            "re-running the demo retries them")
    say(f"done in {summary['seconds'] / 60:.1f} min: report {rep['report']}, plots {', '.join(rep['plots'])}")
    return summary
