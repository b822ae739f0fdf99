"""Measured speed: the precision choice (``mixed_precision: auto``) and the step plan of a time budget.

Nothing here is assumed from the hardware's name. ``auto`` on a CPU looks for bf16 instructions
(``avx512_bf16`` / ``amx_bf16`` in ``/proc/cpuinfo``) and, where they exist, times the run's own
forward + backward on one real batch in fp32 and under bf16 autocast (interleaved, after a warm-up
of each); bf16 is chosen only when it is at least :data:`BF16_MIN_GAIN` times faster. On one 2-core
machine bf16 was slower than fp32 (no AMX); on a Sapphire-Rapids-class CPU with AMX it was 1.9x
faster (benchmarks/RESULTS-teacher.md).

A time budget (``train.minutes``) becomes a number of optimizer steps: the probe gives a first
estimate, and the plan is remade from measured seconds per step (and the measured cost of a
validation pass) 20 steps into every epoch and after every validation, so the linear LR schedule
ends where the time does.
"""

from __future__ import annotations

import math
import statistics
import time
from pathlib import Path
from typing import Any, Callable

import torch

BF16_MIN_GAIN = 1.1
BF16_FLAGS = ("amx_bf16", "avx512_bf16")


def cpu_flags(path: str | Path = "/proc/cpuinfo") -> set[str]:
    """The CPU feature flags the kernel reports (empty where it does not, e.g. not Linux)."""
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def cpu_model(path: str | Path = "/proc/cpuinfo") -> str:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or "unknown CPU"


def time_step(step: Callable[[bool], None], *, rounds: int = 2) -> dict[str, Any]:
    """Wall seconds of ``step(bf16)`` for fp32 and bf16: one warm-up each, then ``rounds`` rotated pairs."""
    step(False)
    step(True)
    times: dict[bool, list[float]] = {False: [], True: []}
    for r in range(rounds):
        for bf16 in ((False, True) if r % 2 == 0 else (True, False)):
            t = time.perf_counter()
            step(bf16)
            times[bf16].append(time.perf_counter() - t)
    return {"fp32_s": statistics.median(times[False]), "bf16_s": statistics.median(times[True]),
            "fp32_runs": times[False], "bf16_runs": times[True]}


def probe_step(trainable: torch.nn.Module, batch: dict[str, Any], needs_hidden: bool) -> Callable[[bool], None]:
    """One forward + backward of ``trainable`` on ``batch`` (no optimizer step; gradients cleared after)."""

    def step(bf16: bool) -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = trainable(batch["student"], needs_hidden)
        out.logits.float().logsumexp(-1).mean().backward()
        for p in trainable.parameters():
            p.grad = None

    return step


def choose_precision(requested: str, *, cuda: bool, step: Callable[[bool], None] | None,
                     flags: set[str] | None = None) -> tuple[str, dict[str, Any]]:
    """Resolve ``auto`` to ``no`` / ``bf16`` / ``fp16``; returns the choice and why (for the log)."""
    if requested != "auto":
        return requested, {"requested": requested}
    if cuda:
        ok = torch.cuda.is_bf16_supported()
        return ("bf16" if ok else "fp16"), {"requested": "auto", "device": "cuda", "bf16_supported": ok}
    flags = cpu_flags() if flags is None else flags
    have = sorted(f for f in BF16_FLAGS if f in flags)
    info: dict[str, Any] = {"requested": "auto", "device": "cpu", "cpu": cpu_model(), "bf16_flags": have}
    if not have or step is None:
        return "no", {**info, "reason": "no bf16 instructions" if not have else "no probe"}
    rng = torch.random.get_rng_state()
    try:
        t = time_step(step)
    finally:
        torch.random.set_rng_state(rng)
    gain = t["fp32_s"] / max(t["bf16_s"], 1e-9)
    info.update(probe=t, bf16_speedup=round(gain, 3))
    choice = "bf16" if gain >= BF16_MIN_GAIN else "no"
    info["reason"] = f"bf16 {gain:.2f}x fp32 on a real batch ({'>=' if choice == 'bf16' else '<'} {BF16_MIN_GAIN})"
    return choice, info


def plan_steps(*, budget_s: float, elapsed_s: float, done_steps: int, step_s: float, eval_s: float,
               steps_per_epoch: int, max_steps: int, test_s: float = 0.0) -> int:
    """Total optimizer steps that fit: ``(T - done) x step_s + evals(T) x eval_s + test_s <= budget - elapsed``.

    ``evals(T)`` counts the validations still to come (one per epoch end, the last partial epoch
    included). The result is between ``done_steps`` and ``max_steps``.
    """
    remaining = budget_s - elapsed_s - test_s
    if remaining <= 0 or step_s <= 0:
        return max(done_steps, 1) if done_steps == 0 else done_steps
    done_epochs = done_steps // steps_per_epoch

    def evals(total: int) -> int:
        return max(0, math.ceil(total / steps_per_epoch) - done_epochs)

    total = done_steps + int(remaining / step_s)
    for _ in range(8):
        nxt = done_steps + int(max(0.0, remaining - evals(total) * eval_s) / step_s)
        if nxt == total:
            break
        total = nxt
    while total > done_steps and (total - done_steps) * step_s + evals(total) * eval_s > remaining:
        total -= 1
    return int(min(max(total, done_steps, 1), max_steps))


__all__ = ["BF16_MIN_GAIN", "choose_precision", "cpu_flags", "cpu_model", "plan_steps", "probe_step", "time_step"]
