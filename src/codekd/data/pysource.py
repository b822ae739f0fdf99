"""Python source read one way for every extractor: decoding, parsing, the defs and their text.

The exception miner, ``codekd predict``, the masked-LM corpus and the clone builder all cut
functions out of Python files. :func:`scan_defs` is their one walk over a module; each caller
chooses what it walks into and keeps its own filtering and text:

* the exception miner and ``codekd predict``: every def (``nested``, ``blocks``, ``cases``); the
  miner masks the text (:func:`~codekd.data.builders.exception_mining.hole_text`), predict takes
  :func:`def_text` dedented by the whole indentation;
* the masked-LM corpus: the defs not nested in a def, not in ``match`` cases; :func:`def_text`
  dedented by the leading spaces and tabs;
* the clone builder: module and class level only; its own byte span (to the end of the body's
  last token).
"""

from __future__ import annotations

import ast
import io
import tokenize
import warnings
from typing import NamedTuple

__all__ = ["DEF_TYPES", "PyDef", "decode_source", "def_text", "parse_module", "scan_defs"]

DEF_TYPES = (ast.FunctionDef, ast.AsyncFunctionDef)


class PyDef(NamedTuple):
    """One ``def`` / ``async def``: its node, qualified name and every ``except`` clause in its text."""

    node: ast.FunctionDef | ast.AsyncFunctionDef
    qualname: str  # ``Outer.<locals>.inner``, ``Class.method``
    handlers: list[ast.ExceptHandler]  # its own and those of the functions and classes nested in it


def decode_source(data: bytes) -> str:
    """A source file's text in its declared encoding (PEP 263, UTF-8 by default), newlines as ``\\n``.

    Raises ``SyntaxError`` (a bad coding line), ``LookupError`` (an unknown encoding) or ``UnicodeError``.
    """
    enc, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    return data.decode(enc).replace("\r\n", "\n").replace("\r", "\n")


def parse_module(text: str) -> ast.Module:
    """``ast.parse`` without the parser's warnings (invalid escape sequences of foreign code).

    Raises ``SyntaxError`` / ``ValueError`` / ``RecursionError`` when the text does not parse.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(text)


def scan_defs(tree: ast.Module, *, nested: bool = True, blocks: bool = True, cases: bool = True) -> list[PyDef]:
    """The defs of a module, in walk order (callers sort), each with the ``except`` clauses in its text.

    Class bodies are always walked. ``nested``: also the defs inside defs (qualified with
    ``<locals>``). ``blocks``: also the defs inside compound statements (``if``, ``for``, ``while``,
    ``with``, ``try`` and its handlers). ``cases``: also inside ``match`` cases (with ``blocks``).

    Only statement lists are walked (a def or an ``except`` clause is always a statement or part
    of one), iteratively, so expressions are never visited and deep nesting cannot overflow the stack.
    """
    defs: list[PyDef] = []
    work: list[tuple[list, tuple[str, ...], tuple[list, ...]]] = [(tree.body, (), ())]
    while work:
        stmts, names, open_defs = work.pop()
        for st in stmts:
            if isinstance(st, DEF_TYPES):
                handlers: list[ast.ExceptHandler] = []
                defs.append(PyDef(st, ".".join((*names, st.name)), handlers))
                if nested:
                    work.append((st.body, (*names, st.name, "<locals>"), (*open_defs, handlers)))
                continue
            if isinstance(st, ast.ClassDef):
                work.append((st.body, (*names, st.name), open_defs))
                continue
            if not blocks:
                continue
            for fname in ("body", "orelse", "finalbody"):
                sub = getattr(st, fname, None)
                if sub:
                    work.append((sub, names, open_defs))
            for h in getattr(st, "handlers", None) or ():
                for hl in open_defs:
                    hl.append(h)
                work.append((h.body, names, open_defs))
            if cases:
                for case in getattr(st, "cases", None) or ():
                    work.append((case.body, names, open_defs))
    return defs


def def_text(lines: list[str], node: ast.AST, indent_chars: str | None = None) -> str:
    """A def's text: whole lines from the ``def`` line (decorators left out) to the end of its body,
    dedented by the ``def`` line's indentation (that prefix is removed from every line that starts
    with it; the others are kept as they are).

    ``lines``: the module's text split at ``\\n``. The indentation is the ``def`` line's leading
    ``indent_chars`` (``None``: any whitespace).
    """
    first, last = node.lineno - 1, (node.end_lineno or node.lineno) - 1  # type: ignore[attr-defined]
    seg = lines[first:last + 1]
    prefix = seg[0][: len(seg[0]) - len(seg[0].lstrip(indent_chars))]
    if prefix:
        seg = [s[len(prefix):] if s.startswith(prefix) else s for s in seg]
    return "\n".join(seg)
