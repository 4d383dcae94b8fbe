"""Exercises for notebook 02: measuring instruction data (ROUGE-L, distinct-n) and the Self-Instruct filter."""

from __future__ import annotations

from itlib.exercises.core import Exercise, Wrong, as_number, judge, near, run_solution

# ---------------------------------------------------------------------------------------------
# q1: ROUGE-L by hand

PAIR = ("Give the largest number in the list.", "Give the number that is largest.")

_Q1_SOLUTION = """
from itlib.exercises.nb02 import PAIR
# tokens:  give the largest number in the list   (7)
#          give the number that is largest        (6)
# longest common subsequence (order kept): "give the number" or "give the largest" -> LCS = 3
# P = 3/7, R = 3/6, F1 = 2 P R / (P + R) = 2 * 3 / (7 + 6)
answer = 2 * 3 / (7 + 6)

from itlib.datastats import rouge_l
assert abs(answer - rouge_l(*PAIR)) < 1e-12
"""

_Q1_MISTAKES = [
    (3.0, "3 is the length of the longest common subsequence; ROUGE-L turns it into an F-measure "
          "of precision LCS/7 and recall LCS/6."),
    (3 / 7, "that is the precision alone (LCS / length of the first text); ROUGE-L's F1 also uses the "
            "recall LCS / 6."),
    (3 / 6, "that is the recall alone (LCS / length of the second text); ROUGE-L's F1 also uses the "
            "precision LCS / 7."),
    (8 / 13, "you counted the 4 shared words (give, the, largest, number) regardless of order: that is "
             "ROUGE-1. ROUGE-L keeps the order: 'largest' and 'number' come in opposite orders, so only "
             "one of them can be in the common subsequence."),
    (4 / 7, "order matters: 'largest' and 'number' appear in opposite orders, so the longest common "
            "subsequence has 3 tokens, not 4."),
    (1 - 6 / 13, "that is 1 - ROUGE-L, a distance; give the similarity itself."),
]


def _check_q1(answer) -> None:
    value = as_number(answer)
    if judge(value, 6 / 13, _Q1_MISTAKES, same=near(1e-3)):
        return
    if value > 1:
        raise Wrong(f"ROUGE-L F1 lies between 0 and 1 (you gave {value:g}).")
    raise Wrong(f"you gave {value:g}; find the longest common subsequence of the two token lists "
                f"(lower-cased words, no punctuation), then F1 = 2 LCS / (7 + 6).")


q1 = Exercise(
    prompt=f"""
**Q1. ROUGE-L by hand.** Self-Instruct throws a new instruction away when its ROUGE-L with an existing one
is 0.7 or more. Compute ROUGE-L (the F1 form) for

- A = `{PAIR[0]}`
- B = `{PAIR[1]}`

(lower-cased words, punctuation dropped; the pair is also in `ex.PAIR`). Give the number, then check it
with `itlib.datastats.rouge_l`.
""",
    checker=_check_q1,
    hints=[
        ("Tokens: A has 7 words, B has 6. The longest common subsequence keeps the order of the words but "
         "may skip some."),
        ("'largest' and 'number' appear in both, but in opposite orders, so only one of them fits into the "
         "common subsequence after 'give the'."),
        "With LCS = 3: P = 3/7, R = 3/6, and F1 = 2PR/(P+R) = 2·LCS/(|A| + |B|).",
    ],
    solution=_Q1_SOLUTION,
    solution_value=lambda: run_solution(_Q1_SOLUTION, "answer"),
    wrong_answers=[
        (lambda c: 3, "longest common subsequence"),
        (lambda c: 3 / 7, "precision alone"),
        (lambda c: 0.5, "recall alone"),
        (lambda c: 8 / 13, "ROUGE-1"),
        (lambda c: 1 - c, "distance"),
        (lambda c: 13, "between 0 and 1"),
        (lambda c: "0.46", "expected a number"),
    ],
)

# ---------------------------------------------------------------------------------------------
# q2: distinct-2 by hand

TEXTS = ["sort the numbers", "sort the digits", "reverse the numbers"]

_Q2_SOLUTION = """
from itlib.exercises.nb02 import TEXTS
# bigrams per text (never across texts):
#   (sort the) (the numbers) | (sort the) (the digits) | (reverse the) (the numbers)
# 6 bigrams, of which 4 are distinct: sort-the, the-numbers, the-digits, reverse-the
answer = 4 / 6

from itlib.datastats import distinct_n
assert abs(answer - distinct_n(TEXTS, 2)) < 1e-12
"""

_Q2_MISTAKES = [
    (4.0, "4 is the number of distinct bigrams; distinct-2 divides it by the number of all bigrams."),
    (6 / 8, "you let bigrams run across texts ('numbers sort', 'digits reverse'); n-grams are taken "
            "inside each text only."),
    (5 / 9, "that is distinct-1 (distinct words / all words); the question asks for bigrams (n = 2)."),
    (1.0, "each text alone has no repeated bigram, but distinct-n pools the n-grams of all texts: "
          "'sort the' and 'the numbers' occur twice."),
    (2 / 6, "count each distinct bigram once, including those that occur only once: there are 4 distinct "
            "bigrams, not 2."),
]


def _check_q2(answer) -> None:
    value = as_number(answer)
    if judge(value, 4 / 6, _Q2_MISTAKES, same=near(1e-3)):
        return
    if not 0 <= value <= 1:
        raise Wrong(f"distinct-n is a share between 0 and 1 (you gave {value:g}).")
    raise Wrong(f"you gave {value:g}; list the bigrams of each text, pool them, and divide the number of "
                f"distinct ones by the number of all.")


q2 = Exercise(
    prompt=f"""
**Q2. distinct-2.** distinct-n = (number of distinct n-grams) / (number of all n-grams), pooled over a set of
texts, with n-grams taken inside each text. What is distinct-2 of these three instructions (`ex.TEXTS`)?

{chr(10).join(f"- `{t}`" for t in TEXTS)}

Work it out by hand, then check with `itlib.datastats.distinct_n(ex.TEXTS, 2)`.
""",
    checker=_check_q2,
    hints=[
        "Each 3-word text has 2 bigrams, so there are 6 bigrams in all.",
        "'sort the' and 'the numbers' each occur twice.",
    ],
    solution=_Q2_SOLUTION,
    solution_value=lambda: run_solution(_Q2_SOLUTION, "answer"),
    wrong_answers=[
        (lambda c: 4, "number of distinct bigrams"),
        (lambda c: 0.75, "across texts"),
        (lambda c: 5 / 9, "distinct-1"),
        (lambda c: 1.0, "pools"),
        (lambda c: 0.9, "list the bigrams"),
    ],
)

# ---------------------------------------------------------------------------------------------
# q3: run the Self-Instruct filter in your head

EXISTING = ["Turn every lowercase letter into a capital one.", "What is the largest number?",
            "Reverse the order of the items."]
CANDIDATES = [
    "Turn every capital letter into a lowercase one.",
    "Which colour comes first in the list?",
    "Which colour comes first in this list?",
    "What is the largest digit?",
    "Count the animals.",
]
KEPT = ["Which colour comes first in the list?", "Count the animals."]

_Q3_SOLUTION = """
from itlib.exercises.nb02 import CANDIDATES, EXISTING
# ROUGE-L with the pool (existing + kept so far), threshold 0.7:
#   "Turn every capital letter into a lowercase one."  2*6/(8+8) = 0.75 with "Turn every lowercase ..."
#       (LCS: turn every letter into a one)                                               -> removed
#   "Which colour comes first in the list?"            new                                -> kept
#   "Which colour comes first in this list?"           6/7 = 0.86 with the one just kept  -> removed
#   "What is the largest digit?"                       4/5 = 0.80                         -> removed
#   "Count the animals."                               new                                -> kept
answer = ["Which colour comes first in the list?", "Count the animals."]

from itlib.selfinstruct import filter_generated
assert answer == filter_generated(CANDIDATES, EXISTING, threshold=0.7).kept
"""


def _check_q3(answer) -> None:
    if isinstance(answer, str) or not isinstance(answer, (list, tuple)):
        raise Wrong(f"give a list of the kept candidates (strings), e.g. [CANDIDATES[0]] "
                    f"(got {type(answer).__name__}).")
    answer = list(answer)
    unknown = [a for a in answer if a not in CANDIDATES]
    if unknown:
        raise Wrong(f"{unknown[0]!r} is not one of the candidates; copy them from `ex.CANDIDATES`.")
    if answer == KEPT:
        return
    removed = [c for c in CANDIDATES if c not in KEPT]
    if set(answer) == set(removed):
        raise Wrong("those are the candidates the filter removes: it keeps a candidate only when its "
                    "ROUGE-L with every instruction in the pool is *below* 0.7.")
    if CANDIDATES[2] in answer and CANDIDATES[1] in answer:
        raise Wrong("the pool grows: once 'Which colour comes first in the list?' is kept, the next "
                    "candidate is compared with it too (ROUGE-L 6/7 = 0.86), so it is removed.")
    if CANDIDATES[0] in answer:
        raise Wrong("ROUGE-L only sees words in order, not meaning: 'Turn every capital letter into a "
                    "lowercase one.' shares 6 of its 8 tokens in order with 'Turn every lowercase letter into "
                    "a capital one.' (2*6/16 = 0.75 >= 0.7), so it is removed although it asks for the opposite.")
    if CANDIDATES[3] in answer:
        raise Wrong("'What is the largest digit?' and 'What is the largest number?' share 4 of 5 tokens: "
                    "ROUGE-L 0.8 >= 0.7, removed.")
    if set(answer) == set(KEPT):
        raise Wrong("the right candidates, but keep them in the order of `CANDIDATES`.")
    raise Wrong(f"you kept {len(answer)} candidate(s); compute each candidate's highest ROUGE-L with "
                f"EXISTING and with the candidates kept before it.")


q3 = Exercise(
    prompt="""
**Q3. The Self-Instruct filter.** The pool holds three instructions (`ex.EXISTING`):
""" + "".join(f"- `{e}`\n" for e in EXISTING) + """
A model proposed five new ones, in this order (`ex.CANDIDATES`):
""" + "".join(f"{i + 1}. `{c}`\n" for i, c in enumerate(CANDIDATES)) + """
Going through them in order, a candidate is kept when its ROUGE-L with every instruction in the pool is
below 0.7, and a kept candidate joins the pool. Which candidates are kept? Answer with a list of strings, in
order. Then check with `itlib.selfinstruct.filter_generated(ex.CANDIDATES, ex.EXISTING).kept`.
""",
    checker=_check_q3,
    hints=[
        "Two of the five are kept.",
        "The first candidate means the opposite of an existing one, but ROUGE-L only counts words in order.",
        "A kept candidate joins the pool, so later candidates are compared with it too.",
    ],
    solution=_Q3_SOLUTION,
    solution_value=lambda: run_solution(_Q3_SOLUTION, "answer"),
    wrong_answers=[
        (lambda c: [x for x in CANDIDATES if x not in KEPT], "*below* 0.7"),
        (lambda c: [CANDIDATES[1], CANDIDATES[2], CANDIDATES[4]], "the pool grows"),
        (lambda c: [CANDIDATES[0], CANDIDATES[1], CANDIDATES[4]], "not meaning"),
        (lambda c: KEPT[::-1], "in the order"),
        (lambda c: KEPT[0], "list of the kept"),
        (lambda c: ["Count animals."], "not one of the candidates"),
    ],
)
