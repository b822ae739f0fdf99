"""Scanning a codebase: `codekd predict` as JSON lines and SARIF 2.1.0 (validated against the official
schema), `predict --lint` for except clauses, `predict --pairs` for clone models, and bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema  # the dev extra's validator; a missing one fails the suite rather than skipping
import numpy as np
import pytest
from fixtures_data import bcb_joined_folder, devign_folder
from fixtures_models import TINY_STUDENTS, single_thread, tiny_eval_runs  # noqa: F401  (single_thread: autouse)

from codekd.cli import main
from codekd.data.builders.exception_mining import extract_examples
from codekd.errors import CodekdError
from codekd.evaluation import inference as ev
from codekd.evaluation.predict import except_clause_units, lint, predict
from codekd.evaluation.sarif import to_sarif

SCHEMAS = Path(__file__).parent / "data"

CODE = '''def get(d, k):
    try:
        return d[k]
    except OSError:
        return None


def load(path):
    try:
        return open(path).read()
    except OSError:
        return None
    except (KeyError, ValueError):
        pass


class Box:
    def outer(self, x):
        def inner(y):
            try:
                return int(y)
            except ValueError:
                return 0
        try:
            return inner(x)
        except ConstructError:
            raise
'''


def _validators():
    out = []
    for name in ("sarif-schema-2.1.0.json", "sarif-schema-2.1.0-errata01-os.json"):
        schema = json.loads((SCHEMAS / name).read_text())
        cls = jsonschema.validators.validator_for(schema)  # draft-07 / draft-04, as each declares
        cls.check_schema(schema)
        out.append(cls(schema))
    assert {type(v).__name__ for v in out} == {"Draft7Validator", "Draft4Validator"}
    return out


def _valid(doc) -> None:
    for v in _validators():
        errors = sorted(v.iter_errors(doc), key=lambda e: list(e.path))
        assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]


def _invalid(doc) -> None:
    for v in _validators():
        assert not v.is_valid(doc)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return tiny_eval_runs(tmp_path_factory)


@pytest.fixture(scope="module")
def other_runs(tmp_path_factory):
    """One-step defect and clone runs (tiny GRU students)."""
    from codekd.config import load_run_config
    from codekd.engine.runs import distill

    root = tmp_path_factory.mktemp("scan_runs")
    sets = [*TINY_STUDENTS["gru"], "student.vocab_size=300", "train.batch_size=8", "train.epochs=1",
            "train.max_steps=1", "train.max_length=64", "train.eval_batch_size=16", "method.name=ft"]
    out = {}
    for task, folder in (("defect", devign_folder(root / "devign")), ("clone", bcb_joined_folder(root / "bcb"))):
        out[task] = root / f"run_{task}"
        distill(load_run_config(None, sets, task=task, data=str(folder), out=str(out[task])), progress=False)
    return out


@pytest.fixture()
def code(tmp_path) -> Path:
    """A folder of code inside a (fake) git work tree."""
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    root = tmp_path / "repo" / "code"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "m.py").write_text(CODE)
    (root / "pkg" / "broken.py").write_text("def broken(:\n")
    (root / "lib dir").mkdir()
    (root / "lib dir" / "ünï.py").write_text("x = 1\n\ndef conv(s):\n    try:\n        return float(s)\n"
                                             "    except ValueError:\n        return 0.0\n")
    (root / "util.c").write_text("int add(int a, int b) { return a + b; }\nint neg(int a) { return -a; }\n")
    return root


# ------------------------------------------------------------------------------------ clause masking

def test_except_clause_units_mask_like_the_miner():
    units, skipped = except_clause_units(CODE, "m.py")
    assert [(u.name, u.line, u.actual) for u in units] == [
        ("get", 4, "OSError"), ("load", 11, "OSError"), ("Box.outer.<locals>.inner", 22, "ValueError"),
        ("Box.outer", 26, "ConstructError")]
    assert skipped == {"tuple_dotted_or_expression": 1}
    # a single-name function is masked exactly as the miner masks its training example
    mined = {name: func for _, func, name, _ in extract_examples(CODE)[2]}
    assert units[0].code == mined["get"] and "except __HOLE__:" in units[0].code
    # the innermost function owns a clause; the outer function's text masks only its own type
    assert "except __HOLE__:" in units[2].code and "ValueError" not in units[2].code
    outer = units[3].code
    assert outer.startswith("def outer(self, x):") and "except __HOLE__:\n        raise" in outer
    assert "except ValueError:" in outer and "ConstructError" not in outer
    # 1-based UTF-16 columns of the caught name (SARIF's default column kind)
    assert (units[0].column, units[0].end_column) == (12, 19)
    u, _ = except_clause_units("def f():\n    try: pass\n    except KéyError: pass\n")  # é: 2 bytes, 1 unit
    assert (u[0].line, u[0].column, u[0].end_column, u[0].actual) == (3, 12, 20, "KéyError")
    u, why = except_clause_units("def f():\n    try: pass\n    except KeyError as e: pass\n"
                                 "try:\n    pass\nexcept OSError:\n    pass\n")
    assert len(u) == 1 and why == {"outside_functions": 1}


# ------------------------------------------------------------------------------------ SARIF

def test_predict_sarif_validates_against_the_schema(runs, code):
    res = predict(runs["gru"], code)
    assert [p["function"] for p in res["predictions"]] == ["conv", "get", "Box.outer.<locals>.inner"]
    doc = to_sarif(res, code)
    _valid(doc)
    run = doc["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "codekd" and driver["version"]
    assert [r["id"] for r in driver["rules"]] == ["exception/ValueError", "exception/KeyError", "exception/OSError"]
    # URIs are relative to the repository root (what GitHub code scanning resolves them against)
    assert run["originalUriBaseIds"]["SRCROOT"]["uri"] == code.parent.resolve().as_uri() + "/"
    first = run["results"][0]
    loc = first["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"] == {"uri": "code/lib%20dir/%C3%BCn%C3%AF.py", "uriBaseId": "SRCROOT"}
    assert loc["region"] == {"startLine": 3, "endLine": 7}
    pred = res["predictions"][0]
    assert first["ruleId"] == f"exception/{pred['label']}"
    assert driver["rules"][first["ruleIndex"]]["id"] == first["ruleId"]
    assert first["properties"]["score"] == pred["probability"] and first["rank"] == round(100 * pred["probability"], 2)
    assert first["kind"] == "informational" and first["level"] == "none"
    assert first["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == "conv"
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert len(notes) == 1 and "pkg/broken.py" in notes[0]["message"]["text"]
    assert notes[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "code/pkg/broken.py"
    # one file scanned: its URI still relative to the repository root
    one = to_sarif(predict(runs["gru"], code / "pkg" / "m.py"), code / "pkg" / "m.py")
    _valid(one)
    assert {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in one["runs"][0]["results"]} \
        == {"code/pkg/m.py"}
    # outside a git work tree: relative to the scanned folder
    plain = code.parent.parent / "plain"
    (plain / "pkg").mkdir(parents=True)
    (plain / "pkg" / "m.py").write_text(CODE)
    if not any((d / ".git").exists() for d in plain.resolve().parents):
        doc2 = to_sarif(predict(runs["gru"], plain), plain)
        assert doc2["runs"][0]["originalUriBaseIds"]["SRCROOT"]["uri"] == plain.resolve().as_uri() + "/"
        assert doc2["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "pkg/m.py"
    # the validation can fail: a wrong version, a line 0, a result without a message
    for breaks in (lambda d: d.update(version="2.0.0"),
                   lambda d: d["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]
                   .update(startLine=0),
                   lambda d: d["runs"][0]["results"][0].pop("message"),
                   lambda d: d["runs"][0]["tool"]["driver"].pop("name")):
        bad = json.loads(json.dumps(doc))
        breaks(bad)
        _invalid(bad)


def test_defect_predict_sarif_positive_class_is_a_finding(other_runs, code):
    res = predict(other_runs["defect"], code)
    assert res["labels"] == ["0", "1"] and [p["function"] for p in res["predictions"]] == ["add", "neg"]
    doc = to_sarif(res, code)
    _valid(doc)
    for p, r in zip(res["predictions"], doc["runs"][0]["results"]):
        assert r["ruleId"] == f"defect/{p['label']}"
        assert (r["kind"], r["level"]) == (("fail", "warning") if p["label"] == "1" else ("informational", "none"))


# ------------------------------------------------------------------------------------ lint

def _fake_logits(seen):
    """A stand-in model that reads the masked code: KeyError for d[k], OSError for open(), else ValueError."""
    def logits(self, codes, batch_size=32):
        out = []
        for (c,) in codes:
            seen.append(c)
            k = 1 if "d[k]" in c else 2 if "open(" in c else 0  # labels: ValueError, KeyError, OSError
            row = np.zeros(3, dtype=np.float32)
            row[k] = 5.0
            out.append(row)
        return np.stack(out)
    return logits


def test_lint_finds_a_planted_mismatch(runs, code, monkeypatch):
    seen: list[str] = []
    monkeypatch.setattr(ev.InferenceModel, "logits", _fake_logits(seen))
    res = lint(runs["gru"], code, threshold=0.9)
    assert (res["files"], res["clauses"], res["checked"]) == (3, 5, 4)
    assert res["not_in_labels"] == {"ConstructError": 1} and res["not_in_labels_total"] == 1 and res["not_checked"] == {"tuple_dotted_or_expression": 1}
    assert all("__HOLE__" in c for c in seen) and not any("except OSError" in c or "except ValueError:\n        return 0"
                                                        in c for c in seen)
    [f] = res["findings"]  # get() catches OSError around d[k]: the planted mismatch
    assert (f["file"], f["line"], f["function"], f["caught"], f["expected"]) == ("pkg/m.py", 4, "get", "OSError", "KeyError")
    assert f["probability"] > 0.98 and f["probability_caught"] < 0.01
    assert [t["label"] for t in f["top"]] == ["KeyError", "ValueError", "OSError"]
    assert lint(runs["gru"], code, threshold=0.999)["findings"] == []  # not confident enough
    doc = to_sarif(res, code)
    _valid(doc)
    [r] = doc["runs"][0]["results"]
    assert r["ruleId"] == "exception/KeyError" and (r["kind"], r["level"]) == ("fail", "warning")
    assert r["locations"][0]["physicalLocation"]["region"] == {"startLine": 4, "startColumn": 12, "endLine": 4,
                                                                 "endColumn": 19}
    assert "catches OSError" in r["message"]["text"] and "KeyError" in r["message"]["text"]


def test_lint_with_the_real_model_reports_every_disagreement_at_threshold_zero(runs, code):
    res = lint(runs["gru"], code, threshold=0.0)
    pred = {(p["function"], p["actual"]): p["label"] for p in predict(runs["gru"], code)["predictions"]}
    found = {(f["function"], f["caught"]) for f in res["findings"]}
    for key, label in pred.items():  # single-name functions: lint and predict see the same masked text
        assert (key in found) == (label != key[1])
    for f in res["findings"]:
        assert f["expected"] != f["caught"] and f["top"][0]["label"] == f["expected"]


# ------------------------------------------------------------------------------------ CLI

def test_cli_jsonl_sarif_lint_and_pairs(runs, other_runs, code, tmp_path, capsys):
    assert main(["predict", str(runs["gru"]), str(code)]) == 0  # JSON lines by default
    cap = capsys.readouterr()
    rows = [json.loads(x) for x in cap.out.splitlines()]
    assert [(r["file"], r["line"], r["function"]) for r in rows][1] == ("pkg/m.py", 1, "get")
    assert "skipped pkg/broken.py" in cap.err
    out = tmp_path / "scan.sarif"
    assert main(["predict", str(runs["gru"]), str(code), "--format", "sarif", "--out", str(out)]) == 0
    _valid(json.loads(out.read_text()))
    for fmt in ("sarif", "jsonl"):  # an earlier output is replaced; a file of the user's never
        assert main(["predict", str(runs["gru"]), str(code), "--format", fmt, "--out", str(out)]) == 0
    user = code / "pkg" / "m.py"
    assert main(["predict", str(runs["gru"]), str(code), "--format", "sarif", "--out", str(user)]) == 2
    assert user.read_text() == CODE and "never replaces a file of yours" in capsys.readouterr().err
    assert main(["predict", str(runs["gru"]), str(code), "--lint", "--threshold", "0", "-f", "sarif"]) == 0
    doc = json.loads(capsys.readouterr().out)
    _valid(doc)
    assert doc["runs"][0]["properties"]["threshold"] == 0.0
    pairs = tmp_path / "pairs.jsonl"
    (tmp_path / "A.java").write_text("public int one() { return 1; }")
    pairs.write_text(json.dumps({"func1": "int a() { return 1; }", "func2": "int b() { return 1; }"}) + "\n"
                     + json.dumps({"id": "p2", "file1": "A.java", "file2": str(tmp_path / "A.java")}) + "\n")
    assert main(["predict", str(other_runs["clone"]), "--pairs", str(pairs)]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [r["id"] for r in rows] == [1, "p2"] and rows[1]["file1"] == "A.java"
    assert all(r["label"] in ("0", "1") and len(r["top"]) == 2 for r in rows)


@pytest.mark.parametrize("case", ["missing", "empty", "lint-defect", "clone-dir", "pairs-exception", "bad-pairs",
                                  "format", "pairs-sarif", "other-task", "lint-other-task", "threshold"])
def test_cli_bad_inputs_are_one_line_errors(case, runs, other_runs, code, tmp_path, capsys):
    empty = tmp_path / "nopy"
    empty.mkdir()
    (empty / "notes.txt").write_text("x")
    pairs = tmp_path / "p.jsonl"
    pairs.write_text('{"func1": "a"}\n')
    args, needle = {
        "missing": ([str(runs["gru"]), str(tmp_path / "nope")], "no such file or folder"),
        "empty": ([str(runs["gru"]), str(empty)], "no source files matching *.py"),
        "lint-defect": ([str(other_runs["defect"]), str(code), "--lint"], "needs an exception-type model"),
        "clone-dir": ([str(other_runs["clone"]), str(code)], "--pairs FILE"),
        "pairs-exception": ([str(runs["gru"]), "--pairs", str(pairs)], "needs a pair-task model"),
        "bad-pairs": ([str(other_runs["clone"]), "--pairs", str(pairs)], "p.jsonl:1: a pair needs func1 and func2"),
        "format": ([str(runs["gru"]), str(code), "--format", "xml"], "unknown --format"),
        "pairs-sarif": ([str(other_runs["clone"]), "--pairs", str(pairs), "-f", "sarif"], "needs source locations"),
        "other-task": ([str(other_runs["defect"]), str(code), "--task", "exception"], "this is a 'defect' model"),
        "lint-other-task": ([str(other_runs["defect"]), str(code), "--lint", "--task", "exception"],
                            "this is a 'defect' model"),
        "threshold": ([str(runs["gru"]), str(code), "--lint", "--threshold", "2"], "threshold must be in [0, 1]"),
    }[case]
    assert main(["predict", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error:") and needle in err, err
    with pytest.raises(CodekdError):
        lint(runs["gru"], empty)
