"""Checking one exercise: the code that runs in the grader's subprocess.

``python -m tinyrnn.course.runner`` reads one JSON request on stdin -- a
nonce and an exercise (an op exercise's full source, or a lecture
exercise's setup cells, cell and check cell) -- checks it, and writes
``<nonce> {"passed": ..., "message": ...}`` to the stdout it was started
with. Whatever the student's code prints goes to the same stream but cannot
carry the nonce, which the grader reads before any of it runs.

The two checks are also plain functions, :func:`check_op` and
:func:`check_lecture`, which the tests call in-process.
"""
from __future__ import annotations

import contextlib
import json
import os
import sys
import types

import numpy as np

SEEDS = (0, 1)
"""Each op exercise is checked at the inputs of two seeds."""


class _NotImplementedYet(Exception):
    """The check of a lecture exercise found the stub untouched."""


def _defined_function(module) -> type:
    from ..autograd import Function
    found = [v for v in vars(module).values() if isinstance(v, type) and issubclass(v, Function)
             and v.__module__ == module.__name__]
    if len(found) != 1:
        raise RuntimeError(f"the exercise file must define one Function subclass; found "
                           f"{len(found)}")
    return found[0]


def _tensors(arrays, frozen=None) -> list:
    """Float arrays become float64 tensors that require grad (except ``frozen``);
    anything else (integer indices) a constant tensor."""
    import tinyrnn as tr
    out = []
    for k, a in enumerate(arrays):
        a = np.asarray(a)
        floating = np.issubdtype(a.dtype, np.floating)
        out.append(tr.tensor(a.astype(np.float64) if floating else a,
                             requires_grad=floating and k != frozen))
    return out


def check_op(source: str, name: str, filename: str = "<exercise>") -> tuple[bool, str]:
    """Check the backward of the op an exercise file defines, at the inputs of
    each seed in :data:`SEEDS`, with every input trainable and then with each
    float input frozen in turn. Returns (passed, message)."""
    import tinyrnn as tr
    from ..autograd import exact_grad_shapes
    module = types.ModuleType(f"exercise_{name}")
    module.__file__ = filename
    exec(compile(source, filename, "exec"), module.__dict__)
    op = _defined_function(module)
    options = getattr(module, "OPTIONS", {})
    exact = exact_grad_shapes if getattr(module, "EXACT_GRAD_SHAPES", False) else \
        contextlib.nullcontext
    for seed in SEEDS:
        arrays = module.make_inputs(np.random.default_rng([seed, 2022]))
        floats = [k for k, a in enumerate(arrays) if np.issubdtype(np.asarray(a).dtype, np.floating)]
        variants = [None] + (floats if len(floats) > 1 else [])
        for frozen in variants:
            inputs = _tensors(arrays, frozen)
            try:
                with exact():
                    out = op.apply(*inputs, **options)
                    out.backward(np.random.default_rng(seed).standard_normal(out.shape))
            except NotImplementedError:
                return False, "not implemented yet (the backward still raises NotImplementedError)"
            except Exception:           # noqa: BLE001 -- gradcheck reports it, in its words
                pass
            with exact():
                ok = tr.gradcheck(lambda *xs: op.apply(*xs, **options), inputs, seed=seed,
                                  raise_exception=False)
            if not ok:
                with exact():
                    try:
                        tr.gradcheck(lambda *xs: op.apply(*xs, **options), inputs, seed=seed)
                    except AssertionError as err:
                        which = "" if frozen is None else f", input {frozen} constant"
                        return False, f"{err} [inputs of seed {seed}{which}]"
    return True, f"every gradient agrees with the numerical one ({len(SEEDS)} sets of inputs)"


def _without_magics(source: str) -> str:
    """A cell's source without IPython's ``%magic`` and ``!shell`` lines."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                     for line in source.splitlines())


def check_lecture(setup: list, cell: str, check: str, name: str) -> tuple[bool, str]:
    """Run a lecture exercise's setup cells, the student's cell and the check cell
    in one namespace, with the check's ``report`` being :func:`tinyrnn.check.report`
    (the one pass criterion) whether a setup cell defined its own or the check
    imports it. Returns (passed, message)."""
    from ..check import report
    os.environ.setdefault("TINYRNN_QUICK", "1")
    os.environ.setdefault("MPLBACKEND", "Agg")
    namespace = {"__name__": f"lecture_{name}"}
    verdicts = []

    def graded_report(*args, **kwargs):
        kwargs.pop("tol", None)
        report(*args, **kwargs)
        verdicts.append(True)

    def not_implemented(*args):
        raise _NotImplementedYet()
    from .. import check as checker     # a cell that imports them from tinyrnn.check gets these
    checker.report, checker.not_implemented = graded_report, not_implemented
    for source in setup:
        exec(compile(_without_magics(source), f"<setup of {name}>", "exec"), namespace)
    namespace["report"], namespace["not_implemented"] = graded_report, not_implemented  # setup's own
    try:
        exec(compile(_without_magics(cell), f"<exercise {name}>", "exec"), namespace)
        exec(compile(_without_magics(check), f"<check of {name}>", "exec"), namespace)
    except _NotImplementedYet:
        return False, "not implemented yet (the cell still raises NotImplementedError)"
    except AssertionError as err:
        return False, str(err)
    if not verdicts:
        return False, "the check cell gave no verdict"
    return True, f"PASSED {name}: every gradient agrees with the numerical one"


def main() -> None:
    request = json.loads(sys.stdin.read())
    nonce = request.pop("nonce")
    channel = os.dup(1)                 # the grader's stdout, whatever the student does to sys.stdout
    try:
        if request["kind"] == "op":
            passed, message = check_op(request["source"], request["name"], request["filename"])
        else:
            passed, message = check_lecture(request["setup"], request["cell"], request["check"],
                                            request["name"])
    except BaseException as err:        # noqa: BLE001 -- the student's code may raise anything
        passed, message = False, f"{type(err).__name__}: {err}".strip()
    sys.stdout.flush()
    os.write(channel, f"\n{nonce} {json.dumps({'passed': passed, 'message': message})}\n".encode())
    os._exit(0)                         # no atexit handler of the student's may change the verdict


if __name__ == "__main__":
    main()
