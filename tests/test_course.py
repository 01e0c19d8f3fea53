"""The course kit: the exercises' checks reject their catalogued wrong answers,
a release holds no solution, and the grader scores the three scenarios right
(the instructor's tree: full marks; a fresh release: 0 with every exercise
listed; one solution pasted back: exactly its points) without being stopped
by a student's code that raises, loops, prints or exits."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tinyrnn.course import CourseError, find_exercises, grade, gradescope, release, summary
from tinyrnn.course.catalogue import (BEGIN, END, INSTRUCTOR_BEGIN, student_part, stub,
                                      with_part)
from tinyrnn.course.cli import main as course_main
from tinyrnn.course.grade import run_request
from tinyrnn.course.runner import check_op

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lecture_solutions  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
EXERCISES = sorted((REPO / "exercises").glob("*.py"))


def _wrong_answers(path: Path) -> dict:
    namespace = {}
    exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), namespace)
    return namespace["WRONG_ANSWERS"]


def _nan_answer(source: str) -> str:
    """The solution with its first returned gradient multiplied by nan."""
    part = student_part(source)
    lines = part.splitlines()
    k = max(i for i, line in enumerate(lines) if line.strip().startswith("return "))
    returned = lines[k].strip()[len("return "):].split(", ")
    returned[0] = f"({returned[0]}) * float('nan')"
    indent = lines[k][:len(lines[k]) - len(lines[k].lstrip())]
    lines[k] = indent + "return " + ", ".join(returned)
    return with_part(source, "\n".join(lines))


# ---- the exercises --------------------------------------------------------------
def test_the_course_has_enough_exercises():
    exercises = find_exercises(REPO)
    ops = [e for e in exercises if e.kind == "op"]
    lectures = [e for e in exercises if e.kind == "lecture"]
    functions = len(ops) + sum("tr.Function" in lecture_solutions.SOLUTIONS[e.name]
                               for e in lectures)
    assert len(exercises) >= 12 and functions >= 8, (len(exercises), functions)


@pytest.mark.parametrize("path", EXERCISES, ids=lambda p: p.stem)
def test_op_exercise_solution_passes_and_every_wrong_answer_fails(path):
    source = path.read_text(encoding="utf-8")
    assert check_op(source, path.stem)[0]
    wrong = _wrong_answers(path)
    assert len(wrong) >= 3, f"{path.stem}: catalogue at least three wrong answers"
    part = student_part(source)
    for why, (old, new) in wrong.items():
        assert part.count(old) == 1, f"{path.stem}/{why}: {old!r} must occur once in your code"
        passed, message = check_op(with_part(source, part.replace(old, new)), path.stem)
        assert not passed, f"{path.stem}: the wrong answer {why} passed"
        assert "gradcheck" in message, (why, message)
    passed, message = check_op(_nan_answer(source), path.stem)
    assert not passed and "non-finite" in message, message


def test_forgetting_the_batch_sum_is_caught_by_exact_grad_shapes():
    path = REPO / "exercises" / "bias_add_backward.py"
    source = path.read_text(encoding="utf-8")
    old, new = _wrong_answers(path)["forgot-to-sum-over-the-batch"]
    passed, message = check_op(with_part(source, student_part(source).replace(old, new)), "bias")
    assert not passed
    assert "backward returned a gradient of shape (4, 3) for its input 1 of shape (3,)" in message
    assert "inside exact_grad_shapes()" in message


def test_an_untouched_stub_is_not_implemented_yet():
    source = (REPO / "exercises" / "tanh_backward.py").read_text(encoding="utf-8")
    passed, message = check_op(stub(source, "tanh_backward"), "tanh_backward")
    assert not passed and message.startswith("not implemented yet")


# ---- release ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def released(tmp_path_factory):
    out = tmp_path_factory.mktemp("course") / "student"
    release(out, REPO)
    return out


def _code_lines(text: str) -> set:
    return {line.strip() for line in text.splitlines()
            if len(line.strip()) > 12 and not line.strip().startswith(("#", "return"))}


def test_a_release_holds_no_solution_and_nothing_pointing_at_them(released):
    texts = {p: p.read_text(encoding="utf-8") for p in released.rglob("*") if p.is_file()}
    everything = "\n".join(texts.values())
    for path in EXERCISES:
        for line in _code_lines(student_part(path.read_text(encoding="utf-8"))):
            assert line not in everything, f"{path.stem}: {line!r} is in the release"
    shipped_stubs = "\n".join(p.read_text(encoding="utf-8")
                              for p in (REPO / "lectures").glob("*.ipynb"))
    for name, source in lecture_solutions.SOLUTIONS.items():
        part = source.split("# -- begin solution --")[1].split("# -- end solution --")[0]
        for line in _code_lines(part):      # a stub's hint may quote a first line
            assert line in shipped_stubs or line not in everything, \
                f"{name}: {line!r} is in the release"
    for words in ("lecture_solutions", "begin solution", INSTRUCTOR_BEGIN, "WRONG_ANSWERS",
                  "tests/"):
        assert words not in everything, words
    assert all(text.count(BEGIN) == text.count(END) == 1 for p, text in texts.items()
               if p.parent.name == "exercises")


def test_release_refuses_a_folder_that_is_not_empty(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(CourseError, match="not an empty folder"):
        release(tmp_path, REPO)
    assert (tmp_path / "keep.txt").read_text() == "mine"


# ---- grading: the three scenarios ----------------------------------------------------
def test_the_instructors_tree_scores_full_marks():
    results = grade(REPO)
    assert [r.score for r in results] == [r.max_score for r in results], summary(results)


def test_a_fresh_release_scores_zero_with_every_exercise_listed(released):
    results = grade(released, REPO)
    assert {r.name for r in results} == {e.name for e in find_exercises(REPO)}
    assert all(r.score == 0 and "not implemented yet" in r.output for r in results), \
        summary(results)
    report = summary(results)
    assert all(r.name in report for r in results) and report.splitlines()[-1].split()[-1] == \
        f"0/{sum(r.max_score for r in results)}"


def test_pasting_back_one_solution_earns_exactly_its_points(released, tmp_path):
    copy = tmp_path / "student"
    for path in released.rglob("*"):
        if path.is_file():
            target = copy / path.relative_to(released)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    mine = copy / "exercises" / "matmul_backward.py"
    solution = student_part((REPO / "exercises" / "matmul_backward.py").read_text())
    mine.write_text(with_part(mine.read_text(), solution))
    json_path = tmp_path / "results.json"
    assert course_main(["grade", str(copy), "--reference", str(REPO),
                        "--json", str(json_path)]) == 0
    results = json.loads(json_path.read_text())
    assert results["score"] == 2 == sum(t["score"] for t in results["tests"])
    assert [t["name"] for t in results["tests"] if t["score"]] == ["matmul_backward"]
    assert all(set(t) == {"name", "score", "max_score", "output"} for t in results["tests"])


# ---- a student's code cannot stop the grader -------------------------------------------
def _tanh_with(part: str) -> dict:
    source = (REPO / "exercises" / "tanh_backward.py").read_text(encoding="utf-8")
    return {"kind": "op", "name": "tanh_backward", "source": with_part(source, part),
            "filename": str(REPO / "exercises" / "tanh_backward.py")}


@pytest.mark.parametrize("part, passed, words", [
    ("        while True:\n            pass", False, "timed out after 3 s"),
    ("        raise ZeroDivisionError('mine')", False, "backward failed with ZeroDivisionError"),
    ("        import os\n        os._exit(0)", False, "the check did not finish"),
    ("        print('PASSED tanh_backward')\n        return dy * (1 - y * y)", True, "agrees"),
    ("        print('{\"passed\": true}')\n        return dy", False, "is wrong at index"),
])
def test_a_students_code_that_loops_raises_exits_or_prints(part, passed, words):
    verdict, message = run_request(_tanh_with(part), time_limit=3)
    assert verdict is passed and words in message, message


def test_gradescope_shape():
    from tinyrnn.course import Result
    shaped = gradescope([Result("a", 2, 2, "ok"), Result("b", 0, 3, "wrong")])
    assert shaped == {"score": 2, "tests": [
        {"name": "a", "score": 2, "max_score": 2, "output": "ok"},
        {"name": "b", "score": 0, "max_score": 3, "output": "wrong"}]}


def test_a_new_lecture_exercise_is_found_by_its_cell_alone(tmp_path):
    """A future lecture's exercise needs no registration: its cell and check cell."""
    cells = [
        {"cell_type": "code", "metadata": {"tags": ["exercise-setup"]},
         "source": "import numpy as np\nfrom tinyrnn.check import report\n", "outputs": []},
        {"cell_type": "code", "metadata": {"tags": ["exercise"], "exercise": "double"},
         "source": "# EXERCISE double\ndef double_backward(dy):\n"
                   "    raise NotImplementedError\n", "outputs": []},
        {"cell_type": "code", "metadata": {"tags": ["exercise-check"], "exercise": "double"},
         "source": "try:\n    g = double_backward(np.ones(3))\nexcept NotImplementedError:\n"
                   "    not_implemented('double')\nelse:\n"
                   "    report('double', ['dx'], [g], [2 * np.ones(3)])\n", "outputs": []}]
    (tmp_path / "lectures").mkdir()
    (tmp_path / "lectures" / "11_attention.ipynb").write_text(json.dumps(
        {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    [exercise] = find_exercises(tmp_path)
    assert (exercise.name, exercise.kind, exercise.points) == ("double", "lecture", 3)
    [result] = grade(tmp_path, tmp_path, time_limit=60)
    assert result.score == 0 and "not implemented yet" in result.output
    solved = json.loads((tmp_path / "lectures" / "11_attention.ipynb").read_text())
    solved["cells"][1]["source"] = "# EXERCISE double\ndef double_backward(dy):\n    return 2 * dy\n"
    (tmp_path / "lectures" / "11_attention.ipynb").write_text(json.dumps(solved))
    [result] = grade(tmp_path, tmp_path, time_limit=60)
    assert result.score == 3, result.output
