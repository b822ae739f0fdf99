"""Task definitions and the task registry.

A task says what one example looks like (a single function or a pair of functions), its label set
and its headline metric. Built in: ``defect``, ``clone`` and ``exception``. Register your own::

    from codekd.tasks import Task, register_task

    register_task(Task(
        name="vuln-type",
        input_kind="single",            # or "pair"
        labels=("none", "overflow", "uaf"),
        metric="macro_f1",              # accuracy | f1 | top1 | macro_f1
        label_from_names=True,          # targets may be given as label names
        description="CWE class of a C function",
    ))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..errors import DataError
from ..registry import Registry

InputKind = Literal["single", "pair"]
HEADLINE_METRICS = ("accuracy", "f1", "top1", "macro_f1")


@dataclass(frozen=True)
class Task:
    """A code-understanding task.

    ``labels`` may be empty when the label set is data-dependent (the exception task: the label
    list is stored beside each dataset in ``labels.json``); ``num_labels`` then comes from the data.
    """

    name: str
    input_kind: InputKind
    labels: tuple[str, ...] = ()
    metric: str = "accuracy"
    label_from_names: bool = False
    labels_from_data: bool = False
    data_format: str = "single"  # loader format name: single | clone | exception
    description: str = ""
    selection: tuple[str, ...] = field(default=("accuracy", "f1"))

    def __post_init__(self):
        if self.input_kind not in ("single", "pair"):
            raise DataError(f"task {self.name!r}: input_kind must be 'single' or 'pair', got {self.input_kind!r}")
        if self.metric not in HEADLINE_METRICS:
            raise DataError(f"task {self.name!r}: metric must be one of {HEADLINE_METRICS}, got {self.metric!r}")

    @property
    def is_pair(self) -> bool:
        return self.input_kind == "pair"

    @property
    def num_labels(self) -> int | None:
        return len(self.labels) or None


TASKS: Registry[Task] = Registry("task")


def register_task(task: Task, *, overwrite: bool = False) -> Task:
    """Add a task to the registry so every stage (data, vocab, distill, ...) accepts its name."""
    return TASKS.register(task.name, task, overwrite=overwrite)


def get_task(name: str | Task) -> Task:
    if isinstance(name, Task):
        return name
    return TASKS.get(name)


register_task(Task(
    name="defect",
    input_kind="single",
    labels=("0", "1"),
    metric="accuracy",
    data_format="single",
    description="Defect detection (CodeXGLUE Devign): is this C function vulnerable? Binary, accuracy.",
    selection=("accuracy", "f1"),
))
register_task(Task(
    name="clone",
    input_kind="pair",
    labels=("0", "1"),
    metric="f1",
    data_format="clone",
    description="Clone detection (CodeXGLUE BigCloneBench): are these two Java functions clones? Binary, F1.",
    selection=("accuracy", "f1"),
))
register_task(Task(
    name="exception",
    input_kind="single",
    labels=(),
    metric="top1",
    label_from_names=True,
    labels_from_data=True,
    data_format="exception",
    description="Exception-type classification (CuBERT): which exception fills __HOLE__? 20 classes, top-1 accuracy.",
    selection=("accuracy", "top3"),
))

__all__ = ["Task", "TASKS", "register_task", "get_task", "HEADLINE_METRICS"]
