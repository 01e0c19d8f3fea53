"""Reference solutions of the lecture exercises, and plausible wrong answers.

``SOLUTIONS[name]`` is the source code that replaces the stub of the exercise
cell ``name`` (see tests/test_lectures.py); ``WRONG_ANSWERS[name]`` maps a
short description of a typical mistake to source code making that mistake.
The solutions are ordinary functions and classes in this module and the
cell source is taken with ``inspect.getsource``; each wrong answer is the
solution with one targeted edit, so it differs from the right one in exactly
the way the description says.
"""
from __future__ import annotations

import inspect

import numpy as np  # noqa: F401  (the solutions use the names the notebooks define)

SOLUTIONS: dict[str, str] = {}
WRONG_ANSWERS: dict[str, dict[str, str]] = {}


def _register(obj, wrong: dict[str, tuple[str, str]]):
    """Record ``obj``'s source as the solution and derive each wrong answer by
    replacing one exact snippet (which must occur exactly once)."""
    source = inspect.getsource(obj)
    SOLUTIONS[obj.__name__] = source
    WRONG_ANSWERS[obj.__name__] = {}
    for why, (old, new) in wrong.items():
        assert source.count(old) == 1, f"{obj.__name__}: {old!r} must occur exactly once"
        WRONG_ANSWERS[obj.__name__][why] = source.replace(old, new)
    return obj
