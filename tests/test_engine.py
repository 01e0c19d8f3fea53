"""The engine's contract: deep graphs, gradient accumulation, freeing the
graph, the in-place version check, grad modes, multi-output ops and dtypes.

Every test runs on each backend (the ``backend`` fixture) unless it is
about something backend-independent.
"""
from __future__ import annotations

import sys
import warnings

import numpy as np
import pytest

import tinyrnn as tr
from tinyrnn.autograd import Function

from opcase import randn


class CountingScale(Function):
    """y = k * x, counting how often backward runs (per class)."""

    calls = 0

    @staticmethod
    def forward(ctx, x, k=1.0):
        ctx.k = k
        return x * k

    @staticmethod
    def backward(ctx, dy):
        CountingScale.calls += 1
        return dy * ctx.k


@pytest.fixture
def counting():
    CountingScale.calls = 0
    return CountingScale


# ---- deep graphs ------------------------------------------------------------
def test_chain_of_10000_ops_backpropagates_without_recursion(backend, counting):
    assert sys.getrecursionlimit() < 10_000          # a recursive walk would fail
    x = tr.tensor(1.0, dtype="float64", requires_grad=True)
    y = x
    for _ in range(10_000):
        y = counting.apply(y, k=1.0001)
    y.backward()
    assert counting.calls == 10_000                  # each node's backward ran once
    assert x.grad.item() == pytest.approx(1.0001 ** 10_000, rel=1e-9)


def test_10000_step_recurrence_with_a_shared_weight(backend):
    """A BPTT-shaped graph: a weight used at every step accumulates 10,000
    contributions; d(w^N x)/dw = N w^(N-1) x."""
    x = tr.tensor([1.0], dtype="float64", requires_grad=True)
    w = tr.tensor([1.00005], dtype="float64", requires_grad=True)
    h = x
    for _ in range(10_000):
        h = h * w
    h.sum().backward()
    assert w.grad.item() == pytest.approx(10_000 * 1.00005 ** 9_999, rel=1e-9)
    assert x.grad.item() == pytest.approx(1.00005 ** 10_000, rel=1e-9)


def test_fan_out_nodes_run_backward_once(backend, counting):
    """Each step's output is used twice; still one backward per node, so the
    work is linear in the graph size (a naive per-path walk would be 2^N)."""
    x = tr.tensor(1.0, dtype="float64", requires_grad=True)
    y = x
    for _ in range(200):
        y = counting.apply(y, k=0.5)
        y = y + y                                   # two paths to the same node
    y.backward()
    assert counting.calls == 200
    assert x.grad.item() == pytest.approx(1.0)


@pytest.mark.parametrize("n", [1_000, 4_000])
def test_backward_work_is_linear_in_graph_size(backend, counting, n):
    x = tr.tensor(1.0, dtype="float64", requires_grad=True)
    y, branches = x, []
    for i in range(n):
        y = counting.apply(y, k=1.0)
        if i % 10 == 0:
            branches.append(counting.apply(y, k=2.0))
    loss = y
    for b in branches:
        loss = loss + b
    loss.backward()
    assert counting.calls == n + len(branches)
    assert x.grad.item() == pytest.approx(1.0 + 2.0 * len(branches))


# ---- accumulation --------------------------------------------------------------
def test_tensor_used_twice_accumulates(backend):
    x = randn(2, 3)
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.numpy(), rtol=1e-12)


def test_diamond_graph(backend):
    """x -> a -> (exp a, tanh a) -> sum: both paths add into a, then x."""
    x = randn(4)
    a = x * 2.0
    (a.exp() + a.tanh()).sum().backward()
    av = 2.0 * x.numpy()
    expected = 2.0 * (np.exp(av) + 1.0 - np.tanh(av) ** 2)
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12)


def test_grad_accumulates_across_backward_calls(backend):
    x = randn(3)
    (x * 3.0).sum().backward()
    (x * 3.0).sum().backward()                   # a new graph, same leaf
    np.testing.assert_allclose(x.grad.numpy(), np.full(3, 6.0))
    x.grad = None
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full(3, 3.0))


def test_unused_leaf_gets_no_grad(backend):
    x, unused = randn(3), randn(3)
    (x * 2.0).sum().backward()
    assert unused.grad is None


def test_backward_with_explicit_upstream_gradient(backend):
    x = randn(2, 3)
    u = np.arange(6.0).reshape(2, 3)
    (x * 2.0).backward(u)
    np.testing.assert_allclose(x.grad.numpy(), 2.0 * u)
    x.grad = None
    (x * 2.0).backward(tr.tensor(u, dtype="float64"))
    np.testing.assert_allclose(x.grad.numpy(), 2.0 * u)


def test_backward_from_a_leaf(backend):
    x = randn(3)
    x.backward(tr.ones(3, dtype="float64"))
    np.testing.assert_array_equal(x.grad.numpy(), np.ones(3))


# ---- freeing the graph ----------------------------------------------------------
def test_second_backward_through_freed_graph_is_a_clear_error(backend):
    x = randn(3)
    y = (x.tanh() * 2.0).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="already freed.*retain_graph=True"):
        y.backward()


def test_backward_into_a_freed_subgraph_is_a_clear_error(backend):
    """The truncated-BPTT mistake: reusing state from a chunk already backpropagated."""
    x = randn(3)
    h = x.tanh()
    (h * 2.0).sum().backward()
    with pytest.raises(RuntimeError, match="already freed.*detach"):
        (h * 3.0).sum().backward()


def test_retain_graph_allows_a_second_backward(backend):
    x = randn(3)
    y = (x.tanh() * 2.0).sum()
    y.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first, rtol=1e-12)


def test_backward_frees_saved_arrays(backend):
    x = randn(3)
    y = x.tanh()
    node = y._node
    y.sum().backward()
    assert node.saved is None and node.inputs is None


# ---- in-place modification (the version counter) ---------------------------------
def test_saved_input_modified_in_place_is_detected(backend):
    x, w = randn(3), randn(3, requires_grad=False)
    y = x * w                                    # Mul saves w for dx = dy * w
    with tr.no_grad():
        w.add_(1.0)
    with pytest.raises(RuntimeError, match=r"mul: .*saved for backward.*modified in place"):
        y.sum().backward()


@pytest.mark.parametrize("modify", [
    lambda t: t.mul_(2.0), lambda t: t.zero_(), lambda t: t.fill_(0.5),
    lambda t: t.copy_(np.ones(3)), lambda t: t.__setitem__(0, 1.0),
])
def test_every_in_place_method_bumps_the_version(backend, modify):
    x, w = randn(3), randn(3, requires_grad=False)
    y = x * w
    modify(w)
    with pytest.raises(RuntimeError, match="modified in place"):
        y.sum().backward()


def test_saved_output_modified_in_place_is_detected(backend):
    x = randn(3)
    y = x.exp()                                  # Exp saves its output
    with tr.no_grad():
        y.mul_(2.0)
    with pytest.raises(RuntimeError, match="exp: its output .* modified in place"):
        y.sum().backward()


def test_in_place_on_an_unsaved_input_is_allowed(backend):
    """Add saves nothing, so changing its input afterwards is harmless."""
    x, w = randn(3), randn(3, requires_grad=False)
    y = x + w
    w.add_(1.0)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones(3))


def test_setitem_on_a_tensor_that_requires_grad_is_refused(backend):
    x = randn(3)
    with pytest.raises(RuntimeError, match="setitem: .*no_grad"):
        x[0] = 1.0
    with tr.no_grad():
        x[0] = 1.0                               # an optimizer-style update
    assert x.numpy()[0] == 1.0


# ---- grad modes, detach, retain_grad ---------------------------------------------
def test_no_grad_context_manager(backend):
    x = randn(3)
    with tr.no_grad():
        y = x * 2.0
        assert not tr.is_grad_enabled()
        with tr.enable_grad():
            z = x * 2.0
    assert tr.is_grad_enabled()
    assert not y.requires_grad and y.is_leaf
    assert z.requires_grad and not z.is_leaf


def test_no_grad_restores_the_mode_after_an_exception(backend):
    with pytest.raises(ZeroDivisionError):
        with tr.no_grad():
            1 / 0
    assert tr.is_grad_enabled()


def test_no_grad_decorator(backend):
    @tr.no_grad()
    def double(t):
        assert not tr.is_grad_enabled()
        return t * 2.0

    y = double(randn(3))
    assert not y.requires_grad and tr.is_grad_enabled()


def test_detach_cuts_the_graph_and_shares_data(backend):
    x = randn(3)
    d = x.detach()
    assert not d.requires_grad and d.is_leaf and d.data is x.data
    (d * 2.0 + x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones(3))


def test_detached_state_truncates_backpropagation(backend, counting):
    """Truncated BPTT: only the steps after the detach are walked."""
    h = randn(2)
    for _ in range(5):
        h = counting.apply(h, k=0.9)
    h = h.detach().requires_grad_()
    start = h
    for _ in range(3):
        h = counting.apply(h, k=0.9)
    h.sum().backward()
    assert counting.calls == 3
    np.testing.assert_allclose(start.grad.numpy(), np.full(2, 0.9 ** 3))


def test_retain_grad_on_intermediates(backend):
    x = randn(3)
    h = (x * 2.0).retain_grad()
    other = x * 3.0
    (h * h + other).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), 2 * h.numpy(), rtol=1e-12)
    assert other.grad is None                    # not asked for: not kept


def test_split_with_some_outputs_unused(backend):
    x = randn(5, 2)
    a, b, c = tr.split(x, [2, 2, 1])
    (a * 2.0).sum().backward()
    expected = np.zeros((5, 2))
    expected[:2] = 2.0
    np.testing.assert_array_equal(x.grad.numpy(), expected)


def test_split_outputs_used_in_different_places(backend):
    x = randn(4)
    a, b = tr.split(x, 2)
    (a * b).sum().backward()
    xv = x.numpy()
    np.testing.assert_allclose(x.grad.numpy(), np.concatenate([xv[2:], xv[:2]]))


# ---- dtypes -------------------------------------------------------------------
def test_float32_is_the_default(backend):
    f32 = tr.zeros(1).dtype
    assert "float32" in str(f32)
    for t in (tr.tensor([1.0, 2.0]), tr.tensor(1.5), tr.tensor([[1, 2]], dtype="float32"),
              tr.randn(2), tr.rand(2), tr.ones(2), tr.full((2,), 3.0)):
        assert t.dtype == f32


SCALAR_OPERANDS = {
    "mul": lambda x: x * 2.5, "rmul": lambda x: 2.5 * x, "add_int": lambda x: x + 1,
    "rsub": lambda x: 1.0 - x, "div": lambda x: x / 3.0, "rdiv": lambda x: 3.0 / x,
    "pow_int": lambda x: x ** 2, "pow_float": lambda x: x ** 0.5,
    "maximum": lambda x: tr.maximum(x, 0.1), "minimum": lambda x: tr.minimum(0.1, x),
    "where": lambda x: tr.where(x > 1.0, x, 0.0), "clip": lambda x: x.clip(0.5, 1.5),
    "np_mul": lambda x: x * np.float64(2.5), "np_rmul": lambda x: np.float64(2.5) * x,
    "np_add": lambda x: x + np.float64(1.0), "np_div": lambda x: x / np.float64(3.0),
    "np_pow": lambda x: x ** np.float64(2.0),
    "np_maximum": lambda x: tr.maximum(x, np.float64(0.1)),
    "np_where": lambda x: tr.where(x > 1.0, x, np.float64(0.0)),
    "np_clip": lambda x: x.clip(np.float64(0.5), np.float64(1.5)),
    "np_int": lambda x: x * np.int64(2), "list": lambda x: x + [1.0, 2.0, 3.0],
}


@pytest.mark.parametrize("name", sorted(SCALAR_OPERANDS))
def test_scalars_do_not_promote_float32(backend, name):
    x = tr.tensor([0.5, 1.0, 2.0], requires_grad=True)
    y = SCALAR_OPERANDS[name](x)
    assert y.dtype == x.dtype
    y.sum().backward()
    assert x.grad.dtype == x.dtype


def test_float64_stays_float64(backend):
    x = tr.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    y = (x * 2.5).tanh().sum()
    assert "float64" in str(y.dtype)
    y.backward()
    assert x.grad.dtype == x.dtype


def test_numpy_data_keeps_its_dtype(backend):
    assert "float64" in str(tr.tensor(np.ones(2)).dtype)
    assert "float64" in str(tr.tensor(np.float64(2.0)).dtype)
    assert "int64" in str(tr.tensor(np.arange(3)).dtype)
    assert "float32" in str(tr.tensor(np.ones(2), dtype="float32").dtype)


# ---- documented behaviour at kinks and extremes -------------------------------------
def test_max_ties_share_the_gradient_equally(backend):
    x = tr.tensor([1.0, 3.0, 3.0, 3.0], dtype="float64", requires_grad=True)
    x.max().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 1 / 3, 1 / 3, 1 / 3])


def test_maximum_ties_share_the_gradient_equally(backend):
    a = tr.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    b = tr.tensor([1.0, 0.0], dtype="float64", requires_grad=True)
    tr.maximum(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [0.5, 1.0])
    np.testing.assert_array_equal(b.grad.numpy(), [0.5, 0.0])


def test_relu_gradient_at_zero_is_zero(backend):
    x = tr.tensor([-1.0, 0.0, 1.0], requires_grad=True)
    x.relu().sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 1.0])


def test_sigmoid_is_stable_for_large_inputs(backend):
    x = tr.tensor([-1000.0, -50.0, 0.0, 50.0, 1000.0], requires_grad=True)
    y = x.sigmoid()                               # RuntimeWarnings are errors here
    y.sum().backward()
    np.testing.assert_allclose(y.numpy(), [0.0, 1.9287499e-22, 0.5, 1.0, 1.0], rtol=1e-6)
    assert np.all(np.isfinite(x.grad.numpy()))


def test_cross_entropy_is_stable_for_large_logits(backend):
    logits = tr.tensor([[1e4, 0.0, -1e4], [0.0, 1e4, 1e4]], requires_grad=True)
    loss = tr.cross_entropy(logits, tr.tensor([1, 2]), reduction="none")
    np.testing.assert_allclose(loss.numpy(), [1e4, np.log(2.0)], rtol=1e-6)
    loss.sum().backward()
    np.testing.assert_allclose(logits.grad.numpy(), [[1, -1, 0], [0, 0.5, -0.5]], atol=1e-6)


def test_cross_entropy_all_ignored_is_zero(backend):
    logits = tr.randn(2, 3, requires_grad=True)
    loss = tr.cross_entropy(logits, tr.tensor([-100, -100]))
    assert loss.item() == 0.0
    loss.backward()
    np.testing.assert_array_equal(logits.grad.numpy(), np.zeros((2, 3)))


def test_logsumexp_of_all_minus_infinity_is_minus_infinity(backend):
    x = tr.tensor([[-np.inf, -np.inf], [0.0, 1.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)    # log(0), as NumPy warns
        y = tr.logsumexp(x, axis=1).numpy()
    np.testing.assert_allclose(y, [-np.inf, np.log(1 + np.e)])     # not NaN


def test_dropout_train_eval_and_seed(backend):
    x = tr.ones(200, 50)
    assert tr.dropout(x, 0.3, training=False) is x
    assert tr.dropout(x, 0.0) is x
    tr.manual_seed(5)
    a = tr.dropout(x, 0.3).numpy()
    tr.manual_seed(5)
    b = tr.dropout(x, 0.3).numpy()
    np.testing.assert_array_equal(a, b)
    assert set(np.unique(a)) <= {0.0, np.float32(1 / 0.7)}
    assert abs((a == 0).mean() - 0.3) < 0.02
