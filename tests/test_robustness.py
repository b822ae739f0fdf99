"""Issue 20: bad inputs and faults answer with one line and the right exit status, and nothing the
user had is renamed, replaced or deleted.

Each test feeds the bad input as a user would (through the CLI, in this process) or injects the
fault (a small or read-only tmpfs where the test may mount one, a file-size limit), and checks the
one-line message, the exit status (2: the input; 1: the machine) and that the user's files are as
they were.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from fixtures_data import bcb_native_folder, devign_folder, exception_folder, write_jsonl
from fixtures_models import single_thread, tiny_student_run  # noqa: F401  (module-scoped one-thread fixture)
from robust_helpers import cli, dead_pid, one_line, small_mount, snapshot

TINY_GRU = ["--set", "student.hidden=16", "--set", "student.layers=2", "--set", "student.vocab_size=300",
            "--set", "train.max_steps=2", "--set", "train.batch_size=8", "--set", "train.max_length=96",
            "--set", "train.eval_batch_size=16", "--epochs", "1"]


def distill_args(data, out, task="exception", method="ft", *extra):
    return ["distill", "--student", "gru-1.5m", "--method", method, "--data", data, "--task", task, "--out", out,
            *TINY_GRU, *extra]


@pytest.fixture(scope="module")
def gru_run(tmp_path_factory, exc_data):
    return tiny_student_run(exc_data, tmp_path_factory.mktemp("gru_run") / "run")


@pytest.fixture(scope="module")
def cache(tmp_path_factory, exc_data, bert_teacher):
    from codekd.engine.teacher_cache import build_teacher_cache

    out = tmp_path_factory.mktemp("cache") / "cache"
    build_teacher_cache(bert_teacher, exc_data, "exception", out, splits=["train"], max_length=96, progress=False)
    return out


# ------------------------------------------------------------------------- user data destroyed or hidden

def _out_commands(kind, tmp_path, exc_data, bert_teacher, out):
    return {
        "vocab": ["vocab", "train", "--data", exc_data, "--task", "exception", "--size", "300", "--out", out],
        "cache": ["teacher", "cache", "--teacher", bert_teacher, "--data", exc_data, "--task", "exception",
                  "--out", out],
        "distill": distill_args(exc_data, out),
        "finetune": ["teacher", "finetune", "--teacher", bert_teacher, "--data", exc_data, "--task", "exception",
                     "--out", out, "--epochs", "1"],
    }[kind]


@pytest.mark.parametrize("kind", ["vocab", "cache", "distill", "finetune"])
def test_out_that_is_a_user_file_is_refused_and_untouched(tmp_path, capsys, exc_data, bert_teacher, kind):
    user = tmp_path / "mine.txt"
    user.write_text("my notes\n")
    before = snapshot(tmp_path)
    code, out, err = cli(capsys, *_out_commands(kind, tmp_path, exc_data, bert_teacher, user))
    line = one_line(err)
    assert code == 2 and "exists and is not a folder" in line and str(user) in line
    assert snapshot(tmp_path) == before  # not renamed, not hidden, nothing written beside it
    assert "wrote" not in out


@pytest.mark.parametrize("kind", ["vocab", "cache", "distill"])
def test_out_that_is_a_user_folder_is_refused_and_untouched(tmp_path, capsys, exc_data, bert_teacher, kind):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "thesis.tex").write_text("\\section{x}\n")
    before = snapshot(tmp_path)
    code, _, err = cli(capsys, *_out_commands(kind, tmp_path, exc_data, bert_teacher, folder))
    line = one_line(err)
    assert code == 2 and "is not a codekd" in line
    assert snapshot(tmp_path) == before


def test_own_outputs_are_still_replaced_and_leave_nothing_hidden(tmp_path, capsys, exc_data):
    out = tmp_path / "tok"
    args = ["vocab", "train", "--data", exc_data, "--task", "exception", "--size", "300", "--out", out]
    assert cli(capsys, *args)[0] == 0
    assert cli(capsys, *args, "--min-frequency", "1")[0] == 0  # a codekd vocabulary folder: replaced
    assert json.loads((out / "codekd_vocab.json").read_text())["min_frequency"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tok"]


def test_atomic_dir_refuses_links_and_tidy_repairs_an_interrupted_replace(tmp_path):
    from codekd.errors import OutputError
    from codekd.io import atomic_dir, tidy

    target = tmp_path / "real"
    target.mkdir()
    (tmp_path / "link").symlink_to(target)
    with pytest.raises(OutputError, match="is a link"):
        with atomic_dir(tmp_path / "link", marker="m"):
            pass
    out = tmp_path / "v"
    with atomic_dir(out, marker="m") as t:
        (t / "m").write_text("1")
    # a kill between the two renames of the fallback path: only .v.old-PID is left, and a temporary folder
    pid = dead_pid()
    (out).rename(tmp_path / f".v.old-{pid}")
    (tmp_path / f".v.{pid}-abcdefgh.tmp").mkdir()
    (tmp_path / f".v.{pid}-abcdefgh.tmp" / "half").write_text("x")
    done = tidy(tmp_path, "v")
    assert (out / "m").read_text() == "1" and len(done) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "real", "v"]
    # a live process's temporary folder is never touched
    mine = tmp_path / ".v.1-abcdefgh.tmp"  # pid 1 is alive
    mine.mkdir()
    tidy(tmp_path, "v")
    assert mine.is_dir()


# ------------------------------------------------------------------------- silently wrong results

def test_teacher_head_with_another_label_count_is_refused(tmp_path, capsys, bert_teacher):
    data = devign_folder(tmp_path / "devign")  # 2 labels; the teacher's head has 3
    for args in (distill_args(data, tmp_path / "run", "defect", "kd", "--teacher", bert_teacher),
                 ["teacher", "cache", "--teacher", bert_teacher, "--data", data, "--task", "defect",
                  "--out", tmp_path / "cache"]):
        code, _, err = cli(capsys, *args)
        line = one_line(err)
        assert code == 2 and "has 3 labels but the task data has 2" in line
    assert not (tmp_path / "cache").exists()


def test_evaluate_refuses_another_task_and_zero_examples(tmp_path, capsys, gru_run, monkeypatch):
    data = devign_folder(tmp_path / "devign")
    code, _, err = cli(capsys, "evaluate", gru_run, "--data", data, "--task", "defect")
    assert code == 2 and "trained for the task 'exception', not 'defect'" in one_line(err)
    code, _, err = cli(capsys, "evaluate", gru_run, "--max-examples", "0")
    assert code == 2 and "max_examples must be at least 1" in one_line(err)
    monkeypatch.chdir(tmp_path)
    code, _, err = cli(capsys, "evaluate", "runs/nosuch-run")
    assert code == 2 and "no such run, model or export folder" in one_line(err)


@pytest.mark.parametrize("cmd", ["check", "baseline", "vocab"])
def test_fraction_above_one_is_refused(tmp_path, capsys, cmd):
    data = devign_folder(tmp_path / "d")
    args = {"check": ["data", "check", data, "--task", "defect"],
            "baseline": ["data", "baseline", data, "--task", "defect"],
            "vocab": ["vocab", "train", "--data", data, "--task", "defect", "--size", "300", "--out", tmp_path / "t"]}
    for bad in ("2", "5"):
        code, _, err = cli(capsys, *args[cmd], "--fraction", bad)
        assert code == 2 and "fraction must be in (0, 1]" in one_line(err)
    assert not (tmp_path / "t").exists()


def test_single_class_training_split_is_refused(tmp_path, capsys, gru_run, exc_data):
    data = devign_folder(tmp_path / "d")
    write_jsonl(data / "train.jsonl", [{"func": f"int f{i}(void) {{ return {i}; }}", "target": 1} for i in range(4)])
    before = snapshot(data)
    for args in (distill_args(data, tmp_path / "run", "defect"), ["data", "baseline", data, "--task", "defect"]):
        code, _, err = cli(capsys, *args)
        assert code == 2 and "every training example has the label '1'" in one_line(err)
    assert snapshot(data) == before and not (tmp_path / "run").exists()
    # evaluating on a split of one class works, with a warning that its scores say little
    one = tmp_path / "one"
    shutil.copytree(exc_data, one)
    rows = [json.loads(x) for x in (one / "test.jsonl").read_text().splitlines()]
    write_jsonl(one / "test.jsonl", [{**r, "target": "KeyError"} for r in rows])
    code, out, _ = cli(capsys, "evaluate", gru_run, "--data", one, "--out", tmp_path / "e.json")
    assert code == 0 and "every example of the test split has the label 'KeyError'" in out


def test_inconsistent_datasets_name_the_file_and_line(tmp_path, capsys):
    d = devign_folder(tmp_path / "d")
    write_jsonl(d / "test.jsonl", [{"func": "int other(void) { return 1; }", "target": 0, "idx": "train2"}])
    code, _, err = cli(capsys, "data", "check", d, "--task", "defect")
    line = one_line(err)
    assert code == 2 and "test.jsonl:1: id 'train2' is also on train.jsonl:3 with different code" in line
    c = bcb_native_folder(tmp_path / "c")
    write_jsonl(c / "train.jsonl", [{"func1": "a", "func2": "b", "target": 1}])
    code, _, err = cli(capsys, "data", "check", c, "--task", "clone")
    assert code == 2 and "both a native clone dataset" in one_line(err) and "train.jsonl" in err
    e = exception_folder(tmp_path / "e")
    # two markers stand for one label (the miners mask every clause catching that type): accepted
    write_jsonl(e / "valid.jsonl", [{"func": "try: f()\nexcept __HOLE__: pass\nexcept __HOLE__: pass", "target": 0}])
    code, _, err = cli(capsys, "data", "check", e, "--task", "exception")
    assert code == 0, err
    write_jsonl(e / "valid.jsonl", [{"func": "try: f()\nexcept ValueError: pass", "target": 0}])
    code, _, err = cli(capsys, "data", "check", e, "--task", "exception")
    assert code == 2 and "valid.jsonl:1: function has no __HOLE__ marker" in one_line(err)


# ------------------------------------------------------------------------- wrong or vague messages

def test_files_that_are_folders_are_named_as_such(tmp_path, capsys):
    d = devign_folder(tmp_path / "d")
    (d / "train.jsonl").unlink()
    (d / "train.jsonl").mkdir()
    code, _, err = cli(capsys, "data", "check", d, "--task", "defect")
    assert code == 2 and "train.jsonl: is a folder, not a split file" in one_line(err)
    e = exception_folder(tmp_path / "e")
    (e / "labels.json").unlink()
    (e / "labels.json").mkdir()
    code, _, err = cli(capsys, "data", "check", e, "--task", "exception")
    assert code == 2 and "labels.json: is a folder" in one_line(err)
    c = bcb_native_folder(tmp_path / "c")
    (c / "data.jsonl").unlink()
    (c / "data.jsonl").mkdir()
    code, _, err = cli(capsys, "data", "check", c, "--task", "clone")
    assert code == 2 and "data.jsonl: is a folder" in one_line(err)


def test_malformed_json_messages_read_well(tmp_path, capsys):
    d = devign_folder(tmp_path / "d")
    (d / "valid.jsonl").write_text('{"func": "int a;", "target": 0}\n{"func": "unterminated')
    code, _, err = cli(capsys, "data", "check", d, "--task", "defect")
    line = one_line(err)
    assert code == 2 and "valid.jsonl:2: malformed JSON: Unterminated string starting at column 10" in line
    assert "at at" not in line
    (d / "valid.jsonl").write_text('{"func": "int a;", "target": 0, "target": 1}\n')
    code, _, err = cli(capsys, "data", "check", d, "--task", "defect")
    assert code == 2 and "key 'target' is given twice" in one_line(err)


def test_bad_values_of_settings_fail_before_any_work_and_name_the_field(tmp_path, capsys, exc_data):
    out = tmp_path / "run"
    code, _, err = cli(capsys, *distill_args(exc_data, out, "exception", "kd", "--set",
                                              "method.params.temperature=abc"))
    assert code == 2 and "parameter temperature must be a number, got str 'abc'" in one_line(err)
    code, _, err = cli(capsys, *distill_args(exc_data, out, "exception", "kd", "--set", "method.params.temperature=0"))
    assert code == 2 and "temperature must be > 0" in one_line(err)
    code, _, err = cli(capsys, *distill_args(exc_data, out, "exception", "ft", "--set", "train.epochs=abc"))
    line = one_line(err)
    assert code == 2 and line.startswith("error: --set: ") and "train.epochs" in line and "'abc'" in line
    cfg = tmp_path / "c.yaml"
    cfg.write_text("train:\n  lr: 1.0e-3\n  lr_typo: 2\n")
    code, _, err = cli(capsys, *distill_args(exc_data, out, "exception", "ft", "--config", cfg))
    assert code == 2 and f"{cfg}: invalid config: train.lr_typo: Extra inputs" in one_line(err)
    cfg.write_text("train:\n  lr: 1.0e-3\n  lr: 2.0e-3\n")
    code, _, err = cli(capsys, *distill_args(exc_data, out, "exception", "ft", "--config", cfg))
    assert code == 2 and f"{cfg}:3: YAML error: key 'lr' is given twice" in one_line(err)
    assert not out.exists()


def test_stale_cache_says_what_differs_and_a_cache_alone_is_enough(tmp_path, capsys, exc_data, cache, bert_teacher):
    code, _, err = cli(capsys, *distill_args(exc_data, tmp_path / "r1", "exception", "kd", "--teacher", bert_teacher,
                                             "--teacher-cache", cache, "--set", "train.max_length=64"))
    line = one_line(err)
    assert code == 2 and "stale teacher cache: max_length 96 in the cache, 64 now" in line
    data2 = tmp_path / "data2"
    shutil.copytree(exc_data, data2)
    with open(data2 / "valid.jsonl", "a") as fh:
        fh.write(json.dumps({"func": "try: f()\nexcept __HOLE__: pass", "target": 0, "idx": "new"}) + "\n")
    code, _, err = cli(capsys, *distill_args(data2, tmp_path / "r2", "exception", "kd", "--teacher", bert_teacher,
                                             "--teacher-cache", cache))
    assert code == 2 and "data file valid.jsonl changed" in one_line(err)
    # --teacher-cache alone: the cache names its teacher (checked, never run)
    code, out, err = cli(capsys, *distill_args(exc_data, tmp_path / "r3", "exception", "kd", "--teacher-cache", cache))
    assert code == 0, err
    m = json.loads((tmp_path / "r3" / "metrics.json").read_text())
    assert m["teacher_cache"] is True and m["status"] == "done"


# ------------------------------------------------------------------------- tracebacks instead of one line

def _truncate(path: Path, keep: int | None = None) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2 if keep is None else keep])


@pytest.mark.parametrize("keep", [None, 0])
def test_truncated_teacher_weights(tmp_path, capsys, exc_data, bert_teacher, keep):
    t = tmp_path / "teacher"
    shutil.copytree(bert_teacher, t)
    _truncate(t / "model.safetensors", keep)
    for args in (distill_args(exc_data, tmp_path / "run", "exception", "kd", "--teacher", t),
                 ["teacher", "cache", "--teacher", t, "--data", exc_data, "--task", "exception", "--out",
                  tmp_path / "cache"]):
        code, _, err = cli(capsys, *args)
        assert code == 2 and "truncated or corrupt" in one_line(err)
    assert not (tmp_path / "cache").exists()


def test_truncated_run_files(tmp_path, capsys, gru_run, exc_data):
    run = tmp_path / "run"
    shutil.copytree(gru_run, run)
    _truncate(run / "best" / "model.safetensors")
    code, _, err = cli(capsys, "evaluate", run, "--out", tmp_path / "e.json")
    assert code == 2 and "truncated or corrupt" in one_line(err)
    shutil.rmtree(run)
    shutil.copytree(gru_run, run)
    _truncate(run / "best" / "config.json")
    code, _, err = cli(capsys, "evaluate", run, "--out", tmp_path / "e.json")
    assert code == 2 and "truncated or corrupt" in one_line(err)
    shutil.rmtree(run)
    shutil.copytree(gru_run, run)
    _truncate(run / "metrics.json")
    code, _, err = cli(capsys, *distill_args(exc_data, run))  # any distill into it reads metrics.json
    assert code == 2 and "run metrics is malformed JSON" in one_line(err)


@pytest.mark.parametrize("damage", ["safetensors", "empty-safetensors", "meta", "ids"])
def test_damaged_teacher_cache(tmp_path, capsys, exc_data, cache, damage):
    c = tmp_path / "cache"
    shutil.copytree(cache, c)
    if damage == "safetensors":
        _truncate(c / "train.safetensors")
    elif damage == "empty-safetensors":
        _truncate(c / "train.safetensors", 0)
    elif damage == "meta":
        _truncate(c / "meta.json")
    else:
        (c / "train.ids.json").write_text("not json at all")
    before = snapshot(c)
    code, _, err = cli(capsys, *distill_args(exc_data, tmp_path / "run", "exception", "kd", "--teacher-cache", c))
    line = one_line(err)
    assert code == 2 and str(c) in line
    assert ("truncated" in line or "corrupt" in line or "malformed" in line), line
    assert snapshot(c) == before


# ------------------------------------------------------------------------- the machine's faults

def test_read_only_output_filesystem_is_one_line_exit_1(tmp_path, capsys, exc_data):
    with small_mount(tmp_path / "ro", read_only=True) as ro:
        for args in (["vocab", "train", "--data", exc_data, "--task", "exception", "--size", "300",
                      "--out", ro / "tok"], distill_args(exc_data, ro / "run")):
            code, _, err = cli(capsys, *args)
            line = one_line(err)
            assert code == 1 and "read-only file system" in line and str(ro) in line


def test_disk_full_is_one_line_exit_1_and_the_rerun_continues(tmp_path, capsys, exc_data):
    """A 1.5 MB filesystem with room for the vocabulary and logs but not for a checkpoint; after the
    user frees space, the same command finishes (nothing was corrupted)."""
    with small_mount(tmp_path / "small", size_kb=1536) as small:
        filler = small / "filler"
        free = shutil.disk_usage(small).free
        filler.write_bytes(b"\0" * (free - 200_000))  # ~200 KB left: the vocabulary fits, a checkpoint does not
        args = distill_args(exc_data, small / "run", "exception", "ft", "--set", "train.checkpoint_every=1")
        code, _, err = cli(capsys, *args)
        line = one_line(err)
        assert code == 1 and "no space left on device" in line, line
        assert not (small / "run" / "metrics.json").exists()
        filler.unlink()  # the user makes room
        code, _, err = cli(capsys, *args)
        assert code == 0, err
        assert json.loads((small / "run" / "metrics.json").read_text())["status"] == "done"
        assert not [p for p in (small / "run").iterdir() if p.name.startswith(".")]  # no leftovers


def test_file_size_limit_is_a_storage_error(tmp_path):
    import resource
    import signal

    from codekd.errors import StorageError
    from codekd.io import atomic_write_text

    old_limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    try:
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, old_limit[1]))
        with pytest.raises(StorageError, match="file too large") as exc:
            atomic_write_text(tmp_path / "big.txt", "x" * 200_000)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, old_limit)
        signal.signal(signal.SIGXFSZ, old_handler)
    assert exc.value.exit_code == 1 and list(tmp_path.iterdir()) == []


def test_torch_writer_failure_on_a_full_disk_reads_no_space_left(tmp_path, monkeypatch):
    import shutil as sh
    from collections import namedtuple

    from codekd.errors import StorageError
    from codekd.io import atomic_dir

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(sh, "disk_usage", lambda p: usage(100, 100, 0))
    with pytest.raises(StorageError, match="no space left on device"):
        with atomic_dir(tmp_path / "checkpoint"):
            raise RuntimeError("[enforce fail at inline_container.cc:672] . PytorchStreamWriter failed writing "
                               "file data/0: file write failed")
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------- bookkeeping after a resume

def test_resume_counts_every_example_and_cleans_what_a_kill_left(tmp_path, exc_data):
    from codekd.config import load_run_config
    from codekd.engine.runs import distill
    from codekd.engine.trainer import Interrupted

    sets = ["student.preset=gru-1.5m", "student.hidden=16", "student.layers=2", "student.vocab_size=300",
            "train.batch_size=8", "train.epochs=1", "train.max_length=96", "train.eval_batch_size=16",
            "method.name=ft", "train.checkpoint_every=2"]

    def cfg(out):
        return load_run_config(None, sets, task="exception", data=str(exc_data), out=str(out))

    full = distill(cfg(tmp_path / "full"), progress=False)
    cut = tmp_path / "cut"
    with pytest.raises(Interrupted):
        distill(cfg(cut), progress=False, stop_after=3)
    # what a kill -9 at the worst moments leaves: the checkpoint hidden between its two renames, and
    # the temporary folders of the checkpoint, best/, the vocabulary and metrics.json
    pid = dead_pid()
    (cut / "checkpoint").rename(cut / f".checkpoint.old-{pid}")
    for name in ("checkpoint", "best", "vocab"):
        (cut / f".{name}.{pid}-abcdefgh.tmp").mkdir()
        (cut / f".{name}.{pid}-abcdefgh.tmp" / "x").write_bytes(b"\0" * 1000)
    (cut / f".metrics.json.{pid}-abcdefgh.tmp").write_text("{")
    resumed = distill(cfg(cut), progress=False)
    events = [json.loads(x)["event"] for x in (cut / "log.jsonl").read_text().splitlines()]
    assert "resume" in events  # not restarted from scratch
    assert [h["train_examples_seen"] for h in resumed["history"]] == \
        [h["train_examples_seen"] for h in full["history"]] == [48]
    assert resumed["test"] == full["test"]
    assert not [p.name for p in cut.iterdir() if p.name.startswith(".")]


def test_study_cache_finished_but_not_recorded_keeps_its_metrics(tmp_path, exc_data, bert_teacher):
    from codekd.engine.teacher_cache import build_teacher_cache
    from codekd.study.runner import run_study
    from codekd.study.spec import expand, load_study
    from codekd.study.store import Store

    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump({
        "name": "t", "out": "out", "tasks": {"exception": {"data": str(exc_data)}},
        "teachers": {"bert": {"path": str(bert_teacher)}}, "students": ["gru-1.5m"], "methods": {"kd": {}},
        "train": {"max_steps": 2, "epochs": 1, "batch_size": 8, "max_length": 96}, "bench": {"enabled": False}}))
    jobs = expand(*load_study(f))
    job = next(j for j in jobs if j.kind == "cache")
    # the cache was written, then the study was killed before recording it
    meta = build_teacher_cache(bert_teacher, exc_data, "exception", job.out, max_length=96, progress=False,
                               batch_size=job.cfg.train.eval_batch_size)
    run_study(f, progress=False, stop_after_jobs=0)
    row = next(r for r in Store(tmp_path / "out" / "study.sqlite").jobs(kind="cache"))
    assert row["status"] == "done" and row["metrics"]["cache"]["fingerprint"] == meta["fingerprint"]
    assert row["seconds"] == meta["seconds"] > 0


# ------------------------------------------------------------------------- studies

def _study(path: Path, data: Path, methods, **extra) -> Path:
    doc = {"name": "t", "out": "out", "tasks": {"exception": {"data": str(data)}}, "students": ["gru-1.5m"],
           "methods": methods, "train": {"max_steps": 2, "epochs": 1, "batch_size": 8, "max_length": 96},
           "bench": {"enabled": False}, **extra}
    path.write_text(yaml.safe_dump(doc))
    return path


def test_study_plan_checks_method_parameters_and_train_fields(tmp_path, capsys, exc_data, bert_teacher):
    teachers = {"teachers": {"bert": {"path": str(bert_teacher)}}}
    cases = [({"ft": {"params": {"temperature": 2}}}, {}, "methods.ft.params: method 'ft' has no parameter(s) "
                                                          "temperature"),
             ({"kd": {"params": {"temprature": 2}}}, teachers, "methods.kd.params: method 'kd' has no parameter(s) "
                                                               "temprature"),
             ({"kd": {"params": {"temperature": "hot"}}}, teachers, "parameter temperature must be a number"),
             ({"ft": {"train": {"lr_typo": 1}}}, {}, "methods.ft.train.lr_typo: Extra inputs are not permitted")]
    for methods, extra, want in cases:
        f = _study(tmp_path / "s.yaml", exc_data, methods, **extra)
        code, _, err = cli(capsys, "study", "plan", f)
        line = one_line(err)
        assert code == 2 and want in line and str(f) in line, line
    f = _study(tmp_path / "s.yaml", exc_data, {"ft": {}}, train={"lr_typo": 1})
    code, _, err = cli(capsys, "study", "plan", f)
    assert code == 2 and "train.lr_typo: Extra inputs are not permitted" in one_line(err)
    f = _study(tmp_path / "s.yaml", exc_data, {"ft": {}})
    code, _, err = cli(capsys, "study", "plan", f, "--set", "train.epochs=abc")
    line = one_line(err)
    assert code == 2 and line.startswith("error: --set: ") and "train.epochs" in line


def test_a_study_with_failed_jobs_exits_non_zero_with_each_reason(tmp_path, capsys):
    data = devign_folder(tmp_path / "d")
    write_jsonl(data / "train.jsonl", [{"func": f"int f{i}(void) {{ return {i}; }}", "target": 0} for i in range(4)])
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump({"name": "t", "out": "out", "tasks": {"defect": {"data": str(data)}},
                                 "students": ["gru-1.5m"], "methods": {"ft": {}}, "seeds": [1, 2],
                                 "train": {"max_steps": 2, "epochs": 1}, "bench": {"enabled": False}}))
    code, out, err = cli(capsys, "study", "run", f)
    lines = err.strip().splitlines()
    assert code == 2 and "Traceback" not in err
    assert len(lines) == 3 and all("every training example has the label '0'" in x for x in lines[:2])
    assert lines[0].startswith("failed: defect - gru-1.5m ft seed 1 [")
    assert lines[2].startswith("error: ") and "2 of 2 jobs failed" in lines[2]


# ------------------------------------------------------------------------- what the fuzz test found

def test_fuzz_findings_are_one_line_errors(tmp_path, capsys, exc_data):
    """Found by tests/data/test_fuzz_inputs.py beyond the issue's list (each was a traceback or a
    silent choice before): lone surrogate escapes in a function or an id, a config file that is not
    UTF-8 or holds a NUL byte (a multi-line message), a key given twice in YAML or JSON, and a study
    teacher whose per-task paths miss a task (KeyError)."""
    d = devign_folder(tmp_path / "d")
    (d / "test.jsonl").write_text('{"func": "int a;\\ud800", "target": 0}\n')
    code, _, err = cli(capsys, "data", "check", d, "--task", "defect")
    assert code == 2 and "test.jsonl:1: field 'func' holds an invalid \\u escape" in one_line(err)
    (d / "test.jsonl").write_text('{"func": "int a;", "target": 0, "idx": "\\udc80"}\n')
    code, _, err = cli(capsys, "data", "check", d, "--task", "defect")
    assert code == 2 and "field 'idx' holds an invalid \\u escape" in one_line(err)
    cfg = tmp_path / "c.yaml"
    cfg.write_bytes("train:\n  lr: 1.0e-3\n".encode("utf-16"))
    code, _, err = cli(capsys, *distill_args(exc_data, tmp_path / "run", "exception", "ft", "--config", cfg))
    assert code == 2 and "config file is not valid UTF-8" in one_line(err)
    cfg.write_bytes(b"train:\n  lr: 1.0e-3\x00\n")
    code, _, err = cli(capsys, *distill_args(exc_data, tmp_path / "run", "exception", "ft", "--config", cfg))
    assert code == 2 and "YAML error" in one_line(err)
    f = _study(tmp_path / "s.yaml", exc_data, {"kd": {}}, teachers={"t": {"path": {"defect": "x"}}})
    code, _, err = cli(capsys, "study", "plan", f)
    assert code == 2 and "teacher 't' has no path for task 'exception'" in one_line(err)
    assert not (tmp_path / "run").exists()
