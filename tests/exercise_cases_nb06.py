"""Typical wrong answers to the notebook-06 exercises, and the message each must get."""

import torch

from itlib.exercises import nb06


def kd_reversed(s, t, T):
    return nb06._kd(t, s, T)


def kd_no_t2(s, t, T):
    return nb06._kd(s, t, T) / (T * T)


def kd_no_temperature(s, t, T):
    return nb06._kd(s, t, 1.0)


def kd_cross_entropy(s, t, T):
    return T * T * -(torch.softmax(t / T, -1) * torch.log_softmax(s / T, -1)).sum(-1).mean()


def kd_per_position(s, t, T):
    p = torch.log_softmax(t / T, -1)
    return T * T * (p.exp() * (p - torch.log_softmax(s / T, -1))).sum(-1)


WRONG = {
    "nb06.q1": [
        (lambda c: nb06.LAYERS * (2 * nb06.HIDDEN ** 2 + nb06.FFN * nb06.HIDDEN), "which LoRA freezes"),
        (lambda c: nb06._lora_count(both=False), "AND B"),
        (lambda c: c // nb06.LAYERS, "one transformer block"),
        (lambda c: nb06.LAYERS * 3 * nb06.R * 2 * nb06.HIDDEN, "feed-forward width"),
        (lambda c: nb06._lora_count(r=16), "alpha = 16 in place of the rank"),
        (lambda c: "32768", "expected a number"),
    ],
    "nb06.q2": [
        (lambda c: (lambda W, A, B, alpha, r: W + B @ A), "forgot the scaling"),
        (lambda c: (lambda W, A, B, alpha, r: W + r / alpha * B @ A), "not r / alpha"),
        (lambda c: (lambda W, A, B, alpha, r: alpha / r * B @ A), "the update alone"),
        (lambda c: (lambda W, A, B, alpha, r: alpha / r * A.T @ B.T), "W's shape"),
        (lambda c: (lambda W, A, B, alpha, r: W + alpha / r * A @ B), "shapes do not fit"),
        (lambda c: W_plus_one, "yours does not"),
        (lambda c: 3.0, "pass your function itself"),
    ],
    "nb06.q3": [
        (lambda c: kd_reversed, "wrong way round"),
        (lambda c: kd_no_t2, "factor T^2"),
        (lambda c: kd_no_temperature, "soften with the temperature"),
        (lambda c: kd_cross_entropy, "cross-entropy"),
        (lambda c: kd_per_position, "one number"),
        (lambda c: 0.5, "pass your function itself"),
    ],
}


def W_plus_one(W, A, B, alpha, r):
    return W + 1
