"""Layer maps: any student depth onto any teacher depth, named strategies and explicit lists."""

from __future__ import annotations

import pytest

from codekd.errors import ConfigError
from codekd.methods.layermap import build_layer_map, check_layer_map_spec


@pytest.mark.parametrize("strategy,student,teacher,expected", [
    # uniform: round(l*N/L), half up
    ("uniform", 3, 12, (4, 8, 12)), ("uniform", 4, 22, (6, 11, 17, 22)), ("uniform", 2, 6, (3, 6)),
    ("uniform", 6, 3, (1, 1, 2, 2, 3, 3)),  # a student deeper than its teacher shares teacher layers
    # skip (PKD-Skip): k = N // L
    ("skip", 3, 12, (4, 8, 12)), ("skip", 4, 22, (5, 10, 15, 20)), ("skip", 2, 6, (3, 6)), ("skip", 5, 12, (2, 4, 6, 8, 10)),
    # last-k (PKD-Last): the top L layers
    ("last-k", 3, 12, (10, 11, 12)), ("last-k", 4, 22, (19, 20, 21, 22)), ("last-k", 2, 6, (5, 6)),
])
def test_named_strategies(strategy, student, teacher, expected):
    lm = build_layer_map(strategy, student, teacher)
    assert lm.teacher_layers == expected
    assert lm.student_layers == tuple(range(1, student + 1))
    assert str(lm).startswith(strategy)


def test_explicit_lists_and_errors():
    lm = build_layer_map([2, 5, 6], 3, 6)
    assert lm.pairs == ((1, 2), (2, 5), (3, 6)) and lm.strategy == "explicit"
    assert build_layer_map("[2,5,6]", 3, 6).pairs == lm.pairs  # as typed on the command line
    assert build_layer_map([0, 3], 2, 4).pairs == ((1, 0), (2, 3))  # 0 = the teacher's embeddings
    with pytest.raises(ConfigError, match="3 entries but the student has 2 layers"):
        build_layer_map([1, 2, 3], 2, 6)
    with pytest.raises(ConfigError, match="out of range 0..6"):
        build_layer_map([1, 7], 2, 6)
    with pytest.raises(ConfigError, match="unknown layer map"):
        check_layer_map_spec("zigzag")
    check_layer_map_spec([1, 2])
    check_layer_map_spec("last")


def test_restrict_and_embeddings_and_describe():
    lm = build_layer_map("uniform", 3, 12)
    assert lm.restrict(range(1, 3)).pairs == ((1, 4), (2, 8))  # PKD: layers 1..L-1
    assert lm.with_embeddings().pairs == ((0, 0), (1, 4), (2, 8), (3, 12))  # CKD transformer stacks
    d = lm.describe()
    assert d["pairs"] == [[1, 4], [2, 8], [3, 12]] and d["teacher_depth"] == 12 and "s1->t4" in d["text"]
