"""Shared CLI helpers: printing tables and JSON, parsing options."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from rich.console import Console


def _width() -> int | None:
    # rich falls back to 80 columns when output is not a terminal (pipes, CI logs); tables of
    # metrics need more, so use at least 140 there unless COLUMNS says otherwise.
    if os.environ.get("COLUMNS"):
        return None
    return None if sys.stdout.isatty() else 140


console = Console(highlight=False, soft_wrap=True, width=_width())
err_console = Console(stderr=True, highlight=False)


def print_json(obj: Any) -> None:
    console.print_json(json.dumps(obj, default=str))
