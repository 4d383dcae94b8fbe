"""Typical wrong answers to the nb02 exercises and the message part each must get."""

from itlib.exercises.nb02 import CANDIDATES, KEPT

WRONG = {
    "nb02.q1": [
        (lambda c: 3, "longest common subsequence"),
        (lambda c: 3 / 7, "precision alone"),
        (lambda c: 0.5, "recall alone"),
        (lambda c: 8 / 13, "ROUGE-1"),
        (lambda c: 1 - c, "distance"),
        (lambda c: 13, "between 0 and 1"),
        (lambda c: "0.46", "expected a number"),
    ],
    "nb02.q2": [
        (lambda c: 4, "number of distinct bigrams"),
        (lambda c: 0.75, "across texts"),
        (lambda c: 5 / 9, "distinct-1"),
        (lambda c: 1.0, "pools"),
        (lambda c: 0.9, "list the bigrams"),
    ],
    "nb02.q3": [
        (lambda c: [x for x in CANDIDATES if x not in KEPT], "*below* 0.7"),
        (lambda c: [CANDIDATES[1], CANDIDATES[2], CANDIDATES[4]], "the pool grows"),
        (lambda c: [CANDIDATES[0], CANDIDATES[1], CANDIDATES[4]], "not meaning"),
        (lambda c: KEPT[::-1], "in the order"),
        (lambda c: KEPT[0], "list of the kept"),
        (lambda c: ["Count animals."], "not one of the candidates"),
    ],
}
