"""Teacher-recipe pieces: the frozen-prefix replay, layer-wise LR decay, the measured precision
choice and the time budget (steps planned from the measured speed)."""

from __future__ import annotations

import json

import pytest
import torch

from codekd.config import load_run_config
from codekd.engine.budget import choose_precision, plan_steps
from codekd.engine.frozen import freeze_bottom, frozen_prefix_side
from codekd.engine.runs import finetune_teacher
from codekd.engine.sides import teacher_side
from codekd.engine.trainer import _param_groups, planned_linear
from codekd.errors import ConfigError
from codekd.models.teacher import Teacher

CODES = [("def f(x):\n    return x + 1",), ("class A:\n    def g(self):\n        raise KeyError(1)",),
         ("x = 1",), ("def h(a, b):\n    try:\n        a()\n    except __HOLE__:\n        b()",)]


def teacher_cfg(data, teacher, out, *extra):
    return load_run_config(None, ["train.epochs=1", "train.batch_size=8", "train.max_length=96",
                                  "train.eval_batch_size=16", *extra],
                           kind="finetune", task="exception", data=str(data), out=str(out),
                           **{"teacher.path": str(teacher), "teacher.pooling": "mean"})


def test_frozen_prefix_replay_equals_the_full_forward(bert_teacher):
    t = Teacher.load(str(bert_teacher), 3, pooling="mean")
    t.eval()
    full = teacher_side(t)
    side, store = frozen_prefix_side(t, 1)
    with torch.no_grad():
        ref = full.forward(t, full.encode(CODES), False).logits
        first = side.forward(t, side.encode(CODES), False).logits       # computes the prefix
        again = side.forward(t, side.encode(CODES[::-1]), False).logits  # replays it (other padding)
    assert torch.allclose(ref, first, atol=1e-5)
    assert torch.allclose(ref.flip(0), again, atol=1e-5)
    assert store.stats["functions"] == len(CODES) and store.stats["computed_batches"] == 1
    assert store.stats["replayed_rows"] == len(CODES)
    assert store.stats["bytes"] == store.stats["tokens"] * t.hidden_size * 4


def test_frozen_prefix_is_computed_in_eval_mode_and_its_parameters_are_frozen(bert_teacher):
    t = Teacher.load(str(bert_teacher), 3, pooling="mean")
    t.requires_grad_(True)
    n = freeze_bottom(t, 1)
    assert n == sum(p.numel() for p in t.model.embeddings.parameters()) + \
        sum(p.numel() for p in t.model.encoder.layer[0].parameters())
    assert all(p.requires_grad for p in t.model.encoder.layer[1].parameters())
    t.train()  # dropout on: the prefix must still come out the same (eval mode inside)
    side, _ = frozen_prefix_side(t, 1)
    a = side.encode(CODES)
    side.forward(t, a, False)  # fills the store under train mode
    t.eval()
    full = teacher_side(t)
    with torch.no_grad():
        ref = full.forward(t, full.encode(CODES), False).logits
        got = side.forward(t, side.encode(CODES), False).logits
    assert torch.allclose(ref, got, atol=1e-5)


def test_freeze_layers_bounds_and_hf_heads_are_refused(bert_teacher):
    t = Teacher.load(str(bert_teacher), 3, pooling="mean")
    with pytest.raises(ConfigError, match="between 1 and 1"):
        freeze_bottom(t, 2)
    hf = Teacher.load(str(bert_teacher), 3, pooling="cls")
    with pytest.raises(ConfigError, match="codekd's own head"):
        freeze_bottom(hf, 1)


def test_finetune_with_frozen_layers_trains_only_the_top(exc_data, bert_teacher, tmp_path):
    r = finetune_teacher(teacher_cfg(exc_data, bert_teacher, tmp_path / "t", "train.max_steps=3",
                                     "teacher.freeze_layers=1"), progress=False)
    assert r["status"] == "done" and r["frozen_prefix"]["functions"] > 0 and r["frozen_params"] > 0
    base = Teacher.load(str(bert_teacher), 3, pooling="mean")
    tuned = Teacher.from_pretrained(tmp_path / "t" / "best")
    emb_same = torch.equal(base.model.embeddings.word_embeddings.weight, tuned.model.embeddings.word_embeddings.weight)
    l0_same = all(torch.equal(a, b) for a, b in zip(base.model.encoder.layer[0].parameters(),
                                                   tuned.model.encoder.layer[0].parameters()))
    l1_same = all(torch.equal(a, b) for a, b in zip(base.model.encoder.layer[1].parameters(),
                                                   tuned.model.encoder.layer[1].parameters()))
    assert emb_same and l0_same and not l1_same


def test_layer_lr_decay_gives_one_lr_per_depth(bert_teacher):
    t = Teacher.load(str(bert_teacher), 3, pooling="mean")
    groups = _param_groups(t, 0.01, 1e-3, 0.5)
    by_lr = {round(g["lr"], 8) for g in groups}
    assert by_lr == {1e-3, 5e-4, 2.5e-4, 1.25e-4}  # head (top), layer 2, layer 1, embeddings
    emb = [g for g in groups if any(p is t.model.embeddings.word_embeddings.weight for p in g["params"])][0]
    assert emb["lr"] == pytest.approx(1e-3 * 0.5 ** 3)
    n = sum(p.numel() for g in groups for p in g["params"])
    assert n == sum(p.numel() for p in t.parameters())
    plain = _param_groups(t, 0.01)
    assert len(plain) == 2 and plain[1]["weight_decay"] == 0.0


def test_precision_auto_is_measured_not_assumed():
    calls = []

    def slow_bf16(bf16):
        calls.append(bf16)
        torch.ones(1)
        import time
        time.sleep(0.02 if bf16 else 0.002)

    assert choose_precision("auto", cuda=False, step=slow_bf16, flags=set())[0] == "no"
    assert calls == []  # no bf16 instructions: nothing to time
    choice, info = choose_precision("auto", cuda=False, step=slow_bf16, flags={"avx512_bf16"})
    assert choice == "no" and info["bf16_speedup"] < 1 and calls.count(True) == 3

    def fast_bf16(bf16):
        import time
        time.sleep(0.002 if bf16 else 0.02)

    choice, info = choose_precision("auto", cuda=False, step=fast_bf16, flags={"amx_bf16"})
    assert choice == "bf16" and info["bf16_speedup"] > 2
    assert choose_precision("bf16", cuda=False, step=None)[0] == "bf16"


def test_plan_steps_fits_the_budget():
    # 100 s left, 1 s per step, 10 steps per epoch, 5 s per validation, 3 s for the test
    t = plan_steps(budget_s=100, elapsed_s=0, done_steps=0, step_s=1.0, eval_s=5.0, steps_per_epoch=10,
                   max_steps=10_000, test_s=3.0)
    import math
    assert t * 1.0 + math.ceil(t / 10) * 5.0 + 3.0 <= 100 < (t + 1) + math.ceil((t + 1) / 10) * 5.0 + 3.0 + 1
    assert plan_steps(budget_s=100, elapsed_s=0, done_steps=0, step_s=1.0, eval_s=0, steps_per_epoch=10,
                      max_steps=20) == 20  # capped by the epochs
    assert plan_steps(budget_s=100, elapsed_s=150, done_steps=30, step_s=1.0, eval_s=0, steps_per_epoch=10,
                      max_steps=500) == 30  # over time: stop where we are
    assert planned_linear(0, 100, 0.1) == 0.0 and planned_linear(10, 100, 0.1) == 1.0
    assert planned_linear(55, 100, 0.1) == pytest.approx(0.5)


def test_minutes_budget_plans_the_steps_and_the_schedule_ends_with_it(exc_data, bert_teacher, tmp_path):
    r = finetune_teacher(teacher_cfg(exc_data, bert_teacher, tmp_path / "t", "train.minutes=0.05",
                                     "train.epochs=50", "train.log_every=1"), progress=False)
    plan = r["plan"]
    assert r["status"] == "done" and plan["budget_s"] == 3.0 and plan["total_steps"] >= 1
    assert r["global_steps"] <= plan["total_steps"] and r["train_seconds"] < 3.0 * 1.5 + 2
    log = [json.loads(x) for x in (tmp_path / "t" / "log.jsonl").read_text().splitlines()]
    lrs = [e["lr"] for e in log if e["event"] == "step"]
    assert len(lrs) == r["global_steps"]
    # however often the plan was remade (the machine's speed decides it): up through the warm-up, then never up
    peak = lrs.index(max(lrs))
    assert all(b <= a * (1 + 1e-9) for a, b in zip(lrs[peak:], lrs[peak + 1:])), lrs
    assert planned_linear(plan["total_steps"], plan["total_steps"], 0.1, plan.get("anchor"),
                          plan.get("warmup_steps")) == 0.0  # the schedule ends with the plan
    assert r["precision"] == "no"


def test_teacher_recipes():
    from codekd.recipes import teacher_recipe

    cpu = teacher_recipe("cpu", teacher="minilm", pooling=None)
    assert cpu["teacher.freeze_layers"] == 3 and cpu["train.mixed_precision"] == "auto" and cpu["train.lr"] == 3e-4
    assert "teacher.freeze_layers" not in teacher_recipe("cpu", teacher="codebert-base", pooling=None)
    assert teacher_recipe("paper", teacher="minilm", pooling=None)["train.lr"] == 2e-5
    with pytest.raises(ConfigError, match="unknown recipe"):
        teacher_recipe("fast", teacher="minilm", pooling=None)


def test_cli_teacher_finetune_takes_minutes_precision_and_freeze(exc_data, bert_teacher, tmp_path):
    from typer.testing import CliRunner

    from codekd.cli import app

    out = tmp_path / "t"
    res = CliRunner().invoke(app, ["teacher", "finetune", "--teacher", str(bert_teacher), "--data", str(exc_data),
                                   "--task", "exception", "--out", str(out), "--recipe", "cpu", "--pooling", "mean",
                                   "--minutes", "0.05", "--precision", "no", "--freeze-layers", "1", "--batch-size", "8", "--max-length", "96",
                                   "--no-baseline", "--set", "train.eval_batch_size=16"])
    assert res.exit_code == 0, (res.output, res.exception)
    m = json.loads((out / "metrics.json").read_text())
    assert m["plan"]["budget_s"] == 3.0 and m["precision"] == "no" and m["frozen_prefix"]["layers"] == 1


def test_a_remade_plan_never_raises_the_learning_rate():
    from codekd.engine.trainer import _replan, _plan_factor

    state = {"plan": {"total_steps": 100, "replans": [], "eval_s": 0.0, "test_s": 0.0}}
    before = _plan_factor(state["plan"], 80, 0.1)
    # the run turned out faster: many more steps fit; the factor at step 80 stays, then decays to the new end
    _replan(state, budget_s=1000, elapsed_s=80, done=80, step_s=1.0, steps_per_epoch=50, max_total=10_000)
    assert state["plan"]["total_steps"] > 100
    assert _plan_factor(state["plan"], 80, 0.1) == pytest.approx(before)
    f = [_plan_factor(state["plan"], s, 0.1) for s in range(80, state["plan"]["total_steps"] + 1, 7)]
    assert all(a >= b for a, b in zip(f, f[1:])) and _plan_factor(state["plan"], state["plan"]["total_steps"], 0.1) == 0


def test_a_plan_remade_inside_the_warm_up_rises_then_only_falls():
    from codekd.engine.trainer import _plan_factor, _replan

    for budget in (30.0, 5000.0):  # the run was slower (plan cut to 30 steps) / faster (many more) than probed
        state = {"plan": {"total_steps": 200, "warmup_steps": 20, "replans": [], "eval_s": 0.0, "test_s": 0.0}}
        f = [_plan_factor(state["plan"], s, 0.1) for s in range(0, 7)]
        _replan(state, budget_s=budget, elapsed_s=6, done=6, step_s=1.0, steps_per_epoch=50, max_total=10_000)
        total = state["plan"]["total_steps"]
        f += [_plan_factor(state["plan"], s, 0.1) for s in range(7, total + 1)]
        peak = f.index(max(f))
        assert all(a <= b for a, b in zip(f[:peak], f[1:peak + 1])), (budget, f[:40])
        assert all(a >= b for a, b in zip(f[peak:], f[peak + 1:])), (budget, f[:40])
        assert f[-1] == 0.0 and max(f) <= 1.0


def test_a_speed_probe_computes_the_prefix_and_stores_nothing(bert_teacher):
    t = Teacher.load(str(bert_teacher), 3, pooling="mean")
    t.eval()
    side, store = frozen_prefix_side(t, 1)
    full = teacher_side(t)
    with torch.no_grad():
        ref = full.forward(t, full.encode(CODES), False).logits
        with store.probing():
            got = side.forward(t, side.encode(CODES), False).logits
    assert torch.allclose(ref, got, atol=1e-5)
    assert store.rows == {} and store.stats["functions"] == 0
