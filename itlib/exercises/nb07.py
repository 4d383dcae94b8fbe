"""Exercises for notebook 07: majority vote, a soft prompt's insertion, and probability ensembling."""

from __future__ import annotations

from collections import Counter

import numpy as np
import torch

from itlib.exercises.core import Exercise, Wrong, judge, run_solution

# ---------------------------------------------------------------------------------------------
# q1: a majority vote with the tie rule

_Q1_CASES = [
    ["b", "a", "a"],              # a clear majority
    ["m", "z", "a"],              # a three-way tie: the earliest prompt's answer wins
    ["m", "a", "z"],
    ["3", "1 2", "1  2"],         # the same answer written with different spacing
    ["only"],
    ["y", "x", "x", "y"],         # a 2-2 tie
]


def _norm(a: str) -> str:
    return " ".join(a.split())


def _right(answers):
    answers = [_norm(a) for a in answers]
    counts = {a: answers.count(a) for a in answers}
    best = max(counts.values())
    return next(a for a in answers if counts[a] == best)


def _q1_mistakes() -> list[tuple[list, str]]:
    """What the usual wrong votes give on _Q1_CASES, and the message each gets."""

    def counted(answers, key):
        counts = {a: answers.count(a) for a in answers}
        best = max(counts.values())
        return key([a for a in answers if counts[a] == best])

    def votes(key, normalise=True):
        return [counted([_norm(a) for a in c] if normalise else c, key) for c in _Q1_CASES]

    return [
        (votes(lambda tied: tied[0], normalise=False),
         "'1 2' and '1  2' are the same answer written with different spacing: compare answers "
         "whitespace-normalised (`' '.join(a.split())`), as exact match does."),
        (votes(min), "a tie went to the alphabetically first answer; the rule is: the tied answer given by "
                     "the EARLIEST prompt wins (prompts are listed best first)."),
        (votes(lambda tied: tied[-1]),
         "a tie went to the answer of the LAST prompt; the rule is: the earliest prompt's answer wins."),
        (votes(max), "a tie went to the alphabetically last answer; the rule is: the tied answer given by "
                     "the earliest prompt wins."),
    ]


_Q1_SOLUTION = """
from collections import Counter

def vote(answers):
    answers = [" ".join(a.split()) for a in answers]      # compare whitespace-normalised
    counts = Counter(answers)
    best = max(counts.values())
    return next(a for a in answers if counts[a] == best)  # the earliest prompt's answer among the tied

from itlib.prompts import majority_vote                   # the library agrees (one input, K prompts)
assert vote(["b", "a", "a"]) == majority_vote([["b"], ["a"], ["a"]])[0] == "a"
"""


def _check_q1(answer) -> None:
    if not callable(answer):
        raise Wrong(f"pass your function itself, e.g. `check(vote)` (got {type(answer).__name__}).")
    outs = [answer(list(c)) for c in _Q1_CASES]
    for out in outs:
        if isinstance(out, tuple):
            raise Wrong("return the winning answer (a string), not an (answer, count) pair: "
                        "`Counter.most_common(1)` gives a list of such pairs.")
        if isinstance(out, (list, dict)):
            raise Wrong(f"return one answer (a string), not a {type(out).__name__}.")
        if isinstance(out, int) and not isinstance(out, bool):
            raise Wrong("return the winning answer itself, not its number of votes.")
        if not isinstance(out, str):
            raise Wrong(f"return the winning answer as a string (got {type(out).__name__} {out!r}).")
    expected = [_right(c) for c in _Q1_CASES]
    if judge([_norm(o) for o in outs], expected, _q1_mistakes()):
        return
    for case, out, exp in zip(_Q1_CASES, outs, expected):
        if _norm(out) != exp:
            raise Wrong(f"for the answers {case} the vote is {exp!r}; yours gave {out!r}.")


# typical wrong answers to q1 (tests/test_exercises.py runs each through the checker)


def _q1_no_normalise(answers):
    return Counter(answers).most_common(1)[0][0]


def _q1_alphabetical(answers):
    answers = [" ".join(a.split()) for a in answers]
    counts = Counter(answers)
    best = max(counts.values())
    return min(a for a in answers if counts[a] == best)


def _q1_last(answers):
    answers = [" ".join(a.split()) for a in answers]
    counts = Counter(answers)
    best = max(counts.values())
    return [a for a in answers if counts[a] == best][-1]


def _q1_pair(answers):
    return Counter(" ".join(a.split()) for a in answers).most_common(1)[0]


def _q1_count(answers):
    return max(Counter(answers).values())


q1 = Exercise(
    prompt="""
**Q1. A majority vote by hand.** K prompts answered the same input; `answers` lists their answers, best
prompt first. Write `vote(answers)` that returns the most frequent answer, comparing answers
whitespace-normalised ("1 2" and "1  2" are the same answer), and breaking a tie in favour of the
answer given by the *earliest* prompt. Check with `ex.q1.check(vote)`.
""",
    checker=_check_q1,
    hints=[
        "`collections.Counter(answers)` counts them; `max(counts.values())` is the winning count.",
        ("Among the answers with the winning count, take the first one in the ORIGINAL order of `answers` "
         "(not alphabetical): `next(a for a in answers if counts[a] == best)`."),
    ],
    solution=_Q1_SOLUTION,
    solution_value=lambda: run_solution(_Q1_SOLUTION, "vote"),
    wrong_answers=[
        (lambda c: _q1_no_normalise, "different spacing"),
        (lambda c: _q1_alphabetical, "alphabetically first"),
        (lambda c: _q1_last, "LAST prompt"),
        (lambda c: _q1_pair, "not an (answer, count) pair"),
        (lambda c: _q1_count, "not its number of votes"),
        (lambda c: "a", "pass your function itself"),
    ],
)

# ---------------------------------------------------------------------------------------------
# q2: where the soft prompt goes


def _q2_data():
    embeds = torch.arange(10, dtype=torch.float32).view(5, 2)   # 5 tokens, d = 2: row i is (2i, 2i+1)
    prompt = torch.tensor([[100.0, 101.0], [200.0, 201.0]])     # m = 2 virtual tokens
    return embeds, prompt


SLOT = 2

_Q2_SOLUTION = """
import torch

def insert_prompt(embeds, P, slot):
    # the tokens before the slot, then the m soft-prompt vectors, then the rest: length L + m
    return torch.cat([embeds[:slot], P, embeds[slot:]], dim=0)
"""


def _check_q2(answer) -> None:
    if not callable(answer):
        raise Wrong(f"pass your function itself, e.g. `check(insert_prompt)` (got {type(answer).__name__}).")
    embeds, prompt = _q2_data()
    p = prompt.clone().requires_grad_(True)
    out = answer(embeds.clone(), p, SLOT)
    if not isinstance(out, torch.Tensor):
        raise Wrong(f"return a tensor (L + m, d), not {type(out).__name__}.")
    e, P, s = embeds, prompt, SLOT
    mistakes = [
        (torch.cat([P, e]), "you put P in front of everything (peft's place, slot 0); insert it before position `slot`."),
        (torch.cat([e, P]), "you appended P after the last token; insert it before position `slot`."),
        (torch.cat([e[:s], P, e[s + len(P):]]),
         "you overwrote input tokens with P: insert it, the sequence gets m positions LONGER (L + m)."),
        (torch.cat([e[:s + 1], P, e[s + 1:]]),
         "off by one: P goes before position `slot` (after `slot` tokens), so `embeds[:slot]` comes first."),
        (torch.cat([e[:s], P.flip(0), e[s:]]), "P's rows keep their order: P[0] first, then P[1], ..."),
    ]
    expected = torch.cat([e[:s], P, e[s:]])
    if judge(out, expected, mistakes,
             same=lambda a, b: a.shape == b.shape and torch.allclose(a.detach().float(), b)):
        for slot in (0, 5):
            other = answer(embeds.clone(), prompt.clone(), slot)
            if not torch.allclose(torch.as_tensor(other).float(), torch.cat([e[:slot], P, e[slot:]])):
                raise Wrong(f"right for slot={SLOT} but not for slot={slot}: use the `slot` argument, do not "
                            "hard-code the position.")
        if not out.requires_grad:
            raise Wrong("the values are right, but the gradient does not reach P: build the result with "
                        "`torch.cat` (not by copying numbers into a new tensor), or training cannot update P.")
        out.sum().backward()
        if p.grad is None or not torch.allclose(p.grad, torch.ones_like(p)):
            raise Wrong("the gradient does not reach every entry of P exactly once: use `torch.cat`.")
        return
    if tuple(out.shape) != tuple(expected.shape):
        raise Wrong(f"the result has shape (L + m, d) = {tuple(expected.shape)}; yours has {tuple(out.shape)}.")
    raise Wrong(f"expected the rows {expected[:, 0].tolist()} (first column); yours are "
                f"{out.detach()[:, 0].tolist()}.")


# typical wrong answers to q2 (tests/test_exercises.py runs each through the checker)


def _q2_prepend(embeds, P, slot):
    return torch.cat([P, embeds])


def _q2_replace(embeds, P, slot):
    return torch.cat([embeds[:slot], P, embeds[slot + len(P):]])


def _q2_after_slot(embeds, P, slot):
    return torch.cat([embeds[:slot + 1], P, embeds[slot + 1:]])


def _q2_hard_coded(embeds, P, slot):
    return torch.cat([embeds[:2], P, embeds[2:]])


def _q2_no_gradient(embeds, P, slot):
    return torch.tensor(torch.cat([embeds[:slot], P, embeds[slot:]]).tolist())


q2 = Exercise(
    prompt=f"""
**Q2. Where the soft prompt goes.** A soft prompt is m vectors P (m × d) inserted among the input
embeddings (L × d) — where the instruction's tokens were. Write `insert_prompt(embeds, P, slot)` that returns
the (L + m) × d embeddings with P's rows placed before position `slot` (`slot=0`: in front of
everything, as peft does). Training must be able to update P, so the gradient has to flow into it.
Check with `ex.q2.check(insert_prompt)`; the checker tries slot={SLOT}, 0 and 5.
""",
    checker=_check_q2,
    hints=[
        "Three pieces, one after the other along the sequence dimension: the tokens before the slot, P, the rest.",
        "`torch.cat([embeds[:slot], P, embeds[slot:]], dim=0)` keeps P in the autograd graph.",
    ],
    solution=_Q2_SOLUTION,
    solution_value=lambda: run_solution(_Q2_SOLUTION, "insert_prompt"),
    wrong_answers=[
        (lambda c: _q2_prepend, "in front of everything"),
        (lambda c: _q2_replace, "overwrote input tokens"),
        (lambda c: _q2_after_slot, "off by one"),
        (lambda c: _q2_hard_coded, "do not hard-code"),
        (lambda c: _q2_no_gradient, "gradient does not reach P"),
    ],
)

# ---------------------------------------------------------------------------------------------
# q3: ensembling by averaged probability

CANDIDATES = ["8", "5", "8 5"]
LOGP = [[-3.9, -1.1, -1.3],   # prompt 1: log P(candidate | prompt 1), one per candidate
        [-5.6, -5.5, -6.0],   # prompt 2: unsure, and little probability mass on any candidate
        [-1.8, -6.8, -3.5]]   # prompt 3

_Q3_SOLUTION = """
import numpy as np
from itlib.exercises.nb07 import CANDIDATES, LOGP

logp = np.array(LOGP)                                     # K prompts x C candidates
p = np.exp(logp - logp.max(axis=1, keepdims=True))
p = p / p.sum(axis=1, keepdims=True)                      # each prompt: a distribution over the candidates
answer = CANDIDATES[int(np.argmax(p.mean(axis=0)))]       # average over prompts, pick the best
"""


def _q3_votes() -> tuple[str, list[tuple[str, str]]]:
    """The winning candidate, and what the two usual mistakes pick (with the message each gets)."""
    logp = np.array(LOGP)
    p = np.exp(logp - logp.max(1, keepdims=True))
    p = p / p.sum(1, keepdims=True)
    raw = CANDIDATES[int(np.argmax(np.exp(logp).mean(0)))]
    geometric = CANDIDATES[int(np.argmax(logp.mean(0)))]
    return CANDIDATES[int(np.argmax(p.mean(0)))], [
        (raw, f"{raw!r} wins when the raw probabilities exp(LOGP) are averaged (or by a majority vote of "
              "the prompts' favourites). Renormalise each prompt's probabilities over the candidates first, "
              "so that every prompt casts one unit of probability, then average."),
        (geometric, f"{geometric!r} wins when the LOG-probabilities are averaged (a geometric mean, which "
                    "lets one prompt's very low score veto a candidate). Average the probabilities "
                    "themselves."),
    ]


def _check_q3(answer) -> None:
    if isinstance(answer, (int, np.integer)) and not isinstance(answer, bool):
        raise Wrong(f"give the candidate itself (a string such as {CANDIDATES[1]!r}), e.g. `CANDIDATES[i]`, "
                    "not its index.")
    if not isinstance(answer, str):
        raise Wrong(f"give the winning candidate as a string, one of {CANDIDATES} (got {type(answer).__name__}).")
    if answer not in CANDIDATES:
        raise Wrong(f"the answer is one of the candidates {CANDIDATES}, not {answer!r}.")
    right, mistakes = _q3_votes()
    if judge(answer, right, mistakes):
        return
    raise Wrong("not quite: softmax each row of LOGP, average the rows, take the candidate with the largest mean.")


q3 = Exercise(
    prompt=f"""
**Q3. Ensembling by averaged probability.** Three prompts scored the same three candidate answers
`ex.CANDIDATES = {CANDIDATES}`; `ex.LOGP[k][c]` is log P(candidate c | prompt k) = {LOGP}.
Renormalise each prompt's probabilities over the candidates (so each prompt casts one unit of
probability), average them over the prompts, and give the winning candidate (a string). Check with
`ex.q3.check(answer)`.
""",
    checker=_check_q3,
    hints=[
        "Per prompt (row): p = exp(logp) / sum(exp(logp)) — a softmax over the candidates.",
        ("Then average the three rows and take the argmax. Averaging the log-probabilities instead, or the "
         "raw probabilities without the renormalisation, each picks a different candidate here."),
    ],
    solution=_Q3_SOLUTION,
    solution_value=lambda: run_solution(_Q3_SOLUTION, "answer"),
    wrong_answers=[
        (lambda c: "5", "raw probabilities"),
        (lambda c: "8 5", "LOG-probabilities"),
        (lambda c: 0, "not its index"),
        (lambda c: "7", "one of the candidates"),
    ],
)
