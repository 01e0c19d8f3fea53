"""tinyrnn.viz.record: what it records and computes is checked against independent
formulas and against the layers it looks into."""
from __future__ import annotations

import numpy as np
import pytest

import tinyrnn as tr
from tinyrnn import nn, ops
from tinyrnn.charlm import CharLM
from tinyrnn.viz import record as inspect


def test_signals_on_a_small_program():
    text = 'x = "a#b"  # q\'s\n\tif \'c\\\'d\':\n  """doc\nz"""\n'
    s = inspect.inside_string(text)
    inside = "".join(ch for ch, v in zip(text, s) if v)
    assert inside == '"a#b' + "'c\\'d" + '"""doc\nz'
    lines = text.split("\n")
    col = inspect.line_position(text)
    assert col[len(lines[0]) - 1] == len(lines[0]) and col[len(lines[0])] == 0
    depth = inspect.indent_depth(text)
    second = len(lines[0]) + 1
    assert depth[second] == 4 and depth[second + 5] == 4      # a tab counts 4
    third = second + len(lines[1]) + 1
    assert list(depth[third:third + 3]) == [1, 2, 2]
    assert depth[len(text) - 1] == 0                            # the final newline


def test_rank_units_orders_by_absolute_correlation():
    rng = np.random.default_rng(0)
    signal = rng.random(200)
    acts = np.stack([-signal + 0.01 * rng.standard_normal(200),     # follows, sign -
                     rng.standard_normal(200),                       # noise
                     np.full(200, 0.3),                              # constant: r = 0
                     signal + 0.5 * rng.standard_normal(200)], axis=1)
    ranked = inspect.rank_units(acts, signal)
    assert [u for u, _ in ranked][:2] == [0, 3]
    assert ranked[0][1] < -0.99 and 0 < ranked[1][1] < 0.9
    assert dict(ranked)[2] == 0.0
    r3 = np.corrcoef(acts[:, 3], signal)[0, 1]
    assert dict(ranked)[3] == pytest.approx(r3, rel=1e-12)
    assert inspect.rank_units(acts, signal > 0.5, top=1)[0][0] == 0     # a predicate works too
    with pytest.raises(ValueError, match="rank_units: signal has 5 values"):
        inspect.rank_units(acts, signal[:5])


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_trace_matches_the_fused_layer(cell, backend):
    model = CharLM(7, hidden_size=5, num_layers=2, cell=cell)
    ids = np.array([[1, 2], [3, 0], [6, 6], [2, 5]])              # (T=4, B=2)
    records = inspect.trace(model, ids)
    with tr.no_grad():
        out, states = model.rnn(model.embedding(tr.tensor(ids)))   # fused kernels
    assert len(records) == 2
    np.testing.assert_allclose(records[1]["h"], out.numpy(), rtol=1e-5, atol=1e-6)
    gates = {"lstm": {"i", "f", "o", "c"}, "gru": {"r", "z"}, "rnn": set()}[cell]
    assert set(records[0]) == {"h"} | gates
    for name in gates - {"c"}:
        assert records[0][name].shape == (4, 2, 5)
        assert ((records[0][name] > 0) & (records[0][name] < 1)).all()
    if cell == "lstm":       # h = o * tanh(c) at every step, from the recorded values
        rec = records[1]
        np.testing.assert_allclose(rec["h"], rec["o"] * np.tanh(rec["c"]), rtol=1e-5,
                                   atol=1e-6)
        np.testing.assert_allclose(rec["c"][-1], states[1][1].numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(inspect.unit_values(records, 1), np.tanh(rec["c"][:, 0]))
    else:
        with pytest.raises(ValueError, match="kind='cell' needs an LSTM"):
            inspect.unit_values(records, 0, kind="cell")
    assert model.training                                          # mode restored


def test_trace_records_rwa_log_weights():
    layer = nn.RWA(3, 4, num_layers=2)
    x = tr.randn(6, 2, 3)
    records = inspect.trace(layer, x)
    with tr.no_grad():
        _, _, weights = layer(x, return_weights=True)
    for rec, a in zip(records, weights):
        np.testing.assert_allclose(rec["a"], a.numpy(), rtol=1e-6)


def test_trace_rejects_other_objects():
    with pytest.raises(TypeError, match="trace: expected a CharLM-like model"):
        inspect.trace(object(), np.zeros((3, 1), dtype=np.int64))


def _reference_rnn_norms(cell, x, v):
    """dL/dh_t for L = sum_b v . h_T by hand: dh_{t-1} = W_hh^T ((1 - h_t^2) dh_t)."""
    W_ih, W_hh = cell.weight_ih.numpy(), cell.weight_hh.numpy()
    b = cell.bias_ih.numpy() + cell.bias_hh.numpy()
    h, hs = np.zeros((x.shape[1], W_hh.shape[0])), []
    for x_t in x:
        h = np.tanh(x_t @ W_ih.T + h @ W_hh.T + b)
        hs.append(h)
    g, norms = np.tile(v, (x.shape[1], 1)), []
    for h in reversed(hs):
        norms.append(np.linalg.norm(g, axis=1).mean())
        g = ((1 - h ** 2) * g) @ W_hh
    return np.array(norms[::-1])


def test_bptt_gradient_norms_against_a_hand_derivation():
    cell = nn.RNNCell(3, 6).double()
    x = np.random.default_rng(2).standard_normal((9, 4, 3))
    norms = inspect.bptt_gradient_norms(cell, x, seed=5)
    v = np.random.default_rng(5).standard_normal(6)
    v /= np.linalg.norm(v)
    np.testing.assert_allclose(norms, _reference_rnn_norms(cell, x, v), rtol=1e-10)
    assert norms[-1] == pytest.approx(1.0)
    assert all(p.grad is None for p in cell.parameters())     # left as they were


@pytest.mark.parametrize("make", [lambda: nn.LSTMCell(3, 5), lambda: nn.GRUCell(3, 5),
                                  lambda: nn.RWACell(3, 5)])
def test_stepwise_bptt_without_effective_clip_equals_one_backward(make):
    cell = make().double()
    x = np.random.default_rng(3).standard_normal((8, 2, 3))
    full = inspect.bptt_gradient_norms(cell, x)
    np.testing.assert_allclose(inspect.bptt_gradient_norms(cell, x, clip=1e9), full, rtol=1e-12)


def test_clipping_bounds_exploding_gradients():
    cell = nn.RNNCell(2, 16).double()
    with tr.no_grad():
        cell.weight_hh.data = cell.weight_hh.data * 6.0          # spectral radius >> 1
    x = 0.1 * np.random.default_rng(4).standard_normal((30, 3, 2))
    free = inspect.bptt_gradient_norms(cell, x)
    clipped = inspect.bptt_gradient_norms(cell, x, clip=0.5)
    assert free[0] > 100 * free[-1]                               # exploding
    assert clipped[:-1].max() <= 0.5 + 1e-9 and clipped[-1] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="clip must be positive"):
        inspect.bptt_gradient_norms(cell, x, clip=0.0)
    with pytest.raises(ValueError, match=r"x has shape \(30, 3\)"):
        inspect.bptt_gradient_norms(cell, x[:, :, 0])


# ---- cells report their own internals ----------------------------------------------------
class _LSTMSubclass(nn.LSTMCell):
    """A subclass that changes nothing: it must be traced like an LSTMCell."""


def test_a_subclass_of_lstm_cell_is_traced_unchanged():
    sub, plain = _LSTMSubclass(3, 4).double(), nn.LSTMCell(3, 4).double()
    plain.load_state_dict(sub.state_dict())
    x = np.random.default_rng(7).standard_normal((5, 2, 3))
    got = inspect.trace(nn.Recurrent([sub]), x)
    want = inspect.trace(nn.Recurrent([plain]), x)
    assert set(got[0]) == {"h", "c", "i", "f", "o"}
    for name in want[0]:
        np.testing.assert_array_equal(got[0][name], want[0][name])


class _GatedLeak(nn.Cell):
    """A cell inspect has never heard of: h' = u * h + (1 - u) * tanh(W x), u = sigmoid(w)."""

    def __init__(self, input_size, hidden_size):
        super().__init__(input_size, hidden_size)
        self.weight = nn.Parameter(np.full((hidden_size, input_size), 0.3))
        self.leak = nn.Parameter(np.linspace(-2.0, 2.0, hidden_size))

    def state_shapes(self, batch_size):
        return {"h": (batch_size, self.hidden_size)}

    def step(self, x, h):
        u = ops.broadcast_to(ops.sigmoid(self.leak), h.shape)
        h = u * h + (1 - u) * ops.tanh(ops.matmul(x, self.weight.T))
        return h, h, {"u": u}


def test_a_new_cell_is_traced_and_its_gates_found():
    layer = nn.Recurrent([_GatedLeak(3, 4)])
    x = np.random.default_rng(8).standard_normal((6, 2, 3))
    records = inspect.trace(layer, x)
    assert set(records[0]) == {"h", "u"}
    with tr.no_grad():
        out, _ = layer(tr.tensor(x))
    np.testing.assert_allclose(records[0]["h"], out.numpy(), rtol=1e-12)
    u = 1 / (1 + np.exp(-np.linspace(-2.0, 2.0, 4)))
    np.testing.assert_allclose(records[0]["u"], np.broadcast_to(u, (6, 2, 4)), rtol=1e-12)
    assert inspect.gate_names(records[0]) == ["u"]


def test_gate_names_skip_the_output_the_cell_and_unbounded_values():
    v = np.full((3, 2), 0.5)
    record = {"h": v, "c": v, "i": v, "a": v - 1.0, "g": v - 0.7, "z": v}
    assert inspect.gate_names(record) == ["i", "z"]
