"""The loss terms methods are composed of (each method's loss is a weighted sum of named terms).

* :func:`soft_term`: the teacher-output term, ``KL(p_t^T || p_s^T)`` with batchmean (``"kl"``,
  corrected) or the soft-target cross-entropy ``mean_i sum_c -p_t^T log p_s^T`` (``"ce"``, what
  the papers' code does: KL plus the teacher's entropy, same gradient, different value).
* :func:`hard`: the gold-label cross-entropy, added as ``weight * CE`` only when there are labels
  and the weight is not 0 (unlabeled transfer data never reaches a gold-label term).
* :func:`soft_and_hard`: ``alpha * T^2 * soft + (1 - alpha) * CE`` (the mix of KD, PKD, CKD,
  TinyBERT and every hidden-state method).

Parts are returned as floats under fixed names (``soft``, ``ce``) for the log.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

SOFT_KINDS = ("kl", "ce")


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


def soft_term(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float,
              kind: str = "kl") -> torch.Tensor:
    """The soft term (no ``T^2``): ``kind`` ``"kl"`` (:func:`kd_kl`) or ``"ce"`` (:func:`soft_cross_entropy`)."""
    if kind == "kl":
        return kd_kl(student_logits, teacher_logits, temperature)
    if kind == "ce":
        return soft_cross_entropy(student_logits, teacher_logits, temperature)
    raise ValueError(f"soft must be one of {SOFT_KINDS}, got {kind!r}")  # pragma: no cover - guarded by the methods


def hard(total: torch.Tensor, parts: dict[str, float], student_logits: torch.Tensor, labels: torch.Tensor | None,
         weight: float) -> torch.Tensor:
    """``total + weight * CE(z_s, y)`` (and ``parts["ce"]``); ``total`` unchanged without labels or weight."""
    if weight > 0 and labels is not None:
        ce = F.cross_entropy(student_logits, labels)
        total = total + weight * ce
        parts["ce"] = float(ce.detach())
    return total


def soft_and_hard(student_logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor | None, *,
                  temperature: float, alpha: float, soft: str = "kl", t2: bool = True,
                  upcast: bool = True) -> tuple[torch.Tensor, dict[str, float]]:
    """``(alpha * T^2 * soft + (1-alpha) * CE, parts)``; ``soft`` is ``"kl"`` or ``"ce"``.

    ``t2=False`` drops the ``T^2`` factor (paper-faithful KD); ``upcast=False`` computes in the
    logits' own precision (KD always has; the feature methods compute in float32).
    """
    zt = teacher_logits.detach()
    zs = student_logits
    if upcast:
        zt, zs = zt.float(), zs.float()
    s = soft_term(zs, zt, temperature, soft)
    if t2:
        s = s * temperature ** 2
    parts = {"soft": float(s.detach())}
    total = hard(alpha * s, parts, zs, labels, 1 - alpha)  # CE only while alpha < 1
    return total, parts


__all__ = ["SOFT_KINDS", "hard", "kd_kl", "soft_and_hard", "soft_term", "soft_cross_entropy"]
