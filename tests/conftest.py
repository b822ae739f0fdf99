"""Suite-wide settings: offline, quiet, and every library side effect kept inside the test run."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402

# One thread: tiny models gain nothing from more, and on a loaded 2-core machine two threads
# stall each other (measured: up to ~100x slower tiny-model tests under load).
torch.set_num_threads(1)


# Real-code data and a tiny MiniLM-shaped teacher, shared by the engine, method and study tests.
import pytest  # noqa: E402
from fixtures_models import exception_dataset, tiny_bert_teacher  # noqa: E402


@pytest.fixture(scope="session")
def exc_data(tmp_path_factory):
    return exception_dataset(tmp_path_factory.mktemp("excdata"))


@pytest.fixture(scope="session")
def bert_teacher(tmp_path_factory):
    return tiny_bert_teacher(tmp_path_factory.mktemp("teacher"))
