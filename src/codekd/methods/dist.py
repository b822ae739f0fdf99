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

import math

import torch
import torch.nn.functional as F

from .base import Method, Needs, Outputs, register_method
from .golden import Golden
from .params import MethodParams, Temperature, Weight
from .terms import hard

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
    if not paper_faithful:
        total = hard(total, parts, student_logits, labels, ce_weight)
    return total, parts


@register_method
class DIST(Method):
    __doc__ = __doc__
    name = "dist"
    description = "relation-based logit distillation (Huang et al. 2022)"
    needs = Needs(teacher=True, logits=True)

    class Params(MethodParams):
        temperature: Temperature = 4.0
        beta: Weight = 1.0        # inter-class relation
        gamma: Weight = 1.0       # intra-class relation
        ce_weight: Weight = 1.0

    paper = Params(temperature=10.0, ce_weight=0.0)

    golden = (Golden(
        Outputs(logits=torch.tensor([[0.5, 0.3, 0.2], [0.2, 0.2, 0.6]]).log()),
        Outputs(logits=torch.tensor([[0.6, 0.3, 0.1], [0.1, 0.3, 0.6]]).log()), torch.tensor([0, 2]),
        total=2 * 0.0425804 + 1 / 3 - 0.25 * (math.log(0.5) + math.log(0.6)),
        parts={"inter": 0.0425804, "intra": 1 / 3, "ce": -(math.log(0.5) + math.log(0.6)) / 2},
        params={"temperature": 1.0, "beta": 2.0, "ce_weight": 0.5},
        why="T=1, logits log p: inter per row, centred ps1 = [1/6, -1/30, -2/15], pt1 = [4/15, -1/30, -7/30]: "
            "r1 = 0.0766667 / (0.2160247 * 0.3559026) = 0.9971763, r2 = 0.1066667 / (0.3265986 * 0.3559026) = "
            "0.9176629, inter = 1 - (r1 + r2)/2 = 0.0425804; intra per column: +1, 0 (pt constant), +1 -> 1/3; "
            "CE = -(ln .5 + ln .6)/2; total = 2 * inter + intra + 0.5 * CE"),)

    def check(self) -> None:
        if self.ctx.num_labels == 2 and self.p.beta != 0:
            self.warn("DIST on a two-class task: the inter-class term is degenerate (each per-example "
                      "correlation is +1 or -1) and carries no gradient; only the intra-class term teaches")

    def loss(self, student, teacher, labels, modules=None):
        p = self.p
        return dist_loss(student.logits, teacher.logits, labels, temperature=p.temperature, beta=p.beta, gamma=p.gamma,
                         ce_weight=p.ce_weight, paper_faithful=self.paper_faithful)
