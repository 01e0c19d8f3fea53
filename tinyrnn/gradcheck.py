"""Numerical gradient checking: is a hand-written backward right?

The idea (CS231n, Chainer, torch.autograd.gradcheck): nudge each input
element by +-eps, see how a scalar changes, and compare that slope -- the
*central difference* (f(x + eps) - f(x - eps)) / (2 eps), accurate to O(eps^2)
-- with the gradient backward computed.

Three rules make the check trustworthy:

* **float64.** With eps = 1e-6 a float32 difference is mostly rounding noise,
  so inputs are cast to float64 copies first (your tensors are untouched).
* **A random upstream gradient.** We check L = sum(f(x) * u) with u random,
  never all ones: with ones, mistakes that are symmetric (a transposed
  matrix, swapped gates) can cancel and pass.
* **Fixed seeds**, so a failure reproduces.

Use :func:`gradcheck` for tinyrnn functions and
:func:`eval_numerical_gradient_array` / :func:`rel_error` for coursework on
plain NumPy functions (the CS231n interface).
"""
from __future__ import annotations

import sys
import types
from typing import Callable, Sequence

import numpy as np

__all__ = ["gradcheck", "gradcheck_module", "GradcheckError", "rel_error", "eval_numerical_gradient",
           "eval_numerical_gradient_array", "numerical_gradients"]


class GradcheckError(AssertionError):
    """An analytic gradient disagrees with the numerical one."""


def rel_error(x, y) -> float:
    """max |x - y| / max(1e-8, |x| + |y|): about 1e-7 or less means "equal" in float64."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def eval_numerical_gradient(f: Callable, x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Numerical gradient of a *scalar* function f at x (NumPy array, changed
    in place during the check and restored)."""
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

    ``df`` is the upstream gradient dL/df(x); the result has x's shape.
    """
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


# ---- checking tinyrnn functions ----------------------------------------------
def _as_outputs(out) -> list:
    from .tensor import Tensor
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    return [o for o in outs if isinstance(o, Tensor)]


def _upstream(outputs, rng) -> list[np.ndarray]:
    return [rng.standard_normal(o.shape) for o in outputs]


def _objective(fn, inputs, upstream) -> float:
    """sum_k <fn(inputs)_k, upstream_k> on the host, without a graph."""
    from .autograd import no_grad
    with no_grad():
        outs = _as_outputs(fn(*inputs))
    return float(sum(np.sum(o.numpy().astype(np.float64) * u) for o, u in zip(outs, upstream)))


def _with_data(t, host: np.ndarray):
    from .tensor import Tensor
    return Tensor(np.asarray(host, dtype=np.float64), backend=t.backend,
                  requires_grad=t.requires_grad)


def numerical_gradients(fn, inputs, upstream, eps: float = 1e-6) -> list:
    """Central-difference dL/dx for every input that requires grad (None for the
    others), where L = sum_k <fn(inputs)_k, upstream_k>."""
    inputs = list(inputs)
    grads = []
    for i, x in enumerate(inputs):
        if not getattr(x, "requires_grad", False):
            grads.append(None)
            continue
        host = x.numpy().astype(np.float64)
        grad = np.zeros_like(host)
        for ix in np.ndindex(*host.shape):
            old = host[ix]
            values = []
            for step in (eps, -eps):
                host[ix] = old + step
                trial = inputs[:i] + [_with_data(x, host)] + inputs[i + 1:]
                values.append(_objective(fn, trial, upstream))
            host[ix] = old
            grad[ix] = (values[0] - values[1]) / (2 * eps)
        grads.append(grad)
    return grads


def _analytic(fn, inputs, upstream) -> list:
    from .tensor import Tensor
    for x in inputs:
        if isinstance(x, Tensor):
            x.grad = None
    outs = _as_outputs(fn(*inputs))
    loss = None
    for o, u in zip(outs, upstream):
        if not o.requires_grad:
            continue
        term = (o * Tensor(u, backend=o.backend, dtype=o.dtype)).sum()
        loss = term if loss is None else loss + term
    if loss is not None:
        loss.backward()
    return [None if not getattr(x, "requires_grad", False) else
            (np.zeros(x.shape) if x.grad is None else x.grad.numpy().astype(np.float64))
            for x in inputs]


def _to_float64(inputs) -> list:
    from .tensor import Tensor
    out = []
    for x in inputs:
        if isinstance(x, Tensor) and x.backend.is_floating(x.data):
            out.append(Tensor(x.numpy().astype(np.float64), backend=x.backend,
                              requires_grad=x.requires_grad))
        else:
            out.append(x)
    return out


_UPSTREAM_STREAM = 0x67726164      # "grad"


def gradcheck(fn: Callable, inputs: Sequence, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, seed: int = 0, fast: bool = False,
              raise_exception: bool = True) -> bool:
    """Compare backward's gradients of ``fn`` with central differences.

    Parameters
    ----------
    fn : callable taking the ``inputs`` and returning a Tensor or a tuple of Tensors.
         It must be deterministic (reseed inside it if it draws random numbers).
    inputs : Tensors (those with ``requires_grad=True`` are checked) and constants.
         Floating tensors are **cast to float64 copies** for the check.
    eps, atol, rtol : step and tolerances; element passes if
         |analytic - numeric| <= atol + rtol * |numeric| (torch's rule).
    seed : seeds the random upstream gradient u; the checked scalar is sum(fn(x) * u).
    fast : instead of every element, compare one directional derivative per
         input, <grad, v> against (L(x + eps v) - L(x - eps v)) / (2 eps) with a
         random direction v -- two forward passes per input, for long BPTT graphs.

    Returns True, or raises :class:`GradcheckError` naming the input, the
    index, the analytic and the numeric value (returns False instead when
    ``raise_exception=False``).
    """
    # A stream of its own: default_rng(seed) would draw a u equal to inputs that
    # tinyrnn.randn drew right after manual_seed(seed) -- and u = a makes a^T u
    # symmetric, hiding exactly the transposition mistakes u is there to catch.
    rng = np.random.default_rng([seed, _UPSTREAM_STREAM])
    inputs = _to_float64(inputs)
    if not any(getattr(x, "requires_grad", False) for x in inputs):
        raise ValueError("gradcheck: no input has requires_grad=True; nothing to check")
    from .autograd import no_grad
    with no_grad():
        upstream = _upstream(_as_outputs(fn(*inputs)), rng)
    analytic = _analytic(fn, inputs, upstream)
    if fast:
        return _check_directional(fn, inputs, upstream, analytic, rng, eps, atol, rtol,
                                  raise_exception)
    numeric = numerical_gradients(fn, inputs, upstream, eps)
    for i, (a, n) in enumerate(zip(analytic, numeric)):
        if a is None:
            continue
        bad = np.abs(a - n) > atol + rtol * np.abs(n)
        if bad.any():
            ix = np.unravel_index(np.argmax(np.abs(a - n) * bad), a.shape)
            message = (f"gradcheck: gradient of input {i} (shape {a.shape}) is wrong at "
                       f"index {tuple(int(k) for k in ix)}: analytic {a[ix]:.8g}, numeric "
                       f"{n[ix]:.8g} ({int(bad.sum())} of {a.size} elements off; "
                       f"rel_error {rel_error(a, n):.3g})")
            if raise_exception:
                raise GradcheckError(message)
            return False
    return True


def _check_directional(fn, inputs, upstream, analytic, rng, eps, atol, rtol, raise_exception):
    for i, (x, a) in enumerate(zip(inputs, analytic)):
        if a is None:
            continue
        v = rng.standard_normal(a.shape)
        host = x.numpy().astype(np.float64)
        values = []
        for step in (eps, -eps):
            trial = inputs[:i] + [_with_data(x, host + step * v)] + inputs[i + 1:]
            values.append(_objective(fn, trial, upstream))
        numeric = (values[0] - values[1]) / (2 * eps)
        exact = float(np.sum(a * v))
        if abs(exact - numeric) > atol + rtol * abs(numeric):
            message = (f"gradcheck (fast): directional derivative of input {i} (shape "
                       f"{a.shape}) is wrong: analytic {exact:.8g}, numeric {numeric:.8g}")
            if raise_exception:
                raise GradcheckError(message)
            return False
    return True


def gradcheck_module(module, fn: Callable, inputs: Sequence, **options) -> bool:
    """:func:`gradcheck` of ``fn(*inputs)`` with respect to the inputs **and every
    parameter of** ``module`` (a :class:`tinyrnn.nn.Module` that ``fn`` uses).

    gradcheck works on float64 copies; for the duration of the check they take
    the parameters' places in the module, and the originals are put back after.
    ``options`` go to :func:`gradcheck` (eps, atol, rtol, seed, fast).
    """
    named = list(module.named_parameters())
    inputs = list(inputs)

    def put(params):
        for (name, _), p in zip(named, params):
            owner, _, attr = name.rpartition(".")
            target = module
            for part in owner.split(".") if owner else ():
                target = getattr(target, part)
            setattr(target, attr, p)

    def wrapped(*args):
        put(args[len(inputs):])
        return fn(*args[:len(inputs)])
    try:
        return gradcheck(wrapped, inputs + [p for _, p in named], **options)
    finally:
        put([p for _, p in named])


class _CallableModule(types.ModuleType):
    """Lets ``tinyrnn.gradcheck`` be both this module and the function in it."""

    def __call__(self, *args, **kwargs):
        return gradcheck(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
