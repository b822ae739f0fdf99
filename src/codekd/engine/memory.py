"""Memory a live-teacher distillation run will take, estimated before it starts.

A big teacher (a fine-tuned code LLM) is what makes a live run run out of memory: its weights, the
per-layer token states a feature method keeps for the whole step, one layer's attention and FFN
activations at a time (inference, no grad), and for CKD the relation tensors of the loss. The
estimate is analytic (shapes x bytes) except the CKD loss term, which is scaled from a measured
point (``benchmarks/RESULTS-ckd-memory.md``: 875 MiB of extra peak RSS for batch 16 x 512 tokens,
five mapped layer pairs, window 10). It is a planning figure (rounded, allocator overheads left out),
printed by ``codekd distill`` and compared with the memory the device has free.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch

CKD_MEASURED_BYTES = 875 * 2 ** 20  # extra peak RSS of the CKD loss, benchmarks/RESULTS-ckd-memory.md
CKD_MEASURED = {"batch": 16, "tokens": 512, "pairs": 5, "slots": 21}  # the point it was measured at
ADAM_BYTES_PER_PARAM = 16  # fp32 weight + gradient + AdamW's two moments


@dataclass(frozen=True)
class MemoryEstimate:
    teacher_weights: int
    teacher_states: int
    teacher_layer_peak: int
    student: int
    loss: int

    @property
    def total(self) -> int:
        return self.teacher_weights + self.teacher_states + self.teacher_layer_peak + self.student + self.loss

    def describe(self) -> str:
        gb = lambda b: f"{b / 1e9:.2f} GB"  # noqa: E731
        parts = [f"teacher weights {gb(self.teacher_weights)}", f"teacher states per batch {gb(self.teacher_states)}",
                 f"teacher layer peak {gb(self.teacher_layer_peak)}", f"student + optimizer {gb(self.student)}"]
        if self.loss:
            parts.append(f"CKD relations {gb(self.loss)}")
        return f"about {gb(self.total)} (" + ", ".join(parts) + ")"


def estimate_live_memory(*, teacher_weight_bytes: int, teacher_layers: int, teacher_hidden: int,
                         teacher_heads: int, teacher_ffn: int, act_bytes: int, batch: int, tokens: int,
                         student_params: int, keeps_states: bool, ckd_pairs: int = 0,
                         ckd_window: int = 10) -> MemoryEstimate:
    """``tokens``: the padded batch width (``train.max_length`` is the bound); ``act_bytes``: 2 for a
    bf16/fp16 teacher or autocast, else 4; ``keeps_states``: the method reads hidden or pooled states
    (all ``teacher_layers + 1`` token-state tensors live until the loss); ``ckd_pairs``: mapped layer
    pairs of a CKD run (0 for other methods)."""
    bl = batch * tokens
    states = (teacher_layers + 1 if keeps_states else 2) * bl * teacher_hidden * act_bytes
    # one layer at a time: attention scores + probabilities, and the FFN's inner activation
    layer_peak = (2 * batch * teacher_heads * tokens * tokens + bl * teacher_ffn) * act_bytes
    student = student_params * ADAM_BYTES_PER_PARAM
    loss = 0
    if ckd_pairs:
        slots = min(2 * ckd_window + 1, tokens)
        m = CKD_MEASURED
        # the loss works one layer pair at a time; its tensors grow with batch x tokens x slots^2
        loss = int(CKD_MEASURED_BYTES * bl / (m["batch"] * m["tokens"]) * (slots / m["slots"]) ** 2)
    return MemoryEstimate(int(teacher_weight_bytes), int(states), int(layer_peak), int(student), loss)


def free_memory(device: torch.device) -> int | None:
    """Bytes free on ``device``: ``torch.cuda.mem_get_info`` on a GPU, ``MemAvailable`` on Linux."""
    if device.type == "cuda":
        try:
            return int(torch.cuda.mem_get_info(device)[0])
        except Exception:  # pragma: no cover - GPU only
            return None
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def teacher_memory_estimate(teacher: Any, *, batch: int, tokens: int, student_params: int, keeps_states: bool,
                            autocast_half: bool, ckd_pairs: int = 0, ckd_window: int = 10) -> MemoryEstimate:
    """:func:`estimate_live_memory` for a loaded :class:`~codekd.models.teacher.Teacher`."""
    cfg = teacher.config
    weights = sum(p.numel() * p.element_size() for p in teacher.parameters())
    half = autocast_half or next(teacher.parameters()).dtype in (torch.bfloat16, torch.float16)
    hidden = int(cfg.hidden_size)
    heads = int(getattr(cfg, "num_attention_heads", None) or max(1, hidden // 64))
    ffn = int(getattr(cfg, "intermediate_size", None) or 4 * hidden)
    return estimate_live_memory(teacher_weight_bytes=weights, teacher_layers=teacher.num_layers, teacher_hidden=hidden,
                                teacher_heads=heads, teacher_ffn=ffn, act_bytes=2 if half else 4, batch=batch,
                                tokens=min(tokens, teacher.max_length), student_params=student_params,
                                keeps_states=keeps_states, ckd_pairs=ckd_pairs, ckd_window=ckd_window)


__all__ = ["MemoryEstimate", "estimate_live_memory", "free_memory", "teacher_memory_estimate"]
