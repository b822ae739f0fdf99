"""Golden values (hand-computed, derivations in comments) and invariants for PKD, CKD, DKD and the
TinyBERT-style hidden MSE."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from codekd.errors import ConfigError
from codekd.methods import MethodContext, Outputs, get_method
from codekd.methods.ckd import (ckd_relation_loss, layer_relation_terms, relation_masks, relations,
                                word_relation_terms)
from codekd.methods.dkd import dkd_loss, dkd_terms
from codekd.methods.pkd import patient_loss
from codekd.methods.tinybert import hidden_mse

R2 = 1 / math.sqrt(2)


def close(t, expected):
    torch.testing.assert_close(t.double(), torch.tensor(expected, dtype=torch.float64), atol=1e-6, rtol=0)

D = 1 - R2  # cosine distance between [0,1] and [1,1] = 0.292893


def ctx(family="roberta", s_layers=3, s_hidden=2, t_layers=6, t_hidden=2, num_labels=3):
    return MethodContext(task="t", num_labels=num_labels, student_family=family, student_layers=s_layers,
                         student_hidden=s_hidden, teacher_layers=t_layers, teacher_hidden=t_hidden)


# ------------------------------------------------------------------------------------------- PKD

def test_patient_loss_golden():
    # layer a: s=[3,4] -> [0.6,0.8]; t=[1,0]. diff [-0.4, 0.8], squares 0.16 + 0.64 = 0.8
    # layer b: s=[0,2] -> [0,1];     t=[0,5] -> [0,1]. diff 0
    s = [torch.tensor([[3.0, 4.0]]), torch.tensor([[0.0, 2.0]])]
    t = [torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 5.0]])]
    assert patient_loss(s, t, reduction="sum").item() == pytest.approx(0.8)       # Sun et al.: sum_l ||.||^2
    assert patient_loss(s, t, reduction="mean").item() == pytest.approx(0.8 / 4)  # paper code: mean over B*L*H


def _identity(proj_module):
    with torch.no_grad():
        for lin in proj_module.proj.values():
            lin.weight.copy_(torch.eye(lin.weight.shape[0], lin.weight.shape[1]))
            lin.bias.zero_()


def _pkd_outputs():
    # student layers 1, 2 (of 3) -> teacher layers 2, 4 (skip map, k = 6 // 3 = 2); identical logits
    s = Outputs(logits=torch.zeros(1, 2), pooled_states=(torch.tensor([[3.0, 4.0]]), torch.tensor([[0.0, 2.0]]),
                                                         torch.tensor([[9.0, 9.0]])))
    t = Outputs(logits=torch.zeros(1, 2), pooled_states=(torch.tensor([[7.0, 7.0]]), torch.tensor([[1.0, 0.0]]),
                                                         torch.tensor([[7.0, 7.0]]), torch.tensor([[0.0, 5.0]]),
                                                         torch.tensor([[7.0, 7.0]]), torch.tensor([[7.0, 7.0]])))
    return s, t


def test_pkd_paper_faithful_golden():
    m = get_method("pkd")(ctx(num_labels=2), paper_faithful=True)
    assert m.layer_map.pairs == ((1, 2), (2, 4))
    # paper: projection on the teacher side (Linear(t_hidden -> s_hidden)), alpha 1, beta 10, T 10
    assert all(lin.in_features == 2 for lin in m.modules().proj.values())
    _identity(m.modules())
    s, t = _pkd_outputs()
    total, parts = m.loss(s, t, torch.tensor([0]))
    # soft-target CE at any T with equal logits: ln 2, times T^2 = 100 ln 2; PT (mean) = 0.2; beta 10
    assert parts["pt"] == pytest.approx(0.2) and "ce" not in parts
    assert total.item() == pytest.approx(100 * math.log(2) + 10 * 0.2, rel=1e-6)


def test_pkd_corrected_golden_and_projection_side():
    c = ctx(s_hidden=2, t_hidden=5, num_labels=2)
    m = get_method("pkd")(c)
    lins = list(m.modules().proj.values())
    assert len(lins) == 2 and all((l.in_features, l.out_features) == (2, 5) for l in lins)  # student side
    m = get_method("pkd")(ctx(num_labels=2))
    _identity(m.modules())
    s, t = _pkd_outputs()
    total, parts = m.loss(s, t, torch.tensor([0]))
    # KL = 0 (equal logits); CE = ln 2 times (1 - 0.7); PT (sum) = 0.8 times beta 1
    assert parts["soft"] == pytest.approx(0.0, abs=1e-7) and parts["pt"] == pytest.approx(0.8)
    assert total.item() == pytest.approx(0.3 * math.log(2) + 0.8, rel=1e-6)


def test_pkd_gru_and_depth_errors():
    m = get_method("pkd")(ctx(family="gru", s_layers=2, s_hidden=4, t_layers=6, t_hidden=8))
    assert m.layer_map.pairs == ((1, 3),)  # 2-layer GRU: its layer 1 against teacher layer 3
    with pytest.raises(ConfigError, match="at least 2 layers"):
        get_method("pkd")(ctx(s_layers=1))


def test_pkd_gradients_reach_student_and_projections_only():
    torch.manual_seed(0)
    m = get_method("pkd")(ctx(s_hidden=3, t_hidden=4))
    hs = [torch.randn(2, 3, requires_grad=True) for _ in range(3)]
    ht = [torch.randn(2, 4, requires_grad=True) for _ in range(6)]
    zs, zt = torch.randn(2, 3, requires_grad=True), torch.randn(2, 3, requires_grad=True)
    loss, _ = m.loss(Outputs(logits=zs, pooled_states=tuple(hs)), Outputs(logits=zt, pooled_states=tuple(ht)),
                     torch.tensor([0, 1]))
    loss.backward()
    assert hs[0].grad is not None and hs[1].grad is not None and zs.grad is not None
    assert all(h.grad is None for h in ht) and zt.grad is None
    assert all(p.grad is not None for p in m.modules().parameters())


# ------------------------------------------------------------------------------------------- CKD
# Student states (one example, 3 tokens, 2-d): x0=[1,0], x1=[0,1], x2=[1,1]
# Teacher states:                             y0=[1,0], y1=[0,1], y2=[-1,0]
XS = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]], dtype=torch.float64)
XT = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]]], dtype=torch.float64)


def test_ckd_distance_relation_golden_window_1():
    # W = 1 < n = 3: 3 slots per token (i-1, i, i+1); outside the sequence: distance 1; self: 0
    ds, _ = relations(XS, 1)
    expected = [[1, 0, 1],          # i=0: (out), self, 1-cos(x0,x1)=1
                [1, 0, D],          # i=1: 1-cos(x1,x0)=1, self, 1-cos(x1,x2)=1-1/sqrt2
                [D, 0, 1]]          # i=2: 1-cos(x2,x1), self, (out)
    close(ds[0], expected)
    dt, _ = relations(XT, 1)
    close(dt[0], [[1, 0, 1], [1, 0, 1], [1, 0, 1]])  # y neighbours are orthogonal


def test_ckd_angle_relation_golden_window_1():
    # angle at the centre i between slots s, t: <(h_s-h_i)/|.|, (h_t-h_i)/|.|>; 0 for self/out slots
    _, a = relations(XS, 1)
    # i=1: u0=(x0-x1)/|.|=[1,-1]/sqrt2, u2=(x2-x1)=[1,0] -> u0.u2 = 1/sqrt2; u.u = 1
    close(a[0, 1], [[1, 0, R2], [0, 0, 0], [R2, 0, 1]])
    # i=0: only slot 2 (x1) is a real neighbour -> a single 1 on the diagonal
    close(a[0, 0], [[0, 0, 0], [0, 0, 0], [0, 0, 1]])
    _, at = relations(XT, 1)
    # teacher i=1: u0=(y0-y1)=[1,-1]/sqrt2, u2=(y2-y1)=[-1,-1]/sqrt2 -> (-1+1)/2 = 0
    close(at[0, 1], [[1, 0, 0], [0, 0, 0], [0, 0, 1]])


def test_ckd_word_relation_mse_golden_paper_and_masked():
    # distance: student and teacher differ at (i=1, slot 2) and (i=2, slot 0): (1 - D)^2 = (1/sqrt2)^2 = 1/2 each
    # angle: they differ at i=1 (0,2) and (2,0): (1/sqrt2 - 0)^2 = 1/2 each
    wr_d, wr_a = word_relation_terms([XS], [XT], None, 1)
    assert wr_d.item() == pytest.approx(1.0 / 9)    # paper: mean over all 3 x 3 slots (constants included)
    assert wr_a.item() == pytest.approx(1.0 / 27)   # paper: mean over 3 x 3 x 3 entries
    mask = torch.ones(1, 3, dtype=torch.bool)
    wr_d, wr_a = word_relation_terms([XS], [XT], mask, 1)
    # corrected: only real (centre, neighbour) pairs: i=0:{2}, i=1:{0,2}, i=2:{0} -> 4 entries, sum 1
    assert wr_d.item() == pytest.approx(1.0 / 4)
    # angles between two different real neighbours: only i=1 (0,2),(2,0) -> 2 entries, sum 1
    assert wr_a.item() == pytest.approx(1.0 / 2)


def test_ckd_full_pairs_when_window_covers_the_sequence():
    # W = 5 >= n = 3: all 3 x 3 pairs (slot s = token s)
    ds, _ = relations(XS, 5)
    dt, _ = relations(XT, 5)
    close(ds[0], [[0, 1, D], [1, 0, D], [D, D, 0]])
    close(dt[0], [[0, 1, 2], [1, 0, 1], [2, 1, 0]])  # cos(y0, y2) = -1
    wr_d, _ = word_relation_terms([XS], [XT], None, 5)
    # (2 - D)^2 twice + (1 - D)^2 twice over 9 entries
    assert wr_d.item() == pytest.approx((2 * (2 - D) ** 2 + 2 * (1 - D) ** 2) / 9)


def test_ckd_window_edges_and_masks():
    m_d, m_a = relation_masks(torch.tensor([[True, True, True, True, False]]), 1)
    # token 0: slot 0 is outside, slot 1 is itself -> only slot 2; token 3: slot 2 is padding
    assert m_d[0].tolist() == [[False, False, True], [True, False, True], [True, False, True],
                               [True, False, False], [False, False, False]]
    assert m_a[0, 1].tolist() == [[False, False, True], [False, False, False], [True, False, False]]
    # slots outside the sequence at both edges carry the constants (distance 1, angle 0)
    x = torch.randn(1, 4, 3, dtype=torch.float64)
    d, a = relations(x, 2)
    assert d[0, 0, :2].tolist() == [1, 1] and d[0, 3, 3:].tolist() == [1, 1]
    assert a[0, 0, :2].abs().sum() == 0 and a[0, 0, :, :2].abs().sum() == 0


def test_ckd_layer_relation_golden():
    # one token, 2 mapped layers: student [1,0] then [0,1] (distance 1); teacher [1,0], [1,0] (distance 0)
    s = [torch.tensor([[[1.0, 0.0]]]), torch.tensor([[[0.0, 1.0]]])]
    t = [torch.tensor([[[1.0, 0.0]]]), torch.tensor([[[1.0, 0.0]]])]
    d, a = layer_relation_terms(s, t, None, 10)
    assert d.item() == pytest.approx(2 / 4)   # paper: the 2 off-diagonal entries over the 2 x 2 matrix
    # angles (vertex = one layer, slots = layers): the student's one real difference vector gives u.u = 1 at
    # (other, other) for both vertices; the teacher's two layers coincide, so its difference vector is 0 and
    # its angles are 0 (as F.normalize of a zero vector): 2 entries differ by 1, over 2 x 2 x 2 -> 1/4
    assert a.item() == pytest.approx(0.25)
    d, _ = layer_relation_terms(s, t, torch.ones(1, 1, dtype=torch.bool), 10)
    assert d.item() == pytest.approx(1.0)     # corrected: the 2 real pairs only
    total, parts = ckd_relation_loss(s, t, None, window=10, gamma=3.0)
    assert total.item() == pytest.approx(parts["wr_dist"] + parts["wr_angle"] + 3.0 * (0.5 + 0.25))


def test_ckd_padding_invariance_and_self_zero():
    torch.manual_seed(0)
    xs = [torch.randn(2, 6, 4), torch.randn(2, 6, 4)]
    xt = [torch.randn(2, 6, 8), torch.randn(2, 6, 8)]
    mask = torch.ones(2, 6, dtype=torch.bool)
    mask[1, 4:] = False
    base, _ = ckd_relation_loss(xs, xt, mask, window=2)
    # add 5 padding positions full of garbage: the corrected loss does not move
    pad = lambda ts, w: [torch.cat([t, 50 * torch.randn(2, 5, w)], dim=1) for t in ts]  # noqa: E731
    mask_p = torch.cat([mask, torch.zeros(2, 5, dtype=torch.bool)], dim=1)
    padded, _ = ckd_relation_loss(pad(xs, 4), pad(xt, 8), mask_p, window=2)
    assert padded.item() == pytest.approx(base.item(), rel=1e-6)
    # garbage in the masked positions of example 1 does not matter either
    xs2 = [x.clone() for x in xs]
    xs2[0][1, 4:] = 99.0
    assert ckd_relation_loss(xs2, xt, mask, window=2)[0].item() == pytest.approx(base.item(), rel=1e-6)
    # a model against itself: 0 (paper and corrected)
    assert ckd_relation_loss(xs, xs, mask, window=2)[0].item() == 0.0
    assert ckd_relation_loss(xs, xs, None, window=2)[0].item() == 0.0


def test_ckd_method_layer_stacks_and_grads():
    m = get_method("ckd")(ctx(s_layers=3, t_layers=12))
    assert m.layer_map.pairs == ((0, 0), (1, 4), (2, 8), (3, 12))  # transformer: embeddings included
    g = get_method("ckd")(ctx(family="gru", s_layers=2, t_layers=6))
    assert g.layer_map.pairs == ((1, 3), (2, 6))                     # GRU: its layers only
    with pytest.raises(ConfigError, match="BiGRU"):
        get_method("ckd")(ctx(family="gru", s_layers=2, t_layers=6), {"include_embeddings": True})
    # gradients reach the student states only
    torch.manual_seed(1)
    hs = tuple(torch.randn(2, 5, 4, requires_grad=True) for _ in range(4))
    ht = tuple(torch.randn(2, 7, 6, requires_grad=True) for _ in range(13))
    p = get_method("ckd")(ctx(s_layers=3, t_layers=12), paper_faithful=True)
    loss, parts = p.loss(Outputs(logits=torch.randn(2, 3), hidden_states=hs, attention_mask=torch.ones(2, 5)),
                         Outputs(logits=torch.randn(2, 3), hidden_states=ht, attention_mask=torch.ones(2, 7)),
                         torch.tensor([0, 1]))
    loss.backward()
    assert all(h.grad is not None for h in hs) and all(h.grad is None for h in ht)
    assert set(parts) >= {"soft", "wr_dist", "wr_angle", "ltr_dist", "ltr_angle"} and "ce" not in parts


# ------------------------------------------------------------------------------------------- DKD

def test_dkd_golden():
    # 3 classes, T = 1, gold class 0. Student logits 0 -> p_s = [1/3]*3; teacher z = [ln 2, 0, 0] -> p_t = [1/2, 1/4, 1/4]
    # TCKD: b_t = [1/2, 1/2], b_s = [1/3, 2/3]: 1/2 ln(3/2) + 1/2 ln(3/4) = 1/2 ln(9/8) = 0.0588915
    # NCKD: non-target renormalised: teacher [1/2, 1/2], student [1/2, 1/2] -> 0
    zs = torch.zeros(1, 3)
    zt = torch.tensor([[math.log(2), 0.0, 0.0]])
    tckd, nckd = dkd_terms(zs, zt, torch.tensor([0]), 1.0)
    assert tckd.item() == pytest.approx(0.5 * math.log(9 / 8), abs=1e-6) and nckd.item() == pytest.approx(0, abs=1e-7)
    # gold class 1 instead: b_t = [1/4, 3/4], b_s = [1/3, 2/3]: 1/4 ln(3/4) + 3/4 ln(9/8) = 0.0164143
    # NCKD over classes {0, 2}: teacher [2/3, 1/3], student [1/2, 1/2]: 2/3 ln(4/3) + 1/3 ln(2/3) = 0.0566330
    tckd, nckd = dkd_terms(zs, zt, torch.tensor([1]), 1.0)
    assert tckd.item() == pytest.approx(0.25 * math.log(0.75) + 0.75 * math.log(9 / 8), abs=1e-6)
    assert nckd.item() == pytest.approx(2 / 3 * math.log(4 / 3) + 1 / 3 * math.log(2 / 3), abs=1e-6)
    total, parts = dkd_loss(zs, zt, torch.tensor([1]), temperature=1.0, alpha=1.0, beta=8.0, ce_weight=1.0)
    assert total.item() == pytest.approx(parts["tckd"] + 8 * parts["nckd"] + math.log(3), abs=1e-5)
    # unlabeled: the teacher's argmax (class 0) is the target, no CE
    total, parts = dkd_loss(zs, zt, None, temperature=1.0, alpha=1.0, beta=8.0, ce_weight=1.0)
    assert "ce" not in parts and parts["tckd"] == pytest.approx(0.5 * math.log(9 / 8), abs=1e-6)


def test_dkd_refused_on_two_class_tasks():
    with pytest.raises(ConfigError, match="multi-class"):
        get_method("dkd")(ctx(num_labels=2))
    assert get_method("dkd").supports_task("defect", 2) and get_method("dkd").supports_task("exception", 20) is None
    assert get_method("dkd").supports_task("exception", None) is None  # unknown until the data is read


# ------------------------------------------------------------------------------------------- TinyBERT

def test_hidden_mse_golden_and_mask():
    s = [torch.tensor([[[1.0, 2.0], [3.0, 4.0], [9.0, 9.0]]])]
    t = [torch.tensor([[[1.0, 0.0], [3.0, 5.0], [0.0, 0.0]]])]
    # squared errors: token0 (0 + 4), token1 (0 + 1), token2 (81 + 81)
    assert hidden_mse(s, t, None).item() == pytest.approx((4 + 1 + 162) / 6)
    assert hidden_mse(s, t, torch.tensor([[True, True, False]])).item() == pytest.approx(5 / 4)
    assert hidden_mse(s + s, t + t, torch.tensor([[True, True, False]])).item() == pytest.approx(2 * 5 / 4)


def test_tinybert_projections_per_layer_gru_embedding_width():
    m = get_method("tinybert")(ctx(family="gru", s_layers=2, s_hidden=8, t_layers=4, t_hidden=6))
    widths = {k: (lin.in_features, lin.out_features) for k, lin in m.modules().proj.items()}
    assert widths == {"0": (4, 6), "1": (8, 6), "2": (8, 6)}  # the GRU's H-wide embeddings get their own
    assert isinstance(m.modules(), nn.Module) and m.layer_map.pairs == ((0, 0), (1, 2), (2, 4))


def test_ckd_angles_stay_precise_for_nearly_coincident_states():
    # six states within 0.1% of a common vector (like successive layers of a residual stack): the
    # float32 angles agree with float64 ones, because angles are taken from the centred Gram matrix
    torch.manual_seed(0)
    x64 = torch.randn(1, 1, 64, dtype=torch.float64) * 10 + torch.randn(1, 6, 64, dtype=torch.float64) * 1e-2
    d64, a64 = relations(x64, 10)
    d32, a32 = relations(x64.float(), 10)
    assert (a32.double() - a64).abs().max() < 1e-4 and (d32.double() - d64).abs().max() < 1e-5


def test_projections_are_in_the_optimizer_but_not_the_student():
    from codekd.engine.sides import ModelSide
    from codekd.engine.trainer import _param_groups, _Trainable

    student = nn.Linear(2, 2)
    m = get_method("pkd")(ctx())
    tr = _Trainable(ModelSide("student", student, lambda c: {}, lambda *a: None), m.modules())
    in_opt = {id(p) for g in _param_groups(tr, 0.01) for p in g["params"]}
    assert all(id(p) in in_opt for p in m.modules().parameters())
    assert set(student.state_dict()) == {"weight", "bias"}  # what save_student writes: the student only
