"""Tiny random-weight models and real-code datasets for engine tests (built by the tests, offline)."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

from fixtures_data import write_jsonl


def write_wordpiece_vocab(folder: Path, texts, size: int) -> int:
    """``folder/vocab.txt``: an uncased WordPiece vocabulary of the five BERT specials, every character
    (alone and as ``##`` continuation) and the most frequent words (ties by the word), up to ``size``.

    Built by counting, not by tokenizers' WordPieceTrainer, whose ties fall differently in every process
    (a random hash order): a session-scoped fixture teacher then had another vocabulary every session,
    and tolerances measured on one session failed on another."""
    from collections import Counter

    from tokenizers import normalizers, pre_tokenizers

    norm, pre = normalizers.BertNormalizer(lowercase=True), pre_tokenizers.BertPreTokenizer()
    words = Counter(w for t in texts for w, _ in pre.pre_tokenize_str(norm.normalize_str(t)))
    chars = sorted({c for w in words for c in w})
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars, *(f"##{c}" for c in chars)]
    seen = set(vocab)
    for w, _ in sorted(words.items(), key=lambda kv: (-kv[1], kv[0])):
        if len(vocab) >= size:
            break
        if w not in seen:
            vocab.append(w)
            seen.add(w)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("".join(f"{t}\n" for t in vocab), encoding="utf-8")
    return len(vocab)


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


def tiny_bert_teacher(folder: Path, num_labels: int = 3, max_length: int = 128, layers: int = 2) -> Path:
    """A MiniLM-shaped (BERT, uncased WordPiece) teacher with ``layers`` layers (default 2) of width 32."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    from codekd.models.hf import quiet_transformers

    quiet_transformers()
    folder.mkdir(parents=True, exist_ok=True)
    write_wordpiece_vocab(folder, real_python_functions(), 400)
    tok = BertTokenizerFast(vocab=str(folder / "vocab.txt"), model_max_length=max_length)
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=layers, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=max_length, num_labels=num_labels)
    BertForSequenceClassification(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


# ---- tiny trained student runs (evaluation / export / predict tests) -----------------------------

TINY_STUDENTS = {"gru": ["student.preset=gru-1.5m", "student.hidden=16", "student.layers=2"],
                 "roberta": ["student.preset=roberta-0.6m", "student.hidden=32", "student.heads=2", "student.ffn=64",
                             "student.layers=2"]}
_RUN_CACHE: dict = {}


def tiny_student_run(data: Path, out: Path, family: str = "gru", *, seed: int = 42) -> Path:
    """A finished 2-step FT run of a tiny student on ``data`` (exception task): config.yaml, best/, metrics."""
    from codekd.config import load_run_config
    from codekd.engine.runs import distill

    sets = [*TINY_STUDENTS[family], "student.vocab_size=300", "train.batch_size=8", "train.epochs=1",
            "train.max_steps=2", "train.max_length=96", "train.eval_batch_size=16", "method.name=ft",
            f"train.seed={seed}"]
    distill(load_run_config(None, sets, task="exception", data=str(data), out=str(out)), progress=False)
    return out


def tiny_eval_runs(tmp_path_factory) -> dict:
    """Built once per test session (cached on the session's tmp_path_factory): the exception dataset,
    a tiny BERT teacher folder, and finished GRU and RoBERTa student runs."""
    key = id(tmp_path_factory)
    if key not in _RUN_CACHE:
        root = tmp_path_factory.mktemp("eval_runs")
        data = exception_dataset(root / "data")
        _RUN_CACHE[key] = {
            "data": data,
            "teacher": tiny_bert_teacher(root / "teacher"),
            "gru": tiny_student_run(data, root / "run_gru", "gru"),
            "roberta": tiny_student_run(data, root / "run_roberta", "roberta"),
        }
    return _RUN_CACHE[key]


# ---- tiny tokenizers and teachers (shared by tests/models and the feature-method tests)

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
    from transformers import BertTokenizerFast

    _quiet()
    folder.mkdir(parents=True, exist_ok=True)
    size = write_wordpiece_vocab(folder, CODES * 4, 200)
    tok = BertTokenizerFast(vocab=str(folder / "vocab.txt"), model_max_length=max_length)
    assert len(tok) == size > 20
    ids = tok("def add")["input_ids"]
    assert tok.convert_ids_to_tokens(ids) == ["[CLS]", "def", "add", "[SEP]"]
    return tok


def _save(model, tok, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def tiny_base_teacher(kind: str, folder: Path) -> Path:
    """A tiny base encoder (no head; codekd adds one) with a byte-level BPE tokenizer, for engine tests.

    ``kind``: ``roberta`` (CodeBERT-like, 2 layers, 62 usable positions) or ``modernbert`` (3 layers).
    """
    import torch
    from transformers import ModernBertConfig, ModernBertModel, RobertaConfig, RobertaModel

    tok = build_bpe_tokenizer(folder / "tok", max_length=128 if kind == "modernbert" else 64)
    torch.manual_seed(5)
    if kind == "roberta":
        model = RobertaModel(RobertaConfig(vocab_size=len(tok), max_position_embeddings=66, type_vocab_size=1,
                                           pad_token_id=1, **TINY))
    elif kind == "modernbert":
        model = ModernBertModel(ModernBertConfig(
            vocab_size=len(tok), hidden_size=32, num_hidden_layers=3, num_attention_heads=4, intermediate_size=48,
            max_position_embeddings=128, local_attention=16, pad_token_id=1, bos_token_id=0, eos_token_id=2,
            cls_token_id=0, sep_token_id=2))
    else:
        raise ValueError(kind)
    return _save(model, tok, folder / "model")


def _single_thread():
    """Run a test module's torch code on one thread: on a shared 2-core machine under load, two
    OpenMP threads can stall on each other for milliseconds per op and make tiny models very slow."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


try:  # a module-scoped autouse fixture; test modules opt in with `from fixtures_models import single_thread`
    import pytest as _pytest

    single_thread = _pytest.fixture(scope="module", autouse=True)(_single_thread)
except ImportError:  # pragma: no cover
    pass
