"""The numerical side of gradient checking: central differences in float64, and
the comparison of analytic with numerical gradients behind
:func:`tinyrnn.gradcheck` and :func:`tinyrnn.locate` both use.
"""
from __future__ import annotations

import contextlib
from typing import Callable, NamedTuple, Optional

import numpy as np

DEFAULT_DIRECTIONS = 8
"""Random directions per input in fast mode (see :func:`gradcheck`)."""


class GradcheckError(AssertionError):
    """An analytic gradient disagrees with the numerical one."""


def rel_error(x, y) -> float:
    """max |x - y| / max(1e-8, |x| + |y|): about 1e-7 or less means "equal" in float64.

    Returns ``inf`` when either argument holds a NaN or an infinity, so that
    ``rel_error(a, b) < tol`` is False and ``rel_error(a, b) > tol`` is True:
    a non-finite gradient never looks right.
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        return float("inf")
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

    ``df`` is the upstream gradient dL/df(x); the result has x's shape. A NaN
    or inf in f's values shows up as NaN/inf here; :func:`rel_error` then
    returns inf.
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
# The checked tensors ("leaves") are float64 tensors that ``evaluate()`` reads:
# the numerical derivative swaps a perturbed array into ``leaf.data`` and calls
# ``evaluate()`` again, so whatever holds the leaf -- an argument, a cell, a
# layer that registered the same Parameter twice -- sees the perturbation.
def as_outputs(out) -> list:
    """The Tensors in ``out``, which may nest tuples and lists (a layer's
    ``(output, [(h, c), ...])``); anything else is ignored."""
    from ..tensor import Tensor
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in as_outputs(o)]
    return [out] if isinstance(out, Tensor) else []


def _objective(evaluate, upstream) -> float:
    """sum_k <evaluate()_k, upstream_k> on the host, without a graph."""
    from ..autograd import no_grad
    with no_grad():
        outs = as_outputs(evaluate())
    return float(sum(np.sum(o.numpy().astype(np.float64) * u) for o, u in zip(outs, upstream)))


def _objective_at(evaluate, upstream, leaf, host: np.ndarray) -> float:
    """The objective with ``leaf`` holding the values ``host`` (restored after)."""
    original = leaf.data
    leaf.data = leaf.backend.asarray(np.array(host, dtype=np.float64))
    try:
        return _objective(evaluate, upstream)
    finally:
        leaf.data = original


def _numerical(evaluate, leaf, upstream, eps) -> np.ndarray:
    """Central-difference dL/d(leaf), one element at a time."""
    host = leaf.numpy().astype(np.float64)
    grad = np.zeros_like(host)
    for ix in np.ndindex(*host.shape):
        old = host[ix]
        host[ix] = old + eps
        plus = _objective_at(evaluate, upstream, leaf, host)
        host[ix] = old - eps
        minus = _objective_at(evaluate, upstream, leaf, host)
        host[ix] = old
        grad[ix] = (plus - minus) / (2 * eps)
    return grad


def _analytic(evaluate, leaves, upstream) -> list[np.ndarray]:
    """dL/d(leaf) for every leaf, L = sum over outputs of sum(o * u).

    Each output gets its upstream gradient u handed to ``backward`` directly
    (gradients add up over the calls), rather than through a loss built from
    tinyrnn's own Mul and Sum: the checker must not use what it checks. (With
    such a loss, a negated ``Sum.backward`` flipped the analytic gradient of
    ``x.sum(axis=1)`` twice, once in the op and once in the loss, and passed.)
    """
    for leaf in leaves:
        leaf.grad = None
    live = [(o, u) for o, u in zip(as_outputs(evaluate()), upstream) if o.requires_grad]
    for n, (o, u) in enumerate(live):
        o.backward(u, retain_graph=n < len(live) - 1)
    grads = [np.zeros(leaf.shape) if leaf.grad is None else leaf.grad.numpy().astype(np.float64)
             for leaf in leaves]
    for leaf in leaves:
        leaf.grad = None
    return grads


def float64_copy(x):
    """A float64 copy of a floating Tensor (same backend and requires_grad); other inputs as is."""
    from ..tensor import Tensor
    if isinstance(x, Tensor) and x.backend.is_floating(x.data):
        return Tensor(x.numpy().astype(np.float64), backend=x.backend,
                      requires_grad=x.requires_grad)
    return x


def numerical_gradients(fn, inputs, upstream, eps: float = 1e-6) -> list:
    """Central-difference dL/dx for every input that requires grad (None for the
    others), where L = sum_k <fn(inputs)_k, upstream_k>."""
    inputs = [float64_copy(x) for x in inputs]
    return [_numerical(lambda: fn(*inputs), x, upstream, eps)
            if getattr(x, "requires_grad", False) else None for x in inputs]


def _index(ix) -> tuple:
    return tuple(int(k) for k in ix)


def _first_non_finite(a: np.ndarray):
    """The index of the first NaN/inf in ``a``, or None."""
    bad = ~np.isfinite(a)
    return _index(np.unravel_index(int(np.argmax(bad)), a.shape)) if bad.any() else None


class Mismatch(NamedTuple):
    """Where a check failed: the ``leaf``-th checked tensor, at element ``index``
    (None for a directional derivative), with both values and a readable message."""
    leaf: int
    index: Optional[tuple]
    analytic: float
    numeric: float
    message: str


def _compare_elements(k, label, a, n, atol, rtol) -> Optional[Mismatch]:
    """The worst mismatch of analytic ``a`` and numeric ``n`` (NaN/inf first), or None."""
    for kind, values in (("analytic", a), ("numeric", n)):
        ix = _first_non_finite(values)
        if ix is not None:
            return Mismatch(k, ix, float(a[ix]), float(n[ix]), (
                f"gradcheck: gradient of {label} (shape {a.shape}) is non-finite at index "
                f"{ix}: analytic {a[ix]:.8g}, numeric {n[ix]:.8g} ({kind} gradient has "
                f"{int(np.sum(~np.isfinite(values)))} NaN/inf element(s))"))
    bad = ~(np.abs(a - n) <= atol + rtol * np.abs(n))
    if not bad.any():
        return None
    ix = _index(np.unravel_index(np.argmax(np.abs(a - n) * bad), a.shape))
    return Mismatch(k, ix, float(a[ix]), float(n[ix]), (
        f"gradcheck: gradient of {label} (shape {a.shape}) is wrong at index {ix}: "
        f"analytic {a[ix]:.8g}, numeric {n[ix]:.8g} ({int(bad.sum())} of {a.size} "
        f"elements off; rel_error {rel_error(a, n):.3g})"))


def _balanced(v: np.ndarray, a: np.ndarray) -> np.ndarray:
    """``v`` scaled elementwise by 1 / |a| (floored at 1e-3 max |a|), then back to v's RMS.

    Along a plain random v, <grad, v> is dominated by the largest entries of
    grad -- in BPTT, the last few steps -- and a wrong gradient at an earlier
    step hides below rtol. Scaled this way every element of ``a`` above the
    floor weighs about the same in <a, v>.
    """
    largest = float(np.max(np.abs(a), initial=0.0))
    if largest == 0.0:                  # nothing to balance
        return v
    w = v * (largest / np.maximum(np.abs(a), 1e-3 * largest))
    return w * np.sqrt(np.mean(v * v) / np.mean(w * w))


def _compare_directions(k, label, a, leaf, evaluate, upstream, rng, eps, atol, rtol,
                        directions) -> Optional[Mismatch]:
    """Fast mode: compare <a, v> with a central difference along ``directions`` random v."""
    ix = _first_non_finite(a)
    if ix is not None:
        return Mismatch(k, ix, float(a[ix]), float("nan"), (
            f"gradcheck (fast): gradient of {label} (shape {a.shape}) is non-finite at "
            f"index {ix}: analytic {a[ix]:.8g}"))
    host = leaf.numpy().astype(np.float64)
    for d in range(directions):
        v = rng.standard_normal(a.shape)
        if d % 2 == 1:
            v = _balanced(v, a)
        plus = _objective_at(evaluate, upstream, leaf, host + eps * v)
        minus = _objective_at(evaluate, upstream, leaf, host - eps * v)
        numeric = (plus - minus) / (2 * eps)
        exact = float(np.sum(a * v))
        what = "non-finite" if not np.isfinite(numeric) else "wrong"
        if not abs(exact - numeric) <= atol + rtol * abs(numeric):
            return Mismatch(k, None, exact, numeric, (
                f"gradcheck (fast): directional derivative of {label} (shape {a.shape}) "
                f"along random direction {d + 1} of {directions} is {what}: analytic "
                f"{exact:.8g}, numeric {numeric:.8g}"))
    return None


_UPSTREAM_STREAM = 0x67726164      # "grad"


def first_mismatch(evaluate: Callable, leaves: list, labels: list, eps: float = 1e-6,
                   atol: float = 1e-5, rtol: float = 1e-3, seed: int = 0, fast: bool = False,
                   directions: int = DEFAULT_DIRECTIONS) -> Optional[Mismatch]:
    """The check behind gradcheck, gradcheck_module and locate.

    ``leaves`` are float64 tensors requiring grad that ``evaluate()`` reads
    (``labels`` name them in messages); the numerical derivative swaps
    perturbed arrays into ``leaf.data``. Returns the first :class:`Mismatch`,
    or None when every gradient agrees.
    """
    if not leaves:
        raise ValueError("gradcheck: no input has requires_grad=True; nothing to check")
    if fast and (not isinstance(directions, int) or directions < 1):
        raise ValueError(f"gradcheck: directions must be a positive integer; got {directions!r}")
    # A stream of its own: default_rng(seed) would draw a u equal to inputs that
    # tinyrnn.randn drew right after manual_seed(seed) -- and u = a makes a^T u
    # symmetric, hiding exactly the transposition mistakes u is there to catch.
    rng = np.random.default_rng([seed, _UPSTREAM_STREAM])
    from ..autograd import no_grad
    with np.errstate(all="ignore"):     # NaN/inf is reported by name and index instead
        with no_grad():
            upstream = [rng.standard_normal(o.shape) for o in as_outputs(evaluate())]
        analytic = _analytic(evaluate, leaves, upstream)
        for k, (leaf, label, a) in enumerate(zip(leaves, labels, analytic)):
            if fast:
                found = _compare_directions(k, label, a, leaf, evaluate, upstream, rng, eps,
                                            atol, rtol, directions)
            else:
                found = _compare_elements(k, label, a, _numerical(evaluate, leaf, upstream, eps),
                                          atol, rtol)
            if found is not None:
                return found
    return None


def check_leaves(evaluate, leaves, labels, raise_exception, **settings) -> bool:
    found = first_mismatch(evaluate, leaves, labels, **settings)
    if found is not None and raise_exception:
        raise GradcheckError(found.message)
    return found is None


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
