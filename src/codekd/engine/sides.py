"""The engine's view of a model, :class:`ModelSide`, its adapters and the prediction passes.

A :class:`ModelSide` is a model with its encoder (codes -> tensors) and how to read its outputs;
:func:`predict_outputs` / :func:`predict_logits` run one over a split (the training loop's
evaluation, the teacher cache, the evaluation commands).

A student side encodes with the student's own tokenizer; a teacher side with the teacher's
(UniXcoder prefix, pair mode). Both return :class:`~codekd.methods.base.Outputs` with logits, and
on request the per-layer token states, the per-layer pooled states ([CLS] for transformers, the
final states of both directions for the BiGRU), the attention mask and the character offsets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

from ..data.loaders import Split
from ..errors import ConfigError
from ..methods.base import Outputs
from ..models.hf import position_limit
from .batching import Collator, TextEncoder, eval_batches, to_device
from .dist import gather_objects


@dataclass
class ModelSide:
    """A model the engine runs: its encoder (codes -> tensors) and how to read its outputs.

    ``forward(model, encoding, hidden)`` returns :class:`~codekd.methods.base.Outputs`; ``hidden``
    asks for per-layer states (feature methods).
    """

    name: str
    model: nn.Module
    encode: Callable[[list[tuple[str, ...]]], dict[str, torch.Tensor]]
    forward: Callable[[nn.Module, dict[str, torch.Tensor], bool], Outputs]


def _position_limit(model: nn.Module) -> int | None:
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


@torch.no_grad()
def predict_logits(side: ModelSide, model: nn.Module, split: Split, normalization: str, batch_size: int,
                   device: torch.device, *, lengths: np.ndarray | None = None, progress: Any = None,
                   max_examples: int | None = None, shard: tuple[int, int] | None = None) -> np.ndarray:
    """Logits for every row of ``split`` (row order), with the model in eval mode.

    With ``shard=(rank, world)`` this process computes every ``world``-th evaluation batch only and
    the rows of all processes are gathered (each row exactly once; no padding rows, so nothing is
    counted twice); every process gets the whole array."""
    if shard is None or shard[1] <= 1:
        return predict_outputs(side, model, split, normalization, batch_size, device, lengths=lengths,
                               progress=progress, max_examples=max_examples)[0]
    rank, world = shard
    n = len(split) if max_examples is None else min(len(split), max_examples)
    mine = [i for b in eval_batches(n, batch_size, None if lengths is None else lengths[:n])[rank::world] for i in b]
    local = predict_outputs(side, model, split, normalization, batch_size, device, lengths=lengths,
                            progress=progress, max_examples=max_examples, shard=shard)[0]
    parts = gather_objects((mine, local[mine] if mine else None))
    width = next(p[1].shape[1] for p in parts if p[1] is not None)
    out = np.zeros((n, width), dtype=np.float32)
    seen = np.zeros(n, dtype=np.int64)
    for rows, vals in parts:
        if rows:
            out[rows] = vals
            seen[rows] += 1
    if not (seen == 1).all():  # a bug, never a metric: every row exactly once
        raise RuntimeError(f"gathered predictions cover rows {int((seen == 0).sum())} times zero and "
                           f"{int((seen > 1).sum())} times more than once")
    return out


def predict_outputs(side: ModelSide, model: nn.Module, split: Split, normalization: str, batch_size: int,
                    device: torch.device, *, lengths: np.ndarray | None = None, progress: Any = None,
                    max_examples: int | None = None, pooled: bool = False,
                    token_layers: tuple[int, ...] = (), shard: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray | None, dict[str, np.ndarray] | None]:
    """Logits ``[N, C]`` for every row of ``split`` (row order); with ``pooled`` the pooled state
    after each layer ``[N, L, H]`` (else None); with ``token_layers`` the token states of those
    layers, ragged (``tokens_ptr`` [N+1] row pointers into ``tokens_offsets`` [S, 2] and one
    ``tokens_L<l>`` [S, H] float16 array per layer; real tokens only, special tokens included).
    The model runs in eval mode without gradients."""
    was_training = model.training
    model.eval()
    n = len(split) if max_examples is None else min(len(split), max_examples)
    out = np.zeros((n, 0), dtype=np.float32)
    states: np.ndarray | None = None
    coll = Collator(split, normalization, {"x": side.encode})
    batches = eval_batches(n, batch_size, None if lengths is None else lengths[:n])
    if shard is not None:  # this process's share (the other rows stay zero)
        batches = batches[shard[0]::shard[1]]
    task_id = progress.add_task(f"eval {split.name}", total=n, info="") if progress is not None else None
    rows_tokens: list[Any] = [None] * n if token_layers else []
    with torch.no_grad():
        for idxs in batches:
            b = to_device(coll(idxs), device)
            o = side.forward(model, b["x"], pooled or bool(token_layers))
            if token_layers:
                if o.offsets is None or o.attention_mask is None:
                    raise ConfigError("caching token states needs the model's offsets and attention mask")
                lens = o.attention_mask.sum(1).tolist()
                offs = o.offsets.cpu().numpy().astype(np.int32)
                layers = [o.hidden_states[layer].to(torch.float16).cpu().numpy() for layer in token_layers]
                for k, i in enumerate(idxs):
                    t = int(lens[k])  # right padding: the real tokens come first
                    rows_tokens[i] = (offs[k, :t], [h[k, :t] for h in layers])
            logits = o.logits.float().cpu().numpy()
            if out.shape[1] == 0:
                out = np.zeros((n, logits.shape[1]), dtype=np.float32)
            out[idxs] = logits
            if pooled:
                if o.pooled_states is None:
                    raise ConfigError("this model gives no pooled per-layer states")
                st = torch.stack([p.float() for p in o.pooled_states], dim=1).cpu().numpy()
                if states is None:
                    states = np.zeros((n, *st.shape[1:]), dtype=np.float32)
                states[idxs] = st
            if task_id is not None:
                progress.advance(task_id, len(idxs))
    if task_id is not None:
        progress.remove_task(task_id)
    model.train(was_training)
    tokens = None
    if token_layers:
        lens = np.array([len(r[0]) for r in rows_tokens], dtype=np.int64)
        tokens = {"tokens_ptr": np.concatenate([[0], np.cumsum(lens)]).astype(np.int64),
                  "tokens_offsets": np.concatenate([r[0] for r in rows_tokens]).astype(np.int32)}
        for j, layer in enumerate(token_layers):
            tokens[f"tokens_L{layer}"] = np.concatenate([r[1][j] for r in rows_tokens]).astype(np.float16)
    return out, states, tokens


__all__ = ["ModelSide", "predict_logits", "predict_outputs", "student_side", "teacher_side"]
