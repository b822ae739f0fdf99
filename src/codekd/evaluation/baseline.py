"""A TF-IDF + logistic-regression baseline on the same splits a teacher is trained on.

A teacher that does not clearly beat this is not worth distilling. Code tokens are identifiers,
numbers and single punctuation characters; features are TF-IDF of token uni- and bi-grams
(sublinear tf). Single-function tasks use the function's vector; pair tasks use
``[|a - b|, a * b]`` of the two functions' vectors. The regularisation strength C is chosen on the
validation split; test is scored once.
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..data.loaders import TaskData, check_trainable, load_task_data
from ..data.normalize import normalize_code
from ..io import atomic_write_json
from ..tasks import get_task
from ..metrics import classification_metrics, headline

TOKEN_PATTERN = r"[A-Za-z_][A-Za-z0-9_]*|\d+|[^\sA-Za-z0-9_]"
# The fast mode (``teacher finetune`` runs it by default): one C, the saga solver with a looser
# tolerance. Measured on one core (synthetic 20-class set, 8,000 train functions of ~130 tokens,
# 50,000 features): full mode 32.1 s (two lbfgs fits, 119 iterations at C=10), fast mode 6.5 s, of
# which ~4 s is the TF-IDF vectorising and ~1.5 s the fit (21 saga epochs); test accuracy 57.1% fast
# vs 56.8% full. Vectorising and saga grow about linearly with the examples, so ~20k real functions
# should take well under a minute instead of the 147 s measured for the full mode (not measured here).
FAST: dict[str, Any] = {"cs": (10.0,), "max_iter": 100, "solver": "saga", "tol": 1e-3}


def _texts(split, normalization: str) -> list[tuple[str, ...]]:
    return [tuple(normalize_code(c, normalization) for c in tup) for tup in split.codes()]


def tfidf_baseline(data: str | Path | TaskData, task: str | None = None, *, normalization: str = "whitespace",
                   fraction: float | None = None, seed: int = 0, max_features: int = 50_000,
                   cs: tuple[float, ...] = (1.0, 10.0), max_iter: int = 2000, solver: str = "lbfgs",
                   tol: float = 1e-4, fast: bool = False) -> dict[str, Any]:
    """Fit on train, pick C on valid, score test. Returns metrics for valid and test.

    ``fast`` replaces ``cs``, ``max_iter``, ``solver`` and ``tol`` by :data:`FAST` (one C, saga).
    """
    if fast:
        cs, max_iter, solver, tol = FAST["cs"], FAST["max_iter"], FAST["solver"], FAST["tol"]
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    t0 = time.perf_counter()
    td = data if isinstance(data, TaskData) else load_task_data(data, get_task(task), fraction=fraction, seed=seed)
    check_trainable(td)  # one class in train: logistic regression cannot be fitted, and nothing is learnt
    splits = {s: _texts(td[s], normalization) for s in ("train", "valid", "test")}
    vec = TfidfVectorizer(token_pattern=TOKEN_PATTERN, ngram_range=(1, 2), sublinear_tf=True, min_df=2,
                          max_features=max_features, lowercase=False, dtype=np.float32)
    train_docs = [c for tup in splits["train"] for c in tup]
    vec.fit(train_docs)

    def feats(rows: list[tuple[str, ...]]):
        if len(rows[0]) == 1:
            return vec.transform([r[0] for r in rows])
        a = vec.transform([r[0] for r in rows])
        b = vec.transform([r[1] for r in rows])
        return hstack([abs(a - b), a.multiply(b)]).tocsr()

    X = {s: feats(rows) for s, rows in splits.items()}
    y = {s: td[s].labels for s in splits}
    best = None
    for c in cs:
        clf = LogisticRegression(C=c, max_iter=max_iter, solver=solver, tol=tol, random_state=0)
        with warnings.catch_warnings():
            if fast:  # the iteration cap is the point of the fast mode
                warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X["train"], y["train"])
        vm = classification_metrics(_full_logits(clf, X["valid"], td.num_labels), y["valid"], td.num_labels)
        score = sum(vm.get(k, 0.0) for k in td.task.selection)
        if best is None or score > best[0]:
            best = (score, c, clf, vm)
    _, c, clf, vm = best
    tm = classification_metrics(_full_logits(clf, X["test"], td.num_labels), y["test"], td.num_labels)
    return {"model": "tfidf+logreg", "C": c, "features": len(vec.vocabulary_), "valid": vm, "test": tm,
            "test_headline": headline(td.task, tm), "seconds": round(time.perf_counter() - t0, 2),
            "mode": "fast" if fast else "full"}


def _full_logits(clf, X, num_labels: int) -> np.ndarray:
    """Log-probabilities over every label (classes absent from train get -inf-like scores)."""
    proba = np.full((X.shape[0], num_labels), 1e-12)
    proba[:, clf.classes_] = np.maximum(clf.predict_proba(X), 1e-12)
    return np.log(proba)


# ------------------------------------------------------------------------------ run folders

BASELINE_FILE = "baseline.json"


def _same_input(rec: dict[str, Any], data: str | Path, task: str, normalization: str) -> bool:
    try:
        same_data = Path(rec.get("data", "")).resolve() == Path(data).resolve()
    except OSError:
        return False
    return same_data and rec.get("task") == task and rec.get("normalization") == normalization


def run_baseline(cfg: Any, *, fast: bool = True, out: str | Path | None = None) -> dict[str, Any]:
    """The TF-IDF baseline on a run's data, task, normalisation, fraction and data seed, written
    atomically to ``OUT/baseline.json`` (``cfg.out`` unless ``out``). An existing file with the same
    input and mode is reused. The returned record adds ``file`` (where it is)."""
    path = Path(out if out is not None else cfg.out) / BASELINE_FILE
    mode = "fast" if fast else "full"
    if path.is_file():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            old = {}
        if (_same_input(old, cfg.data, cfg.task, cfg.normalization) and old.get("mode") == mode
                and old.get("fraction") == cfg.fraction and old.get("data_seed") == cfg.data_seed):
            return {**old, "file": str(path)}
    res = tfidf_baseline(cfg.data, cfg.task, normalization=cfg.normalization, fraction=cfg.fraction,
                         seed=cfg.data_seed, fast=fast)
    rec = {"task": cfg.task, "data": str(Path(cfg.data).resolve()), "normalization": cfg.normalization,
           "fraction": cfg.fraction, "data_seed": cfg.data_seed, "split": "test", **res}
    atomic_write_json(path, rec)
    return {**rec, "file": str(path)}


def find_baseline(folders: Sequence[str | Path | None], *, data: str | Path, task: str,
                  normalization: str) -> dict[str, Any] | None:
    """The first ``baseline.json`` in ``folders`` (or their parents, for a run's ``best/``) scored on
    the same data, task and normalisation; None when there is none."""
    for folder in folders:
        if folder is None:
            continue
        p = Path(folder)
        for cand in (p / BASELINE_FILE, p.parent / BASELINE_FILE):
            if not cand.is_file():
                continue
            try:
                rec = json.loads(cand.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                continue
            if isinstance(rec, dict) and _same_input(rec, data, task, normalization) and "test_headline" in rec:
                return {**rec, "file": str(cand)}
    return None
