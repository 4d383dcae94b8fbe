"""The exercise framework: every solution passes its checker, the placeholder counts as not
attempted, typical wrong answers get their specific message, and check() never raises."""

import importlib

import pytest
import torch

from itlib import exercises
from itlib.exercises import Exercise, Verdict, Wrong
from itlib.exercises.core import close_to, equals, is_type, judge, near, tensors_close


@pytest.fixture(autouse=True)
def course_tokenizer(monkeypatch):
    """nb01 uses the course tokenizer; where the suite it is trained on is not available yet,
    a small tokenizer stands in (the checkers only need *a* tokenizer with BOS and EOS)."""
    from itlib.exercises import nb01

    try:
        from itlib.pipeline import default_tokenizer

        tok = default_tokenizer()
    except ModuleNotFoundError:
        from itlib.tokenizer import train_tokenizer

        texts = ["Tag each word with its type.", "seven red cats", "NUM COL ANI", "Instruction: Input: Answer:"]
        tok = train_tokenizer(texts * 20, vocab_size=300)
    monkeypatch.setattr(nb01, "course_tokenizer", lambda: tok)
    return tok


def all_exercises():
    out = []
    for name in exercises.notebook_modules():
        module = importlib.import_module(f"itlib.exercises.{name}")
        out += [(f"{name}.{q}", ex) for q, ex in exercises.exercises_of(module).items()]
    return out


EXERCISES = all_exercises()
IDS = [name for name, _ in EXERCISES]


def test_discovery_finds_the_notebook_modules():
    assert {"nb00", "nb01"} <= set(exercises.notebook_modules())
    assert {"nb00.q1", "nb00.q2", "nb01.q1", "nb01.q2"} <= set(IDS)
    from itlib.exercises import nb00

    assert exercises.nb00 is nb00  # the lazy attribute and the import give the same module


@pytest.mark.parametrize("name,ex", EXERCISES, ids=IDS)
def test_solution_passes_its_checker(name, ex, capsys):
    assert ex.solution_value is not None, f"{name} has no solution_value"
    verdict = ex.check(ex.solution_value())
    assert verdict.status == "correct", verdict.message
    assert "✓ Correct" in capsys.readouterr().out


@pytest.mark.parametrize("name,ex", EXERCISES, ids=IDS)
def test_placeholder_is_not_attempted(name, ex):
    assert ex.check(...).status == "not attempted"
    assert ex.check().status == "not attempted"
    assert ex.check(None).status == "not attempted"


@pytest.mark.parametrize("name,ex", EXERCISES, ids=IDS)
def test_typical_wrong_answers_get_specific_messages(name, ex, capsys):
    assert len(ex.wrong_answers) >= 2, f"{name}: give the exercise at least two typical wrong_answers"
    correct = ex.solution_value()
    for make, part in ex.wrong_answers:
        verdict = ex.check(make(correct))
        assert verdict.status == "incorrect", (part, verdict)
        assert part in verdict.message, (part, verdict.message)
    assert "✗ Incorrect" in capsys.readouterr().out


@pytest.mark.parametrize("name,ex", EXERCISES, ids=IDS)
def test_every_exercise_has_prompt_hints_and_solution(name, ex, capsys):
    assert ex.prompt and ex.hints and ex.solution_code
    ex.hint()
    ex.solution()
    out = capsys.readouterr().out
    assert f"Hint 1 of {len(ex.hints)}" in out
    assert "```python" in out and ex.solution_code in out


# ---------------------------------------------------------------------------------------------
# the framework itself


def test_checker_exception_does_not_propagate(capsys):
    def broken(answer):
        raise KeyError("boom")

    ex = Exercise("Q?", broken, ["h"], "answer = 1")
    verdict = ex.check(1)
    assert verdict.status == "incorrect"
    assert "KeyError" in verdict.message and "boom" in verdict.message
    assert "KeyError" in capsys.readouterr().out


def test_checker_may_return_a_remark():
    ex = Exercise("Q?", lambda a: "well spotted", [], "answer = 1")
    verdict = ex.check(1)
    assert verdict.status == "correct" and bool(verdict)
    assert verdict.message == "well spotted"


def test_var_is_read_from_a_namespace():
    ex = Exercise("Q?", equals(42), [], "my_answer = 42", var="my_answer")
    assert ex.check(namespace={"my_answer": 42}).status == "correct"
    assert ex.check(namespace={"my_answer": 41}).status == "incorrect"
    assert ex.check(namespace={"my_answer": ...}).status == "not attempted"
    missing = ex.check(namespace={})
    assert missing.status == "not attempted" and "my_answer" in missing.message
    assert ex.check(42, namespace={"my_answer": 41}).status == "correct"  # an explicit answer wins


def test_var_is_read_from_the_callers_globals():
    ex = Exercise("Q?", equals(42), [], "my_answer = 42", var="my_answer")
    fake_globals = {"ex": ex, "my_answer": 42}
    exec("verdict = ex.check()", fake_globals)  # noqa: S102 -- a fake notebook
    assert fake_globals["verdict"].status == "correct"
    fake_globals["my_answer"] = 7
    exec("verdict = ex.check()", fake_globals)  # noqa: S102 -- a fake notebook
    assert fake_globals["verdict"].status == "incorrect"


def test_hints_come_one_after_another(capsys):
    ex = Exercise("Q?", equals(1), ["first", "second"], "answer = 1")
    ex.hint()
    ex.hint()
    ex.hint()
    ex.hint(1)
    out = capsys.readouterr().out.splitlines()
    assert ["first" in out[0], "second" in out[1], "second" in out[2], "first" in out[3]] == [True] * 4


def test_verdict_is_not_displayed_twice(monkeypatch):
    import itlib.exercises.core as core

    shown = []
    monkeypatch.setattr(core, "show", lambda markdown, plain=None: shown.append(plain))
    verdict = Verdict("correct")
    assert verdict.text() == "✓ Correct"
    verdict.show()  # what check() does
    verdict._ipython_display_()  # what Jupyter does when `ex.q1.check(x)` is a cell's last line
    assert shown == ["✓ Correct"]
    fresh = Verdict("correct")
    fresh._ipython_display_()  # never shown before: shown now
    assert shown == ["✓ Correct", "✓ Correct"]


def test_helper_checkers():
    close_to(0.75)(0.7501)
    with pytest.raises(Wrong, match="expected 0.75"):
        close_to(0.75)(0.83)
    with pytest.raises(Wrong, match="expected a number"):
        close_to(0.75)(True)
    equals(3)(3)
    equals(0.5, tol=0.01)(0.505)
    with pytest.raises(Wrong):
        equals("a")("b")
    is_type(int)(3)
    with pytest.raises(Wrong, match="expected int"):
        is_type(int)(True)


def test_judge_tries_the_right_answer_first_then_each_known_mistake():
    mistakes = [(0.2, "first mistake"), (0.4, "a mistake that gives the right value"), (0.2, "never reached")]
    assert judge(0.4, 0.4, mistakes) is True  # right, even though a mistake gives the same value
    with pytest.raises(Wrong, match="^first mistake$"):
        judge(0.2, 0.4, mistakes)
    assert judge(0.3, 0.4, mistakes) is False  # neither: the checker explains in its own words
    assert judge(0.4000001, 0.4, mistakes, same=near(1e-6)) is True
    assert judge(0.4001, 0.4, mistakes, same=near(1e-6)) is False
    assert judge(0.40039, 0.4, same=near(rel_tol=1e-3)) is True


def test_tensors_close_compares_shape_and_values():
    same = tensors_close(1e-4)
    a = torch.tensor([1.0, 2.0], requires_grad=True)
    assert same(a * 1, torch.tensor([1.0, 2.00001]))
    assert not same(a, torch.tensor([1.0, 2.1]))
    assert not same(a, torch.tensor([[1.0, 2.0]]))  # same values, other shape
    with pytest.raises(Wrong, match="shape"):
        judge(torch.ones(2), torch.zeros(2), [(torch.ones(1, 2), "wrong shape"), (torch.ones(2), "shape!")], same=same)


def test_nb01_solution_matches_the_library():
    from itlib.exercises import nb01
    from itlib.train import masked_nll

    logits, ids, mask = nb01._test_batch()
    mine = nb01.q2.solution_value()  # one loss per example: their token-weighted mean is the library's loss
    n = mask[:, 1:].sum(1)
    assert torch.allclose((mine(logits, ids, mask) * n).sum() / n.sum(), masked_nll(logits, ids, mask))
