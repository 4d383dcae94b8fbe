"""A language model as judge, in miniature: scoring answers without a human, and the judge's biases.

Three judges of an answer y to instruction I on input X (reference r where one is used):

- **likelihood judge** (pointwise, no reference): the judge model's own log-probability of the answer,
      s(y) = log P(y + EOS | f(X, I))            (`per_token=False`, the sum over the answer's tokens)
      s(y) = log P(y + EOS | f(X, I)) / (|y| + 1)  (`per_token=True`, the mean per token)
  The sum falls with every extra token, so it prefers short answers (a *length bias*); the mean
  removes most of that. `to_scale` turns the scores into a 1-5 rating with the same distribution
  of scores as a human rater, so that Cohen's kappa compares orderings, not habits.
- **pairwise judge** (sees both answers in one prompt): the instruction, the input and the two
  candidates as "1: ... 2: ...", and the verdict is whichever of the answers "1" / "2" the judge
  model finds more likely. Asking each pair in both orders measures the *position bias*: a judge
  without one picks the first slot half of the time, and picks the same answer in both orders.
- **rubric judge** (with a reference): a fixed list of checks (exact, equal up to case and a full
  stop, same items in another order, some items right, nothing right) mapped to 5 ... 1.

Large instruction-tuned models judge in a prompt because they can read and follow a rubric; the
~1 M-parameter models of this course were never trained to compare answers, so the pairwise
judge shows mainly its biases. The notebooks measure that rather than assume it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from itlib.data import Example
from itlib.evaluate import normalise

PAIRWISE_INSTRUCTION = "Which answer follows the instruction, 1 or 2?"


def likelihood_scores(model, tokenizer, items: Sequence, per_token: bool = True, fmt: str = "prefix") -> list[float]:
    """For each item (anything with .instruction, .input, .answer), the judge model's log P(answer + EOS
    | prompt): the mean per token when `per_token`, else the sum."""
    from itlib.formats import encode
    from itlib.prompts import answer_logprobs

    examples = [Example(it.instruction, it.input, "x") for it in items]
    totals = answer_logprobs(model, tokenizer, examples, [[it.answer] for it in items], fmt=fmt)
    if not per_token:
        return [t[0] for t in totals]
    return [t[0] / (len(encode(tokenizer, it.answer)) + 1) for t, it in zip(totals, items)]


def to_scale(scores: Sequence[float], like: Sequence[int], scale: Sequence[int] = (1, 2, 3, 4, 5)) -> list[int]:
    """Map continuous judge `scores` to ratings on `scale` with the same share of each rating as the
    human ratings `like` (the lowest scores get the lowest ratings; ties keep the input order)."""
    if len(scores) != len(like):
        raise ValueError(f"{len(scores)} scores for {len(like)} reference ratings")
    order = np.argsort(np.asarray(scores, dtype=float), kind="stable")
    ratings = sorted(like)
    if not set(ratings) <= set(scale):
        raise ValueError(f"reference ratings {sorted(set(ratings))} are not all on the scale {list(scale)}")
    out = [0] * len(scores)
    for rank, i in enumerate(order):
        out[int(i)] = ratings[rank]
    return out


def pairwise_example(item, first: str, second: str) -> Example:
    """The judge's prompt: instruction, input and the two candidate answers as 1 and 2."""
    return Example(PAIRWISE_INSTRUCTION, f"{item.instruction} | {item.input} | 1: {first} | 2: {second}", "1")


def pairwise_prefers_first(model, tokenizer, pairs: Sequence[tuple], fmt: str = "prefix") -> list[bool]:
    """For each (item, first, second): does the judge find the answer "1" more likely than "2"?"""
    from itlib.prompts import answer_logprobs

    examples = [pairwise_example(item, a, b) for item, a, b in pairs]
    scores = answer_logprobs(model, tokenizer, examples, [["1", "2"]] * len(examples), fmt=fmt)
    return [s[0] >= s[1] for s in scores]


def position_bias(model, tokenizer, items: Sequence, better: Sequence[str], worse: Sequence[str],
                  fmt: str = "prefix") -> dict[str, float]:
    """Ask the pairwise judge about every (better, worse) pair in both orders. Returns the share of
    verdicts for slot 1 (0.5 = no position bias), the share of pairs judged the same way in both
    orders (consistency), and the share of single verdicts that pick the better answer (accuracy)."""
    if not len(items) == len(better) == len(worse):
        raise ValueError("items, better and worse must be equally long")
    fwd = pairwise_prefers_first(model, tokenizer, list(zip(items, better, worse)), fmt)
    rev = pairwise_prefers_first(model, tokenizer, list(zip(items, worse, better)), fmt)
    n = len(items)
    return {"first_slot": (sum(fwd) + sum(rev)) / (2 * n),
            "consistent": sum(f != r for f, r in zip(fwd, rev)) / n,
            "accuracy": (sum(fwd) + sum(not r for r in rev)) / (2 * n),
            "n_pairs": n}


def rubric_score(answer: str, reference: str) -> int:
    """A rubric of checks against the reference: 5 exact; 4 equal up to case and a final full stop;
    3 the same items in another order or one item off; 2 some items right; 1 nothing right."""
    a, r = normalise(answer), normalise(reference)
    if a == r:
        return 5
    a2, r2 = a.lower().rstrip("."), r.lower().rstrip(".")
    if a2 == r2:
        return 4
    aw, rw = a2.split(), r2.split()
    if sorted(aw) == sorted(rw) or (len(aw) == len(rw) and sum(x != y for x, y in zip(aw, rw)) == 1):
        return 3
    if set(aw) & set(rw):
        return 2
    return 1
