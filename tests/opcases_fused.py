"""Gradient-check cases for the fused sequence kernels (RNN, LSTM, GRU).

Sizes T=4, B=3, I=5, H=2 are all different, so a backward that mixes up two
axes (``shape[1]`` for ``shape[-1]``, B for H) cannot pass by coincidence,
and small enough for the full element-wise check on the strict backend.
Every input of the main cases requires grad, including h0/c0 and both
biases, and every output (out, h_n, c_n) gets its own random upstream
gradient from ``tinyrnn.gradcheck``; ``load_cases`` adds the variants with
each input alone constant (frozen weights, biases, a detached state), and
the cases below add ``h0=None`` and a relu RNN whose units are all active.
"""
from __future__ import annotations

from opcase import OpCase, positive, randn

from tinyrnn.ops.fused import (GRUSequence, LSTMSequence, RNNSequence, gru_sequence,
                               lstm_sequence, rnn_sequence)

T, B, I, H = 4, 3, 5, 2


def _rnn_inputs(gates: int, bias: bool = True, states: int = 1, bias_shift: float = 0.0):
    def make():
        xs = [randn(T, B, I)] + [randn(B, H) for _ in range(states)]
        ws = [randn(gates * H, I, scale=0.7), randn(gates * H, H, scale=0.7)]
        bs = [randn(gates * H, shift=bias_shift), randn(gates * H, shift=bias_shift)] \
            if bias else [None, None]
        return xs + ws + bs
    return make


def _all_positive():
    """Inputs, state, weights and biases all positive: every relu unit stays active."""
    return [positive(*shape, low=0.1, high=0.5)
            for shape in ((T, B, I), (B, H), (H, I), (H, H), (H,), (H,))]


def _without_state(make):
    """The inputs without h0 (position 1): for cases that pass h0=None."""
    return lambda: [v for k, v in enumerate(make()) if k != 1]


CASES = [
    OpCase(RNNSequence, "rnn_sequence_tanh",
           lambda x, h0, w, u, b1, b2: rnn_sequence(x, h0, w, u, b1, b2),
           _rnn_inputs(1)),
    OpCase(RNNSequence, "rnn_sequence_relu",
           lambda x, h0, w, u, b1, b2: rnn_sequence(x, h0, w, u, b1, b2, nonlinearity="relu"),
           _rnn_inputs(1, bias_shift=0.5)),        # a third of the units active, none near 0
    OpCase(RNNSequence, "rnn_sequence_relu_all_active",
           lambda x, h0, w, u, b1, b2: rnn_sequence(x, h0, w, u, b1, b2, nonlinearity="relu"),
           _all_positive, vary_trainability=False),
    OpCase(RNNSequence, "rnn_sequence_no_bias",
           lambda x, h0, w, u, b1, b2: rnn_sequence(x, h0, w, u),
           _rnn_inputs(1, bias=False)),
    OpCase(RNNSequence, "rnn_sequence_h0_none",
           lambda x, w, u, b1, b2: rnn_sequence(x, None, w, u, b1, b2),
           _without_state(_rnn_inputs(1)), vary_trainability=False),
    OpCase(LSTMSequence, "lstm_sequence",
           lambda x, h0, c0, w, u, b1, b2: lstm_sequence(x, h0, c0, w, u, b1, b2),
           _rnn_inputs(4, states=2)),
    OpCase(LSTMSequence, "lstm_sequence_no_bias",
           lambda x, h0, c0, w, u, b1, b2: lstm_sequence(x, h0, c0, w, u),
           _rnn_inputs(4, bias=False, states=2)),
    OpCase(LSTMSequence, "lstm_sequence_h0_none",
           lambda x, c0, w, u, b1, b2: lstm_sequence(x, None, c0, w, u, b1, b2),
           _without_state(_rnn_inputs(4, states=2)), vary_trainability=False),
    OpCase(LSTMSequence, "lstm_sequence_h0_c0_none",
           lambda x, c0, w, u, b1, b2: lstm_sequence(x, None, None, w, u, b1, b2),
           _without_state(_rnn_inputs(4, states=2)), vary_trainability=False),
    OpCase(GRUSequence, "gru_sequence",
           lambda x, h0, w, u, b1, b2: gru_sequence(x, h0, w, u, b1, b2),
           _rnn_inputs(3)),
    OpCase(GRUSequence, "gru_sequence_no_bias",
           lambda x, h0, w, u, b1, b2: gru_sequence(x, h0, w, u),
           _rnn_inputs(3, bias=False)),
    OpCase(GRUSequence, "gru_sequence_h0_none",
           lambda x, w, u, b1, b2: gru_sequence(x, None, w, u, b1, b2),
           _without_state(_rnn_inputs(3)), vary_trainability=False),
]
