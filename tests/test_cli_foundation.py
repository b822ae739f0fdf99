"""The CLI: groups listed, thin commands, one-line errors with a non-zero exit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from fixtures_data import bcb_native_folder, devign_folder, exception_folder, write_jsonl

from codekd.cli import main

CODEKD = Path(sys.executable).with_name("codekd")


def test_help_lists_stage_groups(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for group in ("data", "vocab", "students"):
        assert group in out
    for sub in (["data", "--help"], ["data", "check", "--help"], ["data", "mine-exceptions", "--help"],
                ["vocab", "train", "--help"]):
        assert main(sub) == 0


def test_data_check_prints_statistics(tmp_path, capsys):
    root = exception_folder(tmp_path / "exc")
    assert main(["data", "check", str(root), "--task", "exception", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["splits"]["train"]["examples"] == 3
    assert stats["splits"]["train"]["per_label"] == {"OSError": 1, "ValueError": 1, "KeyError": 1}
    assert set(stats["splits"]["train"]["whitespace_tokens"]) == {"p50", "p90", "p95", "p99", "max"}
    assert main(["data", "check", str(bcb_native_folder(tmp_path / "bcb")), "--task", "clone"]) == 0
    out = capsys.readouterr().out
    assert "clone-native" in out and "train" in out


def test_user_error_is_one_line_and_exit_2(tmp_path, capsys):
    root = devign_folder(tmp_path)
    write_jsonl(root / "valid.jsonl", [{"func": "int a;", "target": 0}, {"func": "int b;", "target": 5}])
    assert main(["data", "check", str(root), "--task", "defect"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "valid.jsonl:2: unknown label 5" in err and "Traceback" not in err
    assert main(["data", "check", str(root), "--task", "nosuchtask"]) == 2
    assert "unknown task 'nosuchtask'" in capsys.readouterr().err


def test_skip_bad_via_cli(tmp_path, capsys):
    root = devign_folder(tmp_path)
    write_jsonl(root / "valid.jsonl", [{"func": "int a;", "target": 0}, "{broken"])
    assert main(["data", "check", str(root), "--task", "defect", "--skip-bad"]) == 0
    out = capsys.readouterr().out
    assert "skipped 1 bad lines" in out and "valid.jsonl:2: malformed JSON" in out


def test_console_script_has_no_traceback(tmp_path):
    env = dict(os.environ)
    r = subprocess.run([str(CODEKD), "data", "check", str(tmp_path / "missing"), "--task", "defect"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and r.stderr.strip().startswith("error: ")
    assert "does not exist" in r.stderr
    r = subprocess.run([str(CODEKD), "data", "check"], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode != 0 and "Traceback" not in r.stderr


def test_vocab_train_cli(tmp_path, capsys):
    root = devign_folder(tmp_path / "d")
    assert main(["vocab", "train", "--data", str(root), "--task", "defect", "--size", "300", "--out",
                 str(tmp_path / "tok"), "--min-frequency", "1"]) == 0
    assert "wrote" in capsys.readouterr().out
    assert (tmp_path / "tok" / "tokenizer.json").is_file()


def test_plugins_named_in_the_environment_register_before_the_command(tmp_path, capsys, monkeypatch):
    (tmp_path / "my_codekd_ext.py").write_text(
        "from codekd.methods import register_method\n"
        "from codekd.methods.kd import KD\n\n"
        "@register_method\n"
        "class PluginKD(KD):\n"
        "    name = 'plugin-kd'\n"
        "    description = 'a method registered by a plugin module'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("CODEKD_PLUGINS", "my_codekd_ext")
    from codekd.methods import METHODS

    try:
        assert main(["methods", "list"]) == 0
        assert "plugin-kd" in capsys.readouterr().out
    finally:
        METHODS.unregister("plugin-kd")
        sys.modules.pop("my_codekd_ext", None)
    monkeypatch.setenv("CODEKD_PLUGINS", "no_such_codekd_plugin")
    assert main(["methods", "list"]) == 2
    err = capsys.readouterr().err
    assert "no_such_codekd_plugin" in err and "CODEKD_PLUGINS" in err and "Traceback" not in err
