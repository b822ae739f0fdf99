"""Bug injection on real C functions: small, plausible defects that still parse.

Each operator lists its *sites* in a function (byte span + replacement); :func:`mutate_function`
picks one operator and one site with a seeded :class:`random.Random`, applies it, and keeps the
mutant only when it still parses with no ERROR/MISSING node and its tokens differ from the original.

Operators (the names are written as the ``operator`` field of the dataset):

``binop``
    a binary operator replaced by a related wrong one: ``==``/``!=``, ``+``/``-``, ``*``/``/``,
    ``&&``/``||``, ``&``/``|``, ``<<``/``>>``, ``<``/``>``, ``<=``/``>=``.
``swap_operands``
    the operands of a non-commutative operator swapped (``a - b`` -> ``b - a``; ``-``, ``/``,
    ``%``, ``<<``, ``>>``, ``<``, ``>``, ``<=``, ``>=``), only when they differ.
``off_by_one``
    a bound moved by one: ``<``/``<=`` and ``>``/``>=`` exchanged, or a decimal integer literal in
    a comparison, an expression, an index, an argument or an initialiser changed by +1 or -1.
``remove_negation``
    a logical ``!`` removed (``if (!p)`` -> ``if (p)``).
``drop_bounds_check``
    an ``if (...) return ...;`` / ``goto ...;`` guard without ``else`` (the body may be a block
    ending in that statement after at most two expression statements, e.g. a log call) removed whole, when its condition compares (``<``, ``>``, ``<=``,
    ``>=``, ``==``, ``!=``) and mentions a size-like name (``size``, ``len``, ``count``, ``max``,
    ``end``, ``limit``, ``offset``, ``sizeof``, ...).
``var_misuse``
    a use of a parameter or function-level local variable replaced by another one declared with the
    same type text (e.g. two ``int`` locals ``i`` and ``j``).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Sequence

from .csyntax import c_parser, tokens

__all__ = ["MUTATION_OPERATORS", "Mutation", "mutate_function", "operator_sites", "apply_site"]

MUTATION_OPERATORS: tuple[str, ...] = (
    "binop", "swap_operands", "off_by_one", "remove_negation", "drop_bounds_check", "var_misuse",
)

_WRONG_OP = {"==": "!=", "!=": "==", "+": "-", "-": "+", "*": "/", "/": "*", "&&": "||", "||": "&&",
             "&": "|", "|": "&", "<<": ">>", ">>": "<<", "<": ">", ">": "<", "<=": ">=", ">=": "<="}
_NON_COMMUTATIVE = frozenset({"-", "/", "%", "<<", ">>", "<", ">", "<=", ">="})
_BOUNDARY = {"<": "<=", "<=": "<", ">": ">=", ">=": ">"}
_COMPARE = frozenset({"<", ">", "<=", ">=", "==", "!="})
_DEC_INT = re.compile(rb"^(0|[1-9][0-9]*)([uUlL]*)$")
_LITERAL_PARENTS = frozenset({"binary_expression", "subscript_expression", "argument_list",
                              "assignment_expression", "init_declarator", "return_statement"})
_SIZE_WORD = re.compile(rb"(?i)(size|len|count|num|max|min|end|limit|bound|cap|avail|remain|left|"
                        rb"idx|index|pos|offset|sizeof|nb_|total|width|height|bytes)")


@dataclass(frozen=True)
class Site:
    start: int
    end: int
    replacement: bytes


@dataclass(frozen=True)
class Mutation:
    operator: str
    code: str
    start: int  # byte span of the original that was replaced
    end: int


def _walk(node):
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(n.children))


def _binop_sites(root, ops: dict) -> list[Site]:
    out = []
    for n in _walk(root):
        if n.type == "binary_expression":
            op = n.child_by_field_name("operator")
            if op is not None and op.type in ops:
                out.append(Site(op.start_byte, op.end_byte, ops[op.type].encode()))
    return out


def _swap_sites(root, src: bytes) -> list[Site]:
    out = []
    for n in _walk(root):
        if n.type != "binary_expression":
            continue
        op, left, right = (n.child_by_field_name(k) for k in ("operator", "left", "right"))
        if op is None or left is None or right is None or op.type not in _NON_COMMUTATIVE:
            continue
        lt, rt = src[left.start_byte:left.end_byte], src[right.start_byte:right.end_byte]
        if lt == rt:
            continue
        mid = src[left.end_byte:right.start_byte]
        out.append(Site(left.start_byte, right.end_byte, rt + mid + lt))
    return out


def _off_by_one_sites(root, rng: random.Random) -> list[Site]:
    out = _binop_sites(root, _BOUNDARY)
    for n in _walk(root):
        if n.type != "number_literal" or n.parent is None or n.parent.type not in _LITERAL_PARENTS:
            continue
        m = _DEC_INT.match(n.text)
        if not m:
            continue
        value = int(m.group(1))
        new = value + 1 if value == 0 or rng.random() < 0.5 else value - 1
        out.append(Site(n.start_byte, n.end_byte, str(new).encode() + m.group(2)))
    return out


def _negation_sites(root, src: bytes) -> list[Site]:
    out = []
    for n in _walk(root):
        if n.type == "unary_expression":
            op, arg = n.child_by_field_name("operator"), n.child_by_field_name("argument")
            if op is not None and arg is not None and op.type == "!":
                out.append(Site(n.start_byte, n.end_byte, src[arg.start_byte:arg.end_byte]))
    return out


def _is_exit(node) -> bool:
    if node is None:
        return False
    if node.type in ("return_statement", "goto_statement"):
        return True
    if node.type == "compound_statement":  # { [up to two statements, e.g. a log call;] return/goto }
        inner = [c for c in node.named_children if c.type != "comment"]
        return 1 <= len(inner) <= 3 and inner[-1].type in ("return_statement", "goto_statement") and all(
            c.type == "expression_statement" for c in inner[:-1])
    return False


def _guard_sites(root, src: bytes) -> list[Site]:
    out = []
    for n in _walk(root):
        if n.type != "if_statement" or n.child_by_field_name("alternative") is not None:
            continue
        cond = n.child_by_field_name("condition")
        if cond is None or not _is_exit(n.child_by_field_name("consequence")):
            continue
        compares = any(d.type == "binary_expression" and (o := d.child_by_field_name("operator")) is not None
                       and o.type in _COMPARE for d in _walk(cond))
        if not compares or not _SIZE_WORD.search(src[cond.start_byte:cond.end_byte]):
            continue
        start, end = n.start_byte, n.end_byte
        line_start = src.rfind(b"\n", 0, start) + 1
        line_end = src.find(b"\n", end)
        line_end = len(src) if line_end < 0 else line_end
        if not src[line_start:start].strip() and not src[end:line_end].strip() and line_end < len(src):
            start, end = line_start, line_end + 1  # remove the whole lines
        out.append(Site(start, end, b""))
    return out


def _declared(decl) -> tuple[str, int] | None:
    """(name, pointer/array depth) of a declarator."""
    depth = 0
    node = decl
    while node is not None:
        if node.type == "identifier":
            return node.text.decode("utf-8", "replace"), depth
        if node.type in ("pointer_declarator", "array_declarator"):
            depth += 1
        elif node.type in ("function_declarator", "parenthesized_declarator"):
            return None
        node = node.child_by_field_name("declarator")
    return None


def _var_misuse_sites(func, src: bytes, rng: random.Random) -> list[Site]:
    variables: dict[str, tuple] = {}  # name -> type signature

    def add(type_node, decl) -> None:
        if type_node is None or decl is None:
            return
        got = _declared(decl)
        if got is None:
            return
        name, depth = got
        sig = (b" ".join(src[type_node.start_byte:type_node.end_byte].split()), depth)
        variables.setdefault(name, sig)

    fdecl = func.child_by_field_name("declarator")
    while fdecl is not None and fdecl.type != "function_declarator":
        fdecl = fdecl.child_by_field_name("declarator")
    params = fdecl.child_by_field_name("parameters") if fdecl is not None else None
    for p in (params.named_children if params is not None else ()):
        if p.type == "parameter_declaration":
            add(p.child_by_field_name("type"), p.child_by_field_name("declarator"))
    body = func.child_by_field_name("body")
    for st in (body.named_children if body is not None else ()):
        if st.type != "declaration":
            continue
        t = st.child_by_field_name("type")
        for d in st.children_by_field_name("declarator"):
            add(t, d.child_by_field_name("declarator") if d.type == "init_declarator" else d)
    if len(variables) < 2 or body is None:
        return []
    by_sig: dict[tuple, list[str]] = {}
    for name, sig in variables.items():
        by_sig.setdefault(sig, []).append(name)
    out = []
    for n in _walk(body):
        if n.type != "identifier":
            continue
        name = n.text.decode("utf-8", "replace")
        if name not in variables:
            continue
        parent = n.parent
        if parent is None or parent.type.endswith("declarator") or parent.type in ("declaration",
                                                                                    "parameter_declaration"):
            continue
        if parent.type == "call_expression" and parent.child_by_field_name("function") == n:
            continue
        others = sorted(x for x in by_sig[variables[name]] if x != name)
        if others:
            out.append(Site(n.start_byte, n.end_byte, rng.choice(others).encode()))
    return out


def operator_sites(func_node, src: bytes, operator: str, rng: random.Random) -> list[Site]:
    """The places where ``operator`` can act in the parsed function ``func_node`` of ``src``."""
    if operator == "binop":
        return _binop_sites(func_node, _WRONG_OP)
    if operator == "swap_operands":
        return _swap_sites(func_node, src)
    if operator == "off_by_one":
        return _off_by_one_sites(func_node, rng)
    if operator == "remove_negation":
        return _negation_sites(func_node, src)
    if operator == "drop_bounds_check":
        return _guard_sites(func_node, src)
    if operator == "var_misuse":
        return _var_misuse_sites(func_node, src, rng)
    raise ValueError(f"unknown mutation operator {operator!r}")


def apply_site(src: bytes, site: Site) -> bytes:
    return src[:site.start] + site.replacement + src[site.end:]


def _function_node(tree):
    for n in tree.root_node.named_children:
        if n.type == "function_definition":
            return n
    return None


def mutate_function(code: str, rng: random.Random, operators: Sequence[str] = MUTATION_OPERATORS,
                    parser=None, max_tries: int = 4, shuffle: bool = True) -> Mutation | None:
    """One mutant of the C function ``code`` (operator and site chosen with ``rng``), or None.

    Operators are tried in a random order (in the order given with ``shuffle=False``); for each, up
    to ``max_tries`` random sites. A mutant is
    kept only if it parses with no ERROR/MISSING node and its token sequence differs.
    Returns None when the original does not parse cleanly or no operator applies.
    """
    parser = parser or c_parser()
    src = code.encode("utf-8")
    tree = parser.parse(src)
    if tree.root_node.has_error:
        return None
    func = _function_node(tree)
    if func is None:
        return None
    before = tokens(func)
    order = list(operators)
    if shuffle:
        rng.shuffle(order)
    for op in order:
        sites = operator_sites(func, src, op, rng)
        rng.shuffle(sites)
        for site in sites[:max_tries]:
            new = apply_site(src, site)
            t2 = parser.parse(new)
            if t2.root_node.has_error:
                continue
            f2 = _function_node(t2)
            if f2 is None or tokens(f2) == before:
                continue
            return Mutation(op, new.decode("utf-8"), site.start, site.end)
    return None
