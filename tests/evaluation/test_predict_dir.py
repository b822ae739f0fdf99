"""`codekd predict MODEL FILE_OR_DIR`: function splitting (Python, C, Java), exception holes, PyTorch vs ONNX."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fixtures_models import single_thread, tiny_eval_runs  # noqa: F401  (single_thread: autouse)

from codekd.cli import main
from codekd.errors import CodekdError
from codekd.evaluation.export import export_model
from codekd.evaluation.predict import c_functions, collect_units, java_functions, predict, python_functions

PY = '''import os


def load(path):
    try:
        return open(path).read()
    except OSError:
        return None


class Store:
    @staticmethod
    def get(d, k):
        try:
            return d[k]
        except KeyError:
            return None

    def plain(self):
        def inner():
            return 2
        return inner()
'''

C = '''static int add(int a, int b) { return a + b; }
int (*pick(int k))(int, int) { return add; }
char *copy(char *dst, const char *src) {
    while ((*dst++ = *src++));
    return dst;
}
'''

JAVA = '''public class Box {
    Box() {}
    int next(int x) { return x + 1; }
    interface Shape { double area(); }
}
'''


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return tiny_eval_runs(tmp_path_factory)


@pytest.fixture()
def src(tmp_path) -> Path:
    root = tmp_path / "src"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "store.py").write_text(PY)
    (root / "util.c").write_text(C)
    (root / "Box.java").write_text(JAVA)
    (root / "broken.py").write_text("def broken(:\n")
    (root / ".hidden").mkdir()
    (root / ".hidden" / "x.py").write_text(PY)
    return root


def test_function_splitting():
    py = python_functions(PY, "store.py")
    assert [(u.name, u.line, u.end_line) for u in py] == [
        ("load", 4, 8), ("Store.get", 13, 17), ("Store.plain", 19, 22), ("Store.plain.<locals>.inner", 20, 21)]
    assert py[1].code.startswith("def get(d, k):\n    try:")  # decorator excluded, dedented
    c = c_functions(C, "util.c")
    assert [(u.name, u.line) for u in c] == [("add", 1), ("pick", 2), ("copy", 3)]  # parenthesized declarator
    assert c[2].code.endswith("return dst;\n}")
    j = java_functions(JAVA, "Box.java")
    assert [u.name for u in j] == ["Box.Box", "Box.next"]  # the interface method has no body


def test_collect_units_by_task(src):
    units, skipped, n = collect_units(src, task="exception")
    assert n == 2 and [s["file"] for s in skipped] == ["broken.py"]  # .py only; hidden folder skipped
    assert [(u.name, u.actual) for u in units] == [("load", "OSError"), ("Store.get", "KeyError")]
    assert "except __HOLE__:" in units[0].code and "OSError" not in units[0].code
    units, _, n = collect_units(src, patterns=["*.c"])
    assert n == 1 and [u.name for u in units] == ["add", "pick", "copy"]
    units, _, _ = collect_units(src / "util.c", unit="file")
    assert len(units) == 1 and units[0].line == 1
    with pytest.raises(CodekdError):
        collect_units(src / "missing")


def test_predict_pytorch_and_onnx_agree(runs, src, tmp_path):
    res = predict(runs["gru"], src)
    assert res["task"] == "exception" and res["labels"] == ["ValueError", "KeyError", "OSError"]
    preds = res["predictions"]
    assert [(p["file"], p["line"], p["function"], p["actual"]) for p in preds] == [
        ("pkg/store.py", 4, "load", "OSError"), ("pkg/store.py", 13, "Store.get", "KeyError")]
    for p in preds:
        assert p["label"] in res["labels"] and 0 < p["probability"] <= 1 and len(p["top"]) == 3
        assert p["top"][0]["label"] == p["label"]
    export_model(runs["gru"], out=tmp_path / "onnx", int8=True)
    for model, int8 in ((tmp_path / "onnx", False), (tmp_path / "onnx" / "model.int8.onnx", False),
                        (tmp_path / "onnx", True)):
        o = predict(model, src, int8=int8)
        assert o["runtime"] == ("onnxruntime int8" if int8 or str(model).endswith("int8.onnx") else "onnxruntime fp32")
        assert [p["function"] for p in o["predictions"]] == ["load", "Store.get"]
        for a, b in zip(o["predictions"], preds):
            assert a["probability"] == pytest.approx(b["probability"], abs=0.02)


def test_cli_predict(runs, src, capsys):
    assert main(["predict", str(runs["gru"]), str(src), "--format", "table"]) == 0
    cap = capsys.readouterr()
    assert "pkg/store.py:4" in cap.out and "Store.get" in cap.out and "skipped broken.py" in cap.err
    assert main(["predict", str(runs["gru"]), str(src / "pkg"), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["files"] == 1 and len(res["predictions"]) == 2
    # a model trained on 3 classes cannot be run as a 2-label task; pair tasks are refused
    assert main(["predict", str(runs["gru"]), str(src), "--task", "defect"]) == 2
    assert main(["predict", str(runs["gru"]), str(src), "--task", "clone"]) == 2
    assert "pair" in capsys.readouterr().err
