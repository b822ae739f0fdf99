"""Method x student x task compatibility of a run config, checked when the config loads.

:func:`check_run_config` needs no data and no models: the student family comes from the preset,
the number of classes from the task when the task fixes it (``defect`` and ``clone`` are binary;
the ``exception`` task reads its labels from the data, so that part of the check runs again when
:func:`codekd.engine.runs.distill` has loaded the data). Depth-dependent checks (layer maps) run
when the method is built, once the teacher is loaded.
"""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError
from ..tasks import get_task
from .base import get_method
from .sources import TeacherSource


def student_family(preset: Any) -> str:
    """``"roberta"`` or ``"gru"`` for a student preset (name, budget string or mapping)."""
    # lazy: the presets registry imports the student models (transformers), and `import codekd.methods`
    # (which imports this module with every method) must not pay for that
    from ..models.students.presets import resolve_spec

    return resolve_spec(preset).family


def check_run_config(cfg: Any, *, num_labels: int | None = None, family: str | None = None) -> dict[str, Any]:
    """Raise :class:`ConfigError` when the run's method cannot work with its student, task or options.

    Returns the method's resolved parameters. Only ``kind == "distill"`` configs are checked.
    """
    if getattr(cfg, "kind", "distill") != "distill":
        return {}
    method = get_method(cfg.method.name)
    task = get_task(cfg.task)
    if num_labels is None:
        num_labels = task.num_labels
    if family is None:
        family = student_family(cfg.student.preset)
    params = method.check_compatibility(family=family, task=task.name, num_labels=num_labels,
                                        params=cfg.method.params, paper_faithful=cfg.method.paper_faithful)
    # what the cache holds is read when the run starts (engine.runs); here only what no cache can serve
    source = TeacherSource.any_cache() if cfg.teacher.cache else TeacherSource.live()
    reason = source.can_serve(method)
    if reason:
        raise ConfigError(reason)
    transfer = getattr(cfg, "transfer", None)
    if transfer is not None:
        if not method.supports_unlabeled():
            raise ConfigError(f"method {method.name!r} cannot use unlabeled transfer data: it learns only from gold "
                              "labels (use a method that has a teacher, e.g. kd)")
        if cfg.teacher.cache:
            raise ConfigError("transfer data needs the live teacher (the cache holds no outputs for the transfer "
                              "examples); drop --teacher-cache")
    return params


__all__ = ["check_run_config", "student_family"]
