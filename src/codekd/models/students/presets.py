"""Student presets (SPEC section 4): the named shapes, resolving a name / mapping / budget to a
:class:`~codekd.models.students.spec.StudentConfigSpec`, and building, saving and loading students.

The preset's ``vocab_size`` is only a default: the real vocabulary of a student is the size of its
trained tokenizer, so :func:`build_student` takes it from the tokenizer when one is given.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping

from ...errors import ConfigError, ModelLoadError
from ...io import read_json
from ...registry import Registry
from ..hf import hf_load, quiet_transformers
from . import gru  # noqa: F401  (registers codekd-bigru with the Auto classes)
from .budget import size_for_budget
from .spec import Family, StudentConfigSpec, make_spec

# ---------------------------------------------------------------------------------- presets
STUDENTS: Registry[StudentConfigSpec] = Registry("student preset")

#: SPEC section 4 table: preset -> (family, vocab, layers, hidden, heads, ffn, params in the table)
PRESET_TABLE: dict[str, tuple[Family, int, int, int, int | None, int | None, float]] = {
    "roberta-0.6m": ("roberta", 1000, 3, 112, 4, 336, 0.56e6),
    "roberta-1.5m": ("roberta", 2000, 3, 192, 4, 384, 1.41e6),
    "roberta-7m": ("roberta", 5000, 4, 320, 5, 1280, 6.80e6),
    "roberta-30m": ("roberta", 20000, 6, 512, 8, 2048, 29.7e6),
    "roberta-124m": ("roberta", 50000, 12, 768, 12, 3072, 124.4e6),
    "gru-1.5m": ("gru", 2000, 2, 176, None, None, 1.50e6),
    "gru-7m": ("gru", 5000, 3, 320, None, None, 7.10e6),
    "gru-30m": ("gru", 20000, 6, 448, None, None, 30.5e6),
}

for _name, (_fam, _vocab, _layers, _hidden, _heads, _ffn, _params) in PRESET_TABLE.items():
    STUDENTS.register(
        _name,
        make_spec(
            name=_name, family=_fam, vocab_size=_vocab, layers=_layers, hidden=_hidden, heads=_heads, ffn=_ffn,
            description=f"{'RoBERTa' if _fam == 'roberta' else 'BiGRU'} student, about {_params / 1e6:g}M parameters (SPEC table)",
        ),
    )


def preset_names() -> list[str]:
    """Preset names in the SPEC table's order."""
    return [n for n in PRESET_TABLE if n in STUDENTS] + [n for n in STUDENTS.names() if n not in PRESET_TABLE]


def get_preset(name: str) -> StudentConfigSpec:
    return STUDENTS.get(name)


def resolve_spec(student: "str | StudentConfigSpec | Mapping[str, Any]") -> StudentConfigSpec:
    """Turn a preset name, a spec, or a mapping (optionally ``{"preset": name, ...overrides}``) into a spec.

    A string ``"budget:5M"`` / ``"budget:5M:gru"`` sizes a student for a parameter budget (default
    vocab 5000; pass a mapping with ``budget`` and ``vocab_size`` for another vocabulary).
    """
    if isinstance(student, StudentConfigSpec):
        return student
    if isinstance(student, str):
        if student.lower().startswith("budget:"):
            parts = student.split(":")
            family = parts[2] if len(parts) > 2 else "roberta"
            return size_for_budget(parts[1], vocab_size=5000, family=family)
        return STUDENTS.get(student)
    if isinstance(student, Mapping):
        data = dict(student)
        if "budget" in data:
            return size_for_budget(data.pop("budget"), vocab_size=int(data.pop("vocab_size", 5000)),
                                   family=data.pop("family", "roberta"), **data)
        base = data.pop("preset", None)
        if base is not None:
            return STUDENTS.get(str(base)).replace(**data)
        return make_spec(**data)
    raise ConfigError(f"cannot make a student from {type(student).__name__}; give a preset name, a mapping or a spec")


def build_student(
    preset_or_spec: "str | StudentConfigSpec | Mapping[str, Any]",
    num_labels: int,
    tokenizer: Any = None,
    *,
    attn_implementation: str | None = None,
):
    """Build a student from a preset name / spec / mapping.

    With a ``tokenizer``, the vocabulary size is ``len(tokenizer)`` and the pad / bos / eos ids are
    the tokenizer's, so the embedding table matches the trained student vocabulary.
    """
    spec = resolve_spec(preset_or_spec)
    if tokenizer is None:
        return spec.build(num_labels, attn_implementation=attn_implementation)
    pad = tokenizer.pad_token_id
    if pad is None:
        raise ConfigError("the student tokenizer has no pad token; codekd student vocabularies define <pad>")
    bos = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.cls_token_id
    eos = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else tokenizer.sep_token_id
    return spec.build(num_labels, vocab_size=len(tokenizer), pad_token_id=int(pad), bos_token_id=bos,
                      eos_token_id=eos, attn_implementation=attn_implementation)


STUDENT_SPEC_FILE = "codekd_student.json"


def save_student(model: Any, tokenizer: Any, folder: str | os.PathLike[str],
                 spec: StudentConfigSpec | None = None) -> Path:
    """Save a student and its tokenizer as one Hugging Face folder (plus ``codekd_student.json`` if a spec is given)."""
    quiet_transformers()
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    if tokenizer is not None:
        tokenizer.save_pretrained(out)
    if spec is not None:
        (out / STUDENT_SPEC_FILE).write_text(json.dumps(spec.model_dump(), indent=2) + "\n")
    return out


def load_student(folder: str | os.PathLike[str], *, attn_implementation: str | None = None,
                 with_tokenizer: bool = True, num_labels: int | None = None):
    """Load a student folder written by :func:`save_student` (or any HF classifier folder).

    Returns ``(model, tokenizer)``; ``tokenizer`` is None when the folder has none or
    ``with_tokenizer`` is False. The model is in eval mode. ``num_labels`` other than the folder's
    gives a new, randomly initialised classifier (a masked-LM pre-trained folder has none: its
    encoder weights are loaded and its LM head dropped).
    """
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    path = Path(folder)
    if not (path / "config.json").is_file():
        raise ModelLoadError(f"not a student folder (no config.json in {path.resolve()})", path=str(path))
    kwargs: dict[str, Any] = {}
    if attn_implementation is not None:
        kwargs["attn_implementation"] = attn_implementation
    if num_labels is not None:
        kwargs["num_labels"] = int(num_labels)
        saved = read_json(path / "config.json", "model config", error=ModelLoadError)
        saved_labels = saved.get("id2label") if isinstance(saved, dict) else None
        kwargs["ignore_mismatched_sizes"] = saved_labels is not None and len(saved_labels) != int(num_labels)
    model = hf_load(AutoModelForSequenceClassification.from_pretrained, str(path), what="student", **kwargs)
    model.eval()
    tokenizer = None
    if with_tokenizer and (path / "tokenizer_config.json").is_file():
        tokenizer = hf_load(AutoTokenizer.from_pretrained, str(path), what="student tokenizer")
    return model, tokenizer


def load_student_spec(folder: str | os.PathLike[str]) -> StudentConfigSpec | None:
    f = Path(folder) / STUDENT_SPEC_FILE
    if not f.is_file():
        return None
    saved = read_json(f, "student settings", error=ModelLoadError)
    if not isinstance(saved, dict):
        raise ModelLoadError("student settings must be a JSON object", path=f)
    return make_spec(**saved)


__all__ = [
    "PRESET_TABLE",
    "STUDENTS",
    "STUDENT_SPEC_FILE",
    "StudentConfigSpec",  # from .spec; plugins register presets with it from here (README)
    "build_student",
    "get_preset",
    "load_student",
    "load_student_spec",
    "preset_names",
    "resolve_spec",
    "save_student",
]
