"""Exercises for notebook 08: macro F1, Cohen's kappa, and the users an A/B test needs."""

from __future__ import annotations

import math

from itlib.exercises.core import Exercise, Wrong, as_number, judge, near, run_solution

# ---------------------------------------------------------------------------------------------
# q1: macro F1 by hand

REFS = ["yes"] * 6 + ["no"] * 4
PREDS = ["yes", "yes", "yes", "yes", "yes", "no", "yes", "yes", "no", "no"]


def _q1_values() -> dict[str, float]:
    """The answer and the numbers the usual mistakes give."""
    out = {}
    f1 = {}
    for c in ("yes", "no"):
        tp = sum(r == c and p == c for r, p in zip(REFS, PREDS))
        fp = sum(r != c and p == c for r, p in zip(REFS, PREDS))
        fn = sum(r == c and p != c for r, p in zip(REFS, PREDS))
        out[f"p_{c}"], out[f"r_{c}"] = tp / (tp + fp), tp / (tp + fn)
        f1[c] = 2 * tp / (2 * tp + fp + fn)
    out["macro"] = (f1["yes"] + f1["no"]) / 2
    out["f1_yes"], out["f1_no"] = f1["yes"], f1["no"]
    out["accuracy"] = sum(r == p for r, p in zip(REFS, PREDS)) / len(REFS)
    out["weighted"] = (REFS.count("yes") * f1["yes"] + REFS.count("no") * f1["no"]) / len(REFS)
    mp, mr = (out["p_yes"] + out["p_no"]) / 2, (out["r_yes"] + out["r_no"]) / 2
    out["f1_of_means"] = 2 * mp * mr / (mp + mr)
    return out


_Q1_SOLUTION = """
from itlib.exercises.nb08 import PREDS, REFS

def f1_of(c):
    tp = sum(r == c and p == c for r, p in zip(REFS, PREDS))   # said c, and it was c
    fp = sum(r != c and p == c for r, p in zip(REFS, PREDS))   # said c, but it was not
    fn = sum(r == c and p != c for r, p in zip(REFS, PREDS))   # was c, but said something else
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    return 2 * precision * recall / (precision + recall)

answer = (f1_of("yes") + f1_of("no")) / 2   # macro: every class counts the same

from itlib.metrics import precision_recall_f1
assert abs(answer - precision_recall_f1(REFS, PREDS, average="macro")["f1"]) < 1e-12
"""


def _check_q1(answer) -> None:
    value = as_number(answer)
    v = _q1_values()
    mistakes = [
        (v["accuracy"], ("that is the accuracy (which is also the micro-averaged F1 here); macro F1 "
                         "computes F1 for each class and averages the classes with equal weight.")),
        (v["f1_yes"], "that is the F1 of class 'yes' alone; macro F1 averages it with the F1 of 'no'."),
        (v["f1_no"], "that is the F1 of class 'no' alone; macro F1 averages it with the F1 of 'yes'."),
        (v["weighted"], ("that is the support-weighted average (6 'yes', 4 'no'); macro gives both classes "
                         "the same weight, 1/2 each.")),
        (v["f1_of_means"], ("you took the harmonic mean of the averaged precision and recall; macro F1 "
                            "is the mean of the per-class F1 scores (F1 first, then average).")),
    ]
    if judge(value, v["macro"], mistakes, same=near(1e-3)):
        return
    if 1 < value <= 100 and math.isclose(value / 100, v["macro"], abs_tol=1e-3):
        raise Wrong("give F1 as a fraction between 0 and 1, not a percentage.")
    raise Wrong(f"you gave {value:.4f}; count TP, FP and FN for 'yes' and for 'no' separately, "
                f"compute each class's F1 = 2PR/(P+R), then average the two.")


q1 = Exercise(
    prompt=f"""
**Q1. Macro F1 by hand.** A classifier answered ten yes/no questions:

- references  `ex.REFS  = {REFS}`
- predictions `ex.PREDS = {PREDS}`

What is its **macro-averaged F1** (a number between 0 and 1)? Work it out with TP, FP and FN per
class, then check it with `itlib.metrics.precision_recall_f1(REFS, PREDS, average="macro")`.
""",
    checker=_check_q1,
    hints=[
        "For class c: TP = said c and it was c; FP = said c but it was not; FN = it was c but said something else.",
        ("P = TP / (TP + FP), R = TP / (TP + FN), F1 = 2PR / (P + R), for 'yes' and for 'no'; macro F1 is "
        "the plain mean of the two F1 values."),
    ],
    solution=_Q1_SOLUTION,
    solution_value=lambda: run_solution(_Q1_SOLUTION, "answer"),
    wrong_answers=[
        (lambda c: _q1_values()["accuracy"], "accuracy"),
        (lambda c: _q1_values()["f1_yes"], "class 'yes' alone"),
        (lambda c: _q1_values()["weighted"], "support-weighted"),
        (lambda c: _q1_values()["f1_of_means"], "F1 first, then average"),
        (lambda c: 100 * c, "not a percentage"),
        (lambda c: 0.5, "count TP, FP and FN"),
        (lambda c: "0.67", "expected a number"),
    ],
)

# ---------------------------------------------------------------------------------------------
# q2: Cohen's kappa by hand

RATER_A = [5, 4, 4, 2, 5, 3, 1, 4, 5, 2, 3, 4]
RATER_B = [5, 4, 3, 2, 4, 3, 1, 4, 5, 1, 3, 3]


def _q2_values() -> dict[str, float]:
    from itlib.metrics import cohen_kappa

    n = len(RATER_A)
    p_o = sum(a == b for a, b in zip(RATER_A, RATER_B)) / n
    p_e = sum(RATER_A.count(c) * RATER_B.count(c) for c in range(1, 6)) / n ** 2
    return {"kappa": (p_o - p_e) / (1 - p_e), "p_o": p_o, "p_e": p_e,
            "linear": cohen_kappa(RATER_A, RATER_B, weights="linear"),
            "quadratic": cohen_kappa(RATER_A, RATER_B, weights="quadratic"),
            "no_chance_denominator": p_o - p_e}


_Q2_SOLUTION = """
from itlib.exercises.nb08 import RATER_A, RATER_B

n = len(RATER_A)
p_o = sum(a == b for a, b in zip(RATER_A, RATER_B)) / n                          # observed agreement
p_e = sum(RATER_A.count(c) * RATER_B.count(c) for c in range(1, 6)) / n ** 2     # agreement by chance
answer = (p_o - p_e) / (1 - p_e)

from itlib.metrics import cohen_kappa
assert abs(answer - cohen_kappa(RATER_A, RATER_B)) < 1e-12
"""


def _check_q2(answer) -> None:
    value = as_number(answer)
    v = _q2_values()
    mistakes = [
        (v["p_o"], ("that is the raw share of items the raters agree on; kappa corrects it for the agreement "
                    "expected by chance: (p_o - p_e) / (1 - p_e).")),
        (v["p_e"], "that is p_e, the agreement expected by chance; kappa = (p_o - p_e) / (1 - p_e)."),
        (v["linear"], ("that is the linearly weighted kappa (near misses count less); the question asks for "
                       "the unweighted one, where any disagreement counts fully.")),
        (v["quadratic"], "that is the quadratically weighted kappa; the question asks for the unweighted one."),
        (v["no_chance_denominator"], ("you forgot to divide by (1 - p_e): kappa rescales so that perfect "
                                      "agreement is 1.")),
    ]
    if judge(value, v["kappa"], mistakes, same=near(1e-3)):
        return
    if not -1 <= value <= 1:
        raise Wrong(f"kappa lies between -1 and 1 (you gave {value:g}).")
    raise Wrong(f"you gave {value:.4f}. p_o = share of items with equal scores; p_e = sum over scores c of "
                f"(share of A's c) x (share of B's c); kappa = (p_o - p_e) / (1 - p_e).")


q2 = Exercise(
    prompt=f"""
**Q2. Do two raters agree?** Two people rated the same 12 answers on the 1-5 scale:

- `ex.RATER_A = {RATER_A}`
- `ex.RATER_B = {RATER_B}`

Compute the **unweighted Cohen's kappa** by hand (observed agreement p_o, chance agreement p_e),
then check it with `itlib.metrics.cohen_kappa`.
""",
    checker=_check_q2,
    hints=[
        "p_o is the share of the 12 items on which A and B gave the same score.",
        ("p_e = sum over the scores c of (A's share of c) x (B's share of c): what two raters with these "
        "habits would agree on by chance. Then kappa = (p_o - p_e) / (1 - p_e)."),
    ],
    solution=_Q2_SOLUTION,
    solution_value=lambda: run_solution(_Q2_SOLUTION, "answer"),
    wrong_answers=[
        (lambda c: _q2_values()["p_o"], "raw share"),
        (lambda c: _q2_values()["p_e"], "expected by chance"),
        (lambda c: _q2_values()["quadratic"], "quadratically weighted"),
        (lambda c: _q2_values()["linear"], "linearly weighted"),
        (lambda c: _q2_values()["no_chance_denominator"], "divide by (1 - p_e)"),
        (lambda c: 3.0, "between -1 and 1"),
    ],
)

# ---------------------------------------------------------------------------------------------
# q3: how many users does the A/B test need?

P_A, P_B, ALPHA, POWER = 0.60, 0.65, 0.05, 0.80

_Q3_SOLUTION = """
import math
from statistics import NormalDist

from itlib.exercises.nb08 import ALPHA, P_A, P_B, POWER

z_a = NormalDist().inv_cdf(1 - ALPHA / 2)      # 1.96: two-sided test at level ALPHA
z_b = NormalDist().inv_cdf(POWER)              # 0.84: power 80 %
p_bar = (P_A + P_B) / 2
n = (z_a * math.sqrt(2 * p_bar * (1 - p_bar)) + z_b * math.sqrt(P_A * (1 - P_A) + P_B * (1 - P_B))) ** 2 \\
    / (P_B - P_A) ** 2
answer = math.ceil(n)                          # users per arm, rounded up

from itlib.abtest import sample_size
assert answer == sample_size(P_A, P_B, ALPHA, POWER)
"""


def _n(z_a: float, z_b: float, pooled: bool = True) -> float:
    bar = (P_A + P_B) / 2
    spread = math.sqrt(P_A * (1 - P_A) + P_B * (1 - P_B))
    num = z_a * (math.sqrt(2 * bar * (1 - bar)) if pooled else spread) + z_b * spread
    return num ** 2 / (P_B - P_A) ** 2


def _check_q3(answer) -> None:
    from statistics import NormalDist

    value = as_number(answer)
    z = NormalDist().inv_cdf
    z_a, z_b = z(1 - ALPHA / 2), z(POWER)
    # the formula with exact or rounded z values (1.96, 0.84), pooled or unpooled variance under H0
    variants = [_n(a, b, pooled) for a, b in ((z_a, z_b), (1.96, 0.84)) for pooled in (True, False)]
    n = math.ceil(variants[0])
    ceil_variants = {math.ceil(v) for v in variants}  # any variant rounded up is right; rounded down, not

    def close(target):
        return abs(value - target) <= 0.015 * target

    if value != int(value):
        if close(n):
            raise Wrong(f"{value:g} users cannot be served: round up to a whole number of users per arm.")
    elif int(value) in ceil_variants:
        return
    elif int(value) in {math.floor(v) for v in variants}:
        raise Wrong("round *up*: rounding down leaves the test just short of the power asked for.")
    if close(2 * n):
        raise Wrong("that is the total for both arms; the formula gives the users needed *per arm*.")
    if close(_n(z(1 - ALPHA), z_b)):
        raise Wrong("you used the one-sided critical value (1.645); the test is two-sided, so use "
                    "z at 1 - alpha/2 = 1.96.")
    if close(_n(z_a, 0.0)):
        raise Wrong("you left out the power term z_(1-beta) = 0.84: with it missing, the test would find a "
                    "true difference only half of the time.")
    if close(variants[0] * abs(P_B - P_A)):
        raise Wrong("divide by the squared difference (p_B - p_A)^2, not by the difference itself.")
    if close(n):
        raise Wrong(f"you gave {value:g}: close, but the formula with z = 1.96 and 0.84 (or their exact values) "
                    f"gives between {min(ceil_variants)} and {max(ceil_variants)} users per arm. Check p̄ = "
                    f"(p_A + p_B) / 2 under the square root and the squared difference below it.")
    raise Wrong(f"you gave {value:g}; that is far from the formula's answer. Check the z values (1.96 and 0.84) "
                f"and the formula in the notebook.")


q3 = Exercise(
    prompt=f"""
**Q3. How many users?** Version A makes {P_A:.0%} of users happy; you hope version B makes {P_B:.0%}.
How many users **per arm** does a two-sided test at level α = {ALPHA} need to detect this
difference with power {POWER:.0%}? Use the sample-size formula of the notebook; answer with a whole
number of users.
""",
    checker=_check_q3,
    hints=[
        ("n = (z_{1-α/2} sqrt(2 p̄ (1-p̄)) + z_{1-β} sqrt(p_A(1-p_A) + p_B(1-p_B)))² / (p_B - p_A)², "
        "with p̄ = (p_A + p_B) / 2."),
        ("z_{1-α/2} = 1.96 for α = 0.05 (two-sided), z_{1-β} = 0.84 for 80 % power "
        "(`statistics.NormalDist().inv_cdf`). Round up."),
    ],
    solution=_Q3_SOLUTION,
    solution_value=lambda: run_solution(_Q3_SOLUTION, "answer"),
    wrong_answers=[
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
)
