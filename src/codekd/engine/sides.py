"""Adapters from models to the engine's :class:`~codekd.engine.trainer.ModelSide`.

A student side encodes with the student's own tokenizer; a teacher side with the teacher's
(UniXcoder prefix, pair mode). Both return :class:`~codekd.methods.base.Outputs` with logits, and
on request the per-layer token states, the per-layer pooled states ([CLS] for transformers, the
final states of both directions for the BiGRU), the attention mask and the character offsets.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from ..methods.base import Outputs
from .batching import TextEncoder
from .trainer import ModelSide


def _position_limit(model: nn.Module) -> int | None:
    from ..models.hf import position_limit

    try:
        return position_limit(model.config)
    except Exception:  # pragma: no cover - exotic configs
        return None


def student_side(model: nn.Module, tokenizer: Any, max_length: int, *, pad_to_max_length: bool = False,
                 with_offsets: bool = False) -> ModelSide:
    limit = _position_limit(model)
    ml = min(max_length, limit) if limit else max_length
    encoder = TextEncoder(tokenizer, ml, pad_to_max_length=pad_to_max_length, with_offsets=with_offsets)

    def forward(m: nn.Module, enc: dict[str, torch.Tensor], hidden: bool) -> Outputs:
        out = m(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"], output_hidden_states=hidden)
        pooled = getattr(out, "pooled_states", None) if hidden else None
        hs = out.hidden_states if hidden else None
        if hidden and pooled is None and hs is not None:
            pooled = tuple(h[:, 0] for h in hs[1:])  # transformer: [CLS] (first token) of each layer
        return Outputs(logits=out.logits, hidden_states=hs, pooled_states=pooled,
                       attention_mask=enc["attention_mask"], offsets=enc.get("offset_mapping"))

    return ModelSide("student", model, encoder, forward)


def teacher_side(teacher: nn.Module, max_length: int | None = None) -> ModelSide:
    """``teacher`` is a :class:`codekd.models.teacher.Teacher`."""

    def encode(codes: Sequence[tuple[str, ...]]) -> dict[str, torch.Tensor]:
        a = [c[0] for c in codes]
        b = [c[1] for c in codes] if codes and len(codes[0]) > 1 else None
        return teacher.encode(a, b, max_length=max_length)

    def forward(m: nn.Module, enc: dict[str, torch.Tensor], hidden: bool) -> Outputs:
        out = m(**enc)
        pooled = tuple(h[:, 0] for h in out.hidden_states[1:]) if hidden else None
        return Outputs(logits=out.logits, hidden_states=out.hidden_states if hidden else None, pooled_states=pooled,
                       attention_mask=out.attention_mask, offsets=enc.get("offset_mapping"))

    return ModelSide("teacher", teacher, encode, forward)
