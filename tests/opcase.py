"""``OpCase``: one gradient-check case, and helpers to make its inputs.

Every ``Function`` subclass in tinyrnn needs at least one case, or
``tests/test_ops_gradcheck.py::test_every_function_has_a_case`` fails.

How to add cases for your op
----------------------------
Create ``tests/opcases_<topic>.py`` (e.g. ``opcases_fused.py``) with a
module-level list ``CASES``; ``test_ops_gradcheck.py`` finds every
``tests/opcases*.py`` by itself and runs each case through
``tinyrnn.gradcheck`` on every backend (numpy, strict, cupy when present)::

    import tinyrnn as tr
    from opcase import OpCase, randn, positive, ints
    from tinyrnn.ops.mine import MyOp

    CASES = [
        OpCase(MyOp, "myop_broadcast", lambda a, b: tr.my_op(a, b),
               lambda: [randn(3, 1), randn(1, 4)]),
    ]

Rules that keep a case honest:

* ``make_inputs`` is called *inside* the test, after the backend fixture has
  made the backend under test the default and seeded tinyrnn (seed 0). Use
  the helpers below: they draw from tinyrnn's seeded host generator and
  upload float64 tensors to the default backend.
* Keep inputs small (a dozen elements or so): the full check runs two
  forward passes per element, and the strict backend is slow.
* Stay away from kinks, where the central difference is not the derivative:
  ``away_from`` for relu / clip, ``grid`` for max / maximum (no ties),
  ``positive`` for log / sqrt / a tensor exponent.
* A ``fn`` that draws random numbers (dropout) must reseed inside itself
  (``tr.manual_seed(k)``) so every evaluation sees the same mask.
* ``op`` may be one class or a tuple of the classes the case exercises.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

import tinyrnn as tr
from tinyrnn.backend import host_rng

__all__ = ["OpCase", "randn", "positive", "away_from", "grid", "const", "ints", "mask"]


@dataclass(frozen=True)
class OpCase:
    """A named gradient check of ``fn(*make_inputs())``.

    Attributes
    ----------
    op : the Function subclass (or a tuple of them) this case covers.
    name : a unique, readable test id, e.g. ``"add_broadcast_col_row"``.
    fn : takes the inputs, returns a Tensor or a tuple of Tensors.
    make_inputs : returns the list of inputs (tensors and constants).
    check : extra keyword arguments for ``tinyrnn.gradcheck`` (atol, eps ...);
        ``{"fast": True}`` for a case too big for the element-wise check (every
        case is also run in fast mode anyway).
    """

    op: type | tuple
    name: str
    fn: Callable
    make_inputs: Callable[[], list]
    check: dict = field(default_factory=dict)

    @property
    def ops(self) -> tuple:
        return self.op if isinstance(self.op, tuple) else (self.op,)

    def __repr__(self) -> str:          # pytest shows this on failure
        return f"OpCase({self.name})"


def _upload(values: np.ndarray, requires_grad: bool = True) -> tr.Tensor:
    return tr.tensor(np.asarray(values, dtype=np.float64), dtype="float64",
                     requires_grad=requires_grad)


def randn(*shape: int, scale: float = 1.0, shift: float = 0.0,
          requires_grad: bool = True) -> tr.Tensor:
    """``shift + scale * N(0, 1)`` samples as a float64 tensor on the default backend."""
    return _upload(shift + scale * host_rng().standard_normal(shape), requires_grad)


def positive(*shape: int, low: float = 0.5, high: float = 2.0,
             requires_grad: bool = True) -> tr.Tensor:
    """Uniform in [low, high): for log, sqrt, division and a tensor exponent's base."""
    return _upload(host_rng().uniform(low, high, shape), requires_grad)


def away_from(*shape: int, points=(0.0,), margin: float = 0.1,
              requires_grad: bool = True) -> tr.Tensor:
    """Normal samples pushed at least ``margin`` away from every kink in ``points``."""
    x = host_rng().standard_normal(shape)
    for p in points:
        d = x - p
        near = np.abs(d) < margin
        x = np.where(near, p + np.where(d >= 0, 1.0, -1.0) * (margin + np.abs(d)), x)
    for p in points:
        assert np.all(np.abs(x - p) >= margin * 0.99), "points too close together"
    return _upload(x, requires_grad)


def grid(*shape: int, offset: float = 0.0, step: float = 0.2,
         requires_grad: bool = True) -> tr.Tensor:
    """Distinct values ``offset + k * step`` in random order: no ties anywhere.

    Two tensors with offsets 0.0 and ``step / 2`` never tie with each other
    either (every difference is at least ``step / 2``), whatever broadcasting does.
    """
    n = int(np.prod(shape))
    k = host_rng().permutation(n) - n // 2
    return _upload((offset + step * k).reshape(shape), requires_grad)


def const(values, dtype: str = "float64") -> tr.Tensor:
    """A tensor that does not require grad (a constant input)."""
    return tr.tensor(np.asarray(values), dtype=dtype)


def ints(values) -> tr.Tensor:
    """An int64 index tensor on the default backend."""
    return tr.tensor(np.asarray(values, dtype=np.int64))


def mask(values) -> tr.Tensor:
    """A boolean tensor on the default backend."""
    return tr.tensor(np.asarray(values, dtype=bool))
