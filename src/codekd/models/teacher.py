"""Any Hugging Face encoder or decoder-only code LLM as a teacher: loading, input building (pairs,
UniXcoder), offsets, outputs.

>>> teacher = Teacher.load("path/or/hub-id", num_labels=2)            # doctest: +SKIP
>>> batch = teacher.encode(["int f() { return 0; }"])                 # doctest: +SKIP
>>> out = teacher(**batch)                                            # doctest: +SKIP
>>> out.logits.shape, len(out.hidden_states)                          # doctest: +SKIP

Heads
    * single-function tasks, and pairs with ``pair_mode="joint"`` (the paper: both functions in one
      sequence as a text pair): ``AutoModelForSequenceClassification`` where the architecture has
      one, else ``AutoModel`` + a RoBERTa-style head on the first token.
    * pairs with ``pair_mode="separate"`` (CodeXGLUE clone detection): ``AutoModel`` encodes each
      function on its own; the first-token vectors of the two are concatenated and fed to
      dense(2H -> H) -> tanh -> dropout -> out_proj(H -> num_labels).
    * decoder-only (causal) models (Qwen2, Llama, Gemma, Starcoder2, ...; detected from the config by
      :func:`~codekd.models.hf.is_causal_config`): ``pooling: last`` is chosen for them, the state
      of the last real (non-padding) token, the only one that has seen the whole input. Their HF
      classifier's ``score`` layer is applied to that state (the same position HF reads with right
      padding, but found from the attention mask, so left padding and a pad token equal to EOS
      are handled too). A tokenizer without a pad token gets one (EOS, else UNK, else a new
      ``<|pad|>``), and the model config's ``pad_token_id`` is set to it.

UniXcoder
    When the tokenizer has the ``<encoder-only>`` token (or ``unixcoder=True``), the input is
    ``<s> <encoder-only> </s> code </s>`` (joint pairs: ``<s> <encoder-only> </s> a </s></s> b </s>``),
    with the prefix counted inside ``max_length``.

Batches (``encode``) hold ``input_ids``, ``attention_mask``, ``offset_mapping`` ([B, T, 2] character
offsets into the code strings given, (0, 0) for special and pad tokens), ``sequence_ids`` ([B, T]:
0 = first function, 1 = second function of a joint pair, -1 = special / pad) and, when the model
uses them, ``token_type_ids``. Separate pairs add the same keys with a ``_b`` suffix for the second
function; both sides are padded to the same length.

Loading is offline by default (``local_files_only`` unless ``HF_HUB_OFFLINE=0``); a model that
cannot be found raises :class:`~codekd.errors.ModelLoadError` saying where it looked.
"""

from __future__ import annotations

import inspect
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Sequence

import torch
from torch import nn
from tokenizers import AddedToken
from transformers.modeling_outputs import ModelOutput

from ..errors import ConfigError, ModelLoadError
from .heads import classification_loss
from .hf import hf_load, is_causal_config, position_limit, quiet_transformers, resolve_model_name
from .lora import is_peft_model, save_lora
from .students import gru  # noqa: F401  (registers codekd-bigru: a codekd BiGRU folder can be a teacher too)

PairMode = Literal["joint", "separate"]
UNIXCODER_TOKEN = "<encoder-only>"
TEACHER_FILE = "codekd_teacher.json"
HEAD_FILE = "codekd_head.safetensors"
_FORMAT = 1


@dataclass
class TeacherOutput(ModelOutput):
    """What a teacher forward returns.

    ``hidden_states``: tuple of ``num_layers + 1`` tensors ``[B, T, H]`` (embeddings, then each
    layer). ``attentions``: tuple of ``[B, heads, T, T]`` when asked for (needs eager attention).
    ``pooled``: the vector the classifier reads (``[B, H]``, or ``[B, 2H]`` for separate pairs).
    For separate pairs, ``hidden_states`` / ``attentions`` / ``attention_mask`` are the first
    function's and the ``_b`` fields the second's.
    """

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    attentions: tuple[torch.Tensor, ...] | None = None
    attention_mask: torch.Tensor | None = None
    pooled: torch.Tensor | None = None
    hidden_states_b: tuple[torch.Tensor, ...] | None = None
    attentions_b: tuple[torch.Tensor, ...] | None = None
    attention_mask_b: torch.Tensor | None = None


class FirstTokenHead(nn.Module):
    """RoBERTa-style classifier on the first token: dropout, dense(H*k -> H), tanh, dropout, out_proj.

    ``k = 1`` for one sequence, ``k = 2`` for the concatenated vectors of a separately encoded pair
    (CodeXGLUE's clone-detection head).
    """

    def __init__(self, hidden_size: int, num_labels: int, *, inputs: int = 1, dropout: float = 0.1):
        super().__init__()
        self.inputs = inputs
        self.dense = nn.Linear(hidden_size * inputs, hidden_size)
        self.dropout = nn.Dropout(dropout)
        self.out_proj = nn.Linear(hidden_size, num_labels)
        nn.init.normal_(self.dense.weight, std=0.02)
        nn.init.zeros_(self.dense.bias)
        nn.init.normal_(self.out_proj.weight, std=0.02)
        nn.init.zeros_(self.out_proj.bias)

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        x = self.dropout(pooled)
        x = torch.tanh(self.dense(x))
        x = self.dropout(x)
        return self.out_proj(x)


POOLINGS = ("cls", "mean", "last")
PAD_TOKEN = "<|pad|>"


def last_token_index(attention_mask: torch.Tensor) -> torch.Tensor:
    """``[B]``: the position of each row's last real token (rightmost 1 of the mask; left or right
    padding; 0 for an all-padding row)."""
    pos = torch.arange(attention_mask.shape[1], device=attention_mask.device)
    return (pos * (attention_mask != 0).to(pos.dtype)).argmax(-1)


def last_token_states(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """``[B, T, H] -> [B, H]``: the state at each row's last real token (what a causal model's
    classifier reads: the only position that has seen the whole input)."""
    idx = last_token_index(attention_mask).to(hidden.device)
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), idx]


def set_pad_token(tokenizer: Any) -> bool:
    """Give a tokenizer without a pad token one: its EOS, else its UNK, else a new ``<|pad|>``
    special token. Returns True when a new token was added (the embeddings must then grow)."""
    if tokenizer.pad_token is not None:
        return False
    for name in ("eos_token", "unk_token"):
        if getattr(tokenizer, name, None) is not None:
            tokenizer.pad_token = getattr(tokenizer, name)
            return False
    tokenizer.add_special_tokens({"pad_token": PAD_TOKEN})
    return True


def detect_pooling(folder: str | os.PathLike[str]) -> str:
    """``mean`` for a sentence-transformers folder whose pooling module averages the token states
    (``1_Pooling/config.json`` with ``pooling_mode_mean_tokens``), else ``cls``."""
    cfg = Path(folder) / "1_Pooling" / "config.json"
    try:
        data = json.loads(cfg.read_text()) if cfg.is_file() else {}
    except (OSError, json.JSONDecodeError):
        data = {}
    return "mean" if data.get("pooling_mode_mean_tokens") and not data.get("pooling_mode_cls_token") else "cls"


def has_unixcoder_token(tokenizer: Any) -> bool:
    """True if the tokenizer knows UniXcoder's ``<encoder-only>`` mode token."""
    try:
        return UNIXCODER_TOKEN in tokenizer.get_vocab()
    except Exception:  # pragma: no cover
        return False


def has_sequence_classifier(config: Any) -> bool:
    """Whether ``AutoModelForSequenceClassification`` has a class for this config."""
    from transformers import AutoModelForSequenceClassification

    return type(config) in AutoModelForSequenceClassification._model_mapping


def _score_layer(model: nn.Module) -> nn.Module | None:
    """The ``score`` layer of a decoder-only HF classifier (also under a peft wrapper), or None."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return getattr(base, "score", None)


def trained_num_labels(saved: dict[str, Any], config: Any) -> int | None:
    """How many labels a folder's *trained* classification head has (``codekd_teacher.json``, or a
    Hugging Face ``*ForSequenceClassification`` config), or None when it has no trained head."""
    archs = getattr(config, "architectures", None) or []
    hf_head = any(str(a).endswith("ForSequenceClassification") for a in archs)
    if saved.get("num_labels") is not None and (saved.get("head") is not None or hf_head):
        return int(saved["num_labels"])
    if hf_head and not saved:
        return int(getattr(config, "num_labels", 0) or 0) or None
    return None


def _truncate_pair(la: int, lb: int, budget: int) -> tuple[int, int]:
    """Longest-first truncation of two lengths to a total budget (like ``truncation="longest_first"``)."""
    while la + lb > budget:
        if la >= lb:
            la -= 1
        else:
            lb -= 1
    return la, lb


class Teacher(nn.Module):
    """A Hugging Face encoder with a classifier, its tokenizer, and codekd's input conventions.

    Attributes: ``model`` (the HF model), ``head`` (None, or the codekd head when the model is a
    bare encoder), ``tokenizer``, ``num_labels``, ``is_pair``, ``pair_mode``, ``unixcoder``,
    ``max_length`` (effective, capped by the model's position table), ``pooling`` (what the head
    reads: ``cls``, the first token's last state, or ``mean``, the mean of the last states over the
    real tokens, as sentence-transformers models such as all-MiniLM-L6-v2 were trained to be read).
    """

    def __init__(
        self,
        model: nn.Module,
        tokenizer: Any,
        *,
        num_labels: int,
        is_pair: bool = False,
        pair_mode: PairMode = "joint",
        unixcoder: bool = False,
        max_length: int = 512,
        head: FirstTokenHead | None = None,
        source: str | None = None,
        pooling: str | None = None,
    ):
        super().__init__()
        if pair_mode not in ("joint", "separate"):
            raise ConfigError(f"pair_mode must be 'joint' or 'separate', got {pair_mode!r}")
        self.causal = is_causal_config(model.config)
        if pooling is None:  # the reading a HF classifier of this kind does
            pooling = "last" if self.causal else "cls"
        if pooling not in POOLINGS:
            raise ConfigError(f"pooling must be one of {', '.join(POOLINGS)}, got {pooling!r}")
        self.lora: dict[str, Any] | None = None  # LoRA settings while adapters are attached (models.lora)
        if pooling == "mean" and head is None:
            raise ConfigError(f"{pooling} pooling needs the codekd head (a bare encoder), not a HF classifier")
        if pooling == "last" and head is None and _score_layer(model) is None:
            raise ConfigError("last-token pooling with a HF classifier needs its 'score' layer (a decoder-only "
                              f"*ForSequenceClassification); {type(model).__name__} has none")
        if pooling == "cls" and self.causal:
            raise ConfigError("cls pooling reads the first token, which in a decoder-only (causal) teacher has seen "
                              "only itself; use pooling 'last' (the default for decoders) or 'mean'")
        self.pooling = pooling
        self.model = model
        self.head = head
        self.tokenizer = tokenizer
        self.num_labels = int(num_labels)
        self.is_pair = bool(is_pair)
        self.pair_mode: PairMode = pair_mode
        self.unixcoder = bool(unixcoder)
        self.source = source
        limit = position_limit(model.config)
        self.requested_max_length = int(max_length)
        self.max_length = min(int(max_length), limit) if limit else int(max_length)
        min_len = 6 if self.unixcoder else 4
        if self.max_length < min_len:
            raise ConfigError(f"max_length {self.max_length} is too small for the special tokens (need >= {min_len})")
        if tokenizer is not None:
            tokenizer.padding_side = "right"
        params = inspect.signature(model.forward).parameters
        self._accepts_token_type_ids = "token_type_ids" in params

    # ------------------------------------------------------------------ properties
    @property
    def config(self):
        return self.model.config

    @property
    def dispatched(self) -> bool:
        """Loaded with a ``device_map``: its layers stay on the devices accelerate put them on."""
        return bool(getattr(self.model, "hf_device_map", None))

    @property
    def input_device(self) -> torch.device:
        """Where a batch goes: the device of the input embeddings."""
        try:
            return self.model.get_input_embeddings().weight.device
        except (AttributeError, NotImplementedError):
            return next(self.parameters()).device

    def place(self, device: torch.device | str) -> "Teacher":
        """Move to ``device``; a :attr:`dispatched` teacher keeps its layers where they are (only the
        codekd head, which reads the outputs on the inputs' device, moves)."""
        if not self.dispatched:
            return self.to(device)
        if self.head is not None:
            self.head.to(self.input_device)
        return self

    @property
    def hidden_size(self) -> int:
        return int(self.model.config.hidden_size)

    @property
    def num_layers(self) -> int:
        return int(self.model.config.num_hidden_layers)

    @property
    def separate(self) -> bool:
        """True when pairs are encoded separately (two encoder passes, concatenated pooled vectors)."""
        return self.is_pair and self.pair_mode == "separate"

    def __repr__(self) -> str:  # keep it short: the HF model repr is hundreds of lines
        return (f"Teacher({self.source!r}, arch={self.config.model_type}, layers={self.num_layers}, "
                f"hidden={self.hidden_size}, num_labels={self.num_labels}, is_pair={self.is_pair}, "
                f"pair_mode={self.pair_mode!r}, unixcoder={self.unixcoder}, max_length={self.max_length}, "
                f"pooling={self.pooling!r}, causal={self.causal})")

    def pool(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The vector the head reads from one layer's token states ``[B, T, H]`` -> ``[B, H]``."""
        if self.pooling == "last":
            return last_token_states(hidden, attention_mask)
        if self.pooling == "mean":
            m = attention_mask.unsqueeze(-1).to(hidden.dtype)
            return (hidden * m).sum(1) / m.sum(1).clamp_min(1.0)
        return hidden[:, 0]

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(
        cls,
        name_or_path: str | os.PathLike[str],
        num_labels: int | None = None,
        *,
        is_pair: bool | None = None,
        pair_mode: PairMode | None = None,
        unixcoder: bool | None = None,
        max_length: int | None = None,
        attn_implementation: str | None = None,
        dtype: torch.dtype | str | None = None,
        dropout: float | None = None,
        local_files_only: bool | None = None,
        pooling: str | None = None,
        quantization_config: Any = None,
        strict_labels: bool = False,
        device_map: str | dict[str, Any] | None = None,
    ) -> "Teacher":
        """Load a teacher by hub id, alias (``unixcoder-base``, ``codebert-base``, ``modernbert-base``,
        ``minilm``) or local folder.

        Arguments left as None come from a codekd teacher folder's ``codekd_teacher.json`` when the
        folder has one, else the defaults (``num_labels`` 2, ``is_pair`` False, ``pair_mode``
        "joint", ``unixcoder`` detected from the tokenizer, ``max_length`` 512, ``pooling`` "mean"
        for a sentence-transformers folder whose pooling module averages tokens, else "cls"). Use
        ``attn_implementation="eager"`` for attention-map distillation. The teacher is returned in
        eval mode.

        A decoder-only model (see the module docstring) gets ``pooling`` "last" when none is given
        or saved; a saved "cls" of a decoder (codekd before decoders were supported: its HF head
        read the last token anyway) is read as "last". ``quantization_config`` (e.g. bitsandbytes
        4-bit, for QLoRA) is passed to ``from_pretrained``, and so is ``device_map`` (a teacher larger
        than one GPU: ``auto``, ``balanced``, ...; accelerate's hooks run each layer where it was put and
        bring the outputs back to the inputs' device, see :attr:`dispatched`).
        ``strict_labels`` (distillation, caching): a folder whose trained classification head has
        another number of labels than ``num_labels`` is refused instead of getting a new, random
        head (whose outputs a student would then learn).
        """
        quiet_transformers()
        from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification, AutoTokenizer

        src = resolve_model_name(name_or_path)
        saved: dict[str, Any] = {}
        saved_file = Path(src) / TEACHER_FILE
        if saved_file.is_file():
            try:
                saved = json.loads(saved_file.read_text())
            except json.JSONDecodeError as exc:
                raise ModelLoadError(f"corrupt teacher settings: {exc}", path=str(saved_file)) from exc

        requested_labels = num_labels
        num_labels = int(num_labels if num_labels is not None else saved.get("num_labels", 2))
        is_pair = bool(is_pair if is_pair is not None else saved.get("is_pair", False))
        pair_mode = pair_mode if pair_mode is not None else saved.get("pair_mode", "joint")
        if pair_mode not in ("joint", "separate"):
            raise ConfigError(f"pair_mode must be 'joint' or 'separate', got {pair_mode!r}")
        if max_length is None:
            max_length = int(saved.get("max_length", 512))
        if unixcoder is None and "unixcoder" in saved:
            unixcoder = bool(saved["unixcoder"])
        config = hf_load(AutoConfig.from_pretrained, src, what="teacher", local_files_only=local_files_only)
        causal = is_causal_config(config)
        if pooling is None:
            pooling = saved.get("pooling") or ("last" if causal else detect_pooling(src))
            if causal and pooling == "cls":
                pooling = "last"
        if pooling not in POOLINGS:
            raise ConfigError(f"pooling must be one of {', '.join(POOLINGS)}, got {pooling!r}")
        trained = trained_num_labels(saved, config)
        if strict_labels and requested_labels is not None and trained is not None and trained != int(requested_labels):
            raise ConfigError(f"the teacher's trained classification head has {trained} labels but the task data has "
                              f"{int(requested_labels)}: it was fine-tuned for another label set, and a new head would be "
                              "random (fine-tune a teacher on this task: codekd teacher finetune)", path=str(name_or_path))
        if requested_labels is None and "num_labels" not in saved and has_sequence_classifier(config) and \
                any(a.endswith("ForSequenceClassification") for a in (getattr(config, "architectures", None) or [])):
            num_labels = int(config.num_labels)  # a plain fine-tuned HF classifier folder keeps its own head
        tokenizer = hf_load(AutoTokenizer.from_pretrained, src, what="teacher tokenizer",
                            local_files_only=local_files_only)
        pad_added = set_pad_token(tokenizer)
        detected = has_unixcoder_token(tokenizer)
        if unixcoder is None:
            unixcoder = detected
        elif unixcoder and not detected:
            raise ConfigError(f"unixcoder=True but the tokenizer of {src!r} has no {UNIXCODER_TOKEN} token")

        kwargs: dict[str, Any] = {}
        if attn_implementation is not None:
            kwargs["attn_implementation"] = attn_implementation
        if dtype is not None:
            kwargs["dtype"] = getattr(torch, dtype) if isinstance(dtype, str) else dtype
        if quantization_config is not None:
            kwargs["quantization_config"] = quantization_config
        if device_map is not None:
            kwargs["device_map"] = device_map
            if isinstance(device_map, dict) and "disk" in device_map.values():
                import tempfile

                kwargs["offload_folder"] = tempfile.mkdtemp(prefix="codekd-offload-")

        saved_head = saved.get("head")
        separate = is_pair and pair_mode == "separate"
        has_seq_cls = has_sequence_classifier(config)
        use_custom_head = separate or not has_seq_cls or pooling == "mean" or (pooling == "last" and not causal)
        if saved_head is not None and not use_custom_head:
            # saved as encoder + codekd head, now asked for a plain classifier: use the encoder
            use_custom_head = True

        head: FirstTokenHead | None = None
        if use_custom_head:
            model = hf_load(AutoModel.from_pretrained, src, what="teacher", local_files_only=local_files_only,
                            **kwargs)
            if dropout is None:
                # the config's own value, 0.0 included (a falsy 0.0 used to become 0.1)
                dropout = next((float(v) for v in (getattr(config, "classifier_dropout", None),
                                                   getattr(config, "hidden_dropout_prob", None)) if v is not None), 0.1)
            inputs = 2 if separate else 1
            head = FirstTokenHead(int(config.hidden_size), num_labels, inputs=inputs, dropout=dropout)
            if saved_head is not None and int(saved_head.get("inputs", 1)) == inputs and int(saved.get("num_labels", -1)) == num_labels:
                from safetensors.torch import load_file

                head_path = Path(src) / saved_head.get("file", HEAD_FILE)
                if not head_path.is_file():
                    raise ModelLoadError(f"teacher head weights missing: {head_path}", path=str(head_path))
                try:
                    head.load_state_dict(load_file(str(head_path)))
                except Exception as exc:  # SafetensorError (truncated), or a head of another shape
                    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                    raise ModelLoadError(f"teacher head weights are truncated, corrupt or of another shape "
                                         f"({type(exc).__name__}: {first})", path=str(head_path)) from None
            if "dtype" in kwargs:
                head.to(kwargs["dtype"])
            if device_map is not None:  # beside the embeddings: the dispatched encoder returns its outputs there
                head.to(model.get_input_embeddings().weight.device)
        else:
            mismatch = int(getattr(config, "num_labels", num_labels)) != num_labels
            model = hf_load(AutoModelForSequenceClassification.from_pretrained, src, what="teacher",
                            local_files_only=local_files_only, num_labels=num_labels,
                            ignore_mismatched_sizes=mismatch, **kwargs)
        if pad_added:
            model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
        if getattr(model.config, "pad_token_id", None) is None and tokenizer.pad_token_id is not None:
            model.config.pad_token_id = tokenizer.pad_token_id

        teacher = cls(model, tokenizer, num_labels=num_labels, is_pair=is_pair, pair_mode=pair_mode,
                      unixcoder=bool(unixcoder), max_length=int(max_length), head=head, source=str(name_or_path),
                      pooling=pooling)
        teacher.eval()
        return teacher

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike[str], **overrides: Any) -> "Teacher":
        """Load a folder written by :meth:`save_pretrained` (same as :meth:`load`, which also reads it)."""
        return cls.load(path, **overrides)

    def save_pretrained(self, folder: str | os.PathLike[str]) -> Path:
        """Save model, tokenizer and ``codekd_teacher.json`` (plus the codekd head, if any) in one folder.

        A model with LoRA adapters is saved merged (a plain HF folder), its adapters in ``lora/``.

        The folder loads back with :meth:`from_pretrained`; a joint/single teacher folder is also a
        plain ``AutoModelForSequenceClassification`` folder.
        """
        quiet_transformers()
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        lora = None
        if is_peft_model(self.model):  # adapters in out/lora, the merged model in out (plain HF folder)
            merged, lora = save_lora(self.model, out, source=self.source, info=self.lora)
            merged.save_pretrained(out)
        else:
            self.model.save_pretrained(out)
        self.tokenizer.save_pretrained(out)
        settings: dict[str, Any] = {
            "format": _FORMAT,
            "num_labels": self.num_labels,
            "is_pair": self.is_pair,
            "pair_mode": self.pair_mode,
            "unixcoder": self.unixcoder,
            "max_length": self.requested_max_length,
            "source": self.source,
            "pooling": self.pooling,
            "causal": self.causal,
            "head": None,
        }
        if lora is not None:
            settings["lora"] = lora
        if self.head is not None:
            from safetensors.torch import save_file

            state = {k: v.detach().contiguous().cpu() for k, v in self.head.state_dict().items()}
            save_file(state, str(out / HEAD_FILE))
            settings["head"] = {"kind": "first_token", "inputs": self.head.inputs, "file": HEAD_FILE,
                                "dropout": float(self.head.dropout.p)}
        (out / TEACHER_FILE).write_text(json.dumps(settings, indent=2) + "\n")
        return out

    def add_tokens(self, tokens: Sequence[str]) -> int:
        """Add ``tokens`` (e.g. the ``<nl>``/``<indent>``/``<dedent>`` structure markers) as special
        tokens, so an uncased tokenizer's normaliser cannot change them, and grow the embedding
        table. Returns how many were new."""
        new = [t for t in tokens if t not in self.tokenizer.get_vocab()]
        if not new:
            return 0
        # added as special tokens: never lower-cased or split, and kept by save_pretrained
        self.tokenizer.add_tokens([AddedToken(t, normalized=False, special=True) for t in new], special_tokens=True)
        self.model.resize_token_embeddings(len(self.tokenizer))
        return len(new)

    def set_attn_implementation(self, name: str) -> None:
        """Switch attention implementation (``"eager"`` is needed for attention maps)."""
        self.model.set_attn_implementation(name)

    # ------------------------------------------------------------------ input building
    def encode(
        self,
        codes: Sequence[str],
        codes_b: Sequence[str] | None = None,
        *,
        max_length: int | None = None,
        return_tensors: bool = True,
        pad_to_max_length: bool = False,
    ) -> dict[str, Any]:
        """Tokenise a batch of (already normalised) functions, or of function pairs.

        See the module docstring for the keys. ``max_length`` (default: the teacher's) is capped
        by the model's position limit and includes every special token (UniXcoder's prefix too).
        The batch is padded to its longest row, or with ``pad_to_max_length`` to ``max_length``
        (the paper's fixed padding, for benchmarks).
        """
        codes = list(codes)
        if codes_b is not None:
            codes_b = list(codes_b)
            if len(codes_b) != len(codes):
                raise ConfigError(f"pair batch sides differ in size: {len(codes)} vs {len(codes_b)}")
        elif self.is_pair:
            raise ConfigError("this teacher was loaded for pairs (is_pair=True): pass codes_b")
        ml = self.max_length if max_length is None else min(int(max_length), self.max_length)
        if codes_b is not None and self.pair_mode == "separate":
            both = self._encode_sequences(codes + codes_b, None, ml, pad_to_max_length)
            n = len(codes)
            out = {k: v[:n] for k, v in both.items()}
            out.update({f"{k}_b": v[n:] for k, v in both.items()})
        else:
            out = self._encode_sequences(codes, codes_b, ml, pad_to_max_length)
        if not return_tensors:
            return {k: v.tolist() for k, v in out.items()}
        return out

    def _encode_sequences(self, codes: list[str], codes_b: list[str] | None, ml: int,
                          pad_to_max_length: bool = False) -> dict[str, torch.Tensor]:
        if self.unixcoder:
            return self._encode_unixcoder(codes, codes_b, ml, pad_to_max_length)
        tok = self.tokenizer
        enc = tok(codes, codes_b, truncation=True, max_length=ml, padding="max_length" if pad_to_max_length else True,
                  return_offsets_mapping=True,
                  return_tensors="pt")
        seq_ids = [[-1 if s is None else s for s in enc.sequence_ids(i)] for i in range(len(codes))]
        out = {
            "input_ids": enc["input_ids"],
            "attention_mask": enc["attention_mask"],
            "offset_mapping": enc["offset_mapping"].to(torch.long),
            "sequence_ids": torch.tensor(seq_ids, dtype=torch.long),
        }
        out["sequence_ids"] = out["sequence_ids"].masked_fill(out["attention_mask"] == 0, -1)
        if "token_type_ids" in enc and self._accepts_token_type_ids:
            out["token_type_ids"] = enc["token_type_ids"]
        return out

    def _encode_unixcoder(self, codes: list[str], codes_b: list[str] | None, ml: int,
                          pad_to_max_length: bool = False) -> dict[str, torch.Tensor]:
        tok = self.tokenizer
        cls_id = tok.cls_token_id if tok.cls_token_id is not None else tok.bos_token_id
        sep_id = tok.sep_token_id if tok.sep_token_id is not None else tok.eos_token_id
        mode_id = tok.convert_tokens_to_ids(UNIXCODER_TOKEN)
        pad_id = tok.pad_token_id if tok.pad_token_id is not None else 1
        if cls_id is None or sep_id is None:
            raise ConfigError("UniXcoder input needs <s> (cls/bos) and </s> (sep/eos) tokens in the tokenizer")
        enc_a = tok(codes, add_special_tokens=False, return_offsets_mapping=True)
        enc_b = tok(codes_b, add_special_tokens=False, return_offsets_mapping=True) if codes_b is not None else None
        rows: list[tuple[list[int], list[tuple[int, int]], list[int]]] = []
        for i in range(len(codes)):
            ids_a, off_a = enc_a["input_ids"][i], enc_a["offset_mapping"][i]
            ids = [cls_id, mode_id, sep_id]
            offs = [(0, 0)] * 3
            sides = [-1] * 3
            if enc_b is None:
                la = min(len(ids_a), ml - 4)
                ids += ids_a[:la] + [sep_id]
                offs += [tuple(o) for o in off_a[:la]] + [(0, 0)]
                sides += [0] * la + [-1]
            else:
                ids_b, off_b = enc_b["input_ids"][i], enc_b["offset_mapping"][i]
                la, lb = _truncate_pair(len(ids_a), len(ids_b), ml - 6)
                ids += ids_a[:la] + [sep_id, sep_id] + ids_b[:lb] + [sep_id]
                offs += [tuple(o) for o in off_a[:la]] + [(0, 0)] * 2 + [tuple(o) for o in off_b[:lb]] + [(0, 0)]
                sides += [0] * la + [-1, -1] + [1] * lb + [-1]
            rows.append((ids, offs, sides))
        width = ml if pad_to_max_length else max(len(r[0]) for r in rows)
        n = len(rows)
        input_ids = torch.full((n, width), pad_id, dtype=torch.long)
        attention_mask = torch.zeros((n, width), dtype=torch.long)
        offsets = torch.zeros((n, width, 2), dtype=torch.long)
        seq_ids = torch.full((n, width), -1, dtype=torch.long)
        for i, (ids, offs, sides) in enumerate(rows):
            k = len(ids)
            input_ids[i, :k] = torch.tensor(ids)
            attention_mask[i, :k] = 1
            offsets[i, :k] = torch.tensor(offs, dtype=torch.long)
            seq_ids[i, :k] = torch.tensor(sides)
        return {"input_ids": input_ids, "attention_mask": attention_mask, "offset_mapping": offsets,
                "sequence_ids": seq_ids}

    # ------------------------------------------------------------------ forward
    def _encoder_pass(self, input_ids, attention_mask, token_type_ids, output_attentions: bool):
        kwargs: dict[str, Any] = {"attention_mask": attention_mask, "output_hidden_states": True,
                                  "return_dict": True}
        if output_attentions:
            kwargs["output_attentions"] = True
        if token_type_ids is not None and self._accepts_token_type_ids:
            kwargs["token_type_ids"] = token_type_ids
        return self.model(input_ids=input_ids, **kwargs)

    def _check_attentions(self, attn) -> None:
        if not attn:
            raise ConfigError(
                "the teacher returned no attention maps (sdpa attention does not provide them); load it with "
                "attn_implementation='eager' or call teacher.set_attn_implementation('eager')"
            )

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        input_ids_b: torch.Tensor | None = None,
        attention_mask_b: torch.Tensor | None = None,
        token_type_ids_b: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool = False,
        **ignored: Any,
    ) -> TeacherOutput:
        """Run the teacher on a batch from :meth:`encode` (extra keys such as ``offset_mapping`` are ignored)."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        hidden_b = attn_b = None
        if self.separate:
            if input_ids_b is None:
                raise ConfigError("a separate-pair teacher needs input_ids_b (encode(codes, codes_b))")
            if attention_mask_b is None:
                attention_mask_b = torch.ones_like(input_ids_b)
            n = input_ids.shape[0]
            if input_ids.shape == input_ids_b.shape:
                tt = None
                if token_type_ids is not None and token_type_ids_b is not None:
                    tt = torch.cat([token_type_ids, token_type_ids_b])
                out = self._encoder_pass(torch.cat([input_ids, input_ids_b]),
                                         torch.cat([attention_mask, attention_mask_b]), tt, output_attentions)
                hs_all = out.hidden_states
                hidden = tuple(h[:n] for h in hs_all)
                hidden_b = tuple(h[n:] for h in hs_all)
                if output_attentions:
                    self._check_attentions(out.attentions)
                    attn = tuple(a[:n] for a in out.attentions)
                    attn_b = tuple(a[n:] for a in out.attentions)
                else:
                    attn = None
            else:
                out_a = self._encoder_pass(input_ids, attention_mask, token_type_ids, output_attentions)
                out_b = self._encoder_pass(input_ids_b, attention_mask_b, token_type_ids_b, output_attentions)
                hidden, hidden_b = out_a.hidden_states, out_b.hidden_states
                attn = out_a.attentions if output_attentions else None
                attn_b = out_b.attentions if output_attentions else None
                if output_attentions:
                    self._check_attentions(attn)
            pooled = torch.cat([self.pool(hidden[-1], attention_mask), self.pool(hidden_b[-1], attention_mask_b)], dim=-1)
            logits = self.head(pooled)
        else:
            out = self._encoder_pass(input_ids, attention_mask, token_type_ids, output_attentions)
            hidden = out.hidden_states
            attn = out.attentions if output_attentions else None
            if output_attentions:
                self._check_attentions(attn)
            pooled = self.pool(hidden[-1], attention_mask)
            if self.head is not None:
                logits = self.head(pooled)
            elif self.pooling == "last":  # the HF classifier's score layer, at the last real token
                logits = _score_layer(self.model)(pooled).to(pooled.device)  # (dispatched: on the last GPU)
            else:
                logits = out.logits
        loss = None
        if labels is not None:
            loss = classification_loss(logits, labels, self.num_labels)
        return TeacherOutput(
            loss=loss,
            logits=logits,
            hidden_states=tuple(hidden),
            attentions=tuple(attn) if attn is not None else None,
            attention_mask=attention_mask,
            pooled=pooled,
            hidden_states_b=tuple(hidden_b) if hidden_b is not None else None,
            attentions_b=tuple(attn_b) if attn_b is not None else None,
            attention_mask_b=attention_mask_b if self.separate else None,
        )

    @torch.no_grad()
    def predict_logits(self, codes: Sequence[str], codes_b: Sequence[str] | None = None) -> torch.Tensor:
        """Convenience: encode and run in no-grad mode, returning logits."""
        batch = self.encode(codes, codes_b)
        device = self.input_device
        batch = {k: v.to(device) for k, v in batch.items()}
        return self(**batch).logits


def load_teacher(name_or_path: str | os.PathLike[str], num_labels: int | None = None, **kwargs: Any) -> Teacher:
    """Function form of :meth:`Teacher.load`."""
    return Teacher.load(name_or_path, num_labels, **kwargs)


__all__ = [
    "FirstTokenHead",
    "HEAD_FILE",
    "TEACHER_FILE",
    "Teacher",
    "TeacherOutput",
    "UNIXCODER_TOKEN",
    "has_sequence_classifier",
    "has_unixcoder_token",
    "last_token_index",
    "last_token_states",
    "load_teacher",
    "set_pad_token",
    "trained_num_labels",
]
