"""User-facing errors.

Every error a user can cause (bad input file, unknown name, incompatible options) is raised as a
:class:`CodekdError`. The CLI prints it as one line and exits non-zero; the Python API lets it
propagate so callers can catch it.
"""

from __future__ import annotations

from pathlib import Path


class CodekdError(Exception):
    """An error caused by user input, reported as one clear line."""

    exit_code = 2

    def __init__(self, message: str, *, path: str | Path | None = None, line: int | None = None):
        self.message = message
        self.path = str(path) if path is not None else None
        self.line = line
        super().__init__(self.__str__())

    def __str__(self) -> str:  # "file:line: message" like a compiler
        where = ""
        if self.path is not None:
            where = self.path if self.line is None else f"{self.path}:{self.line}"
            where += ": "
        return f"{where}{self.message}"


class DataError(CodekdError):
    """Malformed or inconsistent dataset input."""


class ConfigError(CodekdError):
    """Invalid configuration or incompatible options."""


class RegistryError(ConfigError):
    """Unknown or duplicate name in a registry."""


class ModelLoadError(CodekdError):
    """A model or tokenizer could not be found or loaded."""
