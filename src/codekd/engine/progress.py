"""Progress display: rich bars on a terminal, a log line every N seconds anywhere else.

A rich progress bar draws nothing when stdout is not a terminal (a pipe, ``nohup``, a CI log, a
study's job log), so a 19-minute teacher fine-tuning printed nothing until it ended. There, as
Hugging Face's Trainer does, :class:`LineProgress` prints one line every ``every_s`` seconds
(``train.log_every_s``, default :data:`DEFAULT_EVERY_S`) with the task's position, its info field
(loss, learning rate, examples/s), the elapsed time and the ETA; a task that ran longer than
``every_s`` also gets a last line when it ends.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

DEFAULT_EVERY_S = 30.0


def fmt_seconds(s: float | None) -> str:
    if s is None or s != s or s < 0:
        return "?"
    s = int(round(s))
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


class LineProgress:
    """The subset of :class:`rich.progress.Progress` the engine uses, printing plain lines."""

    def __init__(self, every_s: float = DEFAULT_EVERY_S, stream: TextIO | None = None,
                 clock: Any = time.monotonic):
        self.every_s = float(every_s)
        self.stream = stream
        self.clock = clock
        self._tasks: dict[int, dict[str, Any]] = {}
        self._next_id = 0

    def __enter__(self) -> "LineProgress":
        return self

    def __exit__(self, *exc: Any) -> bool:
        return False

    def add_task(self, description: str, total: float | None = None, completed: float = 0, **fields: Any) -> int:
        tid = self._next_id
        self._next_id += 1
        now = self.clock()
        self._tasks[tid] = {"description": description, "total": total, "completed": completed,
                            "start_completed": completed, "t0": now, "last": now,
                            "fields": dict(fields)}
        return tid

    def update(self, task_id: int, *, completed: float | None = None, advance: float | None = None,
               total: float | None = None, description: str | None = None, **fields: Any) -> None:
        t = self._tasks.get(task_id)
        if t is None:
            return
        if completed is not None:
            t["completed"] = completed
        if advance is not None:
            t["completed"] += advance
        if total is not None:
            t["total"] = total
        if description is not None:
            t["description"] = description
        t["fields"].update(fields)
        now = self.clock()
        if now - t["last"] >= self.every_s:
            self._print(t, now)

    def advance(self, task_id: int, advance: float = 1) -> None:
        self.update(task_id, advance=advance)

    def remove_task(self, task_id: int) -> None:
        t = self._tasks.pop(task_id, None)
        now = self.clock()
        if t is not None and now - t["t0"] >= self.every_s and now > t["last"]:
            self._print(t, now)

    def line(self, t: dict[str, Any], now: float) -> str:
        done, total = t["completed"], t["total"]
        elapsed = now - t["t0"]
        rate_done = done - t["start_completed"]
        eta = (total - done) * elapsed / rate_done if total is not None and rate_done > 0 else None
        pos = f"{int(done)}/{int(total)} ({100.0 * done / total:.1f}%)" if total else f"{int(done)}"
        parts = [f"{t['description']}: {pos}"]
        info = t["fields"].get("info")
        if info:
            parts.append(str(info))
        timing = f"elapsed {fmt_seconds(elapsed)}, ETA {fmt_seconds(eta)}"
        if t["fields"].get("eta"):
            timing += f" (run {t['fields']['eta']})"
        parts.append(timing)
        return " | ".join(parts)

    def _print(self, t: dict[str, Any], now: float) -> None:
        t["last"] = now
        stream = self.stream or sys.stdout
        print(self.line(t, now), file=stream, flush=True)


def progress(enabled: bool, every_s: float | None = None, *, terminal: bool | None = None):
    """A rich progress bar on a terminal; :class:`LineProgress` elsewhere; nothing when not ``enabled``."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    if terminal is None:
        from rich import get_console

        terminal = get_console().is_terminal
    if enabled and not terminal:
        return LineProgress(DEFAULT_EVERY_S if every_s is None else every_s)
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TimeRemainingColumn(), TextColumn("{task.fields[info]}"), disable=not enabled, transient=False)


__all__ = ["DEFAULT_EVERY_S", "LineProgress", "fmt_seconds", "progress"]
