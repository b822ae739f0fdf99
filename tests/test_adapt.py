"""`codekd adapt` end to end on tiny models: a folder of code written here (several top-level
projects), the fixture's public set and tiny teacher; the split by project, transfer rows only from
training groups, the table against TF-IDF and the teachers, the export, a resumed re-run, bad input."""

from __future__ import annotations

import json
import textwrap

import pytest
import torch

from codekd.adapt import adapt, mine_own, table_text
from codekd.errors import DataError

LABELS = ["ValueError", "KeyError", "OSError"]


def _write_projects(root, n_projects=8, per_file=6):
    """Projects of real-looking functions, each catching one of the labels or a project's own type."""
    kinds = {"ValueError": "int(text)", "KeyError": "table[key]", "OSError": "open(path).read()",
             "ConfigError": "load_config(path)"}
    for p in range(n_projects):
        pkg = root / f"proj{p}" / f"proj{p}"
        pkg.mkdir(parents=True)
        (root / f"proj{p}" / "pyproject.toml").write_text(f"[project]\nname = 'proj{p}'\n")
        body = []
        for i in range(per_file):
            exc = list(kinds)[(p + i) % len(kinds)]
            body.append(textwrap.dedent(f"""
                def func_{p}_{i}(text, table, key, path):
                    value = {p * 10 + i}
                    try:
                        result = {kinds[exc]}
                    except {exc}:
                        result = None
                    return result, value
                """))
        (pkg / "__init__.py").write_text("class ConfigError(Exception):\n    pass\n" + "\n".join(body))
    return root


@pytest.fixture(scope="module", autouse=True)
def _threads():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_mine_own_keeps_the_teacher_labels_and_holds_out_groups(tmp_path):
    code = _write_projects(tmp_path / "code")
    m = mine_own(code, tmp_path / "data", LABELS, group_by="top-dir", seed=0, progress=False)
    assert json.loads((m["own"] / "labels.json").read_text()) == LABELS  # the teacher's head, in its order
    rows = {s: [json.loads(x) for x in (m["own"] / f"{s}.jsonl").read_text().splitlines()] for s in ("train", "valid", "test")}
    groups = {s: {r["project"] for r in rows[s]} for s in rows}
    assert not (groups["train"] & groups["test"]) and not (groups["train"] & groups["valid"])
    assert m["transfer_candidates"] and all(r["target"] == "ConfigError" for r in m["transfer_candidates"])
    held = groups["valid"] | groups["test"]
    assert all(r["project"] not in held for r in m["transfer_candidates"])  # no held-out function leaks in


def test_adapt_end_to_end_and_resume(tmp_path, exc_data, bert_teacher):
    code = _write_projects(tmp_path / "code")
    kw = dict(teacher=bert_teacher, public=exc_data, students=("gru-1.5m",), method="kd", minutes=0.15,
              student_sets=["student.hidden=16", "student.layers=1", "train.batch_size=8"], progress=False,
              say=lambda _t: None)
    s = adapt(code, tmp_path / "out", **kw)
    names = [r["model"] for r in s["table"]]
    assert names[0].startswith("majority class")
    tfidf = [n for n in names if n.startswith("TF-IDF")]  # your split / public + yours x the teacher's input / whole
    assert len(tfidf) == 4 and sum("your train split" in n for n in tfidf) == 2
    assert sum("whole function" in n for n in tfidf) == 2
    bar = max(r["test_top1"] for r in s["table"] if r["model"].startswith("TF-IDF"))
    assert s["above_tfidf"] == (max(r["test_top1"] for r in s["table"] if r["model"] == "gru-1.5m kd") > bar)
    assert "teacher, public" in names and "teacher, continued on your code" in names and "gru-1.5m kd" in names
    assert sum(bool(r.get("kept")) for r in s["table"]) == 1
    assert s["transfer_examples"] > 0 and s["counts"]["test"] > 0
    mixed = [json.loads(x) for x in (tmp_path / "out" / "data" / "mixed" / "train.jsonl").read_text().splitlines()]
    transfer = [r for r in mixed if r.get("transfer")]
    assert transfer and all(r["target"] in LABELS and r["caught"] == "ConfigError" for r in transfer)
    assert (tmp_path / "out" / "export" / "export.json").is_file()
    assert json.loads((tmp_path / "out" / "adapt.json").read_text())["verdict"] == s["verdict"]
    assert "| gru-1.5m kd |" in table_text(s)
    again = adapt(code, tmp_path / "out", **kw)  # every step's output is there: the same table
    assert [r["test_top1"] for r in again["table"]] == [r["test_top1"] for r in s["table"]]


def test_adapt_refuses_bad_input(tmp_path, exc_data, bert_teacher):
    with pytest.raises(DataError, match="no such folder"):
        adapt(tmp_path / "missing", tmp_path / "o", teacher=bert_teacher, public=exc_data, progress=False)
    empty = tmp_path / "empty" / "one"
    empty.mkdir(parents=True)
    (empty / "m.py").write_text("def f():\n    return 1\n")
    with pytest.raises(DataError):
        adapt(tmp_path / "empty", tmp_path / "o2", teacher=bert_teacher, public=exc_data, progress=False,
              say=lambda _t: None)


def _rows(path):
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def test_held_out_near_copies_of_public_code_are_removed(tmp_path):
    """A held-out function copied from a public training function (one name changed) is not unseen code:
    it leaves valid/test, listed with its match; a function of its own stays; training rows all stay."""
    from codekd.adapt import unseen_held_out

    copied = textwrap.dedent("""
        def parse_entries(text, table, strict=False):
            entries = []
            for line in text.splitlines():
                name, _, value = line.partition('=')
                try:
                    entries.append((name.strip(), table[value.strip()]))
                except __HOLE__:
                    if strict:
                        raise
            return entries
        """)
    own_func = "def g(path):\n    try:\n        return open(path).read()\n    except __HOLE__:\n        return ''\n"
    public, own = tmp_path / "public", tmp_path / "own"
    for d in (public, own):
        d.mkdir()
        (d / "labels.json").write_text(json.dumps(LABELS))
    (public / "train.jsonl").write_text(json.dumps({"idx": "p1", "func": copied, "target": "KeyError",
                                                    "project": "lib"}) + "\n")
    row = {"idx": "o1", "func": copied.replace("entries", "items"), "target": "KeyError", "project": "mine"}
    (own / "train.jsonl").write_text(json.dumps({**row, "idx": "o0"}) + "\n")
    (own / "valid.jsonl").write_text(json.dumps(row) + "\n" + json.dumps({**row, "idx": "o2", "func": own_func,
                                                                          "target": "OSError"}) + "\n")
    (own / "test.jsonl").write_text(json.dumps({**row, "idx": "o3", "func": own_func, "target": "OSError"}) + "\n")
    r = unseen_held_out(own, public, tmp_path / "data")
    assert [x["idx"] for x in _rows(r["dir"] / "valid.jsonl")] == ["o2"]
    assert [x["idx"] for x in _rows(r["dir"] / "test.jsonl")] == ["o3"]
    assert [x["idx"] for x in _rows(r["dir"] / "train.jsonl")] == ["o0"]  # your training rows are not touched
    (gone,) = r["removed"]
    assert gone["idx"] == "o1" and gone["public_idx"] == "p1" and 0.7 <= gone["jaccard"] < 1.0
    assert r["counts"] == {"valid": {"mined": 2, "kept": 1}, "test": {"mined": 1, "kept": 1}}
    strict = unseen_held_out(own, public, tmp_path / "data", threshold=1.0)  # another bound: computed again
    assert strict["counts"]["valid"]["kept"] == 2
