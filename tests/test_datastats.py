"""itlib.datastats: ROUGE-L (hand-computed references and a brute-force LCS), distinct-n, and the
coverage / balance tables on the task suite."""

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from itlib.data import Example
from itlib.datastats import (
    coverage,
    distinct_n,
    entropy,
    label_balance,
    lcs_length,
    lengths,
    majority_share,
    mean_pairwise_rouge_l,
    most_similar,
    ngrams,
    pairwise_rouge_l,
    rouge_l,
    rouge_l_prf,
    templates_used,
    tokenize,
)
from itlib.tasks import SUITE, make_examples

# ---------------------------------------------------------------------------------------------
# tokenisation


def test_tokenize_lowercases_and_drops_punctuation():
    assert tokenize("Sort these numbers, from 1 to 10!") == ["sort", "these", "numbers", "from", "1", "to", "10"]
    assert tokenize("  ") == []


def test_tokenize_splits_chinese_into_characters():
    assert tokenize("把这些颜色翻译成中文。") == list("把这些颜色翻译成中文")
    assert tokenize("red 红 blue") == ["red", "红", "blue"]


# ---------------------------------------------------------------------------------------------
# ROUGE-L against hand-computed values


def test_rouge_l_hand_computed():
    # "the cat sat on the mat" vs "the cat lay on a mat": LCS = the cat on mat = 4 of 6 and 6 tokens
    p = rouge_l_prf("the cat sat on the mat", "the cat lay on a mat")
    assert p["precision"] == pytest.approx(4 / 6) and p["recall"] == pytest.approx(4 / 6)
    assert p["fmeasure"] == pytest.approx(4 / 6)
    # candidate 3 tokens, reference 5 tokens, LCS 2 ("a c"): P = 2/3, R = 2/5, F = 2PR/(P+R) = 1/2
    p = rouge_l_prf("a b c", "a x c y z")
    assert (p["precision"], p["recall"]) == (pytest.approx(2 / 3), pytest.approx(2 / 5))
    assert p["fmeasure"] == pytest.approx(2 * (2 / 3) * (2 / 5) / (2 / 3 + 2 / 5)) == pytest.approx(0.5)


def test_rouge_l_of_mirror_instructions_is_above_the_filter_threshold():
    # sort these numbers from | smallest to largest  vs  ... | largest to smallest: LCS = 4 + 1 = 5 of 7
    a = "Sort these numbers from smallest to largest."
    b = "Sort these numbers from largest to smallest."
    assert lcs_length(tokenize(a), tokenize(b)) == 5
    assert rouge_l(a, b) == pytest.approx(5 / 7) and rouge_l(a, b) >= 0.7


def test_rouge_l_edge_cases():
    assert rouge_l("Same words here", "same words, here!") == 1.0
    assert rouge_l("", "anything") == 0.0
    assert rouge_l("abc", "xyz") == 0.0
    assert rouge_l_prf("a b", "b a")["fmeasure"] == pytest.approx(0.5)  # order matters: LCS 1
    beta2 = rouge_l_prf("a b c", "a x c y z", beta=2.0)["fmeasure"]  # recall weighted more
    assert beta2 == pytest.approx(5 * (2 / 3) * (2 / 5) / (2 / 5 + 4 * (2 / 3)))


def brute_force_lcs(a, b):
    """Longest common subsequence by trying every subsequence of the shorter list."""
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)

    def is_subsequence(sub, seq):
        it = iter(seq)
        return all(any(x == y for y in it) for x in sub)

    for size in range(len(short), 0, -1):
        if any(is_subsequence(c, long_) for c in itertools.combinations(short, size)):
            return size
    return 0


small_lists = st.lists(st.sampled_from("abcd"), max_size=8)


@settings(max_examples=200, deadline=None)
@given(small_lists, small_lists)
def test_lcs_equals_brute_force(a, b):
    assert lcs_length(a, b) == brute_force_lcs(a, b) == lcs_length(b, a)


@settings(max_examples=200, deadline=None)
@given(small_lists, small_lists)
def test_rouge_l_f1_formula_and_range(a, b):
    f = rouge_l(a, b)
    lcs = brute_force_lcs(a, b)
    assert f == pytest.approx(2 * lcs / (len(a) + len(b)) if lcs else 0.0)
    assert 0.0 <= f <= 1.0 and f == pytest.approx(rouge_l(b, a))


def test_rouge_l_matches_rouge_score_when_installed():
    rouge_scorer = pytest.importorskip("rouge_score.rouge_scorer")
    scorer = rouge_scorer.RougeScorer(["rougeL"])
    pairs = [(t.templates[0], t.templates[1]) for t in SUITE] + [(SUITE[0].templates[0], SUITE[1].templates[0])]
    for a, b in pairs:
        assert rouge_l(a, b) == pytest.approx(scorer.score(b, a)["rougeL"].fmeasure)


def test_pairwise_matrix_and_mean():
    texts = ["a b c", "a b d", "x y z"]
    m = pairwise_rouge_l(texts)
    assert m.shape == (3, 3) and (m == m.T).all() and (m.diagonal() == 1).all()
    assert m[0, 1] == pytest.approx(2 / 3) and m[0, 2] == 0
    assert mean_pairwise_rouge_l(texts) == pytest.approx((2 / 3 + 0 + 0) / 3)
    with pytest.raises(ValueError, match="two texts"):
        mean_pairwise_rouge_l(["one"])


def test_most_similar():
    score, best = most_similar("sort the digits", ["reverse the list", "sort the numbers", "count"])
    assert best == "sort the numbers" and score == pytest.approx(2 / 3)
    assert most_similar("x", []) == (0.0, None)


# ---------------------------------------------------------------------------------------------
# distinct-n


def test_ngrams():
    assert ngrams(["a", "b", "c"], 2) == [("a", "b"), ("b", "c")]
    assert ngrams(["a"], 2) == []
    with pytest.raises(ValueError):
        ngrams(["a"], 0)


def test_distinct_n_hand_computed():
    texts = ["the cat sat", "the cat ran"]
    assert distinct_n(texts, 1) == pytest.approx(4 / 6)  # the cat sat ran of 6 tokens
    assert distinct_n(texts, 2) == pytest.approx(3 / 4)  # (the cat) twice, (cat sat), (cat ran)
    assert distinct_n(["a b", "c d"], 2) == 1.0  # no bigram crosses from one text to the next
    assert distinct_n(["same text"] * 10, 2) == pytest.approx(0.1)
    assert distinct_n([], 2) == 0.0


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.sampled_from("abc"), max_size=6), max_size=5), st.integers(1, 3))
def test_distinct_n_is_a_share(texts, n):
    d = distinct_n(texts, n)
    total = sum(max(len(t) - n + 1, 0) for t in texts)
    assert 0 <= d <= 1 and (d == 0) == (total == 0)


# ---------------------------------------------------------------------------------------------
# coverage, difficulty and bias on the suite


@pytest.fixture(scope="module")
def suite_examples():
    return make_examples(n_per_task=60, seed=0)


def test_coverage_counts_every_cell(suite_examples):
    table = coverage(suite_examples)
    assert table.loc[("classification", "sentiment"), 1] == 20
    assert table["total"].iloc[-1] == len(suite_examples) and table.index[-1][0] == "total"
    no_margins = coverage(suite_examples, rows="kind", columns="difficulty", margins=False)
    assert no_margins.values.sum() == len(suite_examples) and no_margins.shape == (3, 3)


def test_lengths_grow_with_difficulty(suite_examples):
    table = lengths(suite_examples)
    by_level = table.groupby("difficulty")["input_words"].agg(["min", "max"])
    assert by_level.to_dict("index") == {1: {"min": 2, "max": 3}, 2: {"min": 4, "max": 5}, 3: {"min": 6, "max": 7}}


def test_label_balance_and_majority_share():
    examples = [Example("i", "x", o, task="t", kind="classification") for o in ["yes", "yes", "yes", "no"]]
    examples += [Example("i", "x", "NUM COL", task="tags", kind="labelling"),
                 Example("i", "x", "NUM", task="tags", kind="labelling")]
    table = label_balance(examples)
    assert table.loc["t", "yes"] == 0.75 and table.loc["t", "no"] == 0.25 and table.loc["t", "NUM"] == 0
    assert table.loc["tags", "NUM"] == pytest.approx(2 / 3)
    maj = majority_share(examples)
    assert maj.loc["t", "most_common"] == "yes" and maj.loc["t", "share"] == 0.75
    assert maj.loc["t", "normalised_entropy"] == pytest.approx(entropy([3, 1]) / 1.0)


def test_entropy():
    assert entropy({"a": 1, "b": 1}) == pytest.approx(1.0)
    assert entropy([4]) == 0.0
    assert entropy([1, 1, 1, 1]) == pytest.approx(math.log2(4))


def test_templates_used(suite_examples):
    used = templates_used(suite_examples)
    assert set(used) == {t.name for t in SUITE}
    assert all(used[t.name] <= len(t.train_templates()) for t in SUITE)
