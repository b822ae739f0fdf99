"""Models: any Hugging Face encoder as teacher, and the RoBERTa / BiGRU students.

Names are imported lazily so that ``import codekd.models.hf`` stays cheap; importing
``codekd.models.students`` (or touching any student name here) registers the BiGRU with the
transformers Auto classes.

* :class:`Teacher`, :class:`TeacherOutput`, :func:`load_teacher` — ``codekd.models.teacher``
* :class:`StudentConfigSpec`, :data:`STUDENTS`, :func:`build_student`, :func:`save_student`,
  :func:`load_student`, :func:`students_table`, ... — ``codekd.models.students``
"""

from __future__ import annotations

import importlib
from typing import Any

_TEACHER_NAMES = {"Teacher", "TeacherOutput", "FirstTokenHead", "load_teacher", "has_unixcoder_token", "UNIXCODER_TOKEN"}
_STUDENT_NAMES = {
    "BiGRUConfig", "BiGRUForSequenceClassification", "BiGRUModel", "BiGRUOutput", "PRESET_TABLE", "STUDENTS",
    "StudentConfigSpec", "TeacherRef", "build_gru", "build_roberta", "build_student", "built_params", "count_params",
    "custom_spec", "flops_per_example", "get_preset", "load_student", "load_student_spec", "make_spec",
    "parse_budget", "preset_names", "resolve_spec", "roberta_config", "save_student", "size_for_budget", "size_mb",
    "student_row", "students_table", "teacher_reference",
}


def __getattr__(name: str) -> Any:
    if name in _TEACHER_NAMES:
        return getattr(importlib.import_module(".teacher", __name__), name)
    if name in _STUDENT_NAMES:
        return getattr(importlib.import_module(".students", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = sorted(_TEACHER_NAMES | _STUDENT_NAMES)
