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

Mixed trainability comes for free: :func:`load_cases` adds, for every case
with k >= 2 trainable inputs, k variants with one of them made constant
(``<name>_frozen<i>``), so a backward that computes or routes a gradient by
the wrong input's ``requires_grad`` fails somewhere. Write a case with every
input trainable and the variants follow.
"""
from __future__ import annotations

import dataclasses
import importlib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

import tinyrnn as tr
from tinyrnn.backend import host_rng

__all__ = ["OpCase", "randn", "positive", "away_from", "grid", "const", "ints", "mask",
           "load_cases", "with_each_input_frozen", "recorded_nodes"]


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
    vary_trainability : False keeps :func:`load_cases` from adding the variants
        with each input frozen (for a case that is itself such a variant).
    """

    op: type | tuple
    name: str
    fn: Callable
    make_inputs: Callable[[], list]
    check: dict = field(default_factory=dict)
    vary_trainability: bool = True

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


# ---- the registry: every case, and each with one input frozen ---------------------
def _trainable(x) -> bool:
    return isinstance(x, tr.Tensor) and x.requires_grad


def frozen_variant(case: OpCase, index: int) -> OpCase:
    """``case`` with input ``index`` made a constant (same values, no gradient)."""
    def make_inputs():
        inputs = list(case.make_inputs())
        inputs[index] = inputs[index].detach()
        return inputs
    return dataclasses.replace(case, name=f"{case.name}_frozen{index}",
                               make_inputs=make_inputs, vary_trainability=False)


def with_each_input_frozen(cases) -> list[OpCase]:
    """``cases``, each followed by its variants with one trainable input frozen
    (only for cases with at least two trainable inputs: freezing the only one
    would leave nothing to check)."""
    out = []
    for case in cases:
        out.append(case)
        if not case.vary_trainability:
            continue
        trainable = [i for i, x in enumerate(case.make_inputs()) if _trainable(x)]
        if len(trainable) >= 2:
            out += [frozen_variant(case, i) for i in trainable]
    return out


def load_cases(folder: Path = Path(__file__).parent,
               vary_trainability: bool = True) -> list[OpCase]:
    """Every case of ``folder/opcases*.py`` (the ``CASES`` lists), with the
    frozen variants of :func:`with_each_input_frozen` unless
    ``vary_trainability`` is False. Importable by path, so tools outside pytest
    (``tools/mutate.py``) run the same registry."""
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    cases = []
    for path in sorted(folder.glob("opcases*.py")):
        cases += importlib.import_module(path.stem).CASES
    return with_each_input_frozen(cases) if vary_trainability else cases


def recorded_nodes(outputs) -> list:
    """The graph nodes (``Context`` objects) that produced ``outputs`` (a Tensor
    or a tuple of them), each once, by a walk from the outputs to the leaves."""
    outputs = outputs if isinstance(outputs, (tuple, list)) else (outputs,)
    stack = [o._node for o in outputs if isinstance(o, tr.Tensor) and o._node is not None]
    seen, nodes = set(), []
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        nodes.append(node)
        stack += [x._node for x in node.inputs
                  if isinstance(x, tr.Tensor) and x._node is not None]
    return nodes
