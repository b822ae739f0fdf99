"""The CuBERT-style exception miner: exact examples on a small tree, a real stdlib slice, errors."""

from __future__ import annotations

import json
import sysconfig
import textwrap
from pathlib import Path

import pytest

from codekd.data.builders.cubert_labels import CUBERT_EXCEPTION_LABELS
from codekd.data.builders.exception_mining import HOLE, extract_examples
from codekd.data.builders.exceptions import mine_exceptions
from codekd.errors import ConfigError, DataError

SPLITS = ("train", "valid", "test")


def _write(path: Path, text: str, newline: str = "\n") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = textwrap.dedent(text).lstrip("\n").replace("\n", newline)
    path.write_bytes(data.encode("utf-8"))


def _read_rows(out: Path) -> dict[str, list[dict]]:
    return {s: [json.loads(line) for line in (out / f"{s}.jsonl").read_text(encoding="utf-8").splitlines()]
            for s in SPLITS}


LONG_BODY = "\n".join(f"        total = total + values[{i}] * weight_{i % 7}" for i in range(40))


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "src"
    # project "alpha": a package with the reference functions
    _write(root / "alpha" / "__init__.py", "")
    _write(root / "alpha" / "mod.py", '''
        import os


        def read_config(path):
            try:
                return open(path).read()
            except OSError:
                return None


        class Store:
            @property
            def get(self, key):
                try:
                    return self.data[key]
                except KeyError as exc:
                    raise LookupError(key) from exc
                finally:
                    pass

            def mixed(self):
                try:
                    x()
                except KeyError:
                    pass
                except ValueError:
                    pass

            def tupled(self):
                try:
                    x()
                except (KeyError, ValueError):
                    pass

            def dotted(self):
                try:
                    x()
                except os.error:
                    pass

            def bare(self):
                try:
                    x()
                except:
                    pass

            def no_handler(self):
                try:
                    x()
                finally:
                    pass


        def outer(items):
            def inner(v):
                try:
                    return int(v)
                except ValueError:
                    return 0
            try:
                return [inner(v) for v in items]
            except ValueError:
                return []


        def outer_mixed(items):
            def inner2(v):
                try:
                    return int(v)
                except KeyError:
                    return 0
            try:
                return [inner2(v) for v in items]
            except ValueError:
                return []
    ''')
    # a test directory is skipped by default
    _write(root / "alpha" / "tests" / "test_mod.py", '''
        def test_it():
            try:
                x()
            except ZeroDivisionError:
                pass
    ''')
    # project "beta": an exact copy, a near copy (comments and spacing only), a long function
    _write(root / "beta" / "__init__.py", "")
    _write(root / "beta" / "copy.py", '''
        def read_config(path):
            try:
                return open(path).read()
            except OSError:
                return None


        def get(self, key):
            # look it up
            try:
                return self.data[key]      # fast path
            except KeyError as exc:

                raise LookupError(key) from exc
            finally:
                pass


        def accumulate(values):
            total = 0
            try:
        {LONG_BODY}
            except IndexError:
                return None
            return total
    '''.replace("{LONG_BODY}", LONG_BODY.replace("\n", "\n" + " " * 8)))
    # project "gamma": one module, CRLF newlines, non-ASCII text and identifiers, a near-duplicate
    # of accumulate (one identifier renamed)
    long_near = LONG_BODY.replace("values[39]", "values[38]").replace("\n", "\n" + " " * 8)
    _write(root / "gamma.py", '''
        class Ошибка(Exception):
            pass


        def grüße(name):
            text = "héllo → wörld"
            try:
                return text + name
            except Ошибка:
                return "ß"


        def accumulate(values):
            total = 0
            try:
        {LONG_BODY}
            except IndexError:
                return None
            return total
    '''.replace("{LONG_BODY}", long_near), newline="\r\n")
    # a Python 2 file: counted, not an error
    _write(root / "delta" / "old.py", '''
        def f():
            try:
                print "x"
            except IOError, e:
                pass
    ''')
    return root


EXPECTED = {
    ("read_config", "src/alpha/mod.py"): ("OSError", (
        "def read_config(path):\n"
        "    try:\n"
        "        return open(path).read()\n"
        "    except __HOLE__:\n"
        "        return None")),
    ("Store.get", "src/alpha/mod.py"): ("KeyError", (
        "def get(self, key):\n"
        "    try:\n"
        "        return self.data[key]\n"
        "    except __HOLE__ as exc:\n"
        "        raise LookupError(key) from exc\n"
        "    finally:\n"
        "        pass")),
    ("outer", "src/alpha/mod.py"): ("ValueError", (
        "def outer(items):\n"
        "    def inner(v):\n"
        "        try:\n"
        "            return int(v)\n"
        "        except __HOLE__:\n"
        "            return 0\n"
        "    try:\n"
        "        return [inner(v) for v in items]\n"
        "    except __HOLE__:\n"
        "        return []")),
    ("outer.<locals>.inner", "src/alpha/mod.py"): ("ValueError", (
        "def inner(v):\n"
        "    try:\n"
        "        return int(v)\n"
        "    except __HOLE__:\n"
        "        return 0")),
    ("outer_mixed.<locals>.inner2", "src/alpha/mod.py"): ("KeyError", (
        "def inner2(v):\n"
        "    try:\n"
        "        return int(v)\n"
        "    except __HOLE__:\n"
        "        return 0")),
    ("grüße", "src/gamma.py"): ("Ошибка", (
        "def grüße(name):\n"
        '    text = "héllo → wörld"\n'
        "    try:\n"
        "        return text + name\n"
        "    except __HOLE__:\n"
        '        return "ß"')),
}


def test_small_tree_exact_examples(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    stats = mine_exceptions([tree], out, num_labels=5, progress=False)
    rows = _read_rows(out)
    got = {(r["name"], r["path"]): r for s in SPLITS for r in rows[s]}
    # the accumulate family is one example (beta's, visited first); every other example is exact
    acc = got.pop(("accumulate", "src/beta/copy.py"))
    assert acc["target"] == "IndexError" and acc["func"].count(HOLE) == 1 and acc["project"] == "beta"
    assert {k: (r["target"], r["func"]) for k, r in got.items()} == EXPECTED
    assert {r["project"] for r in got.values()} == {"alpha", "gamma"}
    for r in [acc, *got.values()]:
        assert HOLE in r["func"] and "\r" not in r["func"]
        assert isinstance(r["lineno"], int) and len(r["idx"]) == 16
    assert got[("Store.get", "src/alpha/mod.py")]["lineno"] == 13  # the def line, not the decorator

    # labels: the most frequent after de-duplication, ties by name
    labels = ["KeyError", "ValueError", "IndexError", "OSError", "Ошибка"]
    assert json.loads((out / "labels.json").read_text(encoding="utf-8")) == labels == stats.labels
    assert stats.per_label == {"KeyError": 2, "ValueError": 2, "IndexError": 1, "OSError": 1, "Ошибка": 1}
    assert stats.dropped_other_labels == 0 and stats.examples == 7

    # rejections, duplicates, skipped files
    assert stats.rejected == {"bare_except": 1, "dotted_or_expression": 1, "mixed_names": 2, "tuple": 1}
    assert stats.exact_duplicates_removed == 1  # read_config in beta
    assert stats.near_duplicates_token_equal == 1  # get in beta (comments and blank lines only)
    assert stats.near_duplicates_minhash == 1  # accumulate in gamma (one token changed)
    assert stats.files_syntax_failed == 1  # delta/old.py (Python 2)
    assert stats.files_found == 6  # the tests/ directory is not scanned
    assert stats.candidate_examples == 10 and stats.examples_after_dedup == 7

    # group split: every project in exactly one split
    seen: dict[str, str] = {}
    for s in SPLITS:
        for r in rows[s]:
            assert seen.setdefault(r["project"], s) == s
    assert sum(len(rows[s]) for s in SPLITS) == stats.examples
    assert json.loads((out / "stats.json").read_text(encoding="utf-8"))["examples"] == 7

    # fewer labels: the others' examples are dropped
    out2 = tmp_path / "out2"
    stats2 = mine_exceptions([tree], out2, num_labels=2, progress=False)
    assert stats2.labels == ["KeyError", "ValueError"]
    assert stats2.dropped_other_labels == 3 and stats2.examples == 4
    targets = sorted(r["target"] for rs in _read_rows(out2).values() for r in rs)
    assert targets == ["KeyError", "KeyError", "ValueError", "ValueError"]
    stats3 = mine_exceptions([tree], tmp_path / "out3", num_labels=2, exclude_labels=("KeyError",), progress=False)
    assert stats3.labels == ["ValueError", "IndexError"] and stats3.examples == 3


def test_include_tests_and_cubert_labels(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    stats = mine_exceptions([tree], out, label_set="cubert", include_tests=True, progress=False)
    assert json.loads((out / "labels.json").read_text()) == list(CUBERT_EXCEPTION_LABELS)
    assert len(stats.labels) == 20
    assert stats.files_found == 7
    assert stats.per_label["ValueError"] == 2 and stats.per_label["IOError"] == 0
    names = {json.loads(line)["target"] for s in SPLITS for line in (out / f"{s}.jsonl").read_text().splitlines()}
    assert "ZeroDivisionError" not in names and names <= set(CUBERT_EXCEPTION_LABELS)


def test_extract_examples_byte_offsets() -> None:
    # the name is 12 UTF-8 bytes for 6 characters; a compatibility character is NFKC-normalised
    src = ("class Ошибка(Exception): pass\n\n"
           "def f():\n    s = 'é→'\n    try:\n        g()\n    except Ошибка as e:  # ü\n        pass\n\n"
           "def h():\n    try: g()\n    except \ufb01le_error: pass\n")
    n_defs, _, found = extract_examples(src)
    assert n_defs == 2
    assert found == [
        ("Ошибка", "def f():\n    s = 'é→'\n    try:\n        g()\n    except __HOLE__ as e:  # ü\n        pass", "f", 3),
        ("file_error", "def h():\n    try: g()\n    except __HOLE__: pass", "h", 10),
    ]


def test_stdlib_slice_group_split_and_determinism(tmp_path: Path) -> None:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    names = ["json", "email", "asyncio", "http", "urllib", "logging", "xml", "concurrent", "importlib",
             "multiprocessing", "unittest", "tomllib"]
    paths = [stdlib / n for n in names if (stdlib / n).is_dir()]
    assert len(paths) >= 8
    out1, out2 = tmp_path / "a", tmp_path / "b"
    s1 = mine_exceptions(paths, out1, num_labels=10, workers=2, progress=False)
    s2 = mine_exceptions(paths, out2, num_labels=10, workers=1, progress=False)
    assert s1.examples > 100 and len(s1.labels) == 10
    rows = _read_rows(out1)
    where: dict[str, str] = {}
    for s in SPLITS:
        assert rows[s], f"{s} split is empty"
        for r in rows[s]:
            assert HOLE in r["func"] and r["target"] in s1.labels
            assert where.setdefault(r["project"], s) == s, f"project {r['project']} in two splits"
    assert set(where) <= {p.name for p in paths}
    assert len({r["idx"] for s in SPLITS for r in rows[s]}) == s1.examples
    shares = [s1.splits[s]["examples"] / s1.examples for s in SPLITS]
    assert shares[0] > 0.5 and all(x > 0 for x in shares)
    for f in ("train.jsonl", "valid.jsonl", "test.jsonl", "labels.json"):
        assert (out1 / f).read_bytes() == (out2 / f).read_bytes(), f
    st1, st2 = (json.loads((o / "stats.json").read_text()) for o in (out1, out2))
    for st in (st1, st2):
        st.pop("time_seconds")
        st.pop("out_dir")
    assert st1 == st2
    assert not list(out1.glob(".*.tmp"))


def test_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        mine_exceptions([tmp_path / "nope"], tmp_path / "out", progress=False)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "a.py").write_text("def f():\n    return 1\n")
    with pytest.raises(DataError, match="no exception-classification examples"):
        mine_exceptions([empty], tmp_path / "out", progress=False)
    with pytest.raises(ConfigError):
        mine_exceptions([empty], tmp_path / "out", label_set="nope", progress=False)  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        mine_exceptions([empty], tmp_path / "out", split=(0.8, 0.2), progress=False)
    with pytest.raises(ConfigError):
        mine_exceptions([empty], tmp_path / "out", label_set="cubert", num_labels=21, progress=False)
