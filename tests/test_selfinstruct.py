"""itlib.selfinstruct: the meta-task data, validity checks, the ROUGE-L filter and seeded sampling."""

import pytest

from itlib.data import Example
from itlib.datastats import rouge_l
from itlib.selfinstruct import (
    NEW_INPUT,
    NEW_INSTRUCTION,
    Instance,
    Proposal,
    Removed,
    existing_instructions,
    filter_generated,
    input_examples,
    input_problem,
    input_profile,
    instance_problem,
    instruction_examples,
    instruction_problem,
    instruction_vocabulary,
    propose_instances,
    propose_instructions,
    sample,
)
from itlib.tasks import SUITE, TASKS, make_examples

# ---------------------------------------------------------------------------------------------
# the filter


def test_filter_removes_similar_duplicate_and_invalid_with_reasons():
    existing = ["Sort these numbers from smallest to largest.", "Reverse the order of the items."]
    candidates = [
        "sort these numbers from smallest to largest?",       # duplicate (same words)
        "Sort these numbers from largest to smallest.",       # ROUGE-L 5/7 = 0.71 >= 0.7
        "Count the colours in the list.",                     # new
        "Count the colours in this list.",                    # too similar to the kept candidate above
        "",                                                   # invalid (empty)
        "Which animal appears last?",                         # new
    ]
    out = filter_generated(candidates, existing, threshold=0.7, validate=instruction_problem)
    assert out.kept == ["Count the colours in the list.", "Which animal appears last?"]
    reasons = {r.candidate: r.reason for r in out.removed}
    assert reasons == {candidates[0]: "duplicate", candidates[1]: "too similar", candidates[3]: "too similar",
                       "": "invalid"}
    assert out.counts() == {"kept": 2, "duplicate": 1, "too similar": 2, "invalid": 1}
    assert "0.71" in out.removed[1].detail and existing[0] in out.removed[1].detail
    assert "Count the colours in the list." in out.removed[2].detail  # compared with the kept pool
    assert list(out.table().columns) == ["candidate", "reason", "detail"]


def test_filter_keeps_only_candidates_below_the_threshold():
    existing = existing_instructions()
    candidates = [t.templates[0].replace(".", " please.") for t in SUITE] + ["Name every colour twice."]
    out = filter_generated(candidates, existing, threshold=0.7)
    for kept in out.kept:
        assert max(rouge_l(kept, e) for e in existing) < 0.7
    for r in out.removed:
        assert r.reason in ("too similar", "duplicate")
    assert "Name every colour twice." in out.kept
    # a threshold of 1.0 removes only word-for-word duplicates
    loose = filter_generated(candidates, existing, threshold=1.0)
    assert {r.reason for r in loose.removed} == {"duplicate"} and len(loose.kept) > len(out.kept)


def test_filter_threshold_is_strict_at_the_boundary():
    # ROUGE-L exactly 0.5: removed at threshold 0.5 (>=), kept just above it
    assert filter_generated(["a b x y"], ["a b c d"], threshold=0.5).kept == []
    assert filter_generated(["a b x y"], ["a b c d"], threshold=0.51).kept == ["a b x y"]
    with pytest.raises(ValueError, match="threshold"):
        filter_generated([], [], threshold=0)


def test_filter_on_examples_with_a_raising_validator():
    def validate(ex):
        if ex.task == "bad":
            raise ValueError("task is bad")

    examples = [Example("Count the colours.", "red 3", "1", task="bad"), Example("Count the colours.", "red", "1"),
                Example("Count all the colours.", "red", "1"), Example("Count the colours!", "red", "1")]
    out = filter_generated(examples, [], validate=validate)
    assert out.kept == [examples[1]]
    assert (out.removed[0].reason, out.removed[0].detail) == ("invalid", "task is bad")
    assert out.removed[1].reason == "too similar" and out.removed[2].reason == "duplicate"
    with pytest.raises(TypeError, match="text="):
        filter_generated([3], [])
    out = filter_generated([("t", "Count the colours.")], [], text=lambda c: c[1])
    assert out.kept == [("t", "Count the colours.")]
    assert isinstance(Removed("c", "r"), tuple)


# ---------------------------------------------------------------------------------------------
# validity


@pytest.mark.parametrize("text, problem", [
    ("Sort the digits.", None), ("把数字排序。", None), ("", "empty"), ("Sort.", "too short"),
    ("Sort these numbers and then", "unfinished"), ("Sort these.\nInput: 3 1", "markup"),
    ("word " * 40 + ".", "too long"),
])
def test_instruction_problem(text, problem):
    found = instruction_problem(text)
    assert (found is None) if problem is None else (problem in found)


def test_inputs_from_the_generators_are_valid():
    for ex in make_examples(n_per_task=30, seed=3):
        assert input_problem(ex.task, ex.input) is None, (ex.task, ex.input)


@pytest.mark.parametrize("task, x, problem", [
    ("sort_ascending", "3 purple 1", "unknown word 'purple'"),
    ("sort_ascending", "3", "length 1 outside 2..7"),
    ("sort_ascending", "1 2 3 4 5 6 7 8", "length 8"),
    ("sentiment", "good bad good bad", "tie"),
    ("only_colours", "3 cat", "empty answer"),
    ("max_digit", "", "empty input"),
    ("colour_to_chinese", "red cat", "unknown word 'cat'"),
])
def test_input_problem_names_the_problem(task, x, problem):
    assert problem in input_problem(task, x)


def test_input_profile():
    p = input_profile("next_digit")
    assert p.vocabulary == frozenset("0123456789") and (p.min_len, p.max_len) == (2, 7)


# ---------------------------------------------------------------------------------------------
# the meta tasks


def test_instruction_examples_use_training_templates_only():
    examples = instruction_examples(n=200, k=3, seed=1)
    assert len(examples) == 200 and {e.instruction for e in examples} == {NEW_INSTRUCTION}
    by_text = {t: task for task in SUITE for t in task.all_templates()}
    for e in examples:
        shown = e.input.split("\n")
        assert len(shown) in (1, 3) and e.output not in shown
        task = by_text[e.output]
        assert all(by_text[s] is task for s in shown)  # one task per prompt
        assert not set(shown + [e.output]) & set(task.heldout_templates())
    assert any(by_text[e.output].zh_templates and "。" in e.output for e in examples)
    assert examples == instruction_examples(n=200, k=3, seed=1)
    with pytest.raises(ValueError, match="training templates"):
        instruction_examples(["sort_ascending"], n=1, k=6)


def test_input_examples_are_valid_inputs():
    examples = input_examples(n=160, seed=2)
    by_text = {t: task for task in SUITE for t in task.train_templates()}
    for e in examples:
        assert e.instruction == NEW_INPUT and e.input in by_text
        assert input_problem(by_text[e.input], e.output) is None


# ---------------------------------------------------------------------------------------------
# sampling (a freshly built micro model: fast, and enough to test seeding and EOS handling)


@pytest.fixture(scope="module")
def micro(tokenizer):
    from itlib.models import build_model

    return build_model(tokenizer, size="micro", seed=0)


def test_sampling_is_seeded(micro, tokenizer):
    a = propose_instructions(micro, tokenizer, [TASKS["reverse"], "sentiment"], n=3, seed=5, max_new_tokens=8)
    b = propose_instructions(micro, tokenizer, ["reverse", "sentiment"], n=3, seed=5, max_new_tokens=8)
    c = propose_instructions(micro, tokenizer, ["reverse", "sentiment"], n=3, seed=6, max_new_tokens=8)
    assert a == b and a != c and len(a) == 6
    assert [p.task for p in a] == ["reverse"] * 3 + ["sentiment"] * 3 and all(isinstance(p.text, str) for p in a)


def test_sample_shapes_and_training_mode(micro, tokenizer):
    micro.train()
    prompts = [Example(NEW_INPUT, "Reverse the order of the items.", "?"), Example(NEW_INPUT, "Count.", "?")]
    out = sample(micro, tokenizer, prompts, n=3, max_new_tokens=4)
    assert len(out) == 2 and all(len(x) == 3 for x in out)
    assert micro.training
    micro.eval()


def test_propose_instances_answers_every_input(micro, tokenizer):
    props = [Proposal("reverse", "Turn the list around."), Proposal("max_digit", "Give the top digit.")]
    inst = propose_instances(micro, tokenizer, props, n=2, seed=1, answer=True, max_new_tokens=6)
    assert [(i.task, i.instruction) for i in inst] == [(p.task, p.text) for p in props for _ in range(2)]
    assert all(isinstance(i.answer, str) for i in inst)
    plain = propose_instances(micro, tokenizer, props, n=2, seed=1, max_new_tokens=6)
    assert [i.input for i in plain] == [i.input for i in inst] and all(i.answer is None for i in plain)
    assert propose_instances(micro, tokenizer, [], n=2) == []


def test_instance_problem_and_to_example():
    good = Instance("max_digit", "Give the top digit.", "3 8 5", "8")
    assert instance_problem(good) is None
    assert "reference solver says '8'" in instance_problem(good._replace(answer="5"))
    assert "unknown word 'cat'" in instance_problem(good._replace(input="3 cat"))
    assert instance_problem(good._replace(answer=None)) is None  # no answer: only the input is checked
    ex = good.to_example()
    assert (ex.output, ex.task, ex.kind, ex.difficulty) == ("8", "max_digit", "generation", 1)


def test_instruction_vocabulary_check():
    vocab = instruction_vocabulary()
    assert {"sort", "numbers", "把"} <= vocab
    assert instruction_problem("Sort the numbers.", vocab) is None
    assert "unknown word 'rerrange'" in instruction_problem("Rerrange the numbers.", vocab)
