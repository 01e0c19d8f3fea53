"""RWACell: gradients, an independent reference from the paper's definition,
numerical stability, chunked runs, and bad input."""
import math

import numpy as np
import pytest

import tinyrnn
from tinyrnn.check import gradcheck_module
from tinyrnn.nn.rwa import RWACell, M_START

I, H, B, T = 3, 4, 2, 5


def randomise(cell, scale=1.0, seed=1):
    """Give every parameter (biases and s too) random values, so the reference
    test cannot pass by zeros hiding a mistake."""
    rng = np.random.default_rng(seed)
    cell.load_state_dict({name: scale * rng.uniform(-1, 1, p.shape)
                          for name, p in cell.named_parameters()})
    return cell


def run(cell, xs, state=None):
    """Run ``cell`` over xs (T, B, I): (outputs (T, B, H), final state)."""
    outs = []
    for t in range(xs.shape[0]):
        h, state = cell(xs[t], state)
        outs.append(h)
    return tinyrnn.stack(outs), state


def run_recording(cell, xs, state=None):
    """``run`` through ``step_with_internals``, also returning the log-weights
    a_t the cell reports at each step: (outputs, final state, [a_1 .. a_T])."""
    outs, log_weights = [], []
    for t in range(xs.shape[0]):
        h, state, inside = cell.step_with_internals(xs[t], state)
        outs.append(h)
        log_weights.append(inside["a"])
    return tinyrnn.stack(outs), state, log_weights


def reference(params, xs):
    """h_t = tanh(sum_{i<=t} z_i e^{a_i} / sum_{i<=t} e^{a_i}), the definition,
    for every example, in float64. ``stable`` shifts each sum by its largest
    log-weight (the same number, written so that e^a cannot overflow)."""
    Wu, bu, Wg, bg, Wa, s = (params[k].astype(np.float64) for k in
                             ("weight_u", "bias_u", "weight_g", "bias_g", "weight_a", "s"))
    T, B, _ = xs.shape
    out = np.zeros((T, B, Wu.shape[0]))
    for b in range(B):
        h, zs, as_ = np.tanh(s), [], []
        for t in range(T):
            x = xs[t, b]
            xh = np.concatenate([x, h])
            zs.append((Wu @ x + bu) * np.tanh(Wg @ xh + bg))
            as_.append(Wa @ xh)
            a, z = np.array(as_), np.array(zs)           # (t+1, H)
            w = np.exp(a - a.max(axis=0))                # the same ratio, overflow-free
            h = np.tanh((z * w).sum(axis=0) / w.sum(axis=0))
            out[t, b] = h
    return out


def reference_plain(params, xs):
    """The definition with no shifting at all (only for moderate a)."""
    Wu, bu, Wg, bg, Wa, s = (params[k].astype(np.float64) for k in
                             ("weight_u", "bias_u", "weight_g", "bias_g", "weight_a", "s"))
    T, B, _ = xs.shape
    out = np.zeros((T, B, Wu.shape[0]))
    for b in range(B):
        h, num, den = np.tanh(s), 0.0, 0.0
        for t in range(T):
            x = xs[t, b]
            xh = np.concatenate([x, h])
            z = (Wu @ x + bu) * np.tanh(Wg @ xh + bg)
            num, den = num + z * np.exp(Wa @ xh), den + np.exp(Wa @ xh)
            h = np.tanh(num / den)
            out[t, b] = h
    return out


# ---- initialisation and shapes ------------------------------------------------
def test_parameters_and_initialisation(backend):
    cell = RWACell(I, H)
    shapes = {n: p.shape for n, p in cell.named_parameters()}
    assert shapes == {"weight_u": (H, I), "bias_u": (H,), "weight_g": (H, I + H),
                      "bias_g": (H,), "weight_a": (H, I + H), "s": (H,)}
    sd = cell.state_dict()
    assert np.abs(sd["weight_u"]).max() <= math.sqrt(6 / (I + H))
    assert np.abs(sd["weight_g"]).max() <= math.sqrt(6 / (I + 2 * H))
    assert np.abs(sd["weight_a"]).max() <= math.sqrt(6 / (I + 2 * H))
    assert not sd["bias_u"].any() and not sd["bias_g"].any()
    n, d, m, h = cell.initial_state(B)
    assert not n.numpy().any() and not d.numpy().any()
    assert np.all(m.numpy() == np.float32(M_START)) and np.isfinite(m.numpy()).all()
    np.testing.assert_allclose(h.numpy(), np.tanh(np.broadcast_to(sd["s"], (B, H))), rtol=1e-6)


def test_state_shapes_and_weights_recording(backend):
    cell = RWACell(I, H)
    xs = tinyrnn.randn(T, B, I)
    out, state, log_weights = run_recording(cell, xs)
    np.testing.assert_array_equal(out.numpy(), run(cell, xs)[0].numpy())
    assert out.shape == (T, B, H) and all(t.shape == (B, H) for t in state)
    assert len(log_weights) == T and log_weights[0].shape == (B, H)
    a = np.stack([w.numpy() for w in log_weights])
    n, d, m, _ = (t.numpy() for t in state)
    np.testing.assert_allclose(m, a.max(axis=0), rtol=1e-6)     # running max of a
    assert np.all(d >= 1 - 1e-6)                                # the max term adds e^0


# ---- an independent reference ---------------------------------------------------
def test_matches_definition(backend):
    cell = randomise(RWACell(I, H)).double()
    xs = np.random.default_rng(2).standard_normal((T, B, I))
    out, _ = run(cell, tinyrnn.tensor(xs))
    expected = reference_plain(cell.state_dict(), xs)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10, atol=1e-12)


def test_matches_definition_float32(backend):
    cell = randomise(RWACell(I, H))
    xs = np.random.default_rng(3).standard_normal((T, B, I)).astype(np.float32)
    out, _ = run(cell, tinyrnn.tensor(xs))
    assert out.dtype == cell.s.dtype
    np.testing.assert_allclose(out.numpy(), reference_plain(cell.state_dict(), xs),
                               rtol=1e-4, atol=1e-5)


# ---- gradients -------------------------------------------------------------------
def test_gradcheck_from_initial_state(backend):
    cell = randomise(RWACell(I, H), seed=4).double()
    xs = tinyrnn.tensor(np.random.default_rng(5).standard_normal((4, B, I)),
                        requires_grad=True)
    # outputs h over 4 steps; the learned s is reached through h_0 = tanh(s)
    assert gradcheck_module(cell, lambda x: run(cell, x)[0], [xs])


def test_gradcheck_through_a_carried_state(backend):
    """Gradients reach n, d and h of a state handed over from an earlier chunk;
    the weights are scaled so that the running max changes during the run."""
    cell = randomise(RWACell(I, H), scale=3.0, seed=6).double()
    rng = np.random.default_rng(7)
    xs = tinyrnn.tensor(rng.standard_normal((4, B, I)), requires_grad=True)
    n = tinyrnn.tensor(rng.standard_normal((B, H)), requires_grad=True)
    d = tinyrnn.tensor(rng.uniform(1, 2, (B, H)), requires_grad=True)
    m = tinyrnn.tensor(rng.uniform(-2, 2, (B, H)))
    h = tinyrnn.tensor(rng.uniform(-1, 1, (B, H)), requires_grad=True)
    with tinyrnn.no_grad():
        _, (_, _, m_end, _) = run(cell, xs, (n, d, m, h))
    assert np.any(m_end.numpy() != m.numpy())
    assert gradcheck_module(cell, lambda x, n, d, h: run(cell, x, (n, d, m, h))[0],
                            [xs, n, d, h])


# ---- numerical stability -------------------------------------------------------------
def test_finite_over_10000_steps(backend):
    """10,000 steps whose log-weights drift upwards past 88, where e^a overflows
    float32: the running max moves again and again and nothing becomes inf/NaN."""
    cell = randomise(RWACell(2, 3), scale=2.0, seed=8)
    rng = np.random.default_rng(9)
    xs = rng.standard_normal((10_000, 2, 2))
    xs[:, :, 0] += np.linspace(-60, 60, 10_000)[:, None]          # a ramp in the input
    xs = tinyrnn.tensor(xs.astype(np.float32))
    state, log_weights = None, []
    with tinyrnn.no_grad():
        for t in range(xs.shape[0]):
            h, state, inside = cell.step_with_internals(xs[t], state)
            log_weights.append(inside["a"])
    n, d, m, h = (s.numpy() for s in state)
    for part in (n, d, m, h):
        assert np.isfinite(part).all()
    assert np.all(d >= 1 - 1e-3) and np.all(np.abs(h) <= 1)
    a = np.stack([w.numpy() for w in log_weights[::50]])
    assert np.abs(a).max() > 88                  # the naive sums would have overflowed


def test_large_preactivations(backend):
    """Weights x 100 make a_t reach the thousands: exp(a) overflows float32 (and
    float64) in the naive sums, the running-max form does not."""
    cell = randomise(RWACell(I, H), scale=100.0, seed=10)
    xs = np.random.default_rng(11).standard_normal((20, B, I)).astype(np.float32)
    out, state, log_weights = run_recording(cell, tinyrnn.tensor(xs))
    a = np.stack([w.numpy() for w in log_weights])
    assert np.abs(a).max() > 200                  # e^200 overflows float32 (max ~e^88)
    assert np.isfinite(out.numpy()).all()
    assert all(np.isfinite(s.numpy()).all() for s in state)
    np.testing.assert_allclose(out.numpy(), reference(cell.state_dict(), xs), atol=1e-4)


def test_large_preactivations_gradients_finite(backend):
    cell = randomise(RWACell(I, H), scale=100.0, seed=12)
    xs = tinyrnn.tensor(np.random.default_rng(13).standard_normal((10, B, I))
                        .astype(np.float32), requires_grad=True)
    out, _ = run(cell, xs)
    out.sum().backward()
    for p in [xs] + cell.parameters():
        assert p.grad is not None and np.isfinite(p.grad.numpy()).all()


# ---- truncated BPTT: carrying the state ---------------------------------------------------
def test_chunked_equals_one_long_run(backend):
    cell = randomise(RWACell(I, H), seed=14).double()
    xs = tinyrnn.tensor(np.random.default_rng(15).standard_normal((7, B, I)))
    whole, final = run(cell, xs)
    state, pieces = None, []
    for lo, hi in ((0, 3), (3, 4), (4, 7)):
        out, state = run(cell, xs[lo:hi], state)
        state = tuple(s.detach() for s in state)
        pieces.append(out.numpy())
    np.testing.assert_allclose(np.concatenate(pieces), whole.numpy(), rtol=1e-12, atol=1e-14)
    for a, b in zip(state, final):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-14)


# ---- bad input ----------------------------------------------------------------------
def test_bad_input(backend):
    cell = RWACell(I, H)
    with pytest.raises(ValueError,
                       match=r"RWACell: input of shape \(2, 5\); expected \(batch, input_size\) "
                             r"= \(batch, 3\)"):
        cell(tinyrnn.zeros(2, 5))
    with pytest.raises(ValueError, match="RWACell: input of shape"):
        cell(tinyrnn.zeros(4, 2, 3))                     # a sequence is not a step
    with pytest.raises(TypeError, match="RWACell: input must be a Tensor"):
        cell(np.zeros((2, 3), dtype=np.float32))
    good = cell.initial_state(2)
    with pytest.raises(ValueError, match=r"state must be a tuple \(n, d, m, h\)"):
        cell(tinyrnn.zeros(2, 3), good[:3])
    with pytest.raises(ValueError, match=r"state d has shape \(3, 4\); expected shape \(2, 4\)"):
        cell(tinyrnn.zeros(2, 3), good[:1] + (tinyrnn.zeros(3, 4),) + good[2:])
    with pytest.raises(ValueError, match=r"state n has shape \(3, 4\)"):
        cell(tinyrnn.zeros(2, 3), cell.initial_state(3))         # batch mismatch
    with pytest.raises(ValueError, match="hidden_size must be a positive integer"):
        RWACell(3, 0)
    with pytest.raises(ValueError, match="input_size must be a positive integer"):
        RWACell(2.5, 4)


# ---- the layer: nn.RWA ---------------------------------------------------------------
def test_layer_matches_its_cells_and_returns_weights(backend):
    from tinyrnn.nn.rwa import RWA
    layer = RWA(I, H, num_layers=2)
    for cell in layer.cells:
        randomise(cell, seed=16)
    xs = tinyrnn.tensor(np.random.default_rng(17).standard_normal((T, B, I)).astype(np.float32))
    out, states, weights = layer(xs, return_weights=True)
    low, s0 = run(layer.cells[0], xs)
    high, s1 = run(layer.cells[1], low)
    np.testing.assert_allclose(out.numpy(), high.numpy(), rtol=1e-6)
    for got, want in zip(states, (s0, s1)):
        for a, b in zip(got, want):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)
    assert [w.shape for w in weights] == [(T, B, H)] * 2
    for w, state in zip(weights, states):                  # the final m is the max of a
        np.testing.assert_allclose(w.numpy().max(axis=0), state[2].numpy(), rtol=1e-6)
    assert not any(w.requires_grad for w in weights)       # detached, as documented
    out2, states2 = layer(xs)                              # the default: no weights
    np.testing.assert_array_equal(out2.numpy(), out.numpy())


def test_layer_names_batch_first_and_state_dict(backend):
    from tinyrnn.nn.rwa import RWA
    layer = RWA(I, H, num_layers=2, batch_first=True)
    names = [n for n, _ in layer.named_parameters()]
    assert names == [f"{p}_l{k}" for k in (0, 1) for p in
                     ("weight_u", "bias_u", "weight_g", "bias_g", "weight_a", "s")]
    xs = tinyrnn.randn(B, T, I)
    out, _, weights = layer(xs, return_weights=True)
    assert out.shape == (B, T, H) and weights[1].shape == (B, T, H)
    other = RWA(I, H, num_layers=2, batch_first=True)
    other.load_state_dict(layer.state_dict())
    np.testing.assert_array_equal(other(xs)[0].numpy(), out.numpy())
    with pytest.raises(ValueError, match="RWA: num_layers must be a positive integer"):
        RWA(I, H, num_layers=0)


def test_layer_gradcheck_two_layers(backend):
    from tinyrnn.nn.rwa import RWA
    layer = RWA(2, 3, num_layers=2).double()
    xs = tinyrnn.tensor(np.random.default_rng(18).standard_normal((4, 2, 2)),
                        requires_grad=True)
    assert tinyrnn.gradcheck(lambda x: layer(x)[0], [xs])


def test_layer_chunked_with_detach_state(backend):
    from tinyrnn.nn import detach_state
    from tinyrnn.nn.rwa import RWA
    layer = RWA(I, H, num_layers=2).double()
    xs = tinyrnn.tensor(np.random.default_rng(19).standard_normal((6, B, I)))
    whole, _ = layer(xs)
    a, state = layer(xs[:4])
    b, _ = layer(xs[4:], detach_state(state))
    np.testing.assert_allclose(np.concatenate([a.numpy(), b.numpy()]), whole.numpy(),
                               rtol=1e-12, atol=1e-14)


def test_rwa_on_top_of_an_lstm(backend):
    """A hybrid stack (LSTM below, RWA above) through the generic Recurrent."""
    from tinyrnn.nn import LSTMCell, Recurrent, make_cell
    cell = make_cell("RWA", H, 5)
    assert isinstance(cell, RWACell)
    stack = Recurrent([LSTMCell(I, H), cell])
    xs = tinyrnn.randn(T, B, I, requires_grad=True)
    out, (lstm_state, rwa_state) = stack(xs)
    assert out.shape == (T, B, 5) and len(rwa_state) == 4
    out.sum().backward()
    assert np.isfinite(xs.grad.numpy()).all() and np.abs(cell.s.grad.numpy()).sum() > 0
