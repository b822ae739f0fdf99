"""How many torch CPU threads a training run uses when ``train.num_threads`` is not set.

torch's own default is one thread per physical core, whatever else runs on the machine. On a busy
machine that is the worst choice: torch's threads spin-wait for each other at every operator, so a
thread whose core is taken by another process stalls all of them. Measured on a 2-core KVM guest
(``lscpu``: Intel(R) Xeon(R) Processor), gru-1.5m training, batch 32 x 128 tokens (examples/s, two
repeats each): alone, 1 thread 66 / 87, 2 threads 76 / 45; beside one busy process, 1 thread
31.6 / 31.1, 2 threads **1.0 / 1.3**, 24-30x slower.

So the default counts the cores this process may use (``os.sched_getaffinity``) minus the load
other processes put on them (the 1-minute ``os.getloadavg`` less this process's own CPU seconds per
second of life, rounded), at least 1; and a small model (under
:data:`SMALL_MODEL_PARAMS` trainable parameters, every student preset up to 1.5M) gets 1 thread,
where the second thread gained nothing even alone. ``train.num_threads`` overrides it.
"""

from __future__ import annotations

import math
import os

#: below this many trainable parameters a run uses one CPU thread by default
SMALL_MODEL_PARAMS = 5_000_000


def usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def load_average() -> float | None:
    try:
        return float(os.getloadavg()[0])
    except (AttributeError, OSError):
        return None


def own_load() -> float:
    """This process's share of the load average: its CPU seconds (all threads, and the children it
    waited for) per second of life, so that a run is not counted as the load that keeps it from its
    own cores (the demo's teacher starts right after stages of the same process kept the cores busy)."""
    try:
        ticks = os.sysconf("SC_CLK_TCK")
        start = int(open("/proc/self/stat").read().rsplit(")", 1)[1].split()[19]) / ticks
        uptime = float(open("/proc/uptime").read().split()[0])
        age = max(1.0, uptime - start)
    except (OSError, ValueError, IndexError, AttributeError):
        return 0.0
    t = os.times()  # this process and the children it waited for (a builder's worker processes)
    return max(0.0, (t.user + t.system + t.children_user + t.children_system) / age)


def default_threads(params: int | None = None, *, cores: int | None = None,
                    load: float | None = -1.0, own: float | None = None) -> tuple[int, str]:
    """The thread count to use and why (for the run log). ``load=-1`` reads the load average;
    ``own`` (default :func:`own_load`) is taken off it."""
    cores = usable_cores() if cores is None else cores
    if load is not None and load < 0:
        load = load_average()
        own = own_load() if own is None else own
    own = 0.0 if own is None else own
    others = None if load is None else max(0.0, load - own)
    free = cores if others is None else max(1, math.floor(cores - others + 0.5))
    free = min(free, cores)
    why = (f"{cores} usable cores, load average {'unknown' if load is None else f'{load:.2f}'}"
           f"{f' ({own:.2f} of it this process)' if own else ''}: {free} free")
    if params is not None and params < SMALL_MODEL_PARAMS and free > 1:
        return 1, f"{why}; 1 thread for a model under {SMALL_MODEL_PARAMS / 1e6:g}M parameters"
    return free, why


__all__ = ["SMALL_MODEL_PARAMS", "default_threads", "load_average", "own_load", "usable_cores"]
