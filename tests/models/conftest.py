"""Tiny random-weight teachers (RoBERTa, UniXcoder-style RoBERTa, BERT, ModernBERT) and tokenizers.

Each fixture builds a model from a config, saves it with its tokenizer into a temp folder, and
returns the folder: tests then load it by path through the same code a hub id would use.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

CODES = [
    "def add(a, b):\n    return a + b\n",
    "int main(void) {\n  int x = 0;\n  return x;\n}\n",
    "public void foo(int x) {\n    if (x > 0) throw new IllegalStateException(\"bad\");\n}\n",
    "static int read_all(FILE *f, char *buf, size_t n) { return fread(buf, 1, n, f); }\n",
    "for (int i = 0; i < n; i++) { sum += values[i]; }\n",
    "try { stream.close(); } catch (IOException e) { log.warn(e); }\n",
]

TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64)


def _quiet():
    from codekd.models.hf import quiet_transformers

    quiet_transformers()


def build_bpe_tokenizer(folder: Path, *, max_length: int = 64, unixcoder: bool = False):
    """A RoBERTa-style byte-level BPE tokenizer trained on a few code strings (v5-safe route)."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaTokenizerFast

    _quiet()
    raw = folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(CODES * 4, vocab_size=300, min_frequency=1, show_progress=False,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    bpe.save_model(str(raw))
    tok = RobertaTokenizerFast.from_pretrained(str(raw), model_max_length=max_length)
    if unixcoder:
        tok.add_special_tokens({"additional_special_tokens": ["<encoder-only>"]})
    assert len(tok) > 100 and tok.pad_token_id == 1
    return tok


def build_wordpiece_tokenizer(folder: Path, *, max_length: int = 64):
    """A tiny uncased BERT WordPiece tokenizer."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    from transformers import BertTokenizerFast

    _quiet()
    folder.mkdir(parents=True, exist_ok=True)
    wp = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    wp.normalizer = normalizers.BertNormalizer(lowercase=True)
    wp.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    wp.train_from_iterator(CODES * 4, trainers.WordPieceTrainer(
        vocab_size=200, show_progress=False, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]))
    wp.model.save(str(folder))
    tok = BertTokenizerFast(vocab=str(folder / "vocab.txt"), model_max_length=max_length)
    assert len(tok) == wp.get_vocab_size() > 20
    ids = tok("def add")["input_ids"]
    assert tok.convert_ids_to_tokens(ids) == ["[CLS]", "def", "add", "[SEP]"]
    return tok


def _save(model, tok, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


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
