"""Analytic size and cost of students (and reference teachers): parameters, bytes, FLOPs, the table.

Parameter counts are the exact formulas of :mod:`codekd.models.students.spec`.

FLOPs per example at sequence length ``T`` count every matrix multiply-add as 2 FLOPs. Embedding
lookups, biases, LayerNorm, softmax, activations and GRU gate element-wise ops are treated as free
(they are O(T*H), negligible next to the matmuls). The whole sequence of ``T`` tokens is assumed
real (no padding)::

    RoBERTa  L * (8*T*H^2 [Q,K,V,O] + 4*T^2*H [QK^T and AV] + 4*T*H*F [FFN]) + 2*H^2 + 2*H*C
    BiGRU    sum over layers of 2 directions * T * 2*(3H*in + 3H*H)  +  2*(2H)^2 + 2*2H*C

Decoder-only teachers (Qwen2, Llama, Gemma, Starcoder2, ...; ``A`` = heads x head size, ``K`` =
key-value heads x head size, grouped-query attention when ``K < A``; GLU MLPs such as SwiGLU have 3
H x F matrices, Starcoder2's plain MLP 2)::

    decoder  L * (2*T*H*(2A + 2K) [Q,O and K,V] + 4*T^2*A [QK^T and AV] + 2*m*T*H*F [MLP]) + 2*H*C

The head (``score``) is counted at the last real token only. Causal attention is counted with the
full ``T^2`` score matrix, which eager and sdpa attention compute (the mask is applied to it);
kernels that skip the masked half (flash attention) do about half the ``T^2`` term.

Sizes in MB use 1 MB = 10^6 bytes and 4 / 2 / 1 bytes per parameter for fp32 / fp16 / int8. The
int8 figure is the ideal bound of dynamic quantization (every weight int8, no scales, no graph
overhead); a real ONNX int8 file is larger, and a GRU gains less because the GRU op itself is not
quantized (STACK-NOTES.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from ...errors import ConfigError
from ..hf import hf_load, is_causal_config, quiet_transformers, resolve_model_name
from .presets import preset_names, resolve_spec
from .spec import StudentConfigSpec

BYTES_PER_PARAM = {"fp32": 4, "float32": 4, "fp16": 2, "float16": 2, "bf16": 2, "bfloat16": 2, "int8": 1}


# ------------------------------------------------------------------------------ parameters
def count_params(spec: StudentConfigSpec | str, num_labels: int = 2, *, vocab_size: int | None = None,
                 pad_token_id: int = 1) -> int:
    """Exact analytic parameter count of a student (equals the built model's ``numel`` sum)."""
    return resolve_spec(spec).num_params(num_labels, vocab_size=vocab_size, pad_token_id=pad_token_id)


def built_params(spec: StudentConfigSpec | str, num_labels: int = 2, *, vocab_size: int | None = None) -> int:
    """Parameter count of the actually built model. Built on the ``meta`` device: no memory, ~10 ms."""
    import torch

    spec = resolve_spec(spec)
    with torch.device("meta"):
        model = spec.build(num_labels, vocab_size=vocab_size)
    return sum(p.numel() for p in model.parameters())


# ------------------------------------------------------------------------------ FLOPs
def transformer_flops(*, hidden: int, layers: int, ffn: int, seq_len: int, num_labels: int,
                      ffn_matmul_factor: int = 2) -> int:
    """Matmul FLOPs of a BERT-style encoder + classification head on one example of ``seq_len`` tokens.

    ``ffn_matmul_factor`` is the number of H x F matrices in the FFN (2 for a plain MLP, 3 for a
    GLU such as ModernBERT's).
    """
    t, h, f = seq_len, hidden, ffn
    per_layer = 8 * t * h * h + 4 * t * t * h + 2 * ffn_matmul_factor * t * h * f
    head = 2 * h * h + 2 * h * num_labels
    return layers * per_layer + head


def decoder_flops(*, hidden: int, layers: int, ffn: int, seq_len: int, num_labels: int, heads: int,
                  kv_heads: int | None = None, head_dim: int | None = None, ffn_matmul_factor: int = 3) -> int:
    """Matmul FLOPs of a decoder-only classifier (see the module docstring) on one example of ``seq_len`` tokens."""
    t, h, f = seq_len, hidden, ffn
    hd = int(head_dim or h // heads)
    a, k = heads * hd, int(kv_heads or heads) * hd
    per_layer = 2 * t * h * (2 * a + 2 * k) + 4 * t * t * a + 2 * ffn_matmul_factor * t * h * f
    return layers * per_layer + 2 * h * num_labels


def flops_per_example(spec: StudentConfigSpec | str, seq_len: int = 512, num_labels: int = 2) -> int:
    """Analytic forward FLOPs of one example of ``seq_len`` tokens (multiply-add = 2 FLOPs; see module doc)."""
    spec = resolve_spec(spec)
    if seq_len < 1:
        raise ConfigError(f"seq_len must be >= 1, got {seq_len}")
    if spec.family == "roberta":
        return transformer_flops(hidden=spec.hidden, layers=spec.layers, ffn=int(spec.ffn or 0), seq_len=seq_len,
                                 num_labels=num_labels)
    h, t = spec.hidden, seq_len
    total = 0
    for i in range(spec.layers):
        inp = h if i == 0 else 2 * h
        total += 2 * t * 2 * (3 * h * inp + 3 * h * h)
    total += 2 * (2 * h) * (2 * h) + 2 * (2 * h) * num_labels
    return total


def size_mb(params: int, dtype: str = "fp32") -> float:
    """Weight size in MB (10^6 bytes): fp32 4 B, fp16/bf16 2 B, int8 1 B per parameter.

    int8 is the ideal bound of dynamic quantization (all weights int8, no scales or graph overhead).
    """
    try:
        return params * BYTES_PER_PARAM[dtype.lower()] / 1e6
    except KeyError:
        raise ConfigError(f"unknown dtype {dtype!r} (known: fp32, fp16, bf16, int8)") from None


# ------------------------------------------------------------------------------ teachers
@dataclass(frozen=True)
class TeacherRef:
    """A teacher's size for ratios: name, parameter count (with the classifier), FLOPs per example or None."""

    name: str
    params: int
    flops: int | None
    seq_len: int
    arch: str = ""


#: decoder-only code LLMs by their published config.json shapes (hidden, intermediate, layers, heads,
#: key-value heads, vocabulary, positions); with a sequence-classification head (no LM head).
_DECODER_SHAPES: dict[str, tuple[str, dict[str, Any]]] = {
    "qwen2.5-coder-0.5b": ("qwen2", dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
                                         num_attention_heads=14, num_key_value_heads=2, vocab_size=151936,
                                         max_position_embeddings=32768)),
    "qwen2.5-coder-1.5b": ("qwen2", dict(hidden_size=1536, intermediate_size=8960, num_hidden_layers=28,
                                         num_attention_heads=12, num_key_value_heads=2, vocab_size=151936,
                                         max_position_embeddings=32768)),
    "qwen2.5-coder-7b": ("qwen2", dict(hidden_size=3584, intermediate_size=18944, num_hidden_layers=28,
                                       num_attention_heads=28, num_key_value_heads=4, vocab_size=152064,
                                       max_position_embeddings=32768)),
    "starcoder2-3b": ("starcoder2", dict(hidden_size=3072, intermediate_size=12288, num_hidden_layers=30,
                                         num_attention_heads=24, num_key_value_heads=2, vocab_size=49152,
                                         max_position_embeddings=16384)),
    "deepseek-coder-1.3b": ("llama", dict(hidden_size=2048, intermediate_size=5504, num_hidden_layers=24,
                                          num_attention_heads=16, num_key_value_heads=16, vocab_size=32256,
                                          max_position_embeddings=16384)),
    "codellama-7b": ("llama", dict(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                                   num_attention_heads=32, num_key_value_heads=32, vocab_size=32016,
                                   max_position_embeddings=16384)),
}
#: decoder model types whose MLP is a plain 2-matrix MLP (the others here are GLUs with 3 matrices)
_PLAIN_MLP_DECODERS = {"starcoder2", "gpt2", "gpt_bigcode", "gpt_neox", "phi", "falcon"}


def known_teacher_config(name: str, num_labels: int):
    """HF configs of well-known teachers' shapes (no download needed)."""
    from transformers import BertConfig, ModernBertConfig, RobertaConfig

    key = name.lower()
    if key.split("/")[-1] in _DECODER_SHAPES:
        from transformers import AutoConfig

        model_type, shape = _DECODER_SHAPES[key.split("/")[-1]]
        return AutoConfig.for_model(model_type, num_labels=num_labels, **shape)
    if key in {"unixcoder-base", "unixcoder", "microsoft/unixcoder-base"}:
        # microsoft/unixcoder-base: RoBERTa, vocab 51416, 1026 positions, 10 token types -> 125.93M with 2 labels
        return RobertaConfig(vocab_size=51416, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                             intermediate_size=3072, max_position_embeddings=1026, type_vocab_size=10,
                             pad_token_id=1, num_labels=num_labels)
    if key in {"codebert-base", "codebert", "microsoft/codebert-base"}:
        return RobertaConfig(vocab_size=50265, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                             intermediate_size=3072, max_position_embeddings=514, type_vocab_size=1,
                             pad_token_id=1, num_labels=num_labels)
    if key in {"modernbert-base", "modernbert", "answerdotai/modernbert-base"}:
        return ModernBertConfig(num_labels=num_labels)  # the defaults are ModernBERT-base's shape
    if key in {"minilm", "all-minilm-l6-v2"}:
        return BertConfig(vocab_size=30522, hidden_size=384, num_hidden_layers=6, num_attention_heads=12,
                          intermediate_size=1536, max_position_embeddings=512, type_vocab_size=2,
                          pad_token_id=0, num_labels=num_labels)
    return None


KNOWN_TEACHERS = ("unixcoder-base", "codebert-base", "modernbert-base", "minilm", *_DECODER_SHAPES)


def config_flops(config: Any, seq_len: int, num_labels: int) -> int | None:
    """Matmul FLOPs per example for BERT/RoBERTa/ModernBERT-shaped and decoder-only configs (None for
    other architectures).

    ModernBERT's sliding-window layers are counted with full T^2 attention, which is what eager and
    sdpa attention compute (the window is applied as a mask).
    """
    mt = getattr(config, "model_type", "")
    h = getattr(config, "hidden_size", None)
    n = getattr(config, "num_hidden_layers", None)
    f = getattr(config, "intermediate_size", None)
    if not (h and n and f):
        return None
    if mt == "modernbert":
        return transformer_flops(hidden=h, layers=n, ffn=f, seq_len=seq_len, num_labels=num_labels, ffn_matmul_factor=3)
    if mt in {"bert", "roberta", "xlm-roberta", "camembert", "electra", "data2vec-text", "roberta-prelayernorm"}:
        return transformer_flops(hidden=h, layers=n, ffn=f, seq_len=seq_len, num_labels=num_labels)
    heads = getattr(config, "num_attention_heads", None)
    if heads and is_causal_config(config):
        return decoder_flops(hidden=h, layers=n, ffn=f, seq_len=seq_len, num_labels=num_labels, heads=heads,
                             kv_heads=getattr(config, "num_key_value_heads", None) or heads,
                             head_dim=getattr(config, "head_dim", None) or h // heads,
                             ffn_matmul_factor=2 if mt in _PLAIN_MLP_DECODERS else 3)
    return None


def _params_from_config(config: Any, num_labels: int) -> int:
    import torch
    from transformers import AutoModel, AutoModelForSequenceClassification

    quiet_transformers()
    config.num_labels = num_labels
    with torch.device("meta"):
        try:
            model = AutoModelForSequenceClassification.from_config(config)
        except ValueError:
            model = AutoModel.from_config(config)
    return sum(p.numel() for p in model.parameters())


def teacher_reference(teacher: str, *, seq_len: int = 512, num_labels: int = 2) -> TeacherRef:
    """Size of a teacher for ratios: a known shape (``unixcoder-base``, ``codebert-base``,
    ``modernbert-base``, ``minilm``) or any local folder / cached hub id (its config is read; no
    weights are loaded). The count includes a ``num_labels`` classification head."""
    config = known_teacher_config(teacher, num_labels)
    if config is None:
        from transformers import AutoConfig

        config = hf_load(AutoConfig.from_pretrained, resolve_model_name(teacher), what="teacher config")
    params = _params_from_config(config, num_labels)
    flops = config_flops(config, seq_len, num_labels)
    return TeacherRef(name=teacher, params=params, flops=flops, seq_len=seq_len,
                      arch=getattr(config, "model_type", ""))


# ------------------------------------------------------------------------------ the table
def student_row(spec: StudentConfigSpec | str, *, seq_len: int = 512, num_labels: int = 2,
                teacher: TeacherRef | None = None, vocab_size: int | None = None) -> dict[str, Any]:
    """One row of the students table (see :func:`students_table`)."""
    spec = resolve_spec(spec)
    vocab = spec.vocab_size if vocab_size is None else int(vocab_size)
    built = built_params(spec, num_labels, vocab_size=vocab)
    formula = count_params(spec, num_labels, vocab_size=vocab)
    flops = flops_per_example(spec, seq_len, num_labels)
    row: dict[str, Any] = {
        "preset": spec.name,
        "family": spec.family,
        "vocab": vocab,
        "layers": spec.layers,
        "hidden": spec.hidden,
        "heads": spec.heads,
        "ffn": spec.ffn,
        "params_built": built,
        "params_formula": formula,
        "fp32_mb": size_mb(built, "fp32"),
        "fp16_mb": size_mb(built, "fp16"),
        "int8_mb": size_mb(built, "int8"),
        "gflops": flops / 1e9,
        "seq_len": seq_len,
    }
    if teacher is not None:
        row["teacher"] = teacher.name
        row["pct_teacher_params"] = 100.0 * built / teacher.params
        row["pct_teacher_flops"] = 100.0 * flops / teacher.flops if teacher.flops else None
    return row


def students_table(*, seq_len: int = 512, num_labels: int = 2, teacher: str | TeacherRef | None = "unixcoder-base",
                   presets: Iterable[str | StudentConfigSpec] | None = None) -> list[dict[str, Any]]:
    """Every preset (or the given ones) with built and analytic parameters, MB at fp32/fp16/int8,
    GFLOPs per example at ``seq_len``, and the percentage of the teacher's parameters and FLOPs.

    Raises :class:`ConfigError` if a built count ever differs from the formula.
    """
    ref = teacher_reference(teacher, seq_len=seq_len, num_labels=num_labels) if isinstance(teacher, str) else teacher
    rows = []
    for item in presets if presets is not None else preset_names():
        row = student_row(item, seq_len=seq_len, num_labels=num_labels, teacher=ref)
        if row["params_built"] != row["params_formula"]:  # pragma: no cover - guarded by tests
            raise ConfigError(f"parameter formula disagrees with the built model for {row['preset']}: "
                              f"{row['params_formula']:,} vs {row['params_built']:,}")
        rows.append(row)
    return rows


__all__ = [
    "BYTES_PER_PARAM",
    "KNOWN_TEACHERS",
    "TeacherRef",
    "built_params",
    "config_flops",
    "count_params",
    "decoder_flops",
    "flops_per_example",
    "known_teacher_config",
    "size_mb",
    "student_row",
    "students_table",
    "teacher_reference",
    "transformer_flops",
]
