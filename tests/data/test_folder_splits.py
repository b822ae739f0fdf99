"""A folder of code to an honest dataset: `mine-exceptions --group-by/--labels/--max-label-share/
--empty-labels`, and `data check`'s per-label counts and warnings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fixtures_data import exception_folder, write_jsonl

from codekd.cli import main
from codekd.data.builders.exceptions import mine_exceptions, parse_label_spec
from codekd.data.check import check_dataset
from codekd.errors import ConfigError, DataError

SPLITS = ("train", "valid", "test")


def _fn(name: str, label: str, salt: int) -> str:
    """A function distinct enough (own identifiers) that no two are near-duplicates."""
    v = [f"v{salt}_{j}" for j in range(4)]
    return (f"def {name}({v[0]}):\n    {v[1]} = {v[0]}.get_{salt}({salt})\n    try:\n"
            f"        return {v[1]}[{v[2]}] + {v[3]}_{salt}\n    except {label}:\n        return {salt}\n")


def _rows(out: Path) -> dict[str, list[dict]]:
    return {s: [json.loads(x) for x in (out / f"{s}.jsonl").read_text().splitlines()] for s in SPLITS}


@pytest.fixture()
def projects(tmp_path) -> Path:
    """Eight projects of six ValueError/KeyError functions; five small projects each owning a label."""
    root = tmp_path / "projects"
    salt = 0
    for p in range(8):
        funcs = []
        for k in range(6):
            salt += 1
            funcs.append(_fn(f"f{k}", ("ValueError", "KeyError")[k % 2], salt))
        (root / f"p{p}").mkdir(parents=True)
        (root / f"p{p}" / "m.py").write_text("\n\n".join(funcs))
    (root / "p0" / "n.py").write_text("\n\n".join(_fn(f"e{k}", "exceptions", 500 + k) for k in range(3)))
    for u in range(5):
        (root / f"u{u}").mkdir()
        (root / f"u{u}" / "m.py").write_text("\n\n".join(_fn(f"g{k}", f"Own{u}Error", 1000 + 10 * u + k) for k in range(2)))
    return root


@pytest.fixture()
def one_project(tmp_path) -> Path:
    """One project (pyproject.toml at its root) with twelve modules."""
    root = tmp_path / "proj"
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'pkg'\n")
    for f in range(12):
        (root / "src" / "pkg" / f"mod{f}.py").write_text(
            "\n\n".join(_fn(f"h{k}", ("ValueError", "KeyError", "OSError")[(f + k) % 3], 100 * f + k) for k in range(4)))
    return root


def test_group_by_top_dir_file_none(one_project, tmp_path):
    kw = dict(progress=False, workers=1)
    s = mine_exceptions([one_project], tmp_path / "top", **kw)
    assert s.groups == 1 and s.splits["valid"]["examples"] == 0 and s.splits["test"]["examples"] == 0
    assert any("valid split is empty (1 groups in all; --group-by file splits by file)" in w for w in s.warnings)
    s = mine_exceptions([one_project], tmp_path / "file", group_by="file", **kw)
    assert s.groups == 12 and s.examples == 48 and all(s.splits[x]["examples"] > 0 for x in SPLITS)
    where: dict[str, str] = {}
    for split, rows in _rows(tmp_path / "file").items():
        for r in rows:
            assert where.setdefault(r["path"], split) == split, f"{r['path']} in two splits"
    assert len(where) == 12 and s.options["group_by"] == "file"
    s = mine_exceptions([one_project], tmp_path / "none", group_by="none", **kw)
    assert s.groups == 48 and [s.splits[x]["groups"] for x in SPLITS] == [s.splits[x]["examples"] for x in SPLITS]
    files_in = {x: {r["path"] for r in rows} for x, rows in _rows(tmp_path / "none").items()}
    assert files_in["train"] & files_in["test"]  # by function: a file on both sides
    with pytest.raises(ConfigError, match="group_by"):
        mine_exceptions([one_project], tmp_path / "bad", group_by="dir", **kw)


def test_labels_without_training_examples_are_dropped(projects, tmp_path):
    kw = dict(progress=False, workers=1)
    keep = mine_exceptions([projects], tmp_path / "keep", lowercase_labels=False, **kw)
    assert len(keep.labels) == 7 and keep.lowercase_names_skipped == {"exceptions": 3}
    assert "exceptions" in mine_exceptions([projects], tmp_path / "lower", **kw).labels
    empty = {lab for lab in keep.labels if keep.splits["train"]["per_label"][lab] == 0}
    assert empty and empty <= {f"Own{u}Error" for u in range(5)}
    assert any(f"label {sorted(empty)[0]} has no training example" in w for w in keep.warnings)

    drop = mine_exceptions([projects], tmp_path / "drop", empty_labels="drop", lowercase_labels=False, **kw)
    assert empty <= set(drop.dropped_labels) and not set(drop.labels) & set(drop.dropped_labels)
    assert json.loads((tmp_path / "drop" / "labels.json").read_text()) == drop.labels
    rows = _rows(tmp_path / "drop")
    train_labels = {r["target"] for r in rows["train"]}
    assert set(drop.labels) == train_labels  # every label left has training examples
    assert {r["target"] for x in SPLITS for r in rows[x]} <= train_labels
    assert drop.examples == sum(len(r) for r in rows.values()) == 48 + 2 * (5 - len(drop.dropped_labels))
    assert "exceptions" not in {r["target"] for x in SPLITS for r in rows[x]}
    lab = sorted(empty)[0]
    w = drop.dropped_labels[lab]
    assert w["train"] == 0 and sum(w.values()) == 2
    assert (f"dropped label {lab}: no training example (2 examples: 0 train, {w['valid']} valid, {w['test']} test)"
            in drop.warnings)
    with pytest.raises(DataError, match=f"labels without a training example after the split: .*{lab}"):
        mine_exceptions([projects], tmp_path / "err", empty_labels="error", lowercase_labels=False, **kw)
    # a label one group holds is no frequent label with max_label_share < 1
    shared = mine_exceptions([projects], tmp_path / "share", max_label_share=0.5, lowercase_labels=False, **kw)
    assert shared.labels == ["KeyError", "ValueError"] and not shared.dropped_labels


def test_label_specs(tmp_path):
    assert parse_label_spec("frequent", 7) == ("frequent", 7, None)
    assert parse_label_spec("top-3") == ("frequent", 3, None)
    assert parse_label_spec("cubert", 20) == ("cubert", 20, None)
    (tmp_path / "l.json").write_text('["KeyError", "OSError"]')
    (tmp_path / "l.txt").write_text("# mine\nKeyError\n\nOSError  # files\n")
    assert parse_label_spec(str(tmp_path / "l.json")) == ("frequent", 2, ("KeyError", "OSError"))
    assert parse_label_spec(str(tmp_path / "l.txt")) == ("frequent", 2, ("KeyError", "OSError"))
    (tmp_path / "bad.txt").write_text("KeyError\nnot a name\n")
    (tmp_path / "dup.json").write_text('["KeyError", "KeyError"]')
    for spec, msg in (("top-0", "at least 1"), ("nofile", "no such file"), (str(tmp_path / "bad.txt"), "not an exception name"),
                      (str(tmp_path / "dup.json"), "listed twice")):
        with pytest.raises(ConfigError, match=msg):
            parse_label_spec(spec)


def test_cli_mine_exceptions_options(projects, tmp_path, capsys, monkeypatch):
    (tmp_path / "labels.txt").write_text("KeyError\nOwn1Error\nMissingError\n")
    out = tmp_path / "o"
    assert main(["data", "mine-exceptions", str(projects), "--out", str(out), "--labels", str(tmp_path / "labels.txt"),
                 "--workers", "1"]) == 0
    text = capsys.readouterr().out
    labels = json.loads((out / "labels.json").read_text())
    assert "KeyError" in labels and "MissingError" not in labels and "grouped by top-dir" in text
    assert "dropped label MissingError: no training example (0 examples" in text
    st = json.loads((out / "stats.json").read_text())
    assert st["options"]["labels_given"] == ["KeyError", "Own1Error", "MissingError"]
    assert st["options"]["max_label_share"] == 0.5 and st["options"]["empty_labels"] == "drop"
    assert main(["data", "mine-exceptions", str(projects), "--out", str(tmp_path / "o2"), "--labels", "top-1",
                 "--group-by", "file", "--max-label-share", "1", "--workers", "1"]) == 0
    assert len(json.loads((tmp_path / "o2" / "labels.json").read_text())) == 1
    assert "grouped by file" in capsys.readouterr().out
    for extra, has in (([], False), (["--lowercase-labels"], True)):  # 'except exceptions:' catches a variable
        assert main(["data", "mine-exceptions", str(projects), "--out", str(tmp_path / f"o{has}"), "--labels", "top-3",
                     "--max-label-share", "1", "--empty-labels", "keep", "--workers", "1", *extra]) == 0
        assert ("exceptions" in json.loads((tmp_path / f"o{has}" / "labels.json").read_text())) == has
    capsys.readouterr()
    for bad, msg in ((["--group-by", "dir"], "group_by"), (["--labels", "nofile"], "--labels must be"),
                     (["--empty-labels", "maybe"], "empty_labels")):
        assert main(["data", "mine-exceptions", str(projects), "--out", str(tmp_path / "o3"), *bad]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and msg in err
    monkeypatch.setenv("COLUMNS", "250")  # option names are cut in a narrow help table
    monkeypatch.setenv("TERMINAL_WIDTH", "250")
    help_text = _help(capsys, ["data", "mine-exceptions", "--help"])
    for opt in ("--group-by", "top-dir", "--labels", "top-K", "--max-label-share", "--empty-labels"):
        assert opt in help_text


def _help(capsys, args) -> str:
    assert main(args) == 0
    return capsys.readouterr().out


def test_check_prints_counts_per_split_and_warns(tmp_path, capsys):
    small = exception_folder(tmp_path / "small")  # 3 / 1 / 1 examples
    st = check_dataset(small, "exception")
    w = "\n".join(st["warnings"])
    assert "2 of 3 labels have no example in the valid split (OSError, KeyError)" in w
    assert "the train split has 3 examples (under 100)" in w and "the test split has 1 examples" in w
    assert "3 labels have fewer than 10 training examples: OSError (1), ValueError (1), KeyError (1)" in w
    assert main(["data", "check", str(small), "--task", "exception"]) == 0
    out = capsys.readouterr().out
    assert "examples per label and split" in out and "no example in the test split" in out
    # a balanced dataset of 120 examples a split draws no warning
    big = tmp_path / "big"
    big.mkdir()
    (big / "labels.json").write_text(json.dumps(["OSError", "ValueError", "KeyError"]))
    for s in SPLITS:
        write_jsonl(big / f"{s}.jsonl", [{"func": f"def f{i}():\n    try: g()\n    except __HOLE__: pass\n",
                                          "target": i % 3} for i in range(120)])
    assert check_dataset(big, "exception")["warnings"] == []
    write_jsonl(big / "train.jsonl", [{"func": f"def f{i}():\n    try: g()\n    except __HOLE__: pass\n",
                                       "target": 2 if i < 5 else i % 2} for i in range(120)])
    assert check_dataset(big, "exception")["warnings"] == ["1 labels have fewer than 10 training examples: KeyError (5)"]
