"""Named teacher fine-tuning recipes (``codekd teacher finetune --recipe``).

* ``paper``: the study's settings (AdamW 2e-5, batch 32, 5 epochs, 512 tokens), for a GPU.
* ``cpu``: the recipe measured to win on a 2-core CPU (benchmarks/RESULTS-teacher.md): the
  embeddings and bottom 3 layers frozen and replayed (for teachers with codekd's own head, e.g.
  MiniLM with mean pooling), bf16 only where a timed step shows it faster (``mixed_precision:
  auto``), length-bucketed batches (the engine's default), lr 3e-4 (the frozen bottom keeps the
  higher rate stable). Give it ``--minutes`` to plan its steps from the measured speed.
* ``auto`` (the default): ``paper`` when a CUDA GPU is present, else ``cpu``.
"""

from __future__ import annotations

from typing import Any

from .errors import ConfigError

RECIPES = ("auto", "paper", "cpu")
CPU_FREEZE_LAYERS = 3
FREEZABLE_ALIASES = ("minilm",)


def resolve_recipe(name: str) -> str:
    if name not in RECIPES:
        raise ConfigError(f"unknown recipe {name!r}; choose one of {', '.join(RECIPES)}")
    if name == "auto":
        import torch  # the CLI imports this module at start: torch (seconds) only for the auto recipe

        return "paper" if torch.cuda.is_available() else "cpu"
    return name


def teacher_recipe(name: str, *, teacher: str, pooling: str | None) -> dict[str, Any]:
    """Config fields of a recipe for this teacher (dotted keys, as ``load_run_config`` takes them)."""
    name = resolve_recipe(name)
    fields: dict[str, Any] = {"train.lr": 2e-5, "train.batch_size": 32, "train.epochs": 5, "train.max_length": 512}
    if name == "cpu":
        fields.update({"train.lr": 3e-4, "train.mixed_precision": "auto"})
        # the frozen-prefix replay needs codekd's head: mean pooling, or the MiniLM alias (mean by default)
        if pooling == "mean" or (pooling is None and teacher in FREEZABLE_ALIASES):
            fields["teacher.freeze_layers"] = CPU_FREEZE_LAYERS
    return fields


__all__ = ["CPU_FREEZE_LAYERS", "RECIPES", "resolve_recipe", "teacher_recipe"]
