"""C syntax helpers on tree-sitter-c: function definitions, token sequences, parse checks.

All positions are UTF-8 **byte** offsets into the ``bytes`` that were parsed (tree-sitter's own
unit); text is cut from those bytes and decoded afterwards (invalid UTF-8 becomes U+FFFD), so
non-ASCII comments or strings never shift a cut.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any
from functools import lru_cache

from ...errors import ConfigError

__all__ = ["CFunction", "c_parser", "function_name", "functions_in", "parses_cleanly", "token_key", "tokens"]

# Leaves that are one token although tree-sitter gives them children (their inner text matters).
_ATOMIC = frozenset({"string_literal", "char_literal", "system_lib_string", "concatenated_string_literal_part"})
# Containers whose children can hold top-level function definitions.
_CONTAINERS = frozenset({"translation_unit", "preproc_if", "preproc_ifdef", "preproc_else", "preproc_elif",
                         "preproc_elifdef", "linkage_specification", "declaration_list"})


@lru_cache(maxsize=1)
def _language():
    try:
        import tree_sitter
        import tree_sitter_c
    except ImportError as exc:  # pragma: no cover - both are dependencies
        raise ConfigError(f"the defect builder needs tree-sitter and tree-sitter-c ({exc}); "
                          "pip install 'tree-sitter>=0.24,<0.27' 'tree-sitter-c>=0.23,<0.25'") from None
    return tree_sitter.Language(tree_sitter_c.language())


def c_parser():
    """A new tree-sitter parser for C (parsers are cheap; one per thread of work)."""
    import tree_sitter

    return tree_sitter.Parser(_language())


@dataclass(frozen=True)
class CFunction:
    """One function definition of a file: its name, byte span and 1-based first/last lines."""

    name: str
    start: int
    end: int
    line: int
    end_line: int
    node: Any = field(default=None, compare=False, repr=False)  # the tree-sitter node (while its tree lives)

    @property
    def lines(self) -> int:
        return self.end_line - self.line + 1


def _declarator_name(node) -> str | None:
    """The function name of a declarator chain (through pointer/parenthesized/attributed ones)."""
    seen = 0
    while node is not None and seen < 64:
        seen += 1
        if node.type in ("identifier", "field_identifier"):
            return node.text.decode("utf-8", "replace")
        nxt = node.child_by_field_name("declarator")
        if nxt is None:  # parenthesized_declarator has no `declarator` field (STACK-NOTES pitfall)
            nxt = next((c for c in node.named_children if c.type.endswith("declarator") or c.type == "identifier"),
                       None)
        node = nxt
    return None


def function_name(node) -> str | None:
    """The name of a ``function_definition`` node, or None when it has none (macro-made code)."""
    return _declarator_name(node.child_by_field_name("declarator"))


def functions_in(tree) -> list[CFunction]:
    """The function definitions at file level (also inside ``#if`` blocks), in source order."""
    out: list[CFunction] = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        for child in reversed(node.named_children):
            if child.type == "function_definition":
                name = function_name(child)
                if name:
                    out.append(CFunction(name, child.start_byte, child.end_byte, child.start_point[0] + 1,
                                         child.end_point[0] + 1, child))
            elif child.type in _CONTAINERS:
                stack.append(child)
    out.sort(key=lambda f: f.start)
    return out


def tokens(node) -> list[bytes]:
    """The token texts under ``node``, comments dropped (so comment/whitespace edits compare equal)."""
    out: list[bytes] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if n.type == "comment":
            continue
        if n.child_count == 0 or n.type in _ATOMIC:
            t = n.text
            if t:
                out.append(t)
            continue
        stack.extend(reversed(n.children))
    return out


def token_key(node) -> bytes:
    """A digest of :func:`tokens`: equal for texts that differ only in comments and layout."""
    return hashlib.sha1(b"\x00".join(tokens(node))).digest()


def parses_cleanly(code: str | bytes, parser=None) -> bool:
    """True when ``code`` parses as C with no ERROR or MISSING node."""
    data = code.encode("utf-8") if isinstance(code, str) else code
    tree = (parser or c_parser()).parse(data)
    return not tree.root_node.has_error
