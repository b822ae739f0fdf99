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
    to a temporary file in the output directory and moved into place (:mod:`codekd.io`).

The parts
    :mod:`~codekd.data.builders.sources` finds the files and their projects,
    :mod:`~codekd.data.builders.exception_mining` masks the examples of one file (the worker),
    :mod:`~codekd.data.builders.minhash` removes the duplicates and
    :mod:`~codekd.data.builders.split` assigns the groups; this module chooses the labels and
    writes the dataset.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import re
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Literal, Sequence

import numpy as np

from ...errors import ConfigError, DataError
from ...io import atomic_write_json, atomic_write_text
from .cubert_labels import CUBERT_EXCEPTION_LABELS
from .exception_mining import mine_file
from .minhash import BANDS, NUM_PERM, SHINGLE, deduplicate
from .sources import make_roots, project_of, walk, written_path
from .split import SPLIT_NAMES, group_split

__all__ = [
    "LABEL_SETS", "GROUP_BY", "EMPTY_LABELS", "SPLIT_NAMES", "MineStats", "mine_exceptions", "parse_label_spec",
]

LABEL_SETS: tuple[str, ...] = ("frequent", "cubert")
GROUP_BY: tuple[str, ...] = ("top-dir", "file", "none")
EMPTY_LABELS: tuple[str, ...] = ("keep", "drop", "error")

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
# labels


def _select_labels(counts: Counter, num_labels: int, label_set: str, exclude: frozenset[str],
                   top_share: dict[str, float] | None = None, max_share: float = 1.0) -> list[str]:
    if label_set == "cubert":
        return [lab for lab in CUBERT_EXCEPTION_LABELS if lab not in exclude][:num_labels]
    ranked = sorted(((k, v) for k, v in counts.items() if k not in exclude
                     and (top_share is None or top_share[k] <= max_share)), key=lambda kv: (-kv[1], kv[0]))
    return [name for name, _ in ranked[:num_labels]]


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
        it = pool.imap_unordered(mine_file, tasks, chunksize=16) if pool else map(mine_file, tasks)
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
    roots = make_roots(paths, projects, include_stdlib)
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
                 "near_threshold": near_threshold, "minhash": {"perm": NUM_PERM, "bands": BANDS, "shingle": SHINGLE}},
    )

    files: list[tuple[int, str, str]] = []  # (root index, rel, abs)
    for ri, root in enumerate(roots):
        files.extend((ri, rel, full) for rel, full in walk(root, include_tests))
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
        project, wpath = project_of(root, rel), written_path(root, rel)
        for label, func, name, lineno, exact, norm, sig, sh in rows:
            cands.append(_Candidate(order=(ri, rel, lineno, name), label=label, func=func, name=name,
                                    lineno=lineno, project=project, path=wpath, exact_key=exact,
                                    norm_key=norm, sig=sig, shingles=sh,
                                    group=project if group_by == "top-dir" else
                                    f"{root.label}/{rel}" if group_by == "file" else norm.hex()))
    stats.functions_with_handlers = rejected.pop("_with_handlers", 0)
    stats.rejected = dict(sorted(rejected.items()))
    stats.candidate_examples = len(cands)

    kept = deduplicate(cands, near_threshold, stats)
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
        assign = group_split(dict(sizes), ratios, seed)
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
        atomic_write_text(out_dir / f"{name}.jsonl", "".join(line + "\n" for line in lines))
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
    atomic_write_text(out_dir / "labels.json", json.dumps(labels, indent=1) + "\n")
    stats.time_seconds = round(time.perf_counter() - t0, 3)
    atomic_write_json(out_dir / "stats.json", stats.to_dict())
    return stats
