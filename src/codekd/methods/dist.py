"""DIST (Huang et al. 2022): match relations of the probabilities instead of the probabilities.

``beta*T^2*(1 - mean_i pearson(p_s^T[i,:], p_t^T[i,:]))`` (inter-class relation, per example across
classes) ``+ gamma*T^2*(1 - mean_c pearson(p_s^T[:,c], p_t^T[:,c]))`` (intra-class relation, per
class across the batch) ``+ ce_weight*CE``. Pearson = cosine of the mean-centred vectors, eps 1e-8.

Corrected default: ``T=4``, ``beta=gamma=1``, with ``T^2`` and CE (weight 1).
Paper-faithful: ``T=10``, ``beta=gamma=1``, no ``T^2``, no CE.

With two classes the inter-class term is degenerate: the two centred probabilities of an example
are ``(d, -d)``, so each per-example correlation is exactly +1 or -1 and the term carries no
gradient. A warning says so.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .base import Method, Needs, register_method

EPS = 1e-8


def pearson(a: torch.Tensor, b: torch.Tensor, dim: int = -1, eps: float = EPS) -> torch.Tensor:
    """Pearson correlation along ``dim``: cosine of the mean-centred vectors."""
    a = a - a.mean(dim=dim, keepdim=True)
    b = b - b.mean(dim=dim, keepdim=True)
    return (a * b).sum(dim) / (a.norm(dim=dim) * b.norm(dim=dim) + eps)


def inter_class_relation(ps: torch.Tensor, pt: torch.Tensor) -> torch.Tensor:
    return 1 - pearson(ps, pt, dim=1).mean()


def intra_class_relation(ps: torch.Tensor, pt: torch.Tensor) -> torch.Tensor:
    return 1 - pearson(ps, pt, dim=0).mean()


def dist_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor | None, *,
              temperature: float, beta: float, gamma: float, ce_weight: float,
              paper_faithful: bool = False) -> tuple[torch.Tensor, dict[str, float]]:
    ps = F.softmax(student_logits / temperature, dim=-1)
    pt = F.softmax(teacher_logits.detach() / temperature, dim=-1)
    scale = 1.0 if paper_faithful else temperature ** 2
    inter = inter_class_relation(ps, pt)
    intra = intra_class_relation(ps, pt)
    total = scale * (beta * inter + gamma * intra)
    parts = {"inter": float(inter.detach()), "intra": float(intra.detach())}
    if not paper_faithful and ce_weight > 0 and labels is not None:
        ce = F.cross_entropy(student_logits, labels)
        total = total + ce_weight * ce
        parts["ce"] = float(ce.detach())
    return total, parts


@register_method
class DIST(Method):
    __doc__ = __doc__
    name = "dist"
    description = "relation-based logit distillation (Huang et al. 2022)"
    needs = Needs(teacher=True, logits=True)
    defaults = {"temperature": 4.0, "beta": 1.0, "gamma": 1.0, "ce_weight": 1.0}
    paper_defaults = {"temperature": 10.0, "beta": 1.0, "gamma": 1.0, "ce_weight": 0.0}

    def check(self) -> None:
        if self.ctx.num_labels == 2 and float(self.params["beta"]) != 0:
            self.warn("DIST on a two-class task: the inter-class term is degenerate (each per-example "
                      "correlation is +1 or -1) and carries no gradient; only the intra-class term teaches")

    def loss(self, student, teacher, labels, modules=None):
        return dist_loss(student.logits, teacher.logits, labels, temperature=float(self.params["temperature"]),
                         beta=float(self.params["beta"]), gamma=float(self.params["gamma"]),
                         ce_weight=float(self.params["ce_weight"]), paper_faithful=self.paper_faithful)
