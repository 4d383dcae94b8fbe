"""Typical wrong answers for the notebook 04 exercises (picked up by tests/test_exercises.py)."""

import torch


def mean_with_padding(x, mask):
    return x.mean(dim=1)


def divided_by_padded_length(x, mask):
    return (x * mask.unsqueeze(-1)).sum(dim=1) / x.shape[1]


def summed(x, mask):
    return (x * mask.unsqueeze(-1)).sum(dim=1)


def pooled_over_dims(x, mask):
    return (x * mask.unsqueeze(-1)).mean(dim=-1)


def attention_unmasked(x, mask, w, b):
    alpha = torch.softmax(x @ w + b, dim=-1)
    return (alpha.unsqueeze(-1) * x).sum(1), alpha


def attention_zero_filled(x, mask, w, b):
    alpha = torch.softmax((x @ w + b).masked_fill(~mask, 0.0), dim=-1)
    return (alpha.unsqueeze(-1) * x).sum(1), alpha


def attention_no_softmax(x, mask, w, b):
    alpha = x @ w + b
    return (alpha.unsqueeze(-1) * x).sum(1), alpha


def attention_plain_mean(x, mask, w, b):
    alpha = torch.softmax((x @ w + b).masked_fill(~mask, float("-inf")), dim=-1)
    return x.mean(1), alpha


def attention_weights_only(x, mask, w, b):
    return torch.softmax((x @ w + b).masked_fill(~mask, float("-inf")), dim=-1)


WRONG = {
    "nb04.q1": [
        (lambda c: mean_with_padding, "padded positions too"),
        (lambda c: divided_by_padded_length, "padded length"),
        (lambda c: summed, "that is the sum"),
        (lambda c: pooled_over_dims, "pool over the word positions"),
        (lambda c: c(*__import__("itlib.exercises.nb04", fromlist=["x"]).test_batch()), "pass your function"),
    ],
    "nb04.q2": [
        (lambda c: attention_unmasked, "padded positions got weight"),
        (lambda c: attention_zero_filled, "e^0"),
        (lambda c: attention_no_softmax, "raw scores"),
        (lambda c: attention_plain_mean, "plain mean"),
        (lambda c: attention_weights_only, "return two things"),
    ],
    "nb04.q3": [
        (lambda c: ("What is the largest number?", "What is the smallest number?"), "differ in the words"),
        (lambda c: ("Sort these numbers from smallest to largest.", "Put the digits in ascending order."),
         "both are templates of sort_ascending"),
        (lambda c: ("Sort the numbers.", c[1]), "not one of the suite's templates"),
        (lambda c: c[0], "pair of two template strings"),
        (lambda c: (c[0], c[0]), "same template twice"),
    ],
}
