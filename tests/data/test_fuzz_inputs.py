"""Fuzzing the three dataset formats and the config loaders (issue 20).

Valid files are mutated the ways real files go wrong (truncation, type swaps, byte garbage, other
encodings, duplicate and missing keys, empty files) and loaded. The only acceptable outcomes are a
clean load (whose statistics can then be computed) or a :class:`~codekd.errors.CodekdError` of one
line with a non-zero exit status: never another exception (a traceback). Bounded and derandomised,
so it runs the same in a few seconds every time.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest
import yaml
from fixtures_data import bcb_joined_folder, bcb_native_folder, devign_folder, exception_folder
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codekd.errors import CodekdError

FUZZ = settings(max_examples=120, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

FORMATS = {
    "defect": (devign_folder, "defect"),
    "exception": (exception_folder, "exception"),
    "clone-native": (bcb_native_folder, "clone"),
    "clone-joined": (bcb_joined_folder, "clone"),
}

SWAPS = [None, 0, 1, -1, 7, 1.5, float("nan"), True, "", " ", "x", "OSError", [], [1], {}, {"a": 1}, 10 ** 30,
         "\ud800", "__HOLE__ __HOLE__", "\x00", "é" * 3]


def _json_line_mutation(line: str, key_choice: int, value_choice: int, how: str) -> str:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError:
        return line
    if not isinstance(obj, dict) or not obj:
        return line
    key = sorted(obj)[key_choice % len(obj)]
    if how == "swap":
        obj[key] = SWAPS[value_choice % len(SWAPS)]
        return json.dumps(obj, ensure_ascii=value_choice % 2 == 0)
    if how == "drop":
        del obj[key]
        return json.dumps(obj)
    # duplicate: the key written twice, with another value the second time
    body = json.dumps(obj)
    return body[:-1] + f', {json.dumps(key)}: {json.dumps(SWAPS[value_choice % len(SWAPS)])}' + "}"


def _mutate(data: bytes, op: str, a: int, b: int, c: int) -> bytes:
    if op == "truncate":
        return data[: a % (len(data) + 1)]
    if op == "garbage":
        pos = a % (len(data) + 1)
        junk = bytes([(b * 37 + i * 11) % 256 for i in range(1 + c % 8)])
        return data[:pos] + junk + data[pos:]
    if op == "empty":
        return b""
    if op == "utf16":
        return data.decode("utf-8", "replace").encode("utf-16")
    if op == "latin1":
        return data.decode("utf-8", "replace").replace("a", "é").encode("latin-1", "replace")
    if op == "bom":
        return b"\xef\xbb\xbf" + data
    if op == "crlf":
        return data.replace(b"\n", b"\r\n")
    lines = data.decode("utf-8", "replace").split("\n")
    if not lines:
        return data
    i = a % len(lines)
    if op == "dup-line":
        lines.insert(i, lines[i])
    else:  # swap / drop / dup-key on one JSON line
        lines[i] = _json_line_mutation(lines[i], b, c, {"json-swap": "swap", "json-drop": "drop"}.get(op, "dup"))
    return "\n".join(lines).encode("utf-8", "surrogatepass")


OPS = ["truncate", "garbage", "empty", "utf16", "latin1", "bom", "crlf", "dup-line", "json-swap", "json-drop",
       "json-dup"]
mutation = st.tuples(st.sampled_from(OPS), st.integers(0, 10 ** 6), st.integers(0, 10 ** 6), st.integers(0, 10 ** 6))


def _expect_clean_or_one_line(fn):
    try:
        return fn()
    except CodekdError as exc:
        text = str(exc)
        assert "\n" not in text and text.strip(), repr(text)
        assert exc.exit_code != 0
        return None


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzzbase")
    return {name: make(root / name) for name, (make, _) in FORMATS.items()}


@FUZZ
@given(fmt=st.sampled_from(sorted(FORMATS)), file_choice=st.integers(0, 100), muts=st.lists(mutation, min_size=1,
                                                                                           max_size=3))
def test_mutated_datasets_load_cleanly_or_fail_in_one_line(base, fmt, file_choice, muts):
    from codekd.data.check import dataset_stats
    from codekd.data.loaders import load_task_data

    work = Path(tempfile.mkdtemp(prefix="fuzz-"))
    try:
        folder = work / fmt
        shutil.copytree(base[fmt], folder)
        files = sorted(p for p in folder.iterdir() if p.is_file())
        target = files[file_choice % len(files)]
        data = target.read_bytes()
        for op, a, b, c in muts:
            data = _mutate(data, op, a, b, c)
        target.write_bytes(data)
        task = FORMATS[fmt][1]
        for skip_bad in (False, True):
            td = _expect_clean_or_one_line(lambda: load_task_data(folder, task, skip_bad=skip_bad))
            if td is not None:
                stats = dataset_stats(td)
                assert set(stats["splits"]) == {"train", "valid", "test"}
                json.dumps(stats)  # what `data check --json` prints
    finally:
        shutil.rmtree(work, ignore_errors=True)


RUN_CONFIG = {"task": "exception", "data": "data", "out": "out", "normalization": "whitespace",
              "student": {"preset": "gru-1.5m", "vocab_size": 300},
              "method": {"name": "kd", "params": {"temperature": 2.0, "alpha": 0.5}},
              "train": {"lr": 1.0e-3, "epochs": 2, "batch_size": 8, "max_length": 96}}
STUDY = {"name": "s", "out": "out", "tasks": {"exception": {"data": "data"}},
         "teachers": {"t": {"path": "teacher"}}, "students": ["gru-1.5m"],
         "methods": {"ft": {}, "kd": {"params": {"temperature": 2.0}}}, "seeds": [1],
         "train": {"epochs": 1, "max_length": 96}, "bench": {"enabled": False}}
YAML_SWAPS = [None, 0, -3, 2.5, True, "", "abc", [], [1, 2], {}, {"x": 1}, "1e400", "!!python/object:os.system"]


def _paths(obj, prefix=()):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield prefix + (k,)
            yield from _paths(v, prefix + (k,))


def _yaml_mutation(doc: dict, op: str, a: int, b: int) -> str:
    doc = json.loads(json.dumps(doc))
    paths = list(_paths(doc))
    path = paths[a % len(paths)]
    parent = doc
    for k in path[:-1]:
        parent = parent[k]
    if op == "swap":
        parent[path[-1]] = YAML_SWAPS[b % len(YAML_SWAPS)]
    elif op == "drop":
        del parent[path[-1]]
    elif op == "rename":
        parent[path[-1] + "_typo"] = parent.pop(path[-1])
    text = yaml.safe_dump(doc, sort_keys=False)
    if op == "dup":
        lines = text.splitlines()
        i = a % len(lines)
        lines.insert(i, lines[i])
        text = "\n".join(lines) + "\n"
    return text


yaml_mutation = st.tuples(st.sampled_from(["swap", "drop", "rename", "dup"]), st.integers(0, 10 ** 6),
                          st.integers(0, 10 ** 6))


@FUZZ
@given(which=st.sampled_from(["run", "study"]), edit=yaml_mutation, raw=st.lists(mutation, max_size=2))
def test_mutated_configs_load_cleanly_or_fail_in_one_line(which, edit, raw):
    from codekd.config import load_run_config
    from codekd.study.spec import expand, load_study

    work = Path(tempfile.mkdtemp(prefix="fuzzcfg-"))
    try:
        f = work / "c.yaml"
        data = _yaml_mutation(RUN_CONFIG if which == "run" else STUDY, *edit).encode("utf-8")
        for op, a, b, c in raw:
            if not op.startswith("json-"):
                data = _mutate(data, op, a, b, c)
        f.write_bytes(data)
        if which == "run":
            _expect_clean_or_one_line(lambda: load_run_config(f))
        else:
            _expect_clean_or_one_line(lambda: expand(*load_study(f)))
    finally:
        shutil.rmtree(work, ignore_errors=True)
