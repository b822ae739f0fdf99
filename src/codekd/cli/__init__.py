"""The ``codekd`` command-line program.

Each stage lives in its own sub-module as a Typer sub-app; every command is a thin layer over an
importable Python function. User errors (:class:`codekd.errors.CodekdError`) print one line and
exit non-zero, without a traceback.
"""

from __future__ import annotations

import os
import sys
import warnings

# Offline and quiet defaults, set before any library import reads them.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import typer

from ..data.guard import SmallDataWarning
from ..errors import CodekdError
from ..io import storage_error
from ..plugins import load_plugins
from . import data
from . import vocab
from . import models
from . import train
from . import evaluation
from . import study
from . import demo
from . import methods
from . import pretrain
from . import adapt
from .help_lists import refresh

app = typer.Typer(
    name="codekd",
    help="Distil fine-tuned code-understanding models into compact students, and measure what is kept and gained.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

app.add_typer(data.app, name="data", help="Load, validate and build datasets (defect, clone, exception).")
app.add_typer(vocab.app, name="vocab", help="Train student byte-level BPE vocabularies.")
models.register(app)
app.add_typer(pretrain.app, name="pretrain", help="Masked-LM training on unlabeled code: adapt a teacher to code, "
              "pre-train a student.")
app.add_typer(train.teacher_app, name="teacher", help="Fine-tune teachers and cache their outputs.")
app.command("distill")(train.distill_cmd)
app.command("evaluate")(evaluation.evaluate_cmd)
app.command("bench")(evaluation.bench_cmd)
app.command("export")(evaluation.export_cmd)
app.command("predict")(evaluation.predict_cmd)
app.add_typer(study.app, name="study", help="Run the experiment matrix from a YAML study file (local or Ray).")
app.command("report")(study.report_cmd)
app.command("demo")(demo.demo_cmd)
app.command("adapt")(adapt.adapt_cmd)
app.add_typer(methods.app, name="methods", help="Distillation methods: needs, supported students and tasks, defaults.")


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: run the app, turning user errors into one line and exit code 2."""
    with warnings.catch_warnings():
        warnings.simplefilter("always", SmallDataWarning)
        plain = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):  # codekd's own: one line
            if issubclass(category, SmallDataWarning):
                typer.secho(f"warning: {message}", fg="yellow", err=True)
            else:
                plain(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        return _main(argv)


def _main(argv: list[str] | None) -> int:
    try:
        load_plugins()
        args = sys.argv[1:] if argv is None else list(argv)
        if "--help" in args:  # registry lists in the help (imports torch, so only when help is asked)
            refresh()
        app(args=args, standalone_mode=False)
    except CodekdError as exc:
        return _one_line(exc)
    except KeyboardInterrupt:
        typer.secho("interrupted: completed work is kept; re-run the same command to continue", err=True)
        return 130
    except SystemExit as exc:  # typer/click exit paths
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    except Exception as exc:  # usage errors from typer's click (typer may vendor its own copy)
        if callable(getattr(exc, "show", None)) and hasattr(exc, "exit_code"):
            exc.show()
            return int(exc.exit_code)
        if type(exc).__name__ == "Abort":
            return 1
        fault = storage_error(exc, writing=False)  # disk full, read-only, a file-size limit: the machine, not the input
        if fault is not None:
            return _one_line(fault)
        if isinstance(exc, OSError):  # any other fault of the machine: still one line
            where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
            typer.secho(f"error: {where}{exc.strerror or exc}", fg="red", err=True)
            return 1
        raise
    return 0


def _one_line(exc: CodekdError) -> int:
    text = " ".join(str(exc).split("\n"))  # never more than one line
    typer.secho(f"error: {text}", fg="red", err=True)
    return exc.exit_code


def run() -> None:
    sys.exit(main())


__all__ = ["app", "main"]
