"""Teacher wrapper: tiny RoBERTa / BERT / ModernBERT teachers loaded by path, pairs, UniXcoder input."""

from __future__ import annotations

import json

import pytest
import torch

from codekd.errors import ConfigError, ModelLoadError
from codekd.models import teacher as teacher_mod
from codekd.models.hf import position_limit, resolve_model_name
from codekd.models.teacher import TEACHER_FILE, Teacher

ARCHS = ["roberta", "bert", "modernbert"]


def _check_offsets(batch, codes, codes_b=None, suffix=""):
    ids = batch["input_ids" + suffix]
    offs = batch["offset_mapping" + suffix]
    mask = batch["attention_mask" + suffix]
    sides = batch["sequence_ids" + suffix] if "sequence_ids" + suffix in batch else None
    assert offs.shape == (*ids.shape, 2)
    for i in range(ids.shape[0]):
        for t in range(ids.shape[1]):
            s, e = offs[i, t].tolist()
            side = sides[i, t].item() if sides is not None else 0
            if mask[i, t] == 0 or side == -1:
                assert (s, e) == (0, 0)
                continue
            text = codes[i] if side == 0 else codes_b[i]
            assert 0 <= s <= e <= len(text)


@pytest.mark.parametrize("arch", ARCHS)
def test_single_function_teacher_each_architecture(arch, tiny_teacher_dirs, tmp_path, codes):
    torch.manual_seed(0)
    teacher = Teacher.load(tiny_teacher_dirs[arch], num_labels=3)
    assert not teacher.training and not teacher.unixcoder
    batch = teacher.encode(codes[:3])
    _check_offsets(batch, codes[:3])
    # at least one token's span covers real code text
    s, e = batch["offset_mapping"][0, 1].tolist()
    assert codes[0][s:e].strip() != ""
    out = teacher(**batch)
    assert out.logits.shape == (3, 3)
    assert len(out.hidden_states) == teacher.num_layers + 1
    for h in out.hidden_states:
        assert h.shape == (*batch["input_ids"].shape, teacher.hidden_size)
    assert out.pooled.shape == (3, teacher.hidden_size)

    # save / load round trip gives identical logits, through the same path-based loader
    teacher.save_pretrained(tmp_path / "t")
    again = Teacher.from_pretrained(tmp_path / "t")
    assert again.num_labels == 3 and again.pair_mode == teacher.pair_mode
    torch.testing.assert_close(again(**again.encode(codes[:3])).logits, out.logits, rtol=0, atol=1e-6)
    # a joint/single teacher folder is also a plain HF classifier folder
    from transformers import AutoModelForSequenceClassification

    plain = AutoModelForSequenceClassification.from_pretrained(tmp_path / "t")
    assert plain.config.num_labels == 3


@pytest.mark.parametrize("arch", ARCHS)
def test_joint_pair_input(arch, tiny_teacher_dirs, codes):
    teacher = Teacher.load(tiny_teacher_dirs[arch], num_labels=2, is_pair=True, pair_mode="joint")
    a, b = codes[:2], codes[2:4]
    batch = teacher.encode(a, b)
    sides = batch["sequence_ids"]
    assert (sides == 0).any(dim=1).all() and (sides == 1).any(dim=1).all()
    _check_offsets(batch, a, b)
    out = teacher(**batch)
    assert out.logits.shape == (2, 2)
    assert out.hidden_states_b is None
    with pytest.raises(ConfigError):
        teacher.encode(a)  # a pair teacher needs both sides


@pytest.mark.parametrize("arch", ARCHS)
def test_separate_pair_input_and_round_trip(arch, tiny_teacher_dirs, tmp_path, codes):
    torch.manual_seed(0)
    teacher = Teacher.load(tiny_teacher_dirs[arch], num_labels=2, is_pair=True, pair_mode="separate")
    assert teacher.head is not None and teacher.head.inputs == 2
    a, b = codes[:3], codes[3:6]
    batch = teacher.encode(a, b)
    assert batch["input_ids"].shape == batch["input_ids_b"].shape
    assert (batch["sequence_ids"] <= 0).all()  # each side is a single sequence
    _check_offsets(batch, a)
    _check_offsets(batch, b, suffix="_b")
    out = teacher(**batch)
    assert out.logits.shape == (3, 2)
    assert out.pooled.shape == (3, 2 * teacher.hidden_size)
    assert len(out.hidden_states) == len(out.hidden_states_b) == teacher.num_layers + 1
    # the encoder is shared: side b alone equals side b inside the pair
    alone = teacher.tokenizer(b, truncation=True, max_length=teacher.max_length, padding=True, return_tensors="pt")
    if teacher.unixcoder:
        pytest.skip("covered by the UniXcoder test")
    hb = teacher.model(input_ids=alone["input_ids"], attention_mask=alone["attention_mask"],
                       output_hidden_states=True).hidden_states[-1]
    mask = alone["attention_mask"].bool()
    width = mask.shape[1]
    torch.testing.assert_close(hb[mask], out.hidden_states_b[-1][:, :width][mask], rtol=0, atol=1e-5)

    teacher.save_pretrained(tmp_path / "sep")
    settings = json.loads((tmp_path / "sep" / TEACHER_FILE).read_text())
    assert settings["pair_mode"] == "separate" and settings["head"]["inputs"] == 2
    again = Teacher.from_pretrained(tmp_path / "sep")
    assert again.separate
    torch.testing.assert_close(again(**again.encode(a, b)).logits, out.logits, rtol=0, atol=1e-6)


def test_unixcoder_prefix_detected_and_counted(tiny_unixcoder_dir, tmp_path, codes):
    teacher = Teacher.load(tiny_unixcoder_dir, num_labels=2, max_length=40)
    assert teacher.unixcoder
    tok = teacher.tokenizer
    mode = tok.convert_tokens_to_ids("<encoder-only>")
    long_code = codes[2] * 6
    batch = teacher.encode([codes[0], long_code])
    ids = batch["input_ids"]
    assert ids.shape[1] == 40  # the prefix is counted inside max_length
    for row, mask in zip(ids, batch["attention_mask"]):
        n = int(mask.sum())
        assert row[:3].tolist() == [tok.cls_token_id, mode, tok.sep_token_id]
        assert row[n - 1].item() == tok.sep_token_id
    assert batch["offset_mapping"][:, :3].abs().sum() == 0
    # the truncated long code: 36 code tokens, and they are its first 36 tokens
    plain = tok(long_code, add_special_tokens=False)["input_ids"]
    assert ids[1, 3:39].tolist() == plain[:36]
    _check_offsets(batch, [codes[0], long_code])
    out = teacher(**batch)
    assert out.logits.shape == (2, 2)

    # joint pair: <s> <encoder-only> </s> a </s></s> b </s>, still within max_length
    pt = Teacher.load(tiny_unixcoder_dir, num_labels=2, is_pair=True, max_length=40)
    pb = pt.encode([long_code], [long_code])
    assert pb["input_ids"].shape[1] == 40
    assert (pb["sequence_ids"] == 0).sum() + (pb["sequence_ids"] == 1).sum() == 34
    assert pt(**pb).logits.shape == (1, 2)

    # the setting survives a save / load round trip
    teacher.save_pretrained(tmp_path / "ux")
    again = Teacher.from_pretrained(tmp_path / "ux")
    assert again.unixcoder and again.max_length == 40
    torch.testing.assert_close(again(**again.encode([codes[0], long_code])).logits, out.logits, rtol=0, atol=1e-6)

    # forced off: plain RoBERTa input
    off = Teacher.load(tiny_unixcoder_dir, num_labels=2, unixcoder=False)
    assert off.encode([codes[0]])["input_ids"][0, 1].item() != mode


def test_unixcoder_forced_without_token_is_an_error(tiny_roberta_dir):
    with pytest.raises(ConfigError, match="encoder-only"):
        Teacher.load(tiny_roberta_dir, num_labels=2, unixcoder=True)


def test_max_length_capped_by_position_table(tiny_roberta_dir, tiny_bert_dir, codes):
    rob = Teacher.load(tiny_roberta_dir, num_labels=2, max_length=512)
    assert position_limit(rob.config) == 64  # 66 positions - (pad 1 + 1)
    assert rob.max_length == 64
    batch = rob.encode([codes[2] * 10])
    assert batch["input_ids"].shape[1] == 64
    rob(**batch)  # no IndexError in the position table
    bert = Teacher.load(tiny_bert_dir, num_labels=2, max_length=512)
    assert bert.max_length == 64
    assert bert.encode([codes[2] * 10])["input_ids"].shape[1] == 64


def test_attentions_need_eager(tiny_roberta_dir, codes):
    eager = Teacher.load(tiny_roberta_dir, num_labels=2, attn_implementation="eager")
    batch = eager.encode(codes[:2])
    out = eager(**batch, output_attentions=True)
    assert len(out.attentions) == eager.num_layers
    assert out.attentions[0].shape[-1] == batch["input_ids"].shape[1]
    sdpa = Teacher.load(tiny_roberta_dir, num_labels=2)
    try:
        res = sdpa(**batch, output_attentions=True)
    except ConfigError as exc:
        assert "eager" in str(exc)
    else:  # some versions fall back to eager by themselves
        assert len(res.attentions) == sdpa.num_layers


def test_custom_head_when_no_sequence_classifier(tiny_roberta_dir, tmp_path, monkeypatch, codes):
    monkeypatch.setattr(teacher_mod, "has_sequence_classifier", lambda config: False)
    teacher = Teacher.load(tiny_roberta_dir, num_labels=4)
    assert teacher.head is not None and teacher.head.inputs == 1
    out = teacher(**teacher.encode(codes[:2]))
    assert out.logits.shape == (2, 4)
    teacher.save_pretrained(tmp_path / "h")
    again = Teacher.from_pretrained(tmp_path / "h")
    torch.testing.assert_close(again(**again.encode(codes[:2])).logits, out.logits, rtol=0, atol=1e-6)


def test_labels_give_a_loss_and_gradients(tiny_bert_dir, codes):
    teacher = Teacher.load(tiny_bert_dir, num_labels=2).train()
    batch = teacher.encode(codes[:2])
    out = teacher(**batch, labels=torch.tensor([0, 1]))
    out.loss.backward()
    assert any(p.grad is not None for p in teacher.parameters())


def test_missing_model_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    missing = tmp_path / "nope"
    with pytest.raises(ModelLoadError) as info:
        Teacher.load(missing, num_labels=2)
    msg = str(info.value)
    assert str(missing) in msg and "offline" in msg and "cache" in msg and "\n" not in msg
    with pytest.raises(ModelLoadError, match="no-such-org/no-such-model"):
        Teacher.load("no-such-org/no-such-model", num_labels=2)


def test_minilm_alias_resolves_to_packaged_model():
    from pathlib import Path

    path = Path(resolve_model_name("minilm"))
    assert (path / "config.json").is_file()


def test_mean_pooling_detected_for_sentence_transformers_and_padding_invariant(tiny_bert_dir, tmp_path, codes):
    from codekd.engine.sides import teacher_side
    from codekd.models.teacher import detect_pooling

    assert detect_pooling(resolve_model_name("minilm")) == "mean"  # all-MiniLM-L6-v2 averages its tokens
    assert detect_pooling(tiny_bert_dir) == "cls"
    # a copy of the tiny BERT with a sentence-transformers pooling module picks mean pooling
    import shutil

    st = tmp_path / "st"
    shutil.copytree(tiny_bert_dir, st)
    (st / "1_Pooling").mkdir()
    (st / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_mean_tokens": True,
                                                              "pooling_mode_cls_token": False}))
    t = Teacher.load(st, num_labels=3)
    assert t.pooling == "mean" and t.head is not None
    assert Teacher.load(st, num_labels=3, pooling="cls").pooling == "cls"
    with pytest.raises(ConfigError, match="pooling"):
        Teacher.load(st, num_labels=3, pooling="max")
    # the head reads the masked mean of the last layer: padding changes nothing
    short = t.encode(codes[:1])
    both = t.encode([codes[0], codes[0] + " x = 1" * 20])
    assert both["input_ids"].shape[1] > short["input_ids"].shape[1]
    with torch.no_grad():
        a = t(**short)
        b = t(**both)
    m = short["attention_mask"].unsqueeze(-1).float()
    mean = (a.hidden_states[-1] * m).sum(1) / m.sum(1)
    torch.testing.assert_close(a.pooled, mean)
    torch.testing.assert_close(b.logits[:1], a.logits, atol=1e-5, rtol=1e-4)
    # per-layer pooled states (what PKD reads) are masked means too
    side = teacher_side(t)
    with torch.no_grad():
        out = side.forward(t, {k: v for k, v in short.items()}, True)
    h1 = out.hidden_states[1]
    torch.testing.assert_close(out.pooled_states[0], (h1 * m).sum(1) / m.sum(1))
    # saved and loaded back with its pooling and the same outputs
    t.save_pretrained(tmp_path / "saved")
    back = Teacher.load(tmp_path / "saved")
    assert back.pooling == "mean"
    assert json.loads((tmp_path / "saved" / TEACHER_FILE).read_text())["pooling"] == "mean"
    with torch.no_grad():
        torch.testing.assert_close(back(**short).logits, a.logits)
