"""``gradcheck_module`` checks the parameters the computation actually reads.

Layers register each parameter twice -- ``nn.RNN`` holds ``weight_ih_l0``
and its cell holds the same object as ``weight_ih`` -- so a check that swaps
copies into one attribute path perturbs an array nobody reads: both
derivatives come out zero and "agree", and a wrong backward passes.

For every kind of module, the tests below plant a wrong backward in one op
the module uses (its gradient for one input scaled by 1.1) and insist that
gradcheck_module rejects it, then that the right backward passes. The inputs
are constants, so only the parameters are checked: the check can fail only
through them.
"""
from __future__ import annotations

import numpy as np
import pytest

import tinyrnn as tr
from tinyrnn import nn
from tinyrnn.charlm import CharLM
from tinyrnn.autograd import recorded_nodes
from tinyrnn.check import GradcheckError, gradcheck_module


def ops_in_graph(outputs) -> dict:
    """Name -> Function class of every op recorded behind ``outputs``."""
    return {node.fn.__name__: node.fn for node in recorded_nodes(*outputs)}


def plant_wrong_backward(monkeypatch, op: type, factor: float = 1.1) -> None:
    """Make ``op.backward`` scale its gradient for the last input that needs one."""
    right = op.backward

    def wrong(ctx, *dys):
        grads = right(ctx, *dys)
        grads = list(grads) if isinstance(grads, tuple) else [grads]
        k = max(i for i, g in enumerate(grads) if g is not None and ctx.needs_input_grad[i])
        grads[k] = grads[k] * factor
        return tuple(grads)
    monkeypatch.setattr(op, "backward", staticmethod(wrong))


def flat(result) -> list:
    """The Tensors of a nested (output, states) result."""
    if isinstance(result, (tuple, list)):
        return [t for r in result for t in flat(r)]
    return [result] if isinstance(result, tr.Tensor) else []


def unroll(cell, xs):
    """Run a cell over xs (T, B, I) step by step: (outputs, final state)."""
    state, outs = None, []
    for t in range(xs.shape[0]):
        h, state = cell(xs[t], state)
        outs.append(h)
    return outs, state


def outputs_only(run):
    """RWA's state (n, d) is stored rescaled by exp(-m) with m detached, by
    design (n / d does not depend on m), so only its outputs h are checked."""
    return lambda module, xs: run(module, xs)[0]


def layer(module, xs):
    return module(xs)


T, B, I, H = 3, 2, 2, 3


def _stack_of_mixed_cells():
    return nn.Recurrent([nn.LSTMCell(I, H), nn.GRUCell(H, 2), nn.RWACell(2, 2),
                         nn.FastWeightsCell(2, H)])


# name -> (build module, run it on xs, name of the op to plant a wrong backward in)
MODULES = {
    "rnn_cell_tanh": (lambda: nn.RNNCell(I, H), unroll, "Tanh"),
    "rnn_cell_relu": (lambda: nn.RNNCell(I, H, nonlinearity="relu"), unroll, "Relu"),
    "lstm_cell": (lambda: nn.LSTMCell(I, H), unroll, "Sigmoid"),
    "gru_cell": (lambda: nn.GRUCell(I, H), unroll, "Sigmoid"),
    "rwa_cell": (lambda: nn.RWACell(I, H), outputs_only(unroll), "Tanh"),
    "fast_weights_cell": (lambda: nn.FastWeightsCell(I, H), unroll, "LayerNorm"),
    "rnn_2_layers_composed": (lambda: nn.RNN(I, H, num_layers=2, fused=False), layer, "Tanh"),
    "rnn_2_layers_relu_fused": (lambda: nn.RNN(I, H, num_layers=2, nonlinearity="relu"),
                                layer, "RNNSequence"),
    "rnn_2_layers_fused": (lambda: nn.RNN(I, H, num_layers=2), layer, "RNNSequence"),
    "lstm_2_layers_composed": (lambda: nn.LSTM(I, H, num_layers=2, fused=False), layer,
                               "Sigmoid"),
    "lstm_2_layers_fused": (lambda: nn.LSTM(I, H, num_layers=2), layer, "LSTMSequence"),
    "gru_2_layers_composed": (lambda: nn.GRU(I, H, num_layers=2, fused=False), layer, "Sigmoid"),
    "gru_2_layers_fused": (lambda: nn.GRU(I, H, num_layers=2), layer, "GRUSequence"),
    # the fused LSTM runs layer 0; the wrong Tanh is in the RWA cell on top, so
    # the LSTM's parameters only see it through the layers above
    "recurrent_mixed_cells": (_stack_of_mixed_cells, outputs_only(layer), "Tanh"),
    "rwa_2_layers": (lambda: nn.RWA(I, H, num_layers=2), outputs_only(layer), "Exp"),
    "fast_weights_2_layers": (lambda: nn.FastWeights(I, H, num_layers=2), layer, "LayerNorm"),
}


def _case(name):
    build, run, op_name = MODULES[name]
    tr.manual_seed(0)
    module = build()
    xs = tr.randn(T, B, I) + 0.3                  # a constant input, float32 like a user's
    fn = lambda x: flat(run(module, x))                                 # noqa: E731
    return module, fn, xs, op_name


@pytest.mark.parametrize("name", sorted(MODULES))
def test_gradcheck_module_rejects_a_wrong_backward_and_accepts_the_right_one(name, monkeypatch):
    module, fn, xs, op_name = _case(name)
    ops = ops_in_graph(fn(xs))
    assert op_name in ops, f"{name} does not use {op_name}; it uses {sorted(ops)}"
    originals = [(p, p.data, p.dtype) for p in module.parameters()]
    with monkeypatch.context() as patch:
        plant_wrong_backward(patch, ops[op_name])
        with pytest.raises(GradcheckError, match=r"input \d+ = \S+ \(shape"):
            gradcheck_module(module, fn, [xs])
    # everything put back, even though the check raised
    assert all(p.data is data and p.dtype == dtype and p.grad is None
               for p, data, dtype in originals)
    assert gradcheck_module(module, fn, [xs]) is True
    assert all(p.data is data for p, data, _ in originals)


def test_charlm(monkeypatch):
    """The whole model: one-hot input (no parameters), fused LSTM stack, decoder."""
    tr.manual_seed(0)
    model = CharLM(vocab_size=4, hidden_size=3, num_layers=2)
    ids = tr.tensor(np.array([[0, 3], [2, 1], [1, 1]]))
    fn = lambda ids: flat(model(ids))                                 # noqa: E731
    ops = ops_in_graph(fn(ids))
    with monkeypatch.context() as patch:
        plant_wrong_backward(patch, ops["LSTMSequence"])
        with pytest.raises(GradcheckError, match=r"= rnn\.\S+_l[01] "):
            gradcheck_module(model, fn, [ids])
    assert gradcheck_module(model, fn, [ids]) is True
    assert model.embedding.parameters() == []                 # one-hot: nothing to check


def test_a_parameter_held_twice_is_perturbed_where_it_is_read():
    """A failure seen once: the layer's weight_ih_l0 is its cell's weight_ih."""
    layer = nn.RNN(I, H, num_layers=2, fused=False)
    assert layer.weight_ih_l0 is layer.cells[0].weight_ih
    names = [n for n, _ in layer.named_parameters()]
    assert names == [f"{w}_l{k}" for k in range(2)
                     for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    seen = []

    def fn(x):
        seen.append(float(layer.cells[1].bias_hh.numpy()[0]))
        return flat(layer(x))
    assert gradcheck_module(layer, fn, [tr.randn(T, B, I)])
    assert len(set(seen)) > 1                     # the cell computed with perturbed values


def test_the_module_keeps_its_dtype_and_values_on_the_strict_backend(backend):
    layer = nn.GRU(I, 2, num_layers=1, fused=False)
    before = {n: p.numpy().copy() for n, p in layer.named_parameters()}
    assert gradcheck_module(layer, lambda x: flat(layer(x)), [tr.randn(2, 1, I)], fast=True)
    for n, p in layer.named_parameters():
        assert p.dtype == tr.randn(1).dtype and p.backend.name == backend
        np.testing.assert_array_equal(p.numpy(), before[n])


def test_unknown_option_is_a_type_error():
    cell = nn.RNNCell(I, H)
    with pytest.raises(TypeError, match="atoll"):
        gradcheck_module(cell, lambda x: flat(unroll(cell, x)), [tr.randn(T, B, I)], atoll=1)
