"""The package's import rules, checked so they cannot quietly rot: ops/
computes only through the backend's namespace (no NumPy), ops/ never imports
nn/, the library never imports the char-LM application (charlm/), loading,
sampling and exporting a model never import the training run, drawing
(viz/draw.py) imports recording (viz/record.py) and never the other way, no
import circle but the engine's Tensor <-> ops knot, no module imports
another's private names, and no module over ~400 lines."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "tinyrnn"


def imports_of(path: Path):
    """(module, names) for every import in a file, relative imports resolved:
    ``from .tensor import Tensor`` in tinyrnn/nn/x.py gives ("tinyrnn.tensor",
    ["Tensor"]); ``import numpy`` gives ("numpy", [])."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    package = parts[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []
        elif isinstance(node, ast.ImportFrom):
            base = list(package[:len(package) - node.level + 1]) if node.level else []
            yield ".".join(base + ([node.module] if node.module else [])), \
                [alias.name for alias in node.names]


def imported_modules(path: Path) -> set[str]:
    """Absolute names of everything a file imports (relative imports resolved)."""
    names = set()
    for module, members in imports_of(path):
        names.add(module)
        names.update(f"{module}.{member}" for member in members)
    return names


def files_in(folder: str):
    """Every .py file under ``folder`` of the package, sub-packages included."""
    return sorted((PACKAGE / folder).rglob("*.py"))


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """module -> the package's modules it imports, anywhere in the file (a
    function-level import is a dependency too). ``from . import ops`` is an
    import of ``tinyrnn.ops``; ``from .tensor import Tensor`` of ``tinyrnn.tensor``."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        targets = set()
        for module, members in imports_of(path):
            subs = [f"{module}.{m}" for m in members]
            targets.update(sub if sub in modules else module for sub in subs or [module])
        graph[name] = {t for t in targets if t in modules} - {name}
    return graph


def import_circles(graph) -> list[set[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(component)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


@pytest.mark.parametrize("path", files_in("ops"), ids=lambda p: p.name)
def test_ops_use_no_numpy_and_no_nn(path):
    names = imported_modules(path)
    assert not any(n == "numpy" or n.startswith("numpy.") for n in names), \
        f"{path.name} imports NumPy; ops must compute through ctx.xp / the Backend"
    assert not any(n.startswith("tinyrnn.nn") for n in names), f"{path.name} imports tinyrnn.nn"


LIBRARY = [p for p in sorted(PACKAGE.rglob("*.py"))
           if p.relative_to(PACKAGE).parts[0] not in ("charlm", "course", "__main__.py")]
"""Every file of the library: all but the applications and ``python -m tinyrnn``."""

OFF_THE_TRAINING_PATH = [p for p in files_in("charlm")
                         if p.relative_to(PACKAGE).parts[1] not in ("train", "cli.py")]
"""The char-LM files that load, sample and export a model."""

NEVER_IMPORTED = [(p, "tinyrnn.charlm") for p in LIBRARY] + \
                 [(p, "tinyrnn.course") for p in LIBRARY] + \
                 [(p, "tinyrnn.charlm") for p in files_in("course")] + \
                 [(p, "tinyrnn.charlm.train") for p in OFF_THE_TRAINING_PATH]
"""(file, package it must not import): the library never imports either application
(the char-LM, the course kit), the course kit never imports the char-LM; loading,
sampling and exporting a model never import the training run."""


@pytest.mark.parametrize("path, forbidden", NEVER_IMPORTED,
                         ids=lambda v: str(v.relative_to(PACKAGE)) if isinstance(v, Path) else v)
def test_imports_run_one_way(path, forbidden):
    names = imported_modules(path)
    assert not any(n.startswith(forbidden) for n in names), \
        f"{path.relative_to(PACKAGE)} imports {forbidden}"


def test_only_the_train_command_imports_the_training_run():
    """cli.py imports train/ inside the train command alone, not at its top."""
    tree = ast.parse((PACKAGE / "charlm" / "cli.py").read_text(encoding="utf-8"))
    top = [n for n in tree.body if isinstance(n, ast.ImportFrom)]
    assert not any((n.module or "").startswith("train") for n in top)


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")),
                         ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_another_modules_private_names(path):
    private = [f"{module}.{name}" for module, names in imports_of(path) for name in names
               if name.startswith("_") and not name.startswith("__")]
    assert not private, f"{path.relative_to(PACKAGE)} imports private names: {private}"


def test_the_checker_sees_imports(tmp_path):
    """The rule above can fail: a file importing NumPy is reported."""
    fake = PACKAGE / "ops" / "arithmetic.py"
    assert "tinyrnn.autograd.Function" in imported_modules(fake)
    assert "numpy" in imported_modules(PACKAGE / "backend.py")
    assert "tinyrnn.charlm.cli.main" in imported_modules(PACKAGE / "__main__.py")
    assert any(n.startswith("tinyrnn.charlm.train") for n in
               imported_modules(PACKAGE / "charlm" / "cli.py"))      # inside run_train


# ---- no import circles -------------------------------------------------------------------
ENGINE_KNOT = {"tinyrnn.tensor", "tinyrnn.autograd", "tinyrnn.ops"}
"""Tensor's operators call ops, ops make Tensors, the engine records Functions:
the one circle the design keeps (DeZero and tinygrad have it too). The op
family modules (ops/arithmetic.py ...) belong to it; the fused kernels do not."""

ALLOWED_EDGES: set = set()
"""Import edges to leave out of the circle check (none)."""


def _in_knot(module: str) -> bool:
    return module in ENGINE_KNOT or (module.startswith("tinyrnn.ops.")
                                     and not module.startswith("tinyrnn.ops.fused"))


def test_no_import_circle_but_the_engine_knot():
    graph = import_graph()
    for a, b in ALLOWED_EDGES:
        graph[a].discard(b)
    circles = import_circles(graph)
    knots = [c for c in circles if all(_in_knot(m) for m in c)]
    assert len(knots) == 1 and {"tinyrnn.tensor", "tinyrnn.ops"} <= knots[0]
    others = [sorted(c) for c in circles if c not in knots]
    assert not others, f"import circles: {others}"


def test_the_circle_finder_finds_circles():
    """The check above can fail: a made-up circle is found, a chain is not."""
    assert import_circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]
    assert import_circles({"a": {"b"}, "b": set()}) == []
    graph = import_graph()
    assert "tinyrnn.nn.cells" in graph["tinyrnn.nn.recurrent"]
    assert "tinyrnn" not in graph["tinyrnn.nn.cells"]            # "from .. import ops"
    assert "tinyrnn.ops" in graph["tinyrnn.nn.cells"]


def test_drawing_imports_recording_never_back():
    graph = import_graph()
    assert "tinyrnn.viz.record" in graph["tinyrnn.viz"]
    assert not any(m == "tinyrnn.viz" for m in graph["tinyrnn.viz.record"])
    assert not any(m.startswith("tinyrnn.viz") for deps in
                   (graph[m] for m in graph if m.startswith("tinyrnn.nn")) for m in deps)


def test_ops_init_only_gathers():
    """ops/__init__.py re-exports; the functions live beside their classes."""
    tree = ast.parse((PACKAGE / "ops" / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        is_docstring = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        is_all = isinstance(node, ast.Assign) and [t.id for t in node.targets] == ["__all__"]
        assert is_docstring or is_all or isinstance(node, ast.ImportFrom), \
            f"ops/__init__.py line {node.lineno} does more than re-export"


# ---- short files ------------------------------------------------------------------------------
MAX_LINES = 400
LONG_FILES_OWNED_ELSEWHERE: set = set()
"""Files allowed over the limit for now (none)."""


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")),
                         ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_over_400_lines(path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    name = str(path.relative_to(PACKAGE))
    if name in LONG_FILES_OWNED_ELSEWHERE:
        pytest.skip(f"{name} ({lines} lines) is being split elsewhere")
    assert lines <= MAX_LINES, f"{name} has {lines} lines; split it (one idea per file)"


# The files a reader opens following examples/char_rnn.py --no-fused from its
# text to Adam's update (tools/reading_path.py prints them with the functions
# that run; README "Reading path"). A change that adds a file to the path
# must add it here, and say why, rather than lengthen the walk unnoticed.
READING_PATH = {
    "text": ["charlm/vocab.py", "charlm/data.py"],
    "engine": ["tensor.py", "autograd.py", "backend.py", "ops/shape.py", "ops/linalg.py",
               "ops/arithmetic.py", "ops/unary.py", "ops/dropout.py", "ops/softmax.py"],
    "model": ["nn/module.py", "charlm/model.py", "nn/layers.py", "nn/recurrent.py",
              "nn/cell_base.py", "nn/cells.py", "nn/checks.py", "nn/state.py"],
    "update": ["nn/utils.py", "optim.py"],
}


def reading_path_tool():
    """tools/reading_path.py as a module (tools/ is not a package)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        "reading_path", PACKAGE.parent / "tools" / "reading_path.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_reading_path_of_char_rnn_is_the_documented_one():
    expected = sorted(f for files in READING_PATH.values() for f in files)
    assert sorted(reading_path_tool().char_rnn_step(fused=False)) == expected
    readme = (PACKAGE.parent / "README.md").read_text(encoding="utf-8")
    assert f"{len(expected)} package files" in readme


def test_the_reading_path_sees_a_new_file():
    """The recorder can fail: a function in another package file is reported."""
    import numpy as np
    from tinyrnn import tasks
    path = reading_path_tool().record(lambda: tasks.adding_problem(2, 3, np.random.default_rng(0)))
    assert "tasks.py" in path and "adding_problem" in path["tasks.py"]


# ---- the top level shows the parts -------------------------------------------------------
TOP_LEVEL = {"__init__.py", "__main__.py", "backend.py", "tensor.py", "autograd.py", "ops",
             "nn", "optim.py", "check", "viz", "tasks.py", "utils", "charlm", "course"}
"""The engine (backend, tensor, autograd), ops/, nn/, optim, gradient checking,
looking inside, the papers' tasks, helpers, and the two applications: the char-LM
and the course kit (``course``: releasing and grading exercises is teaching
built on the gradient checker, neither library nor language model, so it is a
part of its own). A new top-level entry must be added here, on purpose."""


def test_the_top_level_holds_the_parts_and_nothing_else():
    entries = {p.name for p in PACKAGE.iterdir()
               if p.name != "__pycache__" and (p.suffix == ".py" or p.is_dir())}
    assert entries == TOP_LEVEL


def test_no_import_system_tricks():
    """No module-level ``__getattr__`` (lazy attributes) and no module whose
    class is replaced: a reader follows every import by reading it."""
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        assert "__getattr__" not in names, f"{path.relative_to(PACKAGE)} defines __getattr__"
        assert "sys.modules[" not in path.read_text(encoding="utf-8"), path


def test_each_op_is_named_in_its_family_alone():
    """An op's function is listed once, in its family's ``__all__``; ``tinyrnn.ops``
    and ``tinyrnn`` take the lists from there."""
    import importlib
    import tinyrnn
    from tinyrnn import ops
    families = [importlib.import_module(f"tinyrnn.ops.{name}") for name in
                ("arithmetic", "unary", "reduce", "linalg", "shape", "softmax",
                 "normalization", "dropout")]
    listed = [name for family in families for name in family.__all__]
    assert len(listed) == len(set(listed)) and ops.__all__ == listed
    for name in listed:
        assert getattr(tinyrnn, name) is getattr(ops, name)
    for init in (PACKAGE / "__init__.py", PACKAGE / "ops" / "__init__.py"):
        for node in ast.parse(init.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ImportFrom) and node.module and node.module != "backend":
                assert not set(a.name for a in node.names) & set(listed), \
                    f"{init.relative_to(PACKAGE)} names ops again: {node.module}"
