"""Typical wrong answers for notebook 03's exercises (picked up by tests/test_exercises.py)."""

import torch


def sum_of_mask(mask):
    return mask.sum(1)


def sum_minus_one(mask):
    return mask.sum(1) - 1


def first_real(mask):
    return mask.argmax(1)


def always_last(mask):
    return torch.full((mask.shape[0],), mask.shape[1] - 1)


def whole_mask(mask):
    return mask


WRONG = {
    "nb03.q1": [
        (lambda c: sum_of_mask, "off by one"),
        (lambda c: sum_minus_one, "works only for right padding"),
        (lambda c: first_real, "FIRST real token"),
        (lambda c: always_last, "pad token"),
        (lambda c: whole_mask, "one position per row"),
        (lambda c: 3, "pass your function itself"),
    ],
    "nb03.q2": [
        (lambda c: 6 / 9, "that is the precision"),
        (lambda c: 6 / 10, "that is the recall"),
        (lambda c: (6 / 9 + 6 / 10) / 2, "harmonic mean"),
        (lambda c: 16 / 19, "only at its position"),
        (lambda c: 0, "tag by tag"),
        (lambda c: 100 * c, "percentage"),
        (lambda c: "0.63", "expected a number"),
    ],
    "nb03.q3": [
        (lambda c: "so so", "averaged"),
        (lambda c: "negative", "first token only"),
        (lambda c: "mixed", "LOWEST"),
        (lambda c: "neutral", "not one of the labels"),
        (lambda c: -0.9, "label word as a string"),
    ],
}
