"""Typed configuration: pydantic models, YAML (safe_load), dotted ``--set`` overrides.

A run is described by a :class:`RunConfig` (what to train and how). YAML files are validated into
it; unknown keys are errors (``extra="forbid"``), so a typo never silently does nothing. The
resolved config is saved in every run folder.

>>> cfg = RunConfig.model_validate({"task": "exception", "data": "d", "out": "o"})
>>> cfg = apply_overrides(cfg, ["train.lr=1e-4", "method.params.temperature=2"])
>>> cfg.train.lr, cfg.method.params["temperature"]
(0.0001, 2)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Optional, Sequence, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .data.normalize import parse_normalization
from .errors import ConfigError

SCHEMA_VERSION = 1


class StrictModel(BaseModel):
    """A config model whose unknown keys are errors (a typo never silently does nothing)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


_Strict = StrictModel  # the old name, for code written before it was public


class TrainConfig(_Strict):
    """Optimisation settings shared by teacher fine-tuning and every distillation method.

    Defaults are the paper's (AdamW lr 2e-5 for teachers; students use ``lr`` set by the caller,
    batch 32, 5 epochs, 10% linear warm-up, clip 1.0).
    """

    lr: float = Field(5e-4, gt=0)
    weight_decay: float = Field(0.01, ge=0)
    batch_size: int = Field(32, ge=1)
    eval_batch_size: int = Field(64, ge=1)
    epochs: int = Field(5, ge=1)
    max_steps: Optional[int] = Field(None, ge=1, description="Stop after this many optimizer steps (all epochs).")
    warmup_ratio: float = Field(0.1, ge=0, le=1)
    max_grad_norm: Optional[float] = Field(1.0, gt=0)
    grad_accum: int = Field(1, ge=1)
    seed: int = 42
    max_length: int = Field(512, ge=8)
    bucket: bool = Field(True, description="Length-bucketed batches (dynamic padding is always on).")
    pad_to_max_length: bool = Field(False, description="Pad every batch, the student's and a live teacher's, to "
                                    "max_length (the paper's fixed padding; for benchmarks).")
    precision: Optional[Literal["fp32", "bf16", "fp16", "auto"]] = Field(
        None, description="Training precision (the documented name): fp32 | bf16 | fp16 (with a gradient scaler) | "
                          "auto. Stored as mixed_precision (fp32 -> no), so a run's config hash does not depend on "
                          "which of the two names set it; when both are given, precision wins.")
    mixed_precision: Literal["no", "fp16", "bf16", "auto"] = Field(
        "no", description="The older name of precision (no = fp32). auto: bf16 on a GPU that has it; on a CPU, bf16 "
                          "only where the CPU has bf16 instructions and a timed probe step shows it faster than fp32 "
                          "(measured, never assumed).")

    @model_validator(mode="before")
    @classmethod
    def _one_precision(cls, data: Any) -> Any:
        """``precision`` (fp32 | bf16 | fp16 | auto) is stored as ``mixed_precision``; ``fp32`` means ``no``."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if data.get("mixed_precision") == "fp32":
            data["mixed_precision"] = "no"
        p = data.get("precision")
        if p is not None:
            if p not in ("fp32", "bf16", "fp16", "auto", "no"):
                return data  # the field's own check gives the message
            data["mixed_precision"] = "no" if p in ("fp32", "no") else p
            data["precision"] = None
        return data
    minutes: Optional[float] = Field(None, gt=0, description="Time budget for training, in minutes: the steps are "
                                     "planned from the measured speed (the LR schedule follows the plan); epochs is "
                                     "then an upper bound.")
    layer_lr_decay: Optional[float] = Field(None, gt=0, le=1, description="Layer-wise LR decay: layer l of L gets "
                                            "lr x decay^(L-l), the embeddings decay^L (transformer teachers).")
    cpu: bool = Field(False, description="Force CPU even when a GPU is present.")
    checkpoint_every: Optional[int] = Field(200, ge=1, description="Also checkpoint every N optimizer steps.")
    log_every: int = Field(10, ge=1)
    eval_every: Optional[int] = Field(None, ge=1, description="Also validate every N optimizer steps (logged as "
                                      "'eval' events with wall and CPU seconds: a learning curve); selection "
                                      "still uses the epoch ends.")
    eval_max_examples: Optional[int] = Field(None, ge=1)
    train_max_examples: Optional[int] = Field(None, ge=1)
    flush_denormal: Optional[bool] = Field(
        None, description="Flush subnormal floats to zero during training (x86 FTZ/DAZ; default on). Gradients "
                          "shrinking through long BiGRU sequences otherwise slow every CPU multiply ~100x "
                          "(gru-1.5m, 256 tokens: 6.7 s a step vs 0.95 s); only values below 1.2e-38 change.")
    num_threads: Optional[int] = Field(None, ge=1, description="torch CPU threads. Default: the free cores (usable "
                                       "cores minus the load average, at least 1), and 1 for a model under 5M "
                                       "parameters (a second thread on a busy 2-core machine was 24-30x slower).")
    early_stopping_patience: Optional[int] = Field(None, ge=1, description="Stop when the validation score (the "
                                                   "epoch-end validations that select the best epoch) has not "
                                                   "improved for this many validations (HF convention).")
    report_to: Optional[Literal["none", "tensorboard"]] = Field(
        None, description="tensorboard: write loss, learning rate and validation metrics to OUT/tensorboard "
                          "(torch SummaryWriter; needs pip install 'codekd[tensorboard]'). Default: none.")
    log_every_s: Optional[float] = Field(None, gt=0, description="When the output is not a terminal (no progress "
                                         "bar), print a progress line every this many seconds (default 30).")
    trackers: list[str] = Field(default_factory=list, description="Accelerate trackers: tensorboard, wandb, mlflow "
                                "(the same scalars as report_to, in OUT/trackers).")


class StudentSpec(_Strict):
    """A student: a preset name, optionally with overridden sizes (custom students)."""

    preset: str = "gru-1.5m"
    vocab: Optional[str] = Field(None, description="Tokenizer folder; default: trained on the task's train split.")
    vocab_size: Optional[int] = Field(None, ge=300, description="Size of the trained vocabulary (default: the preset's).")
    layers: Optional[int] = Field(None, ge=1)
    hidden: Optional[int] = Field(None, ge=8)
    heads: Optional[int] = Field(None, ge=1)
    ffn: Optional[int] = Field(None, ge=8)
    dropout: Optional[float] = Field(None, ge=0, lt=1)
    init_from: Optional[str] = Field(None, description="Start from these weights (e.g. an MLM-pretrained student).")


class MethodSpec(_Strict):
    name: str = "kd"
    params: dict[str, Any] = Field(default_factory=dict)
    paper_faithful: bool = False


LORA_KEYS = {"r": "r", "rank": "r", "alpha": "alpha", "lora_alpha": "alpha", "dropout": "dropout",
             "lora_dropout": "dropout", "targets": "targets", "target_modules": "targets", "bits": "bits"}


def parse_lora(text: str) -> dict[str, Any]:
    """``"r=16,alpha=32,dropout=0.05,targets=q_proj+v_proj,bits=4"`` -> a :class:`LoraSpec` mapping
    (``targets`` joined by ``+``; an empty string, ``on`` or ``default`` -> all defaults)."""
    text = text.strip()
    if text.lower() in ("", "on", "true", "yes", "default"):
        return {}
    out: dict[str, Any] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        key = key.strip().lower()
        if not sep or key not in LORA_KEYS:
            raise ValueError(f"cannot read LoRA setting {part.strip()!r} (expected r=16,alpha=32,dropout=0.05,"
                             "targets=q_proj+v_proj,bits=4)")
        name = LORA_KEYS[key]
        value = value.strip()
        out[name] = [t for t in value.split("+") if t] if name == "targets" else _parse_value(value)
    return out


class LoraSpec(_Strict):
    """LoRA (and QLoRA with ``bits``) settings of teacher fine-tuning (``teacher finetune --lora``)."""

    r: int = Field(16, ge=1, description="Rank of the adapters.")
    alpha: float = Field(32.0, gt=0, description="Scale numerator (the update is alpha/r x B A).")
    dropout: float = Field(0.05, ge=0, lt=1)
    targets: Optional[list[str]] = Field(None, description="Module names to adapt (default: peft's choice for "
                                         "the architecture, e.g. q_proj/v_proj; else every linear layer).")
    bits: Optional[Literal[4, 8]] = Field(None, description="Load the frozen base in 4 or 8 bits (QLoRA): needs "
                                          "bitsandbytes and a CUDA GPU.")


class TeacherSpec(_Strict):
    path: Optional[str] = Field(None, description="Fine-tuned teacher folder (codekd teacher finetune output) or hub id.")
    cache: Optional[str] = Field(None, description="Teacher-output cache folder (codekd teacher cache).")
    pair_mode: Literal["joint", "separate"] = "joint"
    unixcoder: Optional[bool] = None
    freeze_layers: Optional[int] = Field(
        None, ge=0, description="Teacher fine-tuning: freeze the embeddings and the bottom N layers; their outputs "
                                "(dropout off, so exact) are computed once per function and reused across epochs.")
    pooling: Optional[Literal["cls", "mean", "last"]] = Field(
        None, description="What the fine-tuned head reads: cls, mean or last (default: last, the last real token, "
                          "for a decoder-only model; mean for a sentence-transformers model that averages tokens, "
                          "e.g. minilm; else cls).")
    lora: Optional[LoraSpec] = Field(None, description="Teacher fine-tuning with LoRA adapters (peft); the saved "
                                     "teacher is the merged model, the adapters are kept in best/lora.")
    dtype: Optional[Literal["float32", "bfloat16", "float16"]] = Field(
        None, description="Weights of a frozen live teacher (distillation): bfloat16 / float16 halve its memory "
                          "(default: as saved, float32 on CPU). The teacher cache takes its own --dtype.")
    device_map: Optional[Union[str, dict[str, Union[str, int]]]] = Field(
        None, description="A frozen live teacher larger than one GPU: passed to from_pretrained (auto, balanced, "
                          "balanced_low_0, sequential, or a module -> device mapping where 'disk' offloads to a "
                          "temporary folder); its layers stay where they are put and its outputs come back to "
                          "the inputs' device.")

    @field_validator("lora", mode="before")
    @classmethod
    def _lora(cls, v: Any) -> Any:
        if isinstance(v, bool):
            return {} if v else None
        return parse_lora(v) if isinstance(v, str) else v


class TransferSpec(_Strict):
    """Unlabeled transfer data (Compressor's idea): extra functions the teacher labels softly.

    ``path``: a JSON Lines file, or a folder holding ``transfer.jsonl`` (else ``train.jsonl``), with
    ``func`` (pairs: ``func1``/``func2``) per line; any label field is ignored. For each training
    batch the engine also draws ``batch_size`` transfer examples, runs the teacher on them, and adds
    ``weight`` x the method's teacher-output terms (never a gold-label term). Functions identical
    (after normalisation) to a validation or test function are dropped.
    """

    path: str
    weight: float = Field(1.0, ge=0)
    batch_size: Optional[int] = Field(None, ge=1, description="Transfer examples per batch (default: train.batch_size).")
    max_examples: Optional[int] = Field(None, ge=1)


class PretrainSpec(_Strict):
    """Masked-LM pre-training (``codekd pretrain mlm``): the corpus and the masking.

    The model being trained is ``teacher.path`` (a hub id, alias or folder: domain-adaptive
    pre-training of a general encoder) or ``student`` (a preset, pre-trained with its own vocabulary).
    """

    corpus: list[str] = Field(default_factory=list, description="Source folders/files (.py, .c, .h) or dataset "
                                                                "folders / JSONL files with a 'func' field.")
    lang: Literal["auto", "python", "c"] = "auto"
    exclude_data: list[str] = Field(default_factory=list, description="Task dataset folders whose functions are "
                                                                      "removed from the corpus (leakage guard).")
    exclude_splits: list[str] = Field(default_factory=lambda: ["valid", "test"])
    max_functions: Optional[int] = Field(None, ge=1, description="Keep at most this many corpus functions (seeded).")
    heldout_fraction: float = Field(0.02, ge=0, lt=1, description="Share of source files held out for perplexity.")
    heldout_max: int = Field(500, ge=1, description="At most this many held-out functions are scored.")
    min_chars: int = Field(20, ge=1)
    mask_prob: float = Field(0.15, gt=0, lt=1)
    masking: Literal["token", "whole_word", "span"] = "token"
    span_mean: float = Field(3.0, gt=0, description="Mean span length (span masking; geometric, capped at 10).")
    add_structure_tokens: Optional[bool] = Field(None, description="Teacher: add <nl>/<indent>/<dedent> (default: "
                                                                   "when normalization is 'structure').")
    vocab_size: Optional[int] = Field(None, ge=300, description="Student vocabulary size when trained on the corpus.")
    max_examples: Optional[int] = Field(None, ge=1, description="Budget in training examples (sets train.max_steps).")
    max_minutes: Optional[float] = Field(None, gt=0, description="Budget in minutes of training (wall clock).")
    eval_every: Optional[int] = Field(None, ge=1, description="Held-out perplexity every N steps (the curve).")
    freeze_encoder: bool = Field(False, description="Train only the MLM head (a control: what the unchanged "
                                                    "encoder supports once a head is fitted).")


class RunConfig(_Strict):
    """Everything a training run needs; saved resolved as ``config.yaml`` in the run folder."""

    schema_version: int = SCHEMA_VERSION
    kind: Literal["distill", "finetune", "pretrain"] = "distill"
    task: str
    data: str
    out: str
    normalization: str = Field("whitespace", description="whitespace | structure | none, optionally ':hole=N'")
    fraction: Optional[float] = Field(None, gt=0, le=1)
    data_seed: int = 0
    teacher: TeacherSpec = Field(default_factory=TeacherSpec)
    student: StudentSpec = Field(default_factory=StudentSpec)
    method: MethodSpec = Field(default_factory=MethodSpec)
    train: TrainConfig = Field(default_factory=TrainConfig)
    transfer: Optional[TransferSpec] = Field(None, description="Unlabeled transfer data for the teacher-output terms.")
    pretrain: Optional[PretrainSpec] = Field(None, description="Masked-LM pre-training settings (kind: pretrain).")

    @field_validator("normalization")
    @classmethod
    def _normalization(cls, v: str) -> str:
        try:
            parse_normalization(v)
        except ConfigError as exc:
            raise ValueError(exc.message) from None
        return v

    @field_validator("schema_version")
    @classmethod
    def _schema(cls, v: int) -> int:
        if v > SCHEMA_VERSION:
            raise ValueError(f"config schema_version {v} is newer than this codekd ({SCHEMA_VERSION})")
        return v


def format_validation(exc: ValidationError, prefix: str = "") -> str:
    """Pydantic's errors as ``field.path: message; ...`` (the field always named, one line)."""
    parts = []
    for e in exc.errors():
        loc = ".".join(str(x) for x in (prefix.split(".") if prefix else []) + list(e["loc"])) or "<root>"
        msg = " ".join(str(e["msg"]).split())
        got = e.get("input")
        shown = ""
        if e.get("type") not in ("missing", "extra_forbidden") and isinstance(got, (str, int, float, bool)):
            shown = repr(got) if len(repr(got)) <= 60 else repr(got)[:57] + "..."
            shown = f" (got {shown})"
        parts.append(f"{loc}: {msg}{shown}")
    return "; ".join(parts)


def validate(model: type[BaseModel], data: Any, source: str | Path | None = None, prefix: str = "") -> Any:
    """Validate ``data`` into ``model``; errors raise one :class:`ConfigError` line naming each field
    (under ``prefix``, e.g. ``train``) and the ``source`` (a file, or ``--set``)."""
    if not isinstance(data, dict):
        where = prefix or "the config"
        raise ConfigError(f"invalid config: {where} must be a mapping, got {type(data).__name__}", path=source)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"invalid config: {format_validation(exc, prefix)}", path=source) from None


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key given twice in one mapping (PyYAML keeps the last one
    silently, so ``lr`` written twice would quietly drop one of them)."""


def _construct_unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    loader.flatten_mapping(node)
    seen: dict[Any, Any] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(None, None, "a mapping key must be a plain value",
                                                    key_node.start_mark) from None
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"key {key!r} is given twice (first on line "
                                                    f"{seen[key].line + 1})", key_node.start_mark)
        seen[key] = key_node.start_mark
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)


def safe_load(text: str) -> Any:
    """``yaml.safe_load`` that also refuses duplicate keys (see :class:`_UniqueKeyLoader`)."""
    return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass


def load_yaml(path: str | Path) -> dict[str, Any]:
    """``yaml.safe_load`` a mapping, with the file and line of a syntax error."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError("is a folder, not a config file", path=path)
    if not path.is_file():
        raise ConfigError("config file not found", path=path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file is not valid UTF-8 (byte {exc.start})", path=path) from None
    except OSError as exc:
        raise ConfigError(f"cannot read the config file: {exc.strerror or exc}", path=path) from None
    try:
        obj = safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise ConfigError(f"YAML error: {' '.join(str(exc.problem or exc.context or 'syntax error').split())}",
                          path=path, line=line) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"YAML error: {' '.join(str(exc).split())}", path=path) from None
    except RecursionError:
        raise ConfigError("YAML error: nested too deeply", path=path) from None
    if obj is None:
        return {}
    if not isinstance(obj, dict):
        raise ConfigError("a config file must be a YAML mapping", path=path)
    return obj


def _parse_value(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    cur = data
    for p in parts[:-1]:
        nxt = cur.get(p)
        if nxt is None:
            nxt = cur[p] = {}
        if not isinstance(nxt, dict):
            raise ConfigError(f"cannot set {key!r}: {p!r} is not a mapping")
        cur = nxt
    cur[parts[-1]] = value


def apply_overrides(cfg: BaseModel, overrides: Sequence[str]) -> Any:
    """Apply ``a.b.c=value`` overrides (values parsed as YAML scalars) and re-validate."""
    data = cfg.model_dump()
    for ov in overrides:
        if "=" not in ov:
            raise ConfigError(f"override {ov!r} must look like key.path=value")
        key, _, raw = ov.partition("=")
        set_dotted(data, key.strip(), _parse_value(raw))
    return validate(type(cfg), data, source="--set")


def load_run_config(path: str | Path | None = None, overrides: Sequence[str] = (), **fields: Any) -> RunConfig:
    """Build a :class:`RunConfig` from an optional YAML file, keyword fields and dotted overrides."""
    data: dict[str, Any] = load_yaml(path) if path else {}
    for k, v in fields.items():
        if v is not None:
            set_dotted(data, k, v)
    cfg = validate(RunConfig, data, source=path)
    cfg = apply_overrides(cfg, overrides) if overrides else cfg
    if cfg.kind == "distill":
        # the check loads torch (the methods) and transformers (the student presets): the config
        # models themselves stay a light import
        from .methods.compat import check_run_config

        check_run_config(cfg)  # method x student x task, before any data or model is loaded
    return cfg


def dump_yaml(cfg: BaseModel) -> str:
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)
