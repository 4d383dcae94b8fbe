"""Typical wrong answers to notebook 01's q3 (q1 and q2 are in tests/test_exercises.py)."""

import torch


def inverted(ids, mask):
    return ids.masked_fill(mask == 1, -100)


def shifted_short(ids, mask):
    return ids[:, 1:].masked_fill(mask[:, 1:] == 0, -100)


def shifted(ids, mask):
    out = torch.full_like(ids, -100)
    out[:, :-1] = ids[:, 1:].masked_fill(mask[:, 1:] == 0, -100)
    return out


def zero_fill(ids, mask):
    return ids * mask


def unmasked(ids, mask):
    return ids.clone()


def float_labels(ids, mask):
    return torch.where(mask == 1, ids.float(), torch.tensor(-100.0))


WRONG = {
    "nb01.q3": [
        (lambda c: inverted, "inverted"),
        (lambda c: shifted_short, "do not shift"),
        (lambda c: shifted, "do not shift"),
        (lambda c: zero_fill, "is a real token id"),
        (lambda c: unmasked, "every token carries loss"),
        (lambda c: float_labels, "integer tensor"),
        (lambda c: "labels", "pass your function itself"),
    ],
}
