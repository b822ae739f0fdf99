"""`codekd study ...` and `codekd report`.

The runner (it imports the training engine: torch, seconds) and the study file's schema are imported
in the commands, so that the CLI starts fast."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from ..errors import ConfigError, StudyFailed
from ..study.report import write_report
from .common import console, err_console

app = typer.Typer(no_args_is_help=True)

SET_HELP = "Dotted override of the study file, e.g. --set train.epochs=1 (repeatable)."


@app.command("plan")
def plan_cmd(
    file: Path = typer.Argument(..., help="Study YAML file."),
    set_: List[str] = typer.Option([], "--set", help=SET_HELP),
) -> None:
    """List the study's jobs (teachers, caches, student runs) and what is already done."""
    from ..study.runner import plan

    spec, jobs, status = plan(file, set_)
    t = Table("#", "kind", "job", "key", "status")
    for i, j in enumerate(jobs, 1):
        st = status[j.key]
        colour = {"done": "green", "failed": "red", "running": "yellow"}.get(st, "white")
        t.add_row(str(i), j.kind, j.describe(), j.key, f"[{colour}]{st}[/]")
    console.print(t)
    n_done = sum(1 for s in status.values() if s == "done")
    console.print(f"study {spec.name!r}: {len(jobs)} jobs, {n_done} done, {len(jobs) - n_done} to run")


@app.command("run")
def run_cmd(
    file: Path = typer.Argument(..., help="Study YAML file."),
    set_: List[str] = typer.Option([], "--set", help=SET_HELP),
    backend: str = typer.Option("local", help="local (one job after another) or ray."),
    address: Optional[str] = typer.Option(None, help="Ray cluster address (default: start a local instance)."),
    no_bench: bool = typer.Option(False, "--no-bench", help="Skip the efficiency benchmark stage."),
    no_retry: bool = typer.Option(False, "--no-retry", help="Do not retry jobs that failed before."),
) -> None:
    """Run or resume a study; finished jobs are skipped, failures are recorded and do not stop the rest."""
    from ..study.runner import run_study

    res = run_study(file, overrides=set_, backend=backend, address=address, bench=False if no_bench else None,
                    retry_failed=not no_retry)
    console.print(f"{res['jobs']} jobs: {res['done']} done ({res['skipped']} already finished), "
                  f"{res['failed']} failed; database {res['db']}")
    failures = res.get("failures") or []
    for f in failures:
        err_console.print(f"failed: {f['job']} [{f['key']}]: {f['reason']}", markup=False, highlight=False,
                          soft_wrap=True)
    if failures:
        code = 2 if all(f["exit_code"] == 2 for f in failures) else 1
        raise StudyFailed(f"{len(failures)} of {res['jobs']} jobs failed (reasons above; tracebacks in the database)",
                          exit_code=code, path=res["db"])


def report_cmd(
    source: Path = typer.Argument(..., help="Study YAML file or its study.sqlite database."),
    out: Path = typer.Option(..., "--out", "-o", help="Report folder (Markdown, CSV, PNG)."),
    set_: List[str] = typer.Option([], "--set", help=SET_HELP),
) -> None:
    """Write the paper-style tables (Markdown, CSV), plots (PNG) and findings from a study."""
    teacher_meta = None
    title = "codekd study report"
    if source.suffix in (".yaml", ".yml"):
        from ..study.spec import load_study, study_db_path

        spec, root = load_study(source, set_)
        db = study_db_path(spec, root)
        teacher_meta = {n: t.model_dump() for n, t in spec.teachers.items()}
        title = f"codekd study report: {spec.name}"
    else:
        db = source
    if not Path(db).is_file():
        raise ConfigError("no study database (run the study first)", path=db)
    res = write_report(db, out, teacher_meta=teacher_meta, title=title)
    console.print(res["markdown"], markup=False)
    console.print(f"\nwrote {res['report']} and {len(res['plots'])} plot(s) in {res['out']}")
