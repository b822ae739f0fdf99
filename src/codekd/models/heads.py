"""The loss of a sequence-classification head, shared by the BiGRU student and the teacher wrapper
(the same rule as Hugging Face's ``*ForSequenceClassification``: one label is regression)."""

from __future__ import annotations

import torch
from torch import nn


def classification_loss(logits: torch.Tensor, labels: torch.Tensor, num_labels: int) -> torch.Tensor:
    """MSE on the single output for ``num_labels == 1``, else cross-entropy over the classes."""
    if num_labels == 1:
        return nn.functional.mse_loss(logits.squeeze(-1), labels.to(logits.dtype))
    return nn.functional.cross_entropy(logits.view(-1, num_labels), labels.view(-1))


__all__ = ["classification_loss"]
