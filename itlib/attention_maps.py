"""Attention as arrays: the numbers behind the attention explorer, with no drawing and no widgets.

For a transformer, A^(l,h) is the attention of layer l, head h (rows = query tokens, columns = key
tokens; each row sums to 1):
- `attention_matrices(model, ids)`: a model's A for one sequence as an array (layers, heads, T, T);
- `as_attention_array(...)`: what `output_attentions=True` returns (or an array) in that shape;
- `reduce_heads(layer, head)`: one head's matrix, or the mean / max over the heads;
- `rollout(A, upto)`: Abnar & Zuidema's rollout R = Â_upto ... Â_0 with Â = row-normalised (A + I) / 2;
- `entropy`, `top_k`, `row_stats`: numbers to read beside one query token's row;
- `token_strings(tokenizer, ids)`: the text of each position;
- `selector_attention(selector, instruction, text)`: an `itlib.attention.Selector`'s α and raw scores.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = [
    "AttentionUnavailable", "as_attention_array", "as_numpy", "attention_matrices", "entropy", "reduce_heads",
    "rollout", "row_stats", "selector_attention", "token_strings", "top_k",
]

EAGER_FIX = ("switch the model to eager attention: `model = itlib.models.with_eager_attention(model)`, or load it "
             "with `attn_implementation=\"eager\"` (e.g. `itlib.load_base(attention=\"eager\")`)")


class AttentionUnavailable(RuntimeError):
    """The model gives no attention weights (it runs sdpa / flash attention, which never compute them)."""


def as_attention_array(attentions) -> np.ndarray:
    """Attention weights as a float array of shape (layers, heads, query, key).

    Accepts what `model(..., output_attentions=True).attentions` returns (a tuple of per-layer
    tensors of shape (batch=1, heads, T, T)), an array / tensor of shape (layers, heads, T, T),
    (layers, 1, heads, T, T), (heads, T, T) (one layer) or (T, T) (one layer, one head).
    A batch of more than one sequence is refused: the explorer shows one sequence at a time."""
    if isinstance(attentions, (tuple, list)):
        if len(attentions) == 0 or any(a is None for a in attentions):
            raise AttentionUnavailable(f"the model returned no attention weights; {EAGER_FIX}")
        layers = [as_numpy(a) for a in attentions]
        shapes = {a.shape for a in layers}
        if len(shapes) != 1:
            raise ValueError(f"all layers must have the same shape, got {sorted(shapes)}")
        arr = np.stack(layers)
    else:
        arr = as_numpy(attentions)
    if arr.ndim == 5:
        if arr.shape[1] != 1:
            raise ValueError(f"the attention weights hold a batch of {arr.shape[1]} sequences; the explorer shows one "
                             f"sequence at a time: pick one, e.g. `[a[i:i + 1] for a in attentions]`")
        arr = arr[:, 0]
    elif arr.ndim == 3:
        arr = arr[None]
    elif arr.ndim == 2:
        arr = arr[None, None]
    elif arr.ndim != 4:
        raise ValueError(f"attention weights must have shape (layers, heads, T, T) (or a per-layer tuple of "
                         f"(1, heads, T, T)), got shape {arr.shape}")
    if arr.shape[-1] != arr.shape[-2]:
        raise ValueError(f"attention matrices must be square (query x key), got {arr.shape[-2]} x {arr.shape[-1]}")
    return arr.astype(np.float64)


def as_numpy(x) -> np.ndarray:
    """`x` (a torch tensor, on any device, or anything array-like) as a numpy array of floats."""
    if hasattr(x, "detach"):
        return x.detach().float().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def reduce_heads(layer: np.ndarray, head: int | str = "mean") -> np.ndarray:
    """One layer's (heads, T, T) weights -> a (T, T) matrix: head number `head`, or the "mean" or
    "max" over the heads (element-wise; max rows no longer sum to 1)."""
    layer = np.asarray(layer)
    if layer.ndim != 3:
        raise ValueError(f"expected one layer's weights of shape (heads, T, T), got {layer.shape}")
    if head == "mean":
        return layer.mean(axis=0)
    if head == "max":
        return layer.max(axis=0)
    if isinstance(head, (int, np.integer)) and not isinstance(head, bool) and 0 <= head < layer.shape[0]:
        return layer[int(head)]
    raise ValueError(f"head must be 'mean', 'max' or a head number 0..{layer.shape[0] - 1}, got {head!r}")


def rollout(attentions, upto: int | None = None, head: int | str = "mean") -> np.ndarray:
    """Attention rollout (Abnar & Zuidema, 2020) through layers 0..`upto` (default: all).

    Per layer, A = the heads' weights reduced by `head` (default the mean); the residual connection
    is added as Â = (A + I) / 2, rows renormalised to sum to 1; then R = Â_upto @ ... @ Â_1 @ Â_0.
    R[i, j] is how much of position i's representation at that layer traces back to input token j."""
    arr = as_attention_array(attentions)
    upto = arr.shape[0] - 1 if upto is None else upto
    if not 0 <= upto < arr.shape[0]:
        raise ValueError(f"upto must be a layer number 0..{arr.shape[0] - 1}, got {upto}")
    n = arr.shape[-1]
    result = np.eye(n)
    for layer in range(upto + 1):
        a = 0.5 * reduce_heads(arr[layer], head) + 0.5 * np.eye(n)
        a = a / a.sum(axis=-1, keepdims=True)
        result = a @ result
    return result


def entropy(row: Sequence[float]) -> float:
    """Shannon entropy in nats of a row of weights, H = -Σ_i p_i log p_i with p = row / Σ row
    (zeros contribute nothing; an all-zero row has entropy 0)."""
    p = np.asarray(row, dtype=np.float64)
    if p.sum() <= 0:
        return 0.0
    p = p / p.sum()
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def top_k(row: Sequence[float], tokens: Sequence[str], k: int = 5, skip: Sequence[int] = ()) -> list[tuple[int, str, float]]:
    """The k largest weights as (position, token, weight), largest first (ties: earlier first)."""
    row = np.asarray(row, dtype=np.float64)
    order = sorted((i for i in range(len(row)) if i not in set(skip)), key=lambda i: (-row[i], i))
    return [(i, tokens[i], float(row[i])) for i in order[:k]]


def row_stats(row: Sequence[float], tokens: Sequence[str], k: int = 5, skip: Sequence[int] = ()) -> dict:
    """Numbers to read beside a picture: top-k tokens, the row sum, the entropy (nats) and the
    entropy of a uniform row of the same support, for scale."""
    row = np.asarray(row, dtype=np.float64)
    support = int((row > 0).sum())
    return {"top": top_k(row, tokens, k, skip), "row_sum": float(row.sum()), "entropy": entropy(row),
            "uniform_entropy": math.log(support) if support else 0.0,
            "sum_shown": float(sum(row[i] for i in range(len(row)) if i not in set(skip)))}


def token_strings(tokenizer, ids: Sequence[int]) -> list[str]:
    """The text of each token. A character split over several byte-level tokens (e.g. Chinese) is
    given to the first of them, the others show "·"."""
    out: list[str] = []
    i = 0
    while i < len(ids):
        piece = tokenizer.decode([ids[i]])
        j = i + 1
        if "\ufffd" in piece:
            for end in range(i + 2, min(i + 5, len(ids)) + 1):
                joint = tokenizer.decode(list(ids[i:end]))
                if "\ufffd" not in joint:
                    piece, j = joint, end
                    break
        out += [piece] + ["·"] * (j - i - 1)
        i = j
    return out


def attention_matrices(model, input_ids: Sequence[int], eager: bool | str = "auto") -> tuple[np.ndarray, str]:
    """The model's attention weights for one sequence: (array (layers, heads, T, T), notice).

    A model that runs sdpa (the transformers default) computes no weights: with `eager="auto"` it
    is switched to eager attention (`itlib.models.with_eager_attention`, which leaves its outputs
    unchanged) and the notice says so; with `eager=False` an `AttentionUnavailable` error says how."""
    import torch

    notice = ""
    ids = torch.as_tensor(input_ids)
    if ids.dim() == 2:
        if ids.shape[0] != 1:
            raise ValueError(f"got a batch of {ids.shape[0]} sequences; the explorer shows one sequence at a time: "
                             "pass one of them, e.g. `input_ids[0]`")
        ids = ids[0]
    impl = getattr(getattr(model, "config", None), "_attn_implementation", None)
    if impl is not None and impl != "eager":
        if eager is False:
            raise AttentionUnavailable(f"the model runs attn_implementation={impl!r}, which gives no attention "
                                       f"weights; {EAGER_FIX}")
        from itlib.models import with_eager_attention

        with_eager_attention(model)
        notice = (f"the model ran attn_implementation={impl!r}, which gives no attention weights: switched it to "
                  f"'eager' (same outputs) with itlib.models.with_eager_attention(model)")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(input_ids=ids[None].to(device), output_attentions=True)
    finally:
        model.train(was_training)
    attentions = getattr(out, "attentions", None)
    if not attentions or any(a is None for a in attentions):
        raise AttentionUnavailable(f"the model returned no attention weights; {EAGER_FIX}")
    return as_attention_array(attentions), notice


def selector_attention(selector, instruction: str, text: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(tokens, alpha, raw scores) of an `itlib.attention.Selector` for one instruction and input text."""
    import torch

    from itlib.attention import SelectExample, encode_batch

    items = tuple(text.split())
    if not items:
        raise ValueError("the input is empty: give items such as '7 red cat 2 blue'")
    batch = encode_batch([SelectExample(instruction, items, items[0], "")], selector.vocab)
    with torch.no_grad():
        out = selector(batch["items"], batch["item_mask"], batch["words"], batch["word_mask"])
    return list(items), out.weights[0].numpy(), out.scores[0].numpy()
