"""Where a course's exercises are, and how an exercise is written down.

Two kinds of exercise are found in a tree (the instructor's checkout, or a
student's copy made by ``course release``):

* **op exercises**: ``exercises/<name>.py``, one ``Function`` subclass whose
  backward the student writes. The student's part sits between the lines
  ``# -- begin your code --`` and ``# -- end your code --``; module-level
  ``POINTS``, ``make_inputs(rng)`` (the check's inputs: float arrays are
  checked, integer arrays are constants), optional ``OPTIONS`` (keyword
  arguments of ``apply``) and ``EXACT_GRAD_SHAPES`` (check inside
  :func:`tinyrnn.autograd.exact_grad_shapes`). The instructor's file also
  holds its wrong answers between ``# -- begin instructor only --`` and
  ``# -- end instructor only --``; a release drops that part.
* **lecture exercises**: a notebook code cell tagged ``exercise`` whose first
  line is ``# EXERCISE <name>``; its check is the cell tagged
  ``exercise-check`` with the same name, and the cells tagged
  ``exercise-setup`` are all it needs. Points: the cell's metadata
  ``"points"``, else :data:`LECTURE_POINTS`.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

BEGIN, END = "# -- begin your code --", "# -- end your code --"
INSTRUCTOR_BEGIN, INSTRUCTOR_END = "# -- begin instructor only --", "# -- end instructor only --"
LECTURE_POINTS = 3
"""Points of a lecture exercise whose cell does not say (metadata "points")."""


class CourseError(Exception):
    """A course tree or exercise file that cannot be used; the message says why."""


@dataclass
class Exercise:
    """One graded exercise.

    name : its name (the op file's stem, or the notebook cell's ``# EXERCISE`` name).
    kind : "op" or "lecture".
    points : its maximum score.
    path : the file it lives in.
    setup, check : for a lecture exercise, the sources of its setup cells and its check cell.
    """
    name: str
    kind: str
    points: int
    path: Path
    setup: list = field(default_factory=list)
    check: str = ""


def your_code(source: str, where: str = "exercise") -> tuple[int, int]:
    """(first, last) line numbers (0-based) of the BEGIN and END markers in ``source``."""
    lines = source.splitlines()
    begins = [k for k, line in enumerate(lines) if line.strip() == BEGIN]
    ends = [k for k, line in enumerate(lines) if line.strip() == END]
    if len(begins) != 1 or len(ends) != 1 or ends[0] < begins[0]:
        raise CourseError(f"{where}: expected one '{BEGIN}' line followed by one '{END}' "
                          f"line; found {len(begins)} and {len(ends)}")
    return begins[0], ends[0]


def student_part(source: str, where: str = "exercise") -> str:
    """The lines between the markers (the student's answer), as written."""
    first, last = your_code(source, where)
    return "\n".join(source.splitlines()[first + 1:last])


def with_part(reference: str, part: str, where: str = "exercise") -> str:
    """``reference`` with the lines between its markers replaced by ``part``."""
    first, last = your_code(reference, where)
    lines = reference.splitlines()
    return "\n".join(lines[:first + 1] + part.splitlines() + lines[last:]) + "\n"


def without_instructor_part(source: str) -> str:
    """``source`` without the instructor-only block (markers included)."""
    pattern = re.compile(rf"^[ \t]*{re.escape(INSTRUCTOR_BEGIN)}$.*?^[ \t]*"
                         rf"{re.escape(INSTRUCTOR_END)}$\n?", re.M | re.S)
    return pattern.sub("", source).rstrip() + "\n"


def stub(source: str, name: str, where: str = "exercise") -> str:
    """The student's version of an op exercise: between the markers only the
    ``# Hint`` lines are kept, followed by ``raise NotImplementedError``;
    the instructor-only block is dropped."""
    first, last = your_code(source, where)
    lines = source.splitlines()
    indent = lines[first][:len(lines[first]) - len(lines[first].lstrip())]
    hints = [line for line in lines[first + 1:last] if line.strip().startswith("# Hint")]
    body = hints + [f'{indent}raise NotImplementedError("{name}: write this backward")']
    return without_instructor_part(with_part(source, "\n".join(body), where))


def is_stub(part: str) -> bool:
    """True when the student's part still raises NotImplementedError and holds no code."""
    code = [line for line in part.splitlines() if line.strip() and not line.strip().startswith("#")]
    return len(code) == 1 and "raise NotImplementedError" in code[0]


# ---- notebooks -------------------------------------------------------------------
def cell_source(cell) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def tags(cell) -> list:
    return cell.get("metadata", {}).get("tags", [])


EXERCISE_LINE = re.compile(r"^#\s*EXERCISE\s+([A-Za-z_][A-Za-z0-9_]*)")


def exercise_name(cell) -> Optional[str]:
    """The name of an exercise cell (tag ``exercise`` or a first line ``# EXERCISE name``)."""
    if cell.get("cell_type") != "code":
        return None
    match = EXERCISE_LINE.match(cell_source(cell).lstrip())
    if "exercise" in tags(cell):
        return cell.get("metadata", {}).get("exercise") or (match.group(1) if match else None)
    return match.group(1) if match else None


def read_notebook(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise CourseError(f"{path}: not a readable notebook ({err})") from None


def lecture_exercises(path: Path) -> list[Exercise]:
    """The exercises of one notebook, each with its setup cells and check cell."""
    cells = read_notebook(path).get("cells", [])
    setup = [cell_source(c) for c in cells if "exercise-setup" in tags(c)]
    found = []
    for cell in cells:
        name = exercise_name(cell)
        if name is None:
            continue
        checks = [cell_source(c) for c in cells if "exercise-check" in tags(c)
                  and c.get("metadata", {}).get("exercise") == name]
        if len(checks) != 1:
            raise CourseError(f"{path.name}: exercise {name} needs one cell tagged "
                              f"exercise-check with \"exercise\": \"{name}\"; found {len(checks)}")
        points = int(cell.get("metadata", {}).get("points", LECTURE_POINTS))
        found.append(Exercise(name, "lecture", points, path, setup, checks[0]))
    return found


def op_exercise(path: Path) -> Exercise:
    """An op exercise file; its POINTS is read without running it."""
    source = path.read_text(encoding="utf-8")
    match = re.search(r"^POINTS\s*=\s*(\d+)\s*$", source, re.M)
    if match is None:
        raise CourseError(f"{path}: an exercise file needs a line 'POINTS = <whole number>'")
    your_code(source, str(path))
    return Exercise(path.stem, "op", int(match.group(1)), path)


def find_exercises(root: Path) -> list[Exercise]:
    """Every exercise of the tree at ``root``: lectures/*.ipynb, then exercises/*.py."""
    root = Path(root)
    found = []
    for path in sorted((root / "lectures").glob("*.ipynb")):
        found += lecture_exercises(path)
    for path in sorted((root / "exercises").glob("*.py")):
        if not path.name.startswith("_"):
            found.append(op_exercise(path))
    names = [e.name for e in found]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise CourseError(f"{root}: exercise names used twice: {', '.join(twice)}")
    return found
