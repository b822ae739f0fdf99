"""`codekd students ...`: presets, custom sizes, parameter / size / FLOP calculator.

Thin wrappers over :mod:`codekd.models.students` (``students_table``, ``student_row``,
``size_for_budget``, ``custom_spec``). Those are imported in the commands: importing
:mod:`codekd.models.students` imports torch and transformers (seconds), which the CLI does not
pay for at start-up.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Optional

import typer

from ..errors import ConfigError

app = typer.Typer(no_args_is_help=True)

TEACHER_HELP = ("Teacher for the ratios: unixcoder-base, codebert-base, modernbert-base, minilm, a decoder-only code "
                "LLM shape (qwen2.5-coder-0.5b/1.5b/7b, starcoder2-3b, deepseek-coder-1.3b, codellama-7b), or a model folder.")


def _console():
    from rich.console import Console

    # Never squeeze the table when the output is a pipe or a file.
    return Console() if sys.stdout.isatty() else Console(width=220)


def _fmt_int(n: Any) -> str:
    return "-" if n is None else f"{int(n):,}"


def _fmt_pct(x: Any) -> str:
    return "-" if x is None else (f"{x:.2f}" if x < 10 else f"{x:.1f}")


def print_rows(rows: list[dict[str, Any]], title: str) -> None:
    """Print students-table rows as a rich table."""
    from rich.table import Table

    table = Table()
    cols = [
        ("preset", "left"), ("family", "left"), ("vocab", "right"), ("layers", "right"), ("hidden", "right"),
        ("heads", "right"), ("FFN", "right"), ("params (built)", "right"), ("params (formula)", "right"),
        ("fp32 MB", "right"), ("fp16 MB", "right"), ("int8 MB", "right"), ("GFLOPs/ex", "right"),
        ("% teacher params", "right"), ("% teacher FLOPs", "right"),
    ]
    for name, justify in cols:
        table.add_column(name, justify=justify, no_wrap=True)
    for r in rows:
        table.add_row(
            r["preset"], r["family"], _fmt_int(r["vocab"]), str(r["layers"]), str(r["hidden"]),
            "-" if r["heads"] is None else str(r["heads"]), "-" if r["ffn"] is None else str(r["ffn"]),
            _fmt_int(r["params_built"]), _fmt_int(r["params_formula"]),
            f"{r['fp32_mb']:.2f}", f"{r['fp16_mb']:.2f}", f"{r['int8_mb']:.2f}", f"{r['gflops']:.3f}",
            _fmt_pct(r.get("pct_teacher_params")), _fmt_pct(r.get("pct_teacher_flops")),
        )
    console = _console()
    console.print(title, highlight=False, soft_wrap=True)
    console.print(table)


def _title(what: str, seq_len: int, num_labels: int, ref: Any) -> str:
    title = f"{what} (seq_len {seq_len}, {num_labels} labels"
    if ref is not None:
        flops = f", {ref.flops / 1e9:.1f} GFLOPs/ex" if ref.flops else ""
        title += f"; teacher {ref.name}: {ref.params:,} params{flops}"
    return title + "; MB = 10^6 bytes, int8 = ideal bound)"


@app.command("list")
def list_cmd(
    seq_len: int = typer.Option(512, "--seq-len", help="Sequence length for FLOPs per example."),
    num_labels: int = typer.Option(2, "--num-labels", help="Classifier labels (counted in the parameters)."),
    teacher: str = typer.Option("unixcoder-base", "--teacher", help=TEACHER_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the rows as JSON instead of a table."),
) -> None:
    """Every student preset with parameters (built and analytic), MB, GFLOPs and ratios to a teacher."""
    from ..models.students.sizing import students_table, teacher_reference

    ref = teacher_reference(teacher, seq_len=seq_len, num_labels=num_labels)
    rows = students_table(seq_len=seq_len, num_labels=num_labels, teacher=ref)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    print_rows(rows, _title("Student presets", seq_len, num_labels, ref))


@app.command("show")
def show_cmd(
    preset: str = typer.Argument(..., help="Preset name (see `codekd students list`)."),
    seq_len: int = typer.Option(512, "--seq-len"),
    num_labels: int = typer.Option(2, "--num-labels"),
    teacher: str = typer.Option("unixcoder-base", "--teacher", help=TEACHER_HELP),
) -> None:
    """Show one preset's full config and its size."""
    from ..models.students.presets import get_preset
    from ..models.students.sizing import student_row, teacher_reference

    spec = get_preset(preset)
    typer.echo(json.dumps(spec.model_dump(), indent=2))
    ref = teacher_reference(teacher, seq_len=seq_len, num_labels=num_labels)
    print_rows([student_row(spec, seq_len=seq_len, num_labels=num_labels, teacher=ref)],
               _title(spec.name, seq_len, num_labels, ref))


@app.command("size")
def size_cmd(
    budget: Optional[str] = typer.Option(None, "--budget", help="Parameter budget, e.g. 5M, 500k, 1.5m."),
    family: str = typer.Option("roberta", "--family", help="roberta or gru."),
    vocab: int = typer.Option(5000, "--vocab", help="Vocabulary size (the student tokenizer's)."),
    layers: Optional[int] = typer.Option(None, "--layers"),
    hidden: Optional[int] = typer.Option(None, "--hidden", help="Width (BiGRU: per-direction size)."),
    heads: Optional[int] = typer.Option(None, "--heads", help="RoBERTa only."),
    ffn: Optional[int] = typer.Option(None, "--ffn", help="RoBERTa only (default 4 x hidden)."),
    seq_len: int = typer.Option(512, "--seq-len"),
    num_labels: int = typer.Option(2, "--num-labels"),
    teacher: str = typer.Option("unixcoder-base", "--teacher", help=TEACHER_HELP),
) -> None:
    """Size a custom student: by --budget (searches a grid), or by --layers and --hidden (plus --heads, --ffn)."""
    from ..models.students.budget import size_for_budget
    from ..models.students.sizing import student_row, teacher_reference
    from ..models.students.spec import custom_spec

    if budget is not None:
        if any(v is not None for v in (layers, hidden, heads, ffn)):
            raise ConfigError("give either --budget or --layers/--hidden/--heads/--ffn, not both")
        spec = size_for_budget(budget, vocab_size=vocab, family=family, num_labels=num_labels)
    else:
        if layers is None or hidden is None:
            raise ConfigError("give --budget, or at least --layers and --hidden")
        spec = custom_spec(family, layers=layers, hidden=hidden, heads=heads, ffn=ffn, vocab_size=vocab)
    typer.echo(json.dumps(spec.model_dump(), indent=2))
    ref = teacher_reference(teacher, seq_len=seq_len, num_labels=num_labels)
    print_rows([student_row(spec, seq_len=seq_len, num_labels=num_labels, teacher=ref)],
               _title(spec.name, seq_len, num_labels, ref))
