"""The fused kernels' per-step element-wise functions (``Backend.pointwise``):
written once as functions of ``xp``, run as they are on NumPy, with ``out=``
emulated on the strict backend, and fused into one kernel by CuPy."""
from __future__ import annotations

import numpy as np
import pytest

import tinyrnn as tr
from tinyrnn.ops.fused.gru import gru_cell_backward
from tinyrnn.ops.fused.lstm import lstm_gates_backward


def _arrays(n, shape=(2, 3), seed=0):
    rng = np.random.default_rng(seed)
    return [rng.uniform(0.1, 0.9, size=shape) for _ in range(n)]


def test_pointwise_is_made_once_and_runs_the_function_with_numpy():
    backend = tr.get_backend("numpy")
    seen = []

    def double(xp, a):
        seen.append(xp)
        a *= 2
    f = backend.pointwise(double)
    assert backend.pointwise(double) is f
    a = np.ones(3)
    f(a)
    assert seen == [np] and a.tolist() == [2, 2, 2]


def test_strict_backend_emulates_out():
    backend = tr.get_backend("strict")

    def add_into(xp, a, b, out):
        xp.add(a, b, out=out)
    a, b = backend.asarray([1.0, 2.0]), backend.asarray([3.0, 4.0])
    out = backend.zeros((2,), "float64")
    backend.pointwise(add_into)(a, b, out)
    assert backend.to_numpy(out).tolist() == [4.0, 6.0]


def test_gru_backward_may_write_over_its_gates():
    """dr, dz, dq_n written over r, z, n give what separate buffers give: each
    is written after its last read, in NumPy's order and in a fused kernel's."""
    dh, carry, dout, rr, rz, rn, r, z, n, h_prev, q_n = _arrays(11)
    outs = [np.empty((2, 3)) for _ in range(5)]
    args = [dh.copy(), carry.copy(), dout, rr, rz, rn, r.copy(), z.copy(), n.copy(), h_prev, q_n]
    gru_cell_backward(np, *args, *outs)
    aliased = [dh.copy(), carry.copy(), dout, rr, rz, rn, r.copy(), z.copy(), n.copy(), h_prev,
               q_n]
    dn, tmp = np.empty((2, 3)), np.empty((2, 3))
    gru_cell_backward(np, *aliased, aliased[6], aliased[7], aliased[8], dn, tmp)
    for separate, overwritten in zip(outs[:3] + [outs[3]], aliased[6:9] + [dn]):
        np.testing.assert_allclose(overwritten, separate, rtol=1e-14)
    np.testing.assert_allclose(aliased[1], args[1], rtol=1e-14)          # carry


@pytest.mark.parametrize("shape", [(4, 2, 3)])
def test_lstm_gate_gradients_may_write_over_the_activations(shape):
    d, z = _arrays(2, shape)
    alpha = np.array([1.0, 1.0, 0.0, 1.0]).reshape(4, 1, 1)
    gamma = np.array([0.0, 0.0, 1.0, 0.0]).reshape(4, 1, 1)
    separate, local = np.empty(shape), np.empty(shape)
    lstm_gates_backward(np, d, z, alpha, gamma, separate, local)
    overwritten = z.copy()
    lstm_gates_backward(np, d, overwritten, alpha, gamma, overwritten, local)
    np.testing.assert_allclose(overwritten, separate, rtol=1e-14)
    np.testing.assert_allclose(separate, d * (z * (alpha - z) + gamma), rtol=1e-14)


def test_on_cupy_each_function_is_fused_once_under_its_own_name(monkeypatch):
    """The CuPy branch, without a GPU: a stand-in ``cupy`` whose ``fuse`` records
    the kernel name and, like the real one given host arrays, runs the function."""
    import sys
    import types
    fused_names = []
    fake = types.ModuleType("cupy")
    fake.__getattr__ = lambda name: getattr(np, name)

    def fuse(kernel_name=None):
        def decorate(fn):
            fused_names.append(kernel_name)
            return fn
        return decorate
    fake.fuse = fuse
    monkeypatch.setitem(sys.modules, "cupy", fake)
    backend = tr.Backend("cupy", fake)
    seen = []

    def scale_into(xp, a, out):
        seen.append(xp)
        xp.multiply(a, 3.0, out=out)
    f = backend.pointwise(scale_into)
    assert backend.pointwise(scale_into) is f and fused_names == ["scale_into"]
    a, out = np.arange(3.0), np.empty(3)
    f(a, out)
    assert seen == [fake] and out.tolist() == [0.0, 3.0, 6.0]
