"""Optimisers against hand-computed steps, exact resume from state_dict,
StepDecay, and gradient clipping against its formula."""
from __future__ import annotations

import math

import numpy as np
import pytest

import tinyrnn as tr
from tinyrnn import nn, optim
from tinyrnn.nn.utils import clip_grad_norm_, clip_grad_value_

G1 = [0.5, -1.0]
G2 = [-0.25, 2.0]


def param(values=(1.0, -2.0), dtype="float32"):
    return nn.Parameter(tr.tensor(list(values), dtype=dtype))


def run(opt_factory, grads, dtype="float32"):
    """Apply one optimizer step per gradient in ``grads`` to p = [1, -2]."""
    p = param(dtype=dtype)
    opt = opt_factory([p])
    for g in grads:
        p.grad = tr.tensor(g, dtype=dtype)
        opt.step()
    return p


# Expected values worked out by hand from each rule (see the comments).
HAND = [
    # SGD: p - lr g = [1 - 0.05, -2 + 0.1]
    ("sgd", lambda ps: optim.SGD(ps, lr=0.1), [G1], [0.95, -1.9]),
    # momentum 0.9: v1 = g, v2 = 0.9 g + g = 1.9 g; p2 = p - 0.1 (g + 1.9 g) = p - 0.29 g
    ("sgd_momentum", lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9), [G1, G1],
     [1 - 0.145, -2 + 0.29]),
    # weight decay 0.1: g' = g + 0.1 p = [0.6, -1.2]; p - 0.1 g'
    ("sgd_weight_decay", lambda ps: optim.SGD(ps, lr=0.1, weight_decay=0.1), [G1],
     [0.94, -1.88]),
    # Adagrad: G1 = g^2 -> step lr*sign(g); G2 = 2 g^2 -> step lr g / (sqrt(2) |g|)
    ("adagrad", lambda ps: optim.Adagrad(ps, lr=0.1), [G1, G1],
     [1 - 0.1 - 0.1 / math.sqrt(2), -2 + 0.1 + 0.1 / math.sqrt(2)]),
    # RMSprop alpha 0.9: s1 = 0.1 g^2 = [0.025, 0.1]; s2 = 0.9 s1 + 0.1 g^2 = [0.0475, 0.19]
    ("rmsprop", lambda ps: optim.RMSprop(ps, lr=0.01, alpha=0.9), [G1, G1],
     [1 - 0.005 / math.sqrt(0.025) - 0.005 / math.sqrt(0.0475),
      -2 + 0.01 / math.sqrt(0.1) + 0.01 / math.sqrt(0.19)]),
    # Adam: step 1 moves lr * sign(g) = [0.9, -1.9]; step 2 with G2:
    # m2 = 0.9 (0.1 G1) + 0.1 G2 = [0.02, 0.11], v2 = 0.999 (0.001 G1^2) + 0.001 G2^2
    # = [0.00031225, 0.004999]; p2 = p1 - 0.1 (m2 / 0.19) / sqrt(v2 / 0.001999)
    ("adam", lambda ps: optim.Adam(ps, lr=0.1), [G1, G2],
     [0.9 - 0.1 * (0.02 / 0.19) / math.sqrt(0.00031225 / 0.001999),
      -1.9 - 0.1 * (0.11 / 0.19) / math.sqrt(0.004999 / 0.001999)]),
]


@pytest.mark.parametrize("name, factory, grads, expected", HAND, ids=[h[0] for h in HAND])
def test_hand_computed_steps(name, factory, grads, expected):
    p = run(factory, grads, dtype="float64")
    np.testing.assert_allclose(p.numpy(), expected, rtol=1e-7)


@pytest.mark.parametrize("name, factory, grads, expected", HAND, ids=[h[0] for h in HAND])
def test_steps_keep_dtype_backend_and_bump_version(name, factory, grads, expected, backend):
    p = param()
    opt = factory([p])
    for k, g in enumerate(grads, start=1):
        p.grad = tr.tensor(g)
        before = p.data
        opt.step()
        assert p._version == k and p.data is not before
    assert p.backend.name == backend and str(p.dtype).endswith("float32")
    for buf in opt.state[0].values():
        if not isinstance(buf, int):
            assert str(buf.dtype).endswith("float32")
    np.testing.assert_allclose(p.numpy(), expected, rtol=1e-5)


def test_parameters_without_grad_are_skipped_and_zero_grad():
    a, b = param(), param()
    opt = optim.Adam([a, b], lr=0.1)
    a.grad = tr.tensor(G1)
    opt.step()
    np.testing.assert_array_equal(b.numpy(), [1.0, -2.0])
    assert opt.state[1]["step"] == 0 and opt.state[0]["step"] == 1
    opt.zero_grad()
    assert a.grad is None and b.grad is None


def test_adam_trains_a_module_loss_down():
    tr.manual_seed(0)
    layer = nn.Linear(3, 1)
    x, y = tr.randn(16, 3), tr.randn(16, 1)
    opt = optim.Adam(layer.parameters(), lr=0.05)
    losses = []
    for _ in range(50):
        loss = ((layer(x) - y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]


# ---- exact resume ----------------------------------------------------------------------
@pytest.mark.parametrize("factory", [
    lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01),
    lambda ps: optim.Adagrad(ps, lr=0.1),
    lambda ps: optim.RMSprop(ps, lr=0.01, alpha=0.95),
    lambda ps: optim.Adam(ps, lr=0.01, betas=(0.8, 0.99)),
], ids=["sgd", "adagrad", "rmsprop", "adam"])
def test_state_dict_resumes_exactly(factory):
    rng = np.random.default_rng(0)
    grads = [[rng.standard_normal(3), rng.standard_normal((2, 2))] for _ in range(5)]

    def steps(params, opt, gs):
        for g in gs:
            for p, gi in zip(params, g):
                p.grad = tr.tensor(gi, dtype="float32")
            opt.step()

    params = [nn.Parameter(tr.ones(3)), nn.Parameter(tr.ones(2, 2))]
    opt = factory(params)
    steps(params, opt, grads[:3])
    opt.lr *= 0.5                                   # as a schedule would
    saved = opt.state_dict()
    saved_params = [p.numpy().copy() for p in params]
    for key, value in saved.items():
        assert isinstance(value, (np.ndarray, float, int)), key
    steps(params, opt, grads[3:])

    resumed = [nn.Parameter(tr.tensor(v)) for v in saved_params]
    opt2 = factory(resumed)
    opt2.load_state_dict(saved)
    assert opt2.lr == opt.lr
    steps(resumed, opt2, grads[3:])
    for a, b in zip(params, resumed):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_load_state_dict_errors():
    p = param()
    opt = optim.Adam([p], lr=0.1)
    p.grad = tr.tensor(G1)
    opt.step()
    state = opt.state_dict()
    with pytest.raises(ValueError, match=r"Adam.load_state_dict: missing keys: beta1, "
                                         r"beta2, eps; unexpected keys: momentum, "
                                         r"velocity.0 \(is it the state of another optimizer"):
        opt.load_state_dict(optim.SGD([param()], lr=0.1, momentum=0.9).state_dict()
                            | {"velocity.0": np.zeros(2)})
    bad = dict(state, **{"exp_avg.0": np.zeros(3)})
    with pytest.raises(ValueError, match=r"exp_avg.0 has shape \(3,\); expected \(2,\)"):
        opt.load_state_dict(bad)
    with pytest.raises(ValueError, match="unexpected keys: step.1"):
        optim.Adam([param()], lr=0.1).load_state_dict(dict(state, **{"step.1": 0}))


def test_bad_arguments():
    with pytest.raises(ValueError, match="SGD: lr must be a positive number; got -1"):
        optim.SGD([param()], lr=-1)
    with pytest.raises(ValueError, match="Adam: got an empty parameter list"):
        optim.Adam([], lr=0.1)
    with pytest.raises(ValueError, match=r"RMSprop: alpha must be in \[0, 1\); got 1.5"):
        optim.RMSprop([param()], lr=0.1, alpha=1.5)
    with pytest.raises(TypeError, match="SGD: parameter 0 is a ndarray, not a Tensor"):
        optim.SGD([np.zeros(2)], lr=0.1)
    p = param()
    with pytest.raises(ValueError, match="appears more than once"):
        optim.SGD([p, p], lr=0.1)


# ---- StepDecay -------------------------------------------------------------------------
def test_step_decay_schedule():
    opt = optim.RMSprop([param()], lr=2e-3)
    sched = optim.StepDecay(opt, decay=0.97, after=10)
    assert sched.step(0) == 2e-3 and sched.step(10) == 2e-3 and sched.step(10.9) == 2e-3
    assert sched.step(11) == pytest.approx(2e-3 * 0.97)
    assert sched.step(13.5) == pytest.approx(2e-3 * 0.97 ** 3)
    assert opt.lr == pytest.approx(2e-3 * 0.97 ** 3)
    again = optim.StepDecay(optim.RMSprop([param()], lr=1.0))
    again.load_state_dict(sched.state_dict())
    assert again.step(12) == pytest.approx(2e-3 * 0.97 ** 2)
    with pytest.raises(ValueError, match=r"decay must be in \(0, 1\]"):
        optim.StepDecay(opt, decay=1.5)


# ---- clipping --------------------------------------------------------------------------
def test_clip_grad_norm_matches_formula(backend):
    a, b = nn.Parameter(tr.zeros(2)), nn.Parameter(tr.zeros(2, 2))
    c = nn.Parameter(tr.zeros(1))                       # no gradient: ignored
    a.grad, b.grad = tr.tensor([3.0, 0.0]), tr.tensor([[0.0, 4.0], [0.0, 12.0]])
    old = b.grad.data
    total = clip_grad_norm_([a, b, c], 6.5)
    assert total == pytest.approx(13.0)                 # sqrt(9 + 16 + 144)
    scale = 6.5 / (13.0 + 1e-6)
    np.testing.assert_allclose(a.grad.numpy(), [3.0 * scale, 0.0], rtol=1e-6)
    np.testing.assert_allclose(b.grad.numpy(), [[0.0, 4 * scale], [0.0, 12 * scale]],
                               rtol=1e-6)
    np.testing.assert_array_equal(tr.Tensor(old).numpy(), [[0.0, 4.0], [0.0, 12.0]])
    assert str(a.grad.dtype).endswith("float32") and a.grad.backend.name == backend
    assert c.grad is None
    # below the threshold: untouched
    assert clip_grad_norm_([a, b], 100.0) == pytest.approx(6.5, rel=1e-5)
    np.testing.assert_allclose(a.grad.numpy(), [3.0 * scale, 0.0], rtol=1e-6)


def test_clip_grad_norm_adds_pytorchs_epsilon_to_the_norm():
    """PyTorch's clip scales by max_norm / (total + 1e-6): for tiny gradients the
    1e-6 is not negligible (here the scale is 1/6, not 1/5)."""
    a = nn.Parameter(tr.zeros(2, dtype="float64"))
    a.grad = tr.tensor(np.array([3e-6, 4e-6]))
    assert clip_grad_norm_([a], 1e-6) == pytest.approx(5e-6)
    np.testing.assert_allclose(a.grad.numpy(), np.array([3e-6, 4e-6]) / 6, rtol=1e-9)


def test_clip_grad_norm_leaves_non_finite_alone():
    a = nn.Parameter(tr.zeros(2))
    a.grad = tr.tensor([np.inf, 1.0])
    assert clip_grad_norm_([a], 1.0) == math.inf
    np.testing.assert_array_equal(a.grad.numpy(), [np.inf, 1.0])
    with pytest.raises(ValueError, match="max_norm must be positive"):
        clip_grad_norm_([a], 0)


def test_clip_grad_value(backend):
    a = nn.Parameter(tr.zeros(4))
    a.grad = tr.tensor([-7.0, -2.0, 0.5, 9.0])
    old = a.grad.data
    clip_grad_value_([a], 5.0)
    np.testing.assert_array_equal(a.grad.numpy(), [-5.0, -2.0, 0.5, 5.0])
    np.testing.assert_array_equal(tr.Tensor(old).numpy(), [-7.0, -2.0, 0.5, 9.0])
    assert str(a.grad.dtype).endswith("float32")
    with pytest.raises(ValueError, match="clip_value must be positive"):
        clip_grad_value_([a], -1)


# ---- min-char-rnn, reproduced exactly ---------------------------------------------------
def test_adagrad_eps_placement_hand_computed():
    """First step, G = g^2: PyTorch's placement moves by ~lr * sign(g) whatever |g|,
    min-char-rnn's by lr * g / sqrt(g^2 + eps) -- 100 times less for |g| = 1e-6."""
    g = [1e-6, -2.0]
    torch_like = run(lambda ps: optim.Adagrad(ps, lr=0.1), [g], dtype="float64")
    min_char = run(lambda ps: optim.Adagrad(ps, lr=0.1, eps_inside_sqrt=True), [g],
                   dtype="float64")
    np.testing.assert_allclose(torch_like.numpy(), [1 - 0.1 * 1e-6 / (1e-6 + 1e-8),
                                                    -2 + 0.1 * 2 / (2 + 1e-8)],
                               rtol=1e-12)
    np.testing.assert_allclose(min_char.numpy(), [1 - 0.1 * 1e-6 / math.sqrt(1e-12 + 1e-8),
                                                  -2 + 0.2 / math.sqrt(4 + 1e-8)], rtol=1e-12)
    assert abs(torch_like.numpy()[0] - min_char.numpy()[0]) > 0.09
    with pytest.raises(TypeError, match="eps_inside_sqrt must be True or False"):
        optim.Adagrad([param()], eps_inside_sqrt="yes")
    assert "eps_inside_sqrt=True" in repr(optim.Adagrad([param()], eps_inside_sqrt=True))


class MinCharRNN:
    """Karpathy's min-char-rnn, transcribed in NumPy from its published equations:

    h_t = tanh(Wxh x_t + Whh h_{t-1} + bh),  y_t = Why h_t + by,
    loss = sum_t -log softmax(y_t)[target_t]; backprop through the 25 steps,
    clip every gradient to [-5, 5], and Adagrad: mem += d^2,
    param -= lr * d / sqrt(mem + 1e-8).
    """

    def __init__(self, weights: dict, lr: float):
        self.p = {k: v.copy() for k, v in weights.items()}
        self.mem = {k: np.zeros_like(v) for k, v in weights.items()}
        self.lr = lr

    def step(self, inputs, targets, hprev):
        Wxh, Whh, Why, bh, by = (self.p[k] for k in ("Wxh", "Whh", "Why", "bh", "by"))
        V = Wxh.shape[1]
        xs, hs, ps = {}, {-1: hprev}, {}
        loss = 0.0
        for t, (i, j) in enumerate(zip(inputs, targets)):
            xs[t] = np.zeros((V, 1))
            xs[t][i] = 1.0
            hs[t] = np.tanh(Wxh @ xs[t] + Whh @ hs[t - 1] + bh)
            y = Why @ hs[t] + by
            ps[t] = np.exp(y - y.max()) / np.sum(np.exp(y - y.max()))
            loss -= np.log(ps[t][j, 0])
        d = {k: np.zeros_like(v) for k, v in self.p.items()}
        dhnext = np.zeros_like(hprev)
        for t in reversed(range(len(inputs))):
            dy = ps[t].copy()
            dy[targets[t]] -= 1.0
            d["Why"] += dy @ hs[t].T
            d["by"] += dy
            dhraw = (1 - hs[t] ** 2) * (Why.T @ dy + dhnext)
            d["bh"] += dhraw
            d["Wxh"] += dhraw @ xs[t].T
            d["Whh"] += dhraw @ hs[t - 1].T
            dhnext = Whh.T @ dhraw
        for k in self.p:
            np.clip(d[k], -5, 5, out=d[k])
            self.mem[k] += d[k] * d[k]
            self.p[k] -= self.lr * d[k] / np.sqrt(self.mem[k] + 1e-8)
        return loss, hs[len(inputs) - 1]


def _tinyrnn_min_char_rnn(weights: dict, lr: float, eps_inside_sqrt: bool):
    """The same model from tinyrnn's parts: a composed RNN layer, Linear, cross-entropy,
    clip_grad_value_ and Adagrad. min-char-rnn has one hidden bias: ours is b_ih,
    and b_hh stays a frozen zero."""
    H, V = weights["Wxh"].shape
    rnn = nn.RNN(V, H, fused=False).double()
    decoder = nn.Linear(H, V).double()
    rnn.load_state_dict({"weight_ih_l0": weights["Wxh"], "weight_hh_l0": weights["Whh"],
                         "bias_ih_l0": weights["bh"][:, 0], "bias_hh_l0": np.zeros(H)})
    decoder.load_state_dict({"weight": weights["Why"], "bias": weights["by"][:, 0]})
    rnn.bias_hh_l0.requires_grad_(False)
    params = [p for p in rnn.parameters() + decoder.parameters() if p.requires_grad]
    opt = optim.Adagrad(params, lr=lr, eps_inside_sqrt=eps_inside_sqrt)
    eye = np.eye(V)

    def step(inputs, targets, hprev):
        x = tr.tensor(eye[inputs][:, None, :], dtype="float64")            # (T, 1, V)
        out, (h,) = rnn(x, [tr.tensor(hprev.T, dtype="float64")])
        loss = tr.cross_entropy(decoder(out[:, 0]), tr.tensor(np.asarray(targets)),
                                reduction="sum")
        opt.zero_grad()
        loss.backward()
        clip_grad_value_(params, 5.0)
        opt.step()
        return loss.item(), h.numpy().T

    def weights_now():
        return {"Wxh": rnn.weight_ih_l0.numpy(), "Whh": rnn.weight_hh_l0.numpy(),
                "bh": rnn.bias_ih_l0.numpy()[:, None], "Why": decoder.weight.numpy(),
                "by": decoder.bias.numpy()[:, None]}
    return step, weights_now


def _train(step, data, iterations, H, seq_length=25):
    """min-char-rnn's loop: walk the data in chunks of 25, carrying h; restart at the end."""
    pointer, hprev, losses = 0, np.zeros((H, 1)), []
    for _ in range(iterations):
        if pointer + seq_length + 1 >= len(data):
            pointer, hprev = 0, np.zeros((H, 1))
        chunk = data[pointer:pointer + seq_length + 1]
        loss, hprev = step(list(chunk[:-1]), list(chunk[1:]), hprev)
        losses.append(loss)
        pointer += seq_length
    return losses


def test_min_char_rnn_is_reproduced_to_1e_10_over_300_iterations():
    V, H, lr, iterations = 7, 12, 0.1, 300
    rng = np.random.default_rng(100)
    # a text with structure (so the weights move), over a 7-character vocabulary
    data = np.array([(3 * k + (k // 7) % 3) % V for k in range(1200)])
    data[rng.random(len(data)) < 0.1] = 6
    weights = {"Wxh": rng.standard_normal((H, V)) * 0.01,
               "Whh": rng.standard_normal((H, H)) * 0.01,
               "Why": rng.standard_normal((V, H)) * 0.01,
               "bh": np.zeros((H, 1)), "by": np.zeros((V, 1))}
    reference = MinCharRNN(weights, lr)
    ref_losses = _train(reference.step, data, iterations, H)
    step, weights_now = _tinyrnn_min_char_rnn(weights, lr, eps_inside_sqrt=True)
    losses = _train(step, data, iterations, H)
    np.testing.assert_allclose(losses, ref_losses, rtol=0, atol=1e-10)
    assert ref_losses[-1] < 0.5 * ref_losses[0]                          # it did learn
    ours = weights_now()
    for k in weights:
        np.testing.assert_allclose(ours[k], reference.p[k], rtol=0, atol=1e-10, err_msg=k)
        assert np.abs(reference.p[k] - weights[k]).max() > 0.05, k        # and moved
    # PyTorch's placement of eps is a different trajectory, from the first update on
    step, weights_now = _tinyrnn_min_char_rnn(weights, lr, eps_inside_sqrt=False)
    _train(step, data, 1, H)
    first = MinCharRNN(weights, lr)
    _train(first.step, data, 1, H)
    assert max(np.abs(weights_now()[k] - first.p[k]).max() for k in weights) > 0.05
