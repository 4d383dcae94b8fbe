"""Exercises for notebook 04: pooling word vectors into an instruction embedding e_I."""

from __future__ import annotations

from itlib.exercises.core import Exercise, Wrong, run_solution


def test_batch():
    """Word vectors x (3 instructions, 4 positions, 5 dims) and the mask of real words: 3, 1 and 4
    words. The padded positions hold large non-zero values, as a careless pooling would use them."""
    import torch

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
    import torch

    if not isinstance(out, torch.Tensor):
        raise Wrong(f"{what} should be a torch tensor, got {type(out).__name__}.")
    return out.detach().float()


# ---------------------------------------------------------------------------------------------
# q1: masked mean pooling

_Q1_SOLUTION = """
def my_mean_pool(x, mask):
    m = mask.unsqueeze(-1).float()              # (B, L, 1): 1 on real words, 0 on padding
    return (x * m).sum(dim=1) / m.sum(dim=1)    # sum of the real words / how many there are
"""


def _check_q1(fn) -> None:
    import torch

    from itlib.embeddings import mean_pool

    x, mask = test_batch()
    out = _as_tensor(_call(fn, x, mask), "e_I")
    want = mean_pool(x, mask)
    if out.shape != want.shape:
        raise Wrong(f"got shape {tuple(out.shape)}, expected {tuple(want.shape)}: one D-dimensional e_I per "
                    f"instruction, so pool over the word positions (dim=1) and keep the vector dimension.")
    if torch.allclose(out, want, atol=1e-5):
        return
    m = mask.unsqueeze(-1).float()
    if torch.allclose(out, x.mean(1), atol=1e-5):
        raise Wrong("you averaged over the padded positions too: padding is not part of the instruction. "
                    "Multiply by the mask (or select the real rows) first.")
    if torch.allclose(out, (x * m).sum(1) / x.shape[1], atol=1e-5):
        raise Wrong(f"the padding is masked, but you divided by the padded length {x.shape[1]}; divide by "
                    f"the number of real words of each instruction (mask.sum(dim=1)).")
    if torch.allclose(out, (x * m).sum(1), atol=1e-5):
        raise Wrong("that is the sum of the real word vectors; the mean divides it by how many there are.")
    raise Wrong("not the mean of the real word vectors; compare with `itlib.embeddings.mean_pool(x, mask)` "
                "on `ex.test_batch()`.")


q1 = Exercise(
    prompt="""
**Q1. Mean pooling with padding.** A batch of instructions of different lengths is padded to one length:
`x` has shape (B, L, D) and `mask` (B, L) is True on real words. Write `my_mean_pool(x, mask)` that
returns e_I of shape (B, D): the mean of each instruction's *real* word vectors. Test it on
`x, mask = ex.test_batch()` and check it with `ex.q1.check(my_mean_pool)`.
""",
    checker=_check_q1,
    hints=[
        ("Turn the mask into numbers with one trailing axis, `mask.unsqueeze(-1).float()`, so it multiplies "
        "each word vector: padded vectors become zeros."),
        "Then divide the sum over dim=1 by the number of real words, `mask.sum(dim=1, keepdim=True)`.",
    ],
    solution=_Q1_SOLUTION,
    solution_value=lambda: run_solution(_Q1_SOLUTION, "my_mean_pool"),
)

# ---------------------------------------------------------------------------------------------
# q2: attention pooling by hand

_Q2_SOLUTION = """
import torch

def my_attention_pool(x, mask, w, b):
    scores = x @ w + b                                    # (B, L): w^T e_i + b
    scores = scores.masked_fill(~mask, float("-inf"))     # padding: exp(-inf) = 0 weight
    alpha = torch.softmax(scores, dim=-1)                 # over the words of each instruction
    e = (alpha.unsqueeze(-1) * x).sum(dim=1)              # sum_i alpha_i e_i
    return e, alpha
"""


def _q2_params():
    import torch

    return torch.tensor([0.8, -0.5, 0.3, 1.2, -0.7]), 0.25


def _check_q2(fn) -> None:
    import torch

    from itlib.embeddings import AttentionPool

    x, mask = test_batch()
    w, b = _q2_params()
    out = _call(fn, x, mask, w, b)
    if not (isinstance(out, tuple) and len(out) == 2):
        raise Wrong("return two things, `(e_I, alpha)`: the pooled vectors (B, D) and the weights (B, L).")
    e, alpha = _as_tensor(out[0], "e_I"), _as_tensor(out[1], "alpha")
    pool = AttentionPool(5)
    with torch.no_grad():
        pool.score.weight.copy_(w[None])
        pool.score.bias.fill_(b)
        want_e, want_alpha = pool(x, mask)
    if alpha.shape != want_alpha.shape:
        raise Wrong(f"alpha has shape {tuple(alpha.shape)}, expected {tuple(want_alpha.shape)}: one weight per "
                    f"word position of each instruction.")
    if not torch.allclose(alpha.sum(-1), torch.ones(len(alpha)), atol=1e-4):
        if torch.allclose(alpha, x @ w + b, atol=1e-4):
            raise Wrong("alpha are the raw scores w^T e_i + b; the weights are their softmax over the words.")
        raise Wrong("the weights of each instruction must sum to 1 over its words: softmax over the last "
                    "dimension (the word positions), after masking.")
    padded = float(alpha[~mask].abs().sum())
    if padded > 1e-6:
        plain = torch.softmax(x @ w + b, dim=-1)
        zero_filled = torch.softmax((x @ w + b).masked_fill(~mask, 0.0), dim=-1)
        if torch.allclose(alpha, zero_filled, atol=1e-5):
            raise Wrong("filling the padded scores with 0 still gives them weight e^0 / Z > 0; fill them "
                        "with -inf so that exp(-inf) = 0.")
        if torch.allclose(alpha, plain, atol=1e-5):
            raise Wrong(f"padded positions got weight (in total {padded:.2f}): set their scores to -inf "
                        f"before the softmax.")
        raise Wrong(f"padded positions got weight {padded:.2f} in total; they must get exactly 0.")
    if not torch.allclose(alpha, want_alpha, atol=1e-5):
        raise Wrong("the weights sum to 1 and skip the padding, but they are not softmax(w^T e_i + b) of "
                    "the real words; check the scores `x @ w + b`.")
    if e.shape != want_e.shape or not torch.allclose(e, want_e, atol=1e-5):
        if e.shape == want_e.shape and torch.allclose(e, x.mean(1), atol=1e-5):
            raise Wrong("alpha is right, but e_I is a plain mean; it is the weighted sum sum_i alpha_i e_i.")
        raise Wrong("alpha is right, but e_I is not sum_i alpha_i e_i: multiply each word vector by its "
                    "weight, `alpha.unsqueeze(-1) * x`, and sum over dim=1.")


q2 = Exercise(
    prompt="""
**Q2. Attention pooling by hand.** Write `my_attention_pool(x, mask, w, b)` that returns `(e_I, alpha)`
with $\\alpha_i = \\mathrm{softmax}_i(w^\\top e_i + b)$ over the real words of each instruction (padded
positions get weight 0) and $e_I = \\sum_i \\alpha_i e_i$. Shapes: x (B, L, D), mask (B, L), w (D,), b a
number. Check it with `ex.q2.check(my_attention_pool)`.
""",
    checker=_check_q2,
    hints=[
        ("The scores are `x @ w + b`, shape (B, L). Before the softmax, give every padded position a score "
        "that makes its weight exactly zero."),
        ("`scores.masked_fill(~mask, float('-inf'))`, then `torch.softmax(scores, dim=-1)`; e_I is "
        "`(alpha.unsqueeze(-1) * x).sum(dim=1)`."),
    ],
    solution=_Q2_SOLUTION,
    solution_value=lambda: run_solution(_Q2_SOLUTION, "my_attention_pool"),
)

# ---------------------------------------------------------------------------------------------
# q3: what pooling cannot see

_Q3_SOLUTION = """
from itlib.embeddings import split_words
from itlib.tasks import SUITE

seen = {}
for task in SUITE:
    for t in task.all_templates():
        bag = tuple(sorted(split_words(t)))      # the words, with their counts, in no order
        if bag in seen and seen[bag][0] != task.name:
            answer = (seen[bag][1], t)
        seen.setdefault(bag, (task.name, t))
"""


def _task_of(template: str) -> str | None:
    from itlib.tasks import SUITE

    for task in SUITE:
        if template in task.all_templates():
            return task.name
    return None


def _check_q3(answer) -> None:
    from collections import Counter

    from itlib.embeddings import split_words

    if not (isinstance(answer, (tuple, list)) and len(answer) == 2 and all(isinstance(a, str) for a in answer)):
        raise Wrong("give a pair of two template strings, e.g. `(template_a, template_b)`.")
    a, b = answer
    ta, tb = _task_of(a), _task_of(b)
    for t, name in ((a, ta), (b, tb)):
        if name is None:
            raise Wrong(f"{t!r} is not one of the suite's templates; copy them from `task.all_templates()`.")
    if a == b:
        raise Wrong("that is the same template twice; find two different ones.")
    if ta == tb:
        raise Wrong(f"both are templates of {ta}: pooling them to nearby vectors is what we want. Find two "
                    f"templates of *different* tasks.")
    ca, cb = Counter(split_words(a)), Counter(split_words(b))
    if ca != cb:
        diff = sorted(((ca - cb) + (cb - ca)).elements())
        raise Wrong(f"these differ in the words {diff}, so mean, max and attention pooling give different "
                    f"vectors; look for two templates that use exactly the same words in another order.")


q3 = Exercise(
    prompt="""
**Q3. What pooling cannot see.** Mean, max and attention pooling (as here, without positions) ignore word
order. Find two templates of *different* tasks in `itlib.tasks.SUITE` that every one of them maps to the same
e_I, whatever the word vectors. Answer with the pair of strings, `(template_a, template_b)`.
""",
    checker=_check_q3,
    hints=[
        ("Pooling sees each instruction as a bag of words: the words and how often they occur. Two templates with "
        "the same bag get the same e_I."),
        ("`tuple(sorted(itlib.embeddings.split_words(t)))` is a template's bag; look among sibling tasks such "
        "as sort_ascending and sort_descending."),
    ],
    solution=_Q3_SOLUTION,
    solution_value=lambda: run_solution(_Q3_SOLUTION, "answer"),
)
