"""The attention arrays behind the explorer (`itlib.attention_maps`) against hand computations and torch."""

import math

import numpy as np
import pytest
import torch

from itlib.attention_maps import (
    AttentionUnavailable,
    as_attention_array,
    entropy,
    reduce_heads,
    rollout,
    row_stats,
    token_strings,
    top_k,
)


def random_causal(L=2, H=3, T=4, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.random((L, H, T, T)) * np.tril(np.ones((T, T)))
    return a / a.sum(-1, keepdims=True)


def test_rollout_equals_a_hand_computation():
    attn = random_causal()
    L, T = attn.shape[0], attn.shape[-1]
    # by hand: per layer the mean over heads, plus the identity, halved, rows renormalised, multiplied
    expected = np.eye(T)
    for layer in range(L):
        a = np.zeros((T, T))
        for i in range(T):
            for j in range(T):
                a[i, j] = 0.5 * sum(attn[layer, h, i, j] for h in range(attn.shape[1])) / attn.shape[1]
            a[i, i] += 0.5
            a[i] /= a[i].sum()
        expected = a @ expected
    got = rollout(attn)
    assert np.allclose(got, expected)
    assert np.allclose(got.sum(-1), 1.0)
    assert np.allclose(np.triu(got, 1), 0.0)  # still causal
    assert np.allclose(rollout(attn, upto=0), 0.5 * attn[0].mean(0) + 0.5 * np.eye(T))


def test_reduce_heads_equals_torch_mean_and_max():
    layer = random_causal()[0]
    t = torch.tensor(layer)
    assert np.allclose(reduce_heads(layer, "mean"), t.mean(0).numpy())
    assert np.allclose(reduce_heads(layer, "max"), t.max(0).values.numpy())
    assert np.array_equal(reduce_heads(layer, 2), layer[2])
    with pytest.raises(ValueError, match="head must be"):
        reduce_heads(layer, 3)


def test_entropy_top_k_and_row_stats():
    assert entropy([0.25] * 4) == pytest.approx(math.log(4))
    assert entropy([1.0, 0.0, 0.0]) == 0.0
    assert top_k([0.1, 0.5, 0.1, 0.3], list("abcd"), k=3) == [(1, "b", 0.5), (3, "d", 0.3), (0, "a", 0.1)]
    assert [i for i, *_ in top_k([0.6, 0.1, 0.3], list("abc"), k=2, skip=[0])] == [2, 1]
    stats = row_stats([0.5, 0.25, 0.25, 0.0], list("abcd"), skip=[0])
    assert stats["row_sum"] == pytest.approx(1.0) and stats["sum_shown"] == pytest.approx(0.5)
    assert stats["uniform_entropy"] == pytest.approx(math.log(3))


def test_token_strings_keep_split_characters_together(tokenizer):
    ids = tokenizer("红色 3", add_special_tokens=False)["input_ids"]
    strings = token_strings(tokenizer, ids)
    assert len(strings) == len(ids)
    assert "".join(s for s in strings if s != "·") == "红色 3"


def test_weights_shapes_and_batch_errors():
    attn = random_causal()
    per_layer = tuple(torch.tensor(a[None]) for a in attn)  # what output_attentions returns
    assert np.allclose(as_attention_array(per_layer), attn)
    assert as_attention_array(attn[0, 0]).shape == (1, 1, 4, 4)
    batch2 = tuple(torch.tensor(np.stack([a, a])) for a in attn)
    with pytest.raises(ValueError, match="batch of 2 sequences"):
        as_attention_array(batch2)
    with pytest.raises(AttentionUnavailable, match="with_eager_attention"):
        as_attention_array(())  # what sdpa gives
