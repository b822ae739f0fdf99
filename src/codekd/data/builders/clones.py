"""Clone-detection pairs from real code, in BigCloneBench's native (CodeXGLUE) format.

``build_clones`` writes ``data.jsonl`` (``{"idx", "func", ...metadata}``), ``train.txt`` /
``valid.txt`` / ``test.txt`` (``idx1<TAB>idx2<TAB>label``), ``pairs.jsonl`` (one line per pair:
split, ids, label, kind, language, project, transformations) and ``stats.json``. The loaders read
it unchanged (``codekd data check DIR --task clone``).

Positives
    * ``cross_version``: the same method in two released versions of one project (Java: same
      class chain, name and parameter types, any package, so ``lang`` -> ``lang3`` still matches; Python: same module and qualified name)
      whose bodies differ once comments and layout are ignored (Java: tree-sitter tokens without
      comment nodes; Python: ``tokenize`` tokens without comments, line breaks and the docstring),
      and whose token multisets still overlap (Jaccard >= ``min_similarity``): real near-miss
      clones, as developers edit code. A comment- or whitespace-only change is not a pair.
    * ``transform``: a method and a semantics-preserving rewrite of it
      (:mod:`~codekd.data.builders.clone_transforms`: consistent renaming, for<->while, if/else
      swap, reordering independent declarations, an extracted temporary), the transformations
      kept in ``pairs.jsonl``. Only in train and valid.
Negatives (one per positive, so the classes are balanced)
    The positive's first method with another method of the same project: never another version of
    itself, never a method of the same name (overloads often delegate), length within a factor of
    2, and the most similar such method by token Jaccard below ``negative_max_similarity`` (0.7),
    so negatives share much vocabulary with their partner (hard negatives): half from the same file
    when it has one, else from 40 random methods of the project. For a transform positive the
    negative's second method is transformed too, so "looks rewritten" says nothing about the label.
Splits
    By project (no project in two splits), per language, largest first, towards 80/10/10 of the
    pairs; the test split holds only cross-version positives and their negatives.
Determinism
    Everything depends only on the pinned versions and ``seed``.
"""

from __future__ import annotations

import ast
import hashlib
import io
import json
import random
import re
import time
import tokenize
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from ...errors import ConfigError, DataError
from ...io import atomic_write_json, atomic_write_text
from ..pysource import scan_defs
from .clone_transforms import apply_transforms, java_parser
from .split import group_split
from .fetch import default_cache, fetch
from .progress import track
from .pins import CLONE_JAVA_PROJECTS, CLONE_PYTHON_PROJECTS

__all__ = ["SourceFunction", "extract_java_methods", "extract_python_functions", "cross_version_pairs", "build_clones",
           "build_clones_from_dirs", "LANGUAGES"]

LANGUAGES = ("java", "python")
SPLITS = ("train", "valid", "test")
_SKIP_DIRS = frozenset({"test", "tests", "testing", "androidTest", "_vendor", "vendor", "vendored", "_vendored",
                        "extern", "_extern", "third_party", "thirdparty", "externals", "__pycache__"})


@dataclass
class SourceFunction:
    """One method or function of one version of a project."""

    key: str  # identity across versions
    text: str
    tokens: tuple[str, ...]  # code tokens, comments and layout left out
    path: str  # file, relative to the version's root
    name: str
    language: str

    @property
    def n_tokens(self) -> int:
        return len(self.tokens)


# --------------------------------------------------------------------------------------------
# extraction


def _dedent(data: bytes, start: int, end: int) -> str:
    ls = data.rfind(b"\n", 0, start) + 1
    prefix = data[ls:start]
    if prefix.strip(b" \t"):
        prefix = b""
    seg = data[start:end].split(b"\n")
    if prefix:
        seg = [seg[0]] + [s[len(prefix):] if s.startswith(prefix) else s for s in seg[1:]]
    return b"\n".join(seg).decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")


_J_TYPES = ("class_declaration", "interface_declaration", "enum_declaration", "record_declaration")


def extract_java_methods(data: bytes, path: str) -> list[SourceFunction]:
    """Methods and constructors with a body, of top-level and nested named types (not of anonymous
    or local classes), with their cross-version key ``Outer.Inner#name(ParamTypes)``."""
    tree = java_parser().parse(data)
    root = tree.root_node
    pkg = ""
    for c in root.named_children:
        if c.type == "package_declaration":
            pkg = " ".join(data[x.start_byte:x.end_byte].decode("utf-8", "replace") for x in c.named_children
                           if x.type in ("scoped_identifier", "identifier"))
    out: list[SourceFunction] = []
    stack = [(root, ())]
    while stack:
        node, chain = stack.pop()
        for c in node.named_children:
            if c.type in _J_TYPES:
                nm = c.child_by_field_name("name")
                body = c.child_by_field_name("body")
                if nm is not None and body is not None:
                    stack.append((body, (*chain, data[nm.start_byte:nm.end_byte].decode("utf-8", "replace"))))
            elif c.type in ("enum_body_declarations",):
                stack.append((c, chain))
            elif c.type in ("method_declaration", "constructor_declaration") and chain:
                body = c.child_by_field_name("body")
                nm = c.child_by_field_name("name")
                if body is None or nm is None or c.has_error:
                    continue
                params = c.child_by_field_name("parameters")
                ptypes = []
                for p in (params.named_children if params is not None else []):
                    t = p.child_by_field_name("type") if p.type == "formal_parameter" else None
                    if p.type == "spread_parameter":
                        t = next((x for x in p.named_children if "type" in x.type), None)
                    if t is not None:
                        ptypes.append(re.sub(r"\s+", "", data[t.start_byte:t.end_byte].decode("utf-8", "replace")))
                name = data[nm.start_byte:nm.end_byte].decode("utf-8", "replace")
                # no package: a library renamed across major versions (lang -> lang3) still matches;
                # a key defined twice in one version is dropped as ambiguous
                key = f"{'.'.join(chain)}#{name}({','.join(ptypes)})"
                toks = tuple(_java_tokens(c, data))
                out.append(SourceFunction(key, _dedent(data, c.start_byte, c.end_byte), toks, path, name, "java"))
    return out


def _java_tokens(node, data: bytes) -> Iterable[str]:
    stack = [node]
    while stack:
        n = stack.pop()
        if "comment" in n.type:
            continue
        if n.child_count == 0:
            t = data[n.start_byte:n.end_byte]
            if t:
                yield t.decode("utf-8", "replace")
            continue
        stack.extend(reversed(n.children))


_SKIP_TOK = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.ENCODING, tokenize.ENDMARKER}


def _py_tokens(text: str, docstring_at: tuple[int, int] | None) -> list[str]:
    out = []
    for t in tokenize.generate_tokens(io.StringIO(text).readline):
        if t.type in _SKIP_TOK:
            continue
        if docstring_at is not None and t.type == tokenize.STRING and t.start == docstring_at:
            continue
        out.append("<INDENT>" if t.type == tokenize.INDENT else "<DEDENT>" if t.type == tokenize.DEDENT else t.string)
    return out


def extract_python_functions(text: str, path: str) -> list[SourceFunction]:
    """Functions and methods (module level and in classes, not nested in functions), from the
    ``def`` line (decorators left out), keyed ``module/path.py:Qual.name``."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError):
        return []
    data = text.encode("utf-8")
    offs = [0]
    for line in data.split(b"\n")[:-1]:
        offs.append(offs[-1] + len(line) + 1)
    out: list[SourceFunction] = []
    for st, qualname, _ in scan_defs(tree, nested=False, blocks=False):
        start = offs[st.lineno - 1] + st.col_offset
        end = offs[st.end_lineno - 1] + st.end_col_offset  # type: ignore[operator]
        ftext = _dedent(data, start, end)
        try:
            fn = ast.parse(ftext).body[0]
        except (SyntaxError, ValueError, RecursionError, IndexError):
            continue
        doc = None
        if fn.body and isinstance(fn.body[0], ast.Expr) and isinstance(fn.body[0].value, ast.Constant) \
                and isinstance(fn.body[0].value.value, str):
            doc = (fn.body[0].lineno, fn.body[0].col_offset)
        try:
            toks = tuple(_py_tokens(ftext, doc))
        except (tokenize.TokenError, IndentationError, SyntaxError):
            continue
        out.append(SourceFunction(f"{path}:{qualname}", ftext, toks, path, st.name, "python"))
    return out


def _files(root: Path, suffix: str) -> list[tuple[str, Path]]:
    out = []
    for p in sorted(root.rglob(f"*{suffix}")):
        rel = p.relative_to(root)
        if any(part in _SKIP_DIRS or part.startswith(".") for part in rel.parts[:-1]):
            continue
        if p.is_file() and not p.is_symlink():
            out.append((rel.as_posix(), p))
    return out


def extract_version(root: Path, language: str, *, min_tokens: int = 30, max_chars: int = 8000) -> dict[str, SourceFunction]:
    """``key -> SourceFunction`` of one unpacked version; keys defined twice in it are dropped (ambiguous)."""
    found: dict[str, SourceFunction] = {}
    twice: set[str] = set()
    suffix = ".java" if language == "java" else ".py"
    for rel, p in _files(root, suffix):
        try:
            data = p.read_bytes()
        except OSError:
            continue
        if language == "java":
            methods = extract_java_methods(data, rel)
        else:
            try:
                text = data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
            except UnicodeDecodeError:
                continue
            methods = extract_python_functions(text, rel)
        for m in methods:
            if m.key in found or m.key in twice:
                twice.add(m.key)
                found.pop(m.key, None)
                continue
            if m.n_tokens < min_tokens or len(m.text) > max_chars:
                continue
            found[m.key] = m
    return found


# --------------------------------------------------------------------------------------------
# pairing


def token_jaccard(a: Sequence[str], b: Sequence[str]) -> float:
    """Jaccard similarity of two token multisets."""
    ca, cb = Counter(a), Counter(b)
    inter = sum((ca & cb).values())
    union = sum((ca | cb).values())
    return inter / union if union else 1.0


@dataclass
class VersionDiff:
    common: int = 0
    unchanged: int = 0
    comment_or_layout_only: int = 0
    too_different: int = 0
    too_similar: int = 0
    pairs: list[tuple[SourceFunction, SourceFunction, float]] = field(default_factory=list)


def cross_version_pairs(old: dict[str, SourceFunction], new: dict[str, SourceFunction], min_similarity: float = 0.4,
                        max_similarity: float = 1.0) -> VersionDiff:
    """Methods present in both versions whose code tokens differ (comments and layout ignored),
    with a token Jaccard in ``[min_similarity, max_similarity]``."""
    d = VersionDiff()
    for key in sorted(old.keys() & new.keys()):
        a, b = old[key], new[key]
        d.common += 1
        if a.tokens == b.tokens:
            if a.text == b.text:
                d.unchanged += 1
            else:
                d.comment_or_layout_only += 1
            continue
        sim = token_jaccard(a.tokens, b.tokens)
        if sim < min_similarity:
            d.too_different += 1
            continue
        if sim > max_similarity:
            d.too_similar += 1
            continue
        d.pairs.append((a, b, round(sim, 4)))
    return d


# --------------------------------------------------------------------------------------------
# the builder


@dataclass
class _Project:
    name: str
    language: str
    versions: tuple[str, str]
    old: dict[str, SourceFunction]
    new: dict[str, SourceFunction]
    diff: VersionDiff
    sources: list[dict[str, str]]


def _check(split: Sequence[float], min_similarity: float, neg_max: float, transform_ratio: float,
           max_similarity: float = 1.0) -> tuple[float, ...]:
    ratios = tuple(float(r) for r in split)
    if len(ratios) != 3 or any(r < 0 for r in ratios) or sum(ratios) <= 0 or ratios[2] <= 0:
        raise ConfigError(f"split must be three non-negative shares for train/valid/test with test > 0, got {tuple(split)!r}")
    if not 0.0 <= min_similarity < 1.0:
        raise ConfigError(f"min_similarity must be in [0, 1), got {min_similarity!r}")
    if not min_similarity < max_similarity <= 1.0:
        raise ConfigError(f"max_similarity must be in (min_similarity, 1], got {max_similarity!r}")
    if not 0.0 < neg_max <= 1.0:
        raise ConfigError(f"negative_max_similarity must be in (0, 1], got {neg_max!r}")
    if transform_ratio < 0:
        raise ConfigError(f"transform_ratio must be >= 0, got {transform_ratio!r}")
    s = sum(ratios)
    return tuple(r / s for r in ratios)


def _rng(seed: int, *parts: str) -> random.Random:
    return random.Random(int.from_bytes(hashlib.sha256("\x00".join((str(seed), *parts)).encode()).digest()[:8], "big"))


def _counts(m: SourceFunction) -> Counter:
    c = m.__dict__.get("_counts")
    if c is None:
        c = m.__dict__["_counts"] = Counter(m.tokens)
    return c


def _jacc(a: SourceFunction, b: SourceFunction) -> float:
    ca, cb = _counts(a), _counts(b)
    inter = sum((ca & cb).values())
    return inter / (a.n_tokens + b.n_tokens - inter) if (a.n_tokens + b.n_tokens) else 1.0


def _pick_negative(a: SourceFunction, pool: list[SourceFunction], by_path: dict[str, list[SourceFunction]], rng: random.Random,
                   neg_max: float, exclude: set[str]) -> tuple[SourceFunction, str] | None:
    """A hard negative for ``a``: the method most similar to it (token Jaccard, below ``neg_max``)
    among the other methods of its file, or among 40 random methods of its project; both of
    similar length (a factor of 2 at most), never another version of ``a`` nor a method of the same
    name (an overload often just delegates: a clone, not a negative)."""
    def ok(c: SourceFunction) -> bool:
        return c.key not in exclude and c.name != a.name and 0.5 <= c.n_tokens / max(1, a.n_tokens) <= 2.0

    def best(cands: list[SourceFunction]) -> SourceFunction | None:
        scored = [(s, c.key, c) for c in cands if ok(c) for s in (_jacc(a, c),) if s < neg_max]
        return max(scored, key=lambda t: (t[0], t[1]))[2] if scored else None

    same = by_path.get(a.path, [])
    if len(same) > 40:
        same = rng.sample(same, 40)
    if same and rng.random() < 0.5:
        got = best(same)
        if got is not None:
            return got, "hard_same_file"
    got = best(rng.sample(pool, min(40, len(pool))))
    if got is not None:
        return got, "hard_same_project"
    got = best(same)
    if got is not None:
        return got, "hard_same_file"
    return None


def _names(funcs: dict, k: str) -> list[str]:
    return [t["transform"] for t in funcs[tuple(k.split("\x00"))].get("transforms", ())]


def build_clones_from_dirs(
    projects: Sequence[dict[str, Any]],
    out: str | Path,
    *,
    seed: int = 0,
    split: Sequence[float] = (0.8, 0.1, 0.1),
    min_similarity: float = 0.4,
    max_similarity: float = 1.0,
    negative_max_similarity: float = 0.7,
    transform_ratio: float = 1.0,
    max_pairs_per_project: int | None = 2000,
    min_tokens: int = 30,
    progress: bool = True,
    extra_stats: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Build the dataset from unpacked versions: ``projects`` = ``[{"name", "language", "old": dir,
    "new": dir, "versions": (v1, v2), "sources": [...]}]``. Returns the statistics (also
    ``stats.json``).

    ``max_similarity`` < 1 drops the cross-version pairs that changed least (a harder dataset).
    ``transform_ratio``: transformation positives per cross-version positive of a train/valid
    project (capped by the methods available). ``max_pairs_per_project`` caps the cross-version
    positives of one project (a seeded sample), so one large project cannot dominate.
    """
    t0 = time.perf_counter()
    ratios = _check(split, min_similarity, negative_max_similarity, transform_ratio, max_similarity)
    if not projects:
        raise ConfigError("no project to build clone pairs from")
    out_dir = Path(out)
    if out_dir.exists() and not out_dir.is_dir():
        raise DataError("output path exists and is not a directory", path=out_dir)
    names = [p["name"] for p in projects]
    if len(set(names)) != len(names):
        raise ConfigError("a project is listed twice: " + ", ".join(sorted({n for n in names if names.count(n) > 1})))
    for p in projects:
        if p["language"] not in LANGUAGES:
            raise ConfigError(f"unknown language {p['language']!r} for {p['name']} (expected java or python)")
        for side in ("old", "new"):
            if not Path(p[side]).is_dir():
                raise DataError(f"source folder of {p['name']} ({side}) does not exist", path=p[side])

    built: list[_Project] = []
    for p in track(list(projects), "extracting methods", progress):
        old = extract_version(Path(p["old"]), p["language"], min_tokens=min_tokens)
        new = extract_version(Path(p["new"]), p["language"], min_tokens=min_tokens)
        diff = cross_version_pairs(old, new, min_similarity, max_similarity)
        if max_pairs_per_project is not None and len(diff.pairs) > max_pairs_per_project:
            r = _rng(seed, "cap", p["name"])
            keep = sorted(r.sample(range(len(diff.pairs)), max_pairs_per_project))
            diff.pairs = [diff.pairs[i] for i in keep]
        built.append(_Project(p["name"], p["language"], tuple(p.get("versions", ("old", "new"))), old, new, diff,
                              list(p.get("sources", []))))
    if not any(b.diff.pairs for b in built):
        raise DataError("no cross-version clone pair found in the given projects")

    # group split per language by the number of real pairs
    assign: dict[str, int] = {}
    for lang in LANGUAGES:
        sizes = {b.name: len(b.diff.pairs) for b in built if b.language == lang and b.diff.pairs}
        if sizes:
            assign.update(group_split(sizes, ratios, seed))

    funcs: dict[tuple, dict[str, Any]] = {}  # (project, version, key, variant) -> row

    def fid(proj: _Project, version: str, m: SourceFunction, variant: str = "", text: str | None = None,
            meta: Any = None) -> str:
        k = (proj.name, version, m.key, variant)
        row = funcs.get(k)
        if row is None:
            row = {"idx": "", "func": text if text is not None else m.text, "language": m.language,
                   "project": proj.name, "version": version, "path": m.path, "name": m.name, "key": m.key}
            if meta is not None:
                row["transforms"] = meta
            funcs[k] = row
        return "\x00".join(map(str, k))

    pairs: list[dict[str, Any]] = []
    t_stats: Counter = Counter()
    t_failed = Counter()
    no_negative = 0
    for b in track(built, "pairing", progress):
        if b.name not in assign:
            continue
        si = assign[b.name]
        v_old, v_new = b.versions
        pool_new = sorted(b.new.values(), key=lambda m: m.key)
        by_path: dict[str, list[SourceFunction]] = defaultdict(list)
        for m in pool_new:
            by_path[m.path].append(m)
        rng = _rng(seed, "pairs", b.name)
        for a, c, sim in b.diff.pairs:
            neg = _pick_negative(a, pool_new, by_path, rng, negative_max_similarity, {a.key})
            if neg is None:  # keep the classes balanced: no negative, no positive
                no_negative += 1
                continue
            i1, i2 = fid(b, v_old, a), fid(b, v_new, c)
            pairs.append({"split": SPLITS[si], "a": i1, "b": i2, "label": 1, "kind": "cross_version",
                          "language": b.language, "project": b.name, "similarity": sim})
            if True:
                n, how = neg
                pairs.append({"split": SPLITS[si], "a": i1, "b": fid(b, v_new, n), "label": 0, "kind": f"negative_{how}",
                              "language": b.language, "project": b.name,
                              "similarity": round(_jacc(a, n), 4)})
        if SPLITS[si] == "test" or transform_ratio <= 0:
            continue
        # transformation positives (+ transformed negatives), methods of the new version
        want = int(round(transform_ratio * len(b.diff.pairs)))
        order = list(pool_new)
        trng = _rng(seed, "transforms", b.name)
        trng.shuffle(order)
        made = 0
        for m in order:
            if made >= want:
                break
            r = apply_transforms(m.text, b.language, trng)
            if r is None:
                t_failed["not_applicable"] += 1
                continue
            text, meta = r
            neg = _pick_negative(m, pool_new, by_path, trng, negative_max_similarity, {m.key})
            if neg is None:
                continue
            n, how = neg
            rn = apply_transforms(n.text, b.language, trng)
            if rn is None:
                continue
            made += 1
            i1 = fid(b, v_new, m)
            kp = fid(b, v_new, m, "t", text, meta["transforms"])
            kn = fid(b, v_new, n, "t", rn[0], rn[1]["transforms"])
            pairs.append({"split": SPLITS[si], "a": i1, "b": kp, "label": 1, "kind": "transform",
                          "language": b.language, "project": b.name, "transforms": _names(funcs, kp)})
            pairs.append({"split": SPLITS[si], "a": i1, "b": kn, "label": 0, "kind": f"negative_{how}_transformed",
                          "language": b.language, "project": b.name, "transforms": _names(funcs, kn)})

    for row in funcs.values():
        for t in row.get("transforms", ()):
            t_stats[t["transform"]] += 1

    # ids: sequential in a fixed order, as BigCloneBench's numeric ids
    ids: dict[str, str] = {}
    for n, k in enumerate(sorted(funcs)):
        ids["\x00".join(map(str, k))] = str(n)
        funcs[k]["idx"] = str(n)
    shuf = _rng(seed, "order")
    for p in pairs:
        p["a"], p["b"] = ids[p["a"]], ids[p["b"]]
        if shuf.random() < 0.5:
            p["a"], p["b"] = p["b"], p["a"]
    by_split: dict[str, list[dict]] = {s: [] for s in SPLITS}
    for p in pairs:
        by_split[p["split"]].append(p)
    for s in SPLITS:
        _rng(seed, "shuffle", s).shuffle(by_split[s])

    out_dir.mkdir(parents=True, exist_ok=True)
    rows = sorted(funcs.values(), key=lambda r: int(r["idx"]))
    atomic_write_text(out_dir / "data.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    for s in SPLITS:
        atomic_write_text(out_dir / f"{s}.txt", "".join(f"{p['a']}\t{p['b']}\t{p['label']}\n" for p in by_split[s]))
    atomic_write_text(out_dir / "pairs.jsonl", "".join(
        json.dumps({k: v for k, v in p.items()}, ensure_ascii=False) + "\n" for s in SPLITS for p in by_split[s]))

    stats: dict[str, Any] = {
        "builder": "build-clones", "out_dir": str(out_dir), "seed": seed,
        "options": {"split": list(ratios), "min_similarity": min_similarity, "max_similarity": max_similarity,
                    "negative_max_similarity": negative_max_similarity, "transform_ratio": transform_ratio,
                    "max_pairs_per_project": max_pairs_per_project, "min_tokens": min_tokens},
        "functions": len(rows), "pairs": len(pairs),
        "per_label": dict(sorted(Counter(str(p["label"]) for p in pairs).items())),
        "per_kind": dict(sorted(Counter(p["kind"] for p in pairs).items())),
        "per_language": dict(sorted(Counter(p["language"] for p in pairs).items())),
        "transforms_applied": dict(sorted(t_stats.items())),
        "positives_dropped_without_negative": no_negative,
        "splits": {}, "projects": [],
    }
    for s in SPLITS:
        ps = by_split[s]
        stats["splits"][s] = {
            "pairs": len(ps), "per_label": dict(sorted(Counter(str(p["label"]) for p in ps).items())),
            "per_kind": dict(sorted(Counter(p["kind"] for p in ps).items())),
            "per_language": dict(sorted(Counter(p["language"] for p in ps).items())),
            "projects": sorted({p["project"] for p in ps}),
        }
    for b in built:
        stats["projects"].append({
            "name": b.name, "language": b.language, "versions": list(b.versions), "sources": b.sources,
            "split": SPLITS[assign[b.name]] if b.name in assign else None,
            "methods_old": len(b.old), "methods_new": len(b.new), "common": b.diff.common,
            "unchanged": b.diff.unchanged, "comment_or_layout_only": b.diff.comment_or_layout_only,
            "too_different": b.diff.too_different, "too_similar": b.diff.too_similar, "cross_version_pairs": len(b.diff.pairs)})
    if extra_stats:
        stats.update(extra_stats)
    stats["time_seconds"] = round(time.perf_counter() - t0 + float(stats.get("fetch_seconds", 0.0)), 3)
    atomic_write_json(out_dir / "stats.json", stats)
    return stats


def build_clones(
    out: str | Path,
    *,
    cache: str | Path | None = None,
    languages: Sequence[str] = LANGUAGES,
    java_projects: Sequence[tuple[str, tuple[str, str, str], tuple[str, str, str]]] = CLONE_JAVA_PROJECTS,
    python_projects: Sequence[tuple[str, tuple[str, str, str], tuple[str, str, str]]] = CLONE_PYTHON_PROJECTS,
    progress: bool = True,
    **kwargs: Any,
) -> dict[str, Any]:
    """Fetch the pinned project versions (Debian source packages and npm for Java, PyPI for
    Python; cached) and build (see :func:`build_clones_from_dirs` for the options)."""
    bad = [x for x in languages if x not in LANGUAGES]
    if bad or not languages:
        raise ConfigError(f"languages must be among {', '.join(LANGUAGES)}, got {', '.join(languages) or 'none'}")
    t0 = time.perf_counter()
    cache = Path(cache) if cache is not None else default_cache()
    specs: list[tuple[str, str, tuple[str, str, str], tuple[str, str, str]]] = []
    if "java" in languages:
        specs += [("java", n, a, b) for n, a, b in java_projects]
    if "python" in languages:
        specs += [("python", n, a, b) for n, a, b in python_projects]
    suffix = {"java": (".java",), "python": (".py",)}
    projects = []
    for lang, name, s1, s2 in track(specs, "fetching project versions", progress):
        got = [fetch(reg, pkg, v, cache, suffix[lang]) for reg, pkg, v in (s1, s2)]
        projects.append({"name": name, "language": lang, "old": got[0].root, "new": got[1].root,
                         "versions": (s1[2], s2[2]), "sources": [g.record() for g in got]})
    fetch_s = time.perf_counter() - t0
    return build_clones_from_dirs(projects, out, progress=progress,
                                  extra_stats={"cache": str(cache), "fetch_seconds": round(fetch_s, 3)}, **kwargs)
