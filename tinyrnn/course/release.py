"""``course release OUT``: write the student version of the course.

OUT receives ``lectures/`` (the notebooks, outputs cleared, every exercise
cell a stub -- a notebook whose exercise cell holds code beyond the stub is
refused, not shipped), ``lectures/README.md`` without its paragraphs about
reference solutions and how the notebooks are tested, ``exercises/`` (each op
exercise with the code between its ``your code`` markers replaced by the
hints and ``raise NotImplementedError``, its instructor-only block dropped)
and a README.md saying how to work and how to check. Nothing else of the
instructor's tree is copied.
"""
from __future__ import annotations

import json
from pathlib import Path

from .catalogue import (CourseError, cell_source, exercise_name, find_exercises, is_stub,
                        read_notebook, stub)

STUDENT_README = """# Exercises

Each exercise asks for the backward pass of an operation.

* `exercises/<name>.py`: write the code between `# -- begin your code --` and
  `# -- end your code --` in place of `raise NotImplementedError`. The
  docstring at the top gives the shapes and the formulas. Leave the markers
  where they are: only the code between them is graded.
* `lectures/*.ipynb`: the cells starting with `# EXERCISE <name>`; the cell
  after each checks your answer as you go.

Check your work at any time (from this folder, with tinyrnn installed):

    python -m tinyrnn course grade .

Every exercise is gradient-checked against central differences in float64
with random inputs and a random upstream gradient; it earns its points when
every gradient agrees.
"""


def _student_readme_of_lectures(text: str) -> str:
    """The lectures' README without paragraphs that mention solutions and without
    the section on how the notebooks are tested."""
    sections = text.split("\n## ")
    kept = [s for s in sections if not s.startswith("How they are tested")]
    text = "\n## ".join(kept)
    paragraphs = [p for p in text.split("\n\n") if "solution" not in p.lower()]
    return "\n\n".join(paragraphs).rstrip() + "\n"


def _student_notebook(path: Path) -> str:
    """The notebook's JSON with outputs cleared; CourseError if an exercise cell is not a stub."""
    notebook = read_notebook(path)
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"], cell["execution_count"] = [], None
        name = exercise_name(cell)
        if name is not None and not is_stub(_body(cell_source(cell))):
            raise CourseError(f"course release: {path.name}: the cell of exercise {name} holds "
                              "code beyond the stub (raise NotImplementedError); restore the "
                              "stub before releasing")
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def _body(source: str) -> str:
    """A function or class cell's lines after the last docstring / signature line: what a
    stub has besides the code it is given (forward passes, unpacking the cache)."""
    lines = source.splitlines()
    last_raise = max((k for k, line in enumerate(lines) if "raise NotImplementedError" in line),
                     default=None)
    if last_raise is None:
        return source
    after = [line for line in lines[last_raise + 1:] if line.strip()
             and not line.strip().startswith(("#", "return "))]
    return "\n".join([lines[last_raise]] + after)


def release(out, source=None) -> list[str]:
    """Write the student version of the course in ``source`` (default: the
    checkout tinyrnn was loaded from) to the new or empty folder ``out``.
    Returns the paths written, relative to ``out``."""
    from .grade import default_reference
    out = Path(out)
    source = Path(source) if source else default_reference(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise CourseError(f"course release: {out} exists and is not an empty folder; "
                          "give a new folder (nothing is overwritten)")
    exercises = find_exercises(source)
    if not exercises:
        raise CourseError(f"course release: no exercises in {source}")
    files = {}
    for path in sorted((source / "lectures").glob("*.ipynb")):
        files[f"lectures/{path.name}"] = _student_notebook(path)
    readme = source / "lectures" / "README.md"
    if readme.is_file():
        files["lectures/README.md"] = _student_readme_of_lectures(readme.read_text(encoding="utf-8"))
    for exercise in exercises:
        if exercise.kind == "op":
            files[f"exercises/{exercise.path.name}"] = stub(
                exercise.path.read_text(encoding="utf-8"), exercise.name, str(exercise.path))
    files["README.md"] = STUDENT_README
    for name, text in files.items():
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return sorted(files)
