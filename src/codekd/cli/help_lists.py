"""Help texts that list registry entries, generated from the registries when ``--help`` is asked.

The methods' registry imports torch (seconds), so the lists are not computed when the CLI module
is imported; :func:`main` calls :func:`refresh` (after the plugins in ``CODEKD_PLUGINS`` are
imported, so their methods, tasks and students are listed too) only when ``--help`` is on the
command line. Without it the options' static help names the listing command instead
(``codekd methods list``), which is never wrong.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable


def _names(kind: str) -> list[str]:
    if kind == "method":
        from ..methods import METHODS

        return METHODS.names()
    if kind == "task":
        from ..tasks import TASKS

        return TASKS.names()
    if kind == "student":
        from ..models.students.presets import preset_names

        return preset_names()
    if kind == "pooling":
        from ..models.teacher import POOLINGS

        return list(POOLINGS)
    if kind == "teacher":
        from ..models.hf import MODEL_ALIASES

        return sorted(MODEL_ALIASES)
    raise KeyError(kind)


def listing(kind: str, sep: str = " | ") -> str:
    return sep.join(_names(kind))


def method_help() -> str:
    return f"Distillation method: {listing('method')} (details: codekd methods list)."


def task_help() -> str:
    return f"Task name: {listing('task')} (or one registered by a plugin)."


def student_help() -> str:
    return (f"Student preset: {listing('student')} (codekd students list), or a pre-trained student folder "
            "(codekd pretrain mlm) to start from.")


def teacher_alias_help() -> str:
    return f"Hub id, alias ({listing('teacher', ', ')}) or folder."


def pooling_help() -> str:
    return (f"What the head reads: {listing('pooling')} (cls: the first token; mean: the mean of the real tokens, "
            "the default for a sentence-transformers model that averages tokens, such as minilm; last: the last "
            "real token, the default for a decoder; else cls).")


def _set(fn: Callable[..., Any], param: str, text: str) -> None:
    default = inspect.signature(fn).parameters[param].default
    default.help = text


def refresh() -> None:
    """Put the registries' current entries into the help of the options that list them."""
    from . import train

    _set(train.distill_cmd, "method", method_help())
    _set(train.distill_cmd, "student", student_help())
    for fn in (train.distill_cmd, train.teacher_finetune, train.teacher_cache):
        _set(fn, "task", task_help())
    _set(train.teacher_finetune, "teacher", teacher_alias_help())
    _set(train.teacher_finetune, "pooling", pooling_help())


__all__ = ["listing", "method_help", "pooling_help", "refresh"]
