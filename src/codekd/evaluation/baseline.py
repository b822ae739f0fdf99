"""A TF-IDF + logistic-regression baseline on the same splits a teacher is trained on.

A teacher that does not clearly beat this is not worth distilling. Code tokens are identifiers,
numbers and single punctuation characters; features are TF-IDF of token uni- and bi-grams
(sublinear tf). Single-function tasks use the function's vector; pair tasks use
``[|a - b|, a * b]`` of the two functions' vectors. The regularisation strength C is chosen on the
validation split; test is scored once.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from ..data.loaders import TaskData, load_task_data
from ..data.normalize import normalize_code
from ..tasks import get_task
from .metrics import classification_metrics, headline

TOKEN_PATTERN = r"[A-Za-z_][A-Za-z0-9_]*|\d+|[^\sA-Za-z0-9_]"


def _texts(split, normalization: str) -> list[tuple[str, ...]]:
    return [tuple(normalize_code(c, normalization) for c in tup) for tup in split.codes()]


def tfidf_baseline(data: str | Path | TaskData, task: str | None = None, *, normalization: str = "whitespace",
                   fraction: float | None = None, seed: int = 0, max_features: int = 50_000,
                   cs: tuple[float, ...] = (1.0, 10.0)) -> dict[str, Any]:
    """Fit on train, pick C on valid, score test. Returns metrics for valid and test."""
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    t0 = time.perf_counter()
    td = data if isinstance(data, TaskData) else load_task_data(data, get_task(task), fraction=fraction, seed=seed)
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
        clf = LogisticRegression(C=c, max_iter=2000)
        clf.fit(X["train"], y["train"])
        vm = classification_metrics(_full_logits(clf, X["valid"], td.num_labels), y["valid"], td.num_labels)
        score = sum(vm.get(k, 0.0) for k in td.task.selection)
        if best is None or score > best[0]:
            best = (score, c, clf, vm)
    _, c, clf, vm = best
    tm = classification_metrics(_full_logits(clf, X["test"], td.num_labels), y["test"], td.num_labels)
    return {"model": "tfidf+logreg", "C": c, "features": len(vec.vocabulary_), "valid": vm, "test": tm,
            "test_headline": headline(td.task, tm), "seconds": round(time.perf_counter() - t0, 2)}


def _full_logits(clf, X, num_labels: int) -> np.ndarray:
    """Log-probabilities over every label (classes absent from train get -inf-like scores)."""
    proba = np.full((X.shape[0], num_labels), 1e-12)
    proba[:, clf.classes_] = np.maximum(clf.predict_proba(X), 1e-12)
    return np.log(proba)
