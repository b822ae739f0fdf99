"""CLI groups for models (students, teachers). Filled in by the models module."""

from __future__ import annotations

import typer

from . import students


def register(app: typer.Typer) -> None:
    """Attach the model-related sub-apps (students, teacher) to the main app."""
    app.add_typer(students.app, name="students", help="Student presets, custom sizes, parameter and FLOP calculator.")
