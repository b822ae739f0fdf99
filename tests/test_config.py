from __future__ import annotations

import pytest

from codekd.config import RunConfig, apply_overrides, dump_yaml, load_run_config
from codekd.errors import ConfigError


def test_yaml_fields_and_dotted_overrides(tmp_path):
    f = tmp_path / "run.yaml"
    f.write_text("task: exception\ndata: d\nout: o\nmethod:\n  name: dist\n  params: {temperature: 2}\ntrain:\n  lr: 0.001\n")
    cfg = load_run_config(f, ["train.lr=1e-4", "method.params.beta=0.5", "train.trackers=[tensorboard]"],
                          **{"student.preset": "roberta-7m"})
    assert cfg.train.lr == 1e-4 and cfg.method.name == "dist"
    assert cfg.method.params == {"temperature": 2, "beta": 0.5}
    assert cfg.student.preset == "roberta-7m" and cfg.train.trackers == ["tensorboard"]
    again = RunConfig.model_validate(__import__("yaml").safe_load(dump_yaml(cfg)))
    assert again == cfg


def test_unknown_key_and_bad_value_are_errors(tmp_path):
    f = tmp_path / "run.yaml"
    f.write_text("task: exception\ndata: d\nout: o\ntrain:\n  learning_rate: 0.1\n")
    with pytest.raises(ConfigError, match="train.learning_rate: Extra inputs are not permitted"):
        load_run_config(f)
    cfg = RunConfig(task="t", data="d", out="o")
    with pytest.raises(ConfigError, match="train.batch_size"):
        apply_overrides(cfg, ["train.batch_size=0"])
    with pytest.raises(ConfigError, match="must look like key.path=value"):
        apply_overrides(cfg, ["train.batch_size"])


def test_yaml_syntax_error_names_the_line(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("task: exception\ndata: [d\nout: o\n")
    with pytest.raises(ConfigError) as ei:
        load_run_config(f)
    assert ei.value.path == str(f) and ei.value.line is not None and "YAML error" in str(ei.value)
    with pytest.raises(ConfigError, match="not found"):
        load_run_config(tmp_path / "missing.yaml")
