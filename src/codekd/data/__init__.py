"""Data layer: format loaders on Arrow, normalisation, seeded subsampling, validation, builders."""

from .loaders import (
    HOLE,
    SPLITS,
    BadLine,
    Split,
    TaskData,
    detect_format,
    load_task_data,
    normalized_codes,
    read_label_names,
    subsample_indices,
)
from .normalize import NORM_MODES, STRUCTURE_TOKENS, normalize_code, normalize_structure, normalize_whitespace

__all__ = [
    "HOLE", "SPLITS", "BadLine", "Split", "TaskData", "detect_format", "load_task_data", "normalized_codes",
    "read_label_names", "subsample_indices", "NORM_MODES", "STRUCTURE_TOKENS", "normalize_code",
    "normalize_structure", "normalize_whitespace",
]
