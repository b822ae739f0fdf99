"""Students: RoBERTa and BiGRU specs and presets, custom sizes and budgets, the parameter/FLOP calculator.

Importing this package registers the BiGRU (``model_type = "codekd-bigru"``) with ``AutoConfig``,
``AutoModel`` and ``AutoModelForSequenceClassification``, so saved students load with the Auto classes.
"""

from __future__ import annotations

from .gru import (
    BiGRUConfig,
    BiGRUForSequenceClassification,
    BiGRUModel,
    BiGRUOutput,
    build_gru,
    reverse_within_length,
)
from .budget import parse_budget, size_for_budget
from .presets import (
    PRESET_TABLE,
    STUDENTS,
    build_student,
    get_preset,
    load_student,
    load_student_spec,
    preset_names,
    resolve_spec,
    save_student,
)
from .roberta import build_roberta, roberta_config
from .sizing import (
    TeacherRef,
    built_params,
    count_params,
    flops_per_example,
    size_mb,
    student_row,
    students_table,
    teacher_reference,
)
from .spec import StudentConfigSpec, custom_spec, make_spec

__all__ = [
    "BiGRUConfig",
    "BiGRUForSequenceClassification",
    "BiGRUModel",
    "BiGRUOutput",
    "PRESET_TABLE",
    "STUDENTS",
    "StudentConfigSpec",
    "TeacherRef",
    "build_gru",
    "build_roberta",
    "build_student",
    "built_params",
    "count_params",
    "custom_spec",
    "flops_per_example",
    "get_preset",
    "load_student",
    "load_student_spec",
    "make_spec",
    "parse_budget",
    "preset_names",
    "resolve_spec",
    "reverse_within_length",
    "roberta_config",
    "save_student",
    "size_for_budget",
    "size_mb",
    "student_row",
    "students_table",
    "teacher_reference",
]
