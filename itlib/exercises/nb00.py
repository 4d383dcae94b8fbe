"""Exercises for notebook 00: what instruction tuning is, and the five steps of the pipeline."""

from __future__ import annotations

from itlib.exercises.core import Exercise, Wrong, as_number, judge, near, run_solution

# ---------------------------------------------------------------------------------------------
# q1: exact match by hand

PREDS = ["2 7 9", "Blue", " Paris ", "2 7 8", "the cat sat"]
REFS = ["2 7 9", "blue", "Paris", "2 7 9", "the cat sat."]

_Q1_SOLUTION = """
from itlib.exercises.nb00 import PREDS, REFS
# pair by pair, after stripping surrounding whitespace:
#   "2 7 9" == "2 7 9"              1
#   "Blue"  != "blue"               0   (case matters)
#   " Paris " -> "Paris" == "Paris" 1   (surrounding whitespace does not)
#   "2 7 8" != "2 7 9"              0   (no partial credit)
#   "the cat sat" != "the cat sat." 0   (neither does the full stop)
answer = 2 / 5

from itlib.evaluate import exact_match
assert answer == exact_match(PREDS, REFS)
"""

_Q1_MISTAKES = [
    (0.2, "exact_match strips the whitespace around each answer first, so ' Paris ' matches 'Paris'."),
    (0.6, "one pair too many: 'Blue' vs 'blue' (case) and 'the cat sat' vs 'the cat sat.' (final "
          "full stop) are different strings, so both score 0."),
    (0.8, "'Blue' vs 'blue' and 'the cat sat' vs 'the cat sat.' differ: exact match ignores neither "
          "case nor punctuation, only the whitespace around an answer."),
    (2.0, "that is the number of matches; exact match is their share of all 5 pairs."),
    (40.0, "give the share as a fraction between 0 and 1, not a percentage."),
]


def _check_q1(answer) -> None:
    value = as_number(answer)
    if judge(value, 0.4, _Q1_MISTAKES, same=near(1e-6)):
        return
    if abs(value * len(REFS) - round(value * len(REFS))) > 1e-6:
        raise Wrong(f"exact match counts whole answers, not characters or words: each pair scores 1 "
                    f"or 0, so the answer is a multiple of 1/{len(REFS)} (you gave {value:g}).")
    raise Wrong(f"you gave {value:g}; go through the {len(REFS)} pairs again, one point per identical "
                f"pair after stripping surrounding whitespace.")


q1 = Exercise(
    prompt="""
**Q1. Exact match by hand.** A model answered five test questions:

| # | prediction | reference |
|---|---|---|
""" + "".join(f"| {i + 1} | `{p!r}` | `{r!r}` |\n" for i, (p, r) in enumerate(zip(PREDS, REFS))) + """
(also in `ex.PREDS` and `ex.REFS`). What is the exact-match score, as a number between 0 and 1?
Work it out by hand first, then check it with `itlib.evaluate.exact_match`.
""",
    checker=_check_q1,
    hints=[
        ("Exact match gives each pair 1 point if the two strings are identical and 0 otherwise, "
         "then averages over the pairs."),
        ("`exact_match` strips the whitespace around each string (`' Paris '` becomes `'Paris'`), "
         "and nothing else: case and punctuation still count."),
    ],
    solution=_Q1_SOLUTION,
    solution_value=lambda: run_solution(_Q1_SOLUTION, "answer"),
    wrong_answers=[
        (lambda c: 0.2, "strips the whitespace"),
        (lambda c: 0.6, "case"),
        (lambda c: 2, "number of matches"),
        (lambda c: 40, "percentage"),
        (lambda c: 0.45, "not characters"),
        (lambda c: "0.4", "expected a number"),
    ],
)

# ---------------------------------------------------------------------------------------------
# q2: which pipeline step?

STEPS = ("collect", "represent", "fine-tune", "evaluate", "deploy")

_Q2_SCENARIO = (
    "You decide that every example becomes the text `Instruction: ...\\nInput: ...\\nAnswer:\\n` "
    "followed by the answer, and that only the answer's tokens (plus the end-of-sequence token) "
    "carry loss."
)

_Q2_WRONG = {
    "collect": "collecting decides *which* examples (instruction, input, output) you have; this is "
               "about how one example is written out as a single token sequence.",
    "fine-tune": "fine-tuning takes the token sequences and their loss mask as given and updates the "
                 "weights; choosing the layout and the mask happens just before it.",
    "evaluate": "evaluation scores the answers a tuned model generates; here nothing has been "
                "trained or generated yet.",
    "deploy": "deploying ships the tuned model; the layout chosen here must be reused there, "
              "but it is chosen earlier.",
}

_Q2_SOLUTION = """
answer = "represent"   # f(X, I): how instruction I and input X become one sequence, and which tokens carry loss
"""


def _normalise_step(answer: str) -> str:
    step = " ".join(answer.lower().replace("-", " ").replace("_", " ").split())
    aliases = {"finetune": "fine-tune", "fine tune": "fine-tune", "fine tuning": "fine-tune",
               "finetuning": "fine-tune", "representation": "represent", "collection": "collect",
               "evaluation": "evaluate", "deployment": "deploy"}
    return aliases.get(step, step)


def _check_q2(answer) -> None:
    if not isinstance(answer, str):
        raise Wrong(f"answer with one of the step names as a string, e.g. \"collect\" "
                    f"(got {type(answer).__name__} {answer!r}).")
    if not judge(_normalise_step(answer), "represent", _Q2_WRONG.items()):
        raise Wrong(f"{answer!r} is not one of the five steps: {', '.join(STEPS)}.")


q2 = Exercise(
    prompt=f"""
**Q2. Which step?** The pipeline has five steps: {', '.join(f'`{s}`' for s in STEPS)}.

{_Q2_SCENARIO}

Which step is this? Answer with the step's name as a string.
""",
    checker=_check_q2,
    hints=[
        ("Nothing is trained yet, and the examples already exist: the question is how one of them "
         "looks to the model."),
        ("The course writes this step as f(X, I), the function that turns an input X and an "
         "instruction I into the sequence the model reads."),
    ],
    solution=_Q2_SOLUTION,
    solution_value=lambda: run_solution(_Q2_SOLUTION, "answer"),
    wrong_answers=[
        (lambda c: "fine-tune", "fine-tuning takes the token sequences"),
        (lambda c: "Collect", "which* examples"),
        (lambda c: "evaluate", "scores the answers"),
        (lambda c: "tokenize", "not one of the five steps"),
        (lambda c: 2, "as a string"),
    ],
)
