"""Forward values of every op against NumPy written out independently.

A gradient check proves backward matches forward, not that forward is the
function it claims to be (a "tanh" computing sin with sin's derivative would
pass it). These tests pin the forward values; PyTorch, when installed, is
a second oracle for the neural-network ops.
"""
from __future__ import annotations

import numpy as np
import pytest

import tinyrnn as tr

RNG = np.random.default_rng(42)
X = RNG.standard_normal((3, 4))
P = RNG.uniform(0.5, 2.0, (3, 4))
X3 = RNG.standard_normal((2, 3, 4))


def _softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _layer_norm(x, g, b, eps=1e-5):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


# name: (tinyrnn function of tensors, NumPy function of arrays, inputs)
VALUES = {
    "neg": (lambda x: -x, lambda x: -x, [X]),
    "pow_scalar": (lambda x: x ** 3, lambda x: x ** 3, [X]),
    "pow_tensor": (lambda a, b: a ** b, lambda a, b: a ** b, [P, X]),
    "rpow": (lambda x: 2.0 ** x, lambda x: 2.0 ** x, [X]),
    "exp": (tr.exp, np.exp, [X]),
    "log": (tr.log, np.log, [P]),
    "sqrt": (tr.sqrt, np.sqrt, [P]),
    "tanh": (tr.tanh, np.tanh, [X]),
    "sigmoid": (tr.sigmoid, lambda x: 1 / (1 + np.exp(-x)), [X]),
    "relu": (tr.relu, lambda x: np.where(x > 0, x, 0.0), [X]),
    "clip": (lambda x: x.clip(-0.5, 0.3), lambda x: np.minimum(np.maximum(x, -0.5), 0.3), [X]),
    "where": (lambda a, b: tr.where(a > b, a, b), lambda a, b: np.where(a > b, a, b), [X, P]),
    "logsumexp": (lambda x: tr.logsumexp(x, axis=1),
                  lambda x: np.log(np.exp(x).sum(axis=1)), [X]),
    "reshape": (lambda x: x.reshape(4, 3), lambda x: x.reshape(4, 3), [X]),
    "permute": (lambda x: x.permute(2, 0, 1), lambda x: x.transpose(2, 0, 1), [X3]),
    "T": (lambda x: x.T, lambda x: x.T, [X]),
    "broadcast_to": (lambda x: x[:, None, :].broadcast_to(3, 2, 4),
                     lambda x: np.broadcast_to(x[:, None, :], (3, 2, 4)), [X]),
    "getitem_basic": (lambda x: x[1:, None, ::-2], lambda x: x[1:, None, ::-2], [X]),
    "getitem_ints": (lambda x: x[[2, 0, 2]], lambda x: x[[2, 0, 2]], [X]),
    "getitem_mask": (lambda x: x[x > 0], lambda x: x[x > 0], [X]),
    "take_axis1": (lambda x: tr.take(x, [[3, 0], [1, 1]], axis=1),
                   lambda x: np.take(x, [[3, 0], [1, 1]], axis=1), [X]),
    "concat": (lambda a, b: tr.concat([a, b], axis=1),
               lambda a, b: np.concatenate([a, b], axis=1), [X, P]),
    "stack": (lambda a, b: tr.stack([a, b], axis=1), lambda a, b: np.stack([a, b], axis=1),
              [X, P]),
    "split": (lambda x: tr.split(x, [1, 3], axis=1)[1], lambda x: x[:, 1:], [X]),
    "softmax": (lambda x: tr.softmax(x, axis=0), lambda x: _softmax(x, 0), [X]),
    "log_softmax": (tr.log_softmax, lambda x: np.log(_softmax(x, -1)), [X3]),
    "layer_norm": (lambda x, g, b: tr.layer_norm(x, g, b),
                   lambda x, g, b: _layer_norm(x, g, b), [X3, P[0], X[0]]),
}


@pytest.mark.parametrize("name", sorted(VALUES))
def test_forward_values_match_numpy(name, backend):
    f, f_np, arrays = VALUES[name]
    inputs = [tr.tensor(a, dtype="float64") for a in arrays]
    np.testing.assert_allclose(f(*inputs).numpy(), f_np(*arrays), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_values(backend, reduction):
    logits = RNG.standard_normal((5, 4))
    targets = np.array([0, 3, -100, 1, 3])
    keep = targets != -100
    losses = -np.log(_softmax(logits, -1))[np.arange(5), np.where(keep, targets, 0)] * keep
    expected = {"none": losses, "sum": losses.sum(), "mean": losses.sum() / keep.sum()}
    got = tr.cross_entropy(tr.tensor(logits, dtype="float64"), tr.tensor(targets),
                           reduction=reduction)
    np.testing.assert_allclose(got.numpy(), expected[reduction], rtol=1e-12)


def test_dropout_values(backend):
    tr.manual_seed(1)
    x = tr.tensor(X, dtype="float64")
    y = tr.dropout(x, 0.25).numpy()
    kept = y != 0
    np.testing.assert_allclose(y[kept], X[kept] / 0.75, rtol=1e-12)


# ---- PyTorch as a second oracle -------------------------------------------------------
def test_nn_ops_and_gradients_agree_with_pytorch():
    torch = pytest.importorskip("torch")
    logits = RNG.standard_normal((6, 5))
    targets = np.array([4, 0, 2, 2, -100, 1])
    x, g, b = X3, P[0], X[0]

    z = tr.tensor(logits, dtype="float64", requires_grad=True)
    tr.cross_entropy(z, tr.tensor(targets)).backward()
    zt = torch.tensor(logits, requires_grad=True)
    torch.nn.functional.cross_entropy(zt, torch.tensor(targets)).backward()
    np.testing.assert_allclose(z.grad.numpy(), zt.grad.numpy(), rtol=1e-10, atol=1e-12)

    xs = [tr.tensor(a, dtype="float64", requires_grad=True) for a in (x, g, b)]
    ts = [torch.tensor(a, requires_grad=True) for a in (x, g, b)]
    u = RNG.standard_normal(x.shape)
    y = tr.layer_norm(*xs)
    y.backward(u)
    yt = torch.nn.functional.layer_norm(ts[0], (4,), ts[1], ts[2], eps=1e-5)
    yt.backward(torch.tensor(u))
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    for mine, theirs in zip(xs, ts):
        np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), rtol=1e-9,
                                   atol=1e-12)
