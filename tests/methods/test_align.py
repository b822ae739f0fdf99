"""Token alignment across tokenizers (SPEC section 6): offsets pooling, shared tokens, position-wise."""

from __future__ import annotations

import pytest
import torch
from fixtures_models import build_bpe_tokenizer, build_wordpiece_tokenizer

from codekd.errors import ConfigError
from codekd.methods.align import align_tokens, mean_pool_matrix, overlap_matrix, real_token_mask

CODE = "def add_all(values): return sum(values) + 1"


@pytest.fixture(scope="module")
def toks(tmp_path_factory):
    root = tmp_path_factory.mktemp("align_toks")
    return build_bpe_tokenizer(root / "bpe"), build_wordpiece_tokenizer(root / "wp")


def _enc(tok, texts, **kw):
    return tok(texts, return_offsets_mapping=True, return_tensors="pt", padding=True, **kw)


def _received(student_tok, teacher_tok, code):
    """For each student token: (its text, the teacher tokens it receives, whether it is in the loss)."""
    es, et = _enc(student_tok, [code]), _enc(teacher_tok, [code])
    al = align_tokens("offsets", student_mask=es["attention_mask"], teacher_mask=et["attention_mask"],
                      student_offsets=es["offset_mapping"], teacher_offsets=et["offset_mapping"])
    s_toks = student_tok.convert_ids_to_tokens(es["input_ids"][0])
    t_toks = teacher_tok.convert_ids_to_tokens(et["input_ids"][0])
    out = []
    for i, st in enumerate(s_toks):
        row = al.matrix[0, i]
        got = [t_toks[j] for j in torch.nonzero(row).squeeze(-1).tolist()]
        if got:  # mean pooling: equal weights summing to 1
            assert torch.allclose(row[row > 0], torch.full((len(got),), 1.0 / len(got)))
        out.append((st, got, bool(al.mask[0, i])))
    return out


def test_bpe_student_receives_exactly_the_overlapping_wordpiece_tokens(toks):
    bpe, wp = toks
    got = _received(bpe, wp, CODE)
    # hand-checked: BPE pieces of a word each receive that word's WordPiece token; <s>, </s> and the
    # whitespace-only 'Ġ' tokens (empty spans) receive nothing and stay out of every loss
    assert got == [
        ("<s>", [], False), ("d", ["def"], True), ("e", ["def"], True), ("f", ["def"], True), ("Ġ", [], False),
        ("ad", ["add"], True), ("d", ["add"], True), ("_", ["_"], True), ("al", ["all"], True), ("l", ["all"], True),
        ("(", ["("], True), ("v", ["values"], True), ("al", ["values"], True), ("u", ["values"], True),
        ("e", ["values"], True), ("s", ["values"], True), (")", [")"], True), (":", [":"], True),
        ("Ġreturn", ["return"], True), ("Ġs", ["sum"], True), ("u", ["sum"], True), ("m", ["sum"], True),
        ("(", ["("], True), ("v", ["values"], True), ("al", ["values"], True), ("u", ["values"], True),
        ("e", ["values"], True), ("s", ["values"], True), (")", [")"], True), ("Ġ+", ["+"], True),
        ("Ġ", [], False), ("1", ["1"], True), ("</s>", [], False)]


def test_wordpiece_student_receives_the_mean_of_several_bpe_tokens(toks):
    bpe, wp = toks
    got = dict((t, g) for t, g, _ in _received(wp, bpe, CODE) if t in ("def", "values", "sum", "[CLS]", "[SEP]"))
    assert got == {"[CLS]": [], "[SEP]": [], "def": ["d", "e", "f"], "values": ["v", "al", "u", "e", "s"],
                   "sum": ["Ġs", "u", "m"]}


def test_overlap_matrix_golden_and_partial_overlaps():
    # student spans [0,4) [4,9) [9,9)(empty) ; teacher spans [0,2) [2,6) [6,9) [0,0)(special)
    so = torch.tensor([[[0, 4], [4, 9], [9, 9]]])
    to = torch.tensor([[[0, 2], [2, 6], [6, 9], [0, 0]]])
    sv = real_token_mask(torch.ones(1, 3), so)
    tv = real_token_mask(torch.ones(1, 4), to)
    assert sv.tolist() == [[True, True, False]] and tv.tolist() == [[True, True, True, False]]
    a, aligned = mean_pool_matrix(overlap_matrix(so, sv, to, tv))
    # token 0 overlaps teacher 0 and 1 (1/2 each); token 1 overlaps teacher 1 ([4,6)) and 2 (1/2 each)
    assert a[0].tolist() == [[0.5, 0.5, 0.0, 0.0], [0.0, 0.5, 0.5, 0.0], [0.0, 0.0, 0.0, 0.0]]
    assert aligned.tolist() == [[True, True, False]]
    h_t = torch.tensor([[[1.0], [3.0], [5.0], [100.0]]])
    al = align_tokens("offsets", student_mask=torch.ones(1, 3), teacher_mask=torch.ones(1, 4),
                      student_offsets=so, teacher_offsets=to)
    assert al.teacher(h_t)[0, :2, 0].tolist() == [2.0, 4.0]


def test_padding_never_aligns(toks):
    bpe, wp = toks
    es = _enc(bpe, [CODE, "x = 1"])
    et = _enc(wp, [CODE, "x = 1"])
    al = align_tokens("offsets", student_mask=es["attention_mask"], teacher_mask=et["attention_mask"],
                      student_offsets=es["offset_mapping"], teacher_offsets=et["offset_mapping"])
    pad_s = es["attention_mask"][1] == 0
    pad_t = et["attention_mask"][1] == 0
    assert pad_s.any() and pad_t.any()
    assert not al.mask[1][pad_s].any()
    assert al.matrix[1][:, pad_t].abs().sum() == 0


def test_shared_tokens_and_position_modes(toks):
    bpe, wp = toks
    es = _enc(bpe, [CODE])
    # the teacher uses the same tokenizer but with a UniXcoder-like 2-token prefix: shared-tokens drops
    # special tokens on both sides, so the k-th real tokens meet
    ids, offs = es["input_ids"], es["offset_mapping"]
    t_offs = torch.cat([torch.zeros(1, 2, 2, dtype=offs.dtype), offs], dim=1)
    t_mask = torch.ones(1, t_offs.shape[1], dtype=torch.long)
    al = align_tokens("shared-tokens", student_mask=es["attention_mask"], teacher_mask=t_mask,
                      student_offsets=offs, teacher_offsets=t_offs)
    h = torch.arange(t_offs.shape[1], dtype=torch.float32).view(1, -1, 1)
    pooled = al.teacher(h)[0, :, 0]
    real = al.mask[0]
    assert torch.equal(pooled[real], torch.arange(ids.shape[1], dtype=torch.float32)[real] + 2)
    with pytest.raises(ConfigError, match="shared-tokens"):
        et = _enc(wp, [CODE])
        align_tokens("shared-tokens", student_mask=es["attention_mask"], teacher_mask=et["attention_mask"],
                     student_offsets=offs, teacher_offsets=et["offset_mapping"])
    # position-wise (paper): first min(Ts, Tt) positions, no mask
    al = align_tokens("position", student_mask=torch.ones(2, 7), teacher_mask=torch.ones(2, 5))
    assert al.mask is None and al.length == 5 and al.student(torch.zeros(2, 7, 3)).shape == (2, 5, 3)
