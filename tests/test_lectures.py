"""The lecture notebooks in ``lectures/`` run top to bottom, are stored without
outputs, and their "implement this backward" exercises really catch wrong answers.

How the notebooks are run
-------------------------
Each notebook is executed with nbclient in a kernel that is *this*
interpreter (``sys.executable -m ipykernel_launcher``, from a kernelspec
written to a temporary directory), so it sees the same tinyrnn as pytest.
``TINYRNN_QUICK=1`` is set for the kernel: every notebook reads it and picks
small sizes and few training steps, so the whole set runs in a few minutes on
two cores. Unset it (the default when a person opens a notebook) for the full
settings.

How the exercises are marked and checked
----------------------------------------
An exercise is a code cell with metadata ``"exercise": "<name>"`` and the tag
``exercise``; it ships as a stub whose body raises ``NotImplementedError``.
The cell after it, tagged ``exercise-check`` with the same ``"exercise"``
name, gradient-checks the student's function and prints one verdict:

* ``NOT IMPLEMENTED YET`` (no error) while the stub is untouched, so the
  notebook as shipped still runs top to bottom;
* ``PASSED`` when every gradient matches the numerical one;
* ``FAILED`` in an ``AssertionError`` when any gradient is wrong, including
  one that contains nan or inf.

Cells tagged ``exercise-setup`` (imports, the forward functions, the check
helper) are all an exercise needs. The tests below start one kernel per
notebook, run its setup cells, then substitute the exercise cell's source with
the reference solution, with the stub, and with plausible wrong answers from
``tests/lecture_solutions.py``, running the check cell after each.
"""
from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
from jupyter_client import KernelManager  # noqa: E402  (comes with nbclient)
from nbclient.exceptions import CellExecutionError  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lecture_solutions  # noqa: E402

LECTURES = Path(__file__).resolve().parent.parent / "lectures"
NOTEBOOKS = sorted(LECTURES.glob("*.ipynb"))
CELL_TIMEOUT = 600
KERNEL_NAME = "tinyrnn-pytest"


def _read(path: Path):
    return nbformat.read(str(path), as_version=4)


@pytest.fixture(scope="session")
def kernel_specs(tmp_path_factory):
    """A kernelspec whose kernel is this interpreter, in a private directory
    (so a system-wide "python3" kernelspec pointing elsewhere cannot be picked)."""
    from jupyter_client.kernelspec import KernelSpecManager
    root = tmp_path_factory.mktemp("kernels")
    (root / KERNEL_NAME).mkdir()
    (root / KERNEL_NAME / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "pytest's Python", "language": "python"}))
    return KernelSpecManager(kernel_dirs=[str(root)])


def _client(nb, cwd: Path, kernel_specs) -> "nbclient.NotebookClient":
    """A client for ``nb`` whose kernel runs this interpreter, in quick mode, in ``cwd``."""
    km = KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=kernel_specs)
    return nbclient.NotebookClient(nb, km=km, timeout=CELL_TIMEOUT,
                                   resources={"metadata": {"path": str(cwd)}})


def _kernel_env() -> dict:
    """The kernel's environment: ours, plus quick mode and one BLAS thread (quick
    mode's matrices are tiny: a second thread costs more than it saves, and on a
    shared machine a busy second core can make every product wait)."""
    return dict(os.environ, TINYRNN_QUICK="1", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
                MKL_NUM_THREADS="1")


def _stdout(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", [])
                   if o.get("output_type") == "stream")


def _fresh(cell):
    """A copy of ``cell`` without outputs, safe to execute and modify."""
    return nbformat.from_dict(dict(cell, outputs=[], execution_count=None,
                                   metadata=dict(cell.get("metadata", {}))))


def _tags(cell) -> list:
    return cell.get("metadata", {}).get("tags", [])


def _exercises():
    """(notebook path, exercise name) for every exercise cell in the lectures."""
    found = []
    for path in NOTEBOOKS:
        for cell in _read(path).cells:
            if "exercise" in _tags(cell):
                found.append((path, cell.metadata["exercise"]))
    return found


EXERCISES = _exercises()


# ---- the notebooks as shipped ---------------------------------------------
def test_there_are_lectures_and_exercises():
    assert [p.name[:2] for p in NOTEBOOKS][:10] == [f"{k:02d}" for k in range(1, 11)], \
        "lectures 01 to 10, named NN_topic.ipynb"
    assert len(EXERCISES) >= 3, "at least three 'implement this backward' exercises"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_without_outputs(path):
    nb = _read(path)
    nbformat.validate(nb)
    stored = json.loads(path.read_text(encoding="utf-8"))["cells"]
    missing = [i for i, cell in enumerate(stored) if "id" not in cell]
    assert not missing, f"{path.name} cells {missing} have no id (nbformat 4.5 needs one)"
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name} cell {i} has stored outputs"
            assert cell.execution_count is None, f"{path.name} cell {i} has an execution count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_reads_like_a_lecture(path):
    """What you will learn at the top, questions at the end, quick mode honoured."""
    nb = _read(path)
    first = nb.cells[0]
    assert first.cell_type == "markdown" and "you will learn" in first.source.lower()
    last_md = [c for c in nb.cells if c.cell_type == "markdown"][-1]
    assert "questions" in last_md.source.lower()
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "TINYRNN_QUICK" in code


# What a notebook that trains prints in quick mode, and the bound that shows it
# learned what a broken model would not: {number: [(pattern, bound, what)]}; the
# pattern's numbers (read from the whole notebook's printed text, in order) go
# to the bound. Margins, from quick runs with the notebook's seeds and with
# every seed shifted by 1 and by 2:
# - 04: the tiny overfit ends at 0.0004 / 0.0011 / 0.0004 (bound 0.05); the toy
#   char model at 0.84 / 0.82 / 0.85 nats, against 2.565 for uniform guessing
#   (bound 1.565).
# - 05: no training, a demonstration: the clipped step lands at 0.0066, the
#   wall is 1.91 (bound: a tenth of the wall).
# - 06: 200 steps of the adding problem (T = 30): the GRU ends at MSE 0.0035 /
#   0.0029 / 0.0055, against 0.167 for always answering the mean (bound 0.03).
#   The RNN and the LSTM do not learn it in quick mode, and are not asked to.
# - 07: 60 steps take the first model's validation loss from uniform (4.554) to
#   3.18 / 3.16 / 3.17 (bound: a nat under uniform, 3.554).
# - 09: 200 steps at T = 10: the RWA ends at MSE 0.0056 / 0.0012 / 0.0046
#   (seed + 3: 0.0027), against 0.167 (bound 0.03).
# - 10: 150 steps of associative retrieval: the fast-weights network reaches
#   34.5% / 31% / 32% validation accuracy, against 10% for guessing (bound 22%).
# - 11: names valid in the language asked for, conditioned through h0: 99 / 99 /
#   98%, at every step: 96 / 97 / 97%, where the unconditioned control, which
#   cannot know the language, gets 36 / 33 / 31% (bound 80%); reversal with
#   attention, whole sequences right averaged over lengths 3-6: 0.98 / 0.79 /
#   0.89, where the plain encoder-decoder gets 0.46 / 0.43 / 0.44 (bound 0.65).
LEARNED = {
    "04": [(r"last step (\d+\.\d+)", lambda last: last < 0.05,
            "the RNN overfits its one short sequence"),
           (r"final loss (\d+\.\d+) \(uniform guessing: (\d+\.\d+)\)",
            lambda loss, uniform: loss < uniform - 1.0,
            "the toy char model beats uniform guessing by a nat")],
    "05": [(r"loss on the wall (\d+\.\d+)[\s\S]*clipped step: .*loss there (\d+\.\d+)",
            lambda wall, clipped: clipped < wall / 10, "the clipped step gets off the wall")],
    "06": [(r"GRU: final MSE (\d+\.\d+)", lambda mse: mse < 0.03,
            "the GRU learns the adding problem")],
    "07": [(r"validation (\d+\.\d+) nats/char[\s\S]*uniform guessing: (\d+\.\d+)",
            lambda val, uniform: val < uniform - 1.0,
            "the char LM's validation loss falls a nat below uniform guessing")],
    "09": [(r"RWA: final MSE (\d+\.\d+)", lambda mse: mse < 0.03,
            "the RWA learns the adding problem")],
    "10": [(r"RNN-LN-FW: validation accuracy (\d+\.\d+)%", lambda acc: acc > 22,
            "the fast-weights network retrieves above guessing")],
    "11": [(r"h0: valid in the language asked for (\d+)%", lambda valid: valid > 80,
            "the name generator conditioned through h0 follows its condition"),
           (r"every step: valid in the language asked for (\d+)%", lambda valid: valid > 80,
            "the name generator conditioned at every step follows its condition"),
           (r"with attention, exact: +" + r" +".join([r"(\d\.\d\d)"] * 4),
            lambda *exact: sum(exact) / len(exact) > 0.65,
            "the attention decoder reverses most sequences")],
}


def _check_learned(path: Path, nb) -> None:
    printed = "\n".join(_stdout(cell) for cell in nb.cells if cell.cell_type == "code")
    for pattern, bound, what in LEARNED.get(path.name[:2], []):
        found = re.search(pattern, printed)
        assert found, f"{path.name} no longer prints what {pattern!r} reads ({what})"
        numbers = [float(x) for x in found.groups()]
        assert bound(*numbers), f"{path.name}: {what}: not so, with {numbers}"


def _printing(text: str):
    """A notebook of one code cell that printed ``text``."""
    cell = nbformat.v4.new_code_cell("")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
    return nbformat.v4.new_notebook(cells=[cell])


def test_the_learning_bounds_reject_what_learned_nothing():
    learned = ("loss: first step 1.6 (log 4 = 1.386), last step 0.0004\n"
               "60 steps in 3 s, final loss 0.842 (uniform guessing: 2.565)\n")
    _check_learned(Path("04_x.ipynb"), _printing(learned))
    for broken in (learned.replace("0.0004", "1.2"), learned.replace("0.842", "2.5"),
                   learned.replace("final loss", "final")):
        with pytest.raises(AssertionError, match="04_x.ipynb"):
            _check_learned(Path("04_x.ipynb"), _printing(broken))
    chance = "validation 4.550 nats/char = 6.5 bits/char\nuniform guessing: 4.554 nats/char\n"
    with pytest.raises(AssertionError, match="below uniform"):
        _check_learned(Path("07_x.ipynb"), _printing(chance))


# What each notebook printed in a quick run, and the same with one number as a
# model that learned nothing would print it (the mean's MSE, guessing's accuracy,
# the unconditioned control's validity, the plain encoder-decoder's reversals).
LEARNED_AND_NOT = {
    "06": ("GRU: final MSE 0.0035", "GRU: final MSE 0.1650"),
    "09": (" RWA: final MSE 0.0056", " RWA: final MSE 0.1702"),
    "10": (" RNN-LN-FW: validation accuracy 34.5% after", " RNN-LN-FW: validation accuracy 10.9% after"),
    "11": ("        h0: valid in the language asked for 99% of the time\n"
           "every step: valid in the language asked for 96% of the time\n"
           "with attention, exact: 0.98  1.00  1.00  0.94\n", None),
}


@pytest.mark.parametrize("number", sorted(LEARNED_AND_NOT))
def test_the_new_learning_bounds_reject_what_learned_nothing(number):
    learned, untrained = LEARNED_AND_NOT[number]
    _check_learned(Path(f"{number}_x.ipynb"), _printing(learned))
    failing = [untrained] if untrained else [
        learned.replace("for 99%", "for 36%"), learned.replace("for 96%", "for 33%"),
        learned.replace("0.98  1.00  1.00  0.94", "0.90  0.68  0.28  0.06")]
    for text in failing:
        with pytest.raises(AssertionError, match=f"{number}_x.ipynb"):
            _check_learned(Path(f"{number}_x.ipynb"), _printing(text))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path, kernel_specs):
    nb = _read(path)
    _client(nb, path.parent, kernel_specs).execute(env=_kernel_env())
    for cell in nb.cells:
        if "exercise-check" in _tags(cell):     # the shipped stubs are reported, not raised
            out = _stdout(cell)
            assert "NOT IMPLEMENTED YET" in out and "PASSED" not in out, out
    _check_learned(path, nb)


WITH_EXERCISES = sorted({path for path, _ in EXERCISES})


@pytest.mark.parametrize("path", WITH_EXERCISES, ids=lambda p: p.stem)
def test_notebook_runs_with_every_exercise_solved(path, kernel_specs):
    """With the reference solutions in place every check passes, and the cells
    that build on the exercises (e.g. BPTT with the student's step) run too."""
    nb = _read(path)
    for cell in nb.cells:
        if "exercise" in _tags(cell):
            cell.source = lecture_solutions.SOLUTIONS[cell.metadata["exercise"]]
    _client(nb, path.parent, kernel_specs).execute(env=_kernel_env())
    for cell in nb.cells:
        if "exercise-check" in _tags(cell):
            assert "PASSED" in _stdout(cell), _stdout(cell)
    assert "Finish the exercise" not in "".join(_stdout(c) for c in nb.cells)


# ---- the exercises -----------------------------------------------------------
class _ExerciseKernel:
    """One kernel per notebook with its ``exercise-setup`` cells already run.

    The kernel executes a scratch notebook of its own (the setup cells, then
    one slot for the exercise and one for its check), never the notebook read
    from disk, so substitutions cannot leak from one run into the next.
    """

    def __init__(self, path: Path, kernel_specs):
        self.nb = _read(path)
        setup = [_fresh(c) for c in self.nb.cells if "exercise-setup" in _tags(c)]
        self._n_setup = len(setup)
        self.scratch = nbformat.v4.new_notebook(cells=list(setup))
        self.client = _client(self.scratch, path.parent, kernel_specs)
        self._ctx = self.client.setup_kernel(env=_kernel_env())
        self._ctx.__enter__()
        for i, cell in enumerate(setup):
            self.client.execute_cell(cell, i)

    def cells(self, name):
        ex = [c for c in self.nb.cells if c.get("metadata", {}).get("exercise") == name]
        exercise = [c for c in ex if "exercise" in _tags(c)]
        check = [c for c in ex if "exercise-check" in _tags(c)]
        assert len(exercise) == 1 and len(check) == 1, f"exercise {name}: one stub, one check"
        return exercise[0], check[0]

    def run(self, name: str, source: str | None) -> str:
        """Run the exercise cell (with ``source`` in place of the stub when given),
        then the check cell; return the check's printed output."""
        exercise, check = (_fresh(c) for c in self.cells(name))
        if source is not None:
            exercise.source = source
        self.scratch.cells[:] = self.scratch.cells[:self._n_setup] + [exercise, check]
        self.client.execute_cell(exercise, self._n_setup)
        self.client.execute_cell(check, self._n_setup + 1)
        return _stdout(check)

    def close(self):
        self._ctx.__exit__(None, None, None)


@pytest.fixture(scope="module")
def exercise_kernel(kernel_specs):
    kernels = {}

    def get(path: Path) -> _ExerciseKernel:
        if path not in kernels:
            kernels[path] = _ExerciseKernel(path, kernel_specs)
        return kernels[path]

    yield get
    for k in kernels.values():
        k.close()


def test_every_exercise_has_a_solution_and_wrong_answers():
    names = [name for _, name in EXERCISES]
    assert len(names) == len(set(names)), "exercise names are unique"
    for name in names:
        assert name in lecture_solutions.SOLUTIONS, f"no reference solution for {name}"
        assert len(lecture_solutions.WRONG_ANSWERS.get(name, {})) >= 2, \
            f"exercise {name} needs at least two plausible wrong answers"


@pytest.mark.parametrize("path,name", EXERCISES, ids=[n for _, n in EXERCISES])
def test_exercise_stub_matches_the_solution_around_the_gap(path, name):
    """The code a student is given (forward passes, caches, signatures) is the
    reference solution's, so the two cannot drift apart."""
    stub = next(c for c in _read(path).cells if c.get("metadata", {}).get("exercise") == name
                and "exercise" in _tags(c)).source
    assert stub.startswith(f"# EXERCISE {name}"), "the first line marks the exercise"
    solution = lecture_solutions.SOLUTIONS[name]
    begin = solution.index("# -- begin solution --")
    begin = solution.rindex("\n", 0, begin) + 1
    end = solution.index("\n", solution.index("# -- end solution --")) + 1
    body = stub.split("\n", 1)[1]
    assert body.startswith(solution[:begin]) and body.endswith(solution[end:].rstrip("\n"))
    assert f'raise NotImplementedError("{name}")' in body[begin:]


@pytest.mark.parametrize("path,name", EXERCISES, ids=[n for _, n in EXERCISES])
def test_exercise_stub_is_reported_as_not_implemented(exercise_kernel, path, name):
    kernel = exercise_kernel(path)
    stub, _ = kernel.cells(name)
    assert "NotImplementedError" in stub.source
    out = kernel.run(name, None)
    assert "NOT IMPLEMENTED YET" in out and "PASSED" not in out, out


@pytest.mark.parametrize("path,name", EXERCISES, ids=[n for _, n in EXERCISES])
def test_exercise_check_passes_with_the_solution(exercise_kernel, path, name):
    out = exercise_kernel(path).run(name, lecture_solutions.SOLUTIONS[name])
    assert "PASSED" in out and "FAILED" not in out, out


def test_every_exercise_is_checked_against_non_finite_answers():
    """A gradient of nan or inf is never "close": the check must say FAILED (nan
    compares false with everything, so a check written as ``error > tol`` would pass it)."""
    for _, name in EXERCISES:
        assert {"nan-gradient", "inf-gradient"} <= set(lecture_solutions.WRONG_ANSWERS[name]), name


WRONG = [(path, name, why) for path, name in EXERCISES
         for why in lecture_solutions.WRONG_ANSWERS.get(name, {})]


@pytest.mark.parametrize("path,name,why", WRONG, ids=[f"{n}-{w}" for _, n, w in WRONG])
def test_exercise_check_fails_with_a_wrong_answer(exercise_kernel, path, name, why):
    source = lecture_solutions.WRONG_ANSWERS[name][why]
    with pytest.raises(CellExecutionError, match="FAILED"):
        exercise_kernel(path).run(name, source)
