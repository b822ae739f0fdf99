"""DKD (Zhao et al. 2022, "Decoupled Knowledge Distillation"): KD split into a target-class term
and a non-target-class term, weighted separately.

With ``b = [p_gold, 1 - p_gold]`` (binary: gold class vs the rest) and ``p^`` the distribution
over the non-target classes only (renormalised):

    TCKD = KL(b_t^T || b_s^T),   NCKD = KL(p^_t^T || p^_s^T)
    loss = ce_weight * CE(z_s, y) + T^2 * (alpha * TCKD + beta * NCKD)

(KL summed over classes, averaged over the batch; the authors' code scales by ``T^2`` the same
way). Defaults are the paper's: ``T=4, alpha=1, beta=8, ce_weight=1`` (DKD has no separate
paper-faithful variant in the study being reproduced, so both settings are the DKD paper's). The
authors' linear warm-up of the DKD term is not applied (the engine runs few epochs).

Multi-class only: with two classes the non-target distribution has a single class, NCKD is
identically 0 and DKD collapses to a re-weighted KD, so two-class tasks (defect, clone) are
refused when the config loads. On unlabeled transfer data (no gold class) the teacher's
predicted class stands in for the gold class and the CE term is dropped.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .base import Method, Needs, Outputs, register_method
from .golden import Golden
from .params import MethodParams, Temperature, Weight
from .terms import hard

_BIG = 1000.0


def dkd_terms(student_logits: torch.Tensor, teacher_logits: torch.Tensor, target: torch.Tensor,
              temperature: float) -> tuple[torch.Tensor, torch.Tensor]:
    """``(TCKD, NCKD)`` (without the ``T^2`` factor), KL summed over classes, batch mean."""
    zs, zt = student_logits.float() / temperature, teacher_logits.detach().float() / temperature
    gt = F.one_hot(target, zs.shape[-1]).bool()
    ps, pt = F.softmax(zs, -1), F.softmax(zt, -1)
    bs = torch.stack([(ps * gt).sum(-1), (ps * ~gt).sum(-1)], -1)
    bt = torch.stack([(pt * gt).sum(-1), (pt * ~gt).sum(-1)], -1)
    tckd = (bt * (bt.clamp_min(1e-12).log() - bs.clamp_min(1e-12).log())).sum(-1).mean()
    log_ps_nt = F.log_softmax(zs - _BIG * gt, -1)
    log_pt_nt = F.log_softmax(zt - _BIG * gt, -1)
    pt_nt = log_pt_nt.exp()
    nckd = (pt_nt * (log_pt_nt - log_ps_nt)).masked_fill(gt, 0).sum(-1).mean()
    return tckd, nckd


def dkd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor | None, *,
             temperature: float, alpha: float, beta: float, ce_weight: float) -> tuple[torch.Tensor, dict[str, float]]:
    target = labels if labels is not None else teacher_logits.detach().argmax(-1)
    tckd, nckd = dkd_terms(student_logits, teacher_logits, target, temperature)
    total = temperature ** 2 * (alpha * tckd + beta * nckd)
    parts = {"tckd": float(tckd.detach()), "nckd": float(nckd.detach())}
    return hard(total, parts, student_logits.float(), labels, ce_weight), parts


@register_method
class DKD(Method):
    __doc__ = __doc__
    name = "dkd"
    description = "decoupled KD: target-class and non-target-class terms (Zhao et al. 2022); multi-class only"
    needs = Needs(teacher=True, logits=True)
    task_support = "multi-class tasks only (>= 3 labels)"

    class Params(MethodParams):
        temperature: Temperature = 4.0
        alpha: Weight = 1.0       # TCKD weight
        beta: Weight = 8.0        # NCKD weight
        ce_weight: Weight = 1.0

    paper = Params()  # the DKD paper's settings are the defaults

    _tckd = 0.25 * math.log(0.75) + 0.75 * math.log(9 / 8)
    _nckd = 2 / 3 * math.log(4 / 3) + 1 / 3 * math.log(2 / 3)
    golden = (Golden(
        Outputs(logits=torch.zeros(1, 3)), Outputs(logits=torch.tensor([[math.log(2), 0.0, 0.0]])), torch.tensor([1]),
        total=_tckd + 8 * _nckd + math.log(3), parts={"tckd": _tckd, "nckd": _nckd, "ce": math.log(3)},
        params={"temperature": 1.0}, tol=1e-5,
        why="T=1, gold class 1; p_s = [1/3]*3, p_t = [1/2, 1/4, 1/4]: b_t = [1/4, 3/4], b_s = [1/3, 2/3], TCKD = "
            "1/4 ln(3/4) + 3/4 ln(9/8); non-target {0, 2}: teacher [2/3, 1/3], student [1/2, 1/2], NCKD = 2/3 ln(4/3) "
            "+ 1/3 ln(2/3); CE = ln 3; total = TCKD + 8 NCKD + CE"),)
    del _tckd, _nckd

    @classmethod
    def supports_task(cls, task: str, num_labels: int | None) -> str | None:
        if num_labels is not None and num_labels < 3:
            return (f"DKD needs a multi-class task, and {task!r} has {num_labels} classes: with two classes the "
                    "non-target distribution has one class, so NCKD is always 0 and DKD is just re-weighted KD "
                    "(use method kd)")
        return None

    def loss(self, student, teacher, labels, modules=None):
        p = self.p
        return dkd_loss(student.logits, teacher.logits, labels, temperature=p.temperature, alpha=p.alpha, beta=p.beta,
                        ce_weight=p.ce_weight)
