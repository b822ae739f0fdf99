"""`codekd methods ...`: what each distillation method needs, supports, and its settings."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.table import Table

from .common import console, print_json

app = typer.Typer(no_args_is_help=True)


def _fmt(d: dict[str, Any]) -> str:
    return ", ".join(f"{k}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in d.items()) or "-"


def methods_info() -> list[dict[str, Any]]:
    """``Method.info()`` of every registered method, by name."""
    from ..methods import METHODS  # the methods import torch (seconds): only in the commands that list them

    return [cls.info() for _, cls in METHODS.items()]


@app.command("list")
def list_cmd(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """List the methods: what each needs, which students and tasks it supports, defaults and paper settings."""
    infos = methods_info()
    if as_json:
        print_json([{k: v for k, v in i.items() if k != "doc"} for i in infos])
        return
    t = Table(show_lines=True)
    for col in ("method", "needs", "students", "tasks", "unlabeled", "defaults", "paper-faithful"):
        t.add_column(col, overflow="fold")
    for i in infos:
        t.add_row(f"{i['name']}\n[dim]{i['description']}[/dim]", ", ".join(i["needs"]) or "-", ", ".join(i["students"]),
                  i["tasks"], "yes" if i["unlabeled_transfer"] else "no", _fmt(i["defaults"]), _fmt(i["paper_defaults"]))
    console.print(t)


@app.command("show")
def show_cmd(name: str = typer.Argument(..., help="Method name (codekd methods list).")) -> None:
    """Show one method in full: its documentation (formula, corrected vs paper-faithful) and settings."""
    from ..methods import get_method  # (torch, as above)

    i = get_method(name).info()
    console.print(f"[bold]{i['name']}[/bold]: {i['description']}\n")
    console.print(i["doc"] + "\n")
    for key, label in (("needs", "needs"), ("students", "students"), ("tasks", "tasks"),
                       ("unlabeled_transfer", "unlabeled transfer data"), ("defaults", "defaults"),
                       ("paper_defaults", "paper-faithful")):
        v = i[key]
        console.print(f"{label}: {_fmt(v) if isinstance(v, dict) else (', '.join(v) if isinstance(v, list) else v)}")
