"""Masked-LM training on unlabeled code: adapt a general teacher to code, pre-train students.

>>> import codekd.pretrain
>>> codekd.pretrain.mlm("minilm", ["/usr/lib/python3.11"], "runs/minilm-code", minutes=5)  # doctest: +SKIP
>>> codekd.pretrain.mlm("gru-1.5m", ["data/exception"], "runs/gru-mlm", exclude_data="data/exception",
...                     steps=500)                                                           # doctest: +SKIP

See :mod:`codekd.pretrain.mlm` (the run), :mod:`codekd.pretrain.mlm_corpus` (functions from source
trees, de-duplication, the leakage guard) and :mod:`codekd.pretrain.masking` (80/10/10 masking).
"""

from __future__ import annotations

from .mlm_corpus import build_corpus, function_key
from .masking import mask_tokens
from .mlm import heldout_metrics, mlm, pretrain_config, run_pretrain

__all__ = ["build_corpus", "function_key", "heldout_metrics", "mask_tokens", "mlm", "pretrain_config",
           "run_pretrain"]
