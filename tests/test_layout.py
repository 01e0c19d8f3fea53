"""The import rules of DESIGN.md, checked so they cannot quietly rot:
ops/ computes only through the backend's namespace (no NumPy), ops/ never
imports nn/, and nn/ never imports the training loop."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "tinyrnn"


def imported_modules(path: Path) -> set[str]:
    """Absolute names of everything a file imports (relative imports resolved)."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    package = parts[:-1] if parts[-1] != "__init__" else parts[:-1]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = list(package[:len(package) - node.level + 1]) if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def files_in(folder: str):
    return sorted((PACKAGE / folder).glob("*.py"))


@pytest.mark.parametrize("path", files_in("ops"), ids=lambda p: p.name)
def test_ops_use_no_numpy_and_no_nn(path):
    names = imported_modules(path)
    assert not any(n == "numpy" or n.startswith("numpy.") for n in names), \
        f"{path.name} imports NumPy; ops must compute through ctx.xp / the Backend"
    assert not any(n.startswith("tinyrnn.nn") for n in names), f"{path.name} imports tinyrnn.nn"


@pytest.mark.parametrize("path", files_in("nn"), ids=lambda p: p.name)
def test_nn_does_not_import_training(path):
    names = imported_modules(path)
    assert not any(n.startswith(("tinyrnn.train", "tinyrnn.__main__")) for n in names), \
        f"{path.name} imports the training loop"


def test_the_checker_sees_imports(tmp_path):
    """The rule above can fail: a file importing NumPy is reported."""
    fake = PACKAGE / "ops" / "arithmetic.py"
    assert "tinyrnn.autograd.Function" in imported_modules(fake)
    assert "numpy" in imported_modules(PACKAGE / "backend.py")
