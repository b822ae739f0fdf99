"""User-facing errors.

Every error a user can cause (bad input file, unknown name, incompatible options) is raised as a
:class:`CodekdError`. The CLI prints it as one line and exits non-zero; the Python API lets it
propagate so callers can catch it. Faults of the machine rather than of the input (disk full, a
read-only output folder, a file-size limit) are :class:`StorageError`: one line too, exit status 1.
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


class OutputError(CodekdError):
    """An output path codekd must not write to (a user's file, a folder that is not codekd's own)."""


class StorageError(CodekdError):
    """The machine could not store an output: no space left, a read-only folder, a file-size limit.

    Nothing already written is damaged (outputs are replaced atomically); re-running continues."""

    exit_code = 1


class StudyFailed(CodekdError):
    """A study finished with failed jobs (each one's reason is printed before this line)."""

    def __init__(self, message: str, *, exit_code: int = 1, path: str | Path | None = None):
        self.exit_code = exit_code
        super().__init__(message, path=path)
