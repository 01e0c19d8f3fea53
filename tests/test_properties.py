"""Property-based tests (hypothesis): for any broadcast-compatible shapes, the
binary ops give NumPy's values and the broadcast-reduced gradients.

The expected gradient is computed here independently of the engine's
``sum_to``: broadcasting reads input element ``a[j]`` at every output
position whose index maps to ``j`` (size-1 axes map to 0, extra leading axes
are dropped), so ``dL/da[j]`` adds ``u`` over those positions (``np.add.at``).
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import tinyrnn as tr

SETTINGS = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def broadcast_adjoint(u: np.ndarray, shape: tuple) -> np.ndarray:
    """The gradient of an input of ``shape`` that was broadcast to ``u.shape``."""
    grad = np.zeros(shape)
    lead = u.ndim - len(shape)
    for index in np.ndindex(*u.shape):
        source = tuple(0 if n == 1 else i for i, n in zip(index[lead:], shape))
        grad[source] += u[index]
    return grad


# name: (tinyrnn function, NumPy function, d out/da, d out/db) with a, b broadcast
BINARY = {
    "add": (lambda a, b: a + b, np.add, lambda a, b: 1.0, lambda a, b: 1.0),
    "sub": (lambda a, b: a - b, np.subtract, lambda a, b: 1.0, lambda a, b: -1.0),
    "mul": (lambda a, b: a * b, np.multiply, lambda a, b: b, lambda a, b: a),
    "div": (lambda a, b: a / b, np.divide, lambda a, b: 1 / b, lambda a, b: -a / b ** 2),
    "maximum": (tr.maximum, np.maximum, lambda a, b: a > b, lambda a, b: b > a),
    "minimum": (tr.minimum, np.minimum, lambda a, b: a < b, lambda a, b: b < a),
}


def _operands(name, shapes, seed):
    rng = np.random.default_rng(seed)
    sa, sb = shapes.input_shapes
    a = rng.standard_normal(sa)
    if name == "div":                       # keep the divisor away from 0
        b = rng.uniform(0.5, 2.0, sb) * rng.choice([-1.0, 1.0], sb)
    elif name in ("maximum", "minimum"):    # a on even, b on odd tenths: never tied
        a = 0.2 * rng.integers(-10, 10, sa)
        b = 0.2 * rng.integers(-10, 10, sb) + 0.1
    else:
        b = rng.standard_normal(sb)
    return np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64), rng


@pytest.mark.parametrize("name", sorted(BINARY))
@SETTINGS
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3),
       seed=st.integers(0, 2 ** 16))
def test_binary_op_values_and_gradients(backend, name, shapes, seed):
    f, f_np, da_local, db_local = BINARY[name]
    a_np, b_np, rng = _operands(name, shapes, seed)
    a = tr.tensor(a_np, dtype="float64", requires_grad=True)
    b = tr.tensor(b_np, dtype="float64", requires_grad=True)
    y = f(a, b)
    assert y.shape == shapes.result_shape
    np.testing.assert_allclose(y.numpy(), f_np(a_np, b_np), rtol=1e-15, atol=0)

    u = rng.standard_normal(shapes.result_shape)
    y.backward(u)
    A, B = np.broadcast_arrays(a_np, b_np)
    expected_a = broadcast_adjoint(u * da_local(A, B), a_np.shape)
    expected_b = broadcast_adjoint(u * db_local(A, B), b_np.shape)
    assert a.grad.shape == a.shape and b.grad.shape == b.shape
    np.testing.assert_allclose(a.grad.numpy(), expected_a, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(b.grad.numpy(), expected_b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", sorted(BINARY))
@SETTINGS
@given(shape=st.lists(st.integers(1, 3), max_size=3).map(tuple),
       scalar=st.floats(0.25, 4.0) | st.floats(-4.0, -0.25), left=st.booleans())
def test_binary_op_with_a_python_number(backend, name, shape, scalar, left):
    """A Python number is a constant: float32 stays float32, the values are
    NumPy's (in float32) and the gradient reaches the tensor only."""
    f, f_np, da_local, db_local = BINARY[name]
    x_np = np.random.default_rng(len(shape)).uniform(0.5, 2.0, shape).astype(np.float32)
    x = tr.tensor(x_np, requires_grad=True)
    y = f(scalar, x) if left else f(x, scalar)
    assert y.dtype == x.dtype
    expected = f_np(np.float32(scalar), x_np) if left else f_np(x_np, np.float32(scalar))
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-6)
    y.sum().backward()
    s = np.full(shape, scalar, dtype=np.float64)
    local = db_local(s, x_np.astype(np.float64)) if left else \
        da_local(x_np.astype(np.float64), s)
    np.testing.assert_allclose(x.grad.numpy(), np.broadcast_to(local, shape), rtol=1e-5)


@SETTINGS
@given(shapes=mutually_broadcastable_shapes(signature=np.matmul.signature,
                                            max_dims=2, max_side=3),
       seed=st.integers(0, 2 ** 16))
def test_matmul_values_and_gradients_for_any_shapes(backend, shapes, seed):
    """1-D, 2-D and batched operands with broadcasting batch axes: NumPy's
    values, and gradients that pass a (fast) numerical check."""
    sa, sb = shapes.input_shapes
    rng = np.random.default_rng(seed)
    a_np, b_np = rng.standard_normal(sa), rng.standard_normal(sb)
    a = tr.tensor(a_np, dtype="float64", requires_grad=True)
    b = tr.tensor(b_np, dtype="float64", requires_grad=True)
    y = a @ b
    np.testing.assert_allclose(y.numpy(), np.matmul(a_np, b_np), rtol=1e-12, atol=1e-12)
    assert tr.gradcheck(tr.matmul, [a, b], fast=True, seed=seed)


@SETTINGS
@given(shape=st.lists(st.integers(1, 3), min_size=1, max_size=3).map(tuple),
       data=st.data())
def test_reductions_match_numpy_with_any_axes(backend, shape, data):
    axes = data.draw(st.lists(st.integers(-len(shape), len(shape) - 1), unique_by=lambda
                              i: i % len(shape), max_size=len(shape)).map(tuple) | st.none())
    keepdims = data.draw(st.booleans())
    x_np = np.random.default_rng(len(shape)).permutation(np.prod(shape)).reshape(shape) * 0.3
    x = tr.tensor(x_np, dtype="float64", requires_grad=True)
    for f, f_np in ((tr.sum, np.sum), (tr.mean, np.mean), (tr.max, np.max),
                    (tr.min, np.min)):
        y = f(x, axis=axes, keepdims=keepdims)
        expected = f_np(x_np, axis=axes, keepdims=keepdims)
        assert y.shape == np.shape(expected)
        np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12)
    assert tr.gradcheck(lambda t: tr.logsumexp(t, axis=axes, keepdims=keepdims) +
                        tr.max(t, axis=axes, keepdims=keepdims), [x], fast=True)
