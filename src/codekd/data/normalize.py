"""Code normalisation applied before tokenisation.

Datasets keep the original source; normalisation is a tokenisation setting recorded in the run
config. Modes:

``whitespace`` (default, CodeXGLUE and the paper): ``" ".join(code.split())``.
``structure``: like ``whitespace`` inside each line, but line breaks and indentation changes become
    explicit marker tokens (``<nl>``, ``<indent>``, ``<dedent>``), so a teacher whose tokenizer drops
    whitespace (uncased WordPiece, e.g. MiniLM) still sees Python's block structure. The markers are
    lower-case so an uncased tokenizer's normaliser leaves them unchanged.
``none``: the code as stored.

Any mode can add ``:hole=N`` (e.g. ``structure:hole=3``): only the function's first line and the
``N`` lines around each ``__HOLE__`` are kept, before the rest of the normalisation (for the
exception task, so the handler and its ``try`` body fit the length budget). ``:try=N`` keeps what
decides the label more precisely: the function's first line, the ``try`` that the ``except
__HOLE__`` clause belongs to, up to ``N`` lines of its body (the first and the last ones when it
is longer), the clause itself and the first two lines of the handler (see :func:`try_window`).
"""

from __future__ import annotations

from typing import Literal

from ..errors import ConfigError

NormMode = Literal["whitespace", "structure", "none"]
NORM_MODES: tuple[str, ...] = ("whitespace", "structure", "none")

NL, INDENT, DEDENT = "<nl>", "<indent>", "<dedent>"
STRUCTURE_TOKENS: tuple[str, ...] = (NL, INDENT, DEDENT)


def normalize_whitespace(code: str) -> str:
    """CodeXGLUE's normalisation: collapse every run of whitespace to one space."""
    return " ".join(code.split())


def _indent_width(line: str, tab_size: int = 8) -> int:
    width = 0
    for ch in line:
        if ch == " ":
            width += 1
        elif ch == "\t":
            width = (width // tab_size + 1) * tab_size
        else:
            break
    return width


def normalize_structure(code: str) -> str:
    """Whitespace-normalise each line and keep the layout as ``<nl>``/``<indent>``/``<dedent>`` markers.

    Blank lines are dropped; indentation is tracked with a stack as Python's tokenizer does, so a
    return to an outer level emits one ``<dedent>`` per closed block.

    >>> normalize_structure("def f(x):\\n    if x:\\n        return 1\\n    return 2\\n")
    'def f(x): <nl> <indent> if x: <nl> <indent> return 1 <nl> <dedent> return 2'
    """
    out: list[str] = []
    stack = [0]
    first = True
    for raw in code.splitlines():
        if not raw.strip():
            continue
        width = _indent_width(raw)
        if not first:
            out.append(NL)
        if first:
            stack = [width]  # the first line sets the base level (dedented function bodies)
            first = False
        elif width > stack[-1]:
            stack.append(width)
            out.append(INDENT)
        else:
            while len(stack) > 1 and width < stack[-1]:
                stack.pop()
                out.append(DEDENT)
        out.append(" ".join(raw.split()))
    return " ".join(out)


def parse_window(mode: str) -> tuple[str, str | None, int | None]:
    """``"structure:try=4"`` -> ``("structure", "try", 4)``: a base mode and an optional window
    around ``__HOLE__`` (``hole``: :func:`hole_window`; ``try``: :func:`try_window`)."""
    base, _, opts = str(mode).partition(":")
    window: tuple[str | None, int | None] = (None, None)
    if base not in NORM_MODES:
        raise ConfigError(f"unknown normalisation {mode!r} (choose from {', '.join(NORM_MODES)}, "
                          "optionally with ':hole=N' or ':try=N', e.g. 'structure:try=4')")
    for opt in filter(None, opts.split(",")):
        key, _, val = opt.partition("=")
        if key not in ("hole", "try") or not val.isdigit():
            raise ConfigError(f"unknown normalisation option {opt!r} in {mode!r} (known: hole=N, try=N)")
        if window[0] is not None:
            raise ConfigError(f"normalisation {mode!r} sets two windows; use one of hole=N, try=N")
        window = (key, int(val))
    return base, window[0], window[1]


def parse_normalization(mode: str) -> tuple[str, int | None]:
    """``"structure:hole=3"`` -> ``("structure", 3)``: the base mode and the window size, if any
    (of either kind; :func:`parse_window` tells them apart)."""
    base, _, size = parse_window(mode)
    return base, size


def normalize_code(code: str, mode: str = "whitespace") -> str:
    """Normalise ``code`` according to ``mode`` (see module docstring; ``mode`` may add ``:hole=N``
    or ``:try=N``)."""
    if mode == "whitespace":
        return normalize_whitespace(code)
    base, kind, size = parse_window(mode)
    if kind == "hole":
        code = hole_window(code, size)
    elif kind == "try":
        code = try_window(code, size)
    if base == "whitespace":
        return normalize_whitespace(code)
    if base == "structure":
        return normalize_structure(code)
    return code


def hole_window(code: str, lines: int | None, marker: str = "__HOLE__") -> str:
    """Keep only the ``lines`` source lines before and after the lines holding ``marker`` (and the
    function's first line, its signature), in order; code without the marker is returned whole.

    A long function's exception handler is often past the first 128-512 tokens; a window keeps the
    ``try`` body and the handler, which is what decides the label, inside the length budget. The
    window is cut before normalisation, so every tokenizer sees the same text.

    >>> hole_window("def f():\\n a\\n b\\n c\\n try:\\n  d\\n except __HOLE__:\\n  e\\n f\\n g", 1)
    'def f():\\n  d\\n except __HOLE__:\\n  e'
    """
    if lines is None or marker not in code:
        return code
    src = code.splitlines()
    keep = {0}
    for i, line in enumerate(src):
        if marker in line:
            keep.update(range(max(0, i - lines), min(len(src), i + lines + 1)))
    return "\n".join(src[i] for i in sorted(keep))


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def try_window(code: str, body: int | None, handler: int = 2, marker: str = "__HOLE__") -> str:
    r"""Keep the function's first line and, for each line holding ``marker`` (an ``except`` clause):
    the ``try`` it belongs to, up to ``body`` lines of the ``try`` body (the first ``body // 2``
    and the last ``body - body // 2`` when it is longer), the clause, and the first ``handler``
    non-blank lines of the handler. Other clauses of the same ``try`` are left out. A clause
    whose ``try`` is not found (e.g. cut by the miner) falls back to :func:`hole_window` with
    ``handler`` lines; code without the marker is returned whole.

    >>> try_window("def f():\n a = 1\n try:\n  x = g()\n  y = h(x)\n except KeyError:\n  pass\n"
    ...            " except __HOLE__:\n  log()\n  raise\n return 2", 1)
    'def f():\n try:\n  y = h(x)\n except __HOLE__:\n  log()\n  raise'
    """
    if body is None or marker not in code:
        return code
    src = code.splitlines()
    keep = {0}
    for h, line in enumerate(src):
        if marker not in line:
            continue
        level = _indent(line)
        start = None
        for j in range(h - 1, -1, -1):
            s = src[j]
            if not s.strip():
                continue
            if _indent(s) < level:
                break
            if _indent(s) == level and s.strip().startswith("try"):
                start = j
                break
        if start is None:
            keep.update(range(max(0, h - handler), min(len(src), h + handler + 1)))
            continue
        end = start + 1  # the body ends at the first clause on the try's level
        while end < h and not (src[end].strip() and _indent(src[end]) == level):
            end += 1
        lines = [i for i in range(start + 1, end) if src[i].strip()]
        if len(lines) > body:
            lines = lines[: body // 2] + lines[len(lines) - (body - body // 2):]
        keep.update([start, h, *lines])
        k, n = h + 1, 0
        while k < len(src) and n < handler and (not src[k].strip() or _indent(src[k]) > level):
            if src[k].strip():
                keep.add(k)
                n += 1
            k += 1
    return "\n".join(src[i] for i in sorted(keep))
