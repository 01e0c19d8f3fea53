"""Backends: the strict device really catches NumPy leaks, backends never mix
silently, CuPy is optional with a clear error, and every op's outputs and
gradients stay on the backend (namespace and device) of its inputs.
"""
from __future__ import annotations

import sys
import types

import numpy as np
import pytest

import tinyrnn as tr
import tinyrnn.backend as backend_module
from tinyrnn.autograd import Function
from tinyrnn.backend import BackendError

from test_ops_gradcheck import CASES


def assert_lives_on(array, be: tr.Backend, what: str) -> None:
    """``array`` belongs to ``be``'s namespace and sits on its device."""
    module = type(array).__module__.split(".")[0]
    expected = {"numpy": "numpy", "strict": "array_api_strict", "cupy": "cupy"}[be.name]
    assert module == expected, f"{what} is a {type(array)}, not an array of {be.name}"
    if be.name == "strict":
        assert array.device == be.device, f"{what} is on {array.device}, not {be.device}"


# ---- the canary: the strict device catches NumPy leaks -----------------------------
class LeaksNumpyUfunc(Function):
    """A broken op: np.tanh instead of ctx.xp.tanh."""

    @staticmethod
    def forward(ctx, x):
        return np.tanh(x)

    @staticmethod
    def backward(ctx, dy):
        return dy


class LeaksNumpyArray(Function):
    """A broken op: a host array made with np.zeros mixed into device arrays."""

    @staticmethod
    def forward(ctx, x):
        return x + np.zeros(x.shape, dtype=np.float32)

    @staticmethod
    def backward(ctx, dy):
        return dy


@pytest.mark.parametrize("leaky", [LeaksNumpyUfunc, LeaksNumpyArray])
def test_canary_numpy_leak_raises_on_the_strict_device(leaky):
    x = tr.randn(2, 3, backend="strict")
    with pytest.raises((RuntimeError, TypeError)):
        leaky.apply(x)
    y = leaky.apply(tr.randn(2, 3, backend="numpy"))   # the same code "works" on NumPy
    assert y.shape == (2, 3)


def test_canary_raw_numpy_calls_on_strict_arrays_raise():
    data = tr.randn(3, backend="strict").data
    with pytest.raises(RuntimeError):
        np.tanh(data)
    with pytest.raises(RuntimeError):
        np.asarray(data)
    with pytest.raises(TypeError):
        data + np.ones(3)
    with pytest.raises(TypeError):
        data * np.float64(2.0)                         # a NumPy scalar leaks too


# ---- backends never mix silently -------------------------------------------------------
@pytest.mark.parametrize("op", [
    lambda a, b: a + b, lambda a, b: a * b, lambda a, b: a @ b,
    lambda a, b: tr.concat([a, b]), lambda a, b: tr.maximum(a, b),
])
def test_two_backends_in_one_op_is_a_clear_error(op):
    a, b = tr.randn(3, 3, backend="numpy"), tr.randn(3, 3, backend="strict")
    with pytest.raises(BackendError, match=r"different backends \(numpy and strict\).*\.to\("):
        op(a, b)


def test_to_moves_between_backends_and_keeps_requires_grad():
    x = tr.randn(2, 3, requires_grad=True)
    y = x.to("strict")
    assert y.backend.name == "strict" and y.requires_grad
    assert_lives_on(y.data, y.backend, "x.to('strict')")
    np.testing.assert_array_equal(y.numpy(), x.numpy())
    assert x.to("numpy") is x


def test_random_numbers_are_the_same_on_every_backend():
    tr.manual_seed(3)
    a = tr.randn(4, backend="numpy").numpy()
    tr.manual_seed(3)
    b = tr.randn(4, backend="strict").numpy()
    np.testing.assert_array_equal(a, b)


def test_scatter_add_accumulates_repeats(backend):
    be = tr.get_backend(backend)
    target = be.zeros((3, 2), dtype="float64")
    values = be.asarray(np.arange(8.0).reshape(4, 2), dtype="float64")
    out = be.scatter_add(target, be.asarray([0, 2, 0, 0]), values)
    np.testing.assert_array_equal(be.to_numpy(out), [[10, 13], [0, 0], [2, 3]])


# ---- CuPy: optional, with a clear error -------------------------------------------------
@pytest.fixture
def forget_cupy(monkeypatch):
    """Pretend nobody asked for the cupy backend yet (it is cached once made)."""
    monkeypatch.setattr(backend_module, "_backends",
                        {k: v for k, v in backend_module._backends.items() if k != "cupy"})
    return monkeypatch


def test_cupy_missing_names_the_gpu_extra(forget_cupy):
    forget_cupy.setitem(sys.modules, "cupy", None)      # makes `import cupy` fail
    with pytest.raises(BackendError, match=r"CuPy: pip install .*\[gpu\]"):
        tr.get_backend("cupy")


def test_cupy_without_a_device_says_so(forget_cupy):
    fake = types.ModuleType("cupy")
    fake.cuda = types.SimpleNamespace(is_available=lambda: False)
    forget_cupy.setitem(sys.modules, "cupy", fake)
    with pytest.raises(BackendError, match="no CUDA device"):
        tr.get_backend("cupy")


def test_cupy_with_a_broken_driver_says_so(forget_cupy):
    def broken():
        raise RuntimeError("cudaErrorInsufficientDriver")
    fake = types.ModuleType("cupy")
    fake.cuda = types.SimpleNamespace(is_available=broken)
    forget_cupy.setitem(sys.modules, "cupy", fake)
    with pytest.raises(BackendError, match="no usable CUDA device.*InsufficientDriver"):
        tr.get_backend("cupy")


def test_unknown_backend_lists_the_known_ones():
    with pytest.raises(BackendError, match="unknown backend 'jax'.*'numpy', 'cupy' or 'strict'"):
        tr.get_backend("jax")


@pytest.fixture
def cupy_backend():
    try:
        return tr.get_backend("cupy")
    except BackendError as err:
        pytest.skip(f"no GPU here: {err}")


@pytest.mark.gpu
def test_gpu_ops_and_gradients_stay_on_the_device(cupy_backend):
    x = tr.randn(4, 3, requires_grad=True, backend="cupy")
    w = tr.randn(3, 5, requires_grad=True, backend="cupy")
    loss = tr.cross_entropy(tr.tanh(x @ w), tr.tensor([0, 4, 2, 1], backend="cupy"))
    loss.backward()
    for t, what in ((loss, "loss"), (x.grad, "x.grad"), (w.grad, "w.grad")):
        assert_lives_on(t.data, cupy_backend, what)
    host = [t.to("numpy") for t in (x, w)]
    for t in host:
        t.requires_grad_()
    ref = tr.cross_entropy(tr.tanh(host[0] @ host[1]), tr.tensor([0, 4, 2, 1]))
    ref.backward()
    np.testing.assert_allclose(w.grad.numpy(), host[1].grad.numpy(), rtol=1e-4, atol=1e-6)


@pytest.mark.gpu
def test_gpu_out_of_range_index_raises_instead_of_wrapping(cupy_backend):
    weight = tr.randn(5, 3, backend="cupy")
    with pytest.raises(IndexError, match="out of range"):
        tr.embedding(tr.tensor([0, 5], backend="cupy"), weight)


@pytest.mark.gpu
def test_gpu_scatter_add_accumulates_repeats(cupy_backend):
    target = cupy_backend.zeros((3,), dtype="float32")
    out = cupy_backend.scatter_add(target, cupy_backend.asarray([1, 1, 2]),
                                   cupy_backend.asarray([1.0, 2.0, 3.0], dtype="float32"))
    np.testing.assert_array_equal(cupy_backend.to_numpy(out), [0.0, 3.0, 3.0])


# ---- every op keeps its results on the inputs' backend ---------------------------------
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_outputs_and_grads_stay_on_the_backend(case, backend):
    be = tr.get_backend(backend)
    inputs = case.make_inputs()
    out = case.fn(*inputs)
    outs = [o for o in (out if isinstance(out, (tuple, list)) else [out])
            if isinstance(o, tr.Tensor)]
    for k, o in enumerate(outs):
        assert o.backend is be
        assert_lives_on(o.data, be, f"{case.name} output {k}")
    loss = None
    for o in outs:
        if o.requires_grad:
            loss = o.sum() if loss is None else loss + o.sum()
    loss.backward()
    for k, x in enumerate(inputs):
        if isinstance(x, tr.Tensor) and x.grad is not None:
            assert_lives_on(x.grad.data, be, f"{case.name} grad of input {k}")
            assert x.grad.shape == x.shape and x.grad.dtype == x.dtype


# ---- float32 discipline: nothing is promoted to float64 on the way ----------------------
@pytest.fixture
def no_float64(monkeypatch):
    """array_api_strict's "no_float64" device, which refuses any float64 array,
    installed as the default backend for one test."""
    xs = pytest.importorskip("array_api_strict")
    be = tr.Backend("strict", xs, xs.Device("no_float64"))
    monkeypatch.setitem(backend_module._backends, "no_float64", be)
    monkeypatch.setattr(backend_module, "_default", "no_float64")
    return be


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_float32_forward_and_backward_never_make_float64(case, no_float64, monkeypatch):
    monkeypatch.setattr(backend_module, "_default", "numpy")
    inputs = case.make_inputs()                       # float64 on NumPy, then cast
    monkeypatch.setattr(backend_module, "_default", "no_float64")
    inputs = [tr.tensor(x.numpy().astype(np.float32) if x.numpy().dtype == np.float64
                        else x.numpy(), backend=no_float64, requires_grad=x.requires_grad)
              if isinstance(x, tr.Tensor) else x for x in inputs]
    out = case.fn(*inputs)
    outs = [o for o in (out if isinstance(out, (tuple, list)) else [out])
            if isinstance(o, tr.Tensor)]
    loss = None
    for o in outs:
        if o.requires_grad:
            loss = o.sum() if loss is None else loss + o.sum()
    loss.backward()
    for x in inputs:
        if isinstance(x, tr.Tensor) and x.grad is not None:
            assert x.grad.dtype == x.dtype
