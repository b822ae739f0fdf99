"""Tiny random decoder-only (causal) code-LLM teachers built by the tests, offline.

Each is a ``*ForSequenceClassification`` folder (Qwen2, Llama, Gemma or Starcoder2 config of about
a hundred thousand parameters) with a byte-level BPE tokenizer trained here on real stdlib
functions. Like Qwen's and Llama's own tokenizers it has an EOS and **no pad token**, and the
model config has no ``pad_token_id``: the teacher loader must set one.
"""

from __future__ import annotations

from pathlib import Path

from fixtures_models import real_python_functions

EOS = "<|endoftext|>"
ARCHS = ("qwen2", "llama", "gemma", "starcoder2")
SHAPE = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=2, max_position_embeddings=256)


def byte_level_tokenizer(folder: Path, vocab_size: int = 400):
    """A byte-level BPE tokenizer (GPT-2 / Qwen style: no prefix space, EOS only, no pad) saved to ``folder``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    raw.train_from_iterator(real_python_functions(), trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=[EOS], show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok = PreTrainedTokenizerFast(tokenizer_object=raw, eos_token=EOS, model_max_length=256)
    folder.mkdir(parents=True, exist_ok=True)
    tok.save_pretrained(folder)
    return tok


def decoder_config(arch: str, vocab_size: int, num_labels: int, eos_id: int):
    from transformers import GemmaConfig, LlamaConfig, Qwen2Config, Starcoder2Config

    cls = {"qwen2": Qwen2Config, "llama": LlamaConfig, "gemma": GemmaConfig, "starcoder2": Starcoder2Config}[arch]
    extra = {"head_dim": SHAPE["hidden_size"] // SHAPE["num_attention_heads"]} if arch == "gemma" else {}
    cfg = cls(vocab_size=vocab_size, num_labels=num_labels, bos_token_id=eos_id, eos_token_id=eos_id, **SHAPE, **extra)
    cfg.pad_token_id = None  # like Qwen2 / Llama checkpoints: the loader must set it
    return cfg


def tiny_decoder_teacher(folder: Path, arch: str = "qwen2", num_labels: int = 3, seed: int = 0) -> Path:
    """A random ``<Arch>ForSequenceClassification`` folder with its tokenizer (no pad token)."""
    import torch
    from transformers import AutoModelForSequenceClassification

    from codekd.models.hf import quiet_transformers

    quiet_transformers()
    tok = byte_level_tokenizer(folder)
    torch.manual_seed(seed)
    cfg = decoder_config(arch, len(tok), num_labels, tok.eos_token_id)
    AutoModelForSequenceClassification.from_config(cfg).save_pretrained(folder)
    return folder
