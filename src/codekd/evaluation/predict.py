"""Apply a trained or exported model to source files: ``codekd predict MODEL FILE_OR_DIR``.

This is how a user runs a distilled model over a codebase. The model may be a run folder, a
student or teacher folder, an export folder or an exported ``.onnx`` file (its tokenizer and
settings sit beside it). The code is cut into the units the model was trained on:

* ``unit="function"`` (default): one prediction per function. Python files are split with
  :mod:`ast` (functions and methods at any depth, decorators excluded, dedented), C files
  (``.c``/``.h``) with tree-sitter ``function_definition`` nodes, Java files with tree-sitter
  method (with a body) and constructor declarations. Each prediction carries ``file:line`` and
  the function's (qualified) name.
* ``unit="file"``: one prediction per file (the whole file as one input).
* Exception-type models (task ``exception``) need the exception name masked: every function whose
  ``except`` clauses all catch one name becomes one input with that name replaced by
  ``__HOLE__`` (exactly how the dataset is mined), and the prediction is shown beside the name
  the code actually uses. A function written with ``except __HOLE__:`` is predicted as is.

Pair tasks (clone detection) take two functions per input: :func:`predict_pairs` reads them from
a JSON Lines file (``func1``/``func2`` code, or ``file1``/``file2`` paths).

:func:`lint` is the exception task's check of existing code: every ``except Name:`` clause is
masked as the miner masks it for training and predicted; a clause where the model is confident
(``threshold``) that another type is caught there is a finding, with the top-3 types.

:mod:`codekd.evaluation.sarif` writes any of these results as SARIF 2.1.0.
"""

from __future__ import annotations

import ast
import fnmatch
import json
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..data.builders.exception_mining import HOLE, extract_examples, hole_text
from ..data.pysource import def_text, parse_module, scan_defs
from ..errors import ConfigError, DataError
from ..tasks import get_task

LANGUAGES = {".py": "python", ".c": "c", ".h": "c", ".java": "java"}
DEFAULT_PATTERNS: dict[str, tuple[str, ...]] = {
    "defect": ("*.c", "*.h"),
    "exception": ("*.py",),
}
ALL_PATTERNS = ("*.py", "*.c", "*.h", "*.java")
MAX_FILE_BYTES = 2_000_000


@dataclass
class CodeUnit:
    """One model input cut from a file."""

    path: str
    line: int
    end_line: int
    name: str
    code: str
    actual: str | None = None  # exception task: the name the code really catches


# ------------------------------------------------------------------------------------ splitting

def python_functions(text: str, path: str = "<string>") -> list[CodeUnit]:
    """Every ``def`` / ``async def`` (methods and nested functions included), dedented, without decorators."""
    lines = text.split("\n")
    out = [CodeUnit(path, d.node.lineno, d.node.end_lineno or d.node.lineno, d.qualname, def_text(lines, d.node))
           for d in scan_defs(parse_module(text))]
    out.sort(key=lambda u: (u.line, u.name))
    return out


def exception_units(text: str, path: str = "<string>") -> list[CodeUnit]:
    """Functions whose ``except`` clauses catch one name, with that name replaced by ``__HOLE__``."""
    _, _, examples = extract_examples(text)
    out = []
    for label, func, qualname, lineno in examples:
        end = lineno + func.count("\n")
        out.append(CodeUnit(path, lineno, end, qualname, func, actual=None if label == HOLE else label))
    return out


_TS_LANGS: dict[str, Any] = {}


def _ts_parser(lang: str) -> Any:
    from tree_sitter import Language, Parser

    if lang not in _TS_LANGS:
        if lang == "c":
            import tree_sitter_c as grammar
        else:
            import tree_sitter_java as grammar
        _TS_LANGS[lang] = Language(grammar.language())
    return Parser(_TS_LANGS[lang])


def _c_name(fn: Any, src: bytes) -> str:
    node = fn.child_by_field_name("declarator")
    while node is not None and node.type not in ("identifier", "field_identifier"):
        nxt = node.child_by_field_name("declarator")
        if nxt is None:  # e.g. parenthesized_declarator has no declarator field (STACK-NOTES)
            nxt = next((c for c in node.named_children if c.type.endswith("declarator") or c.type == "identifier"), None)
        node = nxt
    return src[node.start_byte:node.end_byte].decode("utf-8", "replace") if node is not None else "<anonymous>"


def _ts_functions(text: str, path: str, lang: str) -> list[CodeUnit]:
    src = text.encode("utf-8")
    tree = _ts_parser(lang).parse(src)
    out: list[CodeUnit] = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        unit = None
        if lang == "c" and node.type == "function_definition":
            unit = _c_name(node, src)
        elif lang == "java" and node.type in ("method_declaration", "constructor_declaration"):
            if node.child_by_field_name("body") is not None:
                name = node.child_by_field_name("name")
                unit = src[name.start_byte:name.end_byte].decode("utf-8", "replace") if name else "<anonymous>"
                owner = node.parent
                while owner is not None and owner.type not in ("class_declaration", "enum_declaration",
                                                               "record_declaration", "interface_declaration"):
                    owner = owner.parent
                if owner is not None and owner.child_by_field_name("name") is not None:
                    oname = owner.child_by_field_name("name")
                    unit = src[oname.start_byte:oname.end_byte].decode("utf-8", "replace") + "." + unit
        if unit is not None:
            code = src[node.start_byte:node.end_byte].decode("utf-8", "replace")
            out.append(CodeUnit(path, node.start_point[0] + 1, node.end_point[0] + 1, unit, code))
            if lang == "c":
                continue  # C has no nested functions
        stack.extend(reversed(node.named_children))
    out.sort(key=lambda u: (u.line, u.name))
    return out


def c_functions(text: str, path: str = "<string>") -> list[CodeUnit]:
    """C function definitions (tree-sitter)."""
    return _ts_functions(text, path, "c")


def java_functions(text: str, path: str = "<string>") -> list[CodeUnit]:
    """Java methods with a body and constructors (tree-sitter), named ``Class.method``."""
    return _ts_functions(text, path, "java")


def file_units(path: Path, shown: str, *, task: str | None, unit: str) -> list[CodeUnit]:
    """The inputs of one file (see the module docstring). Raises ``SyntaxError`` for unparsable Python."""
    text = path.read_text(encoding="utf-8", errors="replace").replace("\r\n", "\n")
    if task == "exception":
        return exception_units(text, shown)
    if unit == "file":
        return [CodeUnit(shown, 1, text.count("\n") + 1, path.name, text)] if text.strip() else []
    lang = LANGUAGES.get(path.suffix.lower())
    if lang == "python":
        return python_functions(text, shown)
    if lang == "c":
        return c_functions(text, shown)
    if lang == "java":
        return java_functions(text, shown)
    return [CodeUnit(shown, 1, text.count("\n") + 1, path.name, text)] if text.strip() else []


def find_files(target: Path, patterns: Sequence[str]) -> list[Path]:
    """Files under ``target`` (or ``target`` itself) matching any glob pattern, sorted; hidden folders skipped."""
    if target.is_file():
        return [target]
    out = []
    for root, dirs, files in os.walk(target):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in ("__pycache__", "node_modules"))
        for f in sorted(files):
            if any(fnmatch.fnmatch(f, p) for p in patterns):
                out.append(Path(root) / f)
    return out


def collect_units(target: str | os.PathLike[str], *, task: str | None = None, unit: str = "function",
                  patterns: Sequence[str] | None = None) -> tuple[list[CodeUnit], list[dict[str, str]], int]:
    """``(units, skipped files with reasons, number of files read)``."""
    if unit not in ("function", "file"):
        raise ConfigError(f"unit must be 'function' or 'file', got {unit!r}")
    root = Path(target)
    if not root.exists():
        raise ConfigError("no such file or folder", path=root)
    pats = tuple(patterns) if patterns else DEFAULT_PATTERNS.get(task or "", ALL_PATTERNS)
    files = find_files(root, pats)
    if not files:
        raise ConfigError(f"no source files matching {' '.join(pats)} in this folder"
                          + (f" (the {task} task reads {' '.join(pats)}; --pattern chooses others)" if task else ""),
                          path=root)
    units: list[CodeUnit] = []
    skipped: list[dict[str, str]] = []
    for f in files:
        shown = str(f.relative_to(root)) if root.is_dir() else str(f)
        if f.stat().st_size > MAX_FILE_BYTES:
            skipped.append({"file": shown, "reason": f"larger than {MAX_FILE_BYTES} bytes"})
            continue
        try:
            units.extend(file_units(f, shown, task=task, unit=unit))
        except (SyntaxError, ValueError, RecursionError) as exc:
            skipped.append({"file": shown, "reason": f"does not parse: {type(exc).__name__}: {exc}".splitlines()[0]})
    return units, skipped, len(files)


# ------------------------------------------------------------------------------------ predicting

def _softmax(x: np.ndarray) -> np.ndarray:
    z = x - x.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def predict(
    model: str | os.PathLike[str],
    target: str | os.PathLike[str],
    *,
    task: str | None = None,
    unit: str = "function",
    patterns: Sequence[str] | None = None,
    batch_size: int = 32,
    max_length: int | None = None,
    normalization: str | None = None,
    int8: bool = False,
    top_k: int = 3,
    device: str | None = None,
    threads: int | None = None,
) -> dict[str, Any]:
    """Run ``model`` over the functions (or files) under ``target``.

    Returns ``{"model", "task", "labels", "files", "skipped", "predictions": [...]}``; each
    prediction has ``file``, ``line``, ``end_line``, ``function``, ``label``, ``probability``,
    ``top`` (the ``top_k`` most likely labels) and, for exception models, ``actual``.
    """
    ref, inf, task_name, names = _load_for(model, task, check_task=_refuse_pair_task, max_length=max_length,
                                           normalization=normalization, int8=int8, device=device, threads=threads)
    units, skipped, n_files = collect_units(target, task=task_name, unit=unit, patterns=patterns)
    preds: list[dict[str, Any]] = []
    if units:
        probs = _softmax(inf.logits([(u.code,) for u in units], batch_size).astype(np.float64))
        for u, p in zip(units, probs):
            top = _top(p, names, top_k)
            rec = {"file": u.path, "line": u.line, "end_line": u.end_line, "function": u.name,
                   "label": top[0]["label"], "probability": top[0]["probability"], "top": top}
            if task_name == "exception":
                rec["actual"] = u.actual
            preds.append(rec)
    return {"model": ref.source, "runtime": inf.runtime, "task": task_name, "unit": unit, "labels": names,
            "files": n_files, "skipped": skipped, "predictions": preds}


# ------------------------------------------------------------------------------------ lint (exception task)

@dataclass
class ClauseUnit(CodeUnit):
    """One ``except Name:`` clause to check: ``code`` is its function with ``Name`` masked."""

    column: int = 1       # 1-based UTF-16 column of the exception name (SARIF's default column kind)
    end_column: int = 1
    function_line: int = 1
    function_end_line: int = 1


def _utf16_col(line: str, byte_col: int) -> int:
    """1-based UTF-16 column of a UTF-8 byte offset (what :mod:`ast` reports) in ``line``."""
    prefix = line.encode("utf-8")[:byte_col].decode("utf-8", "replace")
    return len(prefix.encode("utf-16-le")) // 2 + 1


def except_clause_units(text: str, path: str = "<string>") -> tuple[list[ClauseUnit], Counter]:
    """Every ``except Name:`` clause of every function, each masked in its innermost function.

    The masking is the miner's (:func:`codekd.data.builders.exception_mining.extract_examples`): in the
    function's text every clause catching ``Name`` (nested functions included) becomes
    ``except __HOLE__:``. Other clauses stay as written. Clauses outside any function, and tuples,
    dotted names and bare ``except:`` (which the model never learnt), are counted in the returned
    Counter, not checked. Raises ``SyntaxError`` / ``ValueError`` / ``RecursionError`` for
    unparsable text.
    """
    tree = parse_module(text)
    lines = text.split("\n")
    defs = scan_defs(tree)
    owner: dict[int, int] = {}  # id(handler) -> index of its innermost def
    for i, (node, _, handlers) in enumerate(defs):
        for h in handlers:
            j = owner.get(id(h))
            if j is None or (node.lineno, node.col_offset) > (defs[j][0].lineno, defs[j][0].col_offset):
                owner[id(h)] = i
    skipped: Counter = Counter()
    out: list[ClauseUnit] = []
    for i, (node, qualname, handlers) in enumerate(defs):
        own = [h for h in handlers if owner.get(id(h)) == i]
        by_name: dict[str, list[ast.ExceptHandler]] = {}
        for h in own:
            if h.type is None:
                skipped["bare_except"] += 1
            elif isinstance(h.type, ast.Name):
                by_name.setdefault(h.type.id, []).append(h)
            else:
                skipped["tuple_dotted_or_expression"] += 1
        for name, mine in by_name.items():
            masked = [h for h in handlers if isinstance(h.type, ast.Name) and h.type.id == name]
            try:
                code = hole_text(lines, node, masked, name)
            except UnicodeError:
                code = None
            if code is None:
                skipped["offset_or_encoding"] += len(mine)
                continue
            for h in mine:
                t = h.type
                line = lines[t.lineno - 1]
                out.append(ClauseUnit(path, t.lineno, t.end_lineno or t.lineno, qualname, code, actual=name,
                                      column=_utf16_col(line, t.col_offset),
                                      end_column=_utf16_col(lines[(t.end_lineno or t.lineno) - 1], t.end_col_offset),
                                      function_line=node.lineno, function_end_line=node.end_lineno or node.lineno))
    n_all = sum(1 for n in ast.walk(tree) if isinstance(n, ast.ExceptHandler))
    outside = n_all - len(owner)
    if outside:
        skipped["outside_functions"] += outside
    out.sort(key=lambda u: (u.line, u.column, u.name))
    return out, skipped


def _same_task(ref: Any, task: str | None) -> None:
    """A run or export records its task: another ``task`` is a user error, not a reinterpretation."""
    own = (ref.config.task if ref.config is not None else None) or (ref.export or {}).get("task")
    if task and own and task != own:
        raise ConfigError(f"this is a {own!r} model; it cannot predict the {task!r} task "
                          f"(leave out --task, or give a {task} model)", path=ref.source)


def _refuse_pair_task(task_name: str | None) -> None:
    """A folder is scanned function by function: a pair task's model is pointed to ``--pairs``."""
    t = get_task(task_name) if task_name else None
    if t is not None and t.is_pair:
        raise ConfigError(f"task {t.name!r} takes function pairs, not a folder: give them with --pairs FILE "
                          "(JSON lines with func1/func2 code or file1/file2 paths)")


def _load_for(model: str | os.PathLike[str], task: str | None, *,
              check_task: Callable[[str | None], None] | None = None,
              **kw: Any) -> tuple[Any, Any, str | None, list[str]]:
    """The model, its inference runtime, its task and label names; ``check_task`` sees the task
    before anything is loaded."""
    from .inference import load_inference, resolve_model

    ref = resolve_model(model)
    task_name = task or (ref.config.task if ref.config is not None else None) or (ref.export or {}).get("task")
    if check_task is not None:
        check_task(task_name)
    _same_task(ref, task)
    inf = load_inference(ref, task=task_name, **kw)
    if task_name:
        fixed = get_task(task_name).labels
        if fixed and len(fixed) != inf.num_labels:
            raise ConfigError(f"task {task_name!r} has {len(fixed)} labels but the model has {inf.num_labels}")
    names = inf.label_names or [f"LABEL_{i}" for i in range(inf.num_labels)]
    return ref, inf, task_name, names


def _top(p: np.ndarray, names: Sequence[str], k: int) -> list[dict[str, Any]]:
    order = np.argsort(-p, kind="stable")[: max(1, min(k, p.shape[0]))]
    return [{"label": names[int(i)], "probability": float(p[i])} for i in order]


def lint(
    model: str | os.PathLike[str],
    target: str | os.PathLike[str],
    *,
    threshold: float = 0.8,
    task: str | None = None,
    patterns: Sequence[str] | None = None,
    batch_size: int = 32,
    max_length: int | None = None,
    normalization: str | None = None,
    int8: bool = False,
    top_k: int = 3,
    device: str | None = None,
    threads: int | None = None,
) -> dict[str, Any]:
    """Check every ``except Name:`` clause under ``target`` with an exception-type model.

    Each clause (see :func:`except_clause_units`) is predicted with its name masked. A clause is a
    *finding* when the most likely type is not the one caught and its probability is at least
    ``threshold``. Clauses catching a type the model has no label for cannot be judged: they are
    counted (``not_in_labels_total``; the 50 most frequent names in ``not_in_labels``), never reported.

    Returns ``{"model", "runtime", "task", "labels", "threshold", "files", "skipped", "clauses",
    "checked", "not_in_labels", "not_checked", "findings": [...]}``; each finding has ``file``,
    ``line``, ``end_line``, ``column``, ``end_column``, ``function``, ``function_line``,
    ``function_end_line``, ``caught``, ``expected`` (the model's type), ``probability``,
    ``probability_caught`` and ``top`` (the ``top_k`` most likely types).
    """
    if not 0.0 <= threshold <= 1.0:
        raise ConfigError(f"threshold must be in [0, 1], got {threshold!r}")
    ref, inf, task_name, names = _load_for(model, task, max_length=max_length, normalization=normalization,
                                           int8=int8, device=device, threads=threads)
    if task_name != "exception":
        raise ConfigError(f"lint checks except clauses and needs an exception-type model; this is "
                          f"{'a ' + repr(task_name) if task_name else 'not a'} task model", path=ref.source)
    root = Path(target)
    if not root.exists():
        raise ConfigError("no such file or folder", path=root)
    pats = tuple(patterns) if patterns else DEFAULT_PATTERNS["exception"]
    files = find_files(root, pats)
    if not files:
        raise ConfigError(f"no source files matching {' '.join(pats)} in this folder", path=root)
    units: list[ClauseUnit] = []
    skipped: list[dict[str, str]] = []
    not_checked: Counter = Counter()
    for f in files:
        shown = str(f.relative_to(root)) if root.is_dir() else str(f)
        if f.stat().st_size > MAX_FILE_BYTES:
            skipped.append({"file": shown, "reason": f"larger than {MAX_FILE_BYTES} bytes"})
            continue
        try:
            text = f.read_text(encoding="utf-8", errors="replace").replace("\r\n", "\n")
            found, why = except_clause_units(text, shown)
        except (SyntaxError, ValueError, RecursionError) as exc:
            skipped.append({"file": shown, "reason": f"does not parse: {type(exc).__name__}: {exc}".splitlines()[0]})
            continue
        units.extend(found)
        not_checked.update(why)
    index = {n: i for i, n in enumerate(names)}
    known = [u for u in units if u.actual in index]
    unknown = Counter(u.actual for u in units if u.actual not in index)
    findings: list[dict[str, Any]] = []
    if known:
        codes: dict[str, int] = {}
        for u in known:
            codes.setdefault(u.code, len(codes))
        probs = _softmax(inf.logits([(c,) for c in codes], batch_size).astype(np.float64))
        for u in known:
            p = probs[codes[u.code]]
            best = int(np.argmax(p))
            if names[best] != u.actual and p[best] >= threshold:
                findings.append({"file": u.path, "line": u.line, "end_line": u.end_line, "column": u.column,
                                 "end_column": u.end_column, "function": u.name, "function_line": u.function_line,
                                 "function_end_line": u.function_end_line, "caught": u.actual,
                                 "expected": names[best], "probability": float(p[best]),
                                 "probability_caught": float(p[index[u.actual]]), "top": _top(p, names, top_k)})
    return {"model": ref.source, "runtime": inf.runtime, "task": task_name, "labels": names, "threshold": threshold,
            "files": len(files), "skipped": skipped, "clauses": len(units), "checked": len(known),
            "not_in_labels": dict(sorted(unknown.items(), key=lambda kv: (-kv[1], kv[0]))[:50]),
            "not_in_labels_total": sum(unknown.values()), "not_checked": dict(sorted(not_checked.items())),
            "findings": findings}


# ------------------------------------------------------------------------------------ pairs (clone task)

def read_pairs(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The pairs of a JSON Lines file: ``{"func1": code, "func2": code}`` or ``{"file1": path, "file2":
    path}`` (relative paths are relative to the pairs file's folder), optional ``"id"``.

    Returns ``[{"id", "code1", "code2", "file1", "file2"}]`` (``file*`` None for code); a bad line
    is a :class:`~codekd.errors.DataError` naming the file and line."""

    p = Path(path)
    if not p.is_file():
        raise DataError("pairs file not found" if not p.exists() else "pairs file is a folder, not a file", path=p)
    out: list[dict[str, Any]] = []
    with p.open(encoding="utf-8", errors="strict") as fh:
        try:
            raw_lines = list(fh)
        except UnicodeDecodeError as exc:
            raise DataError(f"pairs file is not valid UTF-8 (byte {exc.start})", path=p) from None
    for n, raw in enumerate(raw_lines, 1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise DataError(f"not a JSON object ({exc.msg})", path=p, line=n) from None
        if not isinstance(row, dict):
            raise DataError("not a JSON object", path=p, line=n)
        rec: dict[str, Any] = {"id": row.get("id", n), "file1": None, "file2": None}
        if isinstance(row.get("func1"), str) and isinstance(row.get("func2"), str):
            rec["code1"], rec["code2"] = row["func1"], row["func2"]
        elif isinstance(row.get("file1"), str) and isinstance(row.get("file2"), str):
            for k in ("1", "2"):
                f = Path(row["file" + k])
                f = f if f.is_absolute() else p.parent / f
                if not f.is_file():
                    raise DataError(f"file{k} {row['file' + k]!r} not found", path=p, line=n)
                rec["code" + k] = f.read_text(encoding="utf-8", errors="replace").replace("\r\n", "\n")
                rec["file" + k] = row["file" + k]
        else:
            raise DataError("a pair needs func1 and func2 (code) or file1 and file2 (paths) as strings",
                            path=p, line=n)
        out.append(rec)
    if not out:
        raise DataError("pairs file has no pairs", path=p)
    return out


def predict_pairs(
    model: str | os.PathLike[str],
    pairs: str | os.PathLike[str],
    *,
    task: str | None = None,
    batch_size: int = 32,
    max_length: int | None = None,
    normalization: str | None = None,
    int8: bool = False,
    top_k: int = 3,
    device: str | None = None,
    threads: int | None = None,
) -> dict[str, Any]:
    """Run a pair-task model (clone detection) over the pairs of ``pairs`` (see :func:`read_pairs`).

    Returns ``{"model", "runtime", "task", "labels", "pairs", "predictions": [...]}``; each
    prediction has ``id``, ``file1`` / ``file2`` (None for inline code), ``label``,
    ``probability`` and ``top``."""

    ref, inf, task_name, names = _load_for(model, task, max_length=max_length, normalization=normalization,
                                           int8=int8, device=device, threads=threads)
    if not task_name or not get_task(task_name).is_pair:
        raise ConfigError(f"--pairs needs a pair-task model (clone); this is "
                          f"{'a ' + repr(task_name) if task_name else 'not a'} task model: predict it on a "
                          "file or folder instead", path=ref.source)
    rows = read_pairs(pairs)
    probs = _softmax(inf.logits([(r["code1"], r["code2"]) for r in rows], batch_size).astype(np.float64))
    preds = []
    for r, p in zip(rows, probs):
        top = _top(p, names, top_k)
        preds.append({"id": r["id"], "file1": r["file1"], "file2": r["file2"], "label": top[0]["label"],
                      "probability": top[0]["probability"], "top": top})
    return {"model": ref.source, "runtime": inf.runtime, "task": task_name, "labels": names, "pairs": str(pairs),
            "predictions": preds}


__all__ = ["CodeUnit", "ClauseUnit", "predict", "lint", "predict_pairs", "read_pairs", "collect_units",
           "except_clause_units", "python_functions", "c_functions", "java_functions", "exception_units",
           "find_files"]
