"""The shape of a student: :class:`StudentConfigSpec`, and its exact parameter count.

A student is described by a :class:`StudentConfigSpec` (family, vocabulary, depth, width, heads,
FFN, positions, dropout). The spec's ``vocab_size`` is only a default: the real vocabulary of a
student is the size of its trained tokenizer (see :func:`codekd.models.students.presets.build_student`).

BiGRU shape convention: ``hidden`` is the per-direction GRU size *and* the embedding width; layer
outputs are ``2 * hidden`` wide; positions are a learned table of ``max_positions`` rows (512).
With this reading the SPEC table's BiGRU counts are met exactly (gru-1.5m: 1,500,930 parameters
with 2 labels; gru-7m: 7,102,722; gru-30m: 30,499,842).

Parameter formulas (``V`` vocab, ``H`` hidden, ``L`` layers, ``F`` FFN, ``P`` usable positions,
``C`` labels, ``p`` pad id). They equal ``sum(p.numel() for p in model.parameters())`` of the built
model exactly (tested).

RoBERTa student (``RobertaForSequenceClassification``, no pooler, ``type_vocab_size = 1``)::

    embeddings  V*H + (P + p + 1)*H + 1*H + 2H            (word, position, token type, LayerNorm)
    per layer   4*(H*H + H) + 2H + (H*F + F) + (F*H + H) + 2H   = 4H^2 + 2HF + 9H + F
    head        (H*H + H) + (H*C + C)                       (dense, out_proj)

BiGRU student (``hidden`` = per-direction size = embedding width; first layer input H, later 2H)::

    embeddings  V*H + P*H + 2H
    per layer   2 * (3H*in + 3H*H + 6H)                     (two directions, 3 gates, 2 bias vectors)
    head        (2H*2H + 2H) + (2H*C + C)
"""

from __future__ import annotations

from typing import Any, Literal, Mapping

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from ...errors import ConfigError
from .gru import build_gru
from .roberta import build_roberta

Family = Literal["roberta", "gru"]


def default_heads(hidden: int) -> int:
    """A sensible head count for a width: the most heads (<= 12) whose head size is at least 16."""
    for heads in (12, 8, 6, 5, 4, 3, 2, 1):
        if hidden % heads == 0 and hidden // heads >= 16:
            return heads
    return 1


class StudentConfigSpec(BaseModel):
    """The shape of a student; validated, immutable, YAML/JSON friendly."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "custom"
    family: Family
    vocab_size: int
    layers: int
    hidden: int
    heads: int | None = None
    ffn: int | None = None
    max_positions: int = 512
    dropout: float = 0.1
    description: str = ""

    @field_validator("vocab_size", "layers", "hidden", "max_positions")
    @classmethod
    def _positive(cls, v: int) -> int:
        if v < 1:
            raise ValueError("must be >= 1")
        return v

    @field_validator("dropout")
    @classmethod
    def _dropout(cls, v: float) -> float:
        if not 0.0 <= v < 1.0:
            raise ValueError("must be in [0, 1)")
        return v

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            data = dict(data)
            fam = str(data.get("family", "")).lower()
            if fam == "bigru":
                data["family"] = fam = "gru"
            if fam == "roberta" and isinstance(data.get("hidden"), int):
                if data.get("heads") is None:
                    data["heads"] = default_heads(data["hidden"])
                if data.get("ffn") is None:
                    data["ffn"] = 4 * data["hidden"]
        return data

    @model_validator(mode="after")
    def _family_fields(self) -> "StudentConfigSpec":
        if self.family == "roberta":
            if self.heads is None or self.heads < 1 or self.hidden % self.heads:
                raise ValueError(f"hidden ({self.hidden}) must be a multiple of heads ({self.heads})")
            if self.ffn is None or self.ffn < 1:
                raise ValueError("ffn must be >= 1")
        elif self.heads is not None or self.ffn is not None:
            raise ValueError("a BiGRU student has no heads or ffn; leave them out")
        return self

    # ------------------------------------------------------------------ helpers
    def replace(self, **changes: Any) -> "StudentConfigSpec":
        """A copy with some fields changed (validated again)."""
        data = self.model_dump()
        data.update(changes)
        return make_spec(**data)

    def num_params(self, num_labels: int = 2, vocab_size: int | None = None, pad_token_id: int = 1) -> int:
        """Exact analytic parameter count (equals the built model's ``numel`` sum; see the module docstring)."""
        vocab = self.vocab_size if vocab_size is None else int(vocab_size)
        if self.family == "roberta":
            return roberta_params(vocab_size=vocab, hidden=self.hidden, layers=self.layers, ffn=int(self.ffn or 0),
                                  num_labels=num_labels, position_rows=self.max_positions + pad_token_id + 1)
        return gru_params(vocab_size=vocab, hidden=self.hidden, layers=self.layers, num_labels=num_labels,
                          max_positions=self.max_positions)

    def build(
        self,
        num_labels: int,
        vocab_size: int | None = None,
        pad_token_id: int = 1,
        *,
        bos_token_id: int | None = 0,
        eos_token_id: int | None = 2,
        attn_implementation: str | None = None,
    ):
        """Build a randomly initialised student (``RobertaForSequenceClassification`` or BiGRU)."""
        if num_labels < 1:
            raise ConfigError(f"num_labels must be >= 1, got {num_labels}")
        vocab = int(vocab_size) if vocab_size is not None else self.vocab_size
        if self.family == "roberta":
            return build_roberta(
                vocab_size=vocab, hidden=self.hidden, layers=self.layers, heads=int(self.heads or 1),
                ffn=int(self.ffn or 4 * self.hidden), num_labels=num_labels, max_positions=self.max_positions,
                dropout=self.dropout, pad_token_id=pad_token_id, bos_token_id=bos_token_id,
                eos_token_id=eos_token_id, attn_implementation=attn_implementation,
            )
        return build_gru(
            vocab_size=vocab, hidden=self.hidden, layers=self.layers, num_labels=num_labels,
            max_positions=self.max_positions, dropout=self.dropout, pad_token_id=pad_token_id,
            bos_token_id=bos_token_id, eos_token_id=eos_token_id,
        )

    def summary(self) -> str:
        if self.family == "roberta":
            shape = f"L{self.layers} H{self.hidden} A{self.heads} F{self.ffn}"
        else:
            shape = f"L{self.layers} H{self.hidden} (x2 directions)"
        return f"{self.name}: {self.family} vocab {self.vocab_size} {shape}"


def make_spec(**fields: Any) -> StudentConfigSpec:
    """Build a :class:`StudentConfigSpec`, turning validation errors into one ConfigError line."""
    try:
        return StudentConfigSpec(**fields)
    except ValidationError as exc:
        parts = []
        for err in exc.errors():
            loc = ".".join(str(x) for x in err.get("loc", ())) or "student"
            parts.append(f"{loc}: {err.get('msg')}")
        raise ConfigError("invalid student config: " + "; ".join(parts)) from None


def custom_spec(
    family: str,
    *,
    layers: int,
    hidden: int,
    vocab_size: int,
    heads: int | None = None,
    ffn: int | None = None,
    max_positions: int = 512,
    dropout: float = 0.1,
    name: str | None = None,
) -> StudentConfigSpec:
    """A student of any size. RoBERTa defaults: ``heads`` from :func:`default_heads`, ``ffn = 4 * hidden``."""
    fam = family.lower()
    if fam in {"bigru", "gru"}:
        fam = "gru"
    if fam == "gru":
        heads = ffn = None
    label = name or f"custom-{fam}-L{layers}-H{hidden}"
    return make_spec(name=label, family=fam, vocab_size=vocab_size, layers=layers, hidden=hidden, heads=heads,
                     ffn=ffn, max_positions=max_positions, dropout=dropout)


# ------------------------------------------------------------------------------ parameters
def roberta_params(*, vocab_size: int, hidden: int, layers: int, ffn: int, num_labels: int,
                   position_rows: int, type_vocab_size: int = 1) -> int:
    """Parameters of a BERT/RoBERTa-shaped sequence classifier (no pooler + 2-layer head, or
    pooler + 1-layer classifier: the two have the same count)."""
    h, f, c = hidden, ffn, num_labels
    emb = vocab_size * h + position_rows * h + type_vocab_size * h + 2 * h
    layer = 4 * h * h + 2 * h * f + 9 * h + f
    head = (h * h + h) + (h * c + c)
    return emb + layers * layer + head


def gru_params(*, vocab_size: int, hidden: int, layers: int, num_labels: int, max_positions: int) -> int:
    h, c = hidden, num_labels
    emb = vocab_size * h + max_positions * h + 2 * h
    total = emb
    for i in range(layers):
        inp = h if i == 0 else 2 * h
        total += 2 * (3 * h * inp + 3 * h * h + 6 * h)
    total += (2 * h) * (2 * h) + 2 * h + (2 * h) * c + c
    return total


__all__ = [
    "Family",
    "StudentConfigSpec",
    "custom_spec",
    "default_heads",
    "gru_params",
    "make_spec",
    "roberta_params",
]
