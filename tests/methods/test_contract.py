"""The contract every registered method keeps, checked over ``METHODS.names()`` (a new method file is
checked without editing this test): typed parameters validated when a config loads, a family the
report reads, hand-computed golden examples carried by the method, and a 2-step run into each
student family it supports, with the live teacher and from a teacher cache where its needs allow."""

from __future__ import annotations

import pytest

from codekd.config import load_run_config
from codekd.engine.runs import distill
from codekd.engine.teacher_cache import build_teacher_cache
from codekd.errors import ConfigError
from codekd.methods import METHODS, get_method
from codekd.methods.sources import TeacherSource
from codekd.study.report import feature_methods, findings

NAMES = METHODS.names()
RUNS = [(n, f) for n in NAMES for f in get_method(n).families if f != "teacher"]
# a cache with pooled states and token states (of every layer): what it can serve, by the one owner of that decision
FULL_CACHE = TeacherSource.cache(pooled=True, token_layers=None)
CACHED = [n for n in NAMES if get_method(n).needs.teacher and FULL_CACHE.can_serve(get_method(n)) is None]
TINY = {"gru": ["student.preset=gru-1.5m", "student.hidden=16", "student.layers=2"],
        "roberta": ["student.preset=roberta-0.6m", "student.hidden=32", "student.heads=2", "student.ffn=64",
                    "student.layers=2"]}


def cfg_for(data, out, *, method, family, teacher=None, extra=()):
    sets = [*TINY[family], "student.vocab_size=300", "train.batch_size=8", "train.epochs=1", "train.max_steps=2",
            "train.max_length=96", "train.eval_batch_size=16", "train.eval_max_examples=16", "train.num_threads=1",
            f"method.name={method}", *extra]
    fields = {"task": "exception", "data": str(data), "out": str(out)}
    if teacher:
        fields["teacher.path"] = str(teacher)
    return load_run_config(None, sets, **fields)


@pytest.fixture(scope="module", autouse=True)
def _restore_threads():
    import torch

    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_the_registry_holds_the_shipped_methods():
    assert {"ft", "kd", "dist", "dkd", "pkd", "ckd", "tinybert"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_declarations_and_typed_parameters(name, tmp_path):
    cls = get_method(name)
    assert cls.name == name and cls.description and (cls.__doc__ or "").strip()
    assert cls.family in ("logit", "feature") and (name in feature_methods()) == (cls.family == "feature")
    # the plain dicts (methods show, metrics.json) are the typed model's two instances
    assert cls.defaults == cls.Params().model_dump() and cls.paper_defaults == cls.paper.model_dump()
    assert cls.resolve_params(None) == cls.defaults and cls.resolve_params(None, True) == cls.paper_defaults
    info = cls.info()
    assert info["defaults"] == dict(cls.defaults) and info["paper_defaults"] == dict(cls.paper_defaults)
    with pytest.raises(ConfigError, match=f"method '{name}' has no parameter.s. no_such_parameter"):
        cls.resolve_params({"no_such_parameter": 1})
    # a number given as text is refused when the config loads (--set), naming the method and the field
    base = {"data": "nowhere", "out": str(tmp_path / "o"), "teacher.path": "nowhere"}
    for field, value in cls.defaults.items():
        if isinstance(value, float):
            with pytest.raises(ConfigError, match=f"method '{name}': parameter {field} must be a number, got str 'abc'"):
                load_run_config(None, [f"method.name={name}", f"method.params.{field}=abc"], task="exception", **base)
    if "temperature" in cls.defaults:
        with pytest.raises(ConfigError, match=f"method '{name}': parameter temperature must be > 0"):
            cls.resolve_params({"temperature": 0})


@pytest.mark.parametrize("name", [n for n in NAMES if n not in ("ft", "kd")])
def test_the_report_counts_a_feature_method_by_its_family(name):
    rows = [{"task": "exception", "teacher": "t", "student": "gru-1.5m", "method": m, "mean": v, "retention": None}
            for m, v in (("kd", 0.5), (name, 0.6))]
    [line] = [f for f in findings(rows, {"params": {}}) if f.startswith("**Feature-based KD")]
    want = "holds" if name == "ckd" else "partly holds" if get_method(name).family == "feature" else "does not hold"
    assert f"— {want} here" in line, line


@pytest.mark.parametrize("name", NAMES)
def test_golden_examples(name):
    cls = get_method(name)
    assert cls.golden, f"{name}: give the class hand-computed examples, golden = (Golden(...), ...)"
    for g in cls.golden:
        total, parts = g.run(cls)
        assert total.item() == pytest.approx(g.total, abs=g.tol), g.why
        assert set(parts) == set(g.parts), g.why
        for k, v in g.parts.items():
            assert parts[k] == pytest.approx(v, abs=g.tol), (k, g.why)


@pytest.mark.parametrize("name,family", RUNS)
def test_two_step_run_into_every_supported_family(exc_data, bert_teacher, tmp_path, name, family):
    teacher = bert_teacher if get_method(name).needs.teacher else None
    r = distill(cfg_for(exc_data, tmp_path / "run", method=name, family=family, teacher=teacher), progress=False)
    assert r["status"] == "done" and r["global_steps"] == 2 and r["family"] == family
    assert 0 <= r["test"]["accuracy"] <= 1 and not r["teacher_cache"]


@pytest.fixture(scope="module")
def teacher_cache(exc_data, bert_teacher, tmp_path_factory):
    """One cache with everything a method can read from one: logits, pooled states, every layer's tokens."""
    from transformers import AutoConfig

    layers = AutoConfig.from_pretrained(str(bert_teacher)).num_hidden_layers
    out = tmp_path_factory.mktemp("contract") / "cache"
    build_teacher_cache(bert_teacher, exc_data, "exception", out, splits=["train"], max_length=96, pooled=True,
                        token_layers=range(layers + 1), progress=False)
    return out


@pytest.mark.parametrize("name", CACHED)
def test_two_step_run_from_the_teacher_cache(exc_data, bert_teacher, teacher_cache, tmp_path, name):
    family = [f for f in get_method(name).families if f != "teacher"][0]
    r = distill(cfg_for(exc_data, tmp_path / "run", method=name, family=family, teacher=bert_teacher,
                        extra=[f"teacher.cache={teacher_cache}"]), progress=False)
    assert r["status"] == "done" and r["global_steps"] == 2 and r["teacher_cache"]
