"""Exercises for notebook 05: instruction attention by hand, and attention rollout."""

from __future__ import annotations

import numpy as np

from itlib.exercises.core import Exercise, Wrong, judge, run_solution, tensors_close

# ---------------------------------------------------------------------------------------------
# shared data: four real input tokens and one padding position (a trap: it has large values)

H = [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 0.0], [5.0, 5.0]]  # h_1 .. h_5, one row each
W = [[1.0, 0.0], [1.0, 2.0]]
E_I = [1.0, 0.5]
MASK = [1, 1, 1, 1, 0]  # the last position is padding


def _softmax(x):
    x = np.asarray(x, dtype=np.float64)
    z = np.exp(x - x.max())
    return z / z.sum()


def _alpha_variants() -> dict[str, np.ndarray]:
    h, w, e, m = np.array(H), np.array(W), np.array(E_I), np.array(MASK, dtype=bool)
    s = h @ w @ e
    right = np.where(m, _softmax(np.where(m, s, -np.inf)), 0.0)
    return {
        "right": right,
        "padding": _softmax(s),
        "zeroed": np.where(m, _softmax(s), 0.0),
        "transposed": np.where(m, _softmax(np.where(m, h @ w.T @ e, -np.inf)), 0.0),
        "no_w": np.where(m, _softmax(np.where(m, h @ e, -np.inf)), 0.0),
        "sum_normalised": np.where(m, s, 0.0) / np.where(m, s, 0.0).sum(),
        "scores": np.where(m, s, 0.0),
    }


def _as_vector(answer, n: int, what: str) -> np.ndarray:
    if hasattr(answer, "detach"):
        answer = answer.detach().cpu().numpy()
    if isinstance(answer, (int, float)) and not isinstance(answer, bool):
        raise Wrong(f"give {n} numbers ({what}), not a single number.")
    try:
        vec = np.asarray(answer, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise Wrong(f"give {what} as a list or array of {n} numbers (got {type(answer).__name__}).") from None
    if vec.shape != (n,):
        raise Wrong(f"give {n} numbers ({what}), got {vec.size}.")
    return vec


# ---------------------------------------------------------------------------------------------
# q1: the attention weights

_Q1_SOLUTION = """
import numpy as np
from itlib.exercises.nb05 import E_I, H, MASK, W

h, W_, e, mask = np.array(H), np.array(W), np.array(E_I), np.array(MASK, dtype=bool)
scores = h @ W_ @ e                           # s_i = h_i^T W e_I, one per position
scores = np.where(mask, scores, -np.inf)      # padding: -inf before the softmax -> weight exactly 0
my_alpha = np.exp(scores - scores.max())
my_alpha = my_alpha / my_alpha.sum()
"""

def _check_q1(answer) -> None:
    alpha = _as_vector(answer, len(H), "one weight per position, the padding position included")
    v = _alpha_variants()
    mistakes = [
        (v["padding"], "the padding position got weight: mask it BEFORE the softmax (score -inf), so the real "
                       "tokens share all of the weight."),
        (v["zeroed"], "your weights sum to less than 1: you zeroed the padding AFTER the softmax. Mask it before "
                      "(score -inf), so the softmax spreads the weight over the real tokens only."),
        (v["transposed"], "W is the wrong way round: the score is h_i^T W e_I (h on the left of W, e_I on the "
                          "right), not e_I^T W h_i."),
        (v["no_w"], "you scored h_i . e_I and left out W: the score is h_i^T W e_I."),
        (v["sum_normalised"], "you divided the scores by their sum; the softmax exponentiates first: "
                              "alpha_i = exp(s_i) / sum_j exp(s_j)."),
        (v["scores"], "those are the raw scores s_i; the weights are their softmax over the real tokens."),
    ]
    if judge(alpha, v["right"], mistakes, same=tensors_close(1e-3)):
        return
    if abs(alpha.sum() - 1) > 1e-3:
        raise Wrong(f"attention weights sum to 1; yours sum to {alpha.sum():.3f}.")
    if alpha[-1] > 1e-6:
        raise Wrong("the last position is padding: its weight must be exactly 0.")
    raise Wrong(f"you gave {np.round(alpha, 3).tolist()}; compute s_i = h_i^T W e_I for each real position, "
                "then the softmax over them.")


# typical wrong answers to q1 (tests/test_exercises.py runs each through the checker)


def _q1_alpha(name):
    return lambda correct: _alpha_variants()[name]


q1 = Exercise(
    prompt=f"""
**Q1. Instruction attention by hand.** Five encoded input tokens `ex.H` (one row h_i each, the last
one is padding: `ex.MASK = {MASK}`), the matrix `ex.W` and the instruction embedding `ex.E_I`:

h = {H},  W = {W},  e_I = {E_I}.

Compute the weights α_i = softmax_i(h_iᵀ W e_I) over the real tokens, as 5 numbers (the padding
position's weight included). Check with `ex.q1.check(my_alpha)`.
""",
    checker=_check_q1,
    hints=[
        "First the raw scores: `s = np.array(H) @ np.array(W) @ np.array(E_I)` gives one score per position.",
        ("Padding must get exactly zero weight: set its score to `-np.inf` before the softmax "
         "(exp(-inf) = 0), then my_alpha = exp(s) / sum(exp(s))."),
    ],
    solution=_Q1_SOLUTION,
    solution_value=lambda: run_solution(_Q1_SOLUTION, "my_alpha"),
    wrong_answers=[
        (_q1_alpha("padding"), "padding position got weight"),
        (_q1_alpha("zeroed"), "AFTER the softmax"),
        (_q1_alpha("transposed"), "wrong way round"),
        (_q1_alpha("no_w"), "left out W"),
        (_q1_alpha("sum_normalised"), "exponentiates first"),
        (lambda c: c[:4], "padding position included"),
        (lambda c: 0.25, "not a single number"),
        (lambda c: np.array([0.4, 0.3, 0.2, 0.1, 0.0]), "compute s_i"),
    ],
)

# ---------------------------------------------------------------------------------------------
# q2: the context vector


def _context_variants() -> dict[str, np.ndarray]:
    h, m = np.array(H), np.array(MASK, dtype=bool)
    v = _alpha_variants()
    return {
        "right": v["right"] @ h,
        "mean": h[m].mean(0),
        "padding": v["padding"] @ h,
        "scores": v["scores"] @ h,
        "sum": h[m].sum(0),
    }


_Q2_SOLUTION = """
import numpy as np
from itlib.exercises.nb05 import H, q1

my_alpha = q1.solution_value()       # or your own my_alpha from Q1
my_c = my_alpha @ np.array(H)        # c = sum_i alpha_i h_i  (the padding row has weight 0)
"""

def _check_q2(answer) -> None:
    c = _as_vector(answer, len(H[0]), "the context vector c, one number per dimension of h")
    v = _context_variants()
    mistakes = [
        (v["mean"], "that is the plain mean of the real h_i (every token weighted equally): weight each h_i by "
                    "its alpha_i instead."),
        (v["padding"], "the padding row took part: use the alpha from Q1, where padding has weight 0."),
        (v["scores"], "you weighted the h_i by the raw scores; weight them by alpha_i (the softmax)."),
        (v["sum"], "that is the unweighted sum of the h_i: c = sum_i alpha_i h_i."),
    ]
    if judge(c, v["right"], mistakes, same=tensors_close(1e-3)):
        return
    raise Wrong(f"you gave {np.round(c, 3).tolist()}; c = sum_i alpha_i h_i with the alpha of Q1.")


# typical wrong answers to q2 (tests/test_exercises.py runs each through the checker)


def _q2_context(name):
    return lambda correct: _context_variants()[name]


q2 = Exercise(
    prompt="""
**Q2. The context vector.** With the weights α of Q1, compute c = Σ_i α_i h_i (2 numbers).
Check with `ex.q2.check(my_c)`.
""",
    checker=_check_q2,
    hints=[
        "c is a weighted average of the rows of H: `my_alpha @ np.array(H)`.",
        "Use the weights from Q1 (padding has weight 0), not the raw scores.",
    ],
    solution=_Q2_SOLUTION,
    solution_value=lambda: run_solution(_Q2_SOLUTION, "my_c"),
    wrong_answers=[
        (_q2_context("mean"), "plain mean"),
        (_q2_context("padding"), "padding row took part"),
        (_q2_context("scores"), "raw scores"),
        (lambda c: list(c) + [0.0], "got 3"),
    ],
)

# ---------------------------------------------------------------------------------------------
# q3: attention rollout by hand

A1 = [[1.0, 0.0, 0.0], [0.6, 0.4, 0.0], [0.2, 0.5, 0.3]]  # layer 1, mean over heads
A2 = [[1.0, 0.0, 0.0], [0.1, 0.9, 0.0], [0.0, 0.2, 0.8]]  # layer 2, mean over heads


def _hat(a, identity: bool = True) -> np.ndarray:
    a = np.array(a)
    if identity:
        a = 0.5 * a + 0.5 * np.eye(len(a))
    return a / a.sum(-1, keepdims=True)


def _rollout_variants() -> dict[str, np.ndarray]:
    return {
        "right": _hat(A2) @ _hat(A1),
        "order": _hat(A1) @ _hat(A2),
        "no_identity": np.array(A2) @ np.array(A1),
        "last_only": _hat(A2),
        "elementwise": _hat(A2) * _hat(A1),
        "sum": _hat(A2) + _hat(A1),
    }


_Q3_SOLUTION = """
import numpy as np
from itlib.exercises.nb05 import A1, A2

def hat(a):                                   # the residual connection: (A + I) / 2, rows renormalised
    a = 0.5 * np.array(a) + 0.5 * np.eye(len(a))
    return a / a.sum(-1, keepdims=True)

R = hat(A2) @ hat(A1)                         # later layers on the LEFT: R = Â_2 Â_1

from itlib.viz import rollout                 # the library agrees
assert np.allclose(R, rollout(np.array([A1, A2])[:, None]))
"""

def _check_q3(answer) -> None:
    if hasattr(answer, "detach"):
        answer = answer.detach().cpu().numpy()
    try:
        r = np.asarray(answer, dtype=np.float64)
    except (TypeError, ValueError):
        raise Wrong(f"give R as a 3 x 3 array (got {type(answer).__name__}).") from None
    if r.shape != (3, 3):
        raise Wrong(f"R is a 3 x 3 matrix (query x input token); you gave shape {r.shape}.")
    v = _rollout_variants()
    mistakes = [
        (v["order"], "the order is reversed: the later layer goes on the left, R = Â_2 Â_1 (layer 1 acts on the "
                     "input first)."),
        (v["no_identity"], "you multiplied the raw matrices: rollout adds the residual connection first, "
                           "Â = (A + I) / 2 (rows renormalised)."),
        (v["last_only"], "that is layer 2 alone: rollout multiplies the layers, R = Â_2 Â_1."),
        (v["elementwise"], "that is an element-wise product; rollout is a matrix product (`@`)."),
        (v["sum"], "rollout multiplies the layers' matrices, it does not add them."),
    ]
    if judge(r, v["right"], mistakes, same=tensors_close(1e-3)):
        return
    if not np.allclose(r.sum(-1), 1, atol=1e-3):
        raise Wrong(f"each row of a rollout sums to 1; yours sum to {np.round(r.sum(-1), 3).tolist()}.")
    raise Wrong("not quite: Â = (A + I) / 2 for each layer, then R = Â_2 @ Â_1.")


# typical wrong answers to q3 (tests/test_exercises.py runs each through the checker)


def _q3_rollout(name):
    return lambda correct: _rollout_variants()[name]


q3 = Exercise(
    prompt=f"""
**Q3. Attention rollout by hand.** A 2-layer model's attention (already averaged over heads) on 3
tokens is `ex.A1 = {A1}` (layer 1) and `ex.A2 = {A2}` (layer 2). Compute the rollout through
both layers, R = Â₂ Â₁ with Â = (A + I)/2 rows renormalised, as a 3 × 3 array. Check with
`ex.q3.check(R)`.
""",
    checker=_check_q3,
    hints=[
        ("Each token also keeps its own representation (the residual connection): mix in the identity, "
         "Â = 0.5 * A + 0.5 * I."),
        "Matrix product, later layer on the left: `hat(A2) @ hat(A1)`.",
    ],
    solution=_Q3_SOLUTION,
    solution_value=lambda: run_solution(_Q3_SOLUTION, "R"),
    wrong_answers=[
        (_q3_rollout("order"), "order is reversed"),
        (_q3_rollout("no_identity"), "residual connection"),
        (_q3_rollout("last_only"), "layer 2 alone"),
        (_q3_rollout("elementwise"), "element-wise"),
        (lambda c: c[:2], "shape (2, 3)"),
    ],
)
