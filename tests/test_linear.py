"""``tinyrnn.ops.linear`` and ``nn.Linear``: the same numbers and gradients as
``x @ W.T + b`` composed from matmul and add, one recorded node, clear errors."""
from __future__ import annotations

import numpy as np
import pytest

import tinyrnn as tr
from tinyrnn import nn
from tinyrnn.ops import linear


def _leaves(*arrays):
    return [tr.tensor(a, dtype="float64", requires_grad=True) for a in arrays]


@pytest.mark.parametrize("shape", [(5,), (4, 5), (3, 2, 5)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_matmul_plus_bias(backend, shape, bias):
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal(shape), rng.standard_normal((3, 5)), rng.standard_normal(3)
    dy = tr.tensor(rng.standard_normal(shape[:-1] + (3,)), dtype="float64")
    got = _leaves(x, w, b)
    ref = _leaves(x, w, b)
    y = linear(got[0], got[1], got[2] if bias else None)
    y_ref = ref[0] @ ref[1].T
    y_ref = y_ref + ref[2] if bias else y_ref
    np.testing.assert_allclose(y.numpy(), y_ref.numpy(), rtol=1e-12, atol=1e-12)
    y.backward(dy)
    y_ref.backward(dy)
    for a, r in zip(got[:3 if bias else 2], ref):
        np.testing.assert_allclose(a.grad.numpy(), r.grad.numpy(), rtol=1e-12, atol=1e-12)
    if not bias:
        assert got[2].grad is None


def test_linear_records_one_node():
    x, w, b = _leaves(np.ones((2, 3, 4)), np.ones((5, 4)), np.ones(5))
    y = linear(x, w, b)
    assert y._node.fn.__name__ == "Linear"
    assert all(t._node is None for t in y._node.inputs)


def test_nn_linear_uses_it_and_keeps_float32():
    layer = nn.Linear(4, 3)
    y = layer(tr.randn(2, 5, 4))
    assert y.shape == (2, 5, 3) and y.dtype == layer.weight.dtype
    assert y._node.fn.__name__ == "Linear"


@pytest.mark.parametrize("args, message", [
    (lambda: (tr.randn(2, 4), tr.randn(3, 5)), r"linear: x of shape \(2, 4\) and weight of "
                                                r"shape \(3, 5\) do not fit"),
    (lambda: (tr.randn(2, 4), tr.randn(12)), r"linear: x of shape \(2, 4\) and weight of "
                                             r"shape \(12,\) do not fit"),
    (lambda: (tr.randn(2, 4), tr.randn(3, 4), tr.randn(4)),
     r"linear: bias of shape \(4,\); expected \(3,\) for weight of shape \(3, 4\)"),
])
def test_linear_bad_shapes(args, message):
    with pytest.raises(ValueError, match=message):
        linear(*args())


def test_linear_wants_tensors():
    with pytest.raises(TypeError, match="linear: weight must be a Tensor; got list"):
        linear(tr.randn(2, 2), [[1.0, 0.0], [0.0, 1.0]])
