"""Exercises for notebook 06: LoRA's parameter count, merging LoRA into W, and the distillation loss."""

from __future__ import annotations

import torch

from itlib.exercises.core import Exercise, Wrong, as_number, judge, near, run_solution

# ---------------------------------------------------------------------------------------------
# q1: how many parameters does LoRA train?

HIDDEN, FFN, LAYERS = 128, 384, 4  # the shipped base model
R = 8
TARGETS = ("q_proj", "v_proj", "down_proj")  # q, v: hidden -> hidden; down: ffn -> hidden


def _lora_count(r: int = R, layers: int = LAYERS, both: bool = True) -> int:
    shapes = {"q_proj": (HIDDEN, HIDDEN), "v_proj": (HIDDEN, HIDDEN), "down_proj": (FFN, HIDDEN)}  # (in, out)
    per_layer = sum(r * (i + o) if both else r * i for i, o in (shapes[t] for t in TARGETS))
    return per_layer * layers


_Q1_SOLUTION = """
from itlib.exercises.nb06 import FFN, HIDDEN, LAYERS, R

# each adapted d_in -> d_out layer trains A (r x d_in) and B (d_out x r): r * (d_in + d_out) numbers
per_layer = R * (HIDDEN + HIDDEN) + R * (HIDDEN + HIDDEN) + R * (FFN + HIDDEN)   # q_proj, v_proj, down_proj
n_lora = per_layer * LAYERS
"""

_Q1_ONLY_A = ("you counted only A (or only half of the pair): LoRA trains A (r x d_in) AND B "
              "(d_out x r), r * (d_in + d_out) per layer.")

_Q1_MISTAKES = [
    (LAYERS * (2 * HIDDEN * HIDDEN + FFN * HIDDEN),
     "that is the number of weights in W itself (d_in x d_out per layer), which LoRA freezes; "
     "LoRA trains A (r x d_in) and B (d_out x r)."),
    (_lora_count(both=False), _Q1_ONLY_A),
    (_lora_count() // 2, _Q1_ONLY_A),
    (_lora_count() // LAYERS,
     f"that is one transformer block; the model has {LAYERS}, each with its own adapters."),
    (LAYERS * 3 * R * 2 * HIDDEN,
     f"down_proj maps the feed-forward width {FFN} to {HIDDEN}: its A is r x {FFN}, not r x {HIDDEN}."),
    (_lora_count(r=2 * R), "you used alpha = 16 in place of the rank: the matrices have r = 8 rows/columns; "
                           "alpha only scales B A by alpha / r."),
]


def _check_q1(answer) -> None:
    value = as_number(answer)
    if judge(value, _lora_count(), _Q1_MISTAKES):
        return
    raise Wrong(f"you gave {value:g}; add r * (d_in + d_out) for q_proj, v_proj and down_proj, times the "
                "number of blocks.")


q1 = Exercise(
    prompt=f"""
**Q1. What does LoRA train?** The base model has {LAYERS} transformer blocks of width {HIDDEN} and
feed-forward width {FFN}. You add LoRA adapters of rank r = {R} (alpha = 16) to `q_proj` and `v_proj`
(each {HIDDEN} -> {HIDDEN}) and to `down_proj` ({FFN} -> {HIDDEN}) in every block. How many parameters
are trained? Check with `ex.q1.check(n_lora)` (you can confirm it with `itlib.strategies.add_lora` and
`trainable`).
""",
    checker=_check_q1,
    hints=[
        "An adapted layer y = W x + (alpha / r) B A x trains A (r x d_in) and B (d_out x r); W stays frozen.",
        (f"Per block: q_proj and v_proj give r * ({HIDDEN} + {HIDDEN}) each, down_proj r * ({FFN} + {HIDDEN}); "
         f"multiply by {LAYERS} blocks."),
    ],
    solution=_Q1_SOLUTION,
    solution_value=lambda: run_solution(_Q1_SOLUTION, "n_lora"),
    wrong_answers=[
        (lambda c: LAYERS * (2 * HIDDEN ** 2 + FFN * HIDDEN), "which LoRA freezes"),
        (lambda c: _lora_count(both=False), "AND B"),
        (lambda c: c // LAYERS, "one transformer block"),
        (lambda c: LAYERS * 3 * R * 2 * HIDDEN, "feed-forward width"),
        (lambda c: _lora_count(r=16), "alpha = 16 in place of the rank"),
        (lambda c: "32768", "expected a number"),
    ],
)

# ---------------------------------------------------------------------------------------------
# q2: merge LoRA into W


def _q2_case():
    g = torch.Generator().manual_seed(6)
    d_in, d_out, r = 5, 3, 2
    return (torch.randn(d_out, d_in, generator=g), torch.randn(r, d_in, generator=g),
            torch.randn(d_out, r, generator=g), 4.0, r)


_Q2_SOLUTION = """
def merge(W, A, B, alpha, r):
    # y = W x + (alpha / r) B (A x) = (W + (alpha / r) B A) x
    return W + (alpha / r) * (B @ A)
"""


def _check_q2(answer) -> None:
    if not callable(answer):
        raise Wrong(f"pass your function itself, e.g. `check(merge)` (got {type(answer).__name__}).")
    W, A, B, alpha, r = _q2_case()
    try:
        out = answer(W.clone(), A.clone(), B.clone(), alpha, r)
    except RuntimeError as err:
        raise Wrong(f"the shapes do not fit ({err}): B (d_out x r) @ A (r x d_in) has W's shape "
                    "d_out x d_in.") from None
    if not isinstance(out, torch.Tensor):
        raise Wrong(f"return the merged weight as a tensor, not {type(out).__name__}.")
    if out.shape != W.shape:
        raise Wrong(f"the merged weight has W's shape {tuple(W.shape)} (d_out x d_in); yours is {tuple(out.shape)}.")
    right = W + alpha / r * B @ A
    mistakes = [
        (W + B @ A, "you forgot the scaling: the adapter adds (alpha / r) * B A."),
        (W + r / alpha * B @ A, "the scaling is alpha / r, not r / alpha."),
        (alpha / r * B @ A, "that is the update alone; the merged weight is W PLUS (alpha / r) B A."),
        (W - alpha / r * B @ A, "add the update, do not subtract it."),
    ]
    if judge(out, right, mistakes, same=lambda a, b: torch.allclose(a, b, atol=1e-5)):
        x = torch.randn(W.shape[1])
        if not torch.allclose(out @ x, W @ x + alpha / r * (B @ (A @ x)), atol=1e-4):  # pragma: no cover
            raise Wrong("merged W x differs from W x + (alpha/r) B A x.")
        return
    raise Wrong("for each x the merged layer must give W x + (alpha / r) B (A x); yours does not.")


# typical wrong answers to q2 (tests/test_exercises.py runs each through the checker)


def _q2_plus_one(W, A, B, alpha, r):
    return W + 1


q2 = Exercise(
    prompt="""
**Q2. Merge LoRA into W.** After training, LoRA costs nothing at inference: fold the adapter into the
frozen weight. Write `merge(W, A, B, alpha, r)` returning the merged weight (W is d_out x d_in, A is
r x d_in, B is d_out x r) so that `merged @ x == W @ x + (alpha / r) * B @ (A @ x)`. Check with
`ex.q2.check(merge)`; `itlib.strategies.merge_lora` does this for every adapted layer.
""",
    checker=_check_q2,
    hints=[
        "Matrix products are associative: B (A x) = (B A) x, and B A has W's shape.",
        "merged = W + (alpha / r) * (B @ A).",
    ],
    solution=_Q2_SOLUTION,
    solution_value=lambda: run_solution(_Q2_SOLUTION, "merge"),
    wrong_answers=[
        (lambda c: (lambda W, A, B, alpha, r: W + B @ A), "forgot the scaling"),
        (lambda c: (lambda W, A, B, alpha, r: W + r / alpha * B @ A), "not r / alpha"),
        (lambda c: (lambda W, A, B, alpha, r: alpha / r * B @ A), "the update alone"),
        (lambda c: (lambda W, A, B, alpha, r: alpha / r * A.T @ B.T), "W's shape"),
        (lambda c: (lambda W, A, B, alpha, r: W + alpha / r * A @ B), "shapes do not fit"),
        (lambda c: _q2_plus_one, "yours does not"),
        (lambda c: 3.0, "pass your function itself"),
    ],
)

# ---------------------------------------------------------------------------------------------
# q3: the distillation loss


def _q3_case():
    g = torch.Generator().manual_seed(3)
    return torch.randn(6, 10, generator=g), torch.randn(6, 10, generator=g) * 2, 2.0  # (positions, vocab)


def _kd(s, t, T):
    p_t = torch.softmax(t / T, -1)
    return T * T * (p_t * (torch.log_softmax(t / T, -1) - torch.log_softmax(s / T, -1))).sum(-1).mean()


_Q3_SOLUTION = """
import torch

def kd(student_logits, teacher_logits, T):
    # T^2 * mean over positions of KL(p_teacher || p_student), both softened by T
    log_p_t = torch.log_softmax(teacher_logits / T, dim=-1)
    log_p_s = torch.log_softmax(student_logits / T, dim=-1)
    return T * T * (log_p_t.exp() * (log_p_t - log_p_s)).sum(-1).mean()
"""


def _check_q3(answer) -> None:
    if not callable(answer):
        raise Wrong(f"pass your function itself, e.g. `check(kd)` (got {type(answer).__name__}).")
    s, t, T = _q3_case()
    out = answer(s.clone(), t.clone(), T)
    if isinstance(out, torch.Tensor) and out.numel() > 1:
        raise Wrong("return one number (the mean over positions), not one value per position.")
    value = float(out)
    p_t = torch.softmax(t / T, -1)
    cross_entropy = T * T * -(p_t * torch.log_softmax(s / T, -1)).sum(-1).mean()
    mistakes = [
        (float(_kd(t, s, T)), ("the KL is the wrong way round: KL(p_teacher || p_student) weights by the "
                               "TEACHER's probabilities.")),
        (float(_kd(s, t, T) / (T * T)),
         "you forgot the factor T^2, which keeps the gradient's size independent of T."),
        (float(_kd(s, t, 1.0)),
         "you did not soften with the temperature: divide both logits by T before the softmax."),
        (float(_kd(s, t, T) * s.shape[0]), "average over positions (mean), do not sum."),
        (float(cross_entropy), ("that is the cross-entropy to the teacher's soft labels: it differs from the "
                                "KL by the teacher's entropy, so it is not 0 when student = teacher.")),
    ]
    if judge(value, float(_kd(s, t, T)), mistakes, same=near(1e-4)):
        if abs(float(answer(t.clone(), t.clone(), T))) > 1e-5:
            raise Wrong("the loss must be 0 when the student's logits equal the teacher's.")
        return
    raise Wrong(f"you gave {value:.4f}; compute T^2 * mean_t sum_v p_t(v) (log p_t(v) - log p_s(v)) with "
                "p = softmax(logits / T).")


# typical wrong answers to q3 (tests/test_exercises.py runs each through the checker)


def _q3_reversed(s, t, T):
    return _kd(t, s, T)


def _q3_no_t2(s, t, T):
    return _kd(s, t, T) / (T * T)


def _q3_no_temperature(s, t, T):
    return _kd(s, t, 1.0)


def _q3_cross_entropy(s, t, T):
    return T * T * -(torch.softmax(t / T, -1) * torch.log_softmax(s / T, -1)).sum(-1).mean()


def _q3_per_position(s, t, T):
    p = torch.log_softmax(t / T, -1)
    return T * T * (p.exp() * (p - torch.log_softmax(s / T, -1))).sum(-1)


q3 = Exercise(
    prompt="""
**Q3. The distillation loss.** Write `kd(student_logits, teacher_logits, T)` for logits of shape
(positions, vocabulary): T² times the mean over positions of KL(p_teacher ‖ p_student), where
p = softmax(logits / T). It must be 0 when the two are equal. Check with `ex.q3.check(kd)`; the
library's version is `itlib.strategies.kd_divergence`.
""",
    checker=_check_q3,
    hints=[
        "`torch.log_softmax(logits / T, dim=-1)` gives log p for both; KL(p || q) = sum_v p(v) (log p(v) - log q(v)).",
        "Sum the KL over the vocabulary, average it over the positions, multiply by T * T.",
    ],
    solution=_Q3_SOLUTION,
    solution_value=lambda: run_solution(_Q3_SOLUTION, "kd"),
    wrong_answers=[
        (lambda c: _q3_reversed, "wrong way round"),
        (lambda c: _q3_no_t2, "factor T^2"),
        (lambda c: _q3_no_temperature, "soften with the temperature"),
        (lambda c: _q3_cross_entropy, "cross-entropy"),
        (lambda c: _q3_per_position, "one number"),
        (lambda c: 0.5, "pass your function itself"),
    ],
)
