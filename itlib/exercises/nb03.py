"""Exercises for notebook 03: one backbone used three ways (generation, classification, labelling):
where a classification head reads, how tagging is scored, and how a verbaliser scores labels."""

from __future__ import annotations

import torch

from itlib.exercises.core import Exercise, Wrong, as_number, judge, near, run_solution

# ---------------------------------------------------------------------------------------------
# q1: where does the classification head read? (the last non-pad token, for any padding side)

_Q1_SOLUTION = """
import torch

def my_last_index(attention_mask):
    # position t counts as t + 1 where the mask is 1 and as 0 on padding: the largest value sits at
    # the last real token, whichever side the padding is on
    positions = torch.arange(attention_mask.shape[1])
    return (attention_mask * (positions + 1)).argmax(dim=1)
"""

RIGHT = [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]]  # right-padded: real tokens first
LEFT = [row[::-1] for row in RIGHT]  # left-padded (as for batched generation): real tokens last


def _check_q1(answer) -> None:
    if not callable(answer):
        raise Wrong(f"pass your function itself, e.g. `check(my_last_index)` (got {type(answer).__name__}).")
    for name, rows in (("right", RIGHT), ("left", LEFT)):
        mask = torch.tensor(rows)
        out = answer(mask.clone())
        if out is None or out is ...:
            raise Wrong("your function returned nothing: fill in its body and `return` the positions.")
        if not isinstance(out, torch.Tensor):
            out = torch.tensor(out)
        if tuple(out.shape) != (len(rows),):
            raise Wrong(f"return one position per row (shape ({len(rows)},)), not shape {tuple(out.shape)}.")
        got = [int(v) for v in out.tolist()]
        want = [max(i for i, m in enumerate(r) if m) for r in rows]
        mistakes = [
            ([sum(r) for r in rows],
             f"off by one on the {name}-padded batch: `mask.sum(1)` counts the real tokens; the "
             "last one sits at index count - 1 (and only when the padding is on the right)."),
            ([sum(r) - 1 for r in rows],
             "`mask.sum(1) - 1` works only for right padding: with left padding "
             f"{rows[0]} the last real token is at index {want[0]}, not {got[0]}."),
            ([min(i for i, m in enumerate(r) if m) for r in rows],
             f"that is the FIRST real token ({name} padding): `argmax` returns the first maximum, "
             "so weight each position by its index before taking it."),
            ([len(r) - 1 for r in rows],
             "the last position is padding in right-padded rows: the head would read a pad "
             "token's hidden state."),
        ]
        if not judge(got, want, mistakes):
            raise Wrong(f"on the {name}-padded mask {rows} you gave {got}, expected {want}.")


# typical wrong answers to q1 (tests/test_exercises.py runs each through the checker)


def _q1_sum_of_mask(mask):
    return mask.sum(1)


def _q1_sum_minus_one(mask):
    return mask.sum(1) - 1


def _q1_first_real(mask):
    return mask.argmax(1)


def _q1_always_last(mask):
    return torch.full((mask.shape[0],), mask.shape[1] - 1)


def _q1_whole_mask(mask):
    return mask


q1 = Exercise(
    prompt="""
**Q1. Where does the classification head read?** A `SequenceClassifier` reads the hidden state of
the last *real* token of f(X, I) — a causal model has seen the whole prompt there. Write
`my_last_index(attention_mask)`: given a 0/1 mask of shape (batch, length), return a tensor with the
index of the last 1 in each row. It must work for right-padded rows (`[1, 1, 1, 0, 0]`) and for
left-padded ones (`[0, 0, 1, 1, 1]`). Check it with `ex.q1.check(my_last_index)`.
""",
    checker=_check_q1,
    hints=[
        "`attention_mask.sum(1) - 1` is right only when the padding is on the right.",
        ("Multiply the mask by `torch.arange(length) + 1` and take `argmax(dim=1)`: the largest value is "
         "at the last real token, whatever side the padding is on."),
    ],
    solution=_Q1_SOLUTION,
    solution_value=lambda: run_solution(_Q1_SOLUTION, "my_last_index"),
    wrong_answers=[
        (lambda c: _q1_sum_of_mask, "off by one"),
        (lambda c: _q1_sum_minus_one, "works only for right padding"),
        (lambda c: _q1_first_real, "FIRST real token"),
        (lambda c: _q1_always_last, "pad token"),
        (lambda c: _q1_whole_mask, "one position per row"),
        (lambda c: 3, "pass your function itself"),
    ],
)

# ---------------------------------------------------------------------------------------------
# q2: tag precision / recall / F1 by hand

TAG_PREDS = ["NUM COL ANI", "E O", "E O E E"]
TAG_REFS = ["NUM COL COL", "E O E", "O E E E"]

_Q2_SOLUTION = """
from itlib.exercises.nb03 import TAG_PREDS, TAG_REFS
# (position, tag) pairs, sequence by sequence:
#   "NUM COL ANI" vs "NUM COL COL":  3 predicted, 3 reference, 2 correct
#   "E O"         vs "E O E":        2 predicted, 3 reference, 2 correct (one tag missing)
#   "E O E E"     vs "O E E E":      4 predicted, 4 reference, 2 correct (same tags, wrong places)
# precision = 6 / 9, recall = 6 / 10, F1 = 2PR / (P + R)
p, r = 6 / 9, 6 / 10
answer = 2 * p * r / (p + r)   # = 12 / 19

from itlib.evaluate import tag_prf
assert abs(answer - tag_prf(TAG_PREDS, TAG_REFS)["f1"]) < 1e-12
"""

_BAG = ("a tag counts as correct only at its position: comparing the bags of tags of each sequence "
        "(ignoring order) counts 'E O E E' vs 'O E E E' as all right.")
_Q2_MISTAKES = [
    (6 / 9, "that is the precision (6 correct of 9 predicted tags); F1 also needs the recall (of 10 "
            "reference tags) and combines them as 2PR / (P + R)."),
    (6 / 10, "that is the recall (6 correct of 10 reference tags); F1 combines it with the precision "
             "(6 of 9 predicted) as 2PR / (P + R)."),
    ((6 / 9 + 6 / 10) / 2, "F1 is the harmonic mean 2PR / (P + R), not the arithmetic mean (P + R) / 2."),
    (0.0, "no sequence is entirely right, but tag F1 gives credit tag by tag, not per whole sequence."),
    (16 / 19, _BAG),
    (8 / 9, _BAG),
    (8 / 10, _BAG),
]


def _check_q2(answer) -> None:
    value = as_number(answer)
    if judge(value, 12 / 19, _Q2_MISTAKES, same=near(1e-3)):
        return
    if abs(value - 100 * 12 / 19) < 0.1:
        raise Wrong("give F1 as a fraction between 0 and 1, not a percentage.")
    raise Wrong(f"you gave {value:g}; count the (position, tag) pairs: predicted, reference and correct, "
                "then P = correct / predicted, R = correct / reference, F1 = 2PR / (P + R).")


q2 = Exercise(
    prompt="""
**Q2. Tag F1 by hand.** A tagger produced these tag sequences (also in `ex.TAG_PREDS`, `ex.TAG_REFS`):

| prediction | reference |
|---|---|
""" + "".join(f"| `{p}` | `{r}` |\n" for p, r in zip(TAG_PREDS, TAG_REFS)) + """
A tag is correct when the same tag sits at the same position; a missing tag lowers recall, an extra
one lowers precision. What is the micro-averaged tag F1 over all three? Work it out by hand, then
compare with `itlib.evaluate.tag_prf`.
""",
    checker=_check_q2,
    hints=[
        "Count three numbers over all sequences: predicted tags, reference tags, and tags correct at their position.",
        "P = correct / predicted, R = correct / reference, F1 = 2PR / (P + R).",
    ],
    solution=_Q2_SOLUTION,
    solution_value=lambda: run_solution(_Q2_SOLUTION, "answer"),
    wrong_answers=[
        (lambda c: 6 / 9, "that is the precision"),
        (lambda c: 6 / 10, "that is the recall"),
        (lambda c: (6 / 9 + 6 / 10) / 2, "harmonic mean"),
        (lambda c: 16 / 19, "only at its position"),
        (lambda c: 0, "tag by tag"),
        (lambda c: 100 * c, "percentage"),
        (lambda c: "0.63", "expected a number"),
    ],
)

# ---------------------------------------------------------------------------------------------
# q3: a verbaliser with label words of several tokens

TOKEN_LOGPROBS = {  # log P of each token of the label word, given the prompt and the earlier tokens
    "positive": [-0.9],
    "negative": [-0.1, -1.0],
    "so so": [-0.35, -0.3, -0.3],
    "mixed": [-1.5],
}

_Q3_SOLUTION = """
from itlib.exercises.nb03 import TOKEN_LOGPROBS
# log P(label | prompt) = the sum of its tokens' log-probabilities (the chain rule)
scores = {label: sum(lps) for label, lps in TOKEN_LOGPROBS.items()}
answer = max(scores, key=scores.get)   # "positive": -0.9 beats -0.95, -1.1 and -1.5
"""


def _check_q3(answer) -> None:
    if not isinstance(answer, str):
        raise Wrong(f"answer with the label word as a string, e.g. 'mixed' (got {type(answer).__name__}).")
    label = answer.strip()
    if label not in TOKEN_LOGPROBS:
        raise Wrong(f"{answer!r} is not one of the labels {list(TOKEN_LOGPROBS)}.")
    mistakes = [
        ("so so", "you averaged the tokens' log-probabilities (a length-normalised score); the verbaliser "
                  "here scores log P(label | prompt), the SUM over its tokens: 'so so' has -0.95."),
        ("negative", "you scored the first token only; the whole label word must be likely: 'negative' has "
                     "-0.1 - 1.0 = -1.1 in all."),
    ]
    if judge(label, "positive", mistakes):
        return
    raise Wrong("'mixed' has the LOWEST log-probability (-1.5); the verbaliser picks the highest.")


q3 = Exercise(
    prompt="""
**Q3. A verbaliser with long label words.** A verbaliser picks
$\\hat y = \\arg\\max_y \\log P(y \\mid f(X, I))$. Our suite's label words are one token each, but
a label word can have several. For one prompt the LM gives these log-probabilities to each label's
tokens (in `ex.TOKEN_LOGPROBS`):

""" + "".join(f"- `{k!r}`: {v}\n" for k, v in TOKEN_LOGPROBS.items()) + """
Which label does the verbaliser pick? Answer with the label string.
""",
    checker=_check_q3,
    hints=[
        "By the chain rule, log P(y_1 y_2 ... | prompt) = log P(y_1 | prompt) + log P(y_2 | prompt, y_1) + ...",
        "Sum each label's token log-probabilities and take the label with the largest (least negative) sum.",
    ],
    solution=_Q3_SOLUTION,
    solution_value=lambda: run_solution(_Q3_SOLUTION, "answer"),
    wrong_answers=[
        (lambda c: "so so", "averaged"),
        (lambda c: "negative", "first token only"),
        (lambda c: "mixed", "LOWEST"),
        (lambda c: "neutral", "not one of the labels"),
        (lambda c: -0.9, "label word as a string"),
    ],
)
