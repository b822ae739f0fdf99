"""Training flushes subnormal floats to zero (they made BiGRU steps at 256+ tokens ~7x slower on a
CPU) and gives the process its default back afterwards; train.flush_denormal=false keeps them."""

from __future__ import annotations

import torch

from codekd.engine import trainer

TINY = torch.tensor([1e-39])  # a float32 subnormal


def _subnormals_kept() -> bool:
    return float((TINY * 1.0).item()) != 0.0


class _Job:
    def __init__(self, flush):
        self.cfg = type("C", (), {"train": type("T", (), {"flush_denormal": flush})()})()


def test_training_flushes_and_restores(monkeypatch):
    seen = {}

    def fake(job, **_kw):
        seen["kept"] = _subnormals_kept()
        return {}

    monkeypatch.setattr(trainer, "_run_training", fake)
    assert _subnormals_kept()
    if not torch.set_flush_denormal(False):  # pragma: no cover - a CPU without FTZ/DAZ
        return
    trainer.run_training(_Job(None))
    assert seen["kept"] is False and _subnormals_kept()
    trainer.run_training(_Job(False))
    assert seen["kept"] is True and _subnormals_kept()
