from __future__ import annotations

import pytest
from fixtures_data import write_jsonl

from codekd.data import load_task_data
from codekd.errors import DataError, RegistryError
from codekd.registry import Registry
from codekd.tasks import TASKS, Task, get_task, register_task


def test_builtin_tasks():
    assert {"defect", "clone", "exception"} <= set(TASKS.names())
    assert get_task("defect").metric == "accuracy" and not get_task("defect").is_pair
    assert get_task("clone").metric == "f1" and get_task("clone").is_pair
    assert get_task("exception").metric == "top1" and get_task("exception").labels_from_data


def test_registry_errors_and_suggestions():
    r = Registry("thing")
    r.register("alpha", 1)
    with pytest.raises(RegistryError, match="already registered"):
        r.register("alpha", 2)
    r.register("alpha", 3, overwrite=True)
    assert r.get("ALPHA") == 3 and "alpha" in r and len(r) == 1
    with pytest.raises(RegistryError, match="did you mean 'alpha'"):
        r.get("alpah")


def test_user_task_in_a_few_lines(tmp_path):
    task = register_task(Task(name="vuln-type", input_kind="single", labels=("none", "overflow", "uaf"),
                              metric="macro_f1", label_from_names=True), overwrite=True)
    try:
        for s in ("train", "valid", "test"):
            write_jsonl(tmp_path / f"{s}.jsonl", [{"func": "int f();", "target": "uaf"}, {"func": "int g();", "target": 0}])
        td = load_task_data(tmp_path, "vuln-type")
        assert td.task is task and list(td["train"].labels) == [2, 0]
    finally:
        TASKS.unregister("vuln-type")


def test_bad_task_definition():
    with pytest.raises(DataError, match="input_kind"):
        Task(name="x", input_kind="triple", labels=("a",))
    with pytest.raises(DataError, match="metric"):
        Task(name="x", input_kind="single", labels=("a",), metric="bleu")
