"""End-to-end 2-step runs of the feature-based and beyond-the-paper methods on tiny models, the
config-time compatibility checks, unlabeled transfer data, and the ``codekd methods`` command."""

from __future__ import annotations

import json

import pytest
from fixtures_data import write_jsonl
from fixtures_models import real_python_functions, tiny_base_teacher
from safetensors.torch import load_file

from codekd.config import load_run_config
from codekd.engine.runs import distill
from codekd.errors import ConfigError

TINY = {"gru": ["student.preset=gru-1.5m", "student.hidden=16", "student.layers=2"],
        "roberta": ["student.preset=roberta-0.6m", "student.hidden=32", "student.heads=2", "student.ffn=64",
                    "student.layers=3"]}


def cfg_for(data, out, *, method, family, teacher, extra=()):
    sets = [*TINY[family], "student.vocab_size=300", "train.batch_size=8", "train.epochs=1", "train.max_steps=2",
            "train.max_length=96", "train.eval_batch_size=16", "train.eval_max_examples=16", "train.num_threads=1",
            f"method.name={method}",
            *extra]
    return load_run_config(None, sets, task="exception", data=str(data), out=str(out),
                           **{"teacher.path": str(teacher)})


@pytest.fixture(scope="module", autouse=True)
def _restore_threads():
    """The runs use one torch thread (much faster on a busy 2-core box); give the suite its setting back."""
    import torch

    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def teachers(bert_teacher, tmp_path_factory):
    root = tmp_path_factory.mktemp("feature_teachers")
    return {"bert": bert_teacher, "roberta": tiny_base_teacher("roberta", root / "roberta"),
            "modernbert": tiny_base_teacher("modernbert", root / "modernbert")}


def _log(run):
    return [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]


def _check_run(r, run, method):
    assert r["status"] == "done" and r["global_steps"] == 2
    assert 0 <= r["test"]["accuracy"] <= 1
    start = _log(run)[0]
    assert start["event"] == "start" and start["method"]["name"] == method
    steps = [e for e in _log(run) if e["event"] == "step"]
    assert steps and all(v == v for e in steps for v in (e["loss"],))  # no NaN
    if method in ("pkd", "ckd", "tinybert"):
        assert start["method"]["layer_map"]["pairs"] and "->" in start["layer_map"]  # the map is in the run log
    # the exported student never holds method modules (projections)
    saved = load_file(str(run / "best" / "model.safetensors"))
    assert not any(k.startswith(("aux", "proj", "_projections")) for k in saved)
    assert sum(v.numel() for v in saved.values()) == r["params"]  # exactly the student's parameters
    if method in ("pkd", "tinybert"):
        assert r["method_module_params"] > 0


@pytest.mark.parametrize("method", ["pkd", "ckd", "dkd", "tinybert"])
@pytest.mark.parametrize("family", ["gru", "roberta"])
@pytest.mark.parametrize("teacher", ["bert", "roberta", "modernbert"])
def test_two_step_feature_runs(exc_data, teachers, tmp_path, method, family, teacher):
    run = tmp_path / "run"
    r = distill(cfg_for(exc_data, run, method=method, family=family, teacher=teachers[teacher]), progress=False)
    _check_run(r, run, method)
    assert r["family"] == family


@pytest.mark.parametrize("method,family", [("ckd", "roberta"), ("pkd", "gru")])
def test_paper_faithful_feature_runs(exc_data, teachers, tmp_path, method, family):
    run = tmp_path / "run"
    r = distill(cfg_for(exc_data, run, method=method, family=family, teacher=teachers["bert"],
                        extra=["method.paper_faithful=true"]), progress=False)
    _check_run(r, run, method)
    start = _log(run)[0]["method"]
    assert start["paper_faithful"] and start["params"]["alpha"] == 1.0
    if method == "ckd":
        assert start["params"]["align"] == "position" and start["layer_map"]["pairs"][0] == [0, 0]
    else:
        assert start["params"]["projection"] == "teacher" and start["params"]["beta"] == 10.0


def test_explicit_layer_map_and_shared_vs_offsets_errors(exc_data, teachers, tmp_path):
    run = tmp_path / "run"
    r = distill(cfg_for(exc_data, run, method="ckd", family="gru", teacher=teachers["bert"],
                        extra=["method.params.layer_map=[2,1]"]), progress=False)
    assert r["layer_map"] == "explicit: s1->t2, s2->t1"
    with pytest.raises(ConfigError, match="2 entries but the student has 3"):
        distill(cfg_for(exc_data, tmp_path / "bad", method="ckd", family="roberta", teacher=teachers["bert"],
                        extra=["method.params.layer_map=[2,1]"]), progress=False)
    # a student with its own BPE vocabulary does not share the BERT teacher's tokens
    with pytest.raises(ConfigError, match="shared-tokens"):
        distill(cfg_for(exc_data, tmp_path / "shared", method="ckd", family="gru", teacher=teachers["bert"],
                        extra=["method.params.align=shared-tokens"]), progress=False)


def test_compatibility_is_checked_when_the_config_loads(tmp_path):
    base = {"data": "nowhere", "out": str(tmp_path / "o"), "teacher.path": "nowhere"}
    with pytest.raises(ConfigError, match="multi-class"):
        load_run_config(None, ["method.name=dkd"], task="defect", **base)  # binary task: refused before any loading
    load_run_config(None, ["method.name=dkd"], task="exception", **base)  # labels come from the data: allowed now
    with pytest.raises(ConfigError, match="no parameter"):
        load_run_config(None, ["method.name=ckd", "method.params.windw=3"], task="exception", **base)
    with pytest.raises(ConfigError, match="align must be one of"):
        load_run_config(None, ["method.name=ckd", "method.params.align=chars"], task="exception", **base)
    # PKD, CKD and TinyBERT can run from a teacher cache (pooled / token states; checked when it loads)
    for m in ("pkd", "ckd", "tinybert"):
        load_run_config(None, [f"method.name={m}", "teacher.cache=somewhere"], task="exception", **base)
    with pytest.raises(ConfigError, match="cannot use unlabeled transfer"):
        load_run_config(None, ["method.name=ft", "transfer.path=x.jsonl"], task="exception", **base)
    with pytest.raises(ConfigError, match="unknown method"):
        load_run_config(None, ["method.name=ckdd"], task="exception", **base)


def test_unlabeled_transfer_data_never_reaches_ce(exc_data, teachers, tmp_path):
    from codekd.data import load_task_data
    from codekd.methods import METHODS, register_method
    from codekd.methods.kd import KD

    calls: list = []

    class Spy(KD):
        name = "test-transfer-spy"

        def loss(self, student, teacher, labels, modules=None):
            calls.append(None if labels is None else labels.tolist())
            return super().loss(student, teacher, labels, modules)

    register_method(Spy)
    try:
        test_func = load_task_data(exc_data, "exception")["test"].codes([0])[0][0]
        rows = [{"func": f, "target": "NotALabel"} for f in real_python_functions(20)] + [{"func": test_func}]
        write_jsonl(tmp_path / "transfer.jsonl", rows)
        run = tmp_path / "run"
        r = distill(cfg_for(exc_data, run, method=Spy.name, family="gru", teacher=teachers["bert"],
                            extra=[f"transfer.path={tmp_path / 'transfer.jsonl'}", "transfer.batch_size=4",
                                   "train.log_every=1"]), progress=False)
    finally:
        METHODS.unregister(Spy.name)
    assert r["status"] == "done" and r["transfer"]["examples"] == 20
    assert r["transfer"]["dropped_overlap_with_valid_test"] == 1  # the test function never trains
    # per step: one labeled call (gold labels, no -100) then one transfer call without labels
    assert [c is None for c in calls] == [False, True, False, True]
    assert all(-100 not in c for c in calls if c is not None)
    steps = [e for e in _log(run) if e["event"] == "step"]
    assert all("transfer_soft" in e and "transfer_ce" not in e and "ce" in e for e in steps)
    # every method with a teacher accepts labels=None and then returns no gold-label term
    import torch

    from codekd.methods import MethodContext, Outputs

    torch.manual_seed(0)
    ctx = MethodContext(task="exception", num_labels=3, student_family="roberta", student_layers=2, student_hidden=4,
                        teacher_layers=2, teacher_hidden=6)
    hs = tuple(torch.randn(2, 5, 4) for _ in range(3))
    ht = tuple(torch.randn(2, 5, 6) for _ in range(3))
    offs = torch.tensor([[[0, 0], [0, 2], [2, 4], [4, 6], [0, 0]]] * 2)
    mk = lambda h, w: Outputs(logits=torch.randn(2, 3), hidden_states=h, pooled_states=tuple(x[:, 0] for x in h[1:]),  # noqa: E731
                              attention_mask=torch.ones(2, 5), offsets=offs)
    for name, cls in METHODS.items():
        if not cls.needs.teacher:
            continue
        m = cls(ctx, {"alpha": 0.5} if "alpha" in cls.defaults else None)
        _, parts = m.loss(mk(hs, 4), mk(ht, 6), None, m.modules())
        assert "ce" not in parts, name


def test_methods_cli_lists_needs_support_and_settings():
    from codekd.cli import main
    from codekd.cli.methods import methods_info

    info = {i["name"]: i for i in methods_info()}
    assert {"ft", "kd", "dist", "pkd", "ckd", "dkd", "tinybert"} <= set(info)
    assert info["ckd"]["needs"] == ["teacher", "logits", "hidden_states", "token_alignment"]
    assert info["ckd"]["paper_defaults"]["align"] == "position" and info["ckd"]["defaults"]["align"] == "offsets"
    assert info["dkd"]["tasks"].startswith("multi-class") and not info["ft"]["unlabeled_transfer"]
    assert main(["methods", "list"]) == 0
    assert main(["methods", "show", "pkd"]) == 0
