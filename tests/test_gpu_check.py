"""benchmarks/gpu_check.sh is ready to run on a GPU machine: its shell parses, every codekd command it
runs exists with the options it passes, and its Python helper builds a teacher and writes a report."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "gpu_check.sh"


def test_script_parses_and_its_codekd_commands_exist():
    assert subprocess.run(["bash", "-n", str(SCRIPT)]).returncode == 0
    p = subprocess.run(["bash", str(SCRIPT)], env={**os.environ, "GPU_CHECK_DRY": "1"}, capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    import typer.main

    from codekd.cli import app

    root = typer.main.get_command(app)
    lines = [shlex.split(x[2:]) for x in p.stdout.splitlines() if x.startswith("+ ")]
    cmds = [t[t.index("codekd") + 1:] for t in lines if "codekd" in t]
    assert {tuple(c[:2]) for c in cmds} >= {("data", "mine-exceptions"), ("teacher", "finetune"), ("teacher", "cache"),
                                            ("distill", "-s"), ("bench", str(Path(".cache/gpu-check/teacher")))}
    for c in cmds:
        cmd, rest = root, list(c)
        while rest and hasattr(cmd, "commands") and rest[0] in cmd.commands:
            cmd = cmd.commands[rest.pop(0)]
        known = {o for prm in cmd.params for o in (*prm.opts, *prm.secondary_opts)}
        used = {t for t in rest if t.startswith("-") and not t.lstrip("-")[:1].isdigit()}
        assert used <= known, (c[:2], used - known)
    # the GPU tests it runs are marked and collected
    assert any("-m gpu" in x for x in p.stdout.splitlines())


def test_helper_builds_a_teacher_and_writes_the_report(exc_data, tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("gpu_check", REPO / "benchmarks" / "gpu_check.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    folder = mod.make_teacher(str(exc_data), str(tmp_path / "t"), vocab_size=300, tiny=True)
    from codekd.models.teacher import Teacher

    t = Teacher.load(str(folder), 3, max_length=64)
    assert t.config.model_type == "roberta" and t.config.type_vocab_size == 10  # UniXcoder's family and token types
    run = tmp_path / "run"
    (run / "kd-gru-7m").mkdir(parents=True)
    (run / "kd-gru-7m" / "metrics.json").write_text(json.dumps(
        {"precision": "bf16", "global_steps": 300, "train_seconds": 12.5, "device": "cuda:0",
         "test": {"f1": 0.5, "accuracy": 0.6}}))
    text = mod.report(str(run), str(tmp_path / "R.md"))
    assert "| kd-gru-7m | bf16 |" in text and "torch" in text and (tmp_path / "R.md").read_text() == text
    with pytest.raises(SystemExit):
        mod.main(["nope"])
