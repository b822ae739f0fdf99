"""Loaders for every format, subsampling and every bad-input case."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fixtures_data import JAVA, PY_FUNCS, bcb_joined_folder, bcb_native_folder, devign_folder, exception_folder, write_jsonl

from codekd.data import load_task_data, normalize_code, subsample_indices
from codekd.errors import DataError


def test_devign_loader(tmp_path):
    td = load_task_data(devign_folder(tmp_path), "defect")
    assert td.format == "single" and td.labels == ("0", "1")
    assert [len(td[s]) for s in ("train", "valid", "test")] == [4, 2, 2]
    assert td["train"].ids == ["train0", "train1", "train2", "train3"]
    assert list(td["train"].labels) == [0, 1, 0, 1]
    ex = td["train"].example(1)
    assert ex == {"id": "train1", "codes": ("void copy(char *d, const char *s) {\n  while ((*d++ = *s++));\n}",), "label": 1}


def test_ids_default_to_split_and_line(tmp_path):
    write_jsonl(tmp_path / "train.jsonl", [{"func": "int a;", "target": 0}, "", {"func": "int b;", "target": 1}])
    for s in ("valid", "test"):
        write_jsonl(tmp_path / f"{s}.jsonl", [{"func": "int c;", "target": 0}])
    td = load_task_data(tmp_path, "defect")
    assert td["train"].ids == ["train-1", "train-3"]


def test_clone_native_loader(tmp_path):
    td = load_task_data(bcb_native_folder(tmp_path), "clone")
    assert td.format == "clone-native"
    tr = td["train"]
    assert len(tr) == 4 and len(tr.functions) == 4
    assert tr.ids[0] == "100-101"
    assert tr.codes([0, 1]) == [(JAVA[0], JAVA[1]), (JAVA[0], JAVA[2])]
    assert list(tr.labels) == [1, 0, 0, 0]
    # pairs store row indices, not copies of the text
    assert set(tr.table.column_names) == {"id", "a", "b", "label"}
    assert sorted(tr.iter_unique_code()) == sorted(JAVA)
    assert td["test"].codes([0]) == [(JAVA[1], JAVA[0])]


def test_clone_joined_loader(tmp_path):
    td = load_task_data(bcb_joined_folder(tmp_path), "clone")
    assert td.format == "clone-joined"
    assert td["valid"].codes() == [(JAVA[0], JAVA[1]), (JAVA[2], JAVA[3])]
    assert list(td["test"].labels) == [1, 0]


def test_exception_loader_names_and_ints(tmp_path):
    td = load_task_data(exception_folder(tmp_path), "exception")
    assert td.labels == ("OSError", "ValueError", "KeyError") and td.num_labels == 3
    assert list(td["train"].labels) == [0, 1, 2]
    assert list(td["test"].labels) == [2]


def test_whitespace_normalisation_as_codexglue():
    code = "int  f ( int x )\n{\n\treturn x ;\n}\n"
    assert normalize_code(code) == "int f ( int x ) { return x ; }"
    assert normalize_code(code, "none") == code
    assert normalize_code("def f():\n    return 1\n", "structure") == "def f(): <nl> <indent> return 1"


def test_subsample_is_seeded_and_identical_for_every_consumer(tmp_path):
    a = subsample_indices(1000, 0.1, seed=3)
    assert len(a) == 100 and np.all(np.diff(a) > 0)
    assert np.array_equal(a, subsample_indices(1000, 0.1, seed=3))
    assert not np.array_equal(a, subsample_indices(1000, 0.1, seed=4))
    root = bcb_native_folder(tmp_path)
    t1 = load_task_data(root, "clone", fraction=0.5, seed=1)
    t2 = load_task_data(root, "clone", fraction=0.5, seed=1)
    assert t1["train"].ids == t2["train"].ids and len(t1["train"]) == 2
    assert len(t1["test"]) == 2  # test stays whole
    with pytest.raises(DataError):
        subsample_indices(10, 0.0)


# ---- bad input: every case names the file and the line ---------------------------------------

def _bad_devign(tmp_path, train_lines):
    write_jsonl(tmp_path / "train.jsonl", train_lines)
    for s in ("valid", "test"):
        write_jsonl(tmp_path / f"{s}.jsonl", [{"func": "int c;", "target": 0}])
    return tmp_path


@pytest.mark.parametrize("line, message", [
    ('{"func": "int a;", "target": 0', "malformed JSON"),
    ('{"target": 0}', "missing field 'func'"),
    ('{"func": 3, "target": 0}', "field 'func' must be a string"),
    ('{"func": "int a;"}', "missing field 'target'"),
    ('{"func": "int a;", "target": "1"}', "label must be an integer"),
    ('{"func": "int a;", "target": 2}', "unknown label 2"),
    ('{"func": "int a;", "target": true}', "boolean"),
    ('[1, 2]', "expected a JSON object"),
    ('{"func": "   ", "target": 0}', "is empty"),
])
def test_bad_line_names_file_and_line(tmp_path, line, message):
    root = _bad_devign(tmp_path, [{"func": "int ok;", "target": 0}, line])
    with pytest.raises(DataError) as ei:
        load_task_data(root, "defect")
    err = ei.value
    assert err.path.endswith("train.jsonl") and err.line == 2
    assert message in str(err) and str(err).startswith(f"{err.path}:2: ")


def test_non_utf8(tmp_path):
    root = _bad_devign(tmp_path, [{"func": "int ok;", "target": 0}])
    with open(root / "train.jsonl", "ab") as fh:
        fh.write(b'{"func": "int \xff;", "target": 0}\n')
    with pytest.raises(DataError, match="not valid UTF-8") as ei:
        load_task_data(root, "defect")
    assert ei.value.line == 2


def test_empty_file(tmp_path):
    root = _bad_devign(tmp_path, [])
    with pytest.raises(DataError, match="empty file"):
        load_task_data(root, "defect")


def test_duplicate_ids(tmp_path):
    root = _bad_devign(tmp_path, [{"func": "a", "target": 0, "idx": 7}, {"func": "b", "target": 0, "idx": 8},
                                  {"func": "c", "target": 1, "idx": 7}])
    with pytest.raises(DataError, match="duplicate id '7' .first seen on line 1.") as ei:
        load_task_data(root, "defect")
    assert ei.value.line == 3


def test_missing_split_and_folder(tmp_path):
    write_jsonl(tmp_path / "train.jsonl", [{"func": "a", "target": 0}])
    with pytest.raises(DataError, match="missing split file valid.jsonl"):
        load_task_data(tmp_path, "defect")
    with pytest.raises(DataError, match="does not exist"):
        load_task_data(tmp_path / "nope", "defect")


def test_unknown_exception_label_and_missing_hole(tmp_path):
    root = exception_folder(tmp_path)
    write_jsonl(root / "valid.jsonl", [{"func": PY_FUNCS[0], "target": "OSError"}, {"func": PY_FUNCS[1], "target": "TypeError"}])
    with pytest.raises(DataError, match="unknown label 'TypeError'") as ei:
        load_task_data(root, "exception")
    assert ei.value.path.endswith("valid.jsonl") and ei.value.line == 2
    write_jsonl(root / "valid.jsonl", [{"func": "def f(): pass", "target": "OSError"}])
    with pytest.raises(DataError, match="no __HOLE__"):
        load_task_data(root, "exception")


def test_missing_label_list(tmp_path):
    root = exception_folder(tmp_path)
    (root / "labels.json").unlink()
    with pytest.raises(DataError, match="labels.json not found"):
        load_task_data(root, "exception")
    (root / "labels.json").write_text(json.dumps(["A", "A"]))
    with pytest.raises(DataError, match="twice"):
        load_task_data(root, "exception")


def test_pair_id_not_in_data(tmp_path):
    root = bcb_native_folder(tmp_path)
    (root / "valid.txt").write_text("100\t103\t0\n100\t999\t1\n")
    with pytest.raises(DataError, match="pair id '999' not found in data.jsonl") as ei:
        load_task_data(root, "clone")
    assert ei.value.path.endswith("valid.txt") and ei.value.line == 2


@pytest.mark.parametrize("content, message", [
    ("100\t101\n", "expected 'idx1<TAB>idx2<TAB>label'"),
    ("100\t101\tyes\n", "label must be an integer"),
    ("100\t101\t3\n", "unknown label 3"),
    ("100\t101\t1\n100\t101\t1\n", "duplicate pair id"),
])
def test_bad_pair_lines(tmp_path, content, message):
    root = bcb_native_folder(tmp_path)
    (root / "test.txt").write_text(content)
    with pytest.raises(DataError, match=message):
        load_task_data(root, "clone")


def test_duplicate_function_idx(tmp_path):
    root = bcb_native_folder(tmp_path)
    with open(root / "data.jsonl", "a") as fh:
        fh.write(json.dumps({"idx": "100", "func": "x"}) + "\n")
    with pytest.raises(DataError, match="duplicate idx '100'") as ei:
        load_task_data(root, "clone")
    assert ei.value.line == 5


def test_skip_bad_reports_every_skipped_line(tmp_path):
    root = _bad_devign(tmp_path, [{"func": "int ok;", "target": 0}, "{oops", {"func": "x", "target": 9},
                                  {"func": "int fine;", "target": 1}])
    td = load_task_data(root, "defect", skip_bad=True)
    assert len(td["train"]) == 2
    assert [(b.line, b.reason.split(":")[0]) for b in td.bad_lines] == [(2, "malformed JSON"), (3, "unknown label 9 (expected 0..1)")]
    root2 = bcb_native_folder(tmp_path / "bcb")
    (root2 / "valid.txt").write_text("100\t103\t0\n100\t999\t1\n")
    td2 = load_task_data(root2, "clone", skip_bad=True)
    assert len(td2["valid"]) == 1 and td2.bad_lines[0].line == 2


def test_skip_bad_still_refuses_a_file_left_empty(tmp_path):
    root = _bad_devign(tmp_path, ["{oops"])
    with pytest.raises(DataError, match=r"empty file: no examples \(1 bad lines skipped\)"):
        load_task_data(root, "defect", skip_bad=True)


def test_large_native_pairs_are_columnar(tmp_path):
    """50k pairs load into integer columns; ids are stable and unique."""
    write_jsonl(tmp_path / "data.jsonl", [{"idx": str(i), "func": f"int f{i}() {{ return {i}; }}"} for i in range(300)])
    rng = np.random.default_rng(0)
    pairs = set()
    while len(pairs) < 50_000:
        a, b = rng.integers(0, 300, size=2)
        pairs.add((int(a), int(b)))
    lines = "".join(f"{a}\t{b}\t{(a + b) % 2}\n" for a, b in sorted(pairs))
    for s in ("train", "valid", "test"):
        (tmp_path / f"{s}.txt").write_text(lines)
    td = load_task_data(tmp_path, "clone")
    tr = td["train"]
    assert len(tr) == 50_000 and len(set(tr.ids)) == 50_000
    assert tr.table.features["a"].dtype == "int32"
    i = 12345
    a, b = sorted(pairs)[i]
    assert tr.codes([i]) == [(f"int f{a}() {{ return {a}; }}", f"int f{b}() {{ return {b}; }}")]


def test_subsampled_and_non_contiguous_rows_stay_consistent(tmp_path):
    """ids, labels and codes of a subsample (and of non-contiguous lookups) refer to the same rows."""
    rows = [{"func": f"int f{i}(void) {{ return {i}; }}", "target": i % 2, "idx": f"e{i}"} for i in range(200)]
    for s in ("train", "valid", "test"):
        write_jsonl(tmp_path / f"{s}.jsonl", rows)
    full = load_task_data(tmp_path, "defect")["train"]
    sub = load_task_data(tmp_path, "defect", fraction=0.1, seed=5)["train"]
    keep = subsample_indices(200, 0.1, seed=5)
    assert sub.ids == [f"e{i}" for i in keep]
    assert list(sub.labels) == [i % 2 for i in keep]
    assert sub.codes() == [(rows[i]["func"],) for i in keep]
    assert full.codes([7, 3, 150]) == [(rows[i]["func"],) for i in (7, 3, 150)]
    sel = full.select([9, 2])
    assert sel.ids == ["e9", "e2"] and list(sel.labels) == [1, 0] and sel.codes([1]) == [(rows[2]["func"],)]


def test_hole_window_keeps_signature_and_lines_around_each_hole():
    from codekd.data.normalize import hole_window

    code = "\n".join(["def f(x):"] + [f"    s{i} = {i}" for i in range(10)] +
                     ["    try:", "        g()", "    except __HOLE__:", "        pass"] + [f"    t{i}()" for i in range(5)])
    out = hole_window(code, 2).splitlines()
    assert out == ["def f(x):", "    try:", "        g()", "    except __HOLE__:", "        pass", "    t0()"]
    assert hole_window(code, None) == code and hole_window("def g(): pass", 3) == "def g(): pass"


def test_normalization_with_hole_window_option():
    from codekd.data.normalize import parse_normalization

    code = "def f():\n    a = 1\n    b = 2\n    try:\n        g()\n    except __HOLE__:\n        pass\n"
    assert parse_normalization("structure:hole=1") == ("structure", 1)
    assert normalize_code(code, "whitespace:hole=1") == "def f(): g() except __HOLE__: pass"
    assert normalize_code(code, "structure:hole=1") == "def f(): <nl> <indent> g() <nl> <dedent> except __HOLE__: <nl> <indent> pass"
    for bad in ("fancy", "structure:hole=x", "structure:window=3"):
        with pytest.raises(Exception, match="normalisation"):
            parse_normalization(bad)


def test_try_window_keeps_the_owning_try_body_and_the_handler():
    from codekd.data.normalize import parse_window, try_window

    code = "\n".join(["def f(x):", "    setup()",
                      "    try:", "        a = open(x)", "        b = a.read()", "        c = int(b)", "        d = c + 1",
                      "        e = d * 2",
                      "    except ValueError:", "        pass",
                      "    except __HOLE__:", "        log(x)", "", "        return None", "        never()",
                      "    after()"])
    # the try, the first 2 and last 2 body lines, not the other clause, the clause, 2 handler lines
    assert try_window(code, 4).splitlines() == [
        "def f(x):", "    try:", "        a = open(x)", "        b = a.read()", "        d = c + 1", "        e = d * 2",
        "    except __HOLE__:", "        log(x)", "        return None"]
    # nested: the clause belongs to the inner try
    nested = "def g():\n    try:\n        try:\n            k = m[1]\n        except __HOLE__:\n            pass\n    finally:\n        z()"
    assert try_window(nested, 4).splitlines() == ["def g():", "        try:", "            k = m[1]",
                                                  "        except __HOLE__:", "            pass"]
    # a clause whose try is not in the code falls back to the lines around it; no marker: unchanged
    assert try_window("def h():\n    except __HOLE__:\n        q()", 4) == "def h():\n    except __HOLE__:\n        q()"
    assert try_window("def h(): pass", 4) == "def h(): pass" and try_window(code, None) == code
    assert parse_window("structure:try=4") == ("structure", "try", 4)
    assert normalize_code(code, "whitespace:try=2") == "def f(x): try: a = open(x) e = d * 2 except __HOLE__: log(x) return None"
    with pytest.raises(Exception, match="two windows"):
        parse_window("structure:hole=2,try=3")
