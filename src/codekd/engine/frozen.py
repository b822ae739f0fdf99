"""Teacher fine-tuning with a frozen bottom: the embeddings and the first ``k`` layers are frozen and
run once per function; their output is kept and replayed in later epochs and evaluations.

With dropout off in the frozen part (it is run in eval mode) the replayed states are exactly what
the frozen layers would compute again, so this is the same model as "freeze the bottom k layers",
only cheaper: after the first pass each step runs (and back-propagates through) the top
``L - k`` layers only. The states are stored per function (real tokens only, no padding) in the
training precision's storage type, keyed by the normalised code, so train, validation and test functions are each computed once (exact in fp32;
under bf16 autocast the stored states are rounded to bfloat16, as the next layer's matmuls would round them). Memory:
``sum(tokens) x hidden x bytes`` (e.g. 20k functions x 80 tokens x 384 x 2 B = 1.2 GB); the
run's ``metrics.json`` records the real figure (``frozen_prefix``).

Works for BERT-style encoders with codekd's head (``model.encoder.layer``: BERT, RoBERTa, MiniLM,
UniXcoder with ``pooling: mean`` or a bare encoder); single functions or joint pairs.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator, Sequence

import torch
from torch import nn

from ..errors import ConfigError
from ..methods.base import Outputs
from .sides import ModelSide

KEY_SEP = "\x00"


def _layers(teacher: Any) -> nn.ModuleList:
    enc = getattr(teacher.model, "encoder", None)
    layers = getattr(enc, "layer", None)
    if not isinstance(layers, nn.ModuleList) or getattr(teacher.model, "embeddings", None) is None:
        raise ConfigError(f"teacher.freeze_layers needs a BERT-style encoder (embeddings + encoder.layer); "
                          f"{teacher.config.model_type} has another layout")
    return layers


def check_freezable(teacher: Any, k: int) -> None:
    """Refuse, before any work, a teacher or ``k`` that the frozen-prefix replay cannot serve."""
    if teacher.head is None:
        raise ConfigError("teacher.freeze_layers needs codekd's own head (pooling 'mean', or a bare encoder); "
                          "this teacher uses a Hugging Face classifier")
    if teacher.separate:
        raise ConfigError("teacher.freeze_layers does not support separately encoded pairs (pair_mode: separate)")
    if getattr(teacher, "unixcoder", False):
        raise ConfigError("teacher.freeze_layers does not support UniXcoder's prefix encoding")
    n = len(_layers(teacher))
    if not 0 < k < n:
        raise ConfigError(f"teacher.freeze_layers must be between 1 and {n - 1} for this {n}-layer teacher, got {k}")


def freeze_bottom(teacher: Any, k: int) -> int:
    """``requires_grad_(False)`` on the embeddings and layers ``0..k-1``; returns the frozen parameter count."""
    check_freezable(teacher, k)
    frozen = [teacher.model.embeddings, *_layers(teacher)[:k]]
    n = 0
    for mod in frozen:
        for p in mod.parameters():
            p.requires_grad_(False)
            n += p.numel()
    return n


class PrefixStore:
    """Frozen-prefix states per function, computed on first sight."""

    def __init__(self, k: int):
        self.k = k
        self.bypass = False  # while True (a speed probe): compute every prefix, store nothing
        self.rows: dict[str, torch.Tensor] = {}
        self.stats: dict[str, Any] = {"layers": k, "functions": 0, "tokens": 0, "bytes": 0, "computed_batches": 0,
                                      "replayed_rows": 0}

    def states(self, teacher: Any, enc: dict[str, torch.Tensor], keys: Sequence[str]) -> torch.Tensor:
        """Padded ``[B, T, H]`` output of the frozen prefix for this batch (zeros at padding)."""
        mask = enc["attention_mask"]
        if self.bypass:
            return self._compute(teacher, enc) * mask.unsqueeze(-1).to(torch.float32)
        lens = mask.sum(1).tolist()
        missing = [i for i, key in enumerate(keys) if key not in self.rows]
        if missing:
            computed = self._compute(teacher, enc)
            low = torch.is_autocast_enabled("cpu") or torch.is_autocast_enabled("cuda")
            dtype = torch.bfloat16 if low else torch.float32  # under bf16 autocast the next matmul rounds to bf16 anyway
            for i in missing:
                row = computed[i, : int(lens[i])].detach().to(dtype).clone()
                self.rows[keys[i]] = row
                self.stats["functions"] += 1
                self.stats["tokens"] += row.shape[0]
                self.stats["bytes"] += row.numel() * row.element_size()
            self.stats["computed_batches"] += 1
        self.stats["replayed_rows"] += len(keys) - len(missing)
        rows = [self.rows[key] for key in keys]
        width = mask.shape[1]
        out = rows[0].new_zeros((len(rows), width, rows[0].shape[-1]))
        for i, r in enumerate(rows):
            out[i, : r.shape[0]] = r
        return out

    @contextmanager
    def probing(self) -> Iterator[None]:
        """A speed probe times the first epoch's cost (prefix computed) and leaves the store untouched."""
        self.bypass = True
        try:
            yield
        finally:
            self.bypass = False

    @torch.no_grad()
    def _compute(self, teacher: Any, enc: dict[str, torch.Tensor]) -> torch.Tensor:
        from transformers.masking_utils import create_bidirectional_mask

        model = teacher.model
        frozen = [model.embeddings, *_layers(teacher)[: self.k]]
        modes = [m.training for m in frozen]
        for m in frozen:
            m.eval()  # dropout off: the replayed states are exactly what these layers compute
        try:
            kwargs: dict[str, Any] = {"input_ids": enc["input_ids"]}
            if enc.get("token_type_ids") is not None:  # the teacher's encoder only emits them where accepted
                kwargs["token_type_ids"] = enc["token_type_ids"]
            h = model.embeddings(**kwargs)
            attn = create_bidirectional_mask(config=model.config, inputs_embeds=h, attention_mask=enc["attention_mask"])
            for layer in _layers(teacher)[: self.k]:
                h = layer(h, attn)
        finally:
            for m, was in zip(frozen, modes):
                m.train(was)
        return h


def frozen_prefix_side(teacher: Any, k: int, *, max_length: int | None = None) -> tuple[ModelSide, PrefixStore]:
    """A :class:`ModelSide` for fine-tuning ``teacher`` with its bottom ``k`` layers frozen and replayed.

    The side's forward accepts any :class:`~codekd.models.teacher.Teacher` whose frozen part equals
    this one's (the trained model, or its best checkpoint reloaded for the test split).
    """
    from transformers.masking_utils import create_bidirectional_mask

    check_freezable(teacher, k)
    store = PrefixStore(k)

    def encode(codes: Sequence[tuple[str, ...]]) -> dict[str, Any]:
        a = [c[0] for c in codes]
        b = [c[1] for c in codes] if codes and len(codes[0]) > 1 else None
        enc = teacher.encode(a, b, max_length=max_length)
        enc["prefix_keys"] = [KEY_SEP.join(c) for c in codes]
        return enc

    def forward(m: nn.Module, enc: dict[str, Any], hidden: bool) -> Outputs:
        if hidden:
            raise ConfigError("a frozen-prefix teacher side gives logits only (teacher fine-tuning)")
        mask = enc["attention_mask"]
        h = store.states(m, enc, enc["prefix_keys"]).float()
        attn = create_bidirectional_mask(config=m.model.config, inputs_embeds=h, attention_mask=mask)
        for layer in _layers(m)[k:]:
            h = layer(h, attn)
        logits = m.head(m.pool(h, mask))
        return Outputs(logits=logits, attention_mask=mask, offsets=enc.get("offset_mapping"))

    return ModelSide("teacher", teacher, encode, forward), store


__all__ = ["PrefixStore", "check_freezable", "freeze_bottom", "frozen_prefix_side"]
