from collections import Counter

import pytest

from itlib.corpus import FACTS, fact_questions, make_corpus
from itlib.tasks import CLUSTERS, SUITE, TASKS, get_task, make_examples, suite_splits

TRANSFORM = {"reorder", "map", "aggregate", "select"}


def test_suite_shape():
    assert len(SUITE) >= 14 and len(CLUSTERS) >= 4
    assert {t.kind for t in SUITE} == {"generation", "classification", "labelling"}
    assert sum(t.cluster in TRANSFORM for t in SUITE) > len(SUITE) / 2
    for t in SUITE:
        assert len(t.templates) >= 8 and len(set(t.templates)) == len(t.templates)
        assert set(t.heldout_templates()).isdisjoint(t.train_templates())
        assert len(t.heldout_templates()) >= 2
    assert all(len(TASKS[n].zh_templates) >= 3 for n in CLUSTERS["map"])


@pytest.mark.parametrize("name, x, y", [
    ("sort_ascending", "7 2 9", "2 7 9"), ("sort_descending", "7 2 9 2", "9 7 2 2"),
    ("reverse", "cat red 3", "3 red cat"), ("uppercase", "cat red", "CAT RED"),
    ("next_digit", "9 0 4", "0 1 5"), ("colour_to_chinese", "red blue", "红 蓝"),
    ("count_items", "cat 3 red", "3"), ("max_digit", "3 8 5", "8"), ("min_digit", "3 8 5", "3"),
    ("first_item", "cat 3", "cat"), ("last_item", "cat 3", "3"), ("only_colours", "cat red 3 blue", "red blue"),
    ("sentiment", "good sad great", "positive"), ("sentiment", "bad sad great", "negative"),
    ("contains_animal", "3 red", "no"), ("contains_animal", "3 owl", "yes"),
    ("word_type", "3 red owl", "NUM COL ANI"), ("digit_parity", "3 4", "O E"),
])
def test_reference_solvers(name, x, y):
    assert get_task(name).solve(x) == y


def test_unknown_task_lists_the_valid_names():
    with pytest.raises(KeyError, match="sort_ascending"):
        get_task("sorting")


def test_examples_are_deterministic_and_seed_dependent():
    a, b, c = make_examples(n_per_task=20, seed=1), make_examples(n_per_task=20, seed=1), make_examples(n_per_task=20, seed=2)
    assert a == b and a != c
    assert all(ex.output == TASKS[ex.task].solve(ex.input) for ex in a)
    assert Counter(ex.difficulty for ex in a) == {1: 7 * len(SUITE), 2: 7 * len(SUITE), 3: 6 * len(SUITE)}


def test_difficulty_is_input_length():
    for ex in make_examples(["sort_ascending"], n_per_task=30):
        assert 2 * ex.difficulty <= len(ex.input.split()) <= 2 * ex.difficulty + 1


@pytest.mark.parametrize("heldout", [(), ("classify",), ("reverse", "max_digit")])
def test_splits_never_leak(heldout):
    s = suite_splits(n_train_per_task=200, n_test_per_task=30, heldout_tasks=heldout)
    train_pairs = {(e.task, e.input) for e in s["train"]}
    train_templates = {e.instruction for e in s["train"]}
    train_tasks = {e.task for e in s["train"]}
    for name in ("test_inputs", "test_templates"):
        assert s[name] and not {(e.task, e.input) for e in s[name]} & train_pairs
        assert Counter(e.difficulty for e in s[name])[1] == Counter(e.difficulty for e in s[name])[3]
    assert not {e.instruction for e in s["test_templates"]} & train_templates
    held_names = {e.task for e in s["test_tasks"]}
    assert not held_names & train_tasks
    expected = {n for h in heldout for n in (CLUSTERS.get(h) or [h])}
    assert held_names == expected


def test_labelling_gives_one_tag_per_item_and_classes_are_balanced():
    exs = make_examples(n_per_task=300)
    for ex in exs:
        if ex.kind == "labelling":
            assert len(ex.output.split()) == len(ex.input.split())
    for name in ("sentiment", "contains_animal"):
        labels = Counter(ex.output for ex in exs if ex.task == name)
        assert 0.4 <= min(labels.values()) / sum(labels.values()) <= 0.5


def test_corpus_is_deterministic_has_facts_chinese_and_no_templates():
    docs = make_corpus(n_docs=3000, seed=0)
    assert docs == make_corpus(n_docs=3000, seed=0) and docs != make_corpus(n_docs=3000, seed=1)
    text = "\n".join(docs)
    for t in SUITE:
        for template in t.all_templates():
            assert template not in text
    assert "红" in text
    name, facts = next(iter(FACTS.items()))
    assert f"{name}'s favourite colour is {facts['colour']}." in text
    assert len(fact_questions()) == 3 * len(FACTS)


def test_corpus_sentences_are_correct():
    import re

    docs = make_corpus(n_docs=3000, seed=0)
    found = 0
    for m in re.finditer(r"Of the numbers ([\d ]+), the biggest is (\d)\.", " ".join(docs)):
        assert max(m.group(1).split()) == m.group(2)
        found += 1
    assert found > 10
