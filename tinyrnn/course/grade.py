"""``course grade DIR``: score every exercise of a student's copy (or the instructor's tree).

What is graded comes from the *reference* tree -- by default the checkout
tinyrnn itself was loaded from, when it holds ``exercises/`` and
``lectures/`` -- and only the student's part is taken from DIR: for an op
exercise the lines between the ``your code`` markers of
``DIR/exercises/<name>.py``, spliced into the reference file (so the inputs
and the check are the instructor's, whatever the copy says); for a lecture
exercise the ``# EXERCISE <name>`` cell of DIR's notebook, run after the
reference notebook's setup cells and before its check cell. In the
instructor's tree (DIR holds ``tests/lecture_solutions.py``) a lecture
exercise is answered by its reference solution there.

Each exercise runs in a subprocess of its own with a time limit: a student's
code that raises, loops, prints or exits scores 0 for that exercise with the
reason, and never stops the grading of the others. An exercise scores all
its points when every gradient passes the check, else 0.
"""
from __future__ import annotations

import json
import os
import runpy
import secrets
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .catalogue import (CourseError, Exercise, cell_source, exercise_name, find_exercises,
                        read_notebook, student_part, with_part)

TIME_LIMIT = 120.0
"""Seconds one exercise may take (its subprocess is killed after that)."""
_PACKAGE_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Result:
    """One exercise's grade: ``output`` is the checker's message."""
    name: str
    score: int
    max_score: int
    output: str


def default_reference(root: Path) -> Path:
    """The checkout tinyrnn was loaded from, when it holds the course; else ``root``."""
    if (_PACKAGE_ROOT / "exercises").is_dir() and (_PACKAGE_ROOT / "lectures").is_dir():
        return _PACKAGE_ROOT
    return Path(root)


def _instructor_solutions(root: Path) -> dict:
    """SOLUTIONS of ``root/tests/lecture_solutions.py`` (the instructor's tree), else {}."""
    path = root / "tests" / "lecture_solutions.py"
    if not path.is_file():
        return {}
    # run_path lends the module a name in the import system while it runs, which the
    # solutions' inspect.getsource needs
    return dict(runpy.run_path(str(path), run_name="_course_lecture_solutions").get("SOLUTIONS", {}))


def _lecture_cell(path: Path, name: str) -> Optional[str]:
    """The source of exercise ``name``'s cell in the notebook at ``path``, or None."""
    if not path.is_file():
        return None
    for cell in read_notebook(path).get("cells", []):
        if exercise_name(cell) == name:
            return cell_source(cell)
    return None


def request_for(exercise: Exercise, root: Path, solutions: dict):
    """The runner's request for one exercise of the student's tree ``root``, or a
    string saying why there is nothing to run."""
    if exercise.kind == "op":
        mine = root / "exercises" / exercise.path.name
        if not mine.is_file():
            return f"missing: {mine.relative_to(root)} is not in the submission"
        try:
            part = student_part(mine.read_text(encoding="utf-8"), str(mine.relative_to(root)))
            source = with_part(exercise.path.read_text(encoding="utf-8"), part, exercise.name)
        except (CourseError, UnicodeDecodeError) as err:
            return f"unreadable: {err}"
        return {"kind": "op", "name": exercise.name, "source": source,
                "filename": str(mine)}
    cell = solutions.get(exercise.name) or _lecture_cell(root / "lectures" / exercise.path.name,
                                                         exercise.name)
    if cell is None:
        return (f"missing: no cell '# EXERCISE {exercise.name}' in "
                f"lectures/{exercise.path.name} of the submission")
    return {"kind": "lecture", "name": exercise.name, "setup": exercise.setup, "cell": cell,
            "check": exercise.check}


def run_request(request: dict, time_limit: float = TIME_LIMIT) -> tuple[bool, str]:
    """Run one request in a fresh interpreter; (passed, message)."""
    nonce = secrets.token_hex(16)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(_PACKAGE_ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]),
        TINYRNN_QUICK="1", MPLBACKEND="Agg")
    process = subprocess.Popen([sys.executable, "-m", "tinyrnn.course.runner"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=env, start_new_session=True,
                               cwd=os.path.dirname(request.get("filename", "")) or None)
    try:
        out, err = process.communicate(json.dumps({**request, "nonce": nonce}).encode(),
                                       timeout=time_limit)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        return False, (f"timed out after {time_limit:g} s (an endless loop, or far too slow); "
                       "scored 0")
    for line in reversed(out.decode("utf-8", "replace").splitlines()):
        if line.startswith(nonce + " "):
            verdict = json.loads(line[len(nonce) + 1:])
            return bool(verdict["passed"]), verdict["message"]
    tail = err.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
    return False, f"the check did not finish (exit status {process.returncode}): {tail[0]}"


def grade(root, reference=None, time_limit: float = TIME_LIMIT,
          jobs: Optional[int] = None) -> list[Result]:
    """Grade every exercise of the reference tree in the student's tree ``root``,
    ``jobs`` subprocesses at a time (default: the number of cores, at most 4)."""
    root = Path(root).resolve()
    if not root.is_dir():
        raise CourseError(f"course grade: {root} is not a directory")
    reference = Path(reference).resolve() if reference else default_reference(root)
    exercises = find_exercises(reference)
    if not exercises:
        raise CourseError(f"course grade: no exercises in {reference} (lectures/*.ipynb "
                          "with '# EXERCISE <name>' cells, or exercises/*.py)")
    solutions = _instructor_solutions(root)

    def one(exercise: Exercise) -> Result:
        request = request_for(exercise, root, solutions)
        passed, message = (False, request) if isinstance(request, str) else \
            run_request(request, time_limit)
        return Result(exercise.name, exercise.points if passed else 0, exercise.points, message)
    with ThreadPoolExecutor(jobs or min(4, os.cpu_count() or 1)) as pool:
        return list(pool.map(one, exercises))


def summary(results: list[Result]) -> str:
    """One line per exercise (score, then the message's first line) and the total."""
    width = max(len(r.name) for r in results)
    lines = [f"{r.name:<{width}}  {r.score:>2}/{r.max_score:<2}  "
             f"{(r.output.splitlines() or [''])[0]}" for r in results]
    total, most = sum(r.score for r in results), sum(r.max_score for r in results)
    return "\n".join(lines + [f"{'total':<{width}}  {total:>2}/{most:<2}"])


def gradescope(results: list[Result]) -> dict:
    """Gradescope's results.json: {"score", "tests": [{"name", "score", "max_score", "output"}]}."""
    return {"score": sum(r.score for r in results),
            "tests": [{"name": r.name, "score": r.score, "max_score": r.max_score,
                       "output": r.output} for r in results]}
