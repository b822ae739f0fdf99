from __future__ import annotations

import pytest
from fixtures_models import exception_dataset, tiny_bert_teacher


@pytest.fixture(scope="session")
def exc_data(tmp_path_factory):
    return exception_dataset(tmp_path_factory.mktemp("excdata"))


@pytest.fixture(scope="session")
def bert_teacher(tmp_path_factory):
    return tiny_bert_teacher(tmp_path_factory.mktemp("teacher"))
