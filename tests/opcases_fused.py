"""Gradient-check cases for the fused sequence kernels (RNN, LSTM, GRU).

Small sizes (T=3, B=2, I=3, H=2 or 3) so the full element-wise check stays
quick on the strict backend; every input requires grad, including h0/c0
and both biases, and every output (out, h_n, c_n) gets its own random
upstream gradient from ``tinyrnn.gradcheck``.
"""
from __future__ import annotations

from opcase import OpCase, randn

from tinyrnn.ops.fused import (GRUSequence, LSTMSequence, RNNSequence, gru_sequence,
                               lstm_sequence, rnn_sequence)

T, B, I = 3, 2, 3


def _rnn_inputs(gates: int, H: int, bias: bool = True, states: int = 1):
    def make():
        xs = [randn(T, B, I)] + [randn(B, H) for _ in range(states)]
        ws = [randn(gates * H, I, scale=0.7), randn(gates * H, H, scale=0.7)]
        bs = [randn(gates * H), randn(gates * H)] if bias else [None, None]
        return xs + ws + bs
    return make


CASES = [
    OpCase(RNNSequence, "rnn_sequence_tanh",
           lambda x, h0, w, u, b1, b2: rnn_sequence(x, h0, w, u, b1, b2),
           _rnn_inputs(1, 3)),
    OpCase(RNNSequence, "rnn_sequence_relu",
           lambda x, h0, w, u, b1, b2: rnn_sequence(x, h0, w, u, b1, b2, nonlinearity="relu"),
           _rnn_inputs(1, 3)),
    OpCase(RNNSequence, "rnn_sequence_no_bias",
           lambda x, h0, w, u, b1, b2: rnn_sequence(x, h0, w, u),
           _rnn_inputs(1, 3, bias=False)),
    OpCase(LSTMSequence, "lstm_sequence",
           lambda x, h0, c0, w, u, b1, b2: lstm_sequence(x, h0, c0, w, u, b1, b2),
           _rnn_inputs(4, 2, states=2)),
    OpCase(LSTMSequence, "lstm_sequence_no_bias",
           lambda x, h0, c0, w, u, b1, b2: lstm_sequence(x, h0, c0, w, u),
           _rnn_inputs(4, 2, bias=False, states=2)),
    OpCase(GRUSequence, "gru_sequence",
           lambda x, h0, w, u, b1, b2: gru_sequence(x, h0, w, u, b1, b2),
           _rnn_inputs(3, 2)),
    OpCase(GRUSequence, "gru_sequence_no_bias",
           lambda x, h0, w, u, b1, b2: gru_sequence(x, h0, w, u),
           _rnn_inputs(3, 2, bias=False)),
]
