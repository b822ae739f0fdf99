"""`codekd demo`: the main job end to end (see :mod:`codekd.demo`)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import console


def demo_cmd(
    out: Path = typer.Option(Path("runs/demo"), "--out", "-o", help="Where data, runs and the report go."),
    quick: bool = typer.Option(False, "--quick", help="A quarter of the training data and one student (roberta-1.5m, FT and DIST) in a 9.5-minute budget."),
    minutes: Optional[float] = typer.Option(None, "--minutes", min=1.0, help="Budget in minutes for the whole demo "
                                            "(default 40; --quick 9.5): a speed probe sizes the teacher's steps, the "
                                            "students' epochs and which methods fit."),
) -> None:
    """Run the main job in a budget of minutes: data, baseline, teacher, students, benchmark, report (resumable).

    Builds the pinned exception dataset (PyPI; falls back to this Python's own code), scores a
    TF-IDF baseline, measures this machine, fine-tunes the offline MiniLM teacher, distils the
    1.5M students through studies/offline.yaml, benchmarks them against the teacher and writes the
    report with the verdicts. Re-run the same command to continue.
    """
    from ..demo import run_demo  # loads torch, transformers and the engine: only when the demo runs

    run_demo(out, quick=quick, minutes=minutes, say=lambda text: console.print(text, markup=False))
