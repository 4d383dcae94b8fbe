"""The exercise machinery behind every notebook (in the spirit of Kaggle's learntools).

In a notebook:

    from itlib.exercises import nb00 as ex
    ex.q1                 # shows the question
    ex.q1.check(answer)   # shows a verdict; never raises, so an unfinished notebook still runs
    ex.q1.hint()          # shows the next hint
    ex.q1.solution()      # shows the solution code

An exercise's `checker(answer)` returns quietly when the answer is right (or returns a string,
shown as a remark) and raises `Wrong("what exactly is wrong")` when it is not. Most checkers follow
one pattern, `judge(answer, right, mistakes)`: right answer, else the first known mistake's message.
Each exercise keeps its typical wrong answers next to it (`wrong_answers=`), and the tests run them.
"""

from __future__ import annotations

import math
import operator
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

PLACEHOLDER = ...  # what the notebooks put where the learner's answer goes

CORRECT, INCORRECT, NOT_ATTEMPTED = "correct", "incorrect", "not attempted"


class Wrong(Exception):
    """Raised by a checker: the answer is wrong, and the message says how."""


@dataclass
class Verdict:
    """The outcome of `Exercise.check`: `status` is "correct", "incorrect" or "not attempted"."""

    status: str
    message: str = ""
    shown: bool = field(default=False, repr=False, compare=False)

    def __bool__(self) -> bool:
        return self.status == CORRECT

    @property
    def headline(self) -> str:
        return {CORRECT: "✓ Correct", NOT_ATTEMPTED: "Not attempted yet"}.get(self.status, "✗ Incorrect")

    def text(self) -> str:
        return f"{self.headline}: {self.message}" if self.message else self.headline

    def markdown(self) -> str:
        colour = {CORRECT: "#2e7d32", INCORRECT: "#c62828"}.get(self.status, "#555555")
        head = f"{self.headline}:" if self.message else self.headline
        body = f" {self.message}" if self.message else ""
        return f'<span style="color:{colour}">**{head}**</span>{body}'

    def show(self) -> None:
        show(self.markdown(), self.text())
        self.shown = True

    def _ipython_display_(self) -> None:
        # check() has already shown the verdict; `ex.q1.check(x)` as a cell's last line must not
        # show it a second time.
        if not self.shown:
            self.show()


def show(markdown: str, plain: str | None = None) -> None:
    """Markdown in a Jupyter kernel, plain text anywhere else (terminal, scripts, tests)."""
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:
        shell = None
    if shell is not None and hasattr(shell, "kernel"):
        from IPython.display import Markdown, display

        display(Markdown(markdown))
    else:
        print(markdown if plain is None else plain)


def _caller_namespace(depth: int) -> dict:
    """The learner's variables: the kernel's namespace in Jupyter, else the calling frame's globals."""
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:
        shell = None
    if shell is not None:
        return shell.user_ns
    frame = sys._getframe(depth + 1)
    return {**frame.f_globals, **frame.f_locals}


class Exercise:
    """One question: its `prompt`, a `checker`, `hints`, the `solution` code and, where it can be
    computed, `solution_value()` (the correct answer, so tests can run every solution through its
    checker). With `var="name"`, `check()` with no argument reads the learner's variable `name`.

    `wrong_answers` lists the typical mistakes as `(make, part)` pairs: `make(correct_answer)` builds
    a wrong answer, and its verdict must contain `part` (tests/test_exercises.py runs every pair)."""

    def __init__(self, prompt: str, checker: Callable[[Any], Any], hints: list[str], solution: str,
                 solution_value: Callable[[], Any] | None = None, var: str | None = None,
                 wrong_answers: list[tuple[Callable[[Any], Any], str]] = ()):
        self.prompt = prompt.strip()
        self.checker = checker
        self.hints = list(hints)
        self.solution_code = solution.strip()
        self.solution_value = solution_value
        self.var = var
        self.wrong_answers = list(wrong_answers)
        self._hints_shown = 0

    def __repr__(self) -> str:
        return self.prompt

    def _repr_markdown_(self) -> str:
        return self.prompt

    def verdict(self, answer: Any = PLACEHOLDER) -> Verdict:
        """The verdict on `answer`, without showing it. Never raises."""
        if answer is PLACEHOLDER or answer is None:
            where = f"set `{self.var}`" if self.var else "replace `...` with your answer"
            return Verdict(NOT_ATTEMPTED, f"{where}, then run the cell again.")
        try:
            remark = self.checker(answer)
        except Wrong as err:
            return Verdict(INCORRECT, str(err))
        except Exception as err:  # noqa: BLE001 -- check() must never raise in a learner's notebook
            return Verdict(INCORRECT, f"your answer caused {type(err).__name__}: {err}")
        return Verdict(CORRECT, remark if isinstance(remark, str) else "")

    def check(self, answer: Any = PLACEHOLDER, *, namespace: dict | None = None) -> Verdict:
        """Show (and return) the verdict on `answer`. Without an answer, an exercise with `var`
        reads that variable from `namespace` (default: the notebook's variables)."""
        if answer is PLACEHOLDER and self.var is not None:
            if namespace is None:
                namespace = _caller_namespace(1)
            answer = namespace.get(self.var, PLACEHOLDER)
        verdict = self.verdict(answer)
        verdict.show()
        return verdict

    def hint(self, n: int | None = None) -> None:
        """Show hint `n` (1-based); without `n`, the next one not shown yet."""
        if not self.hints:
            show("_No hint for this one: try the solution._")
            return
        if n is None:
            n = min(self._hints_shown + 1, len(self.hints))
        n = max(1, min(n, len(self.hints)))
        self._hints_shown = max(self._hints_shown, n)
        more = " (call `hint()` again for the next one)" if n < len(self.hints) else ""
        show(f"**Hint {n} of {len(self.hints)}**{more}: {self.hints[n - 1]}")

    def solution(self) -> None:
        """Show the solution code."""
        show(f"**Solution:**\n\n```python\n{self.solution_code}\n```")


def run_solution(code: str, name: str) -> Any:
    """Execute solution `code` in a fresh namespace and return what it binds to `name`.
    Solutions written this way are themselves tested: `solution_value = lambda: run_solution(...)`."""
    namespace: dict = {}
    exec(compile(code, "<solution>", "exec"), namespace)  # noqa: S102 -- our own solution code
    return namespace[name]


# ---------------------------------------------------------------------------------------------
# the checkers' one pattern, and small checker builders


def judge(answer: Any, right: Any, mistakes: Iterable[tuple[Any, str]] = (),
          same: Callable[[Any, Any], bool] = operator.eq) -> bool:
    """Every checker's pattern. True when `same(answer, right)`; otherwise raise `Wrong(message)` for
    the first known mistake `(wrong, message)` with `same(answer, wrong)`; False when the answer is
    neither, so the checker can go on to explain in its own words. The right answer is tried first:
    a mistake that happens to give the right value is never reported."""
    if same(answer, right):
        return True
    for wrong, message in mistakes:
        if same(answer, wrong):
            raise Wrong(message)
    return False


def near(abs_tol: float = 1e-6, rel_tol: float = 0.0) -> Callable[[float, float], bool]:
    """`same` for `judge` on numbers: |a - b| <= max(rel_tol * max(|a|, |b|), abs_tol)."""
    return lambda a, b: math.isclose(a, b, rel_tol=rel_tol, abs_tol=abs_tol)


def tensors_close(atol: float = 1e-5, rtol: float = 1e-5) -> Callable[[Any, Any], bool]:
    """`same` for `judge` on torch tensors or numpy arrays: equal shapes and allclose values."""

    def same(a, b) -> bool:
        import numpy as np

        a, b = (np.asarray(x.detach() if hasattr(x, "detach") else x, dtype=float) for x in (a, b))
        return a.shape == b.shape and bool(np.allclose(a, b, atol=atol, rtol=rtol))

    return same


def is_type(*types: type) -> Callable[[Any], None]:
    """A checker that accepts instances of `types` (bool is not a number here)."""
    names = " or ".join(t.__name__ for t in types)

    def checker(answer):
        if isinstance(answer, bool) and bool not in types or not isinstance(answer, types):
            raise Wrong(f"expected {names}, got {type(answer).__name__} {answer!r}")

    return checker


def as_number(answer: Any) -> float:
    """`answer` as a float, or `Wrong` explaining that a number was expected."""
    if isinstance(answer, bool) or not isinstance(answer, (int, float)) and not hasattr(answer, "__float__"):
        raise Wrong(f"expected a number, got {type(answer).__name__} {answer!r}")
    return float(answer)


def close_to(expected: float, rel: float = 1e-3, abs_tol: float = 1e-9) -> Callable[[Any], None]:
    """A checker for a number within relative tolerance `rel` of `expected`."""

    def checker(answer):
        value = as_number(answer)
        if not math.isclose(value, expected, rel_tol=rel, abs_tol=abs_tol):
            raise Wrong(f"you gave {value:g}, expected {expected:g}")

    return checker


def equals(expected: Any, tol: float | None = None) -> Callable[[Any], None]:
    """A checker for `answer == expected` (numbers within absolute `tol` when given)."""

    def checker(answer):
        if tol is not None:
            value = as_number(answer)
            if abs(value - expected) > tol:
                raise Wrong(f"you gave {value:g}, expected {expected:g} (± {tol:g})")
        elif answer != expected:
            raise Wrong(f"you gave {answer!r}, expected {expected!r}")

    return checker
