"""Decoder-only (causal) code-LLM teachers on tiny random Qwen2 / Llama / Gemma / Starcoder2 models:
detection, last-token pooling (left and right padding), the pad token, the PKD invariant, LoRA
adapters merged for saving, the QLoRA refusal, and the decoder FLOPs calculator."""

from __future__ import annotations

import json
import warnings

import pytest
import torch
from fixtures_decoders import ARCHS, EOS, tiny_decoder_teacher

from codekd.config import LoraSpec, load_run_config, parse_lora
from codekd.engine.sides import teacher_side
from codekd.errors import ConfigError
from codekd.methods import MethodContext, get_method
from codekd.models.hf import is_causal_config
from codekd.models.teacher import Teacher, last_token_index, last_token_states, set_pad_token

CODES = ["def f(x):\n    return x", "def longer_function(a, b):\n    if a:\n        return a + b * 2\n    return b"]


@pytest.fixture(scope="module")
def decoders(tmp_path_factory):
    root = tmp_path_factory.mktemp("decoders")
    return {a: tiny_decoder_teacher(root / a, a) for a in ARCHS}


def test_causal_configs_are_detected():
    from transformers import BertConfig, GemmaConfig, LlamaConfig, ModernBertConfig, Qwen2Config, RobertaConfig, \
        Starcoder2Config

    for cls in (Qwen2Config, LlamaConfig, GemmaConfig, Starcoder2Config):
        assert is_causal_config(cls()), cls.__name__
    for cls in (BertConfig, RobertaConfig, ModernBertConfig):
        assert not is_causal_config(cls()), cls.__name__
    assert is_causal_config(BertConfig(is_decoder=True))


@pytest.mark.parametrize("arch", ARCHS)
def test_decoder_teacher_pools_the_last_real_token_and_gets_a_pad_token(decoders, arch):
    t = Teacher.load(str(decoders[arch]))
    assert t.causal and t.pooling == "last" and t.head is None
    assert t.tokenizer.pad_token == EOS and t.config.pad_token_id == t.tokenizer.pad_token_id  # none before
    batch = t.encode(CODES)
    assert batch["attention_mask"][0].sum() < batch["attention_mask"][1].sum()  # row 0 is right-padded
    with torch.no_grad():
        out = t(**batch)
        hf = t.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        alone = t(**t.encode(CODES[:1])).logits
    torch.testing.assert_close(out.logits, hf, atol=1e-5, rtol=1e-4)  # HF's own head, same position
    torch.testing.assert_close(out.logits[:1], alone, atol=1e-5, rtol=1e-4)  # padding never leaks in
    idx = last_token_index(batch["attention_mask"])
    torch.testing.assert_close(out.pooled, out.hidden_states[-1][torch.arange(2), idx])


def test_last_token_states_with_left_and_right_padding():
    h = torch.arange(2 * 4 * 3, dtype=torch.float32).view(2, 4, 3)
    right = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]])
    left = torch.tensor([[0, 0, 1, 1], [0, 1, 1, 1]])
    assert last_token_index(right).tolist() == [1, 3]
    assert last_token_index(left).tolist() == [3, 3]
    torch.testing.assert_close(last_token_states(h, right), torch.stack([h[0, 1], h[1, 3]]))
    torch.testing.assert_close(last_token_states(h, left), torch.stack([h[0, 3], h[1, 3]]))


@pytest.mark.parametrize("arch", ["qwen2", "llama"])
def test_changing_only_the_last_real_token_changes_every_pooled_state_pkd_reads(decoders, arch):
    """The invariant that failed before decoders were supported: PKD read hidden[:, 0], which a
    causal model computes from the first token alone."""
    t = Teacher.load(str(decoders[arch]))
    side = teacher_side(t)
    enc = side.encode([(c,) for c in CODES])
    last = last_token_index(enc["attention_mask"])
    changed = {k: v.clone() for k, v in enc.items()}
    old = int(changed["input_ids"][0, last[0]])
    changed["input_ids"][0, last[0]] = (old + 7) % len(t.tokenizer)
    with torch.no_grad():
        a = side.forward(t, enc, True)
        b = side.forward(t, changed, True)
    assert len(a.pooled_states) == t.num_layers
    for layer, (x, y) in enumerate(zip(a.pooled_states, b.pooled_states), 1):
        assert (x[0] - y[0]).abs().max() > 1e-4, f"layer {layer}: the pooled state ignores the last token"
        torch.testing.assert_close(x[1], y[1])  # the other example is untouched
        # the first-token state (what was read before) cannot see the change at all
        torch.testing.assert_close(a.hidden_states[layer][0, 0], b.hidden_states[layer][0, 0])
    assert (a.logits[0] - b.logits[0]).abs().max() > 0


def test_pad_token_is_added_when_the_tokenizer_has_no_eos_or_unk():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok = PreTrainedTokenizerFast(tokenizer_object=raw)
    assert tok.pad_token is None and set_pad_token(tok) and tok.pad_token == "<|pad|>"
    assert not set_pad_token(tok)  # already there


def test_cls_pooling_is_refused_for_a_decoder_and_a_round_trip_keeps_last(decoders, tmp_path):
    with pytest.raises(ConfigError, match="causal"):
        Teacher.load(str(decoders["qwen2"]), pooling="cls")
    t = Teacher.load(str(decoders["qwen2"]))
    t.save_pretrained(tmp_path / "t")
    saved = json.loads((tmp_path / "t" / "codekd_teacher.json").read_text())
    assert saved["pooling"] == "last" and saved["causal"] is True
    # a folder saved before decoders were supported said "cls": read as "last"
    saved["pooling"] = "cls"
    (tmp_path / "t" / "codekd_teacher.json").write_text(json.dumps(saved))
    back = Teacher.load(str(tmp_path / "t"))
    assert back.pooling == "last" and back.tokenizer.pad_token == EOS
    batch = t.encode(CODES)
    with torch.no_grad():
        torch.testing.assert_close(back(**batch).logits, t(**batch).logits)


def test_paper_faithful_pkd_and_ckd_refuse_a_causal_teacher_and_ckd_notes_it():
    ctx = MethodContext(task="exception", num_labels=3, student_family="gru", student_layers=2, student_hidden=32,
                        teacher_layers=2, teacher_hidden=64, extra={"teacher_causal": True})
    for name in ("pkd", "ckd", "tinybert"):
        with pytest.raises(ConfigError, match="decoder-only"):
            get_method(name)(ctx, paper_faithful=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        get_method("ckd")(ctx)
        pkd = get_method("pkd")(ctx)
    assert any("causal attention" in str(w.message) for w in caught)
    assert pkd.describe()["teacher_state"].startswith("last real token")
    get_method("kd")(ctx, paper_faithful=True)  # logit methods do not care


# ------------------------------------------------------------------------------------------- LoRA

def test_lora_settings_parse_from_the_command_line_form():
    assert parse_lora("r=8,alpha=16,dropout=0.1,targets=q_proj+v_proj,bits=4") == {
        "r": 8, "alpha": 16, "dropout": 0.1, "targets": ["q_proj", "v_proj"], "bits": 4}
    cfg = load_run_config(None, [], kind="finetune", task="exception", data="d", out="o",
                          **{"teacher.path": "t", "teacher.lora": "r=4"})
    assert cfg.teacher.lora == LoraSpec(r=4) and cfg.teacher.lora.alpha == 32
    assert load_run_config(None, [], kind="finetune", task="exception", data="d", out="o",
                           **{"teacher.lora": "on"}).teacher.lora == LoraSpec()
    with pytest.raises(ConfigError, match="LoRA setting"):
        load_run_config(None, [], kind="finetune", task="exception", data="d", out="o", **{"teacher.lora": "rank8"})


def test_lora_adapters_save_merged_and_qlora_needs_a_gpu(decoders, tmp_path):
    pytest.importorskip("peft")
    from codekd.models.lora import apply_lora, is_peft_model, quantized_load_kwargs

    t = Teacher.load(str(decoders["qwen2"]), num_labels=3)
    t.requires_grad_(True)
    info = apply_lora(t, {"r": 4, "alpha": 8, "dropout": 0.0})
    assert is_peft_model(t.model) and info["targets"] and 0 < info["trainable_params"] < info["total_params"] / 3
    trainable = {n for n, p in t.named_parameters() if p.requires_grad}
    assert any("lora_" in n for n in trainable) and any("score" in n for n in trainable)
    assert not any("embed_tokens" in n for n in trainable)
    torch.manual_seed(1)
    with torch.no_grad():  # a trained-looking adapter: B != 0, so merging matters
        for n, p in t.named_parameters():
            if "lora_B" in n or ("score" in n and p.requires_grad):
                p.normal_(0, 0.5)
    batch = t.encode(CODES)
    with torch.no_grad():
        live = t(**batch).logits
    t.save_pretrained(tmp_path / "best")
    assert (tmp_path / "best" / "lora" / "adapter_config.json").is_file()
    assert (tmp_path / "best" / "lora" / "adapter_model.safetensors").is_file()
    assert is_peft_model(t.model)  # training can go on after a save
    saved = json.loads((tmp_path / "best" / "codekd_teacher.json").read_text())
    assert saved["lora"]["merged"] and saved["lora"]["r"] == 4 and saved["lora"]["adapter"] == "lora"
    merged = Teacher.load(str(tmp_path / "best"))  # a plain HF folder: no peft at inference time
    assert not is_peft_model(merged.model)
    assert not any("lora" in k for k in merged.model.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(merged(**batch).logits, live, atol=1e-4, rtol=1e-4)
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="GPU"):
            quantized_load_kwargs(4)
    assert quantized_load_kwargs(None) == {}


# ------------------------------------------------------------------------------------------- sizing

def test_decoder_flops_and_the_named_code_llm_shapes():
    from codekd.models.students.presets import preset_names
    from codekd.models.students.sizing import decoder_flops, students_table, teacher_reference

    # hand count: T=2, H=4, 2 heads of 2 (A=4), 1 kv head (K=2), F=8, GLU (3 matrices), 1 layer, C=2
    assert decoder_flops(hidden=4, layers=1, ffn=8, seq_len=2, num_labels=2, heads=2, kv_heads=1) == \
        2 * 2 * 4 * (2 * 4 + 2 * 2) + 4 * 2 * 2 * 4 + 2 * 3 * 2 * 4 * 8 + 2 * 4 * 2
    ref = teacher_reference("qwen2.5-coder-1.5b", seq_len=512)
    assert ref.arch == "qwen2" and 1.50e9 < ref.params < 1.56e9  # 1.54B with a 2-label score head
    assert 1.3e12 < ref.flops < 1.8e12  # ~2 x 1.3B non-embedding params x 512 tokens + attention
    rows = students_table(seq_len=512, teacher=ref)
    assert [r["preset"] for r in rows] == list(preset_names()) and len(rows) == 8
    assert all(0 < r["pct_teacher_params"] < 10 and 0 < r["pct_teacher_flops"] < 10 for r in rows)
    sc = teacher_reference("starcoder2-3b", seq_len=512)
    assert sc.arch == "starcoder2" and 2.9e9 < sc.params < 3.1e9


def test_students_list_prints_all_eight_students_against_a_code_llm():
    from typer.testing import CliRunner

    from codekd.cli import app
    from codekd.models.students.presets import preset_names

    r = CliRunner().invoke(app, ["students", "list", "--teacher", "qwen2.5-coder-1.5b", "--json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output)
    assert [x["preset"] for x in rows] == list(preset_names())
    assert all(x["teacher"] == "qwen2.5-coder-1.5b" and x["pct_teacher_flops"] for x in rows)
