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
