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

Pair tasks (clone detection) take two functions per input and are not supported here.
"""

from __future__ import annotations

import ast
import fnmatch
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import ConfigError

LANGUAGES = {".py": "python", ".c": "c", ".h": "c", ".java": "java"}
DEFAULT_PATTERNS: dict[str, tuple[str, ...]] = {
    "defect": ("*.c", "*.h"),
    "exception": ("*.py",),
}
ALL_PATTERNS = ("*.py", "*.c", "*.h", "*.java")
MAX_FILE_BYTES = 2_000_000
HOLE = "__HOLE__"


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
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree = ast.parse(text)
    lines = text.split("\n")
    out: list[CodeUnit] = []
    work: list[tuple[ast.AST, tuple[str, ...]]] = [(tree, ())]
    while work:
        node, names = work.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                qual = ".".join((*names, child.name))
                first, last = child.lineno - 1, child.end_lineno or child.lineno
                seg = lines[first:last]
                indent = seg[0][: len(seg[0]) - len(seg[0].lstrip())] if seg else ""
                code = "\n".join(s[len(indent):] if s.startswith(indent) else s for s in seg)
                out.append(CodeUnit(path, child.lineno, last, qual, code))
                work.append((child, (*names, child.name, "<locals>")))
            elif isinstance(child, ast.ClassDef):
                work.append((child, (*names, child.name)))
            else:
                work.append((child, names))
    out.sort(key=lambda u: (u.line, u.name))
    return out


def exception_units(text: str, path: str = "<string>") -> list[CodeUnit]:
    """Functions whose ``except`` clauses catch one name, with that name replaced by ``__HOLE__``."""
    from ..data.builders.exceptions import extract_examples

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
    from ..tasks import get_task
    from .evaluate import load_inference, resolve_model

    ref = resolve_model(model)
    task_name = task or (ref.config.task if ref.config is not None else None) or (ref.export or {}).get("task")
    if task_name:
        t = get_task(task_name)
        if t.is_pair:
            raise ConfigError(f"task {t.name!r} takes function pairs; predict runs single-function models")
    inf = load_inference(ref, task=task_name, max_length=max_length, normalization=normalization, int8=int8,
                         device=device, threads=threads)
    if task_name:
        fixed = get_task(task_name).labels
        if fixed and len(fixed) != inf.num_labels:
            raise ConfigError(f"task {task_name!r} has {len(fixed)} labels but the model has {inf.num_labels}")
    names = inf.label_names or [f"LABEL_{i}" for i in range(inf.num_labels)]
    units, skipped, n_files = collect_units(target, task=task_name, unit=unit, patterns=patterns)
    preds: list[dict[str, Any]] = []
    if units:
        probs = _softmax(inf.logits([(u.code,) for u in units], batch_size).astype(np.float64))
        k = max(1, min(top_k, probs.shape[1]))
        for u, p in zip(units, probs):
            order = np.argsort(-p, kind="stable")
            rec = {"file": u.path, "line": u.line, "end_line": u.end_line, "function": u.name,
                   "label": names[int(order[0])], "probability": float(p[order[0]]),
                   "top": [{"label": names[int(i)], "probability": float(p[i])} for i in order[:k]]}
            if task_name == "exception":
                rec["actual"] = u.actual
            preds.append(rec)
    return {"model": ref.source, "runtime": inf.runtime, "task": task_name, "unit": unit, "labels": names,
            "files": n_files, "skipped": skipped, "predictions": preds}


__all__ = ["CodeUnit", "predict", "collect_units", "python_functions", "c_functions", "java_functions",
           "exception_units", "find_files"]
