"""Tiny random-weight models and real-code datasets for engine tests (built by the tests, offline)."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

from fixtures_data import write_jsonl


def real_python_functions(limit: int = 60) -> list[str]:
    """Source of real stdlib functions (json, textwrap, shlex, fnmatch)."""
    import fnmatch
    import json as js
    import shlex
    import textwrap

    out = []
    for mod in (js.decoder, js.encoder, textwrap, shlex, fnmatch):
        for _, obj in inspect.getmembers(mod, inspect.isfunction):
            if obj.__module__ == mod.__name__:
                try:
                    out.append(inspect.getsource(obj))
                except OSError:
                    pass
    return out[:limit]


def exception_dataset(root: Path, n_train: int = 48, n_eval: int = 12) -> Path:
    """A 3-class exception-style dataset from real stdlib functions (the hole replaces a name)."""
    labels = ["ValueError", "KeyError", "OSError"]
    funcs = real_python_functions()
    rows = []
    reps = (n_train + 2 * n_eval) // len(funcs) + 1
    for i, f in enumerate(funcs * reps):
        y = i % 3
        rows.append({"func": f"{f}\ntry:\n    pass\nexcept __HOLE__:\n    pass  # {labels[y].lower()} {i}\n",
                     "target": labels[y], "idx": f"x{i}"})
    root.mkdir(parents=True, exist_ok=True)
    (root / "labels.json").write_text(json.dumps(labels))
    write_jsonl(root / "train.jsonl", rows[:n_train])
    write_jsonl(root / "valid.jsonl", rows[n_train:n_train + n_eval])
    write_jsonl(root / "test.jsonl", rows[n_train + n_eval:n_train + 2 * n_eval])
    return root


def tiny_bert_teacher(folder: Path, num_labels: int = 3, max_length: int = 128) -> Path:
    """A MiniLM-shaped (BERT, uncased WordPiece) teacher with 2 layers of width 32."""
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    from codekd.models.hf import quiet_transformers

    quiet_transformers()
    folder.mkdir(parents=True, exist_ok=True)
    wp = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    wp.normalizer = normalizers.BertNormalizer(lowercase=True)
    wp.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    wp.train_from_iterator(real_python_functions(), trainers.WordPieceTrainer(
        vocab_size=400, show_progress=False, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]))
    wp.model.save(str(folder))
    tok = BertTokenizerFast(vocab=str(folder / "vocab.txt"), model_max_length=max_length)
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=max_length, num_labels=num_labels)
    BertForSequenceClassification(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder
