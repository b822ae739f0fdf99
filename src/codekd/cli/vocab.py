"""`codekd vocab ...`: student vocabularies."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import console

app = typer.Typer(no_args_is_help=True)


@app.command("train")
def train(
    data: Path = typer.Option(..., "--data", "-d", help="Dataset folder."),
    task: str = typer.Option(..., "--task", "-t", help="Task name."),
    size: int = typer.Option(..., "--size", "-n", help="Vocabulary size (paper: 1000, 2000, 5000, 20000, 50000)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output tokenizer folder."),
    min_frequency: int = typer.Option(2, help="Minimum pair frequency for a merge."),
    max_length: int = typer.Option(512, help="model_max_length written into the tokenizer."),
    normalization: str = typer.Option("whitespace", help="whitespace | structure | none, optionally :hole=N or :try=N (as the student will see the code)."),
    fraction: Optional[float] = typer.Option(None, help="Seeded subsample of the training split."),
    seed: int = typer.Option(0, help="Seed for --fraction."),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="Skip bad lines (reported) instead of stopping."),
) -> None:
    """Train a byte-level BPE vocabulary on the training split only; saves a Hugging Face tokenizer folder."""
    from ..vocab import train_vocab

    meta = train_vocab(data, task, size, out, min_frequency=min_frequency, max_length=max_length,
                       normalization=normalization, fraction=fraction, seed=seed, skip_bad=skip_bad)
    console.print(f"wrote {out}: {meta['vocab_size']} tokens from {meta['train_functions']} training functions "
                  f"in {meta['seconds']} s (max length {meta['model_max_length']}, {meta['normalization']} normalisation)")
    if "warning" in meta:
        console.print(f"[yellow]warning:[/] {meta['warning']}")
