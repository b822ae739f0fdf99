"""Fixed padding (the paper's pad-to-max) of a teacher's batch: the same logits as dynamic padding."""

from __future__ import annotations

import pytest
import torch

from codekd.engine.sides import teacher_side
from codekd.models.teacher import Teacher

CODES = ["x = 1", "def g(a):\n    return a"]


@pytest.mark.parametrize("fixture", ["tiny_roberta_dir", "tiny_unixcoder_dir"])
def test_teacher_pads_to_max_length_with_the_same_logits(fixture, request):
    t = Teacher.load(str(request.getfixturevalue(fixture)), 3, max_length=48)
    dyn = t.encode(CODES)
    fixed = t.encode(CODES, pad_to_max_length=True)
    assert dyn["input_ids"].shape[1] < 48 and fixed["input_ids"].shape[1] == 48
    assert torch.equal(fixed["attention_mask"].sum(1), dyn["attention_mask"].sum(1))
    with torch.no_grad():
        a, b = t(**dyn).logits, t(**fixed).logits
    assert torch.allclose(a, b, atol=1e-5)
    side = teacher_side(t, pad_to_max_length=True)
    assert side.encode([(c,) for c in CODES])["input_ids"].shape[1] == 48
