"""Exercises for notebook 04: pooling word vectors into an instruction embedding e_I."""

from __future__ import annotations

import math

import torch

from itlib.exercises.core import Exercise, Wrong, judge, run_solution, tensors_close


def test_batch():
    """Word vectors x (3 instructions, 4 positions, 5 dims) and the mask of real words: 3, 1 and 4
    words. The padded positions hold large non-zero values, as a careless pooling would use them."""
    g = torch.Generator().manual_seed(4)
    x = torch.randn(3, 4, 5, generator=g)
    mask = torch.tensor([[True, True, True, False], [True, False, False, False], [True, True, True, True]])
    x = torch.where(mask.unsqueeze(-1), x, torch.full_like(x, 7.0))
    return x, mask


def _call(fn, *args):
    if not callable(fn):
        raise Wrong(f"pass your function itself (e.g. `my_mean_pool`), not its result "
                    f"({type(fn).__name__}).")
    return fn(*args)


def _as_tensor(out, what: str):
    if not isinstance(out, torch.Tensor):
        raise Wrong(f"{what} should be a torch tensor, got {type(out).__name__}.")
    return out.detach().float()


# ---------------------------------------------------------------------------------------------
# q1: weighted mean pooling (e.g. IDF weights), with padding


def test_weights():
    """A weight per word position of `test_batch()` (e.g. how rare the word is), (3, 4); the padded
    positions carry weights too, as a careless pooling would use them."""
    return torch.tensor([[1.0, 0.5, 2.0, 3.0], [0.7, 3.0, 3.0, 3.0], [0.2, 1.0, 1.5, 0.3]])


_Q1_SOLUTION = """
def my_weighted_pool(x, mask, weights):
    w = (weights * mask).unsqueeze(-1)          # (B, L, 1): each real word's weight, 0 on padding
    return (w * x).sum(dim=1) / w.sum(dim=1)    # sum_i w_i e_i / sum_i w_i over the real words
"""


def _check_q1(fn) -> None:
    from itlib.embeddings import mean_pool

    x, mask = test_batch()
    weights = test_weights()
    out = _as_tensor(_call(fn, x, mask, weights), "e_I")
    w = (weights * mask).unsqueeze(-1)
    want = (w * x).sum(1) / w.sum(1)
    if out.shape != want.shape:
        raise Wrong(f"got shape {tuple(out.shape)}, expected {tuple(want.shape)}: one D-dimensional e_I per "
                    f"instruction, so pool over the word positions (dim=1) and keep the vector dimension.")
    wu = weights.unsqueeze(-1)
    mistakes = [
        ((wu * x).sum(1) / wu.sum(1),
         "the padded positions took part with their weights: padding is not part of the "
         "instruction. Multiply the weights by the mask first."),
        ((w * x).sum(1) / wu.sum(1),
         "the padded vectors are masked, but you divided by the sum of *all* weights, padding "
         "included; divide by the sum of the real words' weights."),
        ((w * x).sum(1) / mask.sum(1, keepdim=True),
         "you divided by the number of real words; a weighted mean divides by the sum of the "
         "weights, so that equal weights give the plain mean."),
        (mean_pool(x, mask), "that is the plain mean of the real words: the weights are missing."),
        ((w * x).sum(1), "that is the weighted sum; divide it by the sum of the real words' weights."),
    ]
    if judge(out, want, mistakes, same=tensors_close()):
        return
    raise Wrong("not sum_i w_i e_i / sum_i w_i over the real words; try it on `ex.test_batch()` and "
                "`ex.test_weights()`, and check that equal weights give `itlib.embeddings.mean_pool`.")


# typical wrong answers to q1 (tests/test_exercises.py runs each through the checker)


def _q1_weighted_with_padding(x, mask, weights):
    w = weights.unsqueeze(-1)
    return (w * x).sum(1) / w.sum(1)


def _q1_weighted_over_all_weights(x, mask, weights):
    w = (weights * mask).unsqueeze(-1)
    return (w * x).sum(1) / weights.sum(1, keepdim=True)


def _q1_weighted_by_count(x, mask, weights):
    w = (weights * mask).unsqueeze(-1)
    return (w * x).sum(1) / mask.sum(1, keepdim=True)


def _q1_plain_mean(x, mask, weights):
    m = mask.unsqueeze(-1).float()
    return (x * m).sum(1) / m.sum(1)


def _q1_weighted_sum(x, mask, weights):
    return ((weights * mask).unsqueeze(-1) * x).sum(1)


q1 = Exercise(
    prompt="""
**Q1. Weighted mean pooling.** Mean pooling weights "the" as much as "largest". A fixed fix (no training):
give each word a weight $w_i$ — say, higher for rarer words — and pool
$e_I = \\sum_i w_i e_i \\,/\\, \\sum_i w_i$ over the *real* words. Write `my_weighted_pool(x, mask, weights)`
with x (B, L, D), mask (B, L) True on real words and weights (B, L), returning e_I (B, D). Padded positions
carry weights too; they must play no part. Try it on `x, mask = ex.test_batch()` with
`weights = ex.test_weights()`, and check it with `ex.q1.check(my_weighted_pool)`.
""",
    checker=_check_q1,
    hints=[
        "Zero the weights of the padded positions first: `weights * mask`.",
        ("With `w = (weights * mask).unsqueeze(-1)`, the numerator is `(w * x).sum(dim=1)` and the denominator "
         "the sum of the same weights over dim=1."),
    ],
    solution=_Q1_SOLUTION,
    solution_value=lambda: run_solution(_Q1_SOLUTION, "my_weighted_pool"),
    wrong_answers=[
        (lambda c: _q1_weighted_with_padding, "padded positions took part"),
        (lambda c: _q1_weighted_over_all_weights, "sum of *all* weights"),
        (lambda c: _q1_weighted_by_count, "number of real words"),
        (lambda c: _q1_plain_mean, "plain mean"),
        (lambda c: _q1_weighted_sum, "weighted sum"),
        (lambda c: 3.0, "pass your function"),
    ],
)

# ---------------------------------------------------------------------------------------------
# q2: attention pooling with a query vector (scaled dot product)

_Q2_SOLUTION = """
import math
import torch

def my_query_pool(x, mask, q):
    scores = x @ q / math.sqrt(x.shape[-1])               # (B, L): q^T e_i / sqrt(D)
    scores = scores.masked_fill(~mask, float("-inf"))     # padding: exp(-inf) = 0 weight
    alpha = torch.softmax(scores, dim=-1)                 # over the words of each instruction
    e = (alpha.unsqueeze(-1) * x).sum(dim=1)              # sum_i alpha_i e_i
    return e, alpha
"""


def _q2_query():
    return torch.tensor([1.6, -1.0, 0.6, 2.4, -1.4])


def _check_q2(fn) -> None:
    from itlib.embeddings import AttentionPool

    x, mask = test_batch()
    q = _q2_query()
    out = _call(fn, x, mask, q)
    if not (isinstance(out, tuple) and len(out) == 2):
        raise Wrong("return two things, `(e_I, alpha)`: the pooled vectors (B, D) and the weights (B, L).")
    e, alpha = _as_tensor(out[0], "e_I"), _as_tensor(out[1], "alpha")
    pool = AttentionPool(5, query=True)
    with torch.no_grad():
        pool.q.copy_(q)
        want_e, want_alpha = pool(x, mask)
    if alpha.shape != want_alpha.shape:
        raise Wrong(f"alpha has shape {tuple(alpha.shape)}, expected {tuple(want_alpha.shape)}: one weight per "
                    f"word position of each instruction.")
    raw = x @ q / math.sqrt(5)
    if not torch.allclose(alpha.sum(-1), torch.ones(len(alpha)), atol=1e-4):
        if torch.allclose(alpha, raw, atol=1e-4) or torch.allclose(alpha, x @ q, atol=1e-4):
            raise Wrong("alpha are the raw scores; the weights are their softmax over the words.")
        raise Wrong("the weights of each instruction must sum to 1 over its words: softmax over the last "
                    "dimension (the word positions), after masking.")
    padded = float(alpha[~mask].abs().sum())
    if padded > 1e-6:
        if torch.allclose(alpha, torch.softmax(raw.masked_fill(~mask, 0.0), dim=-1), atol=1e-5):
            raise Wrong("filling the padded scores with 0 still gives them weight e^0 / Z > 0; fill them "
                        "with -inf so that exp(-inf) = 0.")
        raise Wrong(f"padded positions got weight {padded:.2f} in total: set their scores to -inf before "
                    f"the softmax.")
    unscaled = torch.softmax((x @ q).masked_fill(~mask, float("-inf")), dim=-1)
    mistakes = [(unscaled, "almost: the score is scaled, q^T e_i / sqrt(D) with D = 5, so that its size "
                           "does not grow with the dimension.")]
    if not judge(alpha, want_alpha, mistakes, same=tensors_close()):
        raise Wrong("the weights sum to 1 and skip the padding, but they are not softmax(q^T e_i / sqrt(D)) "
                    "of the real words; check the scores.")
    mistakes = [(x.mean(1), "alpha is right, but e_I is a plain mean; it is the weighted sum sum_i alpha_i e_i.")]
    if not judge(e, want_e, mistakes, same=tensors_close()):
        raise Wrong("alpha is right, but e_I is not sum_i alpha_i e_i: multiply each word vector by its "
                    "weight, `alpha.unsqueeze(-1) * x`, and sum over dim=1.")


# typical wrong answers to q2 (tests/test_exercises.py runs each through the checker)


def _q2_unscaled(x, mask, q):
    alpha = torch.softmax((x @ q).masked_fill(~mask, float("-inf")), dim=-1)
    return (alpha.unsqueeze(-1) * x).sum(1), alpha


def _q2_zero_filled(x, mask, q):
    alpha = torch.softmax((x @ q / math.sqrt(x.shape[-1])).masked_fill(~mask, 0.0), dim=-1)
    return (alpha.unsqueeze(-1) * x).sum(1), alpha


def _q2_unmasked(x, mask, q):
    alpha = torch.softmax(x @ q / math.sqrt(x.shape[-1]), dim=-1)
    return (alpha.unsqueeze(-1) * x).sum(1), alpha


def _q2_plain_mean(x, mask, q):
    alpha = torch.softmax((x @ q / math.sqrt(x.shape[-1])).masked_fill(~mask, float("-inf")), dim=-1)
    return x.mean(1), alpha


def _q2_weights_only(x, mask, q):
    return torch.softmax((x @ q / math.sqrt(x.shape[-1])).masked_fill(~mask, float("-inf")), dim=-1)


q2 = Exercise(
    prompt="""
**Q2. Attention pooling with a query.** Section 2 scores each word with $w^\\top e_i + b$. Transformers
score with a *query* vector instead, scaled by the width: $\\alpha_i = \\mathrm{softmax}_i(q^\\top e_i/\\sqrt{D})$
over the real words, $e_I = \\sum_i \\alpha_i e_i$. Write `my_query_pool(x, mask, q)` returning `(e_I, alpha)`
(x (B, L, D), mask (B, L), q (D,)); padded positions get weight 0. Check it with
`ex.q2.check(my_query_pool)`; the library's version is `itlib.embeddings.AttentionPool(D, query=True)`.
""",
    checker=_check_q2,
    hints=[
        ("The scores are `x @ q / math.sqrt(D)`, shape (B, L). Before the softmax, give every padded position "
         "a score that makes its weight exactly zero."),
        ("`scores.masked_fill(~mask, float('-inf'))`, then `torch.softmax(scores, dim=-1)`; e_I is "
         "`(alpha.unsqueeze(-1) * x).sum(dim=1)`."),
    ],
    solution=_Q2_SOLUTION,
    solution_value=lambda: run_solution(_Q2_SOLUTION, "my_query_pool"),
    wrong_answers=[
        (lambda c: _q2_unscaled, "sqrt(D)"),
        (lambda c: _q2_zero_filled, "e^0"),
        (lambda c: _q2_unmasked, "padded positions got weight"),
        (lambda c: _q2_plain_mean, "plain mean"),
        (lambda c: _q2_weights_only, "return two things"),
    ],
)

# ---------------------------------------------------------------------------------------------
# q3: what mean and max pooling can and cannot see

PAIRS = {
    "A": ("Name the item after the first cat.", "Name the first item after the cat."),
    "B": ("What is the LAST item?", "what is the last item"),
    "C": ("Give the first item, the first one!", "Give the first item, one!"),
    "D": ("Give the first item.", "Give the last item."),
}
CHOICES = ("both", "mean only", "max only", "neither")
_Q3_RIGHT = {"A": "both", "B": "both", "C": "max only", "D": "neither"}

_Q3_SOLUTION = """
from collections import Counter
from itlib.embeddings import split_words
from itlib.exercises.nb04 import PAIRS

answer = {}
for key, (a, b) in PAIRS.items():
    same_counts = Counter(split_words(a)) == Counter(split_words(b))   # mean: which words, how often
    same_set = set(split_words(a)) == set(split_words(b))               # max: which words only
    answer[key] = "both" if same_counts else ("max only" if same_set else "neither")
"""

_Q3_WHY = {
    "A": "A uses the same words the same number of times, only in another order (and with another meaning): "
         "pooling without positions sees a bag of words, so mean and max both give the same e_I.",
    "B": "B differs only in capitals and punctuation, which `split_words` drops (lower-cased words, no "
         "punctuation): the same words, so both poolings agree.",
    "C": "C has the same *set* of words, but 'the' and 'first' occur twice in the first one: the mean counts "
         "repeats (they pull e_I towards those words), the per-dimension max does not.",
    "D": "D differs in a word ('first' vs 'last'), so neither pooling gives the same vector in general.",
}


def _check_q3(answer) -> None:
    if not isinstance(answer, dict) or set(answer) != set(PAIRS):
        raise Wrong(f"give a dict with one entry per pair, keys {sorted(PAIRS)}, e.g. "
                    f"{{'A': 'both', 'B': ..., ...}}.")
    bad = [k for k, v in answer.items() if v not in CHOICES]
    if bad:
        raise Wrong(f"each value is one of {CHOICES}; {bad[0]!r} has {answer[bad[0]]!r}.")
    wrong = [k for k in sorted(PAIRS) if answer[k] != _Q3_RIGHT[k]]
    if wrong:
        raise Wrong(" ".join(_Q3_WHY[k] for k in wrong))


# typical wrong answers to q3 (tests/test_exercises.py runs each through the checker)


def _q3_with_answers(**changes):
    return lambda c: {**c, **changes}


q3 = Exercise(
    prompt=f"""
**Q3. What mean and max pooling can and cannot see.** For each pair of instructions, do *static* word
vectors (word2vec, input embeddings, one-hot — any of them) give the two the same e_I under mean pooling,
under max pooling, both, or neither? Words are split as `itlib.embeddings.split_words` does.

{chr(10).join(f"- {k}: {a!r} / {b!r}" for k, (a, b) in PAIRS.items())}

Answer with a dict `{{"A": ..., "B": ..., "C": ..., "D": ...}}`, each value one of {CHOICES}, and
check it with `ex.q3.check(my_answer)`. (`ex.PAIRS` holds the pairs.)
""",
    checker=_check_q3,
    hints=[
        ("Pooling without positions sees only the words. The mean also sees how often each word occurs; the "
         "per-dimension max only sees which words occur."),
        "Compare `Counter(split_words(a))` (for the mean) and `set(split_words(a))` (for the max) of each pair.",
    ],
    solution=_Q3_SOLUTION,
    solution_value=lambda: run_solution(_Q3_SOLUTION, "answer"),
    wrong_answers=[
        (_q3_with_answers(A="neither"), "bag of words"),                       # order taken for meaning
        (_q3_with_answers(B="neither"), "capitals and punctuation"),
        (_q3_with_answers(C="both"), "the mean counts repeats"),               # counts forgotten
        (_q3_with_answers(C="mean only"), "the mean counts repeats"),
        (_q3_with_answers(D="both"), "differs in a word"),
        (lambda c: ("A", "both"), "one entry per pair"),
        (_q3_with_answers(A="yes"), "each value is one of"),
    ],
)
