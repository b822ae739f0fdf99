"""FT: standard fine-tuning of the student on the gold labels; no teacher is loaded at all."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .base import Method, Needs, register_method


def ft_loss(student_logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """CE(z_s, y), mean over the batch."""
    return F.cross_entropy(student_logits, labels)


@register_method
class FT(Method):
    """Cross-entropy on gold labels. Same in paper-faithful and corrected mode."""

    name = "ft"
    description = "standard fine-tuning on gold labels (no teacher)"
    needs = Needs(teacher=False, logits=False)
    families = ("roberta", "gru", "teacher")

    def loss(self, student, teacher, labels, modules=None):
        ce = ft_loss(student.logits, labels)
        return ce, {"ce": float(ce.detach())}
