"""Loaders for the dataset formats of SPEC section 2, on Arrow (Hugging Face ``datasets``).

Formats (all JSON Lines, UTF-8), chosen by the task's ``data_format``:

``single`` (Devign / CodeXGLUE defect, and user tasks)
    ``{split}.jsonl`` with ``{"func": str, "target": int, "idx": optional id}``.
``clone`` (BigCloneBench)
    native: ``data.jsonl`` with ``{"idx": str, "func": str}`` plus ``train.txt`` / ``valid.txt`` /
    ``test.txt`` lines ``idx1<TAB>idx2<TAB>label``; or pre-joined ``{split}.jsonl`` with
    ``{"func1": str, "func2": str, "target": 0|1}``.
``exception`` (CuBERT-style)
    ``{split}.jsonl`` with ``{"func": str containing __HOLE__, "target": int or name}`` and the label
    list in ``labels.json`` beside the splits.

Every split is a :class:`Split` whose rows live in an Arrow table (no Python object per example);
native clone pairs store two row indices into one shared function table, so a 900k-pair
BigCloneBench costs a few integer columns. Each example keeps a stable id: the file's ``idx`` field
when present, else ``"<split>-<line>"``; native pairs are ``"<idx1>-<idx2>"``.

Bad input (malformed JSON, missing or wrong-typed field, unknown label, empty file, unknown pair id,
non-UTF-8 bytes, duplicate ids) raises :class:`~codekd.errors.DataError` naming the file and line.
With ``skip_bad=True`` bad lines are skipped and reported in :attr:`TaskData.bad_lines`, never
silently.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
import pyarrow as pa

from ..errors import ConfigError, DataError
from ..io import json_error_text
from ..tasks import Task, get_task
from .normalize import normalize_code

SPLITS: tuple[str, ...] = ("train", "valid", "test")
_SPLIT_ALIASES = {"valid": ("valid", "dev", "validation"), "train": ("train",), "test": ("test",)}
HOLE = "__HOLE__"
_CHUNK = 20_000


@dataclass(frozen=True)
class BadLine:
    path: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


def _to_dataset(table: pa.Table):
    import datasets
    from datasets.table import InMemoryTable

    return datasets.Dataset(InMemoryTable(table))


class _Chunked:
    """Collects columns in bounded Python chunks and flushes them to Arrow record batches."""

    def __init__(self, schema: pa.Schema):
        self.schema = schema
        self.cols: dict[str, list] = {n: [] for n in schema.names}
        self.batches: list[pa.RecordBatch] = []
        self.rows = 0

    def add(self, **values: Any) -> None:
        for k, v in values.items():
            self.cols[k].append(v)
        self.rows += 1
        if len(self.cols[self.schema.names[0]]) >= _CHUNK:
            self.flush()

    def flush(self) -> None:
        if self.cols[self.schema.names[0]]:
            self.batches.append(pa.RecordBatch.from_pydict(self.cols, schema=self.schema))
            self.cols = {n: [] for n in self.schema.names}

    def table(self) -> pa.Table:
        self.flush()
        return pa.Table.from_batches(self.batches, schema=self.schema)


@dataclass
class Split:
    """One split of a task's data.

    ``table`` columns: ``id`` (str), ``label`` (int64) and either ``func`` (single input),
    ``func1``/``func2`` (pre-joined pairs) or ``a``/``b`` (int32 row indices into ``functions``,
    native pairs). Use :meth:`codes`, :meth:`example` and :attr:`labels` rather than the columns.
    """

    name: str
    table: Any  # datasets.Dataset
    task: Task
    path: str
    functions: Any = None  # datasets.Dataset with columns idx, func (native pairs only)

    def __post_init__(self) -> None:
        # A selected Dataset keeps an indices mapping over the full table; materialise it so the
        # Arrow table below always holds exactly this split's rows.
        if getattr(self.table, "_indices", None) is not None:
            import datasets

            datasets.disable_progress_bars()
            self.table = self.table.flatten_indices()

    def __len__(self) -> int:
        return self.table.num_rows

    @property
    def arrow(self) -> pa.Table:
        """This split's rows as a pyarrow Table."""
        data = self.table.data
        return data.table if hasattr(data, "table") else data

    @property
    def is_pair(self) -> bool:
        return self.task.is_pair

    @property
    def labels(self) -> np.ndarray:
        return np.asarray(self.arrow.column("label").to_numpy(), dtype=np.int64)

    @property
    def ids(self) -> list[str]:
        return self.arrow.column("id").to_pylist()

    def _func_column(self) -> list[str]:
        return self.functions.data.column("func").to_pylist()

    def codes(self, indices: Sequence[int] | None = None) -> list[tuple[str, ...]]:
        """Source code of the given rows: ``(func,)`` for single tasks, ``(func1, func2)`` for pairs."""
        rows = self.arrow if indices is None else self.arrow.take(pa.array(np.asarray(indices, dtype=np.int64)))
        cols = set(rows.column_names)
        if "func" in cols:
            return [(c,) for c in rows.column("func").to_pylist()]
        if "func1" in cols:
            return list(zip(rows.column("func1").to_pylist(), rows.column("func2").to_pylist()))
        fcol = self.functions.data.column("func")
        a = rows.column("a").to_numpy()
        b = rows.column("b").to_numpy()
        return [(fcol[int(i)].as_py(), fcol[int(j)].as_py()) for i, j in zip(a, b)]

    def example(self, i: int) -> dict[str, Any]:
        return {"id": self.arrow.column("id")[i].as_py(), "codes": self.codes([i])[0],
                "label": int(self.arrow.column("label")[i].as_py())}

    def iter_unique_code(self, batch_size: int = 1000) -> Iterator[str]:
        """Every distinct function of the split once (both sides of pairs); for vocabulary training."""
        if self.functions is not None:
            used = np.unique(np.concatenate([self.arrow.column("a").to_numpy(), self.arrow.column("b").to_numpy()]))
            fcol = self.functions.data.column("func")
            for i in used:
                yield fcol[int(i)].as_py()
            return
        seen: set[int] = set()
        for start in range(0, len(self), batch_size):
            for tup in self.codes(range(start, min(start + batch_size, len(self)))):
                for c in tup:
                    h = hash(c)
                    if h not in seen:
                        seen.add(h)
                        yield c

    def select(self, indices: Sequence[int] | np.ndarray) -> "Split":
        rows = self.arrow.take(pa.array(np.asarray(indices, dtype=np.int64)))
        return Split(self.name, _to_dataset(rows), self.task, self.path, self.functions)


@dataclass
class TaskData:
    """A task's dataset: its splits, label names and any lines skipped with ``skip_bad``."""

    task: Task
    root: str
    format: str
    labels: tuple[str, ...]
    splits: dict[str, Split]
    bad_lines: list[BadLine] = field(default_factory=list)
    fraction: float | None = None
    seed: int = 0

    def __getitem__(self, name: str) -> Split:
        if name not in self.splits:
            raise DataError(f"split {name!r} not loaded (have: {', '.join(self.splits)})", path=self.root)
        return self.splits[name]

    @property
    def num_labels(self) -> int:
        return len(self.labels)


# --------------------------------------------------------------------------------------------
# low-level line reading


def iter_json_objects(path: str | Path) -> Iterator[tuple[int, dict]]:
    """Yield ``(line_number, object)`` for each non-blank line of a JSON Lines file; a line that is
    not UTF-8, not JSON or not an object raises :class:`DataError` naming the file and line."""
    yield from _iter_json_lines(Path(path), [], False, hint=False)


def _open_data_file(path: Path):
    if path.is_dir():
        raise DataError("is a folder, not a data file", path=path)
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise DataError("data file not found", path=path) from None
    except OSError as exc:
        raise DataError(f"cannot read the data file: {exc.strerror or exc}", path=path) from None


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):  # json.loads would keep the last value silently
        seen: set[str] = set()
        for k, _ in pairs:
            if k in seen:
                raise _DuplicateKey(k)
            seen.add(k)
    return obj


def _iter_json_lines(path: Path, bad: list[BadLine], skip_bad: bool, hint: bool = True) -> Iterator[tuple[int, dict]]:
    """Yield ``(line_number, object)`` for each non-blank line; bad lines raise or are recorded."""
    with _open_data_file(path) as fh:
        for lineno, raw in enumerate(fh, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                _bad(bad, skip_bad, path, lineno, hint=hint, reason=f"not valid UTF-8 (byte {exc.start}: {raw[exc.start:exc.start + 1]!r})")
                continue
            if not text.strip():
                continue
            if text.startswith("\ufeff") and lineno == 1:
                text = text[1:]  # a UTF-8 byte-order mark (Windows editors) is not part of the JSON
            try:
                obj = json.loads(text, object_pairs_hook=_unique_keys)
            except _DuplicateKey as exc:
                _bad(bad, skip_bad, path, lineno, hint=hint, reason=f"key {exc.args[0]!r} is given twice in one object")
                continue
            except RecursionError:
                _bad(bad, skip_bad, path, lineno, hint=hint, reason="malformed JSON: nested too deeply")
                continue
            except json.JSONDecodeError as exc:
                _bad(bad, skip_bad, path, lineno, hint=hint, reason=f"malformed JSON: {json_error_text(exc)}")
                continue
            if not isinstance(obj, dict):
                _bad(bad, skip_bad, path, lineno, hint=hint, reason=f"expected a JSON object, got {type(obj).__name__}")
                continue
            yield lineno, obj


def _bad(bad: list[BadLine], skip_bad: bool, path: Path, lineno: int, reason: str, hint: bool = True) -> None:
    if not skip_bad:
        raise DataError(reason + (" (use --skip-bad to skip such lines)" if hint else ""), path=path, line=lineno)
    bad.append(BadLine(str(path), lineno, reason))


class _LineError(Exception):
    pass


def _get_str(obj: dict, key: str) -> str:
    if key not in obj:
        raise _LineError(f"missing field {key!r}")
    v = obj[key]
    if not isinstance(v, str):
        raise _LineError(f"field {key!r} must be a string, got {type(v).__name__}")
    if not v.strip():
        raise _LineError(f"field {key!r} is empty")
    try:
        v.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate escape such as "\ud800": not text
        raise _LineError(f"field {key!r} holds an invalid \\u escape (a lone surrogate at character {exc.start})") from None
    return v


def _get_id(obj: dict, default: str) -> str:
    for key in ("idx", "id"):
        if key in obj:
            v = obj[key]
            if isinstance(v, bool) or not isinstance(v, (str, int)):
                raise _LineError(f"field {key!r} must be a string or integer, got {type(v).__name__}")
            try:
                str(v).encode("utf-8")
            except UnicodeEncodeError as exc:  # a lone surrogate escape
                raise _LineError(f"field {key!r} holds an invalid \\u escape (a lone surrogate at character "
                                 f"{exc.start})") from None
            return str(v)
    return default


class _LabelMap:
    def __init__(self, names: Sequence[str], allow_names: bool):
        self.names = tuple(names)
        self.allow_names = allow_names
        self.index = {n: i for i, n in enumerate(self.names)}

    def __call__(self, value: Any) -> int:
        if isinstance(value, bool):
            raise _LineError(f"label must be an integer{' or a label name' if self.allow_names else ''}, got a boolean")
        if isinstance(value, int):
            if 0 <= value < len(self.names):
                return value
            raise _LineError(f"unknown label {value} (expected 0..{len(self.names) - 1})")
        if isinstance(value, str) and self.allow_names:
            if value in self.index:
                return self.index[value]
            raise _LineError(f"unknown label {value!r} (not in the label list of {len(self.names)} names)")
        kind = "an integer or a label name" if self.allow_names else "an integer"
        raise _LineError(f"label must be {kind}, got {type(value).__name__} {value!r}")


def _get_label(obj: dict, lm: _LabelMap) -> int:
    for key in ("target", "label"):
        if key in obj:
            return lm(obj[key])
    raise _LineError("missing field 'target'")


# --------------------------------------------------------------------------------------------
# split file discovery


def _find_split_file(root: Path, split: str, exts: Iterable[str]) -> Path | None:
    for alias in _SPLIT_ALIASES.get(split, (split,)):
        for ext in exts:
            p = root / f"{alias}{ext}"
            if p.is_file():
                return p
            if p.exists() or p.is_symlink():  # there, but not a file: never "missing"
                what = "a folder" if p.is_dir() else ("a broken link" if not p.exists() else "a special file")
                raise DataError(f"is {what}, not a split file", path=p)
    return None


def read_label_names(root: Path) -> tuple[str, ...]:
    """Read ``labels.json`` (a JSON list of names, or ``{"labels": [...]}``) beside the data."""
    path = root / "labels.json"
    if path.is_dir():
        raise DataError("is a folder; labels.json must be a file holding the label list as a JSON list of names",
                        path=path)
    if not path.is_file():
        raise DataError("labels.json not found beside the data: write the label list there as a JSON list of names", path=path)
    try:
        text = path.read_text(encoding="utf-8")
        obj = json.loads(text[1:] if text.startswith("\ufeff") else text)
    except UnicodeDecodeError as exc:
        raise DataError(f"cannot read the label list: not valid UTF-8 (byte {exc.start})", path=path) from None
    except json.JSONDecodeError as exc:
        raise DataError(f"cannot read the label list: malformed JSON: {json_error_text(exc)}", path=path,
                        line=exc.lineno) from None
    except OSError as exc:
        raise DataError(f"cannot read the label list: {exc.strerror or exc}", path=path) from None
    if isinstance(obj, dict):
        obj = obj.get("labels")
    if not isinstance(obj, list) or not obj or not all(isinstance(x, str) and x for x in obj):
        raise DataError("labels.json must be a non-empty JSON list of label names", path=path)
    if len(set(obj)) != len(obj):
        raise DataError("labels.json lists a label twice", path=path)
    return tuple(obj)


def _label_names(task: Task, root: Path) -> tuple[str, ...]:
    if task.labels_from_data:
        return read_label_names(root)
    if not task.labels:
        raise DataError(f"task {task.name!r} defines no labels and does not read them from the data", path=root)
    return task.labels


# --------------------------------------------------------------------------------------------
# format readers


def _check_nonempty(path: Path, rows: int, bad: list[BadLine]) -> None:
    if rows == 0:
        skipped = sum(1 for b in bad if b.path == str(path))
        extra = f" ({skipped} bad lines skipped)" if skipped else ""
        raise DataError(f"empty file: no examples{extra}", path=path)


def _read_labelled(path: Path, split: str, lm: _LabelMap, bad: list[BadLine], skip_bad: bool,
                   code_fields: tuple[str, ...], require_hole: bool = False,
                   other_ids: dict[str, tuple[str, int, int]] | None = None) -> pa.Table:
    """Rows ``{code fields..., target, idx?}`` -> Arrow table ``id, <code fields>, label``.

    ``other_ids``: ``id -> (file, line, code hash)`` of the splits read before; the same id with
    different code in two splits is an error (this split's ids are added)."""
    out = _Chunked(pa.schema([("id", pa.string()), *((f, pa.string()) for f in code_fields), ("label", pa.int64())]))
    seen: dict[str, int] = {}
    mine: dict[str, tuple[str, int, int]] = {}
    for lineno, obj in _iter_json_lines(path, bad, skip_bad):
        try:
            codes = {}
            for f in code_fields:
                # single-function files may name the field "code" instead of "func"
                key = "code" if f == "func" and "func" not in obj and "code" in obj else f
                codes[f] = _get_str(obj, key)
                if require_hole:
                    holes = codes[f].count(HOLE)
                    # several markers are one label: codekd's miners mask every clause of the function
                    # that catches the labelled type (an unmasked one would give the label away;
                    # 1,757 of the pinned set's 20,104 training functions have two or more)
                    if holes == 0:
                        raise _LineError(f"function has no {HOLE} marker")
            label = _get_label(obj, lm)
            ex_id = _get_id(obj, f"{split}-{lineno}")
        except _LineError as exc:
            _bad(bad, skip_bad, path, lineno, str(exc))
            continue
        if ex_id in seen:
            _bad(bad, skip_bad, path, lineno, f"duplicate id {ex_id!r} (first seen on line {seen[ex_id]})")
            continue
        if other_ids is not None:
            h = hash(tuple(codes[f] for f in code_fields))
            prev = other_ids.get(ex_id)
            if prev is not None and prev[2] != h:
                _bad(bad, skip_bad, path, lineno, f"id {ex_id!r} is also on {prev[0]}:{prev[1]} with different code "
                     "(an id must name one example in every split)")
                continue
            mine[ex_id] = (Path(path).name, lineno, h)
        seen[ex_id] = lineno
        out.add(id=ex_id, **codes, label=label)
    if other_ids is not None:
        for k, v in mine.items():
            other_ids.setdefault(k, v)
    _check_nonempty(path, out.rows, bad)
    return out.table()


def _read_functions(path: Path, bad: list[BadLine], skip_bad: bool) -> tuple[pa.Table, dict[str, int]]:
    out = _Chunked(pa.schema([("idx", pa.string()), ("func", pa.string())]))
    index: dict[str, int] = {}
    lines: dict[str, int] = {}
    for lineno, obj in _iter_json_lines(path, bad, skip_bad):
        try:
            if "idx" not in obj:
                raise _LineError("missing field 'idx'")
            fid = _get_id(obj, "")
            func = _get_str(obj, "func")
        except _LineError as exc:
            _bad(bad, skip_bad, path, lineno, str(exc))
            continue
        if fid in index:
            _bad(bad, skip_bad, path, lineno, f"duplicate idx {fid!r} (first seen on line {lines[fid]})")
            continue
        index[fid] = out.rows
        lines[fid] = lineno
        out.add(idx=fid, func=func)
    _check_nonempty(path, out.rows, bad)
    return out.table(), index


def _read_pair_index(path: Path, index: dict[str, int], lm: _LabelMap, bad: list[BadLine], skip_bad: bool,
                     functions_path: Path) -> pa.Table:
    a_col: list[int] = []
    b_col: list[int] = []
    y_col: list[int] = []
    line_col: list[int] = []
    with _open_data_file(path) as fh:
        for lineno, raw in enumerate(fh, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                _bad(bad, skip_bad, path, lineno, f"not valid UTF-8 (byte {exc.start})")
                continue
            parts = text.split()
            if not parts:
                continue
            if len(parts) != 3:
                _bad(bad, skip_bad, path, lineno, f"expected 'idx1<TAB>idx2<TAB>label', got {len(parts)} fields")
                continue
            i1, i2, lab = parts
            try:
                y = lm(int(lab))
            except ValueError:
                _bad(bad, skip_bad, path, lineno, f"label must be an integer, got {lab!r}")
                continue
            except _LineError as exc:
                _bad(bad, skip_bad, path, lineno, str(exc))
                continue
            missing = [i for i in (i1, i2) if i not in index]
            if missing:
                _bad(bad, skip_bad, path, lineno, f"pair id {missing[0]!r} not found in {functions_path.name}")
                continue
            a_col.append(index[i1])
            b_col.append(index[i2])
            y_col.append(y)
            line_col.append(lineno)
    _check_nonempty(path, len(a_col), bad)
    a = np.asarray(a_col, dtype=np.int64)
    b = np.asarray(b_col, dtype=np.int64)
    lines = np.asarray(line_col, dtype=np.int64)
    del a_col, b_col, line_col
    # duplicate pairs: the same (idx1, idx2) twice
    key = a * (len(index) + 1) + b
    order = np.argsort(key, kind="stable")
    dup = np.nonzero(key[order][1:] == key[order][:-1])[0]
    if len(dup):
        keep = np.ones(len(a), dtype=bool)
        for d in dup:
            first, second = order[d], order[d + 1]
            _bad(bad, skip_bad, path, int(lines[second]),
                 f"duplicate pair id (same pair as line {int(lines[first])})")
            keep[second] = False
        a, b, lines = a[keep], b[keep], lines[keep]
        y_col = list(np.asarray(y_col)[keep])
    fidx = list(index)  # row -> idx string
    ids = pa.array([f"{fidx[i]}-{fidx[j]}" for i, j in zip(a, b)], type=pa.string())
    return pa.table({"id": ids, "a": pa.array(a.astype(np.int32)), "b": pa.array(b.astype(np.int32)),
                     "label": pa.array(np.asarray(y_col, dtype=np.int64))})


# --------------------------------------------------------------------------------------------
# subsampling


def subsample_indices(n: int, fraction: float, seed: int = 0) -> np.ndarray:
    """The rows kept by a seeded subsample, sorted: identical for every consumer (teacher, student,
    vocabulary, cache) because it depends only on ``(n, fraction, seed)``.

    ``k = max(1, int(n * fraction))`` rows are drawn without replacement with
    ``numpy.random.default_rng(seed).permutation(n)[:k]``, as CodeXGLUE keeps 10% of BigCloneBench's
    train and valid pairs.
    """
    if not 0 < fraction <= 1:
        raise DataError(f"fraction must be in (0, 1], got {fraction}")
    if fraction == 1:
        return np.arange(n)
    k = max(1, int(n * fraction))
    return np.sort(np.random.default_rng(seed).permutation(n)[:k])


# --------------------------------------------------------------------------------------------
# public entry point


def detect_format(root: Path, task: Task) -> str:
    """``single``, ``exception``, ``clone-native`` or ``clone-joined``."""
    if task.data_format == "clone" or task.is_pair:
        if (root / "data.jsonl").exists() and not (root / "data.jsonl").is_file():
            raise DataError("is a folder, not the function file of a clone dataset", path=root / "data.jsonl")
        if (root / "data.jsonl").is_file() and any(_find_split_file(root, s, (".txt",)) for s in SPLITS):
            joined = [str(p.name) for s in SPLITS if (p := _find_split_file(root, s, (".jsonl", ".json"))) is not None]
            if joined:
                raise DataError(f"holds both a native clone dataset (data.jsonl + train.txt ...) and a pre-joined one "
                                f"({', '.join(joined)}); one would be silently ignored: keep one form per folder",
                                path=root)
            return "clone-native"
        return "clone-joined"
    return task.data_format


def load_task_data(
    path: str | Path,
    task: str | Task,
    *,
    splits: Sequence[str] = SPLITS,
    fraction: float | None = None,
    fraction_splits: Sequence[str] = ("train", "valid"),
    seed: int = 0,
    skip_bad: bool = False,
) -> TaskData:
    """Load and validate a task's dataset folder.

    ``fraction`` keeps a seeded subsample of the splits in ``fraction_splits`` (default train and
    valid; the test split stays whole, as CodeXGLUE does for BigCloneBench).
    """
    task = get_task(task)
    if fraction is not None and (isinstance(fraction, bool) or not 0 < fraction <= 1):
        raise ConfigError(f"fraction must be in (0, 1] (a share of the examples), got {fraction}")
    root = Path(path)
    if not root.exists():
        raise DataError("dataset folder does not exist", path=root)
    if not root.is_dir():
        raise DataError("expected a dataset folder (with train/valid/test files)", path=root)
    fmt = detect_format(root, task)
    labels = _label_names(task, root)
    lm = _LabelMap(labels, allow_names=task.label_from_names or task.labels_from_data)
    bad: list[BadLine] = []
    out: dict[str, Split] = {}
    functions = None
    index: dict[str, int] = {}
    functions_path = root / "data.jsonl"
    ids_seen: dict[str, tuple[str, int, int]] = {}
    if fmt == "clone-native":
        ftable, index = _read_functions(functions_path, bad, skip_bad)
        functions = _to_dataset(ftable)
    for split in splits:
        exts = (".txt",) if fmt == "clone-native" else (".jsonl", ".json")
        f = _find_split_file(root, split, exts)
        if f is None:
            want = f"{split}.txt" if fmt == "clone-native" else f"{split}.jsonl"
            raise DataError(f"missing split file {want}", path=root)
        if fmt == "clone-native":
            table = _read_pair_index(f, index, lm, bad, skip_bad, functions_path)
        elif fmt == "clone-joined":
            table = _read_labelled(f, split, lm, bad, skip_bad, ("func1", "func2"), other_ids=ids_seen)
        else:
            table = _read_labelled(f, split, lm, bad, skip_bad, ("func",), require_hole=(fmt == "exception"),
                                   other_ids=ids_seen)
        ds = _to_dataset(table)
        if fraction is not None and fraction < 1 and split in fraction_splits:
            ds = _to_dataset(table.take(pa.array(subsample_indices(len(ds), fraction, seed))))
        out[split] = Split(split, ds, task, str(f), functions)
    return TaskData(task=task, root=str(root), format=fmt, labels=labels, splits=out, bad_lines=bad,
                    fraction=fraction, seed=seed)


def check_trainable(data: TaskData, split: str = "train") -> None:
    """A training split whose examples all have one label teaches nothing: refuse it."""
    sp = data.splits.get(split)
    if sp is None or len(sp) == 0:
        return
    present = np.unique(sp.labels)
    if len(present) < 2:
        name = data.labels[int(present[0])] if len(present) else "?"
        raise DataError(f"every training example has the label {name!r}: a model trained on one class learns "
                        "nothing (check the data, or the --fraction that subsampled it)", path=sp.path)


def normalized_codes(split: Split, indices: Sequence[int], mode: str = "whitespace") -> list[tuple[str, ...]]:
    """The normalised code of the given rows (normalisation is a tokenisation setting)."""
    return [tuple(normalize_code(c, mode) for c in tup) for tup in split.codes(indices)]
