"""The soft (teacher-output) and hard (gold-label) terms shared by the feature-based methods.

``alpha * T^2 * soft + (1 - alpha) * CE(z_s, y)``, where ``soft`` is KL(p_t^T || p_s^T) with
batchmean (corrected) or the soft-target cross-entropy (what the PKD and CKD code do; KL plus the
teacher's entropy: same gradient, different value). The hard term is dropped when ``alpha == 1``
and when ``labels`` is None (unlabeled transfer data never reaches a gold-label term).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .kd import kd_kl, soft_cross_entropy


def soft_and_hard(student_logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor | None, *,
                  temperature: float, alpha: float, soft: str = "kl") -> tuple[torch.Tensor, dict[str, float]]:
    """``(alpha * T^2 * soft + (1-alpha) * CE, parts)``; ``soft`` is ``"kl"`` or ``"ce"``."""
    zt = teacher_logits.detach().float()
    zs = student_logits.float()
    if soft == "kl":
        s = kd_kl(zs, zt, temperature)
    elif soft == "ce":
        s = soft_cross_entropy(zs, zt, temperature)
    else:  # pragma: no cover - guarded by the methods
        raise ValueError(f"soft must be 'kl' or 'ce', got {soft!r}")
    s = s * temperature ** 2
    total = alpha * s
    parts = {"soft": float(s.detach())}
    if alpha < 1 and labels is not None:
        ce = F.cross_entropy(zs, labels)
        total = total + (1 - alpha) * ce
        parts["ce"] = float(ce.detach())
    return total, parts


__all__ = ["soft_and_hard"]
