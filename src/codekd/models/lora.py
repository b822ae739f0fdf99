"""LoRA and QLoRA teacher fine-tuning with ``peft`` (the optional extra ``codekd[lora]``).

:func:`apply_lora` wraps a :class:`~codekd.models.teacher.Teacher`'s model in LoRA adapters: only
the adapters and the classifier are trained (peft's ``modules_to_save`` for a HF classifier's
``score`` / ``classifier``; codekd's own head lives outside the wrapped model and is always
trained). :func:`save_lora` writes the adapters to ``<folder>/lora`` (``adapter_config.json`` +
``adapter_model.safetensors``, loadable with ``peft.PeftModel.from_pretrained``) and returns the
merged model (``W + alpha/r * B A``), which is what the teacher folder holds: the teacher cache,
``distill``, ``evaluate`` and ``bench`` read a plain HF folder, with no peft at inference time.

QLoRA (``bits: 4`` or ``8``) loads the frozen base through bitsandbytes: that needs the
``bitsandbytes`` package and a CUDA GPU, and :func:`quantized_load_kwargs` says so in one line
otherwise. A quantized base cannot be merged exactly, so the merged folder is built from the base
weights reloaded in bf16 plus the trained adapters.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from ..errors import ConfigError

LORA_DIR = "lora"


def _peft():
    try:
        import peft
    except ImportError as exc:
        raise ConfigError("LoRA fine-tuning needs the 'peft' package: pip install 'codekd[lora]'") from exc
    return peft


def is_peft_model(model: nn.Module) -> bool:
    """True when ``model`` is wrapped in peft adapters."""
    try:
        import peft
    except ImportError:
        return False
    return isinstance(model, peft.PeftModel)


def quantized_load_kwargs(bits: int | None) -> dict[str, Any]:
    """``from_pretrained`` keywords that load the frozen base in ``bits`` (4: NF4 with bf16 compute,
    double quantization; 8: LLM.int8) for QLoRA; ``{}`` for ``None``. One clear error when
    bitsandbytes or a CUDA GPU is missing."""
    if bits is None:
        return {}
    if bits not in (4, 8):
        raise ConfigError(f"LoRA bits must be 4 or 8, got {bits!r}")
    if not torch.cuda.is_available():
        raise ConfigError(f"{bits}-bit loading (QLoRA) needs a CUDA GPU and bitsandbytes; this machine has no GPU: "
                          "drop bits= (plain LoRA in bf16/fp32 works on a CPU)")
    try:
        import bitsandbytes  # noqa: F401
    except ImportError as exc:
        raise ConfigError(f"{bits}-bit loading (QLoRA) needs the 'bitsandbytes' package: pip install bitsandbytes "
                          "(or drop bits=)") from exc
    from transformers import BitsAndBytesConfig

    if bits == 4:
        cfg = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                                 bnb_4bit_compute_dtype=torch.bfloat16)
    else:
        cfg = BitsAndBytesConfig(load_in_8bit=True)
    return {"quantization_config": cfg}


def _default_targets(model: nn.Module) -> list[str] | str:
    """peft's target modules for this architecture when it knows it, else every linear layer."""
    try:
        from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as known
    except ImportError:  # pragma: no cover - older/newer peft layouts
        known = {}
    mt = getattr(model.config, "model_type", "")
    return list(known[mt]) if mt in known else "all-linear"


def apply_lora(teacher: Any, settings: Mapping[str, Any]) -> dict[str, Any]:
    """Wrap ``teacher.model`` in LoRA adapters (in place) and return what was done: settings,
    target modules, trainable and total parameters. ``settings``: a
    :class:`~codekd.config.LoraSpec` as a mapping (``r``, ``alpha``, ``dropout``, ``targets``,
    ``bits``)."""
    peft = _peft()
    if is_peft_model(teacher.model):
        raise ConfigError("the teacher already carries LoRA adapters")
    model = teacher.model
    targets = settings.get("targets") or _default_targets(model)
    task_type = peft.TaskType.SEQ_CLS if teacher.head is None else peft.TaskType.FEATURE_EXTRACTION
    config = peft.LoraConfig(r=int(settings.get("r", 16)), lora_alpha=float(settings.get("alpha", 32)),
                             lora_dropout=float(settings.get("dropout", 0.05)), target_modules=targets,
                             task_type=task_type)
    if settings.get("bits"):
        model = peft.prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    try:
        wrapped = peft.get_peft_model(model, config)
    except ValueError as exc:
        first = str(exc).strip().splitlines()[0]
        raise ConfigError(f"LoRA could not wrap the teacher ({type(model).__name__}): {first}") from exc
    teacher.model = wrapped
    info = {"r": config.r, "alpha": config.lora_alpha, "dropout": config.lora_dropout,
            "targets": sorted(wrapped.peft_config["default"].target_modules), "bits": settings.get("bits"),
            "task_type": str(task_type.value)}
    teacher.lora = info
    params = list(teacher.parameters())
    info["trainable_params"] = sum(p.numel() for p in params if p.requires_grad)
    info["total_params"] = sum(p.numel() for p in params)
    return info


def save_lora(model: nn.Module, folder: str | Path, *, source: str | None = None,
              info: Mapping[str, Any] | None = None) -> tuple[nn.Module, dict[str, Any]]:
    """Write the adapters of a peft-wrapped ``model`` to ``folder/lora`` and return ``(merged,
    settings)``: the merged plain model (the live one is left as it is, so training can go on) and
    what ``codekd_teacher.json`` records about the adapters."""
    peft = _peft()
    folder = Path(folder)
    model.save_pretrained(folder / LORA_DIR)
    settings = {**(dict(info) if info else {}), "adapter": LORA_DIR, "merged": True}
    if settings.get("bits"):  # a quantized base: reload it in bf16 and merge the adapters into that
        from transformers import AutoModelForSequenceClassification

        base_src = model.peft_config["default"].base_model_name_or_path
        base = AutoModelForSequenceClassification.from_pretrained(base_src, dtype=torch.bfloat16,
                                                                  num_labels=model.config.num_labels)
        merged = peft.PeftModel.from_pretrained(base, str(folder / LORA_DIR)).merge_and_unload()
    else:
        merged = copy.deepcopy(model).merge_and_unload()
    if source is not None:
        settings["base"] = source
    return merged, settings


__all__ = ["LORA_DIR", "apply_lora", "is_peft_model", "quantized_load_kwargs", "save_lora"]
