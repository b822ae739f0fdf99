"""The builders' progress bar over a list of steps (rich, on stderr)."""

from __future__ import annotations

from typing import Iterator, Sequence, TypeVar

__all__ = ["track"]

T = TypeVar("T")


def track(items: Sequence[T], what: str, enabled: bool) -> Iterator[T]:
    """Yield ``items``, with a progress bar titled ``what`` on stderr when ``enabled``."""
    if not enabled:
        yield from items
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn(what), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=False) as bar:
        job = bar.add_task(what, total=len(items))
        for it in items:
            yield it
            bar.advance(job)
