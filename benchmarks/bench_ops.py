"""Count the backend operations one training step issues, per time step and layer.

    python benchmarks/bench_ops.py                  # RNN, LSTM, GRU fused layers
    python benchmarks/bench_ops.py --hidden 8 --batch 2

On a GPU every array operation is a kernel launch (~5-20 us each with CuPy),
so below a few hundred thousand elements the cost of a time step is the
number of operations it issues, not its arithmetic. The count is exact and
does not depend on the machine's load, unlike a timing.

How it counts. One training step (fused layer -> linear -> cross-entropy ->
backward) runs on the strict backend (``array_api_strict``, device1) with a
counting wrapper around its namespace and its array class:

* an **operation** is a call of a namespace function that computes
  (``matmul``, ``tanh``, ``sum`` ...; not views such as ``reshape`` or
  ``matrix_transpose``, nor ``empty``), an arithmetic operator (``a += b``),
  or a copy into a slice (``a[t] = b``). The strict backend's emulation of
  ``out=`` (compute, then copy) is one operation, as it is on CuPy;
* a **launch** counts a call of a pointwise function that the CuPy backend
  fuses into one kernel (``Backend.pointwise``) as one, whatever it does
  inside, and every other operation as one.

The step runs at two sequence lengths, T and 2T, and the difference divided
by T is what each extra time step costs: the per-sequence work (input
projection, weight gradients, loss) cancels out. Forward is everything up to
the loss, backward is ``loss.backward()``.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

import tinyrnn as tr  # noqa: E402
from tinyrnn import nn  # noqa: E402
from tinyrnn.backend import get_backend  # noqa: E402

NOT_OPS = {"reshape", "matrix_transpose", "permute_dims", "expand_dims", "squeeze",
           "empty", "empty_like", "isdtype", "finfo", "iinfo", "result_type", "broadcast_to",
           "can_cast", "Device"}
OPERATORS = ("__add__", "__sub__", "__mul__", "__truediv__", "__matmul__", "__neg__",
             "__pow__", "__radd__", "__rsub__", "__rmul__", "__rtruediv__", "__iadd__",
             "__isub__", "__imul__", "__itruediv__", "__ipow__", "__gt__", "__lt__",
             "__ge__", "__le__", "__eq__", "__setitem__")
LAYERS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class Counter:
    """Operations and launches so far; ``fused`` > 0 inside a fused pointwise call,
    ``emulating`` > 0 inside the strict backend's out= emulation."""

    def __init__(self):
        self.ops = self.launches = self.copies = self.fused = self.emulating = 0

    def op(self, copy=False):
        self.ops += 1
        self.copies += copy
        if not self.fused:
            self.launches += 1

    def snapshot(self):
        return self.ops, self.launches, self.copies


class CountingNamespace:
    """``xp`` with every computing function counted."""

    def __init__(self, xp, counter):
        self._xp, self._counter = xp, counter

    def __getattr__(self, name):
        attr = getattr(self._xp, name)
        if not callable(attr) or name in NOT_OPS or isinstance(attr, type):
            return attr
        counter = self._counter

        def counted(*args, **kwargs):
            counter.op()
            return attr(*args, **kwargs)
        return counted


@contextlib.contextmanager
def counting(backend, counter):
    """Count on ``backend`` (the strict one) until the block ends."""
    array_type = type(backend.zeros((1,)))
    saved = {name: array_type.__dict__[name] for name in OPERATORS if name in array_type.__dict__}

    def wrap(name, method):
        def counted(self, *args):
            if name != "__setitem__":
                counter.op()
            elif not counter.emulating:
                counter.op(copy=True)
            return method(self, *args)
        return counted

    original_pointwise, original_xp = backend.pointwise, backend.xp

    def into(out, fn, *args, **kwargs):
        counter.emulating += 1                 # the copy emulates out=: not an operation
        try:
            result = fn(*args, **kwargs)
            out[...] = result
        finally:
            counter.emulating -= 1
        return out

    def pointwise(fn):
        inner = original_pointwise(fn)

        def launch(*args):
            counter.launches += 1
            counter.fused += 1
            try:
                return inner(*args)
            finally:
                counter.fused -= 1
        return launch

    for name, method in saved.items():
        setattr(array_type, name, wrap(name, method))
    backend.xp = CountingNamespace(original_xp, counter)
    backend.into, backend.pointwise = into, pointwise
    backend.clear_pointwise_cache()
    try:
        yield counter
    finally:
        for name, method in saved.items():
            setattr(array_type, name, method)
        backend.xp = original_xp
        del backend.into, backend.pointwise    # back to the class's methods
        backend.clear_pointwise_cache()


def count_step(cell: str, T: int, B: int, H: int, V: int) -> dict:
    """(ops, launches) of one training step's forward and backward at length T."""
    backend = get_backend("strict")
    tr.manual_seed(0)
    layer = LAYERS[cell](V, H, 1, fused=True, backend=backend)
    head = nn.Linear(H, V, backend=backend)
    ids = np.random.default_rng(0).integers(0, V, size=(T + 1, B))
    x = tr.tensor(np.eye(V, dtype="float32")[ids[:-1]], backend=backend)
    y = tr.tensor(ids[1:], backend=backend)
    counter = Counter()
    with counting(backend, counter):
        out, _ = layer(x)
        loss = tr.cross_entropy(head(out), y)
        forward = counter.snapshot()
        loss.backward()
        total = counter.snapshot()
    backward = tuple(t - f for t, f in zip(total, forward))
    return {"forward": forward, "backward": backward}


def per_step(cell: str, T: int, B: int, H: int, V: int) -> dict:
    """(operations, launches, copies) per time step: (count at 2T - count at T) / T."""
    short, long = count_step(cell, T, B, H, V), count_step(cell, 2 * T, B, H, V)
    result = {}
    for part in ("forward", "backward"):
        grown = [b - a for a, b in zip(short[part], long[part])]
        if any(g % T for g in grown):
            raise RuntimeError(f"{cell} {part}: the count does not grow linearly with T")
        result[part] = tuple(g // T for g in grown)
    return result


def report(cells=("rnn", "lstm", "gru"), T=4, B=3, H=5, V=7, target=6) -> list:
    """Print the table; return {cell: per_step(...)}."""
    print("backend operations per time step per layer, one training step on the strict "
          "device\n(launches: a fused pointwise call counted as one kernel, as on CuPy; "
          "copies: slice assignments, included in ops)")
    print(f"  {'layer':6s} {'ops fwd':>8s} {'bwd':>5s} {'total':>6s}   "
          f"{'launches fwd':>12s} {'bwd':>5s} {'total':>6s}   {'copies':>6s}")
    rows = {}
    for cell in cells:
        c = rows[cell] = per_step(cell, T, B, H, V)
        (of, lf, cf), (ob, lb, cb) = c["forward"], c["backward"]
        verdict = "meets" if lf + lb <= target else "MISSES"
        print(f"  {cell.upper():6s} {of:8d} {ob:5d} {of + ob:6d}   {lf:12d} {lb:5d} "
              f"{lf + lb:6d}   {cf + cb:6d}  ({verdict} target <= {target})")
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", default="rnn,lstm,gru")
    parser.add_argument("--steps", type=int, default=4, help="T of the shorter run")
    parser.add_argument("--batch", type=int, default=3)
    parser.add_argument("--hidden", type=int, default=5)
    args = parser.parse_args(argv)
    cells = args.cells.split(",")
    for cell in cells:
        if cell not in LAYERS:
            parser.error(f"--cells: unknown layer {cell!r}; choose from {', '.join(LAYERS)}")
    report(cells, args.steps, args.batch, args.hidden)


if __name__ == "__main__":
    main()
