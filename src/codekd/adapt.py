"""Your own code: the transfer path from a folder of Python to a deployed exception-type student.

A user's repository alone is far too small to learn exception types from (a few hundred labelled
``except`` clauses; see ``benchmarks/RESULTS-small-data.md``), so :func:`adapt` does what works:

1. **Public data**: the pinned public set (``codekd data build-exceptions``, ~25k functions from
   ~390 pinned PyPI projects + the stdlib), built once into ``~/.cache/codekd/pinned-exceptions``
   (or ``public``).
2. **Your data**: the folder mined with the public set's label list, in its order (the teacher's
   head), grouped for the split by top-level folder (``group_by``). Clauses of other types (your
   project's own exceptions) are not labels; functions of your training groups that catch them
   become teacher-labelled transfer examples (``transfer``). Held-out functions that are near
   copies of a public training function (a library the public set pins, vendored or copied into
   your code: the public teacher was trained on it) are removed from valid and test
   (:func:`unseen_held_out`), so the scores are on code no model has seen.
3. **Teacher**: a teacher fine-tuned on the public set (``teacher``, or fine-tuned here with the
   CPU recipe in ``teacher_minutes``); with ``continue_teacher`` also continued on your training
   split, and the one better on *your* validation split is kept.
4. **Students** distilled (``method``, default DIST) on public + your training functions (+ the
   transfer examples, labelled by the teacher's top-1), from a teacher cache, selected on your
   validation split, in ``minutes`` each.
5. **Evaluation on your held-out split**: the majority class, TF-IDF + logistic regression trained
   on your split and on public + yours, the public-only teacher, the kept teacher, every student.
6. **Export** of the best student (ONNX, parity-checked on your test split).

Every step keeps its output under ``out`` and is skipped when it is there already, so a re-run
continues. ``adapt.json`` holds the table.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from .config import load_run_config
from .data.builders.exceptions import mine_exceptions
from .data.builders.minhash import NearIndex
from .data.builders.progress import track
from .data.guard import SmallDataWarning
from .data.normalize import normalize_code
from .demo import demo_data
from .engine.runs import distill, finetune_teacher
from .engine.teacher_cache import build_teacher_cache, resolve_teacher_dir
from .errors import ConfigError, DataError
from .evaluation.baseline import tfidf_baseline
from .evaluation.evaluate import evaluate
from .evaluation.export import export_model
from .io import atomic_dir, atomic_write_json, atomic_write_text
from .methods import get_method
from .models.teacher import Teacher
from .recipes import teacher_recipe

EXCLUDE = ("Exception", "BaseException")  # catch-alls, never labels (as the public set)
NORMALIZATION = "structure:try=4"          # what the offline teacher recipe reads (studies/offline.yaml)
MAX_LENGTH = 128
DEFAULT_PUBLIC = Path.home() / ".cache" / "codekd" / "pinned-exceptions"
CONTINUE_LR = 1.0e-4   # continuing a fine-tuned teacher on a few hundred functions: a tenth of the CPU recipe's
CONTINUE_EPOCHS = 3
CONTINUE_MINUTES = 4.0  # the budget of the continuation (on this 2-core machine a few hundred steps)
STUDENT_LR = 1.0e-3
# A held-out function whose token 3-gram Jaccard similarity with a public training function is at least
# this is not unseen code. Measured on 178 PyPI releases: every held-out function at >= 0.5 had the same
# label as its public match (a vendored pyparsing in pip, ply in astropy, configobj in astropy), so a
# looser bound than the public set's own de-duplication (0.9) is still only copies.
NEAR_PUBLIC = 0.7


def _jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _write_jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def public_data(public: str | Path | None, *, progress: bool, say: Callable[[str], None]) -> Path:
    """The public set: ``public`` (a dataset folder), else the pinned set built once into the cache."""
    if public is not None:
        p = Path(public)
        if not (p / "labels.json").is_file() or not (p / "train.jsonl").is_file():
            raise DataError("the public data folder needs train/valid/test.jsonl and labels.json "
                            "(codekd data build-exceptions --out DIR)", path=p)
        return p

    demo_data(DEFAULT_PUBLIC, progress=progress, say=say)
    return DEFAULT_PUBLIC


def mine_own(code: str | Path, out: Path, labels: list[str], *, group_by: str, seed: int,
             progress: bool) -> dict[str, Any]:
    """Your folder as a dataset with the teacher's label list (kept even where a label has no example),
    plus the functions of your training groups that catch other types (transfer candidates)."""
    own = out / "own"
    if not (own / "stats.json").is_file():
        mine_exceptions([code], own, labels=labels, group_by=group_by, empty_labels="keep",
                        exclude_labels=EXCLUDE, seed=seed, progress=progress)
    stats = json.loads((own / "stats.json").read_text())
    counts = {s: len(_jsonl(own / f"{s}.jsonl")) for s in ("train", "valid", "test")}
    for s in ("train", "valid", "test"):
        if counts[s] == 0:
            raise DataError(f"your folder gave no {s} example with one of the teacher's {len(labels)} labels "
                            f"(train {counts['train']} / valid {counts['valid']} / test {counts['test']}); the split "
                            f"is by {group_by}: try --group-by file, or a folder with more code", path=code)
    other = out / "other-types"
    if not (other / "stats.json").is_file():
        # every other caught type as a label; rows of a group held out above are dropped below
        try:
            mine_exceptions([code], other, num_labels=100_000, label_set="frequent", group_by=group_by,
                            empty_labels="keep", exclude_labels=(*EXCLUDE, *labels), seed=seed, progress=False,
                            max_label_share=1.0)
        except DataError:  # no other type is caught anywhere
            other.mkdir(parents=True, exist_ok=True)
            atomic_write_json(other / "stats.json", {"examples": 0})
    held_out = {_group(r, group_by) for s in ("valid", "test") for r in _jsonl(own / f"{s}.jsonl")}
    cands = [r for s in ("train", "valid", "test") for r in _jsonl(other / f"{s}.jsonl")
             if _group(r, group_by) not in held_out]
    return {"own": own, "counts": counts, "stats": stats, "transfer_candidates": cands}


def unseen_held_out(own: Path, public: Path, out: Path, *, threshold: float = NEAR_PUBLIC,
                    progress: bool = False) -> dict[str, Any]:
    """``own`` with every valid and test function that is a near copy of a public training function
    (MinHash candidates, exact Jaccard of token 3-grams >= ``threshold``) removed, as ``out/own-unseen``;
    the removed ones, with their public match, in its ``near-public.json``. Training rows are kept."""
    dest = out / "own-unseen"
    key = {"own": str(own.resolve()), "public": str(public.resolve()), "threshold": threshold}
    report = dest / "near-public.json"
    if (dest / "labels.json").is_file() and report.is_file():
        done = json.loads(report.read_text())
        if done.get("key") == key:
            return {"dir": dest, **done}
    public_train = _jsonl(public / "train.jsonl")
    index = NearIndex([r["func"] for r in public_train])
    kept: dict[str, list[dict[str, Any]]] = {}
    removed: list[dict[str, Any]] = []
    for split in ("valid", "test"):
        kept[split] = []
        rows = _jsonl(own / f"{split}.jsonl")
        for r in track(rows, f"near copies of public code ({split})", progress):
            j, sim = index.nearest(r["func"])
            if j is not None and sim >= threshold:
                m = public_train[j]
                removed.append({"split": split, "idx": r["idx"], "path": r.get("path"), "name": r.get("name"),
                                "target": r["target"], "jaccard": round(sim, 3), "public_idx": m.get("idx"),
                                "public_project": m.get("project"), "public_target": m.get("target")})
            else:
                kept[split].append(r)
    counts = {s: {"mined": len(_jsonl(own / f"{s}.jsonl")), "kept": len(kept[s])} for s in ("valid", "test")}
    done = {"key": key, "counts": counts, "removed": removed}
    with atomic_dir(dest, marker="labels.json", what="your held-out data without public near copies") as tmp:
        for name in ("train.jsonl", "labels.json", "stats.json"):
            if (own / name).is_file():
                shutil.copyfile(own / name, tmp / name)
        for split in ("valid", "test"):
            _write_jsonl(tmp / f"{split}.jsonl", kept[split])
        atomic_write_json(tmp / "near-public.json", done)
    return {"dir": dest, **done}


def _group(row: dict[str, Any], group_by: str) -> Any:
    """The split group of a mined row (a transfer function from a held-out group would leak)."""
    if group_by == "top-dir":
        return row.get("project")
    if group_by == "file":
        return row.get("path")
    return (row.get("path"), row.get("name"))  # none: the function itself


def _label_transfer(teacher_dir: Path, rows: list[dict[str, Any]], labels: list[str], out: Path,
                    normalization: str, max_length: int) -> list[dict[str, Any]]:
    """Transfer rows labelled by the teacher's top-1 (their real type is not a label)."""
    path, by = out / "transfer-labelled.jsonl", out / "transfer-labelled.teacher"
    if path.is_file() and by.is_file() and by.read_text() == str(teacher_dir.resolve()):
        return _jsonl(path)

    teacher = Teacher.load(str(teacher_dir), len(labels), max_length=max_length)
    teacher.eval()
    done: list[dict[str, Any]] = []
    with torch.no_grad():
        for i in range(0, len(rows), 32):
            chunk = rows[i:i + 32]
            logits = teacher.predict_logits([normalize_code(r["func"], normalization) for r in chunk])
            for r, k in zip(chunk, logits.argmax(-1).tolist()):
                done.append({**r, "idx": f"transfer-{r['idx']}", "target": labels[k], "caught": r["target"],
                             "transfer": True})
    _write_jsonl(path, done)
    atomic_write_text(by, str(teacher_dir.resolve()))  # a re-run that keeps another teacher labels them again
    return done


def mixed_data(public: Path, own: Path, transfer: list[dict[str, Any]], out: Path) -> Path:
    """train = public train + your train (+ transfer); valid and test = yours; the public label list.
    Public functions equal (after whitespace normalisation) to one of your held-out functions are dropped."""
    mixed = out / "mixed"
    transfer_rows = [r["idx"] + "=" + r["target"] for r in transfer]
    stats = mixed / "stats.json"
    held_out_ids = sorted(r["idx"] for s in ("valid", "test") for r in _jsonl(own / f"{s}.jsonl"))
    if (mixed / "labels.json").is_file() and stats.is_file():
        done = json.loads(stats.read_text())
        if done.get("transfer_rows") == transfer_rows and done.get("held_out") == held_out_ids:
            return mixed  # else built with other transfer labels (another teacher) or held-out rows: replaced
    # your rows get their own id space: an id of yours can also name a public function (a copied file)
    mine = {s: [{**r, "idx": f"own-{r['idx']}"} for r in _jsonl(own / f"{s}.jsonl")] for s in ("train", "valid", "test")}
    held = {normalize_code(r["func"], "whitespace") for s in ("valid", "test") for r in mine[s]}
    public_train = [r for r in _jsonl(public / "train.jsonl") if normalize_code(r["func"], "whitespace") not in held]
    with atomic_dir(mixed, marker="labels.json", what="adapt training data") as tmp:
        _write_jsonl(tmp / "train.jsonl", public_train + mine["train"] + transfer)
        for s in ("valid", "test"):
            _write_jsonl(tmp / f"{s}.jsonl", mine[s])
        shutil.copyfile(public / "labels.json", tmp / "labels.json")
        atomic_write_json(tmp / "stats.json", {"train": {"public": len(public_train), "own": len(mine["train"]),
                                                         "transfer": len(transfer)},
                                               "transfer_rows": transfer_rows, "held_out": held_out_ids,
                                               "valid": "own", "test": "own"})
    return mixed


def _teacher_config(data: Path, out: Path, base: str, *, minutes: float | None, lr: float | None = None,
                    epochs: int | None = None, seed: int = 0, normalization: str = NORMALIZATION,
                    max_length: int = MAX_LENGTH) -> Any:
    saved = Path(base) / "codekd_teacher.json"
    pooling = json.loads(saved.read_text()).get("pooling") if saved.is_file() else None
    # the CPU recipe: a mean-pooled (MiniLM-style) teacher gets its bottom 3 layers frozen and replayed
    fields = teacher_recipe("cpu", teacher=base, pooling=pooling)
    fields.update({"kind": "finetune", "task": "exception", "data": str(data), "out": str(out), "teacher.path": base,
                   "normalization": normalization, "train.max_length": max_length, "train.seed": seed})
    if minutes:
        fields["train.minutes"] = minutes
    if lr is not None:
        fields["train.lr"] = lr
    if epochs is not None:
        fields["train.epochs"] = epochs
    return load_run_config(None, [], **fields)


def teacher_settings(teacher: str | Path) -> tuple[str, int]:
    """The normalisation and max length a fine-tuned teacher was trained with (its run's config.yaml),
    else the offline recipe's."""
    import yaml

    t = Path(teacher)
    for cfg in (t / "config.yaml", t.parent / "config.yaml"):
        if cfg.is_file():
            d = yaml.safe_load(cfg.read_text()) or {}
            return str(d.get("normalization") or NORMALIZATION), int((d.get("train") or {}).get("max_length") or MAX_LENGTH)
    return NORMALIZATION, MAX_LENGTH


def _score(model: str | Path, data: Path, split: str) -> dict[str, float]:
    r = evaluate(str(model), data=str(data), task="exception", split=split, write=False)
    m = r.get("metrics", r)
    return {"accuracy": float(m["accuracy"]), "f1": float(m.get("f1", float("nan")))}


def _data_digest(data: Path) -> str:
    """SHA-1 of a dataset folder's three split files (what a kept baseline was fitted and scored on)."""
    h = hashlib.sha1()
    for split in ("train", "valid", "test"):
        h.update((data / f"{split}.jsonl").read_bytes())
    return h.hexdigest()


def _baseline(data: Path, digest: str, normalization: str, folder: Path, name: str) -> dict[str, Any]:
    """The TF-IDF baseline (full mode: C chosen on valid) of ``data`` on ``normalization``, kept in
    ``folder/name.json`` and reused while the data files (``digest``, :func:`_data_digest`) and the
    input are the same."""
    key = hashlib.sha1(normalization.encode() + digest.encode()).hexdigest()
    path = folder / f"{name.replace(':', '-').replace('=', '')}.json"
    if path.is_file():
        rec = json.loads(path.read_text())
        if rec.get("key") == key:
            return rec
    rec = {"key": key, "data": str(data), "normalization": normalization,
           **tfidf_baseline(data, "exception", normalization=normalization)}
    atomic_write_json(path, rec)
    return rec


def _majority(data: Path) -> dict[str, Any]:
    from collections import Counter

    train = Counter(r["target"] for r in _jsonl(data / "train.jsonl"))
    test = [r["target"] for r in _jsonl(data / "test.jsonl")]
    label = train.most_common(1)[0][0]
    return {"label": label, "accuracy": sum(t == label for t in test) / max(1, len(test))}


def adapt(code: str | Path, out: str | Path, *, teacher: str | Path | None = None, public: str | Path | None = None,
          teacher_minutes: float = 15.0, students: Sequence[str] = ("roberta-1.5m",), method: str = "dist",
          minutes: float = 8.0, continue_teacher: bool = True, continue_minutes: float = CONTINUE_MINUTES,
          transfer: bool = True, group_by: str = "top-dir",
          seed: int = 0, export: bool = True, progress: bool = True, student_sets: Sequence[str] = (),
          near_threshold: float = NEAR_PUBLIC,
          say: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the transfer path (module docstring); returns (and writes to ``out/adapt.json``) the table."""
    code, out = Path(code), Path(out)
    if not code.exists():
        raise DataError("no such folder", path=code)
    if out.exists() and not out.is_dir():
        raise DataError("the output path exists and is not a folder", path=out)
    get_method(method)
    if group_by not in ("top-dir", "file", "none"):
        raise ConfigError(f"group_by must be top-dir, file or none, got {group_by!r}")
    if not 0.0 < near_threshold <= 1.0:
        raise ConfigError(f"near_threshold must be in (0, 1], got {near_threshold!r}")
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    steps: dict[str, float] = {}

    def step(name: str, t: float) -> None:
        steps[name] = round(time.perf_counter() - t, 1)

    t = time.perf_counter()
    pub = public_data(public, progress=progress, say=say)
    labels = json.loads((pub / "labels.json").read_text())
    step("public data", t)
    say(f"[1/6] public data: {pub} ({len(labels)} labels)")

    t = time.perf_counter()
    mined = mine_own(code, out / "data", labels, group_by=group_by, seed=seed, progress=progress)
    unseen = unseen_held_out(mined["own"], pub, out / "data", threshold=near_threshold, progress=progress)
    own = unseen["dir"]
    c = {"train": mined["counts"]["train"], **{s: unseen["counts"][s]["kept"] for s in ("valid", "test")}}
    near = {s: unseen["counts"][s]["mined"] - unseen["counts"][s]["kept"] for s in ("valid", "test")}
    step("your data", t)
    say(f"[2/6] your code: {c['train']} / {c['valid']} / {c['test']} examples (train / valid / test, grouped by "
        f"{group_by}); {len(mined['transfer_candidates'])} functions of your training groups catch other types")
    if any(near.values()):
        say(f"      removed from your held-out split as near copies of public training code (Jaccard >= "
            f"{near_threshold:g}): {near['valid']} valid, {near['test']} test; list: {own / 'near-public.json'}")
    for s in ("valid", "test"):
        if c[s] == 0:
            raise DataError(f"every {s} function of your folder is a near copy of public training code "
                            f"({near[s]} removed): nothing unseen is left to score on; try --group-by file, "
                            f"or a folder with more code of your own", path=code)

    t = time.perf_counter()
    if teacher is not None:
        public_teacher = resolve_teacher_dir(teacher) or Path(teacher)
        say(f"[3/6] teacher: {teacher} (given)")
    else:
        say(f"[3/6] teacher: fine-tuning MiniLM on the public set ({teacher_minutes:g} min, CPU recipe)")
        finetune_teacher(_teacher_config(pub, out / "teacher-public", "minilm", minutes=teacher_minutes, seed=seed),
                         progress=progress)
        public_teacher = out / "teacher-public" / "best"
    normalization, max_length = teacher_settings(teacher if teacher is not None else out / "teacher-public")
    teachers = {"public": public_teacher}
    valid = {"public": _score(public_teacher, own, "valid")["accuracy"]}
    if continue_teacher:
        # a few hundred examples are what this step is for: it starts from a teacher that knows the task
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SmallDataWarning)
            finetune_teacher(_teacher_config(own, out / "teacher-own", str(public_teacher), minutes=continue_minutes,
                                             lr=CONTINUE_LR,
                                             epochs=CONTINUE_EPOCHS, seed=seed, normalization=normalization,
                                             max_length=max_length), progress=progress)
        teachers["continued on your code"] = out / "teacher-own" / "best"
        valid["continued on your code"] = _score(teachers["continued on your code"], own, "valid")["accuracy"]
    kept = max(valid, key=lambda k: (valid[k], k == "public"))
    teacher_dir = Path(teachers[kept])
    step("teacher", t)
    say(f"      validation top-1 on your code: " + ", ".join(f"{k} {100 * v:.1f}%" for k, v in valid.items())
        + f"; kept: {kept}")

    t = time.perf_counter()
    rows = _label_transfer(teacher_dir, mined["transfer_candidates"], labels, out / "data", normalization, max_length) \
        if transfer and mined["transfer_candidates"] else []
    mixed = mixed_data(pub, own, rows, out / "data")
    cache = out / "cache"
    meta = json.loads((cache / "meta.json").read_text()) if (cache / "meta.json").is_file() else None
    if meta is not None and (meta.get("teacher_folder") != str(teacher_dir.resolve())
                             or meta.get("data") != str(mixed.resolve())):
        shutil.rmtree(cache)  # built from the other teacher (a re-run kept another one): not this run's
        meta = None
    if meta is None:
        build_teacher_cache(teacher_dir, mixed, "exception", cache, splits=["train"], normalization=normalization,
                            max_length=max_length, progress=progress, precision="auto")
    step("cache", t)
    say(f"[4/6] students: {method} on public + your train ({len(rows)} transfer examples), {minutes:g} min each")

    t = time.perf_counter()
    runs: dict[str, Any] = {}
    for s in students:
        sets = [f"method.name={method}", f"train.lr={STUDENT_LR}", f"train.max_length={max_length}",
                "train.mixed_precision=auto", f"train.minutes={minutes}", "train.epochs=20", f"train.seed={seed}",
                *student_sets]
        cfg = load_run_config(None, sets, task="exception", data=str(mixed), out=str(out / "students" / f"{s}-{method}"),
                              normalization=normalization, **{"student.preset": s, "teacher.path": str(teacher_dir),
                                                             "teacher.cache": str(cache)})
        runs[s] = distill(cfg, progress=progress)
    step("students", t)

    say("[5/6] scoring on your held-out split")
    t = time.perf_counter()
    majority = _majority(own)
    table: list[dict[str, Any]] = [
        {"model": f"majority class ({majority['label']})", "test_top1": majority["accuracy"]}]
    # the bar: TF-IDF on the students' own input (the teacher's window) and on the whole function, each
    # trained on your split and on public + yours; the verdict takes the best of them on your test split
    inputs = {f"teacher's input ({normalization})": normalization, "whole function": "whitespace"} \
        if normalization != "whitespace" else {"whole function": "whitespace"}
    bars: list[float] = []
    for train_name, folder, tag in (("your train split", own, "own"), ("public + your train", mixed, "mixed")):
        digest = _data_digest(folder)  # one read of the split files for both inputs
        for input_name, norm in inputs.items():
            b = _baseline(folder, digest, norm, out / "baselines", f"{tag}-{norm}")
            table.append({"model": f"TF-IDF + logistic regression, {train_name}, {input_name}",
                          "test_top1": b["test"]["accuracy"], "valid_top1": b["valid"]["accuracy"], "C": b["C"]})
            bars.append(b["test"]["accuracy"])
    for name, d in teachers.items():
        table.append({"model": f"teacher, {name}", "test_top1": _score(d, own, "test")["accuracy"],
                      "valid_top1": valid[name], "kept": name == kept})
    for s, r in runs.items():
        table.append({"model": f"{s} {method}", "test_top1": float(r["test"]["accuracy"]),
                      "valid_top1": float(r["valid"]["accuracy"]), "params": r.get("params"),
                      "run": str(out / "students" / f"{s}-{method}")})
    step("scoring", t)
    bar = max(bars)
    best = max(runs, key=lambda s: float(runs[s]["valid"]["accuracy"]))
    best_test = float(runs[best]["test"]["accuracy"])
    verdict = (f"best student {best} {method}: {100 * best_test:.1f}% on your held-out split, "
               + (f"{100 * (best_test - bar):+.1f} points against the best TF-IDF ({100 * bar:.1f}%)"))
    export_info = None
    if export:
        say("[6/6] exporting the best student (ONNX, parity on your test split)")
        t = time.perf_counter()
        exp_dir = out / "export"
        if not (exp_dir / "export.json").is_file():
            export_model(str(out / "students" / f"{best}-{method}"), out=str(exp_dir), data=str(own), task="exception")
        export_info = {"folder": str(exp_dir)}
        step("export", t)
    summary = {"code": str(code.resolve()), "public": str(pub), "group_by": group_by, "counts": c,
               "near_public_removed": {**near, "threshold": near_threshold},
               "transfer_examples": len(rows), "teacher_valid": valid, "teacher_kept": kept, "table": table,
               "best": best, "verdict": verdict, "above_tfidf": best_test > bar, "export": export_info,
               "seconds": steps, "total_seconds": round(time.perf_counter() - t0, 1)}
    atomic_write_json(out / "adapt.json", summary)
    return summary


def table_text(summary: dict[str, Any]) -> str:
    """The summary table as Markdown."""
    lines = ["| model | test top-1 (your code) | valid top-1 |", "|---|---:|---:|"]
    for row in summary["table"]:
        v = row.get("valid_top1")
        lines.append(f"| {row['model']}{' (kept)' if row.get('kept') else ''} | {100 * row['test_top1']:.1f}% | "
                     + (f"{100 * v:.1f}% |" if v is not None else "- |"))
    return "\n".join(lines)


__all__ = ["NEAR_PUBLIC", "adapt", "mine_own", "mixed_data", "public_data", "table_text", "unseen_held_out"]
