"""Golden values (computed by hand, derivations in comments) and invariants for FT, KD and DIST."""

from __future__ import annotations

import math
import warnings

import pytest
import torch

from codekd.errors import ConfigError
from codekd.methods import METHODS, MethodContext, Outputs, get_method
from codekd.methods.dist import dist_loss, pearson
from codekd.methods.ft import ft_loss
from codekd.methods.kd import kd_kl, kd_loss, soft_cross_entropy

LN3 = math.log(3.0)


def ctx(num_labels=2, family="gru"):
    return MethodContext(task="t", num_labels=num_labels, student_family=family, student_layers=2, student_hidden=8)


def test_registry_has_logit_methods():
    assert {"ft", "kd", "dist"} <= set(METHODS.names())
    assert not get_method("ft").needs.teacher and get_method("kd").needs.logits


def test_ft_golden():
    # z_s = [0, 0] -> p = [1/2, 1/2]; CE = ln 2
    assert ft_loss(torch.zeros(1, 2), torch.tensor([0])).item() == pytest.approx(math.log(2), abs=1e-6)


def test_kd_kl_golden_T1():
    # p_t = softmax([ln 3, 0]) = [3/4, 1/4]; p_s = [1/2, 1/2]
    # KL = 3/4 ln(3/2) + 1/4 ln(1/2) = 0.304099 - 0.173287 = 0.130812
    zs, zt = torch.zeros(1, 2), torch.tensor([[LN3, 0.0]])
    assert kd_kl(zs, zt, 1.0).item() == pytest.approx(0.130812036, abs=1e-6)
    # soft-target CE = -(3/4 ln 1/2 + 1/4 ln 1/2) = ln 2
    assert soft_cross_entropy(zs, zt, 1.0).item() == pytest.approx(math.log(2), abs=1e-6)


def test_kd_corrected_golden_T2_with_ce():
    # T = 2: p_t = softmax([ln 3 / 2, 0]) = [sqrt3/(sqrt3+1), 1/(sqrt3+1)] = [0.633975, 0.366025]
    # KL = 0.633975 ln(1.267949) + 0.366025 ln(0.732051) = 0.0363408; times T^2 = 0.1453631
    # alpha = 0.5, label 0: CE(z_s=[0,0]) = ln 2 -> total = 0.5*0.1453631 + 0.5*0.6931472 = 0.4192552
    zs, zt, y = torch.zeros(1, 2), torch.tensor([[LN3, 0.0]]), torch.tensor([0])
    total, parts = kd_loss(zs, zt, y, temperature=2.0, alpha=0.5)
    assert parts["soft"] == pytest.approx(0.1453631, abs=1e-6)
    assert total.item() == pytest.approx(0.4192552, abs=1e-6)


def test_kd_paper_faithful_golden():
    # paper: alpha 1, no T^2, soft-target CE. Two examples (batch mean):
    # ex1 z_s=[0,0], z_t=[ln3,0] at T=1 -> ln 2; ex2 z_s=z_t=[0,0] -> ln 2. Mean = ln 2.
    zs = torch.zeros(2, 2)
    zt = torch.tensor([[LN3, 0.0], [0.0, 0.0]])
    total, parts = kd_loss(zs, zt, torch.tensor([0, 1]), temperature=1.0, alpha=1.0, paper_faithful=True)
    assert total.item() == pytest.approx(math.log(2), abs=1e-6) and "ce" not in parts
    # corrected, same inputs: KL batchmean = (0.130812 + 0)/2
    total, _ = kd_loss(zs, zt, None, temperature=1.0, alpha=1.0)
    assert total.item() == pytest.approx(0.130812036 / 2, abs=1e-6)


def test_kd_zero_when_student_equals_teacher_and_grad_only_to_student():
    torch.manual_seed(0)
    zt = torch.randn(4, 5)
    zs = zt.clone().requires_grad_(True)
    total, _ = kd_loss(zs, zt, None, temperature=3.0, alpha=1.0)
    assert abs(total.item()) < 1e-6
    teacher_param = torch.randn(4, 5, requires_grad=True)
    zs2 = torch.randn(4, 5, requires_grad=True)
    total, _ = kd_loss(zs2, teacher_param * 1.0, torch.tensor([0, 1, 2, 3]), temperature=3.0, alpha=0.5)
    total.backward()
    assert zs2.grad is not None and zs2.grad.abs().sum() > 0
    assert teacher_param.grad is None


def test_pearson_is_centred_cosine():
    a = torch.tensor([1.0, 2.0, 3.0])
    assert pearson(a, 2 * a + 7).item() == pytest.approx(1.0, abs=1e-6)
    assert pearson(a, -a).item() == pytest.approx(-1.0, abs=1e-6)


def _probs_as_logits(p):
    return torch.log(torch.tensor(p))  # softmax(log p) = p at T = 1


PS = [[0.5, 0.3, 0.2], [0.2, 0.2, 0.6]]
PT = [[0.6, 0.3, 0.1], [0.1, 0.3, 0.6]]


def test_dist_paper_faithful_golden():
    # inter (per row): centred ps1 = [1/6, -1/30, -2/15], pt1 = [4/15, -1/30, -7/30]
    #   r1 = 0.0766667 / (0.2160247 * 0.3559026) = 0.9971763
    #   r2 = 0.1066667 / (0.3265986 * 0.3559026) = 0.9176629   -> inter = 1 - (r1+r2)/2 = 0.0425804
    # intra (per column over the batch of 2): col0 +1, col1 pt constant -> 0, col2 +1 -> intra = 1/3
    zs, zt = _probs_as_logits(PS), _probs_as_logits(PT)
    total, parts = dist_loss(zs, zt, torch.tensor([0, 2]), temperature=1.0, beta=1.0, gamma=1.0, ce_weight=0.0,
                             paper_faithful=True)
    assert parts["inter"] == pytest.approx(0.0425804, abs=1e-6)
    assert parts["intra"] == pytest.approx(1 / 3, abs=1e-6)
    assert total.item() == pytest.approx(0.0425804 + 1 / 3, abs=1e-6) and "ce" not in parts


def test_dist_corrected_golden_scales_by_T2_and_adds_ce():
    # With T = 1 the T^2 factor is 1; ce_weight 0.5 adds 0.5 * mean(-ln ps[y]) = 0.5 * -(ln .5 + ln .6)/2
    zs, zt, y = _probs_as_logits(PS), _probs_as_logits(PT), torch.tensor([0, 2])
    total, parts = dist_loss(zs, zt, y, temperature=1.0, beta=2.0, gamma=1.0, ce_weight=0.5)
    ce = -(math.log(0.5) + math.log(0.6)) / 2
    assert parts["ce"] == pytest.approx(ce, abs=1e-6)
    assert total.item() == pytest.approx(2 * 0.0425804 + 1 / 3 + 0.5 * ce, abs=1e-6)


def test_dist_zero_when_equal():
    torch.manual_seed(1)
    # float64, spread-out probabilities: what remains is only the eps=1e-8 in pearson's denominator
    z = 3 * torch.randn(6, 4, dtype=torch.float64)
    total, _ = dist_loss(z.clone(), z, None, temperature=1.0, beta=1, gamma=1, ce_weight=0.0)
    assert abs(total.item()) < 1e-6


def test_dist_two_class_warning_and_degenerate_inter_term():
    with pytest.warns(UserWarning, match="inter-class term is degenerate"):
        get_method("dist")(ctx(num_labels=2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        get_method("dist")(ctx(num_labels=5))
    # the per-example correlation is +-1 with two classes: the inter term has no gradient
    zs = torch.randn(8, 2, requires_grad=True)
    zt = torch.randn(8, 2)
    ps, pt = torch.softmax(zs, -1), torch.softmax(zt, -1)
    inter = 1 - pearson(ps, pt, dim=1).mean()
    inter.backward()
    assert zs.grad.abs().max() < 1e-4


def test_method_params_and_modes():
    m = get_method("kd")(ctx(), {"temperature": 2})
    assert m.params == {"temperature": 2, "alpha": 0.7}
    assert get_method("kd")(ctx(), paper_faithful=True).params == {"temperature": 10.0, "alpha": 1.0}
    with pytest.raises(ConfigError, match="has no parameter"):
        get_method("kd")(ctx(), {"temprature": 2})
    out, parts = m.loss(Outputs(logits=torch.zeros(1, 2)), Outputs(logits=torch.tensor([[LN3, 0.0]])), torch.tensor([0]))
    assert set(parts) == {"soft", "ce"}
