"""BERT-style masking for masked-LM training: choose ~15% of the real tokens, then 80/10/10.

Of the chosen positions, 80% become the mask token, 10% a random token (drawn uniformly from the
vocabulary's non-special ids) and 10% stay as they are; the loss is scored on every chosen position
(label = the original id; every other position is ``-100``). Special tokens (``<s>``, ``</s>``,
``[CLS]``, added structure markers are *not* special here: they are content) and padding are never
chosen.

Selection modes:

* ``token``: each real token is chosen independently with probability ``prob`` (BERT).
* ``whole_word``: each word (the tokenizer's pre-tokenised word, ``word_ids``) is chosen with
  probability ``prob``, and all of its tokens with it.
* ``span``: spans with geometric lengths (mean ``span_mean``, capped at 10 tokens, SpanBERT) are
  chosen at random starts until ``prob`` of the row's real tokens are covered; the 80/10/10 decision
  is then made per span, as SpanBERT does.

Every random draw comes from the ``generator`` passed in (the global torch generator when None), so
masking is reproducible: training uses the global generator (saved in checkpoints, so a resumed run
masks exactly as an uninterrupted one), evaluation a fixed private one.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch

IGNORE = -100
MAX_SPAN = 10


def _words_chosen(word_ids: Sequence[Sequence[int | None]], real: torch.Tensor, prob: float,
                  generator: torch.Generator | None) -> torch.Tensor:
    chosen = torch.zeros_like(real)
    for i, wids in enumerate(word_ids):
        n_words = max((w for w in wids if w is not None), default=-1) + 1
        if n_words <= 0:
            continue
        pick = torch.rand(n_words, generator=generator) < prob
        for t, w in enumerate(wids[: real.shape[1]]):
            if w is not None and real[i, t] and pick[w]:
                chosen[i, t] = True
    return chosen


def _spans_chosen(real: torch.Tensor, prob: float, span_mean: float,
                  generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
    """(chosen [B, T] bool, span id [B, T] long, -1 outside spans)."""
    chosen = torch.zeros_like(real)
    span_id = torch.full(real.shape, -1, dtype=torch.long)
    p_geo = 1.0 / max(1.0, span_mean)
    next_id = 0
    for i in range(real.shape[0]):
        pos = torch.nonzero(real[i]).flatten()
        n = int(pos.numel())
        if n == 0:
            continue
        budget = max(1, int(round(prob * n)))
        covered = 0
        tries = 0
        while covered < budget and tries < 10 * budget:
            tries += 1
            length = 1 + _geometric(p_geo, generator)
            length = min(length, MAX_SPAN, budget - covered)
            start = int(torch.randint(0, n, (1,), generator=generator))
            idx = pos[start:start + length]
            fresh = idx[~chosen[i, idx]]
            if fresh.numel() == 0:
                continue
            chosen[i, fresh] = True
            span_id[i, fresh] = next_id
            next_id += 1
            covered += int(fresh.numel())
    return chosen, span_id


def _geometric(p: float, generator: torch.Generator | None) -> int:
    """Number of failures before the first success, drawn with ``generator``."""
    u = float(torch.rand(1, generator=generator))
    return int(math.floor(math.log(max(u, 1e-12)) / math.log(1.0 - p))) if p < 1 else 0


def mask_tokens(input_ids: torch.Tensor, attention_mask: torch.Tensor, special_ids: Sequence[int], *,
                mask_id: int, vocab_size: int, prob: float = 0.15, mode: str = "token",
                word_ids: Sequence[Sequence[int | None]] | None = None, span_mean: float = 3.0,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(masked input_ids, labels)``; ``labels`` is ``-100`` wherever nothing is scored."""
    ids = input_ids.clone()
    special = torch.zeros_like(ids, dtype=torch.bool)
    for s in set(int(x) for x in special_ids):
        special |= ids == s
    real = attention_mask.bool() & ~special
    span_id = None
    if mode == "token":
        chosen = (torch.rand(ids.shape, generator=generator) < prob) & real
    elif mode == "whole_word":
        if word_ids is None:
            raise ValueError("whole-word masking needs the tokenizer's word_ids")
        chosen = _words_chosen(word_ids, real, prob, generator)
    elif mode == "span":
        chosen, span_id = _spans_chosen(real, prob, span_mean, generator)
    else:
        raise ValueError(f"unknown masking mode {mode!r} (token | whole_word | span)")
    labels = torch.where(chosen, input_ids, torch.full_like(input_ids, IGNORE))
    # the 80/10/10 decision: per token, or per span (one draw per span id)
    u = torch.rand(ids.shape, generator=generator)
    if span_id is not None and bool((span_id >= 0).any()):
        per_span = torch.rand(int(span_id.max()) + 1, generator=generator)
        u = torch.where(span_id >= 0, per_span[span_id.clamp(min=0)], u)
    to_mask = chosen & (u < 0.8)
    to_random = chosen & (u >= 0.8) & (u < 0.9)
    ids[to_mask] = mask_id
    if bool(to_random.any()):
        allowed = torch.ones(vocab_size, dtype=torch.bool)
        for s in set(int(x) for x in special_ids):
            if 0 <= s < vocab_size:
                allowed[s] = False
        pool = torch.nonzero(allowed).flatten()
        draw = torch.randint(0, int(pool.numel()), (int(to_random.sum()),), generator=generator)
        ids[to_random] = pool[draw]
    return ids, labels


__all__ = ["IGNORE", "mask_tokens"]
