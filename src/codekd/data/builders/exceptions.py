"""Exception-classification dataset miner (CuBERT-style), from any Python source tree.

:func:`mine_exceptions` scans Python files with the :mod:`ast` module and writes an ``exception``
dataset: ``train.jsonl`` / ``valid.jsonl`` / ``test.jsonl``, ``labels.json`` (the label list, index =
integer label) and ``stats.json`` (what was scanned, removed and kept, and how long it took).

What is an example
    Every function or method (``def`` / ``async def``, at any nesting depth) whose ``except``
    clauses all catch the same bare name ``T`` (``except T:`` / ``except T as e:`` /
    ``except (T):``) gives one example: its source text with each of those ``T`` replaced by
    ``__HOLE__``, and the label ``T``. A function with a bare ``except:``, a tuple
    (``except (A, B):``), a dotted or computed type (``except socket.error:``) or two different
    names is not an example. The clauses considered are *all* the clauses in the function's text,
    nested functions and classes included: the example text is the whole function, so a clause
    inside a nested ``def`` that stayed visible would leak the label (``except KeyError`` in the
    inner function of an outer function labelled ``KeyError``) or contradict it. The nested
    function still gives its own example from its own text.

The text
    From the ``def`` line (decorators excluded) to the last line of the body, whole lines, newlines
    normalised to ``\\n``. The hole is cut at the AST's column offsets, which are UTF-8 byte offsets,
    so it lands on the right characters after non-ASCII text on the same line. The text is
    dedented by the ``def`` line's own indentation: that exact prefix is removed from every line
    that starts with it (lines that do not, such as blank lines or string continuation lines with
    less indentation, are kept as they are). Nothing else changes: the rest of the source is kept
    byte for byte.

De-duplication (global, before the split, so a duplicate can never sit on both sides of it)
    Candidates are visited in a fixed order (sources in the order given, then path, then line) and
    the first of each family is kept:

    * exact: the same text (with its hole) was already seen; a same-text pair with two different
      labels is counted in ``duplicate_label_conflicts``;
    * near, token-equal: the same token sequence once comments, whitespace and line breaks are
      dropped and every string literal (docstrings included) becomes one placeholder token;
    * near, MinHash: the Jaccard similarity of the sets of token 3-grams of that sequence with an
      already kept example is at least ``near_threshold`` (default 0.9). Candidates come from
      MinHash locality-sensitive hashing (64 hash functions, 16 bands of 4); the similarity of
      each candidate pair is then computed exactly, so there are no false positives.

    So the same function in a vendored copy, in another version of the library or edited only in
    comments, formatting or a few tokens counts once.

Labels
    ``label_set="frequent"``: the ``num_labels`` most frequent names among the de-duplicated
    examples, most frequent first, ties by name. ``label_set="cubert"``: CuBERT's own list
    (:data:`~codekd.data.builders.cubert_labels.CUBERT_EXCEPTION_LABELS`, its first ``num_labels``
    names); a label may then have no example on a given machine. ``exclude_labels`` removes names
    from either (CuBERT's list has no catch-all ``Exception`` / ``BaseException``; on real code
    ``Exception`` is by far the most frequent name, so ``exclude_labels=("Exception",
    "BaseException")`` gives a CuBERT-like frequent set). Examples with another label are dropped.

Projects, groups and the split
    Each example belongs to a project and to a group; the group is the unit of the split (no
    group is in two splits). ``group_by="top-dir"`` (default): the group is the project.
    ``group_by="file"``: each source file is a group (for one project whose top-level folders are
    few: functions of one file share names and helpers, so they stay together). ``group_by="none"``:
    each example is its own group, a plain seeded split by function (functions of one file land on
    both sides: optimistic scores). Projects are:
    for the standard library and site-packages each top-level module or package (``email``,
    ``json.py`` -> ``json``, ``numpy``); for a PATH, the PATH itself if it is one project (a file,
    or a directory with ``__init__.py``, ``pyproject.toml``, ``setup.py`` or ``setup.cfg``), else
    each of its top-level entries. Equal names from two sources are one project, so two copies of
    one library land in the same split. Projects are visited largest first (by size class, a power
    of two; ties in a seeded hash order) and each goes to the split furthest below its target
    share, which gives close to ``split`` (80/10/10) by examples.

Sources
    With no PATH: the running interpreter's standard library (``sysconfig`` ``stdlib``, without its
    ``site-packages`` / ``dist-packages``) and its site-packages (``site.getsitepackages()``, the
    ``purelib`` / ``platlib`` paths, and the user site when enabled). Directories named ``test``,
    ``tests`` or ``idle_test`` are skipped unless ``include_tests=True`` (CPython's own test suite
    alone is about a third of the stdlib and holds deliberately broken and Python 2 files), as are
    hidden directories, ``__pycache__`` and symbolic links (never followed). Files larger than
    ``max_file_bytes`` (generated code) are skipped and counted. A file that cannot be decoded or
    parsed (Python 2 code, syntax errors) is foreign code: it is counted, not an error.

Determinism
    Two runs over the same inputs write byte-identical ``train`` / ``valid`` / ``test`` /
    ``labels`` files; ``stats.json`` differs only in ``time_seconds``. Every output file is written
    to a temporary file in the output directory and moved into place.
"""

from __future__ import annotations

import ast
import gc
import hashlib
import io
import json
import multiprocessing as mp
import os
import re
import site
import sys
import sysconfig
import tempfile
import time
import tokenize
import unicodedata
import warnings
import zlib
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Literal, Sequence

import numpy as np

from ...errors import ConfigError, DataError
from .cubert_labels import CUBERT_EXCEPTION_LABELS

__all__ = [
    "HOLE", "LABEL_SETS", "GROUP_BY", "EMPTY_LABELS", "SPLIT_NAMES", "MineStats", "default_sources",
    "extract_examples", "mine_exceptions", "parse_label_spec",
]

HOLE = "__HOLE__"
SPLIT_NAMES: tuple[str, ...] = ("train", "valid", "test")
LABEL_SETS: tuple[str, ...] = ("frequent", "cubert")
GROUP_BY: tuple[str, ...] = ("top-dir", "file", "none")
EMPTY_LABELS: tuple[str, ...] = ("keep", "drop", "error")
TEST_DIR_NAMES = frozenset({"test", "tests", "idle_test"})
_STDLIB_SKIP = frozenset({"site-packages", "dist-packages"})
_PROJECT_MARKERS = ("__init__.py", "pyproject.toml", "setup.py", "setup.cfg")

# MinHash / LSH parameters (fixed: part of the dataset definition)
_NUM_PERM = 64
_BANDS = 16
_ROWS = _NUM_PERM // _BANDS
_rng = np.random.default_rng(0x5EED_C0DE)
_MH_A = _rng.integers(1, 2**63, size=_NUM_PERM, dtype=np.uint64) * np.uint64(2) + np.uint64(1)  # odd
_MH_B = _rng.integers(0, 2**63, size=_NUM_PERM, dtype=np.uint64)
_SH_P = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9], dtype=np.uint64)
del _rng

_PREFILTER = re.compile(rb"\bexcept\b")
# Generated code: protobuf / gRPC stubs by name, anything else by a marker in its first lines
# (ANTLR's "Generated from X.g4 by ANTLR", "DO NOT EDIT", "auto-generated", "generated by ...").
_GENERATED_NAME = re.compile(r"(_pb2|_pb2_grpc|_pb3)\.py$")
_GENERATED_HEADER = re.compile(
    rb"(?i)(do not edit|auto-?generated|automatically generated|generated (by|from|with|using)\b"
    rb"|this (file|module|code) (is|was|has been) (auto-?)?generated|code generated by)")
_HEADER_LINES = 12
# A light Python tokenizer for de-duplication only: strings, comments, words, single symbols.
_TOKEN_RE = re.compile(
    r"(?P<s>[rRbBuUfF]{0,2}(?:\"\"\"(?:\\.|[^\\])*?\"\"\"|'''(?:\\.|[^\\])*?'''"
    r"|\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'))"
    r"|(?P<c>#[^\n]*)"
    r"|(?P<t>\w+|[^\w\s])",
    re.DOTALL,
)
_STR_TOKEN = "\x01STR"

LabelSet = Literal["frequent", "cubert"]


# --------------------------------------------------------------------------------------------
# results


@dataclass
class MineStats:
    """What :func:`mine_exceptions` scanned, removed and wrote (also written as ``stats.json``)."""

    out_dir: str
    python: str
    sources: list[dict[str, str]]
    options: dict[str, Any]
    files_found: int = 0
    files_skipped_large: int = 0
    files_skipped_generated: int = 0
    files_unreadable: int = 0
    files_without_except: int = 0
    files_parsed: int = 0
    files_decode_failed: int = 0
    files_syntax_failed: int = 0
    functions: int = 0
    functions_with_handlers: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    candidate_examples: int = 0
    exact_duplicates_removed: int = 0
    duplicate_label_conflicts: int = 0
    near_duplicates_removed: int = 0
    near_duplicates_token_equal: int = 0
    near_duplicates_minhash: int = 0
    examples_after_dedup: int = 0
    distinct_labels_after_dedup: int = 0
    top_labels_after_dedup: dict[str, int] = field(default_factory=dict)
    labels: list[str] = field(default_factory=list)
    dropped_other_labels: int = 0
    examples: int = 0
    per_label: dict[str, int] = field(default_factory=dict)
    projects: int = 0
    groups: int = 0
    lowercase_names_skipped: dict[str, int] = field(default_factory=dict)
    dropped_labels: dict[str, dict[str, int]] = field(default_factory=dict)
    splits: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    time_seconds: float = 0.0

    @property
    def files_failed_to_parse(self) -> int:
        return self.files_decode_failed + self.files_syntax_failed

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class _Root:
    label: str  # prefix of the written ``path``
    path: Path
    kind: str  # "stdlib" | "site-packages" | "path"
    single_project: str | None  # the project name when the whole root is one project


@dataclass
class _Candidate:
    order: tuple  # (root index, relative path, line, qualname)
    label: str
    func: str
    name: str
    lineno: int
    project: str
    path: str
    exact_key: bytes
    norm_key: bytes
    sig: np.ndarray
    shingles: np.ndarray
    group: str = ""


# --------------------------------------------------------------------------------------------
# extraction (pure functions, run in worker processes)


_DEF_TYPES = (ast.FunctionDef, ast.AsyncFunctionDef)


def _scan_defs(tree: ast.Module) -> list[tuple[ast.AST, str, list[ast.ExceptHandler]]]:
    """Every def with its qualified name and every ``except`` clause in its text.

    Only statement lists are walked (a def or an ``except`` clause is always a statement or part of
    one), iteratively, so expressions are never visited and deep nesting cannot overflow the stack.
    """
    defs: list[tuple[ast.AST, str, list[ast.ExceptHandler]]] = []
    work: list[tuple[list, tuple[str, ...], tuple[list, ...]]] = [(tree.body, (), ())]
    while work:
        stmts, names, open_defs = work.pop()
        for st in stmts:
            if isinstance(st, _DEF_TYPES):
                handlers: list[ast.ExceptHandler] = []
                defs.append((st, ".".join((*names, st.name)), handlers))
                work.append((st.body, (*names, st.name, "<locals>"), (*open_defs, handlers)))
                continue
            if isinstance(st, ast.ClassDef):
                work.append((st.body, (*names, st.name), open_defs))
                continue
            for fname in ("body", "orelse", "finalbody"):
                sub = getattr(st, fname, None)
                if sub:
                    work.append((sub, names, open_defs))
            for h in getattr(st, "handlers", None) or ():
                for hl in open_defs:
                    hl.append(h)
                work.append((h.body, names, open_defs))
            for case in getattr(st, "cases", None) or ():
                work.append((case.body, names, open_defs))
    return defs


def _classify(handlers: list[ast.ExceptHandler]) -> tuple[str | None, str | None]:
    """(label, None) for a valid example, else (None, reason)."""
    if any(h.type is None for h in handlers):
        return None, "bare_except"
    if any(isinstance(h.type, ast.Tuple) for h in handlers):
        return None, "tuple"
    if not all(isinstance(h.type, ast.Name) for h in handlers):
        return None, "dotted_or_expression"
    names = {h.type.id for h in handlers}  # type: ignore[union-attr]
    if len(names) > 1:
        return None, "mixed_names"
    return names.pop(), None


def _hole_text(lines: list[str], node: ast.AST, handlers: list[ast.ExceptHandler], label: str) -> str | None:
    first, last = node.lineno - 1, node.end_lineno - 1  # type: ignore[attr-defined]
    seg = [lines[i].encode("utf-8") for i in range(first, last + 1)]
    prefix = seg[0][: node.col_offset]  # type: ignore[attr-defined]
    if prefix.strip(b" \t\f"):
        return None
    want, hole = label.encode("utf-8"), HOLE.encode("ascii")
    spans: dict[int, list[tuple[int, int]]] = {}
    for h in handlers:
        t = h.type
        spans.setdefault(t.lineno - 1 - first, []).append((t.col_offset, t.end_col_offset))  # type: ignore[union-attr]
    for li, cols in spans.items():
        b = seg[li]
        for c, e in sorted(cols, reverse=True):
            span = b[c:e]
            # identifiers are NFKC-normalised by the parser, so compare the normal forms
            if span != want and unicodedata.normalize("NFKC", span.decode("utf-8")) != label:
                return None
            b = b[:c] + hole + b[e:]
        seg[li] = b
    if prefix:
        n = len(prefix)
        seg = [s[n:] if s.startswith(prefix) else s for s in seg]
    return b"\n".join(seg).decode("utf-8")


def extract_examples(text: str) -> tuple[int, Counter, list[tuple[str, str, str, int]]]:
    """Examples of one module's source text (newlines already ``\\n``).

    Returns ``(number of defs, rejection reasons, [(label, func_with_hole, qualname, lineno)])``.
    Raises ``SyntaxError`` / ``ValueError`` / ``RecursionError`` when the text does not parse.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree = ast.parse(text)
    defs = _scan_defs(tree)
    lines = text.split("\n")
    rejected: Counter = Counter()
    out: list[tuple[str, str, str, int]] = []
    for node, qualname, handlers in defs:
        if not handlers:
            continue
        rejected["_with_handlers"] += 1
        label, reason = _classify(handlers)
        if label is None:
            rejected[reason] += 1
            continue
        try:
            func = _hole_text(lines, node, handlers, label)
        except UnicodeError:
            func = None
        if func is None:
            rejected["offset_or_encoding"] += 1
            continue
        out.append((label, func, qualname, node.lineno))
    out.sort(key=lambda r: (r[3], r[2]))
    return len(defs), rejected, out


def _dedup_features(func: str) -> tuple[bytes, bytes, np.ndarray, np.ndarray]:
    """(exact key, token-equal key, MinHash signature, sorted unique 3-gram hashes)."""
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


def _decode(data: bytes) -> str:
    enc, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    text = data.decode(enc)
    return text.replace("\r\n", "\n").replace("\r", "\n")


def is_generated(path: str, data: bytes) -> bool:
    """True for generated code: ``*_pb2.py`` and friends, or a generator's marker in the first lines."""
    if _GENERATED_NAME.search(path):
        return True
    head = b"\n".join(data.split(b"\n", _HEADER_LINES)[:_HEADER_LINES])
    return bool(_GENERATED_HEADER.search(head))


def _mine_file(task: tuple) -> tuple[int, str, int, dict[str, int], list[tuple]]:
    """Worker: ``(file index, status, defs, rejections, [(label, func, name, lineno, features...)])``."""
    idx, path, max_bytes = task[:3]
    skip_generated = len(task) > 3 and task[3]
    try:
        if os.stat(path).st_size > max_bytes:
            return idx, "large", 0, {}, []
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return idx, "unreadable", 0, {}, []
    if skip_generated and is_generated(path, data):
        return idx, "generated", 0, {}, []
    if not _PREFILTER.search(data):
        return idx, "no_except", 0, {}, []
    try:
        text = _decode(data)
    except (SyntaxError, LookupError, UnicodeError):
        return idx, "decode_failed", 0, {}, []
    gc_was_enabled = gc.isenabled()
    gc.disable()  # an AST is acyclic: reference counting frees it, and parsing runs ~25% faster
    try:
        n_defs, rejected, found = extract_examples(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return idx, "syntax_failed", 0, {}, []
    finally:
        if gc_was_enabled:
            gc.enable()
    rows = [(label, func, name, lineno, *_dedup_features(func)) for label, func, name, lineno in found]
    return idx, "ok", n_defs, dict(rejected), rows


# --------------------------------------------------------------------------------------------
# sources


def default_sources() -> list[tuple[str, Path]]:
    """``[(kind, path)]``: the running interpreter's stdlib and site-packages directories."""
    out: list[tuple[str, Path]] = []
    seen: set[str] = set()

    def add(kind: str, p: str | None) -> None:
        if not p:
            return
        path = Path(p)
        if not path.is_dir():
            return
        real = os.path.realpath(path)
        if real in seen:
            return
        seen.add(real)
        out.append((kind, path))

    paths = sysconfig.get_paths()
    add("stdlib", paths.get("stdlib"))
    sps: list[str] = list(site.getsitepackages()) if hasattr(site, "getsitepackages") else []
    sps += [paths.get("purelib") or "", paths.get("platlib") or ""]
    if site.ENABLE_USER_SITE:
        sps.append(site.getusersitepackages())
    for p in sps:
        add("site-packages", p)
    return out


def _make_roots(paths: Sequence[str | Path] | None,
                named: Sequence[tuple[str, str | Path]] = (), stdlib: bool = False) -> list[_Root]:
    if named or stdlib:
        return _named_roots(paths, named, stdlib)
    if not paths:
        specs = default_sources()
        if not specs:
            raise DataError("found no standard library or site-packages directory for this Python")
    else:
        specs = []
        for p in paths:
            path = Path(p)
            if not path.exists():
                raise DataError("input path does not exist", path=path)
            if not (path.is_dir() or path.is_file()):
                raise DataError("input path is neither a file nor a directory", path=path)
            specs.append(("path", path))
    roots: list[_Root] = []
    used: Counter = Counter()
    seen: set[str] = set()
    for kind, path in specs:
        real = os.path.realpath(path)
        if real in seen:
            continue
        seen.add(real)
        if kind == "path":
            base = Path(real).name or "root"
            if path.is_file():
                base = Path(real).stem
                single: str | None = base
            else:
                single = base if any((path / m).exists() for m in _PROJECT_MARKERS) else None
        else:
            base, single = kind, None
        used[base] += 1
        label = base if used[base] == 1 else f"{base}-{used[base]}"
        roots.append(_Root(label=label, path=path, kind=kind, single_project=single))
    return roots


def _named_roots(paths: Sequence[str | Path] | None, named: Sequence[tuple[str, str | Path]],
                 stdlib: bool) -> list[_Root]:
    """Roots for ``projects=[(name, path)]`` (each path one project, named), optionally after the
    running interpreter's standard library and before any plain ``paths``."""
    roots: list[_Root] = []
    if stdlib:
        std = sysconfig.get_paths().get("stdlib")
        if not std or not Path(std).is_dir():
            raise DataError("found no standard library directory for this Python")
        roots.append(_Root(label="stdlib", path=Path(std), kind="stdlib", single_project=None))
    seen: set[str] = set()
    for name, p in named:
        path = Path(p)
        if not path.exists():
            raise DataError("input path does not exist", path=path)
        if name in seen:
            raise ConfigError(f"project name {name!r} given twice")
        seen.add(name)
        roots.append(_Root(label=name, path=path, kind="project", single_project=name))
    if paths:
        roots.extend(r for r in _make_roots(paths) if r.label not in seen)
    return roots


def _walk(root: _Root, include_tests: bool) -> list[tuple[str, str]]:
    """``[(relative posix path, absolute path)]`` of the ``.py`` files of a root, sorted."""
    if root.path.is_file():
        return [(root.path.name, str(root.path))] if not root.path.is_symlink() else []
    out: list[tuple[str, str]] = []
    base = str(root.path)
    for dirpath, dirnames, filenames in os.walk(base):
        keep = []
        for d in dirnames:
            if d.startswith(".") or d == "__pycache__":
                continue
            if not include_tests and d in TEST_DIR_NAMES:
                continue
            if root.kind == "stdlib" and d in _STDLIB_SKIP:
                continue
            keep.append(d)
        dirnames[:] = sorted(keep)
        for f in sorted(filenames):
            if not f.endswith(".py"):
                continue
            full = os.path.join(dirpath, f)
            if os.path.islink(full):
                continue
            out.append((os.path.relpath(full, base).replace(os.sep, "/"), full))
    out.sort()
    return out


def _project_of(root: _Root, rel: str) -> str:
    if root.single_project is not None:
        return root.single_project
    head = rel.split("/", 1)[0]
    return head[:-3] if head.endswith(".py") and "/" not in rel else head


def _written_path(root: _Root, rel: str) -> str:
    return rel if root.path.is_file() else f"{root.label}/{rel}"


# --------------------------------------------------------------------------------------------
# de-duplication, labels, split


def _jaccard(a: np.ndarray, b: np.ndarray) -> float:
    inter = np.intersect1d(a, b, assume_unique=True).size
    return inter / (a.size + b.size - inter)


def _deduplicate(cands: list[_Candidate], threshold: float, stats: MineStats) -> list[_Candidate]:
    cands = sorted(cands, key=lambda c: c.order)
    kept: list[_Candidate] = []
    seen_exact: dict[bytes, str] = {}
    seen_norm: set[bytes] = set()
    buckets: dict[bytes, list[int]] = {}
    sigs = np.empty((len(cands), _NUM_PERM), dtype=np.uint64)
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
        keys = [bytes([b]) + c.sig[b * _ROWS:(b + 1) * _ROWS].tobytes() for b in range(_BANDS)]
        near = set()
        for k in keys:
            near.update(buckets.get(k, ()))
        dup = False
        if near:
            ids = np.fromiter(sorted(near), dtype=np.int64, count=len(near))
            est = (sigs[ids] == c.sig[None, :]).mean(axis=1)
            for j in ids[est >= prescreen]:
                if _jaccard(kept[j].shingles, c.shingles) >= threshold:
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


def _select_labels(counts: Counter, num_labels: int, label_set: str, exclude: frozenset[str],
                   top_share: dict[str, float] | None = None, max_share: float = 1.0) -> list[str]:
    if label_set == "cubert":
        return [lab for lab in CUBERT_EXCEPTION_LABELS if lab not in exclude][:num_labels]
    ranked = sorted(((k, v) for k, v in counts.items() if k not in exclude
                     and (top_share is None or top_share[k] <= max_share)), key=lambda kv: (-kv[1], kv[0]))
    return [name for name, _ in ranked[:num_labels]]


def _group_split(sizes: dict[str, int], ratios: tuple[float, ...], seed: int) -> dict[str, int]:
    """Project -> split index: largest size class first, seeded order inside a class, each to the
    split furthest below its target number of examples."""
    total = sum(sizes.values())
    targets = [r * total for r in ratios]
    counts = [0] * len(ratios)

    def key(g: str) -> tuple:
        return (-sizes[g].bit_length(), hashlib.sha1(f"{seed}\x00{g}".encode("utf-8")).hexdigest(), g)

    assign: dict[str, int] = {}
    for g in sorted(sizes, key=key):
        i = max(range(len(ratios)), key=lambda s: (targets[s] - counts[s], -s))
        assign[g] = i
        counts[i] += sizes[g]
    return assign


# --------------------------------------------------------------------------------------------
# output


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _example_id(c: _Candidate) -> str:
    return c.norm_key.hex()[:16]


# --------------------------------------------------------------------------------------------
# the API


def _check_label_list(labels: Sequence[str], where: str | Path | None = None) -> tuple[str, ...]:
    names = tuple(labels)
    if not names:
        raise ConfigError("the label list is empty", path=where)
    bad = [n for n in names if not isinstance(n, str) or not n.isidentifier()]
    if bad:
        raise ConfigError(f"not an exception name: {bad[0]!r}", path=where)
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ConfigError(f"label listed twice: {', '.join(dup)}", path=where)
    return names


def parse_label_spec(spec: str, num_labels: int = 20) -> tuple[str, int, tuple[str, ...] | None]:
    """``--labels`` of the miners: ``(label_set, num_labels, explicit labels or None)``.

    ``frequent``: the ``num_labels`` most frequent names; ``top-K``: the K most frequent;
    ``cubert``: CuBERT's list (its first ``num_labels``); anything else is a FILE: a JSON list of
    names (a dataset's ``labels.json``) or one name a line (``#`` comments and blank lines ignored).
    """
    m = re.fullmatch(r"top-(\d+)", spec)
    if m:
        k = int(m.group(1))
        if k < 1:
            raise ConfigError(f"--labels {spec}: K must be at least 1")
        return "frequent", k, None
    if spec in LABEL_SETS:
        return spec, num_labels, None
    path = Path(spec)
    if not path.is_file():
        raise ConfigError(f"--labels must be frequent, cubert, top-K (e.g. top-20) or a label file; "
                          f"{spec!r} is none of them (no such file)")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the label file: {exc}", path=path) from None
    if text.lstrip().startswith("["):
        try:
            names = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"label file is not a JSON list ({exc.msg})", path=path, line=exc.lineno) from None
        if not isinstance(names, list):
            raise ConfigError("label file is not a JSON list", path=path)
    else:
        names = [ln.split("#", 1)[0].strip() for ln in text.splitlines()]
        names = [n for n in names if n]
    names_t = _check_label_list(names, path)
    return "frequent", len(names_t), names_t


def _check_options(num_labels: int, label_set: str, split: Sequence[float], max_file_bytes: int,
                   near_threshold: float) -> tuple[float, ...]:
    if label_set not in LABEL_SETS:
        raise ConfigError(f"unknown label set {label_set!r} (expected one of {', '.join(LABEL_SETS)})")
    if not isinstance(num_labels, int) or num_labels < 1:
        raise ConfigError(f"num_labels must be a positive integer, got {num_labels!r}")
    if label_set == "cubert" and num_labels > len(CUBERT_EXCEPTION_LABELS):
        raise ConfigError(f"the cubert label set has {len(CUBERT_EXCEPTION_LABELS)} labels, asked for {num_labels}")
    ratios = tuple(float(r) for r in split)
    if len(ratios) != 3 or any(r < 0 for r in ratios) or sum(ratios) <= 0:
        raise ConfigError(f"split must be three non-negative shares for train/valid/test, got {tuple(split)!r}")
    if max_file_bytes < 1:
        raise ConfigError(f"max_file_bytes must be positive, got {max_file_bytes!r}")
    if not 0.0 < near_threshold <= 1.0:
        raise ConfigError(f"near_threshold must be in (0, 1], got {near_threshold!r}")
    s = sum(ratios)
    return tuple(r / s for r in ratios)


def _run_tasks(tasks: list[tuple[int, str, int]], workers: int, progress: bool) -> Iterable[tuple]:
    use_pool = workers > 1 and len(tasks) >= 64
    pool = None
    if use_pool:
        methods = mp.get_all_start_methods()
        ctx = mp.get_context("fork" if "fork" in methods else None)
        try:
            pool = ctx.Pool(workers)  # started before any progress thread exists
        except (AssertionError, OSError):  # e.g. inside a daemonic process: mine serially
            pool = None
    try:
        it = pool.imap_unordered(_mine_file, tasks, chunksize=16) if pool else map(_mine_file, tasks)
        if not progress:
            yield from it
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(TextColumn("mining exceptions"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=Console(stderr=True), transient=False) as bar:
            job = bar.add_task("files", total=len(tasks))
            for r in it:
                bar.advance(job)
                yield r
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()


def mine_exceptions(
    paths: Sequence[str | Path] | None,
    out: str | Path,
    *,
    num_labels: int = 20,
    label_set: LabelSet = "frequent",
    seed: int = 0,
    split: Sequence[float] = (0.8, 0.1, 0.1),
    max_file_bytes: int = 1_000_000,
    include_tests: bool = False,
    exclude_labels: Sequence[str] = (),
    near_threshold: float = 0.9,
    workers: int | None = None,
    progress: bool = True,
    projects: Sequence[tuple[str, str | Path]] = (),
    include_stdlib: bool = False,
    exclude_generated: bool = False,
    max_label_share: float = 1.0,
    labels: Sequence[str] | None = None,
    group_by: str = "top-dir",
    empty_labels: str = "keep",
    lowercase_labels: bool = True,
) -> MineStats:
    """Mine a CuBERT-style exception-classification dataset into ``out`` (see the module docs).

    ``paths``: source trees or files; ``None`` or empty mines the running interpreter's standard
    library and site-packages. Writes ``train.jsonl``, ``valid.jsonl``, ``test.jsonl`` (one
    ``{"idx", "func", "target", "project", "path", "lineno", "name"}`` object a line, ``target``
    the exception name), ``labels.json`` and ``stats.json``; returns the statistics.

    ``exclude_labels`` names exception types never used as labels (their examples are dropped),
    for instance the catch-alls ``("Exception", "BaseException")``, which CuBERT's list leaves out.
    ``workers`` processes parse the files (default: the usable CPUs, at most 8); the output does
    not depend on it.

    ``projects`` adds ``(name, path)`` sources, each one project called ``name`` (for instance an
    unpacked wheel); ``include_stdlib`` adds the running interpreter's standard library (one project
    per top-level module) even when sources are given. ``exclude_generated`` skips generated files
    (``*_pb2.py``, or a "DO NOT EDIT" / "auto-generated" / "Generated from" marker in the first
    lines), counted in ``files_skipped_generated``. ``max_label_share``: with the frequent label
    set, a name is a label only if no single project holds more than that share of its examples (a
    library's own exception type, used mostly by that library, would sit in one split of the group
    split almost alone); the share is taken per group.

    ``labels``: an explicit label list (e.g. read from a file by :func:`parse_label_spec`), used
    instead of ``label_set``. ``group_by``: see *Projects, groups and the split*. ``empty_labels``:
    what to do with a label that has no training example after the split: ``"keep"`` (default,
    warned), ``"drop"`` (the label and its valid/test examples are removed, with a warning naming
    it and its counts, and the split is redone) or ``"error"`` (a :class:`DataError`).
    ``lowercase_labels=False``: with the frequent label set, a name that does not start with a
    capital letter is no label (``except exceptions:`` catches a variable holding a tuple, not a
    type; the most frequent such names are in ``lowercase_names_skipped``).

    Raises :class:`~codekd.errors.DataError` for a path that does not exist, an output path that is
    not a directory, or when no example is found; :class:`~codekd.errors.ConfigError` for bad options.
    """
    t0 = time.perf_counter()
    ratios = _check_options(num_labels, label_set, split, max_file_bytes, near_threshold)
    if not 0.0 < max_label_share <= 1.0:
        raise ConfigError(f"max_label_share must be in (0, 1], got {max_label_share!r}")
    if group_by not in GROUP_BY:
        raise ConfigError(f"unknown group_by {group_by!r} (expected one of {', '.join(GROUP_BY)})")
    if empty_labels not in EMPTY_LABELS:
        raise ConfigError(f"unknown empty_labels {empty_labels!r} (expected one of {', '.join(EMPTY_LABELS)})")
    given = _check_label_list(labels) if labels is not None else None
    roots = _make_roots(paths, projects, include_stdlib)
    out_dir = Path(out)
    if out_dir.exists() and not out_dir.is_dir():
        raise DataError("output path exists and is not a directory", path=out_dir)
    if workers is None:
        try:
            ncpu = len(os.sched_getaffinity(0))
        except AttributeError:  # not on Linux
            ncpu = os.cpu_count() or 1
        workers = max(1, min(ncpu, 8))

    stats = MineStats(
        out_dir=str(out_dir),
        python=f"{sys.implementation.name} {sys.version.split()[0]}",
        sources=[{"label": r.label, "kind": r.kind, "path": str(r.path)} for r in roots],
        options={"num_labels": num_labels, "label_set": label_set, "seed": seed, "split": list(ratios),
                 "max_file_bytes": max_file_bytes, "include_tests": include_tests,
                 "exclude_labels": sorted(exclude_labels), "exclude_generated": exclude_generated,
                 "max_label_share": max_label_share, "group_by": group_by, "empty_labels": empty_labels,
                 "lowercase_labels": lowercase_labels,
                 **({"labels_given": list(given)} if given is not None else {}),
                 "near_threshold": near_threshold, "minhash": {"perm": _NUM_PERM, "bands": _BANDS, "shingle": 3}},
    )

    files: list[tuple[int, str, str]] = []  # (root index, rel, abs)
    for ri, root in enumerate(roots):
        files.extend((ri, rel, full) for rel, full in _walk(root, include_tests))
    stats.files_found = len(files)
    tasks = [(i, full, max_file_bytes, exclude_generated) for i, (_, _, full) in enumerate(files)]

    rejected: Counter = Counter()
    cands: list[_Candidate] = []
    status_field = {"large": "files_skipped_large", "generated": "files_skipped_generated", "unreadable": "files_unreadable",
                    "no_except": "files_without_except", "decode_failed": "files_decode_failed",
                    "syntax_failed": "files_syntax_failed", "ok": "files_parsed"}
    for idx, status, n_defs, rej, rows in _run_tasks(tasks, workers, progress):
        setattr(stats, status_field[status], getattr(stats, status_field[status]) + 1)
        stats.functions += n_defs
        rejected.update(rej)
        if not rows:
            continue
        ri, rel, _ = files[idx]
        root = roots[ri]
        project, wpath = _project_of(root, rel), _written_path(root, rel)
        for label, func, name, lineno, exact, norm, sig, sh in rows:
            cands.append(_Candidate(order=(ri, rel, lineno, name), label=label, func=func, name=name,
                                    lineno=lineno, project=project, path=wpath, exact_key=exact,
                                    norm_key=norm, sig=sig, shingles=sh,
                                    group=project if group_by == "top-dir" else
                                    f"{root.label}/{rel}" if group_by == "file" else norm.hex()))
    stats.functions_with_handlers = rejected.pop("_with_handlers", 0)
    stats.rejected = dict(sorted(rejected.items()))
    stats.candidate_examples = len(cands)

    kept = _deduplicate(cands, near_threshold, stats)
    stats.examples_after_dedup = len(kept)
    counts = Counter(c.label for c in kept)
    stats.distinct_labels_after_dedup = len(counts)
    stats.top_labels_after_dedup = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:50])
    per_proj = Counter((c.label, c.group) for c in kept)
    top: dict[str, int] = {}
    for (lab, _), n in per_proj.items():
        top[lab] = max(top.get(lab, 0), n)
    top_share = {lab: top[lab] / counts[lab] for lab in counts}
    if given is not None:
        labels = [lab for lab in given if lab not in set(exclude_labels)]
    else:
        lower = frozenset() if lowercase_labels or label_set != "frequent" else \
            frozenset(k for k in counts if not k[:1].isupper())
        stats.lowercase_names_skipped = {k: counts[k] for k in sorted(lower, key=lambda k: (-counts[k], k))[:20]}
        labels = _select_labels(counts, num_labels, label_set, frozenset(exclude_labels) | lower, top_share,
                                max_label_share)
    keep = set(labels)
    examples = [c for c in kept if c.label in keep]
    stats.labels = labels
    stats.dropped_other_labels = len(kept) - len(examples)
    stats.examples = len(examples)
    stats.per_label = {lab: counts.get(lab, 0) for lab in labels}
    if not examples:
        where = ", ".join(str(r.path) for r in roots)
        if kept and given is None and label_set == "frequent" and max_label_share < 1.0:
            n_groups = len({c.group for c in kept})
            raise DataError(f"{len(kept)} examples found in {where}, but no exception name passes max_label_share "
                            f"{max_label_share}: one group holds most of each name's examples ({n_groups} groups, "
                            f"grouped by {group_by}; try --group-by file, or --max-label-share 1)")
        raise DataError(f"no exception-classification examples found in {where}")
    if given is None and len(labels) < num_labels:
        stats.warnings.append(f"only {len(labels)} distinct exception names found; asked for {num_labels} labels")
    for lab in labels:
        if counts.get(lab, 0) == 0:
            stats.warnings.append(f"label {lab} has no example")

    stats.projects = len({c.project for c in examples})
    dropped: dict[str, dict[str, int]] = {}
    while True:
        sizes = Counter(c.group for c in examples)
        assign = _group_split(dict(sizes), ratios, seed)
        by_split: list[list[_Candidate]] = [[] for _ in SPLIT_NAMES]
        for c in examples:
            by_split[assign[c.group]].append(c)
        in_train = Counter(c.label for c in by_split[0])
        empty = [lab for lab in labels if in_train.get(lab, 0) == 0]
        if not empty or empty_labels == "keep" or ratios[0] == 0:
            break
        where = {lab: {n: sum(1 for c in by_split[i] if c.label == lab) for i, n in enumerate(SPLIT_NAMES)}
                 for lab in empty}
        if empty_labels == "error":
            raise DataError("labels without a training example after the split: " + "; ".join(
                f"{lab} ({sum(w.values())} examples: " + ", ".join(f"{v} {k}" for k, v in w.items()) + ")"
                for lab, w in where.items()) + " (empty_labels='drop' removes them)", path=out_dir)
        dropped.update(where)
        gone = set(empty)
        labels = [lab for lab in labels if lab not in gone]
        examples = [c for c in examples if c.label not in gone]
        if not examples:
            raise DataError("no label has a training example after the split (try --group-by file or none)",
                            path=out_dir)
    stats.groups = len(sizes)
    if dropped:
        for lab, w in dropped.items():
            n = sum(w.values())
            stats.warnings.append(f"dropped label {lab}: no training example ({n} examples: "
                                  + ", ".join(f"{v} {k}" for k, v in w.items()) + ")")
        stats.dropped_labels = dropped
        stats.labels = labels
        stats.examples = len(examples)
        stats.per_label = {lab: counts.get(lab, 0) for lab in labels}
    for lab in labels:
        if ratios[0] > 0 and in_train.get(lab, 0) == 0 and counts.get(lab, 0) > 0:
            stats.warnings.append(f"label {lab} has no training example ({counts[lab]} examples in valid/test)")

    out_dir.mkdir(parents=True, exist_ok=True)
    for si, name in enumerate(SPLIT_NAMES):
        rows = sorted(by_split[si], key=lambda c: (c.project, c.path, c.lineno, c.name))
        lines = [json.dumps({"idx": _example_id(c), "func": c.func, "target": c.label, "project": c.project,
                             "path": c.path, "lineno": c.lineno, "name": c.name}, ensure_ascii=False)
                 for c in rows]
        _atomic_write(out_dir / f"{name}.jsonl", "".join(line + "\n" for line in lines))
        projects = sorted({c.project for c in rows})
        lab_counts = Counter(c.label for c in rows)
        stats.splits[name] = {
            "examples": len(rows),
            "share": round(len(rows) / len(examples), 4),
            "projects": len(projects),
            "groups": len({c.group for c in rows}),
            "per_label": {lab: lab_counts.get(lab, 0) for lab in labels},
            "project_names": projects,
        }
        if not rows and ratios[si] > 0:
            hint = {"top-dir": "; --group-by file splits by file", "file": "; --group-by none splits by function"}
            stats.warnings.append(f"the {name} split is empty ({stats.groups} groups in all"
                                  f"{hint.get(group_by, '')})")
    _atomic_write(out_dir / "labels.json", json.dumps(labels, indent=1) + "\n")
    stats.time_seconds = round(time.perf_counter() - t0, 3)
    _atomic_write(out_dir / "stats.json", json.dumps(stats.to_dict(), indent=2, ensure_ascii=False) + "\n")
    return stats
