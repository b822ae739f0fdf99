"""Help texts that list registry entries are generated from the registries (plugins included)."""

from __future__ import annotations

import re

import pytest


def _help(capsys, monkeypatch, *args: str) -> str:
    from codekd.cli import main

    monkeypatch.setenv("COLUMNS", "400")
    monkeypatch.setenv("TERMINAL_WIDTH", "400")
    assert main([*args, "--help"]) == 0
    return re.sub(r"[\s│]+", " ", capsys.readouterr().out)


def test_distill_help_lists_every_registered_method_and_student(capsys, monkeypatch):
    from codekd.methods import METHODS, Method, Needs
    from codekd.models.students.presets import preset_names

    class Plugin(Method):
        """A method registered after import, as a CODEKD_PLUGINS module does."""
        name = "zz-plugin-method"
        needs = Needs(teacher=False)

    METHODS.register(Plugin.name, Plugin)
    try:
        text = _help(capsys, monkeypatch, "distill")
    finally:
        METHODS.unregister(Plugin.name)
    names = METHODS.names()
    assert len(names) >= 7 and "Distillation method: " + " | ".join(sorted([*names, Plugin.name])) in text
    for s in preset_names():
        assert s in text
    assert "Task name: clone | defect | exception" in text


def test_teacher_help_names_every_pooling(capsys, monkeypatch):
    from codekd.models.teacher import POOLINGS

    cache = _help(capsys, monkeypatch, "teacher", "cache")
    assert "[CLS] state" not in cache and all(f"{p} =" in cache for p in POOLINGS)
    finetune = _help(capsys, monkeypatch, "teacher", "finetune")
    assert "What the head reads: " + " | ".join(POOLINGS) in finetune


@pytest.mark.parametrize("cmd", [("distill",), ("teacher", "finetune")])
def test_loop_options_are_in_the_help(capsys, monkeypatch, cmd):
    text = _help(capsys, monkeypatch, *cmd)
    for opt in ("--max-steps", "--eval-every", "--early-stopping-patience", "--report-to", "--threads",
                "--log-every-s", "train.num_threads", "codekd[tensorboard]"):
        assert opt in text, opt
