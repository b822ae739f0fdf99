"""Tiny random-weight teachers (RoBERTa, UniXcoder-style RoBERTa, BERT, ModernBERT) and tokenizers.

Each fixture builds a model from a config, saves it with its tokenizer into a temp folder, and
returns the folder: tests then load it by path through the same code a hub id would use. The
builders live in ``tests/fixtures_models.py`` so other test packages can use them too.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from fixtures_models import CODES, TINY, _save, build_bpe_tokenizer, build_wordpiece_tokenizer  # noqa: F401


@pytest.fixture(scope="session")
def tiny_roberta_dir(tmp_path_factory) -> Path:
    """A CodeBERT-like base encoder (RobertaModel, no head): the head is new when loaded."""
    from transformers import RobertaConfig, RobertaModel

    root = tmp_path_factory.mktemp("tiny_roberta")
    tok = build_bpe_tokenizer(root / "tok")
    torch.manual_seed(0)
    cfg = RobertaConfig(vocab_size=len(tok), max_position_embeddings=66, type_vocab_size=1, pad_token_id=1, **TINY)
    return _save(RobertaModel(cfg), tok, root / "model")


@pytest.fixture(scope="session")
def tiny_unixcoder_dir(tmp_path_factory) -> Path:
    """A UniXcoder-like encoder: RoBERTa whose tokenizer has the <encoder-only> token."""
    from transformers import RobertaConfig, RobertaModel

    root = tmp_path_factory.mktemp("tiny_unixcoder")
    tok = build_bpe_tokenizer(root / "tok", unixcoder=True)
    torch.manual_seed(1)
    cfg = RobertaConfig(vocab_size=len(tok), max_position_embeddings=66, type_vocab_size=10, pad_token_id=1, **TINY)
    return _save(RobertaModel(cfg), tok, root / "model")


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory) -> Path:
    """A MiniLM-like BERT with a sequence-classification checkpoint (2 labels)."""
    from transformers import BertConfig, BertForSequenceClassification

    root = tmp_path_factory.mktemp("tiny_bert")
    tok = build_wordpiece_tokenizer(root / "tok")
    torch.manual_seed(2)
    cfg = BertConfig(vocab_size=len(tok), max_position_embeddings=64, type_vocab_size=2, pad_token_id=0,
                     num_labels=2, **TINY)
    return _save(BertForSequenceClassification(cfg), tok, root / "model")


@pytest.fixture(scope="session")
def tiny_modernbert_dir(tmp_path_factory) -> Path:
    """A ModernBERT base encoder with a RoBERTa-like BPE tokenizer (ids <s>=0 <pad>=1 </s>=2)."""
    from transformers import ModernBertConfig, ModernBertModel

    root = tmp_path_factory.mktemp("tiny_modernbert")
    tok = build_bpe_tokenizer(root / "tok", max_length=128)
    torch.manual_seed(3)
    cfg = ModernBertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
                           intermediate_size=48, max_position_embeddings=128, local_attention=16,
                           pad_token_id=1, bos_token_id=0, eos_token_id=2, cls_token_id=0, sep_token_id=2)
    return _save(ModernBertModel(cfg), tok, root / "model")


@pytest.fixture(scope="session")
def tiny_teacher_dirs(tiny_roberta_dir, tiny_bert_dir, tiny_modernbert_dir) -> dict[str, Path]:
    return {"roberta": tiny_roberta_dir, "bert": tiny_bert_dir, "modernbert": tiny_modernbert_dir}


@pytest.fixture(scope="session")
def student_tokenizer(tmp_path_factory):
    """A saved student tokenizer (RoBERTa byte-level BPE) and its folder."""
    root = tmp_path_factory.mktemp("student_tok")
    tok = build_bpe_tokenizer(root / "build", max_length=64)
    tok.save_pretrained(root / "tok")
    return tok


@pytest.fixture(scope="session")
def codes() -> list[str]:
    """The code snippets the tiny tokenizers were trained on."""
    return list(CODES)
