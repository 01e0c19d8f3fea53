"""Numerical gradient checking: is a hand-written backward right?

The idea (CS231n, Chainer, torch.autograd.gradcheck): nudge each input
element by +-eps, see how a scalar changes, and compare that slope -- the
*central difference* (f(x + eps) - f(x - eps)) / (2 eps), accurate to O(eps^2)
-- with the gradient backward computed.

Four rules make the check trustworthy:

* **float64.** With eps = 1e-6 a float32 difference is mostly rounding noise,
  so inputs are cast to float64 copies first (your tensors are untouched).
* **A random upstream gradient.** We check L = sum(f(x) * u) with u random,
  never all ones: with ones, mistakes that are symmetric (a transposed
  matrix, swapped gates) can cancel and pass.
* **Non-finite is wrong.** A NaN or inf gradient, analytic or numeric, fails
  the check (a comparison with NaN is false, so a plain ``error > tol`` test
  would let it through).
* **Fixed seeds**, so a failure reproduces.

Use :func:`gradcheck` for tinyrnn functions and :func:`gradcheck_module` for a
layer's parameters; :mod:`.locate` finds *which* op of a failing graph is
wrong, and :mod:`.numeric` holds the CS231n-style helpers for plain NumPy
functions.
"""
from __future__ import annotations

import inspect
from typing import Callable, Sequence

import numpy as np

from .compare import check_leaves
from ..backend import dtype_name
from ..tensor import Tensor
from .numeric import ATOL, DEFAULT_DIRECTIONS, RTOL, float64_copy, float64_parameters

__all__ = ["gradcheck", "gradcheck_module"]


def gradcheck(fn: Callable, inputs: Sequence, eps: float = 1e-6, atol: float = ATOL,
              rtol: float = RTOL, seed: int = 0, fast: bool = False,
              raise_exception: bool = True, directions: int = DEFAULT_DIRECTIONS,
              sparse: int = 0) -> bool:
    """Compare backward's gradients of ``fn`` with central differences.

    Parameters
    ----------
    fn : callable taking the ``inputs`` and returning a Tensor or a (nested)
         tuple / list of Tensors, such as a layer's ``(output, states)``.
         It must be deterministic (reseed inside it if it draws random numbers).
    inputs : Tensors (those with ``requires_grad=True`` are checked) and constants.
         Floating tensors are **cast to float64 copies** for the check.
    eps, atol, rtol : step and tolerances of the pass criterion, documented
         once in :mod:`tinyrnn.check.numeric` (|analytic - numeric| <= atol +
         rounding noise + rtol |numeric|, rtol 1e-5). A NaN or inf, analytic or
         numeric, always fails ("non-finite").
    seed : seeds the random upstream gradient u (the checked scalar is
         sum(fn(x) * u)) and fast mode's directions.
    fast : instead of every element, compare directional derivatives of each
         input, <grad, v> against (L(x + eps v) - L(x - eps v)) / (2 eps) with
         random directions v -- 2 * ``directions`` forward passes per input,
         for long BPTT graphs.
    directions : random directions per input in fast mode (default 8): the
         odd ones plain Gaussian, the even ones *balanced* (scaled by
         1 / |analytic gradient| elementwise, so small entries -- early steps
         of a long recurrence -- weigh as much as large ones). One direction
         is too weak: the error of a wrong gradient can be nearly orthogonal
         to it, or swamped by the large entries. 8 cost 16 forwards per input,
         far fewer than the element-wise check for any real layer.
    raise_exception : when False, return False instead of raising.
    sparse : when > 0, check only this many random elements of each input
         (CS231n's ``grad_check_sparse``), for models too big for the full
         check; every failing element is listed with both values.

    Returns True, or raises :class:`GradcheckError` with one line per failing
    input naming it, the index, the analytic and the numeric value, and what
    went wrong where it can tell (a forward that modified an input in place,
    a backward that returned None, float32 precision, a kink). Refuses, with a
    TypeError or ValueError, what it cannot check: outputs that are not
    Tensors, outputs that depend on no checked input, checked inputs that
    cannot be float64.
    """
    inputs = checkable_inputs(inputs)
    checked = [i for i, x in enumerate(inputs) if getattr(x, "requires_grad", False)]
    watch = [(f"input {i}", x) for i, x in enumerate(inputs)
             if i not in checked and isinstance(x, (np.ndarray, Tensor))]
    return check_leaves(lambda: fn(*inputs), [inputs[i] for i in checked],
                        [f"input {i}" for i in checked], raise_exception, eps=eps, atol=atol,
                        rtol=rtol, seed=seed, fast=fast, directions=directions, sparse=sparse,
                        watch=watch)


def checkable_inputs(inputs: Sequence, who: str = "gradcheck") -> list:
    """float64 copies of ``inputs`` (see :func:`float64_copy`); TypeError for a
    checked input that cannot be float64, ValueError when nothing is checked."""
    if isinstance(inputs, (Tensor, np.ndarray)) or not isinstance(inputs, (list, tuple)):
        raise TypeError(f"{who}: inputs must be a list or tuple of the function's arguments; "
                        f"got a {type(inputs).__name__} (write [x], not x)")
    copies = [float64_copy(x) for x in inputs]
    for i, x in enumerate(copies):
        if isinstance(x, Tensor) and x.requires_grad and dtype_name(x.data.dtype) != "float64":
            raise TypeError(f"{who}: input {i} is {dtype_name(x.data.dtype)} on backend {x.backend.name!r} and "
                            "cannot be checked in float64; give a floating tensor on a "
                            "backend with float64")
    if not any(getattr(x, "requires_grad", False) for x in copies):
        kinds = ", ".join(type(x).__name__ for x in inputs)
        raise ValueError(f"{who}: no input has requires_grad=True, nothing to check (got "
                         f"{kinds or 'no inputs'}); wrap what you want checked as "
                         "tr.tensor(x, requires_grad=True)")
    return copies


def gradcheck_module(module, fn: Callable, inputs: Sequence, **options) -> bool:
    """:func:`gradcheck` of ``fn(*inputs)`` with respect to the inputs **and every
    parameter of** ``module`` (a :class:`tinyrnn.nn.Module` that ``fn`` uses).

    The check perturbs the very Parameter objects the module holds: each
    distinct parameter (by identity -- a layer and its cell may both hold it)
    has its ``data`` swapped for a float64 copy for the duration of the check,
    so every holder computes with the perturbed values (:func:`float64_parameters`).
    Data, dtype and ``grad`` are put back afterwards, also when the check raises.
    Inputs are numbered first, then the trainable parameters in
    ``named_parameters`` order; messages name both ("input 2 = cell.weight_ih").
    ``options`` go to :func:`gradcheck` (eps, atol, rtol, seed, fast,
    directions, raise_exception). Frozen parameters (requires_grad=False)
    are cast too but not checked.
    """
    bound = inspect.signature(gradcheck).bind(fn, inputs, **options)   # rejects unknown options
    bound.apply_defaults()
    settings = {k: v for k, v in bound.arguments.items() if k not in ("fn", "inputs")}
    inputs = [float64_copy(x) for x in inputs]
    checked = [i for i, x in enumerate(inputs) if getattr(x, "requires_grad", False)]
    leaves = [inputs[i] for i in checked]
    labels = [f"input {i}" for i in checked]
    with float64_parameters(module) as named:
        for k, (name, p) in enumerate(named):
            if p.requires_grad:
                leaves.append(p)
                labels.append(f"input {len(inputs) + k} = {name}")
        return check_leaves(lambda: fn(*inputs), leaves, labels, **settings)

