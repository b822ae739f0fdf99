"""`codekd demo`: the main job end to end (see :mod:`codekd.demo`)."""

from __future__ import annotations

from pathlib import Path

import typer

from .common import console


def demo_cmd(
    out: Path = typer.Option(Path("runs/demo"), "--out", "-o", help="Where data, runs and the report go."),
    quick: bool = typer.Option(False, "--quick", help="A quarter of the data, FT/KD/CKD only, fewer epochs (about 6 minutes on 2 cores)."),
) -> None:
    """Run the main job: mine real code, fine-tune MiniLM, distil, benchmark, report (resumable).

    Mines the exception dataset from this Python's code, fine-tunes the offline MiniLM teacher,
    distils the students with every method through studies/offline.yaml, benchmarks them against
    the teacher and writes the paper-style report. Re-run the same command to continue.
    """
    from ..demo import run_demo

    run_demo(out, quick=quick, say=lambda text: console.print(text, markup=False))
