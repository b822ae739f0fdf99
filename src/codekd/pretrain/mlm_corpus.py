"""Unlabeled code corpora for masked-LM pre-training: functions from real source trees.

Inputs (any mix):

* a folder or file of sources: Python functions (``def`` / ``async def`` not nested inside another
  function; methods included) via :mod:`ast`, C function definitions via tree-sitter
  (:mod:`codekd.data.builders.csyntax`). Text is whole lines from the ``def`` line (decorators
  excluded) to the end of the body, dedented by the ``def`` line's indentation; C functions are cut
  at tree-sitter's byte span. Files that do not parse are counted and skipped (foreign code).
* a dataset folder (``train.jsonl``, ``valid.jsonl``, ``test.jsonl``, and ``data.jsonl`` of the
  native clone format) or a JSONL file: the ``func`` field (``func1`` / ``func2`` of pairs, ``code``
  also accepted) of every line. A bad line is an error naming the file and line.

De-duplication and the leakage guard use one key: the SHA-1 of the whitespace-normalised function
with every ``except NAME`` written ``except __HOLE__`` (so a mined exception example, whose handler
names were replaced by ``__HOLE__``, has the key of the original function). The first occurrence of
each key is kept; a function whose key is in an excluded task split (``exclude_data``, by default
its ``valid`` and ``test``) is dropped, so pre-training never sees the task's held-out code.

The held-out slice (perplexity) is chosen by source file (a hash of the file's path, so it does not
depend on what else is in the corpus), so no file has functions on both sides.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from ..data.builders.csyntax import c_parser, functions_in
from ..data.loaders import iter_json_objects
from ..data.normalize import normalize_whitespace
from ..data.pysource import decode_source, def_text, parse_module, scan_defs
from ..errors import DataError
from ..io import atomic_dir

PY_EXT = (".py",)
C_EXT = (".c", ".h")
_SKIP_DIRS = frozenset({"__pycache__", "node_modules"})
_EXCEPT_RE = re.compile(r"\bexcept(\s*\(?\s*)[A-Za-z_][A-Za-z0-9_.]*")
_DATASET_FILES = ("train.jsonl", "valid.jsonl", "test.jsonl", "data.jsonl", "transfer.jsonl")


def function_key(code: str) -> str:
    """Content key of a function: SHA-1 of its whitespace-normalised text, handler names as ``__HOLE__``."""
    text = _EXCEPT_RE.sub(lambda m: f"except{m.group(1)}__HOLE__", normalize_whitespace(code))
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()


# ------------------------------------------------------------------------------------ extraction

def python_functions(text: str) -> list[tuple[str, int]]:
    """``[(function text, line)]`` of a module: every def not nested in another def (methods too)."""
    lines = text.split("\n")
    defs = scan_defs(parse_module(text), nested=False, cases=False)  # nested defs stay inside their function's text
    out = [(def_text(lines, d.node, " \t"), d.node.lineno) for d in defs]
    out.sort(key=lambda r: r[1])
    return out


def c_functions(data: bytes, parser: Any = None) -> list[tuple[str, int]]:
    """``[(function text, line)]`` of a C file (tree-sitter; see :mod:`codekd.data.builders.csyntax`)."""
    tree = (parser or c_parser()).parse(data)
    return [(data[f.start:f.end].decode("utf-8", "replace"), f.line) for f in functions_in(tree)]


def _source_files(root: Path, lang: str) -> list[Path]:
    exts = (PY_EXT if lang in ("auto", "python") else ()) + (C_EXT if lang in ("auto", "c") else ())
    if root.is_file():
        return [root] if root.suffix in exts else []
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in _SKIP_DIRS)
        for f in sorted(filenames):
            p = Path(dirpath) / f
            if p.suffix in exts and not p.is_symlink():
                out.append(p)
    return out


def _jsonl_functions(path: Path) -> Iterator[tuple[str, int]]:
    for lineno, obj in iter_json_objects(path):
        vals = [obj[k] for k in ("func", "code", "func1", "func2") if k in obj]
        if not vals or any(not isinstance(v, str) for v in vals):
            raise DataError("missing field 'func' (or 'code', 'func1'/'func2')", path=path, line=lineno)
        for v in vals:
            yield v, lineno


def _is_dataset_dir(p: Path) -> bool:
    return p.is_dir() and any((p / f).is_file() for f in _DATASET_FILES)


@dataclass
class CorpusStats:
    files: int = 0
    files_failed: int = 0
    functions_seen: int = 0
    too_short: int = 0
    duplicates: int = 0
    excluded_leak: int = 0
    kept: int = 0
    train: int = 0
    heldout: int = 0
    heldout_scored: int = 0
    capped: int = 0
    by_language: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def iter_functions(paths: Sequence[str | Path], lang: str = "auto",
                   stats: CorpusStats | None = None) -> Iterator[tuple[str, str, str]]:
    """``(function text, group, language)`` for every function of the inputs, in a fixed order.

    ``group`` is the unit of the held-out split (the source file; a JSONL line for datasets)."""
    stats = stats or CorpusStats()
    parser = None
    for p in paths:
        root = Path(p)
        if not root.exists():
            raise DataError("corpus path does not exist", path=root)
        if root.is_file() and root.suffix in (".jsonl", ".json"):
            files: list[Path] = [root]
        elif _is_dataset_dir(root):
            files = [root / f for f in _DATASET_FILES if (root / f).is_file()]
        else:
            files = _source_files(root, lang)
        for f in files:
            stats.files += 1
            if f.suffix in (".jsonl", ".json"):
                for code, lineno in _jsonl_functions(f):
                    yield code, f"{f}:{lineno}", "jsonl"
                continue
            try:
                data = f.read_bytes()
            except OSError:
                stats.files_failed += 1
                continue
            if f.suffix in PY_EXT:
                try:
                    funcs = python_functions(decode_source(data))
                except (SyntaxError, ValueError, RecursionError, LookupError, UnicodeError, MemoryError):
                    stats.files_failed += 1
                    continue
                kind = "python"
            else:
                if parser is None:
                    parser = c_parser()
                funcs = c_functions(data, parser)
                kind = "c"
            for code, _line in funcs:
                yield code, str(f), kind


def excluded_keys(data_dirs: Sequence[str | Path], splits: Sequence[str] = ("valid", "test")) -> set[str]:
    """Keys (:func:`function_key`) of every function in the given splits of task dataset folders."""
    keys: set[str] = set()
    for d in data_dirs:
        root = Path(d)
        if not root.is_dir():
            raise DataError("exclude-data: dataset folder does not exist", path=root)
        found = False
        for split in splits:
            f = root / f"{split}.jsonl"
            if f.is_file():
                found = True
                keys.update(function_key(c) for c, _ in _jsonl_functions(f))
                continue
            txt = root / f"{split}.txt"
            if txt.is_file() and (root / "data.jsonl").is_file():  # native clone format: ids into data.jsonl
                found = True
                ids: set[str] = set()
                for line in txt.read_text(encoding="utf-8").splitlines():
                    parts = line.split("\t")
                    ids.update(parts[:2])
                with open(root / "data.jsonl", encoding="utf-8") as fh:
                    for lineno, line in enumerate(fh, start=1):
                        if not line.strip():
                            continue
                        obj = json.loads(line)
                        if str(obj.get("idx")) in ids:
                            keys.add(function_key(obj["func"]))
        if not found:
            raise DataError(f"exclude-data: no {'/'.join(splits)} split file", path=root)
    return keys


def _heldout(group: str, fraction: float) -> bool:
    if fraction <= 0:
        return False
    h = int(hashlib.sha1(group.encode("utf-8", "surrogatepass")).hexdigest()[:8], 16)
    return h / 0xFFFFFFFF < fraction


def build_corpus(paths: Sequence[str | Path], out: str | Path, *, lang: str = "auto",
                 exclude_data: Sequence[str | Path] = (), exclude_splits: Sequence[str] = ("valid", "test"),
                 heldout_fraction: float = 0.02, heldout_max: int = 500, max_functions: int | None = None,
                 min_chars: int = 20, seed: int = 0) -> dict[str, Any]:
    """Write ``train.jsonl`` and ``heldout.jsonl`` (``{"func", "source", "key"}``) and ``stats.json``.

    Returns the stats. See the module docstring for extraction, de-duplication, the leakage guard
    and the held-out split. ``max_functions`` keeps a seeded random subset of the de-duplicated
    training functions; ``heldout_max`` caps the scored held-out functions (seeded too).
    """
    if not paths:
        raise DataError("no corpus given: pass at least one source folder, dataset folder or JSONL file")
    t0 = time.perf_counter()
    stats = CorpusStats()
    exclude = excluded_keys(exclude_data, exclude_splits) if exclude_data else set()
    seen: set[str] = set()
    train: list[dict[str, str]] = []
    held: list[dict[str, str]] = []
    for code, group, kind in iter_functions(paths, lang, stats):
        stats.functions_seen += 1
        if len(code.strip()) < min_chars:
            stats.too_short += 1
            continue
        key = function_key(code)
        if key in seen:
            stats.duplicates += 1
            continue
        seen.add(key)
        if key in exclude:
            stats.excluded_leak += 1
            continue
        stats.by_language[kind] = stats.by_language.get(kind, 0) + 1
        row = {"func": code, "source": group, "key": key}
        (held if _heldout(group, heldout_fraction) else train).append(row)
    stats.kept = len(train) + len(held)
    if not train:
        raise DataError("the corpus has no training functions (check the paths, --lang and the exclusions)",
                        path=str(paths[0]))
    rng = np.random.default_rng([seed, 1009])
    if max_functions is not None and len(train) > max_functions:
        keep = np.sort(rng.choice(len(train), size=max_functions, replace=False))
        stats.capped = len(train) - max_functions
        train = [train[i] for i in keep]
    stats.train, stats.heldout = len(train), len(held)
    if len(held) > heldout_max:
        keep = np.sort(rng.choice(len(held), size=heldout_max, replace=False))
        held = [held[i] for i in keep]
    if not held:  # tiny corpora: hold out a few training functions rather than none
        n = max(1, min(heldout_max, len(train) // 10)) if len(train) > 1 else 0
        held, train = train[-n:] if n else [], train[: len(train) - n] if n else train
        stats.train, stats.heldout = len(train), len(held)
    stats.heldout_scored = len(held)
    stats.seconds = round(time.perf_counter() - t0, 2)
    meta = {**stats.__dict__, "inputs": [str(Path(p).resolve()) for p in paths], "lang": lang,
            "exclude_data": [str(Path(p).resolve()) for p in exclude_data], "exclude_splits": list(exclude_splits),
            "excluded_keys": len(exclude), "heldout_fraction": heldout_fraction, "max_functions": max_functions,
            "min_chars": min_chars, "seed": seed}
    out = Path(out)
    with atomic_dir(out, marker="stats.json", what="corpus folder") as tmp:
        for name, rows in (("train.jsonl", train), ("heldout.jsonl", held)):
            with open(tmp / name, "w", encoding="utf-8") as fh:
                for r in rows:
                    fh.write(json.dumps(r, ensure_ascii=False) + "\n")
        (tmp / "stats.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta


class CorpusSplit:
    """A corpus file with the interface the engine's collator needs (``codes``, ``labels``, ``len``)."""

    def __init__(self, path: str | Path, name: str, rows: list[str] | None = None):
        self.path = str(path)
        self.name = name
        if rows is None:
            rows = [json.loads(line)["func"] for line in open(path, encoding="utf-8") if line.strip()]
        self.rows = rows
        self.labels = np.zeros(len(rows), dtype=np.int64)

    def __len__(self) -> int:
        return len(self.rows)

    def codes(self, indices: Iterable[int] | None = None) -> list[tuple[str, ...]]:
        if indices is None:
            return [(r,) for r in self.rows]
        return [(self.rows[int(i)],) for i in indices]

    def iter_unique_code(self) -> Iterator[str]:
        yield from self.rows


__all__ = ["CorpusSplit", "CorpusStats", "build_corpus", "c_functions", "excluded_keys", "function_key",
           "iter_functions", "python_functions"]
