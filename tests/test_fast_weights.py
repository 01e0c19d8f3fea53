"""FastWeightsCell: gradients (S > 1, layer norm on and off), an independent
reference from the paper's equations, no memory leak between examples,
chunked runs, the paper's four models by name, and bad input."""
import numpy as np
import pytest

import tinyrnn
from tinyrnn.check import gradcheck_module
from tinyrnn.nn import FAST_WEIGHTS_MODELS, fast_weights_model_cell
from tinyrnn.nn.fast_weights import FastWeightsCell

I, H, B, T = 3, 4, 2, 5


def randomise(cell, seed=1):
    """Random values for every parameter (W far from 0.05 I, LN gain far from 1),
    so the reference test cannot pass by a special initial value hiding a mistake."""
    rng = np.random.default_rng(seed)
    cell.load_state_dict({name: rng.uniform(-1, 1, p.shape) + (name == "ln_gain")
                          for name, p in cell.named_parameters()})
    return cell


def run(cell, xs, state=None):
    outs = []
    for t in range(xs.shape[0]):
        h, state = cell(xs[t], state)
        outs.append(h)
    return tinyrnn.stack(outs), state


def reference(params, xs, lam, eta, S, layer_norm, f, fast_weights=True):
    """The paper's equations, one example at a time, in float64:
    A(t) = lam A(t-1) + eta h(t) h(t)^T is formed *before* h(t+1) is computed;
    h_0 = f(W h + C x + b); h_{s+1} = f(LN[W h + C x + b + A h_s]); h(t+1) = h_S."""
    W, C, b = params["weight_hh"], params["weight_ih"], params["bias"]

    def ln(z):
        if not layer_norm:
            return z
        mu, var = z.mean(), ((z - z.mean()) ** 2).mean()
        return params["ln_gain"] * (z - mu) / np.sqrt(var + 1e-5) + params["ln_bias"]

    T, B, _ = xs.shape
    out = np.zeros((T, B, W.shape[0]))
    for e in range(B):
        h, A = np.zeros(W.shape[0]), np.zeros(W.shape)
        for t in range(T):
            if not fast_weights:
                h = f(ln(W @ h + C @ xs[t, e] + b))
            else:
                A = lam * A + eta * np.outer(h, h)
                slow = W @ h + C @ xs[t, e] + b
                hs = f(slow)
                for _ in range(S):
                    hs = f(ln(slow + A @ hs))
                h = hs
            out[t, e] = h
    return out


RELU = lambda z: np.maximum(z, 0)  # noqa: E731


# ---- initialisation and state ---------------------------------------------------------
def test_parameters_initialisation_and_state(backend):
    cell = FastWeightsCell(I, H)
    sd = cell.state_dict()
    assert {k: v.shape for k, v in sd.items()} == {
        "weight_ih": (H, I), "weight_hh": (H, H), "bias": (H,), "ln_gain": (H,), "ln_bias": (H,)}
    np.testing.assert_array_equal(sd["weight_hh"], 0.05 * np.eye(H, dtype=np.float32))
    assert (cell.lam, cell.eta, cell.inner_steps, cell.nonlinearity) == (0.95, 0.5, 1, "relu")
    h, A = cell.initial_state(B)
    assert h.shape == (B, H) and A.shape == (B, H, H)
    assert not h.numpy().any() and not A.numpy().any()
    assert set(dict(FastWeightsCell(I, H, layer_norm=False, bias=False).named_parameters())) \
        == {"weight_ih", "weight_hh"}


def test_state_memory_is_the_decayed_sum_of_outer_products(backend):
    """The carried A(t) already holds h(t): A(t) = eta sum_tau lam^(t-tau) h(tau) h(tau)^T."""
    cell = randomise(FastWeightsCell(I, H, lam=0.9, eta=0.3)).double()
    xs = tinyrnn.tensor(np.random.default_rng(2).standard_normal((T, B, I)))
    out, (h, A) = run(cell, xs)
    hs = out.numpy()
    expected = sum(0.3 * 0.9 ** (T - 1 - t) * np.einsum("bi,bj->bij", hs[t], hs[t])
                   for t in range(T))
    np.testing.assert_allclose(A.numpy(), expected, rtol=1e-12)
    np.testing.assert_array_equal(h.numpy(), hs[-1])


# ---- an independent reference ------------------------------------------------------
@pytest.mark.parametrize("S, layer_norm, nonlinearity", [
    (1, True, "relu"), (3, True, "relu"), (2, False, "relu"), (2, True, "tanh")])
def test_matches_equations(backend, S, layer_norm, nonlinearity):
    cell = FastWeightsCell(I, H, lam=0.9, eta=0.7, inner_steps=S, layer_norm=layer_norm,
                           nonlinearity=nonlinearity)
    cell = randomise(cell).double()
    xs = np.random.default_rng(3).standard_normal((T, B, I))
    out, _ = run(cell, tinyrnn.tensor(xs))
    f = RELU if nonlinearity == "relu" else np.tanh
    expected = reference(cell.state_dict(), xs, 0.9, 0.7, S, layer_norm, f)
    assert np.abs(expected).max() > 0.1                   # not a trivially dead network
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10, atol=1e-12)


def test_rnn_ln_matches_equations(backend):
    cell = randomise(fast_weights_model_cell("RNN-LN", I, H)).double()
    xs = np.random.default_rng(4).standard_normal((T, B, I))
    out, h = run(cell, tinyrnn.tensor(xs))
    expected = reference(cell.state_dict(), xs, None, None, None, True, RELU,
                         fast_weights=False)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10, atol=1e-12)
    assert isinstance(h, tinyrnn.Tensor) and h.shape == (B, H)


def test_float32_matches(backend):
    cell = randomise(FastWeightsCell(I, H, inner_steps=2))
    xs = np.random.default_rng(5).standard_normal((T, B, I)).astype(np.float32)
    out, (h, A) = run(cell, tinyrnn.tensor(xs))
    assert out.dtype == A.dtype == cell.weight_hh.dtype
    expected = reference(cell.state_dict(), xs.astype(np.float64), 0.95, 0.5, 2, True, RELU)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-4, atol=1e-5)


# ---- gradients -----------------------------------------------------------------------
@pytest.mark.parametrize("S, layer_norm", [(1, True), (3, True), (2, False)])
def test_gradcheck(backend, S, layer_norm):
    cell = FastWeightsCell(I, H, lam=0.9, eta=0.6, inner_steps=S, layer_norm=layer_norm,
                           nonlinearity="tanh" if not layer_norm else "relu")
    cell = randomise(cell, seed=6).double()
    xs = tinyrnn.tensor(np.random.default_rng(7).standard_normal((4, B, I)),
                        requires_grad=True)
    assert gradcheck_module(cell, lambda x: run(cell, x)[0], [xs])


def test_gradcheck_through_a_carried_state(backend):
    cell = randomise(FastWeightsCell(I, H, inner_steps=2), seed=8).double()
    rng = np.random.default_rng(9)
    xs = tinyrnn.tensor(rng.standard_normal((4, B, I)), requires_grad=True)
    h0 = tinyrnn.tensor(rng.uniform(0, 1, (B, H)), requires_grad=True)
    A0 = tinyrnn.tensor(rng.uniform(-0.5, 0.5, (B, H, H)), requires_grad=True)

    def fn(x, h0, A0):
        out, (h, A) = run(cell, x, (h0, A0))
        return out, A                      # the memory is an output too
    assert gradcheck_module(cell, fn, [xs, h0, A0])


# ---- one memory per example ----------------------------------------------------------
def test_no_memory_leak_between_examples(backend):
    cell = randomise(FastWeightsCell(I, H, inner_steps=2), seed=10)
    rng = np.random.default_rng(11)
    xs = rng.standard_normal((T, 3, I)).astype(np.float32)
    out, (_, A) = run(cell, tinyrnn.tensor(xs))
    changed = xs.copy()
    changed[:, 1] = rng.standard_normal((T, I)) * 5          # another example 1
    out2, (_, A2) = run(cell, tinyrnn.tensor(changed))
    assert not np.allclose(out.numpy()[:, 1], out2.numpy()[:, 1])
    np.testing.assert_array_equal(out.numpy()[:, [0, 2]], out2.numpy()[:, [0, 2]])
    np.testing.assert_array_equal(A.numpy()[[0, 2]], A2.numpy()[[0, 2]])
    alone, (_, A_alone) = run(cell, tinyrnn.tensor(xs[:, :1]))
    np.testing.assert_allclose(alone.numpy()[:, 0], out.numpy()[:, 0], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(A_alone.numpy()[0], A.numpy()[0], rtol=1e-6, atol=1e-7)


# ---- truncated BPTT --------------------------------------------------------------------
@pytest.mark.parametrize("fast_weights", [True, False])
def test_chunked_equals_one_long_run(backend, fast_weights):
    cell = randomise(FastWeightsCell(I, H, inner_steps=2, fast_weights=fast_weights),
                     seed=12).double()
    xs = tinyrnn.tensor(np.random.default_rng(13).standard_normal((7, B, I)))
    whole, final = run(cell, xs)
    state, pieces = None, []
    for lo, hi in ((0, 2), (2, 3), (3, 7)):
        out, state = run(cell, xs[lo:hi], state)
        state = tuple(s.detach() for s in state) if fast_weights else state.detach()
        pieces.append(out.numpy())
    np.testing.assert_allclose(np.concatenate(pieces), whole.numpy(), rtol=1e-12, atol=1e-14)
    finals = zip(state, final) if fast_weights else [(state, final)]
    for a, b in finals:
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-14)


# ---- the paper's models by name -----------------------------------------------------
def test_models_by_name():
    assert FAST_WEIGHTS_MODELS == ("RNN-LN-FW", "RNN-LN", "CONTROL", "GRU-LN")
    fw = fast_weights_model_cell("rnn-ln-fw", I, H, inner_steps=2)
    assert isinstance(fw, FastWeightsCell) and fw.fast_weights and fw.layer_norm
    assert fw.inner_steps == 2 and fw.nonlinearity == "relu"
    ln = fast_weights_model_cell("RNN-LN", I, H)
    assert isinstance(ln, FastWeightsCell) and not ln.fast_weights and ln.layer_norm
    with pytest.raises(ValueError, match="unknown model 'LSTM-FW'.*RNN-LN-FW, RNN-LN, "
                                         "CONTROL, GRU-LN"):
        fast_weights_model_cell("LSTM-FW", I, H)
    with pytest.raises(ValueError, match="'RNN-LN' is the model without the fast memory"):
        fast_weights_model_cell("RNN-LN", I, H, fast_weights=True)


def test_control_and_gru_ln_by_name():
    from tinyrnn.nn.cells import RNNCell, GRUCell
    control = fast_weights_model_cell("CONTROL", I, H)
    gru = fast_weights_model_cell("gru-ln", I, H)
    assert type(control) is RNNCell and type(gru) is GRUCell
    assert gru.layer_norm
    for cell in (control, gru):
        h, _ = cell(tinyrnn.zeros(B, I))
        assert h.shape == (B, H)


# ---- bad input -----------------------------------------------------------------------
def test_bad_input(backend):
    cell = FastWeightsCell(I, H)
    with pytest.raises(ValueError, match=r"FastWeightsCell: input of shape \(2, 4\); "
                                         r"expected \(batch, input_size\) = \(batch, 3\)"):
        cell(tinyrnn.zeros(2, 4))
    h, A = cell.initial_state(2)
    with pytest.raises(TypeError, match=r"state must be a tuple \(h, A\); got a Tensor"):
        cell(tinyrnn.zeros(2, 3), h)
    with pytest.raises(ValueError, match=r"state A has shape \(2, 4\); expected shape \(2, 4, 4\)"):
        cell(tinyrnn.zeros(2, 3), (h, h))
    with pytest.raises(ValueError, match=r"state h has shape \(3, 4\); expected shape \(2, 4\)"):
        cell(tinyrnn.zeros(2, 3), cell.initial_state(3))          # batch mismatch
    with pytest.raises(ValueError, match=r"state A has shape \(1, 4, 4\)"):
        cell(tinyrnn.zeros(2, 3), (h, A[:1]))                     # one memory for the batch
    ln = fast_weights_model_cell("RNN-LN", I, H)
    with pytest.raises(TypeError, match=r"FastWeightsCell: state h must be a Tensor of "
                                        r"shape \(2, 4\); got a tuple of length 2"):
        ln(tinyrnn.zeros(2, 3), (h, A))


@pytest.mark.parametrize("option, value, message", [
    ("lam", 1.5, r"lam \(the memory's decay\) must be a number in \[0, 1\]; got 1.5"),
    ("lam", -0.1, "lam"),
    ("lam", float("nan"), "lam"),
    ("eta", -1.0, r"eta \(the fast learning rate\) must be a finite number >= 0; got -1.0"),
    ("eta", "0.5", "eta"),
    ("inner_steps", 0, r"inner_steps \(S\) must be an integer >= 1; got 0"),
    ("inner_steps", 1.5, "inner_steps"),
    ("inner_steps", True, "inner_steps"),
    ("nonlinearity", "sigmoid",
     r"unknown nonlinearity 'sigmoid'; expected one of \['relu', 'tanh'\]"),
])
def test_bad_options(option, value, message):
    with pytest.raises(ValueError, match="FastWeightsCell: " + message):
        FastWeightsCell(I, H, **{option: value})


# ---- the layer: nn.FastWeights -----------------------------------------------------
def test_layer_matches_cells_chunks_and_names(backend):
    from tinyrnn.nn import detach_state
    from tinyrnn.nn.fast_weights import FastWeights
    layer = FastWeights(I, H, num_layers=2, inner_steps=2, lam=0.9).double()
    assert [n for n, _ in layer.named_parameters()] == [
        f"{p}_l{k}" for k in (0, 1) for p in
        ("weight_ih", "weight_hh", "bias", "ln_gain", "ln_bias")]
    assert all(c.inner_steps == 2 and c.lam == 0.9 for c in layer.cells)
    xs = tinyrnn.tensor(np.random.default_rng(14).standard_normal((6, B, I)))
    whole, states = layer(xs)
    low, _ = run(layer.cells[0], xs)
    high, _ = run(layer.cells[1], low)
    np.testing.assert_allclose(whole.numpy(), high.numpy(), rtol=1e-12)
    assert states[1][1].shape == (B, H, H)
    a, state = layer(xs[:3])
    b, _ = layer(xs[3:], detach_state(state))
    np.testing.assert_allclose(np.concatenate([a.numpy(), b.numpy()]), whole.numpy(),
                               rtol=1e-12, atol=1e-14)
    first = FastWeights(I, H, batch_first=True).double()
    assert first(tinyrnn.tensor(np.zeros((B, T, I))))[0].shape == (B, T, H)
    with pytest.raises(ValueError, match="FastWeights: num_layers must be a positive integer"):
        FastWeights(I, H, num_layers=1.5)


def test_layer_gradcheck_two_layers(backend):
    from tinyrnn.nn.fast_weights import FastWeights
    layer = FastWeights(2, 3, num_layers=2, inner_steps=2).double()
    xs = tinyrnn.tensor(np.random.default_rng(15).standard_normal((4, 2, 2)),
                        requires_grad=True)
    assert tinyrnn.gradcheck(lambda x: layer(x)[0], [xs])


def test_make_cell_builds_fast_weights_models():
    from tinyrnn.nn import make_cell
    assert isinstance(make_cell("fw", I, H, lam=0.5), FastWeightsCell)
    assert make_cell("RNN-LN-FW", I, H).fast_weights
    assert not make_cell("rnn-ln", I, H).fast_weights
