"""Caching without length bucketing and with the paper's fixed padding: the same outputs as the
default (bucketed, padded per batch), only wider batches (issue 17, item 4)."""

from __future__ import annotations

import numpy as np
from safetensors.numpy import load_file

from codekd.engine.teacher_cache import build_teacher_cache


def test_cache_without_bucketing_and_padded_equals_the_default(bert_teacher, exc_data, tmp_path):
    a = build_teacher_cache(bert_teacher, exc_data, "exception", tmp_path / "a", progress=False, max_length=64)
    b = build_teacher_cache(bert_teacher, exc_data, "exception", tmp_path / "b", progress=False, max_length=64,
                            bucket=False, pad_to_max_length=True)
    assert a["fingerprint"] == b["fingerprint"]  # the padding is not part of what the cache holds
    la, lb = load_file(str(tmp_path / "a" / "train.safetensors")), load_file(str(tmp_path / "b" / "train.safetensors"))
    assert np.abs(la["logits"] - lb["logits"]).max() < 1e-4
