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


PAIR_GAP = 1  # offsets of a pair's second function start at len(first) + PAIR_GAP


def _shift_second(offsets: torch.Tensor, sequence_ids: torch.Tensor, first_lengths: Sequence[int]) -> torch.Tensor:
    """Offsets into the virtual text ``a + " " + b``: the second function's spans move past the first."""
    shift = torch.as_tensor([n + PAIR_GAP for n in first_lengths], dtype=offsets.dtype).view(-1, 1, 1)
    return torch.where((sequence_ids == 1).unsqueeze(-1), offsets + shift, offsets)


class _OffsetTextEncoder(TextEncoder):
    """:class:`TextEncoder` whose pair offsets index one text (second function shifted past the first)."""

    def __call__(self, codes: Sequence[tuple[str, ...]]) -> dict[str, torch.Tensor]:
        first = [c[0] for c in codes]
        second = [c[1] for c in codes] if codes and len(codes[0]) > 1 else None
        enc = self.tokenizer(first, second, truncation=True, max_length=self.max_length,
                             padding="max_length" if self.pad_to_max_length else "longest",
                             return_offsets_mapping=True, return_tensors="pt")
        out = {k: enc[k] for k in ("input_ids", "attention_mask", "offset_mapping")}
        out["offset_mapping"] = out["offset_mapping"].to(torch.long)
        if second is not None:
            seq = torch.tensor([[-1 if x is None else x for x in enc.sequence_ids(i)] for i in range(len(first))])
            out["offset_mapping"] = _shift_second(out["offset_mapping"], seq, [len(a) for a in first])
        return out


def student_side(model: nn.Module, tokenizer: Any, max_length: int, *, pad_to_max_length: bool = False,
                 with_offsets: bool = False) -> ModelSide:
    """``with_offsets``: also return character offsets (token-level methods align tokens with them)."""
    limit = _position_limit(model)
    ml = min(max_length, limit) if limit else max_length
    if with_offsets:
        encoder: TextEncoder = _OffsetTextEncoder(tokenizer, ml, pad_to_max_length=pad_to_max_length, with_offsets=True)
    else:
        encoder = TextEncoder(tokenizer, ml, pad_to_max_length=pad_to_max_length, with_offsets=False)

    def forward(m: nn.Module, enc: dict[str, torch.Tensor], hidden: bool) -> Outputs:
        out = m(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"], output_hidden_states=hidden)
        pooled = getattr(out, "pooled_states", None) if hidden else None
        hs = out.hidden_states if hidden else None
        if hidden and pooled is None and hs is not None:
            pooled = tuple(h[:, 0] for h in hs[1:])  # transformer: [CLS] (first token) of each layer
        return Outputs(logits=out.logits, hidden_states=hs, pooled_states=pooled,
                       attention_mask=enc["attention_mask"], offsets=enc.get("offset_mapping"))

    return ModelSide("student", model, encoder, forward)


def teacher_side(teacher: nn.Module, max_length: int | None = None, *, pad_to_max_length: bool = False) -> ModelSide:
    """``teacher`` is a :class:`codekd.models.teacher.Teacher`.

    Offsets of a pair's second function are shifted past the first (as on the student side), so
    both sides' offsets index the same virtual text. A separately encoded pair (``pair_mode:
    separate``) hands token-level methods the two functions' token states concatenated along the
    token axis, and its pooled states are the two pooled vectors concatenated (what its head reads).
    Pooled states per layer follow the teacher's ``pooling`` ([CLS], the mean over real tokens, or the
    last real token of a decoder-only teacher). ``pad_to_max_length`` pads every batch to the
    teacher's ``max_length`` (as ``train.pad_to_max_length`` does on the student side).
    """

    def encode(codes: Sequence[tuple[str, ...]]) -> dict[str, torch.Tensor]:
        a = [c[0] for c in codes]
        b = [c[1] for c in codes] if codes and len(codes[0]) > 1 else None
        enc = teacher.encode(a, b, max_length=max_length, pad_to_max_length=pad_to_max_length)
        if b is not None:
            lens = [len(x) for x in a]
            if "offset_mapping_b" in enc:  # separate pair: the second encoding is all "second function"
                ob = enc["offset_mapping_b"]
                enc["offset_mapping_b"] = _shift_second(ob, torch.ones(ob.shape[:2], dtype=torch.long), lens)
            elif "sequence_ids" in enc:
                enc["offset_mapping"] = _shift_second(enc["offset_mapping"], enc["sequence_ids"], lens)
        return enc

    def forward(m: nn.Module, enc: dict[str, torch.Tensor], hidden: bool) -> Outputs:
        out = m(**enc)
        offsets = enc.get("offset_mapping")
        mask = out.attention_mask
        hs = out.hidden_states if hidden else None
        pool = getattr(teacher, "pool", None) or (lambda h, _m: h[:, 0])
        pooled = tuple(pool(h, mask) for h in out.hidden_states[1:]) if hidden else None
        if hidden and getattr(out, "hidden_states_b", None) is not None:
            hs = tuple(torch.cat([x, y], dim=1) for x, y in zip(out.hidden_states, out.hidden_states_b))
            pooled = tuple(torch.cat([pool(x, mask), pool(y, out.attention_mask_b)], dim=-1)
                           for x, y in zip(out.hidden_states[1:], out.hidden_states_b[1:]))
            mask = torch.cat([out.attention_mask, out.attention_mask_b], dim=1)
            if offsets is not None and enc.get("offset_mapping_b") is not None:
                offsets = torch.cat([offsets, enc["offset_mapping_b"]], dim=1)
        return Outputs(logits=out.logits, hidden_states=hs, pooled_states=pooled, attention_mask=mask, offsets=offsets)

    return ModelSide("teacher", teacher, encode, forward)
