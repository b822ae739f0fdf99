"""Shared CLI helpers: printing tables and JSON, parsing options."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False)


def print_json(obj: Any) -> None:
    console.print_json(json.dumps(obj, default=str))
