"""Typical wrong answers to the notebook-05 exercises, and the message each must get."""

import numpy as np

from itlib.exercises import nb05


def alpha(name):
    return lambda correct: nb05._alpha_variants()[name]


def context(name):
    return lambda correct: nb05._context_variants()[name]


def rollout(name):
    return lambda correct: nb05._rollout_variants()[name]


WRONG = {
    "nb05.q1": [
        (alpha("padding"), "padding position got weight"),
        (alpha("zeroed"), "AFTER the softmax"),
        (alpha("transposed"), "wrong way round"),
        (alpha("no_w"), "left out W"),
        (alpha("sum_normalised"), "exponentiates first"),
        (lambda c: c[:4], "padding position included"),
        (lambda c: 0.25, "not a single number"),
        (lambda c: np.array([0.4, 0.3, 0.2, 0.1, 0.0]), "compute s_i"),
    ],
    "nb05.q2": [
        (context("mean"), "plain mean"),
        (context("padding"), "padding row took part"),
        (context("scores"), "raw scores"),
        (lambda c: list(c) + [0.0], "got 3"),
    ],
    "nb05.q3": [
        (rollout("order"), "order is reversed"),
        (rollout("no_identity"), "residual connection"),
        (rollout("last_only"), "layer 2 alone"),
        (rollout("elementwise"), "element-wise"),
        (lambda c: c[:2], "shape (2, 3)"),
    ],
}
