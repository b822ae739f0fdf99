"""KD (Hinton et al. 2015): soft targets from the teacher's temperature-scaled distribution.

Corrected default: ``(1-alpha)*CE(z_s, y) + alpha*T^2*KL(p_t^T || p_s^T)`` (KL with batchmean; the
``T^2`` keeps the soft-term gradients on the scale of the hard term), ``T=4``, ``alpha=0.7``.

Paper-faithful (the paper's code): ``alpha=1``, ``T=10``, no ``T^2``, and the soft term is the
soft-target cross-entropy ``mean_i sum_c -p_t^T log p_s^T`` (KL plus the teacher's entropy: same
gradient, different value).
"""

from __future__ import annotations

import math

import torch

from .base import Method, Needs, Outputs, register_method
from .golden import Golden
from .params import Alpha, MethodParams, Temperature
from .terms import kd_kl, soft_and_hard, soft_cross_entropy


def kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor | None, *,
            temperature: float, alpha: float, paper_faithful: bool = False) -> tuple[torch.Tensor, dict[str, float]]:
    """``alpha * T^2 * KL + (1-alpha) * CE``; paper-faithful: ``alpha * soft-target CE`` (no ``T^2``)."""
    return soft_and_hard(student_logits, teacher_logits, labels, temperature=temperature, alpha=alpha,
                         soft="ce" if paper_faithful else "kl", t2=not paper_faithful, upcast=False)


@register_method
class KD(Method):
    __doc__ = __doc__
    name = "kd"
    description = "vanilla logit distillation (Hinton)"
    needs = Needs(teacher=True, logits=True)

    class Params(MethodParams):
        temperature: Temperature = 4.0
        alpha: Alpha = 0.7

    paper = Params(temperature=10.0, alpha=1.0)

    _ln3 = math.log(3)
    golden = (
        Golden(Outputs(logits=torch.zeros(1, 2)), Outputs(logits=torch.tensor([[_ln3, 0.0]])), torch.tensor([0]),
               total=0.4192552, parts={"soft": 0.1453631, "ce": math.log(2)}, params={"temperature": 2.0, "alpha": 0.5},
               context={"num_labels": 2},
               why="T=2: p_t = softmax([ln3/2, 0]) = [0.633975, 0.366025], p_s = [1/2, 1/2]; KL = 0.0363408, "
                   "x T^2 = 0.1453631; label 0: CE = ln 2; 0.5 * 0.1453631 + 0.5 * ln 2 = 0.4192552"),
        Golden(Outputs(logits=torch.zeros(2, 2)), Outputs(logits=torch.tensor([[_ln3, 0.0], [0.0, 0.0]])),
               torch.tensor([0, 1]), total=math.log(2), parts={"soft": math.log(2)}, paper_faithful=True,
               context={"num_labels": 2},
               why="paper (T=10, alpha=1, no T^2): the soft-target CE against p_s = [1/2, 1/2] is ln 2 whatever "
                   "p_t is; alpha = 1: no CE term"))
    del _ln3

    def loss(self, student, teacher, labels, modules=None):
        return kd_loss(student.logits, teacher.logits, labels, temperature=self.p.temperature, alpha=self.p.alpha,
                       paper_faithful=self.paper_faithful)


__all__ = ["KD", "kd_kl", "kd_loss", "soft_cross_entropy"]
