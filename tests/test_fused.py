"""The fused sequence kernels agree with cells composed from ops.

The composed cells below are the readable definitions (one op per line of
the equations); the fused kernels must give the same outputs and the same
gradients for every input, in float64 to 1e-10, on every backend. Gate
orders are checked against PyTorch when it is installed, and the kernels'
own gradients by ``tinyrnn.gradcheck`` (the full element-wise cases live in
``opcases_fused.py``).
"""
from __future__ import annotations

import numpy as np
import pytest

import tinyrnn as tr
from tinyrnn.ops.fused import gru_sequence, lstm_sequence, rnn_sequence

B, I, H = 3, 4, 5
TOL = 1e-10


# ---- the composed reference cells (PyTorch layouts and gate orders) ----------
def _affine(x, w, b):
    y = x @ w.T
    return y if b is None else y + b


def composed_rnn(x, h, w_ih, w_hh, b_ih, b_hh, nonlinearity="tanh"):
    f = tr.tanh if nonlinearity == "tanh" else tr.relu
    outs = []
    for t in range(x.shape[0]):
        h = f(_affine(x[t], w_ih, b_ih) + _affine(h, w_hh, b_hh))
        outs.append(h)
    return tr.stack(outs), h


def composed_lstm(x, h, c, w_ih, w_hh, b_ih, b_hh):
    n = w_hh.shape[1]
    outs = []
    for t in range(x.shape[0]):
        z = _affine(x[t], w_ih, b_ih) + _affine(h, w_hh, b_hh)
        i, f, g, o = tr.split(z, n, axis=1)
        c = tr.sigmoid(f) * c + tr.sigmoid(i) * tr.tanh(g)
        h = tr.sigmoid(o) * tr.tanh(c)
        outs.append(h)
    return tr.stack(outs), h, c


def composed_gru(x, h, w_ih, w_hh, b_ih, b_hh):
    n = w_hh.shape[1]
    outs = []
    for t in range(x.shape[0]):
        a_r, a_z, a_n = tr.split(_affine(x[t], w_ih, b_ih), n, axis=1)
        q_r, q_z, q_n = tr.split(_affine(h, w_hh, b_hh), n, axis=1)
        r, z = tr.sigmoid(a_r + q_r), tr.sigmoid(a_z + q_z)
        cand = tr.tanh(a_n + r * q_n)
        h = (1 - z) * cand + z * h
        outs.append(h)
    return tr.stack(outs), h


KINDS = {  # name: (gates, number of states, fused, composed)
    "rnn_tanh": (1, 1, rnn_sequence, composed_rnn),
    "rnn_relu": (1, 1, lambda *a: rnn_sequence(*a, nonlinearity="relu"),
                 lambda *a: composed_rnn(*a, nonlinearity="relu")),
    "lstm": (4, 2, lstm_sequence, composed_lstm),
    "gru": (3, 1, gru_sequence, composed_gru),
}


def _inputs(gates, states, T, bias):
    rng = np.random.default_rng(7)

    def t(*shape, scale=1.0):
        return tr.tensor(scale * rng.standard_normal(shape), dtype="float64",
                         requires_grad=True)
    xs = [t(T, B, I)] + [t(B, H) for _ in range(states)]
    ws = [t(gates * H, I, scale=0.5), t(gates * H, H, scale=0.5)]
    bs = [t(gates * H), t(gates * H)] if bias else [None, None]
    return xs + ws + bs


def _run(fn, inputs, upstream, retain_graph=False):
    """Outputs and the gradients of sum_k <out_k, upstream_k> for every input."""
    for x in inputs:
        if x is not None:
            x.grad = None
    outs = fn(*inputs)
    loss = sum((o * tr.tensor(u, dtype="float64")).sum() for o, u in zip(outs, upstream))
    loss.backward(retain_graph=retain_graph)
    grads = [None if x is None else x.grad.numpy() for x in inputs]
    return [o.numpy() for o in outs], grads, loss


@pytest.mark.parametrize("T", [1, 5])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_fused_equals_composed(backend, kind, bias, T):
    gates, states, fused, composed = KINDS[kind]
    inputs = _inputs(gates, states, T, bias)
    rng = np.random.default_rng(1)
    shapes = [(T, B, H)] + [(B, H)] * states
    upstream = [rng.standard_normal(s) for s in shapes]
    outs_f, grads_f, _ = _run(fused, inputs, upstream)
    outs_c, grads_c, _ = _run(composed, inputs, upstream)
    for k, (a, b) in enumerate(zip(outs_f, outs_c)):
        assert a.shape == b.shape
        assert np.max(np.abs(a - b)) < TOL, f"{kind}: output {k} differs"
    for k, (a, b) in enumerate(zip(grads_f, grads_c)):
        if inputs[k] is None:
            continue
        assert np.max(np.abs(a - b)) < TOL, f"{kind}: gradient of input {k} differs"


@pytest.mark.parametrize("kind", list(KINDS))
def test_retained_graph_gives_the_same_gradients_twice(backend, kind):
    """With retain_graph the kernel must not overwrite what it saved: a second
    backward gives the same gradients, and so does a fresh single backward."""
    gates, states, fused, _ = KINDS[kind]
    inputs = _inputs(gates, states, 4, True)
    upstream = [np.random.default_rng(2).standard_normal((4, B, H))]
    only_out = lambda *a: fused(*a)[:1]                       # noqa: E731
    _, once, loss = _run(only_out, inputs, upstream, retain_graph=True)
    for x in inputs:
        x.grad = None
    loss.backward()
    twice = [x.grad.numpy() for x in inputs]
    _, fresh, _ = _run(only_out, inputs, upstream)
    for a, b, c in zip(once, twice, fresh):
        np.testing.assert_allclose(a, b, rtol=0, atol=TOL)
        np.testing.assert_allclose(a, c, rtol=0, atol=TOL)


@pytest.mark.parametrize("kind", list(KINDS))
def test_backward_leaves_the_callers_gradients_alone(kind):
    """The kernels work in place on their own buffers, never on the upstream
    gradients handed in: an array the caller passes to backward() (for h_n, c_n
    or the outputs) is unchanged afterwards, and two parameters' .grad never
    share memory."""
    gates, states, fused, _ = KINDS[kind]
    inputs = _inputs(gates, states, 3, True)
    outs = fused(*inputs)
    rng = np.random.default_rng(5)
    for k, out in enumerate(outs):
        upstream = rng.standard_normal(out.shape)
        kept = upstream.copy()
        out.backward(upstream, retain_graph=k < len(outs) - 1)
        np.testing.assert_array_equal(upstream, kept)
    grads = [x.grad.data for x in inputs if x.grad is not None]
    for i, a in enumerate(grads):
        for b in grads[i + 1:]:
            assert not np.shares_memory(a, b)


@pytest.mark.parametrize("kind", list(KINDS))
def test_gradcheck_longer_sequence(backend, kind):
    """Directional gradient check at T=6 with a different B and H than the opcases."""
    gates, states, fused, _ = KINDS[kind]
    inputs = _inputs(gates, states, 6, True)
    assert tr.gradcheck(fused, inputs, fast=True, seed=3)


def test_zero_initial_state_and_float32(backend):
    x = tr.randn(4, 2, 3)
    w_ih, w_hh = tr.randn(8, 3), tr.randn(8, 2)
    out, h_n, c_n = lstm_sequence(x, None, None, w_ih, w_hh)
    zeros = tr.zeros(2, 2)
    out2, _, _ = lstm_sequence(x, zeros, zeros, w_ih, w_hh)
    assert out.shape == (4, 2, 2) and h_n.shape == (2, 2) and c_n.shape == (2, 2)
    assert out.dtype == x.dtype
    np.testing.assert_array_equal(out.numpy(), out2.numpy())
    np.testing.assert_array_equal(h_n.numpy(), out.numpy()[-1])


def test_carried_state_is_a_copy():
    """h_n must not be a view of the (T+1, B, H) buffer, or a carried state
    would keep the whole chunk alive (memory growing under truncated BPTT)."""
    x = tr.randn(3, 2, 4)
    out, h_n = gru_sequence(x, None, tr.randn(9, 4), tr.randn(9, 3))
    assert not np.shares_memory(h_n.data, out.data)


def test_modified_weight_is_refused_in_backward():
    x = tr.randn(3, 2, 4)
    w_ih = tr.randn(3, 4, requires_grad=True)
    out, _ = rnn_sequence(x, None, w_ih, tr.randn(3, 3))
    with tr.no_grad():
        w_ih.add_(1.0)
    with pytest.raises(RuntimeError, match="modified in place"):
        out.sum().backward()


@pytest.mark.parametrize("call, message", [
    (lambda: rnn_sequence(tr.randn(3, 4), None, tr.randn(5, 4), tr.randn(5, 5)),
     r"rnn_sequence: x must be \(T, B, I\)"),
    (lambda: lstm_sequence(tr.randn(3, 2, 4), None, None, tr.randn(20, 4), tr.randn(5, 5)),
     r"lstm_sequence: weight_hh must be \(4\*H, H\); got \(5, 5\)"),
    (lambda: gru_sequence(tr.randn(3, 2, 4), None, tr.randn(15, 3), tr.randn(15, 5)),
     r"gru_sequence: weight_ih has shape \(15, 3\); expected \(15, 4\)"),
    (lambda: gru_sequence(tr.randn(3, 2, 4), None, tr.randn(15, 4), tr.randn(15, 5),
                          tr.randn(5)),
     r"gru_sequence: bias_ih has shape \(5,\); expected \(15,\)"),
    (lambda: rnn_sequence(tr.randn(3, 2, 4), tr.randn(3, 5), tr.randn(5, 4), tr.randn(5, 5)),
     r"rnn_sequence: initial state h0 must be \(B, H\) = \(2, 5\); got \(3, 5\)"),
    (lambda: rnn_sequence(tr.randn(3, 2, 4), None, tr.randn(5, 4, dtype="float64"),
                          tr.randn(5, 5)),
     r"rnn_sequence: all tensors must share x's dtype"),
    (lambda: rnn_sequence(tr.randn(3, 2, 4), None, tr.randn(5, 4), tr.randn(5, 5),
                          nonlinearity="sigmoid"),
     r"rnn_sequence: nonlinearity must be 'tanh' or 'relu'"),
])
def test_bad_input_errors(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


def test_matches_pytorch_layouts():
    """Weights in PyTorch's layout give PyTorch's outputs (gate orders i,f,g,o / r,z,n)."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    x = rng.standard_normal((6, B, I))
    for kind, module, states in (("rnn", torch.nn.RNN, 1), ("lstm", torch.nn.LSTM, 2),
                                 ("gru", torch.nn.GRU, 1)):
        ref = module(I, H).double()
        h0 = [rng.standard_normal((1, B, H)) for _ in range(states)]
        with torch.no_grad():
            state = tuple(torch.tensor(h) for h in h0)
            out_ref, _ = ref(torch.tensor(x), state if states == 2 else state[0])
        params = [tr.tensor(p.detach().numpy()) for p in
                  (ref.weight_ih_l0, ref.weight_hh_l0, ref.bias_ih_l0, ref.bias_hh_l0)]
        fused = {"rnn": rnn_sequence, "lstm": lstm_sequence, "gru": gru_sequence}[kind]
        out = fused(tr.tensor(x), *[tr.tensor(h[0]) for h in h0], *params)[0]
        np.testing.assert_allclose(out.numpy(), out_ref.numpy(), rtol=0, atol=1e-12)
