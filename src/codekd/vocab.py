"""Student vocabularies: byte-level BPE trained on a task's training split only.

The result is a complete Hugging Face tokenizer folder (``AutoTokenizer.from_pretrained`` loads it as
a ``RobertaTokenizer`` with ``model_max_length`` set and RoBERTa's special tokens ``<s>``=0,
``<pad>``=1, ``</s>``=2, ``<unk>``=3, ``<mask>``=4), plus ``codekd_vocab.json`` recording how it was
made. The code is normalised exactly as the student will see it (the ``normalization`` setting).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterator

from .data.loaders import load_task_data
from .data.normalize import STRUCTURE_TOKENS, normalize_code, parse_normalization
from .errors import ConfigError, DataError
from .io import atomic_dir, atomic_write_json, check_output_dir, read_json, sha256_file
from .tasks import Task, get_task

SPECIAL_TOKENS: tuple[str, ...] = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")
PAPER_SIZES: tuple[int, ...] = (1000, 2000, 5000, 20000, 50000)
META_FILE = "codekd_vocab.json"



def train_vocab(
    data: str | Path,
    task: str | Task,
    size: int,
    out: str | Path,
    *,
    min_frequency: int = 2,
    max_length: int = 512,
    normalization: str = "whitespace",
    fraction: float | None = None,
    seed: int = 0,
    skip_bad: bool = False,
) -> dict[str, Any]:
    """Train a byte-level BPE vocabulary of ``size`` tokens on the training split of ``data``.

    Pair tasks train on both sides' functions (each distinct function once). Returns the metadata
    written to ``codekd_vocab.json``.
    """
    if size < 300:
        raise ConfigError(f"vocabulary size {size} is too small: byte-level BPE needs 256 byte tokens + specials")
    base_norm, _ = parse_normalization(normalization)
    if max_length < 8:
        raise ConfigError(f"max_length {max_length} is too small")
    check_output_dir(out, markers=(META_FILE,), what="vocabulary folder")  # before any work
    task = get_task(task)
    t0 = time.perf_counter()
    td = load_task_data(data, task, splits=("train",), fraction=fraction, seed=seed, skip_bad=skip_bad)
    train = td["train"]
    n_funcs = 0

    def corpus() -> Iterator[str]:
        nonlocal n_funcs
        for code in train.iter_unique_code():
            n_funcs += 1
            yield normalize_code(code, normalization)

    meta = {
        "task": task.name,
        "data": str(Path(data).resolve()),
        "train_file": train.path,
        "train_file_sha256": sha256_file(train.path),
        "train_examples": len(train),
        "fraction": fraction,
        "seed": seed,
    }
    meta = train_vocab_on_texts(corpus, size, out, min_frequency=min_frequency, max_length=max_length,
                                normalization=normalization, meta=meta, source=train.path)
    meta["seconds"] = round(time.perf_counter() - t0, 3)  # including the data load (the file records BPE time)
    return meta


def train_vocab_on_texts(
    texts: Any,
    size: int,
    out: str | Path,
    *,
    min_frequency: int = 2,
    max_length: int = 512,
    normalization: str = "whitespace",
    meta: dict[str, Any] | None = None,
    source: str | Path | None = None,
) -> dict[str, Any]:
    """Train a byte-level BPE vocabulary on ``texts()`` (a callable giving already normalised code).

    The folder is written the same way as :func:`train_vocab`'s (RoBERTa special tokens, structure
    markers when ``normalization`` is ``structure``, ``model_max_length``, ``codekd_vocab.json``).
    """
    from tokenizers import ByteLevelBPETokenizer
    from transformers import AutoTokenizer, RobertaTokenizerFast

    if size < 300:
        raise ConfigError(f"vocabulary size {size} is too small: byte-level BPE needs 256 byte tokens + specials")
    base_norm, _ = parse_normalization(normalization)
    check_output_dir(out, markers=(META_FILE,), what="vocabulary folder")
    t0 = time.perf_counter()
    count = 0

    def counted() -> Iterator[str]:
        nonlocal count
        for t in texts():
            count += 1
            yield t

    specials = list(SPECIAL_TOKENS) + (list(STRUCTURE_TOKENS) if base_norm == "structure" else [])
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(counted(), vocab_size=size, min_frequency=min_frequency, special_tokens=specials,
                            show_progress=False)
    if count == 0:
        raise DataError("no code to learn a vocabulary from", path=source)
    out = Path(out)
    with atomic_dir(out, marker=META_FILE, what="vocabulary folder") as tmp:
        bpe.save_model(str(tmp))
        tok = RobertaTokenizerFast.from_pretrained(str(tmp), model_max_length=max_length)
        if base_norm == "structure":
            tok.add_special_tokens({"additional_special_tokens": list(STRUCTURE_TOKENS)})
        tok.save_pretrained(str(tmp))
        # vocab.json and merges.txt from save_model stay beside tokenizer.json: older tokenizer code loads them.
        actual = len(tok)
        meta = {
            **(meta or {}),
            "train_functions": count,
            "requested_size": size,
            "vocab_size": actual,
            "min_frequency": min_frequency,
            "model_max_length": max_length,
            "normalization": normalization,
            "special_tokens": specials,
            "seconds": round(time.perf_counter() - t0, 3),
        }
        atomic_write_json(tmp / META_FILE, meta)
        # Verify the folder loads the way every consumer will load it.
        check = AutoTokenizer.from_pretrained(str(tmp))
        if check.model_max_length != max_length or check.pad_token_id != 1 or len(check) != actual:
            raise RuntimeError(f"vocabulary folder did not round-trip (max_length {check.model_max_length}, pad {check.pad_token_id})")
    meta["out"] = str(out)
    if actual < size:
        meta["warning"] = (f"the training data supports only {actual} tokens at min_frequency={min_frequency} "
                           f"(asked for {size})")
    return meta


def read_vocab_meta(folder: str | Path) -> dict[str, Any]:
    p = Path(folder) / META_FILE
    if not p.is_file():
        return {}
    meta = read_json(p, "vocabulary settings")
    return meta if isinstance(meta, dict) else {}
