"""The check behind gradcheck, gradcheck_module and locate: backward's gradients
of some float64 tensors ("leaves") against central differences, and what to
say when they disagree.

The leaves are tensors that ``evaluate()`` reads: the numerical derivative
swaps a perturbed array into ``leaf.data`` and calls ``evaluate()`` again, so
whatever holds the leaf -- an argument, a cell, a layer that registered the
same Parameter twice -- sees the perturbation. Every element (or, in fast
mode, every random direction) is judged by :func:`~.numeric.agree`.

Besides *where*, a failure says *what* when it can tell:

* a forward that wrote into an input array ("modified ... in place"),
* a backward that returned None for an input needing a gradient,
* a forward computing in float32 inside a float64 check ("precision"),
* a point where the function has a kink ("kink": one-sided slopes differ),
* a backward that crashed or returned a wrong-shaped gradient ("backward failed").
"""
from __future__ import annotations

from typing import Callable, NamedTuple, Optional

import numpy as np

from .numeric import (ATOL, DEFAULT_DIRECTIONS, RTOL, GradcheckError, agree, float64_copy,
                      rel_error, rounding_noise)

_UPSTREAM_STREAM = 0x67726164      # "grad"


class Mismatch(NamedTuple):
    """Where a check failed: the ``leaf``-th checked tensor, at element ``index``
    (None for a directional derivative or a failure of the whole forward),
    with both values and a readable message."""
    leaf: int
    index: Optional[tuple]
    analytic: float
    numeric: float
    message: str


def as_outputs(out) -> list:
    """The Tensors in ``out``, which may nest tuples and lists (a layer's
    ``(output, [(h, c), ...])``); None entries are skipped."""
    from ..tensor import Tensor
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in as_outputs(o)]
    return [out] if isinstance(out, Tensor) else []


def refuse_outputs(out, who: str = "gradcheck") -> None:
    """TypeError unless ``out`` is a Tensor or (nested) tuples / lists of Tensors (or None)."""
    from ..tensor import Tensor
    if isinstance(out, (tuple, list)):
        for o in out:
            refuse_outputs(o, who)
    elif out is not None and not isinstance(out, Tensor):
        raise TypeError(
            f"{who}: fn returned a {type(out).__module__}.{type(out).__qualname__}, not a "
            "Tensor: it must return a Tensor or a tuple/list of Tensors, so that backward can "
            "run through the graph (a .numpy() array, a float or a dict carries no gradient "
            "and would be checked against nothing)")


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


def _central_differences(evaluate, leaf, upstream, eps, indices) -> np.ndarray:
    """Central differences dL/d(leaf) at ``indices`` (NaN elsewhere).

    The leaf holds a float64 copy of its values for the duration, and each
    element is nudged in that copy and put back -- one element written per
    evaluation, not a whole array copied (which made the full check of a
    large layer quadratic in its size).
    """
    original = leaf.data
    work = leaf.backend.asarray(np.array(leaf.numpy(), dtype=np.float64))
    host = leaf.numpy().astype(np.float64)
    grad = np.full(host.shape, np.nan)
    leaf.data = work
    try:
        for ix in indices:
            old = float(host[ix])
            work[ix] = old + eps
            plus = _objective(evaluate, upstream)
            work[ix] = old - eps
            minus = _objective(evaluate, upstream)
            work[ix] = old
            grad[ix] = (plus - minus) / (2 * eps)
    finally:
        leaf.data = original
    return grad


def _numerical(evaluate, leaf, upstream, eps) -> np.ndarray:
    """Central-difference dL/d(leaf), every element."""
    return _central_differences(evaluate, leaf, upstream, eps, np.ndindex(*leaf.shape))


def _compare_sampled(k, label, a, n, indices, noise, atol, rtol) -> Optional[Mismatch]:
    """Sparse mode: every sampled element that fails, each on a line of its own."""
    bad = [ix for ix in indices if not agree(a[ix], n[ix], noise, rtol, atol)]
    if not bad:
        return None
    lines = "".join(f"\n    index {ix}: analytic {a[ix]:.8g}, numeric {n[ix]:.8g}" for ix in bad)
    return Mismatch(k, bad[0], float(a[bad[0]]), float(n[bad[0]]), (
        f"gradcheck (sparse): gradient of {label} (shape {a.shape}) is wrong at {len(bad)} of "
        f"{len(indices)} sampled elements:{lines}"))


def sample_indices(shape: tuple, count: int, rng) -> list[tuple]:
    """``count`` distinct random element indices of an array of ``shape`` (all when fewer)."""
    size = int(np.prod(shape))
    flat = rng.choice(size, size=min(count, size), replace=False)
    return [_index(np.unravel_index(int(i), shape)) for i in sorted(flat)]


def _analytic(evaluate, leaves, upstream) -> tuple[list, list]:
    """dL/d(leaf) for every leaf, L = sum over outputs of sum(o * u), and for
    each leaf whether no gradient reached it (its .grad stayed None).

    Each output gets its upstream gradient u handed to ``backward`` directly
    rather than through a loss built from tinyrnn's own Mul and Sum: the
    checker must not use what it checks.
    """
    for leaf in leaves:
        leaf.grad = None
    live = [(o, u) for o, u in zip(as_outputs(evaluate()), upstream) if o.requires_grad]
    for n, (o, u) in enumerate(live):
        o.backward(u, retain_graph=n < len(live) - 1)
    missing = [leaf.grad is None for leaf in leaves]
    grads = [np.zeros(leaf.shape) if leaf.grad is None else leaf.grad.numpy().astype(np.float64)
             for leaf in leaves]
    for leaf in leaves:
        leaf.grad = None
    return grads, missing


def numerical_gradients(fn, inputs, upstream, eps: float = 1e-6) -> list:
    """Central-difference dL/dx for every input that requires grad (None for the
    others), where L = sum_k <fn(inputs)_k, upstream_k>."""
    inputs = [float64_copy(x) for x in inputs]
    return [_numerical(lambda: fn(*inputs), x, upstream, eps)
            if getattr(x, "requires_grad", False) else None for x in inputs]


def _index(ix) -> tuple:
    return tuple(int(k) for k in ix)


def _first_non_finite(a: np.ndarray):
    bad = ~np.isfinite(a)
    return _index(np.unravel_index(int(np.argmax(bad)), a.shape)) if bad.any() else None


def _compare_elements(k, label, a, n, missing, noise, atol, rtol) -> Optional[Mismatch]:
    """The worst mismatch of analytic ``a`` and numeric ``n`` (NaN/inf first), or None."""
    for kind, values in (("analytic", a), ("numeric", n)):
        ix = _first_non_finite(values)
        if ix is not None:
            return Mismatch(k, ix, float(a[ix]), float(n[ix]), (
                f"gradcheck: gradient of {label} (shape {a.shape}) is non-finite at index "
                f"{ix}: analytic {a[ix]:.8g}, numeric {n[ix]:.8g} ({kind} gradient has "
                f"{int(np.sum(~np.isfinite(values)))} NaN/inf element(s))"))
    bad = ~agree(a, n, noise, rtol, atol)
    if not bad.any():
        return None
    ix = _index(np.unravel_index(np.argmax(np.abs(a - n) * bad), a.shape))
    if missing:
        return Mismatch(k, ix, 0.0, float(n[ix]), (
            f"gradcheck: backward returned None for {label} (shape {a.shape}), which requires "
            f"grad: no gradient reached it, but the numeric gradient is {n[ix]:.8g} at index "
            f"{ix}. Return a gradient for every input with ctx.needs_input_grad True (or "
            "the graph to it is cut by .numpy() / .detach())"))
    return Mismatch(k, ix, float(a[ix]), float(n[ix]), (
        f"gradcheck: gradient of {label} (shape {a.shape}) is wrong at index {ix}: "
        f"analytic {a[ix]:.8g}, numeric {n[ix]:.8g} ({int(bad.sum())} of {a.size} "
        f"elements off; rel_error {rel_error(a, n):.3g})"))


def _balanced(v: np.ndarray, a: np.ndarray) -> np.ndarray:
    """``v`` scaled elementwise by 1 / |a| (floored at 1e-3 max |a|), then back to v's RMS.

    Along a plain random v, <grad, v> is dominated by the largest entries of
    grad -- in BPTT, the last few steps -- and a wrong gradient at an earlier
    step hides below the tolerance. Scaled this way every element of ``a``
    above the floor weighs about the same in <a, v>.
    """
    largest = float(np.max(np.abs(a), initial=0.0))
    if largest == 0.0:
        return v
    w = v * (largest / np.maximum(np.abs(a), 1e-3 * largest))
    return w * np.sqrt(np.mean(v * v) / np.mean(w * w))


def _compare_directions(k, label, a, leaf, evaluate, upstream, rng, eps, noise, atol, rtol,
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
        if not agree(exact, numeric, noise, rtol, atol):
            return Mismatch(k, None, exact, numeric, (
                f"gradcheck (fast): directional derivative of {label} (shape {a.shape}) "
                f"along random direction {d + 1} of {directions} is {what}: analytic "
                f"{exact:.8g}, numeric {numeric:.8g}"))
    return None


def _precision_hint(outs) -> str:
    """A hint when a float64 check's outputs show float32 arithmetic, else ''."""
    for o in outs:
        values = o.numpy()
        if values.dtype != np.float64:
            return (f" Hint (precision): fn's output is {values.dtype}, not float64: forward "
                    "computes in lower precision somewhere (a float32 buffer, an astype), so "
                    "the numeric derivative is mostly rounding noise; compute in the inputs' "
                    "dtype.")
    values = np.concatenate([o.numpy().reshape(-1) for o in outs]) if outs else np.zeros(0)
    fractional = values[np.isfinite(values) & (values != np.round(values))]
    if fractional.size >= 2 and np.array_equal(fractional.astype(np.float32), fractional):
        return (" Hint (precision): every output value survives a round trip through float32: "
                "forward computes in float32 somewhere (a buffer, an astype) and casts back, "
                "so the numeric derivative is mostly rounding noise; keep float64 throughout.")
    return ""


def _kink_hint(evaluate, upstream, leaf, step: np.ndarray, eps: float, noise: float) -> str:
    """A hint when the one-sided slopes along ``step`` differ: the point is a kink."""
    host = leaf.numpy().astype(np.float64)
    centre = _objective_at(evaluate, upstream, leaf, host)
    right = (_objective_at(evaluate, upstream, leaf, host + eps * step) - centre) / eps
    left = (centre - _objective_at(evaluate, upstream, leaf, host - eps * step)) / eps
    if abs(right - left) > 1e-2 * (abs(right) + abs(left)) + 4 * noise + ATOL:
        return (f" Hint (kink): the slope from the left ({left:.6g}) and from the right "
                f"({right:.6g}) differ, so the function is not differentiable at this point "
                "(relu at 0, ties in max, abs at 0); check at inputs away from the kink.")
    return ""


def _changed(snapshot) -> list[str]:
    """The labels of watched arrays whose values differ from their snapshot."""
    return [f"{label} ({int(np.sum(now() != before))} of {before.size} elements changed)"
            for label, before, now in snapshot
            if not np.array_equal(now(), before, equal_nan=True)]


def _host_view(x):
    from ..tensor import Tensor
    return (lambda: x.numpy()) if isinstance(x, Tensor) else (lambda: np.asarray(x))


def mismatches(evaluate: Callable, leaves: list, labels: list, eps: float = 1e-6,
               atol: float = ATOL, rtol: float = RTOL, seed: int = 0, fast: bool = False,
               directions: int = DEFAULT_DIRECTIONS, sparse: int = 0, watch: tuple = (),
               who: str = "gradcheck") -> list[Mismatch]:
    """Every checked tensor whose gradient fails the check, each as a :class:`Mismatch`.

    ``leaves`` are float64 tensors requiring grad that ``evaluate()`` reads
    (``labels`` name them in messages). ``watch`` are (label, Tensor or
    array) pairs besides the leaves that forward must not modify. ``sparse``
    > 0 checks that many random elements per leaf (CS231n's grad_check_sparse)
    instead of all of them; every failing one is listed. Raises
    TypeError / ValueError for what cannot be checked (see :func:`refuse_outputs`).
    """
    if not leaves:
        raise ValueError(f"{who}: no input has requires_grad=True; nothing to check")
    if fast and (not isinstance(directions, int) or directions < 1):
        raise ValueError(f"{who}: directions must be a positive integer; got {directions!r}")
    # A stream of its own: default_rng(seed) would draw a u equal to inputs that
    # tinyrnn.randn drew right after manual_seed(seed) -- and u = a makes a^T u
    # symmetric, hiding exactly the transposition mistakes u is there to catch.
    rng = np.random.default_rng([seed, _UPSTREAM_STREAM])
    watched = list(zip(labels, leaves)) + list(watch)
    snapshot = [(label, np.array(view(), copy=True), view)
                for label, x in watched for view in [_host_view(x)]]
    from ..autograd import enable_grad
    with enable_grad():
        out = evaluate()
    refuse_outputs(out, who)
    outs = as_outputs(out)
    if not any(o.requires_grad for o in outs):
        raise ValueError(f"{who}: no output of fn depends on a checked input (none requires "
                         "grad): fn cut the graph (.numpy(), .detach(), a tensor rebuilt from "
                         "data) or does not use its inputs")
    changed = _changed(snapshot)
    if changed:
        return [Mismatch(0, None, float("nan"), float("nan"), (
            f"{who}: fn's forward modified {', '.join(changed)} in place: an op must not "
            "write into its inputs (x *= 2, x[...] = ...); compute a new array instead "
            "(x = x * 2). Nothing else was checked: every gradient would be wrong."))]
    with np.errstate(all="ignore"):     # NaN/inf is reported by name and index instead
        upstream = [rng.standard_normal(o.shape) for o in outs]
        size = sum(float(np.sum(np.abs(o.numpy().astype(np.float64) * u)))
                   for o, u in zip(outs, upstream))
        noise = rounding_noise(size, eps)
        try:
            analytic, missing = _analytic(evaluate, leaves, upstream)
        except Exception as err:        # noqa: BLE001 -- a crashing backward is a finding too
            return [Mismatch(0, None, float("nan"), float("nan"), (
                f"{who}: backward failed with {type(err).__name__}: {err}"))]
        found = []
        for k, (leaf, label, a) in enumerate(zip(leaves, labels, analytic)):
            if sparse and not fast:
                indices = sample_indices(a.shape, sparse, rng)
                bad = _compare_sampled(k, label, a,
                                       _central_differences(evaluate, leaf, upstream, eps, indices),
                                       indices, noise, atol, rtol)
                step = None
            elif fast:
                bad = _compare_directions(k, label, a, leaf, evaluate, upstream, rng, eps,
                                          noise, atol, rtol, directions)
                step = None
            else:
                bad = _compare_elements(k, label, a, _numerical(evaluate, leaf, upstream, eps),
                                        missing[k], noise, atol, rtol)
                step = None
                if bad is not None and np.isfinite(bad.analytic):
                    step = np.zeros(a.shape)
                    step[bad.index] = 1.0
            if bad is None:
                continue
            hint = _precision_hint(outs)
            if not hint and step is not None:
                hint = _kink_hint(evaluate, upstream, leaf, step, eps, noise)
            found.append(bad._replace(message=bad.message + hint))
    return found


def first_mismatch(evaluate: Callable, leaves: list, labels: list, **settings) -> Optional[Mismatch]:
    """The first of :func:`mismatches`, or None when every gradient agrees."""
    found = mismatches(evaluate, leaves, labels, **settings)
    return found[0] if found else None


def check_leaves(evaluate, leaves, labels, raise_exception, **settings) -> bool:
    """True when every leaf passes; else raise :class:`GradcheckError` listing every
    failing leaf, one line each (or return False when ``raise_exception`` is False)."""
    found = mismatches(evaluate, leaves, labels, **settings)
    if found and raise_exception:
        raise GradcheckError("\n".join(m.message for m in found))
    return not found
