"""FT: standard fine-tuning of the student on the gold labels; no teacher is loaded at all."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .base import Method, Needs, Outputs, register_method
from .golden import Golden


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
    golden = (Golden(Outputs(logits=torch.zeros(1, 2)), None, torch.tensor([0]), total=math.log(2),
                     parts={"ce": math.log(2)}, context={"num_labels": 2}, why="z_s = [0, 0]: p = [1/2, 1/2], CE = ln 2"),)

    def loss(self, student, teacher, labels, modules=None):
        ce = ft_loss(student.logits, labels)
        return ce, {"ce": float(ce.detach())}
