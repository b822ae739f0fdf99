"""Feature-method invariants on real (tiny) models through the engine's sides: a model distilled into
itself costs 0; padding never changes the corrected losses (and does change the paper-faithful
position-wise CKD); pair offsets index one text on both sides."""

from __future__ import annotations

import pytest
import torch
from fixtures_models import build_bpe_tokenizer, tiny_bert_teacher

from codekd.engine.sides import student_side, teacher_side
from codekd.methods import METHODS, MethodContext, get_method

CODES = ["def add_all(values): return sum(values) + 1", "x = compute(a, b) if a else None"]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from transformers import RobertaConfig, RobertaForSequenceClassification

    from codekd.models.students.gru import build_gru
    from codekd.models.teacher import Teacher

    root = tmp_path_factory.mktemp("feat_models")
    tok = build_bpe_tokenizer(root / "bpe", max_length=64)
    torch.manual_seed(0)
    rob = RobertaForSequenceClassification(RobertaConfig(
        vocab_size=len(tok), hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
        max_position_embeddings=80, pad_token_id=1, num_labels=3)).eval()
    gru = build_gru(vocab_size=len(tok), hidden=8, layers=2, num_labels=3).eval()
    teacher = Teacher.load(str(tiny_bert_teacher(root / "bert")), 3, max_length=64).eval()
    return tok, rob, gru, teacher


def _outputs(side, codes, **kw):
    enc = side.encode([(c,) for c in codes])
    with torch.no_grad():
        return side.forward(side.model, enc, True)


def _ctx(family, s_layers, s_hidden, t_layers, t_hidden):
    return MethodContext(task="exception", num_labels=3, student_family=family, student_layers=s_layers,
                         student_hidden=s_hidden, teacher_layers=t_layers, teacher_hidden=t_hidden)


def test_ckd_of_a_model_with_itself_is_zero(models):
    tok, rob, _, _ = models
    side = student_side(rob, tok, 64, with_offsets=True)
    out = _outputs(side, CODES)
    c = _ctx("roberta", 2, 16, 2, 16)
    for params in ({"alpha": 1.0}, {"alpha": 1.0, "align": "shared-tokens"}):
        loss, parts = get_method("ckd")(c, params).loss(out, out, torch.tensor([0, 1]))
        assert loss.item() == pytest.approx(0.0, abs=1e-6), params
        assert parts["wr_dist"] == 0 and parts["wr_angle"] == 0 and parts["ltr_dist"] == 0
    # paper-faithful: soft-target CE * T^2 is the student's entropy, not 0; the relations are 0
    _, parts = get_method("ckd")(c, paper_faithful=True).loss(out, out, torch.tensor([0, 1]))
    assert parts["wr_dist"] == 0 and parts["ltr_angle"] == 0


@pytest.mark.parametrize("family", ["roberta", "gru"])
def test_padding_does_not_change_the_corrected_losses(models, family):
    tok, rob, gru, teacher = models
    student = rob if family == "roberta" else gru
    width = 16  # RoBERTa hidden 16; the GRU's layers are 2H = 16 wide
    plain = student_side(student, tok, 64, with_offsets=True)
    padded = student_side(student, tok, 64, with_offsets=True, pad_to_max_length=True)
    t_plain = teacher_side(teacher)
    t_padded = teacher_side(teacher, max_length=64)
    t_padded_encode = t_padded.encode
    # the teacher pads to its max length too (the tokenizer pads to 64 when asked)
    t_padded.encode = lambda codes: {k: v for k, v in _pad_teacher(t_padded_encode(codes), 64).items()}
    s1, s2 = _outputs(plain, CODES[:1]), _outputs(padded, CODES[:1])
    th1, th2 = _outputs(t_plain, CODES[:1]), _outputs(t_padded, CODES[:1])
    assert s2.attention_mask.shape[1] > s1.attention_mask.shape[1] and th2.attention_mask.shape[1] > th1.attention_mask.shape[1]
    c = _ctx(family, 2, width, teacher.num_layers, teacher.hidden_size)
    y = torch.tensor([1])
    for name in [n for n, cls in METHODS.items() if cls.family == "feature"]:  # every hidden-state method
        torch.manual_seed(0)
        m = get_method(name)(c)
        a = m.loss(s1, th1, y, m.modules())[0].item()
        b = m.loss(s2, th2, y, m.modules())[0].item()
        assert b == pytest.approx(a, rel=1e-5, abs=1e-6), name
    # the paper-faithful position-wise CKD lets padding in, so its value moves
    p = get_method("ckd")(c, paper_faithful=True)
    assert p.loss(s1, th1, y)[0].item() != pytest.approx(p.loss(s2, th2, y)[0].item(), rel=1e-4)


def _pad_teacher(enc, length):
    out = {}
    for k, v in enc.items():
        extra = length - v.shape[1]
        if k == "input_ids":
            out[k] = torch.nn.functional.pad(v, (0, extra), value=0)
        elif k == "offset_mapping":
            out[k] = torch.nn.functional.pad(v, (0, 0, 0, extra))
        elif k == "sequence_ids":
            out[k] = torch.nn.functional.pad(v, (0, extra), value=-1)
        else:
            out[k] = torch.nn.functional.pad(v, (0, extra))
    return out


def test_pair_offsets_index_one_text_on_both_sides(models):
    tok, rob, _, teacher = models
    side = student_side(rob, tok, 64, with_offsets=True)
    a, b = "def f(x): return x", "def g(y): return y"
    s_enc = side.encode([(a, b)])
    from codekd.models.teacher import Teacher

    t = Teacher(teacher.model, teacher.tokenizer, num_labels=3, is_pair=True, max_length=64)
    t_enc = teacher_side(t).encode([(a, b)])
    text = a + " " + b
    for enc, tk in ((s_enc, tok), (t_enc, teacher.tokenizer)):
        toks = tk.convert_ids_to_tokens(enc["input_ids"][0])
        spans = [text[s:e] for s, e in enc["offset_mapping"][0].tolist() if e > s]
        assert "g" in "".join(spans) and spans[-1].endswith("y")
        # every non-empty span is the token's own text (modulo BPE's 'Ġ' and WordPiece's '##')
        for tkn, (s, e) in zip(toks, enc["offset_mapping"][0].tolist()):
            if e > s:
                assert text[s:e].lower() == tkn.replace("Ġ", "").replace("##", "").lower()
