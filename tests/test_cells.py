"""RNNCell, LSTMCell, GRUCell: outputs against NumPy references written here from
the published equations (and against torch.nn when it is installed),
gradients by tinyrnn.gradcheck through 4 steps, state dicts and bad input."""
from __future__ import annotations

import contextlib

import numpy as np
import pytest

import tinyrnn as tr
from tinyrnn import nn

I, H, B, T = 3, 4, 2, 4


# ---- independent references (NumPy, float64, from the equations) ------------------
def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def ln(a, gain, bias, eps=1e-5):
    mu = a.mean(axis=-1, keepdims=True)
    var = ((a - mu) ** 2).mean(axis=-1, keepdims=True)
    return gain * (a - mu) / np.sqrt(var + eps) + bias


def ln_gates(a, gain, bias, G):
    """Layer norm of each of the G gate blocks of a (B, G*H) separately."""
    Hh = a.shape[1] // G
    return np.concatenate([ln(a[:, k * Hh:(k + 1) * Hh], gain[k * Hh:(k + 1) * Hh],
                              bias[k * Hh:(k + 1) * Hh]) for k in range(G)], axis=1)


def pre(p, x, h):
    a = x @ p["weight_ih"].T + h @ p["weight_hh"].T
    if "bias_ih" in p:
        a = a + p["bias_ih"] + p["bias_hh"]
    return a


def ref_rnn(p, x, h, nonlinearity="tanh", layer_norm=False):
    a = pre(p, x, h)
    if layer_norm:
        a = ln(a, p["ln_weight"], p["ln_bias"])
    return np.tanh(a) if nonlinearity == "tanh" else np.maximum(a, 0.0)


def ref_lstm(p, x, h, c, layer_norm=False):
    a = pre(p, x, h)
    if layer_norm:
        a = ln_gates(a, p["ln_weight"], p["ln_bias"], 4)
    n = h.shape[1]
    i, f = sigmoid(a[:, :n]), sigmoid(a[:, n:2 * n])
    g, o = np.tanh(a[:, 2 * n:3 * n]), sigmoid(a[:, 3 * n:])
    c = f * c + i * g
    c_out = ln(c, p["ln_cell_weight"], p["ln_cell_bias"]) if layer_norm else c
    return o * np.tanh(c_out), c


def ref_gru(p, x, h, layer_norm=False):
    n = h.shape[1]
    gi = x @ p["weight_ih"].T + p.get("bias_ih", 0.0)
    gh = h @ p["weight_hh"].T + p.get("bias_hh", 0.0)
    a_rz = gi[:, :2 * n] + gh[:, :2 * n]
    if layer_norm:
        a_rz = ln_gates(a_rz, p["ln_weight"][:2 * n], p["ln_bias"][:2 * n], 2)
    r, z = sigmoid(a_rz[:, :n]), sigmoid(a_rz[:, n:])
    a_n = gi[:, 2 * n:] + r * gh[:, 2 * n:]
    if layer_norm:
        a_n = ln(a_n, p["ln_weight"][2 * n:], p["ln_bias"][2 * n:])
    cand = np.tanh(a_n)
    return (1.0 - z) * cand + z * h


# ---- the cells under test, with their reference --------------------------------------
CONFIGS = {
    "rnn_tanh": (lambda: nn.RNNCell(I, H), "h"),
    "rnn_relu": (lambda: nn.RNNCell(I, H, nonlinearity="relu"), "h"),
    "rnn_ln": (lambda: nn.RNNCell(I, H, layer_norm=True), "h"),
    "rnn_nobias": (lambda: nn.RNNCell(I, H, bias=False), "h"),
    "lstm": (lambda: nn.LSTMCell(I, H), "hc"),
    "lstm_ln": (lambda: nn.LSTMCell(I, H, layer_norm=True), "hc"),
    "lstm_forget_bias": (lambda: nn.LSTMCell(I, H, forget_bias=1.0), "hc"),
    "gru": (lambda: nn.GRUCell(I, H), "h"),
    "gru_ln": (lambda: nn.GRUCell(I, H, layer_norm=True), "h"),
    "gru_nobias": (lambda: nn.GRUCell(I, H, bias=False), "h"),
}


def reference_step(cell, p, x, state):
    if isinstance(cell, nn.LSTMCell):
        h, c = ref_lstm(p, x, *state, layer_norm=cell.layer_norm)
        return h, (h, c)
    if isinstance(cell, nn.GRUCell):
        h = ref_gru(p, x, state, layer_norm=cell.layer_norm)
    else:
        h = ref_rnn(p, x, state, cell.nonlinearity, cell.layer_norm)
    return h, h


def make_cell(name):
    """The cell, in float64, with its layer-norm gains and biases randomised
    (so that a mix-up between them cannot hide behind gain 1 and bias 0)."""
    cell = CONFIGS[name][0]().double()
    state = cell.state_dict()
    rng = np.random.default_rng(1)
    for key in state:
        if key.startswith("ln_"):
            state[key] = state[key] + 0.3 * rng.standard_normal(state[key].shape)
    cell.load_state_dict(state)
    return cell


def random_state(cell, kind, rng):
    if kind == "hc":
        return tuple(rng.standard_normal((B, H)) * 0.5 for _ in range(2))
    return rng.standard_normal((B, H)) * 0.5


def to_tensors(state, requires_grad=False):
    if isinstance(state, tuple):
        return tuple(to_tensors(s, requires_grad) for s in state)
    return tr.tensor(state, dtype="float64", requires_grad=requires_grad)


def flat(state):
    return list(state) if isinstance(state, tuple) else [state]


@contextlib.contextmanager
def parameters_replaced(module, tensors):
    """Let ``module`` compute with ``tensors`` in place of its parameters (in
    named_parameters order), so gradcheck can perturb them."""
    names = [name for name, _ in module.named_parameters()]
    saved = [getattr(module, n) for n in names]
    for n, t in zip(names, tensors):
        setattr(module, n, t)
    try:
        yield
    finally:
        for n, p in zip(names, saved):
            setattr(module, n, p)


# ---- outputs ------------------------------------------------------------------------
@pytest.mark.parametrize("name", CONFIGS)
def test_cell_matches_reference_over_steps(name, backend):
    cell = make_cell(name)
    kind = CONFIGS[name][1]
    rng = np.random.default_rng(2)
    xs = rng.standard_normal((T, B, I))
    state_ref = random_state(cell, kind, rng)
    state = to_tensors(state_ref)
    params = cell.state_dict()
    for t in range(T):
        h, state = cell(tr.tensor(xs[t], dtype="float64"), state)
        h_ref, state_ref = reference_step(cell, params, xs[t], state_ref)
        assert h.backend.name == backend and h.dtype == cell.weight_ih.dtype
        np.testing.assert_allclose(h.numpy(), h_ref, rtol=1e-12, atol=1e-12)
        for s, s_ref in zip(flat(state), flat(state_ref)):
            np.testing.assert_allclose(s.numpy(), s_ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["rnn_tanh", "lstm", "gru"])
def test_cell_starts_from_zeros_and_keeps_float32(name, backend):
    cell = CONFIGS[name][0]()
    x = tr.randn(B, I)
    h, state = cell(x)                      # state None: zeros
    zeros = cell.initial_state(B)
    h2, _ = cell(x, zeros)
    assert h.dtype == x.dtype and str(h.dtype).endswith("float32")
    np.testing.assert_array_equal(h.numpy(), h2.numpy())
    for z in flat(zeros):
        assert z.shape == (B, H) and not z.numpy().any()


def test_forget_bias_starts_at_one():
    cell = nn.LSTMCell(I, H, forget_bias=1.0)
    np.testing.assert_array_equal(cell.bias_ih.numpy()[H:2 * H], np.ones(H))
    np.testing.assert_array_equal(cell.bias_hh.numpy()[H:2 * H], np.zeros(H))
    assert not np.all(cell.bias_ih.numpy()[:H] == 0)      # the rest keeps PyTorch's init
    assert cell.bias_ih.requires_grad


def test_pytorch_parameter_names_shapes_and_init():
    for cell, G in ((nn.RNNCell(I, H), 1), (nn.LSTMCell(I, H), 4), (nn.GRUCell(I, H), 3)):
        shapes = {k: v.shape for k, v in cell.state_dict().items()}
        assert shapes == {"weight_ih": (G * H, I), "weight_hh": (G * H, H),
                          "bias_ih": (G * H,), "bias_hh": (G * H,)}
        k = 1 / np.sqrt(H)
        for v in cell.state_dict().values():
            assert np.all(np.abs(v) <= k) and v.std() > 0.2 * k
    assert list(nn.GRUCell(I, H, bias=False).state_dict()) == ["weight_ih", "weight_hh"]
    assert list(nn.LSTMCell(I, H, layer_norm=True).state_dict())[4:] == \
        ["ln_weight", "ln_bias", "ln_cell_weight", "ln_cell_bias"]


# ---- against torch.nn ------------------------------------------------------------------
@pytest.mark.parametrize("name", ["rnn_tanh", "rnn_relu", "rnn_nobias", "lstm",
                                  "lstm_forget_bias", "gru", "gru_nobias"])
def test_cell_matches_torch(name):
    torch = pytest.importorskip("torch")
    cell = make_cell(name)
    if isinstance(cell, nn.LSTMCell):
        ref = torch.nn.LSTMCell(I, H, bias=cell.bias_ih is not None)
    elif isinstance(cell, nn.GRUCell):
        ref = torch.nn.GRUCell(I, H, bias=cell.bias_ih is not None)
    else:
        ref = torch.nn.RNNCell(I, H, bias=cell.bias_ih is not None,
                               nonlinearity=cell.nonlinearity)
    ref = ref.double()
    ref.load_state_dict({k: torch.from_numpy(v) for k, v in cell.state_dict().items()})
    rng = np.random.default_rng(3)
    xs = rng.standard_normal((T, B, I))
    state = to_tensors(random_state(cell, CONFIGS[name][1], rng))
    t_state = tuple(torch.from_numpy(s.numpy()) for s in flat(state))
    t_state = t_state if len(t_state) == 2 else t_state[0]
    for t in range(T):
        h, state = cell(tr.tensor(xs[t], dtype="float64"), state)
        t_state = ref(torch.from_numpy(xs[t]), t_state)
        t_h = t_state[0] if isinstance(t_state, tuple) else t_state
        np.testing.assert_allclose(h.numpy(), t_h.detach().numpy(), rtol=1e-12, atol=1e-13)


def test_torch_weights_load_into_our_cell():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    ref = torch.nn.LSTMCell(I, H).double()
    cell = nn.LSTMCell(I, H).double()
    cell.load_state_dict({k: v.numpy() for k, v in ref.state_dict().items()})
    x = np.random.default_rng(4).standard_normal((B, I))
    h, (_, c) = cell(tr.tensor(x, dtype="float64"))
    t_h, t_c = ref(torch.from_numpy(x))
    np.testing.assert_allclose(h.numpy(), t_h.detach().numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(c.numpy(), t_c.detach().numpy(), rtol=1e-12, atol=1e-13)


# ---- gradients -------------------------------------------------------------------------
@pytest.mark.parametrize("name", [n for n in CONFIGS if n != "lstm_forget_bias"])
def test_cell_gradcheck_through_steps(name, backend):
    """dL/d(inputs, initial state, every parameter) through T = 4 steps, where L
    sums random multiples of every h_t and of the final state. Every element
    on NumPy; on the (slow) strict device one random direction per input."""
    cell = make_cell(name)
    kind = CONFIGS[name][1]
    rng = np.random.default_rng(5)
    xs = tr.tensor(rng.standard_normal((T, B, I)), dtype="float64", requires_grad=True)
    state = flat(to_tensors(random_state(cell, kind, rng), requires_grad=True))
    params = cell.parameters()
    n_state = len(state)

    def unroll(xs, *args):
        s = tuple(args[:n_state]) if kind == "hc" else args[0]
        with parameters_replaced(cell, args[n_state:]):
            outs = []
            for t in range(T):
                h, s = cell(xs[t], s)
                outs.append(h)
        return (tr.stack(outs), *flat(s))

    assert tr.gradcheck(unroll, [xs, *state, *params], fast=backend == "strict")


# ---- state dicts -------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["rnn_ln", "lstm_ln", "gru"])
def test_state_dict_round_trip(name):
    cell = make_cell(name)
    other = CONFIGS[name][0]().double()
    other.load_state_dict(cell.state_dict())
    for (k, a), (k2, b) in zip(cell.state_dict().items(), other.state_dict().items()):
        assert k == k2
        np.testing.assert_array_equal(a, b)
    x = tr.randn(B, I, dtype="float64")
    np.testing.assert_array_equal(cell(x)[0].numpy(), other(x)[0].numpy())


def test_load_state_dict_lists_every_problem():
    cell = nn.GRUCell(I, H)
    state = cell.state_dict()
    del state["bias_hh"]
    state["weight_ih"] = np.zeros((3 * H, I + 1), np.float32)
    state["bias_xx"] = np.zeros(3)
    with pytest.raises(ValueError) as err:
        cell.load_state_dict(state)
    message = str(err.value)
    for part in ("missing keys: bias_hh", "unexpected keys: bias_xx",
                 f"weight_ih: expected {(3 * H, I)}, got {(3 * H, I + 1)}"):
        assert part in message


# ---- bad input -------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [nn.RNNCell, nn.LSTMCell, nn.GRUCell])
def test_wrong_input_size(cls):
    cell = cls(I, H)
    with pytest.raises(ValueError, match=rf"{cls.__name__}: input of shape \(2, 5\); "
                                         rf"expected \(batch, input_size\) = \(batch, {I}\)"):
        cell(tr.randn(2, 5))
    with pytest.raises(ValueError, match=r"input of shape \(7, 2, 3\)"):
        cell(tr.randn(7, 2, 3))                  # a sequence given to a cell
    with pytest.raises(TypeError, match=f"{cls.__name__}: input must be a Tensor"):
        cell(np.zeros((2, I)))


@pytest.mark.parametrize("cls", [nn.RNNCell, nn.GRUCell])
def test_wrong_state_shape_or_batch(cls):
    cell = cls(I, H)
    x = tr.randn(2, I)
    with pytest.raises(ValueError, match=rf"{cls.__name__}: state h has shape \(3, {H}\); "
                                         rf"expected shape \(2, {H}\)"):
        cell(x, tr.zeros(3, H))
    with pytest.raises(ValueError, match=rf"state h has shape \(2, 5\)"):
        cell(x, tr.zeros(2, 5))
    with pytest.raises(TypeError, match="state h must be a Tensor"):
        cell(x, (tr.zeros(2, H), tr.zeros(2, H)))


def test_lstm_state_must_be_a_pair():
    cell = nn.LSTMCell(I, H)
    x = tr.randn(2, I)
    with pytest.raises(TypeError, match=r"LSTMCell: state must be a tuple \(h, c\); got a Tensor"):
        cell(x, tr.zeros(2, H))
    with pytest.raises(ValueError, match="of 2 tensors; got a tuple of length 3"):
        cell(x, (tr.zeros(2, H),) * 3)
    with pytest.raises(ValueError, match=rf"state c has shape \(1, {H}\); expected"):
        cell(x, (tr.zeros(2, H), tr.zeros(1, H)))


def test_unknown_nonlinearity_and_bad_sizes():
    with pytest.raises(ValueError, match="RNNCell: unknown nonlinearity 'sigmoid'; "
                                         "expected 'tanh' or 'relu'"):
        nn.RNNCell(I, H, nonlinearity="sigmoid")
    with pytest.raises(ValueError,
                       match="LSTMCell: hidden_size must be a positive integer; got 0"):
        nn.LSTMCell(I, 0)
    with pytest.raises(ValueError, match="forget_bias needs bias=True"):
        nn.LSTMCell(I, H, bias=False, forget_bias=1.0)


def test_dtype_mismatch_is_named():
    cell = nn.RNNCell(I, H)
    with pytest.raises(TypeError, match="RNNCell: input dtype float64 differs from the "
                                        "parameters' float32"):
        cell(tr.randn(2, I, dtype="float64"))


@pytest.mark.parametrize("make", [lambda: nn.RNNCell(I, H), lambda: nn.GRUCell(I, H),
                                  lambda: nn.LSTMCell(I, H), lambda: nn.RWACell(I, H),
                                  lambda: nn.FastWeightsCell(I, H)])
def test_state_and_input_of_another_dtype_or_backend_are_refused(make):
    """No silent promotion to float64, and a mixed backend is named before any op runs."""
    cell = make()
    name = type(cell).__name__
    x = tr.randn(2, I)
    state = cell.initial_state(2)
    bad = nn.detach_state(state)
    bad = [t.double() for t in bad] if isinstance(bad, tuple) else bad.double()
    if isinstance(state, tuple):
        bad = (bad[0],) + tuple(state[1:])         # only the first tensor is float64
    with pytest.raises(TypeError, match=rf"{name}: state \w+ dtype float64 differs from "
                                        "the parameters' float32"):
        cell(x, bad)
    with pytest.raises(tr.BackendError, match=rf"{name}: input lives on backend 'strict' "
                                              "but the parameters on 'numpy'"):
        cell(x.to("strict"))
    with pytest.raises(TypeError, match=rf"{name}: input dtype float64 differs"):
        cell(tr.randn(2, I, dtype="float64"))


# ---- the same mistake, the same words, in every cell and layer -------------------------------
ALL_CELLS = [nn.RNNCell, nn.LSTMCell, nn.GRUCell, nn.RWACell, nn.FastWeightsCell]


@pytest.mark.parametrize("cls", ALL_CELLS)
def test_every_cell_words_a_mistake_alike(cls):
    name = cls.__name__
    with pytest.raises(ValueError, match=rf"^{name}: hidden_size must be a positive integer; "
                                         r"got 0$"):
        cls(I, 0)
    with pytest.raises(ValueError, match=rf"^{name}: input_size must be a positive integer; "
                                         r"got 2.5$"):
        cls(2.5, H)
    cell = cls(I, H)
    with pytest.raises(ValueError, match=rf"^{name}: input of shape \(2, 5\); expected "
                                         rf"\(batch, input_size\) = \(batch, {I}\)"):
        cell(tr.randn(2, 5))
    with pytest.raises(TypeError, match=rf"^{name}: input must be a Tensor of shape "
                                        rf"\(batch, input_size\) = \(batch, {I}\); "
                                        r"got ndarray$"):
        cell(np.zeros((2, I), dtype=np.float32))
    good = cell.initial_state(2)
    names = list(cell.state_shapes(2))
    bad = tr.zeros(3, H)                                 # wrong batch for the first tensor
    state = bad if len(names) == 1 else (bad,) + tuple(good[1:])
    with pytest.raises(ValueError, match=rf"^{name}: state {names[0]} has shape \(3, {H}\); "
                                         rf"expected shape \(2, {H}\)"):
        cell(tr.randn(2, I), state)
    # the public check_state gives the same verdicts
    checked = nn.check_state(name, good, cell.state_shapes(2), cell.reference_parameter())
    if len(names) == 1:
        assert checked is good                           # the tensor itself
    else:                                                # a tuple of the same tensors
        assert isinstance(checked, tuple) and len(checked) == len(names)
        assert all(a is b for a, b in zip(checked, good))
        from_list = nn.check_state(name, list(good), cell.state_shapes(2),
                                   cell.reference_parameter())
        assert isinstance(from_list, tuple) and all(a is b for a, b in zip(from_list, good))
    with pytest.raises(ValueError, match=rf"^{name}: state {names[0]} has shape"):
        nn.check_state(name, state, cell.state_shapes(2), cell.reference_parameter())


@pytest.mark.parametrize("layer", [nn.RNN, nn.LSTM, nn.GRU, nn.RWA, nn.FastWeights])
def test_every_layer_words_a_mistake_alike(layer):
    name = layer.__name__
    with pytest.raises(ValueError, match=rf"^{name}: num_layers must be a positive integer; "
                                         r"got 0$"):
        layer(I, H, 0)
    with pytest.raises(ValueError, match=rf"^{name}: dropout must be in \[0, 1\); got 1.0$"):
        layer(I, H, 2, dropout=1.0)
    with pytest.raises(ValueError, match=rf"^{name}: input of shape \(2, 3\); expected "
                                         r"\(time, batch, input_size\) with input_size 3$"):
        layer(I, H)(tr.randn(2, I))
    with pytest.raises(ValueError, match=rf"^{name}: state must be a list with one cell "
                                         r"state per layer \(1\); got a tuple of length 2$"):
        layer(I, H)(tr.randn(T, 2, I), (None, None))
