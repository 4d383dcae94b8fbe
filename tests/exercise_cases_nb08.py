"""Typical wrong answers to the nb08 exercises and the message part each must get."""

from itlib.exercises.nb08 import _q1_values, _q2_values

Q1, Q2 = _q1_values(), _q2_values()

WRONG = {
    "nb08.q1": [
        (lambda c: Q1["accuracy"], "accuracy"),
        (lambda c: Q1["f1_yes"], "class 'yes' alone"),
        (lambda c: Q1["weighted"], "support-weighted"),
        (lambda c: Q1["f1_of_means"], "F1 first, then average"),
        (lambda c: 100 * c, "not a percentage"),
        (lambda c: 0.5, "count TP, FP and FN"),
        (lambda c: "0.67", "expected a number"),
    ],
    "nb08.q2": [
        (lambda c: Q2["p_o"], "raw share"),
        (lambda c: Q2["p_e"], "expected by chance"),
        (lambda c: Q2["quadratic"], "quadratically weighted"),
        (lambda c: Q2["linear"], "linearly weighted"),
        (lambda c: Q2["no_chance_denominator"], "divide by (1 - p_e)"),
        (lambda c: 3.0, "between -1 and 1"),
    ],
    "nb08.q3": [
        (lambda c: 2 * c, "both arms"),
        (lambda c: c - 0.4, "round up"),
        (lambda c: c - 1, "round *up*"),
        (lambda c: 1159, "one-sided"),
        (lambda c: 721, "power term"),
        (lambda c: 74, "squared difference"),
        (lambda c: 100, "far from the formula"),
        (lambda c: 1449, "close, but"),  # within 1.5 % of 1471: once accepted
        (lambda c: 1493, "close, but"),
    ],
}
