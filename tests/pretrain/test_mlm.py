"""Masked-LM pre-training: masking statistics, corpus + leakage guard, training, resume, and hand-over
to teacher fine-tuning and distillation (tiny models built by the tests, real stdlib code)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import torch

from codekd.errors import DataError
from codekd.pretrain import build_corpus, function_key, mask_tokens
from codekd.pretrain.masking import IGNORE

TINY_GRU = {"student.hidden": 16, "student.layers": 2}
TINY_ROBERTA = {"student.hidden": 32, "student.heads": 2, "student.ffn": 64, "student.layers": 2}


def _settings(**extra):
    base = {"train.batch_size": 8, "train.max_length": 64, "train.eval_batch_size": 16, "train.log_every": 1,
            "pretrain.heldout_max": 12, "pretrain.vocab_size": 300, "train.checkpoint_every": None}
    base.update(extra)
    return base


# ------------------------------------------------------------------------------------ masking

def _batch(b=64, t=128, vocab=500, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(10, vocab, (b, t), generator=g)
    lengths = torch.randint(t // 4, t + 1, (b,), generator=g)
    mask = (torch.arange(t)[None, :] < lengths[:, None]).long()
    ids[:, 0] = 0                                            # <s>
    ids[torch.arange(b), lengths - 1] = 2                    # </s>
    ids[mask == 0] = 1                                       # <pad>
    return ids, mask


@pytest.mark.parametrize("mode", ["token", "whole_word", "span"])
def test_masking_statistics(mode):
    ids, mask = _batch()
    specials = [0, 1, 2, 3, 4]
    word_ids = None
    if mode == "whole_word":  # words of 1-3 tokens; specials and padding have no word
        word_ids = []
        for row, m in zip(ids.tolist(), mask.tolist()):
            w, out, k = 0, [], 0
            for tok, on in zip(row, m):
                if not on or tok in specials:
                    out.append(None)
                    continue
                out.append(w)
                k += 1
                if k == 1 + (w % 3):
                    w, k = w + 1, 0
            word_ids.append(out)
    g = torch.Generator().manual_seed(1)
    masked, labels = mask_tokens(ids, mask, specials, mask_id=4, vocab_size=500, prob=0.15, mode=mode,
                                 word_ids=word_ids, generator=g)
    real = mask.bool() & (ids != 0) & (ids != 2)
    chosen = labels != IGNORE
    assert not chosen[~real].any(), "special or pad tokens were chosen"
    assert torch.equal(masked[~real], ids[~real]), "special or pad tokens were changed"
    assert torch.equal(labels[chosen], ids[chosen])
    rate = chosen.sum().item() / real.sum().item()
    assert abs(rate - 0.15) < 0.02, rate
    n = chosen.sum().item()
    to_mask = (masked == 4) & chosen
    kept = (masked == ids) & chosen
    if mode != "span":  # span masking decides 80/10/10 per span: fewer, larger units
        assert abs(to_mask.sum().item() / n - 0.8) < 0.04
        assert abs(kept.sum().item() / n - 0.1) < 0.04   # a random draw can hit the same id (rare)
        assert abs((n - to_mask.sum().item() - kept.sum().item()) / n - 0.1) < 0.04
    else:
        assert 0.6 < to_mask.sum().item() / n < 0.95
    assert not ((masked < 5) & chosen & (masked != 4)).any(), "a random replacement drew a special id"


def test_masking_is_reproducible_with_a_generator():
    ids, mask = _batch(8, 32)
    a = mask_tokens(ids, mask, [0, 1, 2], mask_id=4, vocab_size=500, generator=torch.Generator().manual_seed(3))
    b = mask_tokens(ids, mask, [0, 1, 2], mask_id=4, vocab_size=500, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


# ------------------------------------------------------------------------------------ corpus

PLANTED = textwrap.dedent('''\
    def planted_reader(path):
        try:
            with open(path) as fh:
                return fh.read()
        except OSError:
            return None
    ''')


def _source_tree(root: Path) -> Path:
    import fnmatch
    import inspect
    import shlex
    import textwrap as tw

    root.mkdir(parents=True, exist_ok=True)
    for mod in (fnmatch, shlex, tw):
        (root / f"{mod.__name__}_copy.py").write_text(inspect.getsource(mod))
    (root / "dup.py").write_text(inspect.getsource(fnmatch))          # duplicates of every fnmatch function
    (root / "planted.py").write_text(PLANTED + "\n\nclass K:\n    def m(self):\n        return 1 + 2 + 3 + 4\n")
    (root / "broken.py").write_text("def f(:\n")
    (root / "lib.c").write_text("static int add(int a, int b) {\n  return a + b;\n}\n"
                                "int (*pick(int k))(int, int) {\n  return k ? add : 0;\n}\n")
    return root


def test_corpus_dedup_c_and_leakage_guard(tmp_path):
    src = _source_tree(tmp_path / "src")
    task = tmp_path / "task"
    task.mkdir()
    holed = PLANTED.replace("except OSError", "except __HOLE__")
    (task / "valid.jsonl").write_text(json.dumps({"func": holed, "target": "OSError"}) + "\n")
    (task / "test.jsonl").write_text(json.dumps({"func": "def other():\n    return 42\n", "target": "OSError"}) + "\n")
    assert function_key(holed) == function_key(PLANTED)
    assert function_key("def f(x):\n    return x") == function_key("def f(x):  return x")

    guarded = build_corpus([src], tmp_path / "c1", exclude_data=[task], heldout_fraction=0.0)
    open_ = build_corpus([src], tmp_path / "c2", heldout_fraction=0.0)
    rows = [json.loads(x) for name in ("train.jsonl", "heldout.jsonl") for x in open(tmp_path / "c1" / name)]
    keys = {r["key"] for r in rows}
    assert function_key(PLANTED) not in keys
    assert guarded["excluded_leak"] == 1 and open_["excluded_leak"] == 0
    assert guarded["duplicates"] >= 5 and guarded["files_failed"] == 1
    assert guarded["by_language"]["c"] == 2                           # including the function-pointer return
    assert any(r["func"].startswith("def m(self)") for r in rows)     # methods, dedented
    assert len(keys) == len(rows)


def test_corpus_bad_jsonl_line_names_file_and_line(tmp_path):
    f = tmp_path / "x.jsonl"
    f.write_text('{"func": "def a(): return 1"}\n{"nope": 1}\n')
    with pytest.raises(DataError) as e:
        build_corpus([f], tmp_path / "c")
    assert "x.jsonl:2" in str(e.value)


# ------------------------------------------------------------------------------------ training

@pytest.fixture(scope="module")
def corpus_src(tmp_path_factory):
    return _source_tree(tmp_path_factory.mktemp("mlmsrc") / "src")


def _pretrain(model, corpus, out, **kw):
    from codekd.pretrain.mlm import pretrain_config, run_pretrain

    stop_after = kw.pop("stop_after", None)
    cfg = pretrain_config(model, [corpus], out, **_settings(**kw))
    return run_pretrain(cfg, progress=False, stop_after=stop_after)


def test_student_loss_decreases_and_resume_equals_uninterrupted(corpus_src, tmp_path):
    from codekd.engine.trainer import Interrupted
    from safetensors.torch import load_file

    kw = {**TINY_GRU, "train.max_steps": 6, "train.lr": 3e-3, "pretrain.eval_every": 3, "train.checkpoint_every": 2}
    full = _pretrain("gru-1.5m", corpus_src, tmp_path / "full", **kw)
    steps = [json.loads(x) for x in open(tmp_path / "full" / "log.jsonl")]
    losses = [s["loss"] for s in steps if s["event"] == "step"]
    assert losses[-1] < losses[0]
    assert full["valid"]["loss"] < full["initial_valid"]["loss"]
    assert [e["step"] for e in full["evals"]] == [3, 6]

    with pytest.raises(Interrupted):
        _pretrain("gru-1.5m", corpus_src, tmp_path / "resumed", stop_after=4, **kw)
    resumed = _pretrain("gru-1.5m", corpus_src, tmp_path / "resumed", **kw)
    a, b = load_file(str(tmp_path / "full" / "model.safetensors")), load_file(str(tmp_path / "resumed" / "model.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-6), k
    assert resumed["valid"] == pytest.approx(full["valid"])
    assert resumed["evals"] == full["evals"]


def test_adapted_teacher_loads_as_teacher_and_finetunes(bert_teacher, corpus_src, exc_data, tmp_path):
    from safetensors.torch import load_file

    from codekd.config import load_run_config
    from codekd.data.normalize import STRUCTURE_TOKENS
    from codekd.engine.runs import finetune_teacher
    from codekd.models.teacher import Teacher

    out = tmp_path / "adapted"
    r = _pretrain(str(bert_teacher), corpus_src, out, **{"train.max_steps": 3, "train.lr": 1e-3,
                                                         "normalization": "structure", "pretrain.masking": "whole_word"})
    assert r["structure_tokens_added"] == 3 and r["kind"] == "teacher"
    assert (out / "config.json").is_file() and not (out / "best").exists()
    t = Teacher.load(out, num_labels=3)
    vocab = t.tokenizer.get_vocab()
    assert all(tok in vocab for tok in STRUCTURE_TOKENS)
    assert t.model.get_input_embeddings().num_embeddings == len(t.tokenizer)
    src = load_file(str(bert_teacher / "model.safetensors"))
    assert torch.equal(t.model.bert.pooler.dense.weight, src["bert.pooler.dense.weight"])  # pooler kept
    assert not torch.equal(t.model.bert.embeddings.word_embeddings.weight[:10],
                           src["bert.embeddings.word_embeddings.weight"][:10])         # adapted
    cfg = load_run_config(None, ["train.max_steps=1", "train.epochs=1", "train.batch_size=8", "train.max_length=64"],
                          kind="finetune", task="exception", data=str(exc_data), out=str(tmp_path / "ft"),
                          **{"teacher.path": str(out), "normalization": "structure"})
    m = finetune_teacher(cfg, progress=False)
    assert m["status"] == "done" and m["global_steps"] == 1


@pytest.mark.parametrize("family", ["gru", "roberta"])
def test_pretrained_student_is_picked_up_by_distill(family, corpus_src, exc_data, tmp_path):
    from safetensors.torch import load_file

    from codekd.config import load_run_config
    from codekd.engine.runs import distill

    preset, tiny = ("gru-1.5m", TINY_GRU) if family == "gru" else ("roberta-0.6m", TINY_ROBERTA)
    pre = tmp_path / "pre"
    _pretrain(preset, corpus_src, pre, **{**tiny, "train.max_steps": 2}, **{"pretrain.masking": "span"})
    cfg = load_run_config(None, ["method.name=ft", "train.max_steps=1", "train.epochs=1", "train.batch_size=8",
                                 "train.max_length=64", "train.lr=1e-12", "train.warmup_ratio=0"],
                          task="exception", data=str(exc_data), out=str(tmp_path / "run"),
                          **{"student.init_from": str(pre), "student.preset": preset})
    m = distill(cfg, progress=False)
    assert m["init_from"] == str(pre) and m["vocab_size"] == json.loads((pre / "config.json").read_text())["vocab_size"]
    before, after = load_file(str(pre / "model.safetensors")), load_file(str(tmp_path / "run" / "best" / "model.safetensors"))
    emb = "bigru.embeddings.word_embeddings.weight" if family == "gru" else "roberta.embeddings.word_embeddings.weight"
    assert torch.allclose(before[emb], after[emb], atol=1e-6)
    assert not (tmp_path / "run" / "vocab").exists()  # the pre-trained student's own vocabulary was used


def test_cli_pretrain_then_distill_student_folder(corpus_src, exc_data, tmp_path):
    from codekd.cli import app, main
    from typer.testing import CliRunner

    r = CliRunner().invoke(app, ["pretrain", "mlm", "--help"])
    assert r.exit_code == 0 and "--exclude-data" in r.output and "--minutes" in r.output
    pre = tmp_path / "pre"
    assert main(["pretrain", "mlm", "--model", "gru-1.5m", "--corpus", str(corpus_src), "--out", str(pre),
                 "--exclude-data", str(exc_data), "--steps", "1", "--batch-size", "8", "--max-length", "64",
                 "--vocab-size", "300", "--threads", "1", "--set", "student.hidden=16",
                 "--set", "pretrain.heldout_max=8"]) == 0
    assert json.loads((pre / "codekd_pretrain.json").read_text())["valid"]["perplexity"] > 0
    run = tmp_path / "run"
    assert main(["distill", "--student", str(pre), "--method", "ft", "--data", str(exc_data), "--task", "exception",
                 "--out", str(run), "--set", "train.max_steps=1", "--epochs", "1", "--batch-size", "8",
                 "--max-length", "64"]) == 0
    assert json.loads((run / "metrics.json").read_text())["init_from"] == str(pre.resolve())
    assert main(["pretrain", "mlm", "--model", "gru-1.5m", "--corpus", str(tmp_path / "missing"),
                 "--out", str(tmp_path / "x")]) == 2


def test_study_with_adapted_teacher_and_pretrained_student(bert_teacher, corpus_src, exc_data, tmp_path):
    import yaml

    from codekd.study.report import write_report
    from codekd.study.runner import run_study
    from codekd.study.spec import expand, load_study

    adapted, pre = tmp_path / "bert-code", tmp_path / "gru-mlm"
    _pretrain(str(bert_teacher), corpus_src, adapted, **{"train.max_steps": 2}, **{"pretrain.exclude_data": [str(exc_data)]})
    _pretrain("gru-1.5m", corpus_src, pre, **{**TINY_GRU, "train.max_steps": 2})
    doc = {"name": "mlm", "out": "out", "tasks": {"exception": {"data": str(exc_data)}},
           "teachers": {"bert": {"base": str(bert_teacher), "finetune": True, "code_specific": False},
                        "bert-code": {"base": "bert-code", "finetune": True, "code_specific": True}},
           "students": [{"name": "gru-small", "preset": "gru-1.5m", "init_from": None},
                        {"name": "gru-small-mlm", "preset": "gru-1.5m", "init_from": "gru-mlm"}],
           "methods": {"kd": {}}, "seeds": [42], "teacher_cache": False, "bench": {"enabled": False},
           "train": {"max_steps": 1, "epochs": 1, "batch_size": 8, "eval_batch_size": 16, "max_length": 64}}
    doc["students"][0].pop("init_from")
    f = tmp_path / "study.yaml"
    f.write_text(yaml.safe_dump(doc))
    spec, root = load_study(f)
    jobs = expand(spec, root)
    runs = [j for j in jobs if j.kind == "student"]
    assert len(runs) == 4 and sum(j.kind == "teacher" for j in jobs) == 2
    assert {j.cfg.student.init_from for j in runs} == {None, str(pre)}
    r = run_study(f, progress=False)
    assert r["failed"] == 0 and r["done"] == 6
    write_report(tmp_path / "out" / "study.sqlite", tmp_path / "report")
    md = (tmp_path / "report" / "report.md").read_text()
    assert "gru-small-mlm" in md and "bert-code" in md
