"""RoBERTa students: ``RobertaForSequenceClassification`` built from a config.

Conventions (match the student BPE tokenizers built by codekd: ``<s>``=0, ``<pad>``=1, ``</s>``=2):

* ``max_position_embeddings = max_positions + pad_token_id + 1`` (514 for 512 usable tokens),
  because RoBERTa numbers positions from ``pad_token_id + 1``;
* ``type_vocab_size = 1`` (no segment embeddings beyond the single RoBERTa one);
* GELU, LayerNorm eps 1e-5, initializer range 0.02, dropout on hidden states and attention.
"""

from __future__ import annotations

from transformers import RobertaConfig, RobertaForSequenceClassification


def roberta_config(
    *,
    vocab_size: int,
    hidden: int,
    layers: int,
    heads: int,
    ffn: int,
    num_labels: int,
    max_positions: int = 512,
    dropout: float = 0.1,
    pad_token_id: int = 1,
    bos_token_id: int | None = 0,
    eos_token_id: int | None = 2,
) -> RobertaConfig:
    """The ``RobertaConfig`` of a student (see the module docstring for the conventions)."""
    return RobertaConfig(
        vocab_size=vocab_size,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=ffn,
        max_position_embeddings=max_positions + pad_token_id + 1,
        type_vocab_size=1,
        hidden_dropout_prob=dropout,
        attention_probs_dropout_prob=dropout,
        layer_norm_eps=1e-5,
        pad_token_id=pad_token_id,
        bos_token_id=bos_token_id,
        eos_token_id=eos_token_id,
        num_labels=num_labels,
    )


def build_roberta(
    *,
    vocab_size: int,
    hidden: int,
    layers: int,
    heads: int,
    ffn: int,
    num_labels: int,
    max_positions: int = 512,
    dropout: float = 0.1,
    pad_token_id: int = 1,
    bos_token_id: int | None = 0,
    eos_token_id: int | None = 2,
    attn_implementation: str | None = None,
) -> RobertaForSequenceClassification:
    """Build a randomly initialised RoBERTa student.

    ``attn_implementation="eager"`` is needed when attention maps are distilled (sdpa returns an
    empty attentions tuple, see STACK-NOTES.md).
    """
    config = roberta_config(
        vocab_size=vocab_size, hidden=hidden, layers=layers, heads=heads, ffn=ffn, num_labels=num_labels,
        max_positions=max_positions, dropout=dropout, pad_token_id=pad_token_id,
        bos_token_id=bos_token_id, eos_token_id=eos_token_id,
    )
    model = RobertaForSequenceClassification(config)
    if attn_implementation is not None:
        model.set_attn_implementation(attn_implementation)
    return model


__all__ = ["build_roberta", "roberta_config"]
