"""User extensions for the command line: modules named in ``CODEKD_PLUGINS`` are imported first.

A task, student preset or method registered in Python (``register_task``, ``STUDENTS.register``,
``@register_method``) exists in that Python process only. To use it from ``codekd ...`` commands
and study runs, put the registrations in an importable module and name it::

    CODEKD_PLUGINS=my_project.codekd_ext codekd distill --method mse-logits ...

(several modules: comma-separated). The CLI imports them before it parses the command, and each
study job imports them again in its own process (Ray workers included).
"""

from __future__ import annotations

import importlib
import os

from .errors import ConfigError

ENV = "CODEKD_PLUGINS"
_loaded: set[str] = set()


def load_plugins(spec: str | None = None) -> list[str]:
    """Import the modules named in ``spec`` (default: ``$CODEKD_PLUGINS``); returns their names."""
    names = [n.strip() for n in (os.environ.get(ENV, "") if spec is None else spec).split(",") if n.strip()]
    for name in names:
        if name in _loaded:
            continue
        try:
            importlib.import_module(name)
        except Exception as exc:
            raise ConfigError(f"cannot import plugin module {name!r} named in {ENV}: "
                              f"{type(exc).__name__}: {exc}") from exc
        _loaded.add(name)
    return names
