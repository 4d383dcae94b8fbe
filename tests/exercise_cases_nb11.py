"""Typical wrong answers to notebook 11's exercises (deploy)."""

import torch

from itlib.exercises import nb11


def drops_the_crossing_token(probs, p):
    sorted_p, order = probs.sort(dim=-1, descending=True)
    keep_sorted = sorted_p.cumsum(-1) <= p
    keep = torch.zeros_like(keep_sorted).scatter(-1, order, keep_sorted)
    kept = probs * keep
    return kept / kept.sum(-1, keepdim=True)


def not_renormalised(probs, p):
    sorted_p, order = probs.sort(dim=-1, descending=True)
    keep = torch.zeros_like(sorted_p, dtype=torch.bool).scatter(-1, order, sorted_p.cumsum(-1) - sorted_p < p)
    return probs * keep


def sorted_order(probs, p):
    sorted_p, _ = probs.sort(dim=-1, descending=True)
    kept = sorted_p * (sorted_p.cumsum(-1) - sorted_p < p)
    return kept / kept.sum(-1, keepdim=True)


def keeps_everything(probs, p):
    return probs


WRONG = {
    "nb11.q1": [
        (lambda c: "max_new_tokens", "is the cap"),
        (lambda c: "pad_token_id", "only fills the short rows"),
        (lambda c: "do_sample", "not when they stop"),
        (lambda c: "eos", "exact field name"),
        (lambda c: 2, "as a string"),
    ],
    "nb11.q2": [
        (lambda c: nb11._float_size(), "float32 size"),
        (lambda c: c - nb11.VOCAB * nb11.HIDDEN * 3, "not an nn.Linear"),
        (lambda c: c + nb11.VOCAB * nb11.HIDDEN, "lm_head is skipped"),
        (lambda c: c * 8, "bits"),
        (lambda c: c * 2, "count the embedding"),
        (lambda c: "1.4 MB", "expected a number"),
        (lambda c: 1.4e6, "not exact"),    # the int8 size as the notebook's table and check print it (MB, 1 decimal)
        (lambda c: 1.4, "megabytes"),
    ],
    "nb11.q3": [
        (lambda c: drops_the_crossing_token, "keep too few"),
        (lambda c: not_renormalised, "renormalised"),
        (lambda c: sorted_order, "original token order"),
        (lambda c: keeps_everything, "too many"),
        (lambda c: 0.7, "pass your function itself"),
    ],
}
