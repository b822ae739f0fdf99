"""Student presets, the BiGRU student, save/load, budgets and the size / FLOP calculator."""

from __future__ import annotations

import pytest
import torch

from codekd.errors import CodekdError, ConfigError, RegistryError
from codekd.models.students import (
    PRESET_TABLE,
    STUDENTS,
    BiGRUForSequenceClassification,
    build_student,
    built_params,
    count_params,
    custom_spec,
    flops_per_example,
    load_student,
    parse_budget,
    preset_names,
    resolve_spec,
    reverse_within_length,
    save_student,
    size_for_budget,
    size_mb,
    students_table,
    teacher_reference,
)
from codekd.models.students.spec import roberta_params


def tiny_gru(vocab=60, hidden=8, layers=3, labels=3, seed=0):
    torch.manual_seed(seed)
    spec = custom_spec("gru", layers=layers, hidden=hidden, vocab_size=vocab, max_positions=64)
    return spec.build(labels).eval()


def padded_batch(lengths, width, vocab=60, pad=1, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, vocab, (len(lengths), width), generator=g)
    mask = torch.zeros_like(ids)
    for i, n in enumerate(lengths):
        mask[i, :n] = 1
    return ids.masked_fill(mask == 0, pad), mask


# ----------------------------------------------------------------------------- presets
def test_all_eight_presets_registered():
    assert preset_names() == list(PRESET_TABLE)
    assert len(STUDENTS) == 8
    with pytest.raises(RegistryError, match="did you mean"):
        STUDENTS.get("roberta-7n")


@pytest.mark.parametrize("name", list(PRESET_TABLE))
def test_preset_params_match_spec_table_and_formula(name):
    table_params = PRESET_TABLE[name][-1]
    built = built_params(name, 2)
    assert built == count_params(name, 2)
    assert abs(built - table_params) / table_params < 0.10
    spec = STUDENTS.get(name)
    assert (spec.vocab_size, spec.layers, spec.hidden, spec.heads, spec.ffn) == PRESET_TABLE[name][1:6]


@pytest.mark.parametrize("family,kw", [
    ("roberta", dict(layers=2, hidden=48, heads=3, ffn=96)),
    ("roberta", dict(layers=1, hidden=64)),
    ("gru", dict(layers=3, hidden=24)),
    ("gru", dict(layers=1, hidden=16)),
])
@pytest.mark.parametrize("labels,vocab,pad", [(2, 300, 1), (5, 123, 0)])
def test_formula_equals_built_model_on_cpu(family, kw, labels, vocab, pad):
    spec = custom_spec(family, vocab_size=1000, max_positions=32, **kw)
    model = spec.build(labels, vocab_size=vocab, pad_token_id=pad)
    assert sum(p.numel() for p in model.parameters()) == count_params(spec, labels, vocab_size=vocab, pad_token_id=pad)


def test_spec_validation_errors_are_config_errors():
    with pytest.raises(ConfigError, match="multiple of heads"):
        custom_spec("roberta", layers=2, hidden=50, heads=4, vocab_size=100)
    with pytest.raises(ConfigError):
        resolve_spec({"family": "gru", "layers": 2, "hidden": 16, "vocab_size": 10, "heads": 4})
    with pytest.raises(ConfigError, match="extra|Extra"):
        resolve_spec({"preset": "gru-7m", "colour": "red"})
    with pytest.raises(ConfigError):
        resolve_spec({"family": "lstm", "layers": 2, "hidden": 16, "vocab_size": 10})
    spec = resolve_spec({"preset": "roberta-7m", "layers": 2})
    assert spec.layers == 2 and spec.hidden == 320


def test_build_student_takes_vocab_and_special_ids_from_tokenizer(student_tokenizer):
    tok = student_tokenizer
    for preset in ("roberta-0.6m", "gru-1.5m"):
        model = build_student(preset, 2, tokenizer=tok)
        emb = model.get_input_embeddings()
        assert emb.num_embeddings == len(tok)
        assert model.config.pad_token_id == tok.pad_token_id
        assert sum(p.numel() for p in model.parameters()) == count_params(preset, 2, vocab_size=len(tok))


def test_roberta_student_position_table_holds_max_positions():
    spec = custom_spec("roberta", layers=1, hidden=32, heads=2, ffn=64, vocab_size=50, max_positions=40)
    model = spec.build(2).eval()
    assert model.config.max_position_embeddings == 42
    ids = torch.randint(5, 50, (2, 40))
    assert model(input_ids=ids).logits.shape == (2, 2)


# ----------------------------------------------------------------------------- BiGRU
def test_reverse_within_length_is_an_involution():
    x = torch.arange(2 * 5).view(2, 5, 1).float()
    lengths = torch.tensor([3, 5])
    r = reverse_within_length(x, lengths)
    assert r[0, :, 0].tolist() == [2, 1, 0, 3, 4]
    assert r[1, :, 0].tolist() == [9, 8, 7, 6, 5]
    assert torch.equal(reverse_within_length(r, lengths), x)


def test_gru_padding_invariance():
    model = tiny_gru()
    lengths = [7, 4, 1, 6]
    ids, mask = padded_batch(lengths, 7)
    base = model(ids, mask).logits
    # the same input with extra padding
    extra = 9
    ids2 = torch.cat([ids, torch.full((4, extra), 1)], dim=1)
    mask2 = torch.cat([mask, torch.zeros(4, extra, dtype=mask.dtype)], dim=1)
    torch.testing.assert_close(model(ids2, mask2).logits, base, rtol=0, atol=1e-5)
    # each example alone, without any padding
    for i, n in enumerate(lengths):
        alone = model(ids[i:i + 1, :n]).logits
        torch.testing.assert_close(alone, base[i:i + 1], rtol=0, atol=1e-5)
    # whatever sits in the padded positions never matters
    junk = ids2.clone()
    junk[mask2 == 0] = torch.randint(5, 60, (int((mask2 == 0).sum()),))
    torch.testing.assert_close(model(junk, mask2).logits, base, rtol=0, atol=1e-5)


def test_gru_without_attention_mask_equals_all_ones():
    model = tiny_gru()
    ids, _ = padded_batch([5, 5], 5)
    torch.testing.assert_close(model(ids).logits, model(ids, torch.ones_like(ids)).logits)


def test_gru_layer_outputs_have_documented_shapes():
    layers, hidden = 3, 8
    model = tiny_gru(layers=layers, hidden=hidden)
    assert model.config.state_size == 2 * hidden
    lengths = [6, 3]
    ids, mask = padded_batch(lengths, 6)
    out = model(ids, mask, output_hidden_states=True)
    assert out.logits.shape == (2, 3)
    assert len(out.hidden_states) == layers + 1
    assert out.hidden_states[0].shape == (2, 6, hidden)
    for h in out.hidden_states[1:]:
        assert h.shape == (2, 6, 2 * hidden)
        assert torch.all(h[1, 3:] == 0)  # padding positions are zeroed
    assert len(out.pooled_states) == layers
    for layer, pooled in enumerate(out.pooled_states):
        assert pooled.shape == (2, 2 * hidden)
        h = out.hidden_states[layer + 1]
        for b, n in enumerate(lengths):
            # forward state at the last real token, backward state at the first token
            torch.testing.assert_close(pooled[b, :hidden], h[b, n - 1, :hidden])
            torch.testing.assert_close(pooled[b, hidden:], h[b, 0, hidden:])
    torch.testing.assert_close(out.pooler_output, out.pooled_states[-1])
    assert model(ids, mask).hidden_states is None


def test_gru_trains():
    model = tiny_gru().train()
    ids, mask = padded_batch([5, 2], 5)
    out = model(ids, mask, labels=torch.tensor([0, 2]))
    out.loss.backward()
    assert model.bigru.layers[0].backward_gru.weight_hh_l0.grad is not None


def test_gru_exports_to_onnx_with_dynamic_axes(tmp_path):
    """Gather-based padding handling exports (legacy exporter); checked at another batch and length."""
    import os
    import warnings

    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    ort = pytest.importorskip("onnxruntime")

    class LogitsOnly(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask):
            return self.m(input_ids, attention_mask).logits

    model = tiny_gru(layers=2)
    wrapper = LogitsOnly(model).eval()
    ids, mask = padded_batch([6, 3], 6)
    path = tmp_path / "gru.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(wrapper, (ids, mask), str(path), dynamo=False, input_names=["input_ids", "attention_mask"],
                          output_names=["logits"], dynamic_axes={"input_ids": {0: "b", 1: "t"},
                                                                 "attention_mask": {0: "b", 1: "t"}})
    wrapper.eval()
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    ids2, mask2 = padded_batch([9, 2, 5], 9, seed=3)
    got = sess.run(None, {"input_ids": ids2.numpy(), "attention_mask": mask2.numpy()})[0]
    torch.testing.assert_close(torch.from_numpy(got), wrapper(ids2, mask2).detach(), rtol=0, atol=1e-5)


# ----------------------------------------------------------------------------- save / load
@pytest.mark.parametrize("family", ["roberta", "gru"])
def test_student_save_load_round_trip(family, student_tokenizer, tmp_path):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = student_tokenizer
    kw = dict(layers=2, hidden=32, heads=2, ffn=64) if family == "roberta" else dict(layers=2, hidden=16)
    spec = custom_spec(family, vocab_size=1000, max_positions=64, **kw)
    torch.manual_seed(0)
    model = build_student(spec, 3, tokenizer=tok).eval()
    batch = tok(["def add(a, b):\n    return a + b\n", "int x = 0;"], padding=True, truncation=True,
                max_length=64, return_tensors="pt")
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    save_student(model, tok, tmp_path / "s", spec=spec)
    again, tok2 = load_student(tmp_path / "s")
    assert type(again) is type(model) and len(tok2) == len(tok)
    torch.testing.assert_close(again(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits,
                               logits, rtol=0, atol=0)
    # the plain Auto classes load it too
    auto = AutoModelForSequenceClassification.from_pretrained(tmp_path / "s").eval()
    torch.testing.assert_close(auto(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits,
                               logits, rtol=0, atol=0)
    assert AutoTokenizer.from_pretrained(tmp_path / "s").pad_token_id == tok.pad_token_id
    if family == "gru":
        assert isinstance(auto, BiGRUForSequenceClassification)
        assert auto.config.model_type == "codekd-bigru"


def test_load_student_missing_folder(tmp_path):
    with pytest.raises(CodekdError, match="no config.json"):
        load_student(tmp_path / "missing")


# ----------------------------------------------------------------------------- sizing
@pytest.mark.parametrize("text,value", [("5M", 5_000_000), ("500k", 500_000), ("1.5m", 1_500_000),
                                        ("2e6", 2_000_000), ("1,000,000", 1_000_000), (750, 750), ("1B", 10**9)])
def test_parse_budget(text, value):
    assert parse_budget(text) == value


@pytest.mark.parametrize("bad", ["five", "", "-3M", "0"])
def test_parse_budget_errors(bad):
    with pytest.raises(ConfigError):
        parse_budget(bad)


@pytest.mark.parametrize("family,budget,vocab", [("roberta", "5M", 5000), ("roberta", "500k", 1000),
                                                 ("roberta", "30M", 20000), ("gru", "1.5M", 2000),
                                                 ("gru", "7m", 5000), ("gru", "30M", 20000)])
def test_size_for_budget_is_close(family, budget, vocab):
    spec = size_for_budget(budget, vocab, family)
    target = parse_budget(budget)
    assert spec.family == family and spec.vocab_size == vocab
    assert abs(count_params(spec) - target) / target < 0.03
    assert built_params(spec) == count_params(spec)


def test_size_for_budget_impossible():
    with pytest.raises(ConfigError, match="no roberta student fits"):
        size_for_budget("100k", 50000, "roberta")


def test_sizes_and_flops():
    assert size_mb(1_000_000, "fp32") == 4.0
    assert size_mb(1_000_000, "fp16") == 2.0
    assert size_mb(1_000_000, "int8") == 1.0
    with pytest.raises(ConfigError):
        size_mb(10, "fp8")
    # hand-computed: RoBERTa L1 H4 F8, T=2, 2 labels
    spec = custom_spec("roberta", layers=1, hidden=4, heads=1, ffn=8, vocab_size=10)
    assert flops_per_example(spec, 2, 2) == 8 * 2 * 16 + 4 * 4 * 4 + 4 * 2 * 4 * 8 + 2 * 16 + 2 * 4 * 2
    # BiGRU L1 H2, T=3: 2 directions * 3 steps * 2 * (3*2*2 + 3*2*2), head 2*4*4 + 2*4*2
    gspec = custom_spec("gru", layers=1, hidden=2, vocab_size=10)
    assert flops_per_example(gspec, 3, 2) == 2 * 3 * 2 * 24 + 2 * 16 + 2 * 4 * 2
    # FLOPs grow with the sequence length; attention makes RoBERTa super-linear
    assert flops_per_example("roberta-7m", 512) > 2 * flops_per_example("roberta-7m", 256)


def test_teacher_reference_unixcoder_base():
    ref = teacher_reference("unixcoder-base", seq_len=512, num_labels=2)
    expected = roberta_params(vocab_size=51416, hidden=768, layers=12, ffn=3072, num_labels=2, position_rows=1026,
                              type_vocab_size=10)
    assert ref.params == expected == 125_931_266  # 125.9M
    assert ref.flops == flops_per_example("roberta-124m", 512, 2)  # same encoder shape


def test_teacher_reference_from_a_folder(tiny_bert_dir):
    ref = teacher_reference(str(tiny_bert_dir), seq_len=16)
    assert ref.arch == "bert" and ref.params > 0 and ref.flops > 0


def test_students_table_rows():
    rows = students_table(seq_len=128, num_labels=2, teacher="unixcoder-base")
    assert [r["preset"] for r in rows] == list(PRESET_TABLE)
    for r in rows:
        assert r["params_built"] == r["params_formula"]
        assert r["int8_mb"] * 4 == pytest.approx(r["fp32_mb"])
        assert 0 < r["pct_teacher_params"] < 100
        assert r["gflops"] > 0
    by = {r["preset"]: r for r in rows}
    assert by["gru-1.5m"]["heads"] is None and by["roberta-7m"]["heads"] == 5


def test_cli_students_list_and_size():
    from typer.testing import CliRunner

    from codekd.cli.students import app

    runner = CliRunner()
    for args in (["--help"], ["list", "--help"], ["show", "--help"], ["size", "--help"]):
        res = runner.invoke(app, args)
        assert res.exit_code == 0, (args, res.output, res.exception)
    res = runner.invoke(app, ["list", "--seq-len", "256"])
    assert res.exit_code == 0, res.output
    for name in PRESET_TABLE:
        assert name in res.output
    assert "125,931,266" in res.output and "6,800,642" in res.output
    res = runner.invoke(app, ["size", "--budget", "5M", "--vocab", "8000"])
    assert res.exit_code == 0, res.output
    assert "roberta-budget-5m" in res.output
    res = runner.invoke(app, ["size", "--family", "gru", "--layers", "2", "--hidden", "64", "--vocab", "3000"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["show", "gru-7m"])
    assert res.exit_code == 0 and "7,102,722" in res.output
    res = runner.invoke(app, ["list", "--json"])
    assert res.exit_code == 0 and '"params_built": 563138' in res.output


def test_cli_user_errors_exit_2():
    from codekd.cli import main

    assert main(["students", "show", "roberta-9m"]) == 2
    assert main(["students", "size", "--budget", "lots"]) == 2
