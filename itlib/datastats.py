"""Measuring instruction data: coverage, diversity, difficulty and bias.

- coverage:   how many examples fall in each cell of task x kind x difficulty (`coverage`)
- diversity:  distinct-n = |distinct n-grams| / |n-grams| over a set of texts (`distinct_n`), and
              ROUGE-L between texts (`rouge_l`, `pairwise_rouge_l`): the longest common subsequence
              (LCS) of their tokens, as an F-measure

                  P = LCS / |candidate|,  R = LCS / |reference|,  F = (1 + b^2) P R / (R + b^2 P)

              with b = 1 (F1), as in Self-Instruct (which filters new instructions by ROUGE-L < 0.7)
- difficulty: input / answer length per difficulty level (`lengths`)
- bias:       label balance of classification and labelling tasks (`label_balance`), the share of
              the most common answer per task (`majority_share`: what a model that always gives that
              answer scores), answer-length skew (`lengths`)

Texts are tokenised for ROUGE-L and distinct-n by `tokenize`: lower-cased runs of ASCII letters and
digits, and every other letter (a Chinese character, say) as a token of its own; punctuation is dropped.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence

__all__ = [
    "coverage",
    "distinct_n",
    "entropy",
    "label_balance",
    "lcs_length",
    "lengths",
    "majority_share",
    "mean_pairwise_rouge_l",
    "most_similar",
    "ngrams",
    "pairwise_rouge_l",
    "rouge_l",
    "rouge_l_prf",
    "templates_used",
    "tokenize",
]

_TOKEN = re.compile(r"[a-z0-9]+|[^\W\d_a-z]", re.UNICODE)


def tokenize(text: str) -> list[str]:
    """ROUGE / distinct-n tokens: lower-cased ASCII words and digits, every other letter alone.

    >>> tokenize("Sort these numbers, from 1 to 10!")
    ['sort', 'these', 'numbers', 'from', '1', 'to', '10']
    >>> tokenize("把数字 sort")
    ['把', '数', '字', 'sort']
    """
    return _TOKEN.findall(text.lower())


def _tokens(text_or_tokens) -> list[str]:
    return tokenize(text_or_tokens) if isinstance(text_or_tokens, str) else list(text_or_tokens)


# ---------------------------------------------------------------------------------------------
# diversity: distinct-n


def ngrams(tokens: Sequence[str], n: int) -> list[tuple[str, ...]]:
    """The n-grams of one token sequence (none when it is shorter than n)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    return [tuple(tokens[i: i + n]) for i in range(len(tokens) - n + 1)]


def distinct_n(texts: Iterable, n: int = 2) -> float:
    """distinct-n of a set of texts: distinct n-grams / all n-grams, pooled over the texts.

    n-grams never cross from one text into the next. 1.0 = no n-gram repeats anywhere; near 0 =
    the same few phrases again and again. Texts may be strings or token lists."""
    grams = [g for text in texts for g in ngrams(_tokens(text), n)]
    return len(set(grams)) / len(grams) if grams else 0.0


# ---------------------------------------------------------------------------------------------
# diversity: ROUGE-L


def lcs_length(a: Sequence, b: Sequence) -> int:
    """Length of the longest common subsequence of two sequences (dynamic programming, O(|a| |b|))."""
    if len(a) < len(b):
        a, b = b, a
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def rouge_l_prf(candidate, reference, beta: float = 1.0) -> dict[str, float]:
    """ROUGE-L precision, recall and F-measure of `candidate` against `reference`
    (strings, tokenised by `tokenize`, or token lists)."""
    c, r = _tokens(candidate), _tokens(reference)
    lcs = lcs_length(c, r)
    if lcs == 0:
        return {"precision": 0.0, "recall": 0.0, "fmeasure": 0.0}
    p, rec = lcs / len(c), lcs / len(r)
    f = (1 + beta**2) * p * rec / (rec + beta**2 * p)
    return {"precision": p, "recall": rec, "fmeasure": f}


def rouge_l(candidate, reference) -> float:
    """ROUGE-L F1: 2 LCS / (|candidate| + |reference|); symmetric, 1.0 for identical token lists."""
    return rouge_l_prf(candidate, reference)["fmeasure"]


def pairwise_rouge_l(texts: Sequence):
    """The symmetric matrix (numpy array) of ROUGE-L F1 between every pair of texts (1 on the diagonal)."""
    import numpy as np

    toks = [_tokens(t) for t in texts]
    m = np.eye(len(toks))
    for i in range(len(toks)):
        for j in range(i + 1, len(toks)):
            m[i, j] = m[j, i] = rouge_l(toks[i], toks[j])
    return m


def mean_pairwise_rouge_l(texts: Sequence) -> float:
    """Mean ROUGE-L F1 over all unordered pairs of different texts (lower = more diverse)."""
    if len(texts) < 2:
        raise ValueError("mean_pairwise_rouge_l needs at least two texts")
    m = pairwise_rouge_l(texts)
    n = len(texts)
    return float((m.sum() - n) / (n * (n - 1)))


def most_similar(text, pool: Iterable) -> tuple[float, str | None]:
    """(highest ROUGE-L F1, the text of `pool` that reaches it); (0.0, None) for an empty pool."""
    toks = _tokens(text)
    best, best_text = 0.0, None
    for other in pool:
        score = rouge_l(toks, _tokens(other))
        if best_text is None or score > best:
            best, best_text = score, other
    return best, best_text


# ---------------------------------------------------------------------------------------------
# coverage, difficulty and bias of a list of Examples


def coverage(examples, rows=("kind", "task"), columns="difficulty", margins: bool = True):
    """A pandas table counting examples per cell, e.g. (kind, task) x difficulty.

    `rows` and `columns` are Example field names (or tuples of them)."""
    import pandas as pd

    rows = [rows] if isinstance(rows, str) else list(rows)
    columns = [columns] if isinstance(columns, str) else list(columns)
    frame = pd.DataFrame([{k: getattr(ex, k) for k in (*rows, *columns)} for ex in examples])
    return pd.crosstab([frame[k] for k in rows], [frame[k] for k in columns], margins=margins,
                       margins_name="total")


def lengths(examples):
    """One row per example: task, kind, difficulty, and the input and answer lengths in words."""
    import pandas as pd

    return pd.DataFrame([{"task": ex.task, "kind": ex.kind, "difficulty": ex.difficulty,
                          "input_words": len(ex.input.split()), "answer_words": len(ex.output.split())}
                         for ex in examples])


def label_balance(examples, kinds=("classification", "labelling")):
    """Share of each label per task, for the tasks of `kinds`.

    A classification answer is one label; a labelling answer is a sequence of tags, each counted.
    Returns a pandas table: one row per task, one column per label (0 where a task lacks it)."""
    import pandas as pd

    counts: dict[str, Counter] = {}
    for ex in examples:
        if ex.kind in kinds:
            labels = ex.output.split() if ex.kind == "labelling" else [ex.output.strip()]
            counts.setdefault(ex.task, Counter()).update(labels)
    table = pd.DataFrame({task: {k: v / sum(c.values()) for k, v in c.items()} for task, c in counts.items()})
    return table.T.fillna(0.0)


def majority_share(examples):
    """Per task: the most common answer and its share, i.e. the exact match of a 'model' that always
    gives that answer. 1 / (number of distinct answers) would be a balanced task's share."""
    import pandas as pd

    answers: dict[str, Counter] = {}
    for ex in examples:
        answers.setdefault(ex.task, Counter())[ex.output.strip()] += 1
    rows = []
    for task, c in answers.items():
        top, n_top = c.most_common(1)[0]
        rows.append({"task": task, "most_common": top, "share": n_top / sum(c.values()),
                     "distinct_answers": len(c), "normalised_entropy": entropy(c) / math.log2(len(c))
                     if len(c) > 1 else 0.0})
    return pd.DataFrame(rows).set_index("task")


def entropy(counts) -> float:
    """Shannon entropy in bits of a Counter / dict of counts (or a list of counts)."""
    values = list(counts.values()) if hasattr(counts, "values") else list(counts)
    total = sum(values)
    return -sum(v / total * math.log2(v / total) for v in values if v)


def templates_used(examples) -> dict[str, int]:
    """Per task, how many distinct instructions (templates) the examples use."""
    seen: dict[str, set] = {}
    for ex in examples:
        seen.setdefault(ex.task, set()).add(ex.instruction)
    return {task: len(s) for task, s in seen.items()}
