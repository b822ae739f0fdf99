from __future__ import annotations

import json

import pytest
from fixtures_data import bcb_native_folder, write_jsonl
from transformers import AutoTokenizer

from codekd.errors import ConfigError
from codekd.vocab import read_vocab_meta, train_vocab


def _python_corpus(root, n=300):
    """Real code: functions of the stdlib's json package, repeated with variations."""
    import inspect
    import json.decoder
    import json.encoder

    funcs = []
    for mod in (json.decoder, json.encoder, json):
        for _, obj in inspect.getmembers(mod, inspect.isfunction):
            try:
                funcs.append(inspect.getsource(obj))
            except OSError:
                pass
    rows = [{"func": funcs[i % len(funcs)] + f"\n# {i}", "target": i % 2} for i in range(n)]
    write_jsonl(root / "train.jsonl", rows)
    for s in ("valid", "test"):
        write_jsonl(root / f"{s}.jsonl", rows[:5])
    return root


def test_vocab_round_trip_through_autotokenizer(tmp_path):
    data = _python_corpus(tmp_path / "data")
    meta = train_vocab(data, "defect", 1000, tmp_path / "tok", max_length=128)
    tok = AutoTokenizer.from_pretrained(tmp_path / "tok")
    assert type(tok).__name__ == "RobertaTokenizer"
    assert len(tok) == meta["vocab_size"] == 1000
    assert tok.model_max_length == 128
    assert [tok.convert_tokens_to_ids(t) for t in ("<s>", "<pad>", "</s>", "<unk>", "<mask>")] == [0, 1, 2, 3, 4]
    code = "def decode(self, s, _w=WHITESPACE.match): return obj"
    enc = tok(code, return_offsets_mapping=True, truncation=True, max_length=128)
    assert enc["input_ids"][0] == 0 and enc["input_ids"][-1] == 2
    assert tok.decode(enc["input_ids"], skip_special_tokens=True) == code
    # offsets point into the code
    for (s, e), tid in zip(enc["offset_mapping"][1:-1], enc["input_ids"][1:-1]):
        assert code[s:e].strip() and code[s:e] in tok.decode([tid])
    long = tok(" ".join(["x"] * 1000), truncation=True, max_length=128)
    assert len(long["input_ids"]) == 128
    assert read_vocab_meta(tmp_path / "tok")["train_examples"] == 300


def test_vocab_pairs_train_on_both_sides_and_structure_tokens(tmp_path):
    root = bcb_native_folder(tmp_path / "bcb")
    meta = train_vocab(root, "clone", 400, tmp_path / "tok", normalization="structure", min_frequency=1)
    assert meta["train_functions"] == 4  # every distinct function of the train pairs, once
    tok = AutoTokenizer.from_pretrained(tmp_path / "tok")
    ids = tok("a <nl> <indent> b <dedent>")["input_ids"]
    for marker in ("<nl>", "<indent>", "<dedent>"):
        assert tok.convert_tokens_to_ids(marker) in ids


def test_vocab_bad_options(tmp_path):
    with pytest.raises(ConfigError, match="too small"):
        train_vocab(tmp_path, "defect", 100, tmp_path / "tok")
    with pytest.raises(ConfigError, match="normalisation"):
        train_vocab(tmp_path, "defect", 1000, tmp_path / "tok", normalization="fancy")


def test_vocab_reports_when_data_is_too_small(tmp_path):
    root = tmp_path / "d"
    for s in ("train", "valid", "test"):
        write_jsonl(root / f"{s}.jsonl", [{"func": "int a = 1;", "target": 0}])
    meta = train_vocab(root, "defect", 5000, tmp_path / "tok")
    assert meta["vocab_size"] < 5000 and "warning" in meta
    assert json.loads((tmp_path / "tok" / "codekd_vocab.json").read_text())["requested_size"] == 5000
