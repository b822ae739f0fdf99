"""End-to-end engine runs on tiny models: every method x family, resume, cache, clipping, freezing."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from codekd.config import load_run_config
from codekd.engine.runs import distill, finetune_teacher
from codekd.engine.teacher_cache import TeacherCache, build_teacher_cache
from codekd.engine.trainer import Interrupted
from codekd.errors import ConfigError

TINY = {"gru": ["student.preset=gru-1.5m", "student.hidden=16", "student.layers=2"],
        "roberta": ["student.preset=roberta-0.6m", "student.hidden=32", "student.heads=2", "student.ffn=64",
                    "student.layers=2"]}


def cfg_for(data, out, *, method="kd", family="gru", teacher=None, extra=()):
    sets = [*TINY[family], "student.vocab_size=300", "train.batch_size=8", "train.epochs=1", "train.max_steps=2",
            "train.max_length=96", "train.eval_batch_size=16", f"method.name={method}", *extra]
    fields = {"task": "exception", "data": str(data), "out": str(out)}
    if teacher:
        fields["teacher.path"] = str(teacher)
    return load_run_config(None, sets, **fields)


@pytest.mark.parametrize("family", ["gru", "roberta"])
@pytest.mark.parametrize("method", ["ft", "kd", "dist"])
def test_two_step_run_every_method_and_family(exc_data, bert_teacher, tmp_path, method, family):
    before = load_file(str(bert_teacher / "model.safetensors"))
    r = distill(cfg_for(exc_data, tmp_path / "run", method=method, family=family,
                        teacher=None if method == "ft" else bert_teacher), progress=False)
    assert r["status"] == "done" and r["global_steps"] == 2
    assert 0 <= r["test"]["accuracy"] <= 1 and "top3" in r["test"]
    assert r["family"] == family
    assert (tmp_path / "run" / "best" / "config.json").is_file()
    # the teacher's weights on disk are untouched, and FT never loads a teacher
    after = load_file(str(bert_teacher / "model.safetensors"))
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert (r["teacher_source"] is None) == (method == "ft")
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [e["event"] for e in log][0] == "start" and log[-1]["event"] == "done"


def test_finished_run_is_not_redone(exc_data, tmp_path):
    cfg = cfg_for(exc_data, tmp_path / "run", method="ft")
    r1 = distill(cfg, progress=False)
    n_lines = len((tmp_path / "run" / "log.jsonl").read_text().splitlines())
    r2 = distill(cfg, progress=False)
    assert r1 == r2 and len((tmp_path / "run" / "log.jsonl").read_text().splitlines()) == n_lines


@pytest.mark.parametrize("method", ["ft", "kd"])
def test_resume_equals_uninterrupted(exc_data, bert_teacher, tmp_path, method):
    extra = ["train.max_steps=6", "train.epochs=2", "train.checkpoint_every=2", "train.batch_size=12"]
    teacher = None if method == "ft" else bert_teacher
    full = distill(cfg_for(exc_data, tmp_path / "full", method=method, teacher=teacher, extra=extra), progress=False)
    cfg = cfg_for(exc_data, tmp_path / "cut", method=method, teacher=teacher, extra=extra)
    with pytest.raises(Interrupted):
        distill(cfg, progress=False, stop_after=3)  # step 3 lands in epoch 1 (4 steps per epoch), mid-epoch
    assert (tmp_path / "cut" / "checkpoint" / "trainer_state.json").is_file()
    resumed = distill(cfg, progress=False)
    assert resumed["test"] == full["test"] and resumed["valid"] == full["valid"]
    assert [h["train_loss"] for h in resumed["history"]] == pytest.approx([h["train_loss"] for h in full["history"]], abs=1e-6)
    a = load_file(str(tmp_path / "full" / "best" / "model.safetensors"))
    b = load_file(str(tmp_path / "cut" / "best" / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not (tmp_path / "cut" / "checkpoint").exists()  # a finished run keeps best/ and metrics only


def test_checkpoint_of_other_config_is_refused(exc_data, tmp_path):
    cfg = cfg_for(exc_data, tmp_path / "run", method="ft", extra=["train.checkpoint_every=1", "train.max_steps=3"])
    with pytest.raises(Interrupted):
        distill(cfg, progress=False, stop_after=1)
    other = cfg_for(exc_data, tmp_path / "run", method="ft", extra=["train.lr=0.1"])
    with pytest.raises(ConfigError, match="different config"):
        distill(other, progress=False)


def test_teacher_cache_equals_live_teacher_and_stale_cache_is_refused(exc_data, bert_teacher, tmp_path):
    meta = build_teacher_cache(bert_teacher, exc_data, "exception", tmp_path / "cache", splits=["train"],
                               max_length=96, progress=False)
    assert meta["splits"] == {"train": 48}
    cache = TeacherCache(tmp_path / "cache")
    # cached logits are the live teacher's, looked up by example id
    from codekd.data import load_task_data, normalize_code
    from codekd.models.teacher import Teacher

    t = Teacher.load(str(bert_teacher), 3, max_length=96)
    split = load_task_data(exc_data, "exception")["train"]
    codes = [normalize_code(c[0]) for c in split.codes([5, 0, 17])]
    live = t.predict_logits(codes).numpy()
    rows = cache.rows_for("train", [split.ids[i] for i in (5, 0, 17)])
    np.testing.assert_allclose(cache.logits("train")[rows], live, atol=1e-5)
    # a KD run from the cache ends like the live-teacher run
    extra = ["train.max_steps=3"]
    live_r = distill(cfg_for(exc_data, tmp_path / "live", method="kd", teacher=bert_teacher, extra=extra), progress=False)
    cached_r = distill(cfg_for(exc_data, tmp_path / "cached", method="kd", teacher=bert_teacher,
                               extra=[*extra, f"teacher.cache={tmp_path / 'cache'}"]), progress=False)
    assert cached_r["teacher_cache"] and not live_r["teacher_cache"]
    assert cached_r["test"]["accuracy"] == live_r["test"]["accuracy"]
    a = load_file(str(tmp_path / "live" / "best" / "model.safetensors"))
    b = load_file(str(tmp_path / "cached" / "best" / "model.safetensors"))
    assert all(torch.allclose(a[k], b[k], atol=1e-4) for k in a)
    # stale: the data changed after the cache was built
    stale_data = tmp_path / "data2"
    import shutil

    shutil.copytree(exc_data, stale_data)
    with open(stale_data / "valid.jsonl", "a") as fh:
        fh.write(json.dumps({"func": "def f():\n    try: pass\n    except __HOLE__: pass", "target": 0, "idx": "new"}) + "\n")
    with pytest.raises(ConfigError, match="stale teacher cache"):
        distill(load_run_config(None, [*TINY["gru"], "student.vocab_size=300", "method.name=kd", "train.max_steps=1",
                                       "train.max_length=96", f"teacher.cache={tmp_path / 'cache'}"],
                                task="exception", data=str(stale_data), out=str(tmp_path / "stale"),
                                **{"teacher.path": str(bert_teacher)}), progress=False)


def test_pooled_cache_serves_pkd_like_the_live_teacher(exc_data, bert_teacher, tmp_path):
    logits_only = tmp_path / "logits"
    build_teacher_cache(bert_teacher, exc_data, "exception", logits_only, max_length=96, progress=False)
    meta = build_teacher_cache(bert_teacher, exc_data, "exception", tmp_path / "pooled", max_length=96, pooled=True,
                               progress=False)
    assert meta["contents"] == ["logits", "pooled"]
    cache = TeacherCache(tmp_path / "pooled")
    assert cache.has_pooled and not TeacherCache(logits_only).has_pooled
    # the cached states are the live teacher's [CLS] after each layer, looked up by id
    from codekd.data import load_task_data
    from codekd.engine.batching import Collator
    from codekd.engine.sides import teacher_side
    from codekd.models.teacher import Teacher

    t = Teacher.load(str(bert_teacher), 3, max_length=96).eval()
    split = load_task_data(exc_data, "exception")["train"]
    side = teacher_side(t)
    batch = Collator(split, "whitespace", {"x": side.encode})([7, 2])
    with torch.no_grad():
        live = side.forward(t, batch["x"], True)
    states = cache.pooled("train")[cache.rows_for("train", [split.ids[7], split.ids[2]])]
    assert states.shape == (2, t.num_layers, t.hidden_size)
    for layer in range(t.num_layers):
        np.testing.assert_allclose(states[:, layer], live.pooled_states[layer].numpy(), atol=1e-5)
    # a PKD run from the pooled cache ends like the live-teacher run
    extra = ["train.max_steps=3"]
    live_r = distill(cfg_for(exc_data, tmp_path / "live", method="pkd", teacher=bert_teacher, extra=extra),
                     progress=False)
    cached_r = distill(cfg_for(exc_data, tmp_path / "cached", method="pkd", teacher=bert_teacher,
                               extra=[*extra, f"teacher.cache={tmp_path / 'pooled'}"]), progress=False)
    assert cached_r["teacher_cache"] and not live_r["teacher_cache"]
    a = load_file(str(tmp_path / "live" / "best" / "model.safetensors"))
    b = load_file(str(tmp_path / "cached" / "best" / "model.safetensors"))
    assert all(torch.allclose(a[k], b[k], atol=1e-4) for k in a)
    # a logits-only cache cannot serve PKD, a cache without token states cannot serve CKD
    with pytest.raises(ConfigError, match="pooled per-layer states; this cache holds none"):
        distill(cfg_for(exc_data, tmp_path / "x", method="pkd", teacher=bert_teacher,
                        extra=[f"teacher.cache={logits_only}"]), progress=False)
    with pytest.raises(ConfigError, match="token states; this cache holds none"):
        distill(cfg_for(exc_data, tmp_path / "y", method="ckd", teacher=bert_teacher,
                        extra=[f"teacher.cache={tmp_path / 'pooled'}"]), progress=False)


def test_token_cache_serves_ckd_like_the_live_teacher(exc_data, bert_teacher, tmp_path):
    from codekd.data import load_task_data
    from codekd.engine.batching import Collator
    from codekd.engine.sides import teacher_side
    from codekd.models.teacher import Teacher

    with pytest.raises(ConfigError, match="out of range"):
        build_teacher_cache(bert_teacher, exc_data, "exception", tmp_path / "bad", max_length=96, token_layers=[3],
                            progress=False)
    meta = build_teacher_cache(bert_teacher, exc_data, "exception", tmp_path / "tok", max_length=96,
                               token_layers=[2, 1], progress=False)
    assert meta["token_layers"] == [1, 2] and "tokens" in meta["contents"]
    cache = TeacherCache(tmp_path / "tok")
    data = load_task_data(exc_data, "exception")
    split = data["train"]
    lookup = cache.lookup_fn(data, ("train",), token_layers=(1, 2))
    rows = [9, 3, 30]
    got = lookup("train", torch.tensor(rows))
    t = Teacher.load(str(bert_teacher), 3, max_length=96).eval()
    side = teacher_side(t)
    with torch.no_grad():
        live = side.forward(t, Collator(split, "whitespace", {"x": side.encode})(rows)["x"], True)
    # same mask, offsets and (float16-rounded) states on the real tokens; other layers are not held
    n = live.attention_mask.shape[1]
    assert got.hidden_states[0] is None and len(got.hidden_states) == 3
    assert torch.equal(got.attention_mask, live.attention_mask[:, : got.attention_mask.shape[1]])
    assert int(live.attention_mask[:, got.attention_mask.shape[1]:].sum()) == 0 and got.attention_mask.shape[1] <= n
    m = got.attention_mask.bool()
    assert torch.equal(got.offsets[m], live.offsets[:, : m.shape[1]][m].long())
    for layer in (1, 2):
        torch.testing.assert_close(got.hidden_states[layer][m], live.hidden_states[layer][:, : m.shape[1]][m],
                                   atol=2e-3, rtol=2e-3)
    # a CKD run from the cache starts with the live run's loss and finishes
    extra = ["train.max_steps=2"]
    live_r = distill(cfg_for(exc_data, tmp_path / "live", method="ckd", teacher=bert_teacher, extra=extra),
                     progress=False)
    cached_r = distill(cfg_for(exc_data, tmp_path / "cached", method="ckd", teacher=bert_teacher,
                               extra=[*extra, f"teacher.cache={tmp_path / 'tok'}"]), progress=False)
    assert cached_r["teacher_cache"] and not live_r["teacher_cache"] and cached_r["status"] == "done"

    def first_loss(run):
        return next(json.loads(x)["loss"] for x in (tmp_path / run / "log.jsonl").read_text().splitlines()
                    if json.loads(x)["event"] == "step")

    assert first_loss("cached") == pytest.approx(first_loss("live"), rel=1e-3)
    # a cache without the mapped layers, or without token states, is refused with the reason
    build_teacher_cache(bert_teacher, exc_data, "exception", tmp_path / "tok1", max_length=96, token_layers=[1],
                        progress=False)
    with pytest.raises(ConfigError, match="reads layers 2"):
        distill(cfg_for(exc_data, tmp_path / "z", method="ckd", teacher=bert_teacher,
                        extra=[f"teacher.cache={tmp_path / 'tok1'}"]), progress=False)


def test_gradient_clipping_bounds_the_norm(exc_data, tmp_path):
    cfg = cfg_for(exc_data, tmp_path / "run", method="ft",
                  extra=["train.max_grad_norm=0.01", "train.lr=0.05", "train.log_every=1", "train.max_steps=4"])
    distill(cfg, progress=False)
    steps = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    steps = [e for e in steps if e["event"] == "step"]
    assert len(steps) == 4
    assert any(e["grad_norm"] > 0.01 for e in steps)  # clipping had work to do
    assert all(e["grad_norm_clipped"] <= 0.01 * (1 + 1e-3) for e in steps)


def test_teacher_finetune_then_distill_from_its_run_folder(exc_data, bert_teacher, tmp_path):
    tcfg = load_run_config(None, ["train.max_steps=2", "train.epochs=1", "train.batch_size=8", "train.max_length=96"],
                           kind="finetune", task="exception", data=str(exc_data), out=str(tmp_path / "teacher"),
                           **{"teacher.path": str(bert_teacher)})
    r = finetune_teacher(tcfg, progress=False)
    assert r["role"] == "teacher" and r["architecture"] == "bert" and r["test"] is not None
    from codekd.models.teacher import Teacher

    t = Teacher.from_pretrained(tmp_path / "teacher" / "best")
    assert t.num_labels == 3
    # the fine-tuned weights differ from the base's
    base = load_file(str(bert_teacher / "model.safetensors"))
    tuned = load_file(str(tmp_path / "teacher" / "best" / "model.safetensors"))
    assert any(not torch.equal(base[k], tuned[k]) for k in base if k in tuned)
    s = distill(cfg_for(exc_data, tmp_path / "student", method="kd", teacher=tmp_path / "teacher"), progress=False)
    assert s["status"] == "done"


def test_method_needing_a_teacher_without_one(exc_data, tmp_path):
    with pytest.raises(ConfigError, match="needs a teacher"):
        distill(cfg_for(exc_data, tmp_path / "run", method="kd"), progress=False)


def test_structure_normalisation_adds_marker_tokens_to_the_teacher(exc_data, bert_teacher, tmp_path):
    cfg = load_run_config(None, ["train.max_steps=1", "train.epochs=1", "train.batch_size=8", "train.max_length=96"],
                          kind="finetune", task="exception", data=str(exc_data), out=str(tmp_path / "t"),
                          normalization="structure:hole=3", **{"teacher.path": str(bert_teacher)})
    finetune_teacher(cfg, progress=False)
    from codekd.models.teacher import Teacher

    t = Teacher.from_pretrained(tmp_path / "t" / "best")
    assert t.tokenizer.tokenize("a <nl> <indent> b <dedent>") == ["a", "<nl>", "<indent>", "b", "<dedent>"]
    assert t.model.get_input_embeddings().weight.shape[0] == len(t.tokenizer)
    with pytest.raises(ConfigError, match="normalisation"):
        load_run_config(None, [], task="exception", data="d", out="o", normalization="structure:window=3")
