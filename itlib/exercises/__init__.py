"""Exercises for the course notebooks: `from itlib.exercises import nb00 as ex`, then
`ex.q1.check(answer)`, `ex.q1.hint()`, `ex.q1.solution()`.

One module per notebook (nb00, nb01, ...), imported only when asked for, so a notebook does not
pay for the others' imports.
"""

from __future__ import annotations

import importlib
import pkgutil

from itlib.exercises.core import PLACEHOLDER, Exercise, Verdict, Wrong

__all__ = ["PLACEHOLDER", "Exercise", "Verdict", "Wrong", "exercises_of", "notebook_modules"]


def notebook_modules() -> list[str]:
    """Names of the per-notebook exercise modules: ["nb00", "nb01", ...]."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name.startswith("nb"))


def exercises_of(module) -> dict[str, Exercise]:
    """The exercises a notebook module defines, by name ({"q1": ..., "q2": ...})."""
    return {k: v for k, v in vars(module).items() if isinstance(v, Exercise)}


def __getattr__(name: str):
    if name in notebook_modules():
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *notebook_modules()])
