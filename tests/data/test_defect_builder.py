"""The Devign-like defect builder: mutation operators, real-fix pairs from a patch series, the whole
build from a synthetic Debian source package (no network), splits and errors."""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import shutil
import tarfile
from pathlib import Path

import pytest

from codekd.data.builders import debian
from codekd.data.builders.csyntax import c_parser, functions_in, parses_cleanly
from codekd.data.builders.defect import (
    SourcePackage, build_defect_dataset, changed_functions, patch_cves, realfix_pairs, resolve_sources,
)
from codekd.data.builders.mutate import MUTATION_OPERATORS, mutate_function
from codekd.errors import ConfigError, DataError

needs_patch = pytest.mark.skipif(shutil.which("patch") is None, reason="the 'patch' program is not installed")


def _mutant(code: str, op: str, seed: int = 0) -> str | None:
    m = mutate_function(code, random.Random(seed), operators=[op])
    if m is None:
        return None
    assert m.operator == op
    assert parses_cleanly(m.code)
    return m.code


# --------------------------------------------------------------------------------------------
# mutation operators: one site each, exact output


def test_binop():
    assert _mutant("int f(int a, int b)\n{\n    return a == b;\n}\n", "binop") == \
        "int f(int a, int b)\n{\n    return a != b;\n}\n"


def test_swap_operands():
    assert _mutant("int f(int a, int b)\n{\n    return a - b;\n}\n", "swap_operands") == \
        "int f(int a, int b)\n{\n    return b - a;\n}\n"
    # equal operands: nothing to swap
    assert _mutant("int f(int a)\n{\n    return a - a;\n}\n", "swap_operands") is None


def test_off_by_one_bound_and_literal():
    assert _mutant("int f(int i, int n)\n{\n    return i < n;\n}\n", "off_by_one") == \
        "int f(int i, int n)\n{\n    return i <= n;\n}\n"
    got = _mutant("int f(int *a)\n{\n    return a[4];\n}\n", "off_by_one")
    assert got in ("int f(int *a)\n{\n    return a[5];\n}\n", "int f(int *a)\n{\n    return a[3];\n}\n")
    assert _mutant("int f(int *a)\n{\n    return a[0];\n}\n", "off_by_one") == "int f(int *a)\n{\n    return a[1];\n}\n"


def test_remove_negation():
    assert _mutant("int f(int *p)\n{\n    if (!p)\n        return 1;\n    return 0;\n}\n", "remove_negation") == \
        "int f(int *p)\n{\n    if (p)\n        return 1;\n    return 0;\n}\n"


def test_drop_bounds_check():
    code = ("int get(const int *buf, int len, int i)\n{\n    if (i >= len)\n        return -1;\n"
            "    return buf[i];\n}\n")
    assert _mutant(code, "drop_bounds_check") == "int get(const int *buf, int len, int i)\n{\n    return buf[i];\n}\n"
    block = ("int get(const int *buf, int size, int i)\n{\n    if (i + 4 > size) {\n        log_err(i);\n"
             "        goto fail;\n    }\n    return buf[i];\nfail:\n    return -1;\n}\n")
    assert _mutant(block, "drop_bounds_check") == \
        "int get(const int *buf, int size, int i)\n{\n    return buf[i];\nfail:\n    return -1;\n}\n"
    # not a size check (no size-like name), or it has an else: left alone
    assert _mutant("int f(int a, int b)\n{\n    if (a > b)\n        return a;\n    return b;\n}\n",
                   "drop_bounds_check") is None
    assert _mutant("int f(int i, int len)\n{\n    if (i > len)\n        return 1;\n    else\n        i++;\n"
                   "    return i;\n}\n", "drop_bounds_check") is None


def test_var_misuse_same_type_only():
    code = "int f(int a, char *s)\n{\n    int b = 2;\n    return a + *s;\n}\n"
    # a (int) can become b (int); s (char *) has no partner of its type
    assert _mutant(code, "var_misuse") == "int f(int a, char *s)\n{\n    int b = 2;\n    return b + *s;\n}\n"
    assert _mutant("int f(int a, char *s)\n{\n    return a + *s;\n}\n", "var_misuse") is None


def test_mutate_rejects_broken_or_empty_code_and_is_seeded():
    assert mutate_function("int f( {", random.Random(0)) is None
    assert mutate_function("int x;", random.Random(0)) is None
    assert mutate_function("void f(void)\n{\n}\n", random.Random(0)) is None
    code = "int f(int i, int n, int *a)\n{\n    if (!a)\n        return 0;\n    return a[i + 1] - n < 3;\n}\n"
    runs = [mutate_function(code, random.Random(7)) for _ in range(2)]
    assert runs[0] == runs[1] and runs[0] is not None
    assert {mutate_function(code, random.Random(s)).operator for s in range(30)} >= {"binop", "off_by_one"}
    with pytest.raises(ValueError):
        mutate_function(code, random.Random(0), operators=["nope"])


def test_functions_in_parenthesized_declarator_and_preproc():
    src = (b"static int (*pick(int k))(int)\n{\n    return 0;\n}\n#ifdef X\nint g(void)\n{\n    return 1;\n}\n#endif\n")
    names = [f.name for f in functions_in(c_parser().parse(src))]
    assert names == ["pick", "g"]


# --------------------------------------------------------------------------------------------
# real fixes from a patch series

BASE_C = """\
#include <string.h>

/* copy at most len bytes */
static int copy_buf(char *dst, const char *src, int len, int size)
{
    if (len > size + 1)
        return -1;
    memcpy(dst, src, len);
    return len;
}

static int helper(int x)
{
    return x * 2;
}
"""

FIX_PATCH = """\
Description: Fix an off-by-one in copy_buf (CVE-2024-12345)
Author: Test <t@example.org>

--- a/src/buf.c
+++ b/src/buf.c
@@ -4,7 +4,7 @@
 /* copy at most len bytes */
 static int copy_buf(char *dst, const char *src, int len, int size)
 {
-    if (len > size + 1)
+    if (len > size)
         return -1;
     memcpy(dst, src, len);
     return len;
"""

COMMENT_PATCH = """\
Description: comments only
--- a/src/buf.c
+++ b/src/buf.c
@@ -12,6 +12,7 @@
 
 static int helper(int x)
 {
+    /* twice as much */
     return x * 2;
 }
"""

BROKEN_PATCH = """\
--- a/src/buf.c
+++ b/src/buf.c
@@ -1,3 +1,3 @@
-this line is not in the file
+neither is this
 nor this
"""


def _write_package(root: Path, series: str, patches: dict[str, str]) -> Path:
    (root / "src").mkdir(parents=True, exist_ok=True)
    (root / "src" / "buf.c").write_text(BASE_C)
    pdir = root / "debian" / "patches"
    pdir.mkdir(parents=True, exist_ok=True)
    (pdir / "series").write_text(series)
    for name, text in patches.items():
        (pdir / name).write_text(text)
    return root


@needs_patch
def test_realfix_pairs_two_patch_series(tmp_path):
    root = _write_package(tmp_path / "pkg", "# comment line\nfix-CVE-2024-12345.patch\ncomment-only.patch -p1\n",
                          {"fix-CVE-2024-12345.patch": FIX_PATCH, "comment-only.patch": COMMENT_PATCH})
    before = (root / "src" / "buf.c").read_bytes()
    pairs, counts = realfix_pairs(root)
    assert counts == {"patches": 2, "patches_applied": 2, "patches_without_pairs": 1}
    assert len(pairs) == 1
    p = pairs[0]
    assert (p["file"], p["name"], p["line"], p["patch"], p["cves"]) == \
        ("src/buf.c", "copy_buf", 4, "fix-CVE-2024-12345.patch", ["CVE-2024-12345"])
    assert "size + 1" in p["before"] and "size + 1" not in p["after"]
    assert p["before"].startswith("static int copy_buf") and p["before"].endswith("}")
    assert (root / "src" / "buf.c").read_bytes() == before  # the tree is left unpatched


@needs_patch
def test_realfix_counts_patches_that_fail(tmp_path):
    root = _write_package(tmp_path / "pkg", "broken.patch\nfix.patch\nmissing.patch\n",
                          {"broken.patch": BROKEN_PATCH, "fix.patch": FIX_PATCH})
    pairs, counts = realfix_pairs(root)
    assert counts["patches_failed"] == 1 and counts["patches_missing"] == 1 and counts["patches_applied"] == 1
    assert len(pairs) == 1 and pairs[0]["cves"] == ["CVE-2024-12345"]  # from the header


def test_changed_functions_ignores_comments_and_layout():
    a = b"int f(int x)\n{\n    return x + 1; /* one */\n}\nint g(void) { return 0; }\n"
    b = b"int f(int x)\n{\n    /* changed */ return x   +   1;\n}\nint g(void) { return 1; }\n"
    assert [r[0] for r in changed_functions(a, b)] == ["g"]


def test_patch_paths_include_git_binary_and_rename_entries():
    from codekd.data.builders.defect import _patch_paths

    text = ("diff --git a/src/x.c b/src/x.c\n--- a/src/x.c\n+++ b/src/x.c\n@@ -1 +1 @@\n-a\n+b\n"
            "diff --git a/data/blob.bin b/data/blob.bin\nBinary files a/data/blob.bin and b/data/blob.bin differ\n"
            "diff --git a/old.c b/new.c\nrename from old.c\nrename to new.c\n"
            "--- /dev/null\n+++ b/added.c\n")
    assert _patch_paths(text, 1) == ["src/x.c", "data/blob.bin", "old.c", "new.c", "added.c"]


def test_patch_cves_from_name_and_header_only():
    text = "Subject: fix cve-2023-0001 and CVE-2023-0001\n--- a/x.c\n+++ b/x.c\n+/* CVE-2020-9999 */\n"
    assert patch_cves("CVE-2022-1234.patch", text) == ["CVE-2022-1234", "CVE-2023-0001"]


# --------------------------------------------------------------------------------------------
# the whole build from a synthetic source package (sources_dir: no apt, no network)


def _c_file(i: int) -> str:
    funcs = []
    for j in range(4):
        funcs.append(f"""\
static int read_{i}_{j}(const unsigned char *buf, int len, int pos)
{{
    int k, total = {i + j};
    if (pos + {j + 1} > len)
        return -1;
    for (k = 0; k < len; k++) {{
        if (!buf[k])
            break;
        total += buf[k] * {j + 2} - pos;
    }}
    return total;
}}
""")
    return "\n".join(funcs)


def _tar(path: Path, files: dict[str, str], prefix: str) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, text in sorted(files.items()):
            data = text.encode()
            info = tarfile.TarInfo(f"{prefix}{name}")
            info.size, info.mtime = len(data), 0
            tar.addfile(info, io.BytesIO(data))


def _source_package(folder: Path, name: str = "toy", version: str = "1:1.0-1") -> SourcePackage:
    folder.mkdir(parents=True, exist_ok=True)
    upstream = version.split(":")[-1].split("-")[0]
    files = {f"lib{i}/mod{i}.c": _c_file(i) for i in range(12)}
    files["src/buf.c"] = BASE_C
    orig = folder / f"{name}_{upstream}.orig.tar.gz"
    _tar(orig, files, f"{name}-{upstream}/")
    deb = folder / f"{name}_{debian.upstream_file_version(version)}.debian.tar.gz"
    _tar(deb, {"patches/series": "fix.patch\ncomment.patch\n", "patches/fix.patch": FIX_PATCH,
               "patches/comment.patch": COMMENT_PATCH, "control": "Source: toy\n"}, "debian/")
    lines = [f"Format: 3.0 (quilt)\nSource: {name}\nVersion: {version}\nChecksums-Sha256:\n"]
    for p in (orig, deb):
        lines.append(f" {hashlib.sha256(p.read_bytes()).hexdigest()} {p.stat().st_size} {p.name}\n")
    (folder / f"{name}_{debian.upstream_file_version(version)}.dsc").write_text("".join(lines))
    return SourcePackage(name, version, name)


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@needs_patch
def test_build_from_sources_dir(tmp_path):
    pkg = _source_package(tmp_path / "sources")
    kw = dict(packages=[pkg], sources_dir=tmp_path / "sources", cache=tmp_path / "cache", max_functions=40,
              progress=False, seed=1)
    stats = build_defect_dataset(tmp_path / "out", **kw)
    out = tmp_path / "out"
    assert stats.realfix_pairs == 1 and stats.mutant_pairs == 19
    assert stats.examples == 40 and stats.per_label == {"0": 20, "1": 20}
    assert stats.per_source == {"mutant": 38, "realfix": 2}
    assert sum(stats.per_operator.values()) == 19 and len(stats.per_operator) >= 4  # balanced operators
    assert stats.packages[0]["dsc_sha256"] == hashlib.sha256(
        (tmp_path / "sources" / "toy_1.0-1.dsc").read_bytes()).hexdigest()
    splits = {s: _rows(out / f"{s}.jsonl") for s in ("train", "valid", "test")}
    # a file, and so each pair, lies in one split only
    files = {s: {(r["project"], r["file"]) for r in rows} for s, rows in splits.items()}
    pairs = {s: {r["pair"] for r in rows} for s, rows in splits.items()}
    for a, b in (("train", "valid"), ("train", "test"), ("valid", "test")):
        assert not files[a] & files[b] and not pairs[a] & pairs[b]
    allrows = [r for rows in splits.values() for r in rows]
    assert len({r["func"] for r in allrows}) == len(allrows)
    for r in allrows:
        assert set(r) >= {"func", "target", "idx", "project", "file", "source", "operator", "patch", "cves", "pair"}
        assert (r["operator"] is None) == (r["source"] == "realfix")
    fix = [r for r in allrows if r["source"] == "realfix"]
    assert sorted(r["target"] for r in fix) == [0, 1] and fix[0]["cves"] == ["CVE-2024-12345"]
    test_ids = {r["idx"] for r in splits["test"]}
    realfix_test = _rows(out / "test_realfix.jsonl")
    injected_test = _rows(out / "test_injected.jsonl")
    assert {r["idx"] for r in realfix_test} | {r["idx"] for r in injected_test} == test_ids
    # the defect loader reads it unchanged
    from codekd.data.check import check_dataset

    chk = check_dataset(out, "defect")
    assert sum(s["examples"] for s in chk["splits"].values()) == 40
    # deterministic; the unpacked tree in the cache is reused
    first = {f: (out / f).read_bytes() for f in ("train.jsonl", "valid.jsonl", "test.jsonl", "test_realfix.jsonl")}
    marker = tmp_path / "cache" / "src" / "toy_1.0-1" / ".codekd-unpacked"
    mtime = marker.stat().st_mtime_ns
    build_defect_dataset(tmp_path / "out2", **kw)
    assert first == {f: (tmp_path / "out2" / f).read_bytes() for f in first}
    assert marker.stat().st_mtime_ns == mtime
    assert json.loads((out / "stats.json").read_text())["examples"] == 40


@needs_patch
def test_build_holdout_keeps_real_fixes_out_of_the_splits(tmp_path):
    pkg = _source_package(tmp_path / "sources")
    stats = build_defect_dataset(tmp_path / "out", packages=[pkg], sources_dir=tmp_path / "sources",
                                 cache=tmp_path / "cache", max_functions=20, realfix="holdout", progress=False)
    out = tmp_path / "out"
    assert stats.per_source == {"mutant": 20, "realfix": 2}
    assert all(r["source"] == "mutant" for s in ("train", "valid", "test") for r in _rows(out / f"{s}.jsonl"))
    assert [r["target"] for r in _rows(out / "test_realfix.jsonl")] == [1, 0]


# --------------------------------------------------------------------------------------------
# errors


def test_bad_options_and_packages(tmp_path):
    with pytest.raises(ConfigError, match="unknown package"):
        resolve_sources(["no-such-package"])
    with pytest.raises(ConfigError, match="PKG=VERSION"):
        resolve_sources(["qemu="])
    assert resolve_sources(["curl=7.0-1"])[0] == SourcePackage("curl", "7.0-1", "curl")
    with pytest.raises(ConfigError, match="max_functions"):
        build_defect_dataset(tmp_path / "o", max_functions=1, progress=False)
    with pytest.raises(ConfigError, match="operator"):
        build_defect_dataset(tmp_path / "o", operators=["bogus"], progress=False)
    with pytest.raises(ConfigError, match="realfix"):
        build_defect_dataset(tmp_path / "o", realfix="both", progress=False)  # type: ignore[arg-type]


def test_bad_sources_dir(tmp_path):
    pkg = SourcePackage("toy", "1.0-1", "toy")
    with pytest.raises(DataError, match="does not exist"):
        build_defect_dataset(tmp_path / "o", packages=[pkg], sources_dir=tmp_path / "nope", progress=False)
    (tmp_path / "s").mkdir()
    with pytest.raises(DataError, match=r"no toy_1.0-1.dsc"):
        build_defect_dataset(tmp_path / "o", packages=[pkg], sources_dir=tmp_path / "s", progress=False)
    (tmp_path / "s" / "toy_1.0-1.dsc").write_text("hello\n")
    with pytest.raises(DataError, match="not a Debian source control file"):
        build_defect_dataset(tmp_path / "o", packages=[pkg], sources_dir=tmp_path / "s", progress=False)


def test_corrupt_tarball_is_caught(tmp_path):
    pkg = _source_package(tmp_path / "s")
    orig = next((tmp_path / "s").glob("*.orig.tar.gz"))
    orig.write_bytes(orig.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(DataError, match="does not match the SHA-256"):
        build_defect_dataset(tmp_path / "o", packages=[pkg], sources_dir=tmp_path / "s", cache=tmp_path / "c",
                             progress=False)


def test_no_apt_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(debian, "apt_available", lambda: False)
    with pytest.raises(DataError, match="--sources-dir"):
        build_defect_dataset(tmp_path / "o", packages=["curl"], cache=tmp_path / "empty-cache", progress=False)


def test_cli_error_is_one_line(tmp_path, capsys):
    from codekd.cli import main

    assert main(["data", "build-defect", "--help"]) == 0
    assert "codekd-deb-src.sources" in capsys.readouterr().out
    rc = main(["data", "build-defect", "--out", str(tmp_path / "o"), "--sources-dir", str(tmp_path / "none"),
               "--package", "curl"])
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "sources folder does not exist" in err[0]


# --------------------------------------------------------------------------------------------
# the real apt path: downloads, so only on request


@pytest.mark.skipif(os.environ.get("CODEKD_NETWORK_TESTS") != "1",
                    reason="downloads a Debian source package; set CODEKD_NETWORK_TESTS=1 to run")
@pytest.mark.skipif(not debian.apt_available(), reason="apt-get is not available on this machine")
@needs_patch
def test_apt_download_expat(tmp_path):
    stats = build_defect_dataset(tmp_path / "out", packages=["expat"], cache=tmp_path / "cache",
                                 max_functions=200, progress=False)
    assert stats.realfix_pairs > 0 and stats.mutant_pairs > 0
    assert len(stats.packages[0]["dsc_sha256"]) == 64
