"""Typical wrong answers for the notebook 04 exercises (picked up by tests/test_exercises.py)."""

import math

import torch


def weighted_with_padding(x, mask, weights):
    w = weights.unsqueeze(-1)
    return (w * x).sum(1) / w.sum(1)


def weighted_over_all_weights(x, mask, weights):
    w = (weights * mask).unsqueeze(-1)
    return (w * x).sum(1) / weights.sum(1, keepdim=True)


def weighted_by_count(x, mask, weights):
    w = (weights * mask).unsqueeze(-1)
    return (w * x).sum(1) / mask.sum(1, keepdim=True)


def plain_mean(x, mask, weights):
    m = mask.unsqueeze(-1).float()
    return (x * m).sum(1) / m.sum(1)


def weighted_sum(x, mask, weights):
    return ((weights * mask).unsqueeze(-1) * x).sum(1)


def query_unscaled(x, mask, q):
    alpha = torch.softmax((x @ q).masked_fill(~mask, float("-inf")), dim=-1)
    return (alpha.unsqueeze(-1) * x).sum(1), alpha


def query_zero_filled(x, mask, q):
    alpha = torch.softmax((x @ q / math.sqrt(x.shape[-1])).masked_fill(~mask, 0.0), dim=-1)
    return (alpha.unsqueeze(-1) * x).sum(1), alpha


def query_unmasked(x, mask, q):
    alpha = torch.softmax(x @ q / math.sqrt(x.shape[-1]), dim=-1)
    return (alpha.unsqueeze(-1) * x).sum(1), alpha


def query_plain_mean(x, mask, q):
    alpha = torch.softmax((x @ q / math.sqrt(x.shape[-1])).masked_fill(~mask, float("-inf")), dim=-1)
    return x.mean(1), alpha


def query_weights_only(x, mask, q):
    return torch.softmax((x @ q / math.sqrt(x.shape[-1])).masked_fill(~mask, float("-inf")), dim=-1)


def with_answers(**changes):
    return lambda c: {**c, **changes}


WRONG = {
    "nb04.q1": [
        (lambda c: weighted_with_padding, "padded positions took part"),
        (lambda c: weighted_over_all_weights, "sum of *all* weights"),
        (lambda c: weighted_by_count, "number of real words"),
        (lambda c: plain_mean, "plain mean"),
        (lambda c: weighted_sum, "weighted sum"),
        (lambda c: 3.0, "pass your function"),
    ],
    "nb04.q2": [
        (lambda c: query_unscaled, "sqrt(D)"),
        (lambda c: query_zero_filled, "e^0"),
        (lambda c: query_unmasked, "padded positions got weight"),
        (lambda c: query_plain_mean, "plain mean"),
        (lambda c: query_weights_only, "return two things"),
    ],
    "nb04.q3": [
        (with_answers(A="neither"), "bag of words"),                       # order taken for meaning
        (with_answers(B="neither"), "capitals and punctuation"),
        (with_answers(C="both"), "the mean counts repeats"),               # counts forgotten
        (with_answers(C="mean only"), "the mean counts repeats"),
        (with_answers(D="both"), "differs in a word"),
        (lambda c: ("A", "both"), "one entry per pair"),
        (with_answers(A="yes"), "each value is one of"),
    ],
}
