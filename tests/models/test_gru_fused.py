"""BiGRU inference at small batch: both directions as one block-diagonal recurrence, exact."""

from __future__ import annotations

import torch

from codekd.models.students.gru import BiGRUConfig, BiGRUForSequenceClassification


def _model(max_batch: int) -> BiGRUForSequenceClassification:
    torch.manual_seed(0)
    cfg = BiGRUConfig(vocab_size=50, hidden_size=8, num_hidden_layers=2, max_position_embeddings=32, num_labels=3,
                      fused_directions_max_batch=max_batch)
    return BiGRUForSequenceClassification(cfg).eval()


def test_fused_directions_match_the_two_recurrences():
    fused, plain = _model(2), _model(0)
    plain.load_state_dict(fused.state_dict())
    ids = torch.randint(5, 50, (2, 13))
    mask = torch.ones_like(ids)
    mask[1, 9:] = 0  # right padding: the backward direction stays length-aware
    calls = []
    layer = fused.bigru.layers[0]
    layer.forward_gru.register_forward_hook(lambda *a: calls.append("separate"))
    with torch.no_grad():
        a = fused(input_ids=ids, attention_mask=mask, output_hidden_states=True)
        b = plain(input_ids=ids, attention_mask=mask, output_hidden_states=True)
    assert calls == []  # the fused recurrence ran, not the per-direction GRUs
    assert torch.allclose(a.logits, b.logits, atol=1e-5)
    for x, y in zip(a.pooled_states, b.pooled_states):
        assert torch.allclose(x, y, atol=1e-5)
    assert layer._fused_cache is not None and not any("fused" in k for k in fused.state_dict())
    # larger batches, training and autograd take the per-direction path
    with torch.no_grad():
        fused(input_ids=torch.randint(5, 50, (3, 7)))
    assert calls == ["separate"]
    fused(input_ids=ids, attention_mask=mask)  # grad enabled
    assert calls == ["separate", "separate"]


def test_fused_weights_follow_weight_updates():
    m = _model(1)
    ids = torch.randint(5, 50, (1, 9))
    with torch.no_grad():
        before = m(input_ids=ids).logits
        for p in m.bigru.layers[1].backward_gru.parameters():
            p.add_(0.5)
        after = m(input_ids=ids).logits
    ref = _model(0)
    ref.load_state_dict(m.state_dict())
    with torch.no_grad():
        assert torch.allclose(after, ref(input_ids=ids).logits, atol=1e-5)
    assert not torch.allclose(before, after)
