"""The pass criterion every check in tinyrnn uses, and the CS231n-style helpers
for plain NumPy functions.

The pass criterion
------------------
An analytic gradient element ``a`` agrees with its central difference ``n``
when both are finite and

    |a - n| <= ATOL + noise + RTOL * |n|,      RTOL = 1e-5, ATOL = 1e-8.

``noise`` is the rounding floor of the central difference itself: the checked
scalar L = sum(f(x) * u) is a sum of terms of total size S = sum |f(x) * u|,
each rounded to about 2**-52 of its size, so (L(x + eps) - L(x - eps)) / (2 eps)
carries an error of about ``NOISE_ULPS * 2**-52 * S / eps`` that no backward can
remove (:func:`rounding_noise`). Everything above that floor must agree to 1e-5
relative: a backward off by 0.05% fails, and a right one in float64 passes
(``benchmarks/bench_tolerance.py`` runs every case of the op registry with
several seeds). The same function :func:`agree` decides for gradcheck (element
by element and along random directions), gradcheck_module, locate, the
course's exercises and :func:`report`, the lectures' verdict.
"""
from __future__ import annotations

import contextlib
import warnings
from typing import Callable, Sequence

import numpy as np

DEFAULT_DIRECTIONS = 8
"""Random directions per input in fast mode (see :func:`gradcheck`)."""

RTOL = 1e-5
"""Relative tolerance of the pass criterion (see the module's docstring)."""
ATOL = 1e-8
"""Absolute tolerance of the pass criterion, for gradients that are (nearly) zero."""
NOISE_ULPS = 32
"""How many float64 rounding units of the objective's terms the noise floor allows."""


class GradcheckError(AssertionError):
    """An analytic gradient disagrees with the numerical one."""


def rounding_noise(term_size: float, eps: float) -> float:
    """The rounding floor of a central difference with step ``eps`` of a sum of
    terms of total absolute size ``term_size``: NOISE_ULPS * 2**-52 * term_size / eps."""
    return NOISE_ULPS * float(np.finfo(np.float64).eps) * float(term_size) / eps


def agree(analytic, numeric, noise: float = 0.0, rtol: float = RTOL,
          atol: float = ATOL) -> np.ndarray:
    """The pass criterion, element by element (see the module's docstring).

    Returns a boolean array of the inputs' broadcast shape: True where both
    values are finite and |analytic - numeric| <= atol + noise + rtol * |numeric|.
    A NaN or inf never agrees.
    """
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numeric, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.isfinite(a) & np.isfinite(n) & (np.abs(a - n) <= atol + noise + rtol * np.abs(n))


def rel_error(x, y) -> float:
    """max |x - y| / max(1e-8, |x| + |y|): a number to print next to a verdict.

    Returns ``inf`` when either argument holds a NaN or an infinity, so that
    ``rel_error(a, b) < tol`` is False and ``rel_error(a, b) > tol`` is True:
    a non-finite gradient never looks right. The verdict itself comes from
    :func:`agree`.
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        return float("inf")
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def _warn_if_low_precision(x, who: str) -> None:
    if np.asarray(x).dtype != np.float64:
        warnings.warn(f"{who}: x is {np.asarray(x).dtype}, not float64: a central difference "
                      "in single precision is mostly rounding noise (relative errors near 1e-2 "
                      "even for a right gradient); pass x.astype(np.float64)", stacklevel=3)


def eval_numerical_gradient(f: Callable, x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Numerical gradient of a *scalar* function f at x (NumPy array, changed
    in place during the check and restored). Warns when x is not float64."""
    _warn_if_low_precision(x, "eval_numerical_gradient")
    grad = np.zeros_like(x, dtype=np.float64)
    for ix in np.ndindex(*x.shape):
        old = x[ix]
        x[ix] = old + h
        plus = float(f(x))
        x[ix] = old - h
        minus = float(f(x))
        x[ix] = old
        grad[ix] = (plus - minus) / (2 * h)
    return grad


def eval_numerical_gradient_array(f: Callable, x: np.ndarray, df: np.ndarray,
                                  h: float = 1e-5) -> np.ndarray:
    """Numerical gradient of sum(f(x) * df) for an array-valued f (CS231n style).

    ``df`` is the upstream gradient dL/df(x); the result has x's shape. A NaN
    or inf in f's values shows up as NaN/inf here; :func:`rel_error` then
    returns inf. Warns when x is not float64 (the numbers would be noise).
    """
    _warn_if_low_precision(x, "eval_numerical_gradient_array")
    grad = np.zeros_like(x, dtype=np.float64)
    for ix in np.ndindex(*x.shape):
        old = x[ix]
        x[ix] = old + h
        plus = np.array(f(x), dtype=np.float64, copy=True)
        x[ix] = old - h
        minus = np.array(f(x), dtype=np.float64, copy=True)
        x[ix] = old
        grad[ix] = np.sum((plus - minus) * df) / (2 * h)
    return grad


def report(name: str, names: Sequence[str], yours, numerics) -> None:
    """Print one line per gradient and a verdict; raise AssertionError on any mismatch.

    The lectures' exercise check: ``yours`` are the arrays a backward
    returned (a tuple, or one array), ``numerics`` the numerical gradients in
    the same order, ``names`` what each is called. Each must have the right
    shape, be finite and pass :func:`agree`. Prints ``PASSED <name>: ...`` or
    raises ``AssertionError("FAILED <name>: wrong ...")``.
    """
    yours = tuple(yours) if isinstance(yours, (tuple, list)) else (yours,)
    if len(yours) != len(names):
        raise AssertionError(f"FAILED {name}: returned {len(yours)} arrays; expected "
                             f"{len(names)}: {', '.join(names)}")
    failures = []
    for key, mine, numeric in zip(names, yours, numerics):
        mine = None if mine is None else np.asarray(mine, dtype=np.float64)
        if mine is None or mine.shape != numeric.shape:
            got = None if mine is None else mine.shape
            print(f"  ✘ {key:<8} has shape {got}, expected {numeric.shape}")
            failures.append(f"{key} (shape {got}, expected {numeric.shape})")
            continue
        if not np.all(np.isfinite(mine)):
            print(f"  ✘ {key:<8} contains nan or inf")
            failures.append(f"{key} (contains nan or inf)")
            continue
        ok = bool(np.all(agree(mine, numeric)))
        err = rel_error(mine, numeric)
        print(f"  {'✔' if ok else '✘'} {key:<8} relative error {err:.2e}")
        if not ok:
            failures.append(f"{key} (relative error {err:.1e})")
    if failures:
        raise AssertionError(f"FAILED {name}: wrong " + ", ".join(failures)
                             + ". Compare your formulas with the equations above.")
    print(f"PASSED {name}: every gradient agrees with the numerical one "
          f"(|yours - numeric| <= {ATOL:g} + {RTOL:g} |numeric|).")


def not_implemented(name: str) -> None:
    """The lectures' verdict for an exercise whose stub is untouched."""
    print(f"NOT IMPLEMENTED YET {name}: replace the `raise NotImplementedError` in the exercise "
          "cell with your code, run it, then run this check again.")


def float64_copy(x):
    """A float64 copy of a floating Tensor (same backend and requires_grad); other inputs as is."""
    from ..tensor import Tensor
    if isinstance(x, Tensor) and x.backend.is_floating(x.data):
        return Tensor(x.numpy().astype(np.float64), backend=x.backend,
                      requires_grad=x.requires_grad)
    return x


@contextlib.contextmanager
def float64_parameters(module):
    """Within the block every distinct parameter of ``module`` holds a float64
    copy of its data -- in place, on the Parameter object itself, so a layer
    and its cell holding the same one both see it. Data and ``grad`` are put
    back afterwards, also on an exception. Yields ``module.named_parameters()``
    as a list (empty for ``module=None``).
    """
    named = [] if module is None else list(module.named_parameters())
    saved = [(p.data, p.grad) for _, p in named]
    try:
        for _, p in named:
            p.data = p.backend.asarray(p.numpy().astype(np.float64))
            p.grad = None
        yield named
    finally:
        for (_, p), (data, grad) in zip(named, saved):
            p.data, p.grad = data, grad
