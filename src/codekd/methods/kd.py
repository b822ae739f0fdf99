"""KD (Hinton et al. 2015): soft targets from the teacher's temperature-scaled distribution.

Corrected default: ``(1-alpha)*CE(z_s, y) + alpha*T^2*KL(p_t^T || p_s^T)`` (KL with batchmean; the
``T^2`` keeps the soft-term gradients on the scale of the hard term), ``T=4``, ``alpha=0.7``.

Paper-faithful (the paper's code): ``alpha=1``, ``T=10``, no ``T^2``, and the soft term is the
soft-target cross-entropy ``mean_i sum_c -p_t^T log p_s^T`` (KL plus the teacher's entropy: same
gradient, different value).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .base import Method, Needs, register_method


def kd_kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """KL(p_t^T || p_s^T), summed over classes, averaged over the batch (``batchmean``)."""
    log_ps = F.log_softmax(student_logits / temperature, dim=-1)
    log_pt = F.log_softmax(teacher_logits / temperature, dim=-1)
    return F.kl_div(log_ps, log_pt, reduction="batchmean", log_target=True)


def soft_cross_entropy(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Soft-target cross-entropy ``mean_i sum_c -p_t^T[i,c] * log p_s^T[i,c]``."""
    log_ps = F.log_softmax(student_logits / temperature, dim=-1)
    pt = F.softmax(teacher_logits / temperature, dim=-1)
    return -(pt * log_ps).sum(dim=-1).mean()


def kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor | None, *,
            temperature: float, alpha: float, paper_faithful: bool = False) -> tuple[torch.Tensor, dict[str, float]]:
    teacher_logits = teacher_logits.detach()
    if paper_faithful:
        soft = soft_cross_entropy(student_logits, teacher_logits, temperature)
        total = alpha * soft
    else:
        soft = kd_kl(student_logits, teacher_logits, temperature) * temperature ** 2
        total = alpha * soft
    parts = {"soft": float(soft.detach())}
    if alpha < 1 and labels is not None:
        ce = F.cross_entropy(student_logits, labels)
        total = total + (1 - alpha) * ce
        parts["ce"] = float(ce.detach())
    return total, parts


@register_method
class KD(Method):
    __doc__ = __doc__
    name = "kd"
    description = "vanilla logit distillation (Hinton)"
    needs = Needs(teacher=True, logits=True)
    defaults = {"temperature": 4.0, "alpha": 0.7}
    paper_defaults = {"temperature": 10.0, "alpha": 1.0}

    def loss(self, student, teacher, labels, modules=None):
        return kd_loss(student.logits, teacher.logits, labels, temperature=float(self.params["temperature"]),
                       alpha=float(self.params["alpha"]), paper_faithful=self.paper_faithful)
