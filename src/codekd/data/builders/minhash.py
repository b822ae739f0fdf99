"""Near-duplicate removal of the exception miner: exact, token-equal and MinHash near duplicates.

Candidates are visited in a fixed order (their ``order``) and the first of each family is kept:

* exact: the same text was already seen; a same-text pair with two different labels is counted in
  ``duplicate_label_conflicts``;
* near, token-equal: the same token sequence once comments, whitespace and line breaks are dropped
  and every string literal (docstrings included) becomes one placeholder token;
* near, MinHash: the Jaccard similarity of the sets of token 3-grams of that sequence with an
  already kept candidate is at least the threshold. Candidates come from MinHash locality-sensitive
  hashing (:data:`NUM_PERM` hash functions, :data:`BANDS` bands); the similarity of each candidate
  pair is then computed exactly, so there are no false positives.

The parameters and the hash seeds are fixed: they are part of the dataset's definition.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from typing import Any, Sequence

import numpy as np

__all__ = ["BANDS", "NUM_PERM", "SHINGLE", "NearIndex", "dedup_features", "deduplicate", "jaccard"]

NUM_PERM = 64
BANDS = 16
SHINGLE = 3
_ROWS = NUM_PERM // BANDS
_rng = np.random.default_rng(0x5EED_C0DE)
_MH_A = _rng.integers(1, 2**63, size=NUM_PERM, dtype=np.uint64) * np.uint64(2) + np.uint64(1)  # odd
_MH_B = _rng.integers(0, 2**63, size=NUM_PERM, dtype=np.uint64)
_SH_P = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9], dtype=np.uint64)
del _rng

# A light Python tokenizer for de-duplication only: strings, comments, words, single symbols.
_TOKEN_RE = re.compile(
    r"(?P<s>[rRbBuUfF]{0,2}(?:\"\"\"(?:\\.|[^\\])*?\"\"\"|'''(?:\\.|[^\\])*?'''"
    r"|\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'))"
    r"|(?P<c>#[^\n]*)"
    r"|(?P<t>\w+|[^\w\s])",
    re.DOTALL,
)
_STR_TOKEN = "\x01STR"


def dedup_features(func: str) -> tuple[bytes, bytes, np.ndarray, np.ndarray]:
    """(exact key, token-equal key, MinHash signature, sorted unique 3-gram hashes) of a text."""
    exact = hashlib.sha1(func.encode("utf-8")).digest()
    toks: list[str] = []
    for m in _TOKEN_RE.finditer(func):
        kind = m.lastgroup
        if kind == "c":
            continue
        toks.append(_STR_TOKEN if kind == "s" else m.group())
    norm = hashlib.sha1("\x00".join(toks).encode("utf-8", "surrogatepass")).digest()
    ids = np.fromiter((zlib.crc32(t.encode("utf-8", "surrogatepass")) for t in toks), dtype=np.uint64, count=len(toks))
    if ids.size >= 3:
        sh = ids[:-2] * _SH_P[0] + ids[1:-1] * _SH_P[1] + ids[2:] * _SH_P[2]
    else:
        sh = np.array([int((ids * _SH_P[: ids.size]).sum()) if ids.size else 0], dtype=np.uint64)
    sh = np.unique(sh)
    sig = (_MH_A[:, None] * sh[None, :] + _MH_B[:, None]).min(axis=1)
    return exact, norm, sig, sh


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Jaccard similarity of two sorted arrays of unique hashes."""
    inter = np.intersect1d(a, b, assume_unique=True).size
    return inter / (a.size + b.size - inter)


def deduplicate(cands: Sequence[Any], threshold: float, stats: Any) -> list[Any]:
    """The candidates kept, in their ``order``; the removals are counted on ``stats``.

    A candidate has ``order``, ``label`` and the :func:`dedup_features` as ``exact_key``,
    ``norm_key``, ``sig`` and ``shingles``. ``stats`` gets ``exact_duplicates_removed``,
    ``duplicate_label_conflicts``, ``near_duplicates_token_equal``, ``near_duplicates_minhash``
    (added to) and ``near_duplicates_removed`` (set).
    """
    cands = sorted(cands, key=lambda c: c.order)
    kept: list[Any] = []
    seen_exact: dict[bytes, str] = {}
    seen_norm: set[bytes] = set()
    buckets: dict[bytes, list[int]] = {}
    sigs = np.empty((len(cands), NUM_PERM), dtype=np.uint64)
    prescreen = max(0.0, threshold - 0.2)
    for c in cands:
        prev = seen_exact.get(c.exact_key)
        if prev is not None:
            stats.exact_duplicates_removed += 1
            if prev != c.label:
                stats.duplicate_label_conflicts += 1
            continue
        seen_exact[c.exact_key] = c.label
        if c.norm_key in seen_norm:
            stats.near_duplicates_token_equal += 1
            continue
        seen_norm.add(c.norm_key)
        keys = _band_keys(c.sig)
        near = set()
        for k in keys:
            near.update(buckets.get(k, ()))
        dup = False
        if near:
            ids = np.fromiter(sorted(near), dtype=np.int64, count=len(near))
            est = (sigs[ids] == c.sig[None, :]).mean(axis=1)
            for j in ids[est >= prescreen]:
                if jaccard(kept[j].shingles, c.shingles) >= threshold:
                    dup = True
                    break
        if dup:
            stats.near_duplicates_minhash += 1
            continue
        i = len(kept)
        kept.append(c)
        sigs[i] = c.sig
        for k in keys:
            buckets.setdefault(k, []).append(i)
    stats.near_duplicates_removed = stats.near_duplicates_token_equal + stats.near_duplicates_minhash
    return kept


class NearIndex:
    """MinHash LSH over a corpus of texts: the most similar corpus text of a query (exact Jaccard of the
    token 3-gram sets of :func:`dedup_features`, over the LSH candidates), for leakage checks."""

    def __init__(self, texts: Sequence[str]):
        self._shingles: list[np.ndarray] = []
        self._buckets: dict[bytes, list[int]] = {}
        for i, text in enumerate(texts):
            _, _, sig, sh = dedup_features(text)
            self._shingles.append(sh)
            for k in _band_keys(sig):
                self._buckets.setdefault(k, []).append(i)

    def __len__(self) -> int:
        return len(self._shingles)

    def nearest(self, text: str) -> tuple[int | None, float]:
        """(index of the most similar corpus text among the LSH candidates, its Jaccard similarity);
        (None, 0.0) when no corpus text shares a band with the query."""
        _, _, sig, sh = dedup_features(text)
        near: set[int] = set()
        for k in _band_keys(sig):
            near.update(self._buckets.get(k, ()))
        best, best_j = None, 0.0
        for j in sorted(near):
            sim = jaccard(self._shingles[j], sh)
            if sim > best_j:
                best, best_j = j, sim
        return best, best_j


def _band_keys(sig: np.ndarray) -> list[bytes]:
    return [bytes([b]) + sig[b * _ROWS:(b + 1) * _ROWS].tobytes() for b in range(BANDS)]
