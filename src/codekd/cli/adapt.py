"""`codekd adapt`: your own code, the transfer path (see :mod:`codekd.adapt`)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from .common import console


def adapt_cmd(
    code: Path = typer.Argument(..., help="Folder of your Python code (each top-level folder one group of the split)."),
    out: Path = typer.Option(Path("runs/adapt"), "--out", "-o", help="Where data, teachers, students and the export go."),
    teacher: Optional[str] = typer.Option(None, "--teacher", help="A teacher fine-tuned on the public set (run or "
                                          "model folder; its label list must be the public set's). Default: "
                                          "fine-tune MiniLM here for --teacher-minutes."),
    public: Optional[Path] = typer.Option(None, "--public", help="The public dataset folder (codekd data "
                                          "build-exceptions). Default: built once into ~/.cache/codekd."),
    teacher_minutes: float = typer.Option(15.0, "--teacher-minutes", min=0.5, help="Budget of the public teacher's "
                                          "fine-tuning when no --teacher is given (CPU recipe)."),
    student: List[str] = typer.Option(["roberta-1.5m"], "--student", "-s", help="Student preset (repeatable)."),
    method: str = typer.Option("dist", "--method", "-m", help="Distillation method (codekd methods list)."),
    minutes: float = typer.Option(8.0, "--minutes", min=0.1, help="Training budget of each student."),
    continue_teacher: bool = typer.Option(True, "--continue-teacher/--no-continue-teacher", help="Also continue the "
                                          "teacher on your training split; the one better on your validation split "
                                          "is kept."),
    continue_minutes: float = typer.Option(4.0, "--continue-minutes", min=0.1, help="Budget of the continuation on "
                                           "your split (at most 3 epochs, lr 1e-4)."),
    transfer: bool = typer.Option(True, "--transfer/--no-transfer", help="Functions of your training groups that "
                                  "catch other types join the students' training data, labelled by the teacher."),
    group_by: str = typer.Option("top-dir", "--group-by", help="Split groups: top-dir (each top-level folder), file, "
                                 "or none (random by function: optimistic scores)."),
    near_threshold: float = typer.Option(0.7, "--near-threshold", min=0.01, max=1.0, help="Held-out functions "
                                         "whose token 3-gram Jaccard similarity with a public training function "
                                         "is at least this are near copies (a vendored or copied library the "
                                         "public teacher saw): removed from valid and test."),
    seed: int = typer.Option(0, "--seed", help="Split and training seed."),
    export: bool = typer.Option(True, "--export/--no-export", help="Export the best student to ONNX (OUT/export)."),
    set_: List[str] = typer.Option([], "--set", help="Override of the students' run config, e.g. "
                                   "--set train.batch_size=16 (repeatable)."),
) -> None:
    """Your own code: a teacher fine-tuned on the public set, adapted to and distilled on your code, scored on
    your held-out split against TF-IDF and the public-only teacher; the best student exported (resumable)."""
    from ..adapt import adapt, table_text  # loads torch, transformers and the engine: only when it runs

    summary = adapt(code, out, teacher=teacher, public=public, teacher_minutes=teacher_minutes, students=student,
                    method=method, minutes=minutes, continue_teacher=continue_teacher,
                    continue_minutes=continue_minutes, transfer=transfer,
                    group_by=group_by, seed=seed, export=export, student_sets=set_, near_threshold=near_threshold,
                    say=lambda text: console.print(text, markup=False))
    console.print(table_text(summary), markup=False)
    console.print(summary["verdict"], markup=False)
    console.print(f"summary: {out / 'adapt.json'}" + (f"; export: {summary['export']['folder']}"
                                                      if summary.get("export") else ""), markup=False)
