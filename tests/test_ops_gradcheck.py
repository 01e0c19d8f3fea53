"""Every op's backward, proven numerically on every backend.

The cases live in ``tests/opcases*.py`` (see ``tests/opcase.py`` for how to
add some). ``test_every_function_has_a_case`` makes the coverage unable to
rot: a new ``Function`` subclass anywhere in tinyrnn fails the suite until
it has a case.
"""
from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import pytest

import tinyrnn as tr
from tinyrnn.autograd import Function
from tinyrnn.gradcheck import GradcheckError

HERE = Path(__file__).parent


def _load_cases() -> list:
    cases = []
    for path in sorted(HERE.glob("opcases*.py")):
        module = importlib.import_module(path.stem)
        cases += getattr(module, "CASES")
    return cases


CASES = _load_cases()


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
