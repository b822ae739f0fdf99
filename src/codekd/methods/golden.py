"""Hand-computed examples a method carries with it (``golden = (Golden(...), ...)`` on the class).

A :class:`Golden` holds tiny inputs (both sides' :class:`~codekd.methods.base.Outputs`, the
labels), the settings, and the loss worked out by hand (the derivation in ``why``). The contract
test (``tests/methods/test_contract.py``) runs every registered method's examples, so a new method
file is checked without editing a test. Learned projections start as identity maps (weight ``I``,
bias 0) in an example, so the value does not depend on their random initialisation.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Mapping

import torch
from torch import nn

from .base import Method, MethodContext, Outputs


@dataclass(frozen=True)
class Golden:
    """One hand-computed example: ``loss(student, teacher, labels)`` must give ``total`` and ``parts``."""

    student: Outputs
    teacher: Outputs | None
    labels: torch.Tensor | None
    total: float
    parts: Mapping[str, float] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    paper_faithful: bool = False
    context: Mapping[str, Any] = field(default_factory=dict)  # MethodContext fields (defaults: CONTEXT)
    why: str = ""                                             # the derivation
    tol: float = 1e-6                                         # absolute tolerance of total and parts

    CONTEXT = {"task": "exception", "num_labels": 3, "student_family": "roberta", "student_layers": 1,
               "student_hidden": 2, "teacher_layers": 1, "teacher_hidden": 2}

    def method(self, cls: type[Method]) -> Method:
        known = {f.name for f in fields(MethodContext)}
        ctx = MethodContext(**{k: v for k, v in {**self.CONTEXT, **self.context}.items() if k in known})
        m = cls(ctx, dict(self.params), paper_faithful=self.paper_faithful)
        mods = m.modules()
        if mods is not None:
            with torch.no_grad():
                for lin in (x for x in mods.modules() if isinstance(x, nn.Linear)):
                    lin.weight.copy_(torch.eye(lin.out_features, lin.in_features))
                    lin.bias.zero_()
        return m

    def run(self, cls: type[Method]) -> tuple[torch.Tensor, dict[str, float]]:
        """The method's loss on this example (a fresh instance, projections set to identity)."""
        m = self.method(cls)
        return m.loss(self.student, self.teacher, self.labels, m.modules())


__all__ = ["Golden"]
