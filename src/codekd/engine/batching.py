"""From a :class:`~codekd.data.Split` to padded tensor batches.

* Dynamic padding: each batch is padded to its own longest sequence (``pad_to_max_length`` pads to
  the maximum instead, for benchmarks).
* Length bucketing: examples are shuffled (seeded per epoch), cut into pools of 50 batches, sorted by
  length inside each pool, split into batches, and the batches shuffled again. The length proxy is
  the normalised character length, so no tokenisation pass over the data is needed.
* The order of batches is a pure function of ``(seed, epoch)``: a resumed run skips exactly the
  batches it had already done.
* Tokenisation happens in the collate step with fast tokenizers, on the normalised code, so teacher
  and student see the same string and their character offsets refer to the same text.
"""

from __future__ import annotations

import dataclasses

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch

from ..data.loaders import Split
from ..data.normalize import normalize_code

POOL_BATCHES = 50


def code_lengths(split: Split, normalization: str = "whitespace", chunk: int = 5000) -> np.ndarray:
    """Normalised character length of each row (sum over both sides for pairs)."""
    out = np.zeros(len(split), dtype=np.int64)
    for start in range(0, len(split), chunk):
        stop = min(start + chunk, len(split))
        for i, tup in enumerate(split.codes(range(start, stop))):
            out[start + i] = sum(len(normalize_code(c, normalization)) for c in tup)
    return out


def epoch_batches(n: int, batch_size: int, *, seed: int, epoch: int, lengths: np.ndarray | None = None,
                  bucket: bool = True, shuffle: bool = True) -> list[list[int]]:
    """The batches (lists of row indices) of one epoch; deterministic in ``(seed, epoch)``."""
    idx = np.arange(n)
    rng = np.random.default_rng([seed, epoch])
    if shuffle:
        idx = rng.permutation(n)
    if not bucket or lengths is None:
        return [idx[i:i + batch_size].tolist() for i in range(0, n, batch_size)]
    pool = batch_size * POOL_BATCHES
    batches: list[list[int]] = []
    for p in range(0, n, pool):
        chunk = idx[p:p + pool]
        chunk = chunk[np.argsort(-lengths[chunk], kind="stable")]
        batches.extend(chunk[i:i + batch_size].tolist() for i in range(0, len(chunk), batch_size))
    if shuffle:
        order = rng.permutation(len(batches))
        batches = [batches[i] for i in order]
    return batches


def eval_batches(n: int, batch_size: int, lengths: np.ndarray | None = None) -> list[list[int]]:
    """Evaluation batches: sorted by length (less padding), every row exactly once."""
    idx = np.arange(n) if lengths is None else np.argsort(-lengths, kind="stable")
    return [idx[i:i + batch_size].tolist() for i in range(0, n, batch_size)]


@dataclass
class TextEncoder:
    """Encodes normalised code with a Hugging Face tokenizer (student side, or any plain classifier).

    Pairs are encoded as one text pair (``<s> a </s></s> b </s>`` for RoBERTa vocabularies).
    """

    tokenizer: Any
    max_length: int
    pad_to_max_length: bool = False
    with_offsets: bool = False

    def __call__(self, codes: Sequence[tuple[str, ...]]) -> dict[str, torch.Tensor]:
        first = [c[0] for c in codes]
        second = [c[1] for c in codes] if codes and len(codes[0]) > 1 else None
        enc = self.tokenizer(first, second, truncation=True, max_length=self.max_length,
                             padding="max_length" if self.pad_to_max_length else "longest",
                             return_offsets_mapping=self.with_offsets, return_tensors="pt")
        keep = {"input_ids", "attention_mask", "offset_mapping"}
        return {k: v for k, v in enc.items() if k in keep}


@dataclass
class Collator:
    """Builds one batch dict: ``index``, ``labels`` and one encoding per side (``student``, ``teacher``)."""

    split: Split
    normalization: str
    encoders: dict[str, Callable[[Sequence[tuple[str, ...]]], dict[str, torch.Tensor]]]

    def __call__(self, indices: Sequence[int]) -> dict[str, Any]:
        codes = [tuple(normalize_code(c, self.normalization) for c in tup) for tup in self.split.codes(indices)]
        labels = torch.as_tensor(self.split.labels[list(indices)], dtype=torch.long)
        batch: dict[str, Any] = {"index": torch.as_tensor(list(indices), dtype=torch.long), "labels": labels}
        for name, enc in self.encoders.items():
            batch[name] = enc(codes)
        return batch


def to_device(obj: Any, device: torch.device) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.to(device, non_blocking=True)
    if isinstance(obj, dict):
        return {k: to_device(v, device) for k, v in obj.items()}
    if isinstance(obj, (tuple, list)):
        return type(obj)(to_device(v, device) for v in obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.replace(obj, **{f.name: to_device(getattr(obj, f.name), device)
                                           for f in dataclasses.fields(obj)})
    return obj
