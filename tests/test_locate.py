"""``tinyrnn.check.locate`` points at the op whose backward is wrong.

gradcheck of a whole function says *that* a gradient is wrong; locate
replays every recorded node on the arrays it saw and names the first one
whose own backward disagrees with its forward.
"""
from __future__ import annotations

import numpy as np
import pytest

import tinyrnn as tr
from tinyrnn import nn
from tinyrnn.autograd import Function
from tinyrnn.backend import get_rng_state
from tinyrnn.check import GradcheckError, Located, locate

from opcase import randn
from test_gradcheck_module import flat, ops_in_graph, plant_wrong_backward
from test_gradcheck_tool import TanhForgetsDerivative, TanhTenthPercentHigh

STEPS, BAD_STEP = 20, 13


def rnn(xs, w, bad_op=None):
    """h_t = tanh(h_{t-1} W + x_t) for 20 steps; step 13's tanh is ``bad_op``.

    Each step records 4 nodes: getitem x_t, matmul, add, tanh.
    """
    h = tr.zeros(3, dtype="float64")
    for t in range(xs.shape[0]):
        h = (bad_op.apply if t == BAD_STEP and bad_op else tr.tanh)(h @ w + xs[t])
    return h


@pytest.mark.parametrize("bad_op", [TanhForgetsDerivative, TanhTenthPercentHigh])
def test_one_wrong_tanh_deep_in_a_20_step_rnn(bad_op, backend):
    xs, w = randn(STEPS, 3), randn(3, 3, scale=0.5)
    assert not tr.gradcheck(lambda a, b: rnn(a, b, bad_op), [xs, w], raise_exception=False)
    found = locate(lambda a, b: rnn(a, b, bad_op), [xs, w])
    assert not found and found.failing == 1
    assert found.op == bad_op.__name__
    assert found.nodes == 4 * STEPS
    assert found.node == 4 * BAD_STEP + 4                  # the 4th node of step 13
    assert found.from_output == found.nodes - found.node + 1 == 4 * (STEPS - BAD_STEP - 1) + 1
    assert found.input == 0 and found.input_shapes == ((3,),) and found.output_shapes == ((3,),)
    assert len(found.index) == 1 and found.analytic != pytest.approx(found.numeric, rel=1e-4)
    report = str(found)
    assert f"{bad_op.__name__}'s backward is wrong -- node {found.node} of 80" in report
    assert "inputs of shapes [(3,)]" in report and f"at index {found.index}" in report


def test_a_correct_graph_reports_nothing():
    xs, w = randn(STEPS, 3), randn(3, 3, scale=0.5)
    assert tr.gradcheck(rnn, [xs, w])
    found = locate(rnn, [xs, w])
    assert found and found.ok and found.failing == 0 and found.op is None
    assert "all 80 recorded ops" in str(found)


class SoftsignWrongBackward(Function):
    """y = x / (1 + |x|). Wrong: dx = dy / (1 + |x|) (the square is missing)."""

    @staticmethod
    def forward(ctx, x):
        xp = ctx.xp
        ctx.save_for_backward(x)
        return x / (1 + xp.abs(x))

    @staticmethod
    def backward(ctx, dy):
        (x,) = ctx.saved
        return dy / (1 + ctx.xp.abs(x))


class _Model(nn.Module):
    def __init__(self, activation):
        self.inner, self.outer, self.activation = nn.Linear(4, 5), nn.Linear(5, 3), activation

    def forward(self, x, targets):
        hidden = tr.layer_norm(self.inner(x), tr.ones(5, dtype=x.dtype), tr.zeros(5, dtype=x.dtype))
        return tr.cross_entropy(self.outer(self.activation(hidden)), targets)


def test_a_wrong_custom_function_in_the_middle_of_a_model():
    tr.manual_seed(0)
    model = _Model(SoftsignWrongBackward.apply)
    x, targets = tr.randn(6, 4), tr.tensor(np.array([0, 2, 1, 1, 0, 2]))
    before = [(p, p.data, p.dtype) for p in model.parameters()]
    found = locate(lambda x: model(x, targets), [x], module=model)
    assert found.op == "SoftsignWrongBackward" and found.failing == 1
    assert found.input_shapes == ((6, 5),) and found.output_shapes == ((6, 5),)
    recorded = [node.fn.__name__ for node in tr.autograd.recorded_nodes(model(x, targets))]
    assert recorded[found.node - 1] == "SoftsignWrongBackward"
    assert all(p.data is data and p.dtype == dtype for p, data, dtype in before)
    model.activation = tr.tanh
    assert locate(lambda x: model(x, targets), [x], module=model)


def test_raise_exception_raises_the_report():
    xs, w = randn(STEPS, 3), randn(3, 3, scale=0.5)
    with pytest.raises(GradcheckError, match=r"TanhForgetsDerivative's backward is wrong"):
        locate(lambda a, b: rnn(a, b, TanhForgetsDerivative), [xs, w], raise_exception=True)


def test_fast_mode_locates_too():
    xs, w = randn(STEPS, 3), randn(3, 3, scale=0.5)
    found = locate(lambda a, b: rnn(a, b, TanhTenthPercentHigh), [xs, w], fast=True)
    assert found.op == "TanhTenthPercentHigh" and found.index is None


@pytest.mark.parametrize("fused", [True, False])
def test_layers_with_options_and_dropout_replay_exactly(fused, monkeypatch):
    """Nodes are replayed with their keyword options (split sizes, axes, the
    fused kernels' nonlinearity) and the same random state (dropout)."""
    tr.manual_seed(0)
    lstm = nn.LSTM(2, 3, num_layers=2, dropout=0.3, fused=fused)
    xs = tr.randn(4, 2, 2)
    run = lambda x: flat(lstm(x))                                     # noqa: E731
    state = get_rng_state()
    assert locate(run, [xs], module=lstm)
    assert get_rng_state() == state                                   # the generator is restored
    bad = "LSTMSequence" if fused else "Sigmoid"
    plant_wrong_backward(monkeypatch, ops_in_graph(run(xs))[bad])
    found = locate(run, [xs], module=lstm)
    assert found.op == bad and not found


def test_nothing_recorded_is_a_clear_error():
    with pytest.raises(ValueError, match="recorded no graph"):
        locate(tr.tanh, [tr.randn(3)])


def test_locate_is_reachable_from_tinyrnn_gradcheck():
    assert tr.locate is locate and tr.check.locate is locate and isinstance(locate(tr.tanh, [randn(2)]), Located)
