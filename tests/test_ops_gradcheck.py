"""Every op's backward, proven numerically on every backend.

The cases live in ``tests/opcases*.py`` (see ``tests/opcase.py`` for how to
add some). ``test_every_function_has_a_case`` makes the coverage unable to
rot: a new ``Function`` subclass anywhere in tinyrnn fails the suite until
it has a case, and ``test_each_differentiable_input_is_frozen_somewhere``
fails until an op with k >= 2 differentiable inputs has, for each of them, a
case where that input alone is constant.
"""
from __future__ import annotations

import importlib
import pkgutil
from collections import defaultdict

import pytest

import tinyrnn as tr
from tinyrnn.autograd import Function
from tinyrnn.check import GradcheckError
from opcase import OpCase, load_cases, randn, recorded_nodes

CASES = load_cases()       # tests/opcases*.py, each case also with each input frozen


def test_case_names_are_unique():
    names = [c.name for c in CASES]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    assert not duplicates, f"OpCase names used twice: {duplicates}"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_gradcheck(case, backend):
    tr.manual_seed(0)
    inputs = case.make_inputs()
    assert tr.gradcheck(case.fn, inputs, **case.check)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_gradcheck_fast_mode(case, backend):
    """The directional mode (one <v, J^T u> per input) agrees too."""
    tr.manual_seed(0)
    inputs = case.make_inputs()
    assert tr.gradcheck(case.fn, inputs, **{**case.check, "fast": True})


# ---- coverage -----------------------------------------------------------------
def _import_all_of_tinyrnn() -> list[str]:
    """Import every tinyrnn submodule (so ops defined anywhere register);
    returns the modules that failed to import, with their errors."""
    failures = []
    for info in pkgutil.walk_packages(tr.__path__, prefix="tinyrnn.",
                                      onerror=lambda name: failures.append(name)):
        if info.name.rsplit(".", 1)[-1] == "__main__":
            continue                   # running it would start the command line
        try:
            importlib.import_module(info.name)
        except Exception as err:        # noqa: BLE001 -- reported below
            failures.append(f"{info.name}: {type(err).__name__}: {err}")
    return failures


def _tinyrnn_functions() -> list[type]:
    """Function subclasses defined in tinyrnn itself (tests define their own
    deliberately wrong ones, which register too) that implement a backward."""
    return [cls for cls in Function.registry
            if cls.__module__.split(".")[0] == "tinyrnn"
            and cls.backward is not Function.backward]


def missing_cases(cases) -> list[str]:
    """Names of tinyrnn's Function subclasses that no case in ``cases`` covers."""
    covered = {op for case in cases for op in case.ops}
    return sorted(f"{cls.__module__}.{cls.__qualname__}"
                  for cls in _tinyrnn_functions() if cls not in covered)


def test_every_function_has_a_case():
    failures = _import_all_of_tinyrnn()
    assert not failures, "could not import, so could not check coverage of: " + \
        "; ".join(failures)
    missing = missing_cases(CASES)
    assert not missing, ("Function subclasses with no gradient-check case (add an OpCase "
                         "in tests/opcases*.py, see tests/opcase.py): " + ", ".join(missing))


def _floating(x) -> bool:
    return isinstance(x, tr.Tensor) and x.backend.is_floating(x.data)


def inputs_never_frozen_alone(cases) -> list[str]:
    """``"Op input i"`` for every input position of a tinyrnn op that receives a
    floating tensor in some case, of an op with two or more such positions,
    where no case runs the op with that input the only constant one.

    Found by recording each case's graph (NumPy, seed 0): a node's
    ``needs_input_grad`` says which of its floating inputs were constant.
    """
    differentiable, frozen_alone = defaultdict(set), defaultdict(set)
    for case in cases:
        tr.manual_seed(0)
        for node in recorded_nodes(case.fn(*case.make_inputs())):
            floats = [i for i, x in enumerate(node.inputs) if _floating(x)]
            differentiable[node.fn] |= set(floats)
            frozen = [i for i in floats if not node.needs_input_grad[i]]
            if len(frozen) == 1:
                frozen_alone[node.fn].add(frozen[0])
    return sorted(f"{op.__qualname__} input {i}" for op, positions in differentiable.items()
                  if len(positions) >= 2 and op.__module__.startswith("tinyrnn")
                  for i in positions - frozen_alone[op])


def test_each_differentiable_input_is_frozen_somewhere():
    """A backward that computes db only when a needs a gradient, or returns two
    gradients in swapped slots, passes every case where all inputs train."""
    missing = inputs_never_frozen_alone(CASES)
    assert not missing, ("no case makes these op inputs the only constant one (write the "
                         "case with every input trainable; load_cases adds the frozen "
                         "variants): " + ", ".join(missing))


def test_frozen_coverage_check_names_a_gap():
    """Without the frozen variants, a matmul with both sides trainable leaves
    both inputs unchecked as constants; with them, none."""
    from tinyrnn.ops.linalg import MatMul
    case = OpCase(MatMul, "matmul", lambda a, b: a @ b, lambda: [randn(2, 3), randn(3, 4)])
    assert inputs_never_frozen_alone([case]) == ["MatMul input 0", "MatMul input 1"]
    from opcase import with_each_input_frozen
    assert inputs_never_frozen_alone(with_each_input_frozen([case])) == []


def test_core_ops_are_all_known():
    """The list the issue asks for is really there (guards against the registry
    or the import walk silently finding nothing)."""
    names = {cls.__name__ for cls in _tinyrnn_functions()}
    expected = set("""Add Sub Mul Div Neg Pow Maximum Minimum Where Exp Log Sqrt Tanh
        Sigmoid Relu Clip Sum Mean Max Min LogSumExp MatMul Reshape Permute BroadcastTo
        GetItem Take Concat Stack Split Softmax LogSoftmax CrossEntropy LayerNorm
        Dropout""".split())
    assert expected <= names, f"missing from Function.registry: {sorted(expected - names)}"


def test_a_case_without_requires_grad_is_refused(backend):
    with pytest.raises(ValueError, match="no input has requires_grad"):
        tr.gradcheck(lambda x: x * 2, [tr.ones(3, dtype="float64")])


def test_gradcheck_error_is_an_assertion_error():
    assert issubclass(GradcheckError, AssertionError)
