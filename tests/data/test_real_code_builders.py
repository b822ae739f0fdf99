"""Builders of real-code datasets: transformations, cross-version pairing, splits, errors.

Fast and offline: the tests write tiny synthetic "versions" themselves. The paths that download
(pip, npm, apt-get) run only with CODEKD_NETWORK_TESTS=1.
"""

from __future__ import annotations

import ast
import json
import os
import random
from collections import Counter
from pathlib import Path

import pytest

from codekd.data.builders.clone_transforms import (JAVA_TRANSFORMS, PY_TRANSFORMS, apply_transforms,
                                                   java_parses, py_parses)
from codekd.data.builders.clones import (build_clones_from_dirs, cross_version_pairs, extract_java_methods,
                                         extract_python_functions, extract_version)
from codekd.data.builders.exception_mining import is_generated
from codekd.data.builders.exceptions import mine_exceptions
from codekd.errors import CodekdError, ConfigError, DataError

JAVA = """public int sum(int[] xs, int n) {
    int total = 0;
    int k = 2;
    int m = 3;
    for (int i = 0; i < n; i++) {
        total += xs[i];
    }
    while (total > 100) total -= k;
    if (total > m) {
        return total;
    } else {
        return Math.max(total, k + m);
    }
}"""

PY = '''def f(xs, n):
    """Doc."""
    total = 0
    k = 2
    m = 3
    for i in range(n):
        total += xs[i]
    if total > m:
        return total
    else:
        return max(total, k + m)
'''


def _run_py(text: str, *args):
    env: dict = {}
    exec(text, env)  # noqa: S102 - the test's own snippet
    return env["f"](*args)


# ------------------------------------------------------------------ transformations


@pytest.mark.parametrize("name", sorted(JAVA_TRANSFORMS))
def test_java_transform_parses(name):
    r = JAVA_TRANSFORMS[name](JAVA, random.Random(1))
    assert r is not None, name
    text, meta = r
    assert text != JAVA and meta["transform"] == name
    assert java_parses(text)


@pytest.mark.parametrize("name", sorted(PY_TRANSFORMS))
def test_python_transform_parses_and_keeps_behaviour(name):
    r = PY_TRANSFORMS[name](PY, random.Random(1))
    assert r is not None, name
    text, meta = r
    assert text != PY and meta["transform"] == name and py_parses(text)
    for xs, n in (([1, 2, 3], 3), ([50, 60, 7], 2), ([0], 0), ([5, 1], 2)):
        assert _run_py(text, xs, n) == _run_py(PY, xs, n)


def test_java_expected_outputs():
    rng = random.Random(1)
    assert "for (; total > 100; ) total -= k;" in JAVA_TRANSFORMS["while_to_for"](JAVA, rng)[0]
    sw = JAVA_TRANSFORMS["swap_if_else"](JAVA, random.Random(0))[0]
    assert "if (!(total > m)) {\n        return Math.max(total, k + m);\n    } else {\n        return total;" in sw
    fw = JAVA_TRANSFORMS["for_to_while"](JAVA, random.Random(0))[0]
    assert "int i = 0;" in fw and "while (i < n) {" in fw and "i++;" in fw and "for (" not in fw
    ex = JAVA_TRANSFORMS["extract_temp"](JAVA, random.Random(0))
    name = ex[1]["name"]
    assert f"int {name} = " in ex[0] and f"return {name};" in ex[0]


def test_java_rename_is_consistent_and_spares_fields_and_methods():
    src = """void run(int count, List<String> names) {
    int size = names.size();
    this.count = count + size;
    for (String s : names) { helper.count(s, count); }
    obj.size = size;
}"""
    text, meta = JAVA_TRANSFORMS["rename"](src, random.Random(3))
    mapping = meta["mapping"]
    assert java_parses(text) and mapping
    for old, new in mapping.items():
        assert new not in src
    if "count" in mapping:
        c = mapping["count"]
        assert "this.count = " + c in text and f"helper.count(s, {c})" in text  # field and method kept
    if "size" in mapping:
        assert "names.size()" in text and f"obj.size = {mapping['size']}" in text


def test_python_rename_is_consistent_and_spares_attributes_and_keywords():
    src = '''def g(value, key=None):
    size = len(value)
    obj.size = size
    return call(size=size, key=key, v=value)
'''
    text, meta = PY_TRANSFORMS["rename"](src, random.Random(2))
    mapping = meta["mapping"]
    assert py_parses(text) and mapping
    tree = ast.parse(text)
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    for old, new in mapping.items():
        assert new in names and old not in names
    assert "obj.size" in text and "call(size=" in text and "key=" in text  # attribute and keywords kept


def test_transforms_not_applicable_return_none():
    assert JAVA_TRANSFORMS["for_to_while"]("int f() { return 1 + 2; }", random.Random(0)) is None
    # a continue in the body would skip the update: no for -> while
    cont = "void f(int n) { for (int i = 0; i < n; i++) { if (i > 2) continue; g(i); } }"
    assert JAVA_TRANSFORMS["for_to_while"](cont, random.Random(0)) is None
    assert PY_TRANSFORMS["swap_if_else"]("def f(a):\n    if a:\n        return 1\n    elif a:\n        return 2\n"
                                         "    else:\n        return 3\n", random.Random(0)) is None
    assert PY_TRANSFORMS["reorder"]("def f():\n    a = g()\n    b = h()\n    return a, b\n", random.Random(0)) is None


def test_apply_transforms_is_seeded_and_records_metadata():
    a = apply_transforms(JAVA, "java", random.Random(7))
    b = apply_transforms(JAVA, "java", random.Random(7))
    assert a == b and a is not None
    assert java_parses(a[0]) and all("transform" in t for t in a[1]["transforms"])
    p = apply_transforms(PY, "python", random.Random(7))
    assert p is not None and py_parses(p[0])


# ------------------------------------------------------------------ extraction and pairing


OLD_JAVA = """package org.demo;
public class Util {
    /** Adds. */
    public static int add(int a, int b) {
        int s = a + b; // sum
        return s * 1 + 0 - 0 + a * 0 + b * 0 + helper(a, b, a, b, a);
    }
    public static int mul(int a, int b) {
        int p = a * b;
        return p + 0 + 0 + 0 + helper(a, b, a, b, a) * 0 + helper(b, a, b, a, b);
    }
    public static int neg(int a) {
        int r = -a;
        return r + 0 + 0 + 0 + helper(a, a, a, a, a) * 0 + helper(a, a, a, a, a) * 2;
    }
    interface I { void abstractOne(int x); }
}
"""


def _new_java(old: str) -> str:
    # add: comment-only change; mul: body change; neg: unchanged
    return (old.replace("// sum", "// the sum, documented")
               .replace("int p = a * b;", "int p = b * a + 1;")
               .replace("package org.demo;", "package org.demo2;"))


def _write(root: Path, rel: str, text: str) -> None:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text, encoding="utf-8")


def test_java_extraction_keys_and_bodies():
    ms = extract_java_methods(OLD_JAVA.encode(), "Util.java")
    keys = {m.key for m in ms}
    assert keys == {"Util#add(int,int)", "Util#mul(int,int)", "Util#neg(int)"}  # no abstract method
    add = next(m for m in ms if m.name == "add")
    assert add.text.startswith("public static int add(") and "// sum" in add.text
    assert not any("sum" in t for t in add.tokens if t.startswith("//"))


def test_cross_version_comment_change_is_not_a_pair_body_change_is(tmp_path):
    old, new = tmp_path / "v1", tmp_path / "v2"
    _write(old, "src/Util.java", OLD_JAVA)
    _write(new, "src/Util.java", _new_java(OLD_JAVA))
    d = cross_version_pairs(extract_version(old, "java", min_tokens=5), extract_version(new, "java", min_tokens=5))
    assert [a.name for a, _, _ in d.pairs] == ["mul"]
    assert d.comment_or_layout_only == 1 and d.unchanged == 1 and d.common == 3


def test_python_cross_version_ignores_comments_and_docstrings(tmp_path):
    v1 = '''def a(x):
    """Old doc."""
    y = x + 1  # c
    return y * 2 + x - 3 + x * x + len(str(y))


class K:
    def b(self, x):
        y = x + 1
        return y * 2 + x - 3 + x * x + len(str(y))
'''
    v2 = v1.replace("Old doc.", "New doc.").replace("# c", "# changed").replace(
        "    def b(self, x):\n        y = x + 1", "    def b(self, x):\n        y = x + 2")
    old, new = tmp_path / "o", tmp_path / "n"
    _write(old, "pkg/m.py", v1)
    _write(new, "pkg/m.py", v2)
    fo, fn = extract_version(old, "python", min_tokens=5), extract_version(new, "python", min_tokens=5)
    assert set(fo) == {"pkg/m.py:a", "pkg/m.py:K.b"}
    d = cross_version_pairs(fo, fn)
    assert [a.key for a, _, _ in d.pairs] == ["pkg/m.py:K.b"] and d.comment_or_layout_only == 1


def _py_project(root: Path, name: str, n_funcs: int, changed: bool) -> None:
    lines = []
    for i in range(n_funcs):
        body = f"    total = x + {i}\n    k = {i} * 2\n    for j in range(x):\n        total += j * k\n"
        body += f"    if total > {i}:\n        return total + k\n    else:\n        return total - k * {i}\n"
        if changed and i % 2 == 0:
            body = body.replace(f"total = x + {i}", f"total = x + {i} + 1")
        lines.append(f"def {name}_f{i}(x):\n{body}\n")
    _write(root, f"{name}/mod.py", "\n".join(lines))


def _clone_projects(tmp_path: Path, n: int = 6) -> list[dict]:
    projects = []
    for p in range(n):
        name = f"proj{p}"
        old, new = tmp_path / name / "1", tmp_path / name / "2"
        _py_project(old, name, 10 + 2 * p, changed=False)
        _py_project(new, name, 10 + 2 * p, changed=True)
        projects.append({"name": name, "language": "python", "old": old, "new": new, "versions": ("1", "2")})
    return projects


def _read_split(out: Path, split: str) -> list[tuple[str, str, int]]:
    rows = []
    for line in (out / f"{split}.txt").read_text().splitlines():
        a, b, y = line.split("\t")
        rows.append((a, b, int(y)))
    return rows


def test_build_clones_splits_balance_and_loader(tmp_path):
    out = tmp_path / "out"
    stats = build_clones_from_dirs(_clone_projects(tmp_path), out, seed=0, min_tokens=5, progress=False,
                                   split=(0.6, 0.2, 0.2), negative_max_similarity=0.99)
    funcs = {json.loads(x)["idx"]: json.loads(x) for x in (out / "data.jsonl").read_text().splitlines()}
    projects_by_split = {}
    for s in ("train", "valid", "test"):
        rows = _read_split(out, s)
        assert rows, s
        labels = Counter(y for _, _, y in rows)
        assert labels[0] == labels[1]  # one negative per positive
        projects_by_split[s] = {funcs[i]["project"] for a, b, _ in rows for i in (a, b)}
    assert not (projects_by_split["train"] & projects_by_split["valid"])
    assert not (projects_by_split["train"] & projects_by_split["test"])
    assert not (projects_by_split["valid"] & projects_by_split["test"])
    meta = [json.loads(x) for x in (out / "pairs.jsonl").read_text().splitlines()]
    assert {m["kind"] for m in meta if m["split"] == "test" and m["label"] == 1} == {"cross_version"}
    assert not any("transform" in m["kind"] or "transforms" in m for m in meta if m["split"] == "test")
    assert any(m["kind"] == "transform" for m in meta)
    for row in funcs.values():
        assert row["language"] == "python" and py_parses(row["func"])
    assert stats["per_label"]["0"] == stats["per_label"]["1"]
    # the existing loader reads it unchanged
    from codekd.data.check import check_dataset
    chk = check_dataset(out, "clone")
    assert sum(s["examples"] for s in chk["splits"].values()) == stats["pairs"]


def test_build_clones_is_deterministic(tmp_path):
    projects = _clone_projects(tmp_path, 4)
    kw = dict(seed=3, min_tokens=5, progress=False, negative_max_similarity=0.99)
    a = build_clones_from_dirs(projects, tmp_path / "a", **kw)
    b = build_clones_from_dirs(projects, tmp_path / "b", **kw)
    for f in ("data.jsonl", "train.txt", "valid.txt", "test.txt", "pairs.jsonl"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f
    assert a["pairs"] == b["pairs"]


def test_build_clones_bad_inputs_are_one_line_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        build_clones_from_dirs([{"name": "x", "language": "python", "old": tmp_path / "nope", "new": tmp_path}],
                               tmp_path / "o", progress=False)
    with pytest.raises(ConfigError, match="unknown language"):
        build_clones_from_dirs([{"name": "x", "language": "cobol", "old": tmp_path, "new": tmp_path}],
                               tmp_path / "o", progress=False)
    with pytest.raises(ConfigError, match="split"):
        build_clones_from_dirs([], tmp_path / "o", split=(1, 0, 0), progress=False)
    (tmp_path / "e1").mkdir()
    (tmp_path / "e2").mkdir()
    with pytest.raises(DataError, match="no cross-version clone pair") as ei:
        build_clones_from_dirs([{"name": "x", "language": "python", "old": tmp_path / "e1", "new": tmp_path / "e2"}],
                               tmp_path / "o", progress=False)
    assert "\n" not in str(ei.value) and isinstance(ei.value, CodekdError)


def test_cli_build_clones_bad_language_exits_2(tmp_path, capsys):
    from codekd.cli import main
    code = main(["data", "build-clones", "--out", str(tmp_path / "o"), "--languages", "cobol",
                 "--cache", str(tmp_path / "cache")])
    assert code == 2
    err = capsys.readouterr().err
    assert "languages must be among" in err and err.count("\n") == 1


# ------------------------------------------------------------------ exceptions: generated code, named projects


def test_generated_files_are_recognised():
    assert is_generated("x/foo_pb2.py", b"")
    assert is_generated("p.py", b"# Generated from Java.g4 by ANTLR 4.9\nfrom antlr4 import *\n")
    assert is_generated("p.py", b"# -*- coding: utf-8 -*-\n# DO NOT EDIT! this file is generated\n")
    assert not is_generated("p.py", b"def generate():\n    pass\n" + b"\n" * 20 + b"# generated by hand\n")


def test_mine_named_projects_excludes_generated(tmp_path):
    fn = "def load(p):\n    try:\n        return open(p).read()\n    except OSError:\n        return None\n"
    fn2 = "def conv(x):\n    try:\n        return int(x) + {}\n    except ValueError:\n        return 0\n"
    for proj in ("alpha", "beta", "gamma"):
        for i in range(4):
            _write(tmp_path / proj, f"pkg/m{i}.py", fn.replace("load", f"load_{proj}_{i}").replace("open(p)", f"open(p + '{i}{proj}')")
                   + "\n" + fn2.replace("{}", str(i * 7 + len(proj))).replace("conv", f"conv_{proj}{i}"))
        _write(tmp_path / proj, "pkg/gen_pb2.py", fn)
        _write(tmp_path / proj, "pkg/parser.py", "# Generated from G.g4 by ANTLR 4.9\n" + fn)
    stats = mine_exceptions(None, tmp_path / "out", projects=[(p, tmp_path / p) for p in ("alpha", "beta", "gamma")],
                            exclude_generated=True, progress=False, workers=1, near_threshold=1.0)
    assert stats.files_skipped_generated == 6
    seen = {}
    for s in ("train", "valid", "test"):
        for line in (tmp_path / "out" / f"{s}.jsonl").read_text().splitlines():
            row = json.loads(line)
            assert row["project"] in ("alpha", "beta", "gamma")
            assert seen.setdefault(row["project"], s) == s  # one split per project
    assert set(seen) == {"alpha", "beta", "gamma"}


# ------------------------------------------------------------------ network (opt-in)


network = pytest.mark.skipif(os.environ.get("CODEKD_NETWORK_TESTS") != "1",
                             reason="set CODEKD_NETWORK_TESTS=1 to run tests that download packages")


@network
def test_fetch_pypi_and_npm(tmp_path):
    from codekd.data.builders.fetch import fetch_npm, fetch_pypi
    f = fetch_pypi("six", "1.16.0", tmp_path)
    assert (f.root / "six.py").is_file() and len(f.sha256) == 64
    again = fetch_pypi("six", "1.16.0", tmp_path)  # from the cache
    assert again.root == f.root and again.sha256 == f.sha256
    j = fetch_npm("react-native-fs", "2.20.0", tmp_path)
    assert any(j.root.rglob("*.java"))


@network
def test_build_clones_small_real_project(tmp_path):
    from codekd.data.builders.clones import build_clones
    s = build_clones(tmp_path / "out", cache=tmp_path / "cache", languages=["python"],
                     python_projects=[("attrs", ("pypi", "attrs", "21.4.0"), ("pypi", "attrs", "23.1.0")),
                                      ("click", ("pypi", "click", "7.1.2"), ("pypi", "click", "8.1.7"))],
                     split=(0.5, 0.0, 0.5), progress=False)
    assert s["pairs"] > 0


def test_max_similarity_drops_least_changed_pairs(tmp_path):
    old, new = tmp_path / "v1", tmp_path / "v2"
    _write(old, "src/Util.java", OLD_JAVA)
    _write(new, "src/Util.java", _new_java(OLD_JAVA))
    fo, fn = extract_version(old, "java", min_tokens=5), extract_version(new, "java", min_tokens=5)
    assert len(cross_version_pairs(fo, fn).pairs) == 1
    d = cross_version_pairs(fo, fn, max_similarity=0.5)
    assert not d.pairs and d.too_similar == 1
    with pytest.raises(ConfigError, match="max_similarity"):
        build_clones_from_dirs([{"name": "x", "language": "java", "old": old, "new": new}], tmp_path / "o",
                               min_similarity=0.5, max_similarity=0.4, progress=False)


def test_label_owned_by_one_project_is_not_a_frequent_label(tmp_path):
    def fn(name, label, salt):
        return (f"def {name}(x):\n    try:\n        return x.run({salt}) + {salt * 3}\n"
                f"    except {label}:\n        return {salt}\n")
    for i, proj in enumerate(("a", "b", "c")):
        src = [fn(f"f_{proj}{k}", "ValueError", 10 * i + k) for k in range(3)]
        if proj == "a":  # OwnError: all its examples in one project
            src += [fn(f"g_{proj}{k}", "OwnError", 100 + k) for k in range(6)]
        _write(tmp_path / proj, "m.py", "\n\n".join(src))
    kw = dict(projects=[(p, tmp_path / p) for p in "abc"], progress=False, workers=1, near_threshold=1.0)
    s1 = mine_exceptions(None, tmp_path / "o1", **kw)
    assert "OwnError" in s1.labels
    s2 = mine_exceptions(None, tmp_path / "o2", max_label_share=0.5, **kw)
    assert s2.labels == ["ValueError"]
    with pytest.raises(ConfigError, match="max_label_share"):
        mine_exceptions(None, tmp_path / "o3", max_label_share=0.0, **kw)
