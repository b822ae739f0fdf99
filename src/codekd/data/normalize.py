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
exception task, so the handler and its ``try`` body fit the length budget).
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


def parse_normalization(mode: str) -> tuple[str, int | None]:
    """``"structure:hole=3"`` -> ``("structure", 3)``: a base mode, optionally with a window of
    ``hole`` lines around ``__HOLE__`` (see :func:`hole_window`)."""
    base, _, opts = str(mode).partition(":")
    hole = None
    if base not in NORM_MODES:
        raise ConfigError(f"unknown normalisation {mode!r} (choose from {', '.join(NORM_MODES)}, "
                          "optionally with ':hole=N', e.g. 'structure:hole=3')")
    for opt in filter(None, opts.split(",")):
        key, _, val = opt.partition("=")
        if key != "hole" or not val.isdigit():
            raise ConfigError(f"unknown normalisation option {opt!r} in {mode!r} (known: hole=N)")
        hole = int(val)
    return base, hole


def normalize_code(code: str, mode: str = "whitespace") -> str:
    """Normalise ``code`` according to ``mode`` (see module docstring; ``mode`` may add ``:hole=N``)."""
    if mode == "whitespace":
        return normalize_whitespace(code)
    base, hole = parse_normalization(mode)
    if hole is not None:
        code = hole_window(code, hole)
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
