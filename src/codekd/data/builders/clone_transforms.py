"""Semantics-preserving transformations of one Java method or one Python function.

Each transformation takes the function's source text and a seeded :class:`random.Random` and
returns ``(new_text, metadata)``, or ``None`` when it does not apply to that function. The output
always parses (Java: tree-sitter-java with no ``ERROR`` / missing node; Python: :func:`ast.parse`);
a result that would not is discarded (``None``). They are source-to-source edits at the parser's
byte offsets, so the untouched code keeps its comments and layout.

=================  =====================================================================================
``rename``         consistent renaming of parameters and locals (not fields, methods, keyword
                   arguments or attributes) to fresh names absent from the function
``for_to_while``   Java ``for (init; cond; update) body`` -> ``{ init; while (cond) { body update; } }``
                   (no ``continue`` in the body); Python ``for i in range(a[, b]):`` ->
                   ``i = a`` / ``while i < b:`` ... ``i += 1`` (no ``continue``/``else``, the
                   variable not assigned in the body nor read after the loop)
``while_to_for``   Java ``while (c) s`` -> ``for (; c; ) s``
``swap_if_else``   ``if c A else B`` -> ``if !(c) B else A`` (not for ``else if`` / ``elif``)
``reorder``        swaps two adjacent independent declarations (side-effect-free initialisers, no
                   reference to each other's variable)
``extract_temp``   ``return EXPR`` -> ``T tmp = EXPR; return tmp`` (Java: ``T`` the declared return
                   type; Python: ``tmp = EXPR``)
=================  =====================================================================================
"""

from __future__ import annotations

import ast
import builtins
import keyword
import random
import re
from typing import Any, Callable, Optional

__all__ = [
    "JAVA_TRANSFORMS", "PY_TRANSFORMS", "java_parses", "py_parses", "apply_transforms", "java_parser",
]

Result = Optional[tuple[str, dict[str, Any]]]

_NAME_POOL = (
    "value", "item", "result", "tmp", "count", "index", "data", "node", "entry", "elem", "acc", "cur",
    "buf", "res", "val", "obj", "arg", "key", "total", "current", "target", "source", "element", "part",
    "chunk", "piece", "state", "flag", "pos", "offset", "size", "length", "name", "text", "token",
    "first", "second", "left", "right", "out", "input", "output", "holder", "ref", "aux", "temp",
)
_JAVA_KEYWORDS = frozenset("""abstract assert boolean break byte case catch char class const continue default do
double else enum extends final finally float for goto if implements import instanceof int interface long native
new package private protected public return short static strictfp super switch synchronized this throw throws
transient try void volatile while true false null var record yield sealed permits""".split())
_WORD = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")


def _fresh_names(n: int, used: set[str], rng: random.Random, reserved: frozenset[str]) -> list[str]:
    pool = list(_NAME_POOL)
    rng.shuffle(pool)
    out: list[str] = []
    taken = set(used)
    k = 0
    while len(out) < n:
        base = pool[k % len(pool)]
        name = base if k < len(pool) else f"{base}{k // len(pool) + 1}"
        k += 1
        if name in taken or name in reserved:
            continue
        taken.add(name)
        out.append(name)
    return out


def _apply_edits(data: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    edits = sorted(edits)
    for (s1, e1, _), (s2, _, _) in zip(edits, edits[1:]):
        if s2 < e1:
            raise ValueError("overlapping edits")
    for s, e, rep in reversed(edits):
        data = data[:s] + rep + data[e:]
    return data


def _indent_of(data: bytes, pos: int) -> bytes:
    ls = data.rfind(b"\n", 0, pos) + 1
    m = re.match(rb"[ \t]*", data[ls:pos])
    return m.group() if m else b""


# --------------------------------------------------------------------------------------------
# Java (tree-sitter)

_PARSER = None
_WRAP_HEAD = b"class __CodekdWrap {\n"
_WRAP_TAIL = b"\n}\n"


def java_parser():
    """A tree-sitter parser for Java (created once per process)."""
    global _PARSER
    if _PARSER is None:
        import tree_sitter_java
        from tree_sitter import Language, Parser

        _PARSER = Parser(Language(tree_sitter_java.language()))
    return _PARSER


def _java_method(text: str):
    """(wrapped bytes, method node) or None."""
    data = _WRAP_HEAD + text.encode("utf-8") + _WRAP_TAIL
    tree = java_parser().parse(data)
    if tree.root_node.has_error:
        return None
    cls = tree.root_node.named_children[0] if tree.root_node.named_children else None
    body = cls.child_by_field_name("body") if cls is not None else None
    methods = [c for c in (body.named_children if body else []) if c.type in ("method_declaration", "constructor_declaration")]
    if len(methods) != 1:
        return None
    return data, methods[0]


def java_parses(text: str) -> bool:
    """True when ``text`` is one Java method or constructor that parses without error."""
    return _java_method(text) is not None


def _unwrap(data: bytes) -> str | None:
    if not (data.startswith(_WRAP_HEAD) and data.endswith(_WRAP_TAIL)):
        return None
    return data[len(_WRAP_HEAD):-len(_WRAP_TAIL)].decode("utf-8")


def _walk(node, stop: Callable[[Any], bool] = lambda n: False):
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        if n is not node and stop(n):
            continue
        stack.extend(reversed(n.children))


_J_SCOPE_STOP = ("class_body", "lambda_expression")  # nested classes and lambdas: other scopes


def _j_in_own_scope(node, method) -> bool:
    p = node.parent
    while p is not None and p != method:
        if p.type in _J_SCOPE_STOP:
            return False
        p = p.parent
    return True


def _j_finish(data: bytes, edits, meta) -> Result:
    new = _apply_edits(data, edits)
    text = _unwrap(new)
    if text is None or not java_parses(text):
        return None
    return text, meta


def _j_rename(text: str, rng: random.Random) -> Result:
    got = _java_method(text)
    if got is None:
        return None
    data, m = got
    declared: list[str] = []
    for n in _walk(m):
        name = None
        if n.type in ("formal_parameter", "catch_formal_parameter", "enhanced_for_statement", "resource",
                      "variable_declarator"):
            name = n.child_by_field_name("name")
            if n.type == "variable_declarator" and (n.parent is None or n.parent.type != "local_variable_declaration"):
                name = None
        elif n.type == "spread_parameter":
            vd = next((c for c in n.named_children if c.type == "variable_declarator"), None)
            name = vd.child_by_field_name("name") if vd is not None else None
        if name is not None and name.type == "identifier":
            s = data[name.start_byte:name.end_byte].decode("utf-8")
            if s not in declared:
                declared.append(s)
    if not declared:
        return None
    used = {w for w in _WORD.findall(data.decode("utf-8"))}
    k = rng.randint(1, len(declared))
    chosen = sorted(rng.sample(declared, k), key=declared.index)
    mapping = dict(zip(chosen, _fresh_names(len(chosen), used, rng, _JAVA_KEYWORDS)))
    edits = []
    for n in _walk(m):
        if n.type != "identifier":
            continue
        s = data[n.start_byte:n.end_byte].decode("utf-8")
        if s not in mapping:
            continue
        p = n.parent
        if p is not None:
            if p.type == "field_access" and p.child_by_field_name("field") == n:
                continue
            if p.type == "method_invocation" and p.child_by_field_name("name") == n:
                continue
            if p.type in ("method_declaration", "constructor_declaration", "labeled_statement",
                          "break_statement", "continue_statement", "element_value_pair", "method_reference"):
                continue
        edits.append((n.start_byte, n.end_byte, mapping[s].encode()))
    if not edits:
        return None
    return _j_finish(data, edits, {"transform": "rename", "mapping": mapping})


def _j_candidates(m, kind: str) -> list:
    return [n for n in _walk(m) if n.type == kind and _j_in_own_scope(n, m)]


def _j_for_to_while(text: str, rng: random.Random) -> Result:
    got = _java_method(text)
    if got is None:
        return None
    data, m = got
    cands = []
    for n in _j_candidates(m, "for_statement"):
        body = n.child_by_field_name("body")
        if body is None or (n.parent is not None and n.parent.type == "labeled_statement"):
            continue
        if any(x.type == "continue_statement" for x in _walk(body)):
            continue
        cands.append(n)
    if not cands:
        return None
    n = rng.choice(cands)
    g = lambda x: data[x.start_byte:x.end_byte].decode("utf-8")  # noqa: E731
    inits = n.children_by_field_name("init")
    cond = n.child_by_field_name("condition")
    updates = n.children_by_field_name("update")
    body = n.child_by_field_name("body")
    ind = _indent_of(data, n.start_byte).decode()
    if inits and inits[0].type == "local_variable_declaration":
        init = g(inits[0])
    else:
        init = "".join(g(x) + "; " for x in inits).strip()
    upd = " ".join(g(u) + ";" for u in updates)
    if body.type == "block":
        inner = data[body.start_byte + 1:body.end_byte - 1].decode("utf-8").rstrip()
    else:
        inner = "\n" + ind + "        " + g(body)
    new_body = "{" + inner + ("\n" + ind + "        " + upd if upd else "") + "\n" + ind + "    }"
    lines = ["{"]
    if init:
        lines.append(ind + "    " + init)
    lines.append(ind + "    while (" + (g(cond) if cond is not None else "true") + ") " + new_body)
    lines.append(ind + "}")
    return _j_finish(data, [(n.start_byte, n.end_byte, "\n".join(lines).encode())],
                     {"transform": "for_to_while", "line": _line_of(data, n.start_byte)})


def _line_of(data: bytes, pos: int) -> int:
    return data.count(b"\n", 0, pos) - _WRAP_HEAD.count(b"\n") + 1


def _j_while_to_for(text: str, rng: random.Random) -> Result:
    got = _java_method(text)
    if got is None:
        return None
    data, m = got
    cands = _j_candidates(m, "while_statement")
    if not cands:
        return None
    n = rng.choice(cands)
    cond = n.child_by_field_name("condition")
    body = n.child_by_field_name("body")
    if cond is None or body is None or cond.type != "parenthesized_expression":
        return None
    inner = data[cond.start_byte + 1:cond.end_byte - 1]
    rep = b"for (; " + inner + b"; ) " + data[body.start_byte:body.end_byte]
    return _j_finish(data, [(n.start_byte, n.end_byte, rep)],
                     {"transform": "while_to_for", "line": _line_of(data, n.start_byte)})


def _j_swap_if_else(text: str, rng: random.Random) -> Result:
    got = _java_method(text)
    if got is None:
        return None
    data, m = got
    cands = []
    for n in _j_candidates(m, "if_statement"):
        alt = n.child_by_field_name("alternative")
        cons = n.child_by_field_name("consequence")
        cond = n.child_by_field_name("condition")
        if alt is None or cons is None or cond is None or alt.type == "if_statement":
            continue
        if n.parent is not None and n.parent.type == "if_statement" and n.parent.child_by_field_name("alternative") == n:
            continue  # the last link of an else-if chain
        cands.append((n, cond, cons, alt))
    if not cands:
        return None
    n, cond, cons, alt = rng.choice(cands)
    g = lambda x: data[x.start_byte:x.end_byte]  # noqa: E731
    blk = lambda x: g(x) if x.type == "block" else b"{ " + g(x) + b" }"  # noqa: E731
    inner = data[cond.start_byte + 1:cond.end_byte - 1]
    rep = b"if (!(" + inner + b")) " + blk(alt) + b" else " + blk(cons)
    return _j_finish(data, [(n.start_byte, n.end_byte, rep)],
                     {"transform": "swap_if_else", "line": _line_of(data, n.start_byte)})


_J_IMPURE = frozenset({"method_invocation", "object_creation_expression", "assignment_expression",
                       "update_expression", "lambda_expression", "method_reference", "switch_expression"})


def _j_decl_info(n, data: bytes):
    """(declared name, identifiers read) of a side-effect-free single-variable declaration."""
    if n.type != "local_variable_declaration":
        return None
    decls = n.children_by_field_name("declarator")
    if len(decls) != 1:
        return None
    name, value = decls[0].child_by_field_name("name"), decls[0].child_by_field_name("value")
    if name is None or value is None:
        return None
    reads = set()
    for x in _walk(value):
        if x.type in _J_IMPURE:
            return None
        if x.type == "identifier":
            reads.add(data[x.start_byte:x.end_byte])
    return data[name.start_byte:name.end_byte], reads


def _j_reorder(text: str, rng: random.Random) -> Result:
    got = _java_method(text)
    if got is None:
        return None
    data, m = got
    cands = []
    for blk in _j_candidates(m, "block"):
        stmts = [c for c in blk.named_children if "comment" not in c.type]
        for a, b in zip(stmts, stmts[1:]):
            ia, ib = _j_decl_info(a, data), _j_decl_info(b, data)
            if ia is None or ib is None or ia[0] == ib[0]:
                continue
            if ia[0] in ib[1] or ib[0] in ia[1]:
                continue
            if data[a.end_byte:b.start_byte].strip():  # a comment in between
                continue
            cands.append((a, b))
    if not cands:
        return None
    a, b = rng.choice(cands)
    ta, tb = data[a.start_byte:a.end_byte], data[b.start_byte:b.end_byte]
    return _j_finish(data, [(a.start_byte, a.end_byte, tb), (b.start_byte, b.end_byte, ta)],
                     {"transform": "reorder", "line": _line_of(data, a.start_byte)})


_J_EXTRACTABLE = frozenset({"method_invocation", "binary_expression", "object_creation_expression",
                            "ternary_expression", "array_access", "field_access", "cast_expression"})


def _j_extract_temp(text: str, rng: random.Random) -> Result:
    got = _java_method(text)
    if got is None or got[1].type != "method_declaration":
        return None
    data, m = got
    rtype = m.child_by_field_name("type")
    if rtype is None or rtype.type == "void_type":
        return None
    cands = []
    for n in _j_candidates(m, "return_statement"):
        expr = n.named_children[0] if n.named_children else None
        if expr is not None and expr.type in _J_EXTRACTABLE:
            cands.append((n, expr))
    if not cands:
        return None
    n, expr = rng.choice(cands)
    used = {w for w in _WORD.findall(data.decode("utf-8"))}
    tmp = _fresh_names(1, used, rng, _JAVA_KEYWORDS)[0]
    ind = _indent_of(data, n.start_byte)
    t = data[rtype.start_byte:rtype.end_byte]
    decl = t + b" " + tmp.encode() + b" = " + data[expr.start_byte:expr.end_byte] + b";"
    ret = b"return " + tmp.encode() + b";"
    if n.parent is not None and n.parent.type in ("block", "switch_block_statement_group"):
        rep = decl + b"\n" + ind + ret
    else:
        rep = b"{ " + decl + b" " + ret + b" }"
    return _j_finish(data, [(n.start_byte, n.end_byte, rep)],
                     {"transform": "extract_temp", "name": tmp, "line": _line_of(data, n.start_byte)})


JAVA_TRANSFORMS: dict[str, Callable[[str, random.Random], Result]] = {
    "rename": _j_rename,
    "for_to_while": _j_for_to_while,
    "while_to_for": _j_while_to_for,
    "swap_if_else": _j_swap_if_else,
    "reorder": _j_reorder,
    "extract_temp": _j_extract_temp,
}


# --------------------------------------------------------------------------------------------
# Python (ast + tokenize)

_PY_RESERVED = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | frozenset(dir(builtins)) | {"self", "cls"}


def py_parses(text: str) -> bool:
    """True when ``text`` parses as Python and holds exactly one top-level function."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError):
        return False
    return len(tree.body) == 1 and isinstance(tree.body[0], (ast.FunctionDef, ast.AsyncFunctionDef))


def _py_func(text: str):
    if not py_parses(text):
        return None
    return ast.parse(text).body[0]


def _own_nodes(fn):
    """Nodes of ``fn``'s own scope (nested defs, lambdas, classes and comprehensions not entered)."""
    stack = list(ast.iter_child_nodes(fn))
    while stack:
        n = stack.pop()
        yield n
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        stack.extend(ast.iter_child_nodes(n))


def _line_offsets(text: str) -> list[int]:
    """Byte offset of each line start (index = lineno - 1)."""
    offs, pos = [], 0
    for line in text.encode("utf-8").split(b"\n"):
        offs.append(pos)
        pos += len(line) + 1
    return offs


def _py_finish(text: str, new: str, meta: dict) -> Result:
    if new == text or not py_parses(new):
        return None
    return new, meta


def _p_rename(text: str, rng: random.Random) -> Result:
    fn = _py_func(text)
    if fn is None:
        return None
    a = fn.args
    params = [x.arg for x in (*a.posonlyargs, *a.args, *a.kwonlyargs)] + \
        [x.arg for x in (a.vararg, a.kwarg) if x is not None]
    local: list[str] = [p for p in params if p not in ("self", "cls")]
    blocked: set[str] = set()
    for n in _own_nodes(fn):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store) and n.id not in local:
            local.append(n.id)
        elif isinstance(n, (ast.Global, ast.Nonlocal)):
            blocked.update(n.names)
        elif isinstance(n, ast.JoinedStr):
            blocked.update(x.id for x in ast.walk(n) if isinstance(x, ast.Name))
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            blocked.update(x.id for x in ast.walk(n) if isinstance(x, ast.Name))
            blocked.update(x.arg for x in ast.walk(n) if isinstance(x, ast.arg))
        elif isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in ("locals", "vars", "eval", "exec"):
            return None
        elif isinstance(n, (ast.MatchAs, ast.MatchStar, ast.MatchMapping)):
            return None  # capture names are not ast.Name nodes
    cand = [x for x in local if x not in blocked and x not in _PY_RESERVED]
    if not cand:
        return None
    chosen = sorted(rng.sample(cand, rng.randint(1, len(cand))), key=cand.index)
    used = {w for w in _WORD.findall(text)}
    mapping = dict(zip(chosen, _fresh_names(len(chosen), used, rng, _PY_RESERVED)))
    offs = _line_offsets(text)
    data = text.encode("utf-8")
    edits = []
    for n in [*ast.walk(a), *_own_nodes(fn)]:
        if isinstance(n, ast.Name) and n.id in mapping:
            s = offs[n.lineno - 1] + n.col_offset
            edits.append((s, s + len(n.id.encode()), mapping[n.id].encode()))
        elif isinstance(n, ast.arg) and n.arg in mapping and n in _arg_nodes(a):
            s = offs[n.lineno - 1] + n.col_offset
            edits.append((s, s + len(n.arg.encode()), mapping[n.arg].encode()))
    edits = sorted(set(edits))
    for s, e, _ in edits:  # the offsets must point at the names themselves
        if data[s:e].decode("utf-8", "replace") not in mapping:
            return None
    try:
        new = _apply_edits(data, edits).decode("utf-8")
    except ValueError:
        return None
    return _py_finish(text, new, {"transform": "rename", "mapping": mapping})


def _arg_nodes(a: ast.arguments) -> list[ast.arg]:
    return [*a.posonlyargs, *a.args, *a.kwonlyargs, *(x for x in (a.vararg, a.kwarg) if x is not None)]


def _stmt_lines(text_lines: list[str], st: ast.stmt) -> bool:
    """True when ``st`` fills its lines alone (only indentation before, nothing after)."""
    first = text_lines[st.lineno - 1].encode("utf-8")
    last = text_lines[st.end_lineno - 1].encode("utf-8")
    return not first[:st.col_offset].strip() and not last[st.end_col_offset:].split(b"#")[0].strip() \
        and b";" not in last[st.end_col_offset:]


def _bodies(fn):
    """Every statement list of ``fn``'s own scope (its body, loop / if / try / with bodies)."""
    out = [fn.body]
    for n in _own_nodes(fn):
        for f in ("body", "orelse", "finalbody"):
            v = getattr(n, f, None)
            if isinstance(v, list) and v and isinstance(v[0], ast.stmt):
                out.append(v)
        if isinstance(n, ast.ExceptHandler):
            out.append(n.body)
    return out


def _block_indent(lines: list[str], st: ast.stmt) -> str:
    line = lines[st.lineno - 1]
    return line[: len(line) - len(line.lstrip())]


def _p_for_to_while(text: str, rng: random.Random) -> Result:
    fn = _py_func(text)
    if fn is None:
        return None
    lines = text.split("\n")
    cands = []
    for body in _bodies(fn):
        for i, st in enumerate(body):
            if not (isinstance(st, ast.For) and not st.orelse and isinstance(st.target, ast.Name)):
                continue
            it = st.iter
            if not (isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "range"
                    and 1 <= len(it.args) <= 2 and not it.keywords):
                continue
            var = st.target.id
            inner = [x for s in st.body for x in ast.walk(s)]
            if any(isinstance(x, (ast.Continue, ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef))
                   for x in inner):
                continue
            if any(isinstance(x, ast.Name) and x.id == var and isinstance(x.ctx, (ast.Store, ast.Del)) for x in inner):
                continue
            later = [x for s in body[i + 1:] for x in ast.walk(s)]
            if any(isinstance(x, ast.Name) and x.id == var for x in later):
                continue
            if st.body[0].lineno == st.lineno or not _stmt_lines(lines, st):
                continue
            bound = {x.id for a in it.args for x in ast.walk(a) if isinstance(x, ast.Name)}
            if var in bound or any(isinstance(x, ast.Name) and x.id in bound and isinstance(x.ctx, ast.Store)
                                   for x in inner):
                continue
            cands.append(st)
    if not cands:
        return None
    st = rng.choice(cands)
    seg = lambda n: ast.get_source_segment(text, n)  # noqa: E731
    args = st.iter.args
    start, stop = ("0", seg(args[0])) if len(args) == 1 else (seg(args[0]), seg(args[1]))
    if start is None or stop is None:
        return None
    ind = _block_indent(lines, st)
    body_ind = _block_indent(lines, st.body[0])
    var = st.target.id
    head = [f"{ind}{var} = {start}", f"{ind}while {var} < ({stop}):" if "\n" not in stop else None]
    if head[1] is None:
        return None
    body = lines[st.body[0].lineno - 1: st.end_lineno]
    new_lines = lines[: st.lineno - 1] + head + body + [f"{body_ind}{var} += 1"] + lines[st.end_lineno:]
    return _py_finish(text, "\n".join(new_lines), {"transform": "for_to_while", "line": st.lineno})


def _p_swap_if_else(text: str, rng: random.Random) -> Result:
    fn = _py_func(text)
    if fn is None:
        return None
    lines = text.split("\n")
    cands = []
    for n in _own_nodes(fn):
        if not (isinstance(n, ast.If) and n.orelse):
            continue
        if lines[n.lineno - 1].lstrip().startswith("elif"):
            continue
        if len(n.orelse) == 1 and isinstance(n.orelse[0], ast.If) and \
                lines[n.orelse[0].lineno - 1].lstrip().startswith("elif"):
            continue
        if n.body[0].lineno == n.lineno or not _stmt_lines(lines, n):
            continue
        else_line = n.orelse[0].lineno - 1  # 1-based line of "else:" is before the first orelse stmt
        if not lines[else_line - 1].strip().startswith("else") or else_line <= n.body[-1].end_lineno:
            continue
        if n.test.lineno != n.lineno:
            continue
        cands.append(n)
    if not cands:
        return None
    n = rng.choice(cands)
    cond = ast.get_source_segment(text, n.test)
    if cond is None:
        return None
    ind = _block_indent(lines, n)
    a_lines = lines[n.body[0].lineno - 1: n.body[-1].end_lineno]
    b_lines = lines[n.orelse[0].lineno - 1: n.orelse[-1].end_lineno]
    new_lines = lines[: n.lineno - 1] + [f"{ind}if not ({cond}):"] + b_lines + [f"{ind}else:"] + a_lines + \
        lines[n.orelse[-1].end_lineno:]
    return _py_finish(text, "\n".join(new_lines), {"transform": "swap_if_else", "line": n.lineno})


_P_IMPURE = (ast.Call, ast.Await, ast.Yield, ast.YieldFrom, ast.NamedExpr, ast.Lambda)


def _p_reorder(text: str, rng: random.Random) -> Result:
    fn = _py_func(text)
    if fn is None:
        return None
    lines = text.split("\n")

    def info(st):
        if not (isinstance(st, ast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], ast.Name)):
            return None
        if any(isinstance(x, _P_IMPURE) for x in ast.walk(st.value)):
            return None
        return st.targets[0].id, {x.id for x in ast.walk(st.value) if isinstance(x, ast.Name)}

    cands = []
    for body in _bodies(fn):
        for a, b in zip(body, body[1:]):
            ia, ib = info(a), info(b)
            if ia is None or ib is None or ia[0] == ib[0] or ia[0] in ib[1] or ib[0] in ia[1]:
                continue
            if not (_stmt_lines(lines, a) and _stmt_lines(lines, b)) or a.end_lineno + 1 != b.lineno:
                continue
            cands.append((a, b))
    if not cands:
        return None
    a, b = rng.choice(cands)
    la = lines[a.lineno - 1: a.end_lineno]
    lb = lines[b.lineno - 1: b.end_lineno]
    new_lines = lines[: a.lineno - 1] + lb + la + lines[b.end_lineno:]
    return _py_finish(text, "\n".join(new_lines), {"transform": "reorder", "line": a.lineno})


def _p_extract_temp(text: str, rng: random.Random) -> Result:
    fn = _py_func(text)
    if fn is None:
        return None
    lines = text.split("\n")
    cands = [n for n in _own_nodes(fn) if isinstance(n, ast.Return) and n.value is not None
             and not isinstance(n.value, (ast.Name, ast.Constant, ast.Tuple)) and _stmt_lines(lines, n)]
    if not cands:
        return None
    n = rng.choice(cands)
    expr = ast.get_source_segment(text, n.value)
    if expr is None:
        return None
    used = {w for w in _WORD.findall(text)}
    tmp = _fresh_names(1, used, rng, _PY_RESERVED)[0]
    ind = _block_indent(lines, n)
    if "\n" in expr:
        expr = "(" + expr + ")"
    new_lines = lines[: n.lineno - 1] + f"{ind}{tmp} = {expr}".split("\n") + [f"{ind}return {tmp}"] + \
        lines[n.end_lineno:]
    return _py_finish(text, "\n".join(new_lines), {"transform": "extract_temp", "name": tmp, "line": n.lineno})


PY_TRANSFORMS: dict[str, Callable[[str, random.Random], Result]] = {
    "rename": _p_rename,
    "for_to_while": _p_for_to_while,
    "swap_if_else": _p_swap_if_else,
    "reorder": _p_reorder,
    "extract_temp": _p_extract_temp,
}


def apply_transforms(text: str, language: str, rng: random.Random, max_steps: int = 3) -> Result:
    """Apply 1..``max_steps`` applicable transformations in a seeded random order.

    Returns ``(new text, {"transforms": [metadata, ...]})`` or ``None`` when none applies. Renaming,
    when it applies, is always among them (it is the commonest real-world edit).
    """
    table = JAVA_TRANSFORMS if language == "java" else PY_TRANSFORMS
    names = [n for n in table if n != "rename"]
    rng.shuffle(names)
    steps = rng.randint(1, max_steps)
    applied: list[dict[str, Any]] = []
    cur = text
    for name in names:
        if len(applied) >= steps - 1:
            break
        r = table[name](cur, rng)
        if r is not None:
            cur, meta = r
            applied.append(meta)
    r = table["rename"](cur, rng)
    if r is not None:
        cur, meta = r
        applied.append(meta)
    if not applied:
        for name in names:  # nothing yet: any one that applies
            r = table[name](cur, rng)
            if r is not None:
                cur, meta = r
                applied.append(meta)
                break
    if not applied or cur == text:
        return None
    return cur, {"transforms": applied}

