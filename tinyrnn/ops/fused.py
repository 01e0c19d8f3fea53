"""Fused recurrent sequence kernels: a whole RNN / LSTM / GRU layer over T
steps as ONE op, with backpropagation through time written by hand.

Why fuse? The readable cells (``tinyrnn.nn``) compose a step from ops, so a
sequence of T steps records ~10*T graph nodes, multiplies by the weights in
T small products forward and T more for the weight gradients backward, and
spends most of its time in Python bookkeeping when the matrices are small.
The fused kernels do what a hand-written NumPy RNN does (the CS231n
exercise), only more carefully:

* the input projection X W_ih^T for all T steps is one (T*B, I) @ (I, G*H)
  product; only the recurrent product h_{t-1} W_hh^T runs once per step;
* gates are computed in place in preallocated buffers (``Backend.into`` =
  ``out=`` on NumPy/CuPy), so a step allocates nothing;
* backward walks back in time once, then gets dW_ih = dZ^T X,
  dW_hh = dZ^T H_prev and dx = dZ W_ih as single products over all T*B rows;
* backward writes the gate gradients over the saved activations when the
  graph is not retained, so it needs no second (T, B, G*H) buffer.

Layouts and gate orders are PyTorch's (weights load into ``torch.nn.LSTM``
unchanged). The tests check every output and gradient against the composed
cells in float64 to 1e-10 and by ``tinyrnn.gradcheck``.

The functions below check shapes and return tensors; the math lives in
``fused_rnn.py``, ``fused_lstm.py`` and ``fused_gru.py``.
"""
from __future__ import annotations

from ..tensor import Tensor
from .fused_gru import GRUSequence
from .fused_lstm import LSTMSequence
from .fused_rnn import RNNSequence

__all__ = ["rnn_sequence", "lstm_sequence", "gru_sequence",
           "RNNSequence", "LSTMSequence", "GRUSequence"]


def rnn_sequence(x: Tensor, h0: Tensor | None, weight_ih: Tensor, weight_hh: Tensor,
                 bias_ih: Tensor | None = None, bias_hh: Tensor | None = None,
                 nonlinearity: str = "tanh") -> tuple[Tensor, Tensor]:
    """Run a vanilla RNN over a sequence: h_t = f(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh).

    Parameters
    ----------
    x : (T, B, I) inputs, time first.
    h0 : (B, H) initial state, or None for zeros.
    weight_ih : (H, I);  weight_hh : (H, H);  bias_ih, bias_hh : (H,) or None.
    nonlinearity : "tanh" or "relu".

    Returns
    -------
    out (T, B, H) -- h_1 .. h_T;  h_n (B, H) -- the last state.
    """
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"rnn_sequence: nonlinearity must be 'tanh' or 'relu'; "
                         f"got {nonlinearity!r}")
    (h0,) = _check("rnn_sequence", 1, x, (h0,), weight_ih, weight_hh, bias_ih, bias_hh)
    return RNNSequence.apply(x, h0, weight_ih, weight_hh, bias_ih, bias_hh,
                             nonlinearity=nonlinearity)


def lstm_sequence(x: Tensor, h0: Tensor | None, c0: Tensor | None, weight_ih: Tensor,
                  weight_hh: Tensor, bias_ih: Tensor | None = None,
                  bias_hh: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """Run an LSTM over a sequence (gates stacked [i | f | g | o] as in PyTorch).

    Parameters
    ----------
    x : (T, B, I);  h0, c0 : (B, H) or None for zeros;
    weight_ih : (4H, I);  weight_hh : (4H, H);  bias_ih, bias_hh : (4H,) or None.

    Returns
    -------
    out (T, B, H), h_n (B, H), c_n (B, H).
    """
    h0, c0 = _check("lstm_sequence", 4, x, (h0, c0), weight_ih, weight_hh, bias_ih, bias_hh)
    return LSTMSequence.apply(x, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh)


def gru_sequence(x: Tensor, h0: Tensor | None, weight_ih: Tensor, weight_hh: Tensor,
                 bias_ih: Tensor | None = None,
                 bias_hh: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Run a GRU over a sequence (gates stacked [r | z | n] as in PyTorch,
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn))).

    Parameters
    ----------
    x : (T, B, I);  h0 : (B, H) or None for zeros;
    weight_ih : (3H, I);  weight_hh : (3H, H);  bias_ih, bias_hh : (3H,) or None.

    Returns
    -------
    out (T, B, H), h_n (B, H).
    """
    (h0,) = _check("gru_sequence", 3, x, (h0,), weight_ih, weight_hh, bias_ih, bias_hh)
    return GRUSequence.apply(x, h0, weight_ih, weight_hh, bias_ih, bias_hh)


def _check(op: str, gates: int, x, states, weight_ih, weight_hh, bias_ih, bias_hh) -> tuple:
    """Check shapes, dtypes and backends; return the states with None made zeros."""
    for name, t in (("x", x), ("weight_ih", weight_ih), ("weight_hh", weight_hh)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor; got {type(t).__name__}")
    if x.ndim != 3 or x.shape[0] < 1:
        raise ValueError(f"{op}: x must be (T, B, I) with T >= 1 (time first); "
                         f"got shape {x.shape}")
    T, B, I = x.shape
    if weight_hh.ndim != 2 or weight_hh.shape[0] != gates * weight_hh.shape[1]:
        raise ValueError(f"{op}: weight_hh must be ({gates}*H, H); got {weight_hh.shape}")
    H = weight_hh.shape[1]
    G = gates * H
    expected = {"weight_ih": (G, I), "bias_ih": (G,), "bias_hh": (G,)}
    for name, t in (("weight_ih", weight_ih), ("bias_ih", bias_ih), ("bias_hh", bias_hh)):
        if t is not None and t.shape != expected[name]:
            raise ValueError(f"{op}: {name} has shape {t.shape}; expected {expected[name]} "
                             f"for x of shape {x.shape} and hidden size {H}")
    filled = []
    for k, s in enumerate(states):
        if s is None:
            s = Tensor._make(x.backend.zeros((B, H), x.dtype), x.backend, False)
        elif not isinstance(s, Tensor) or s.shape != (B, H):
            got = s.shape if isinstance(s, Tensor) else type(s).__name__
            raise ValueError(f"{op}: initial state {('h0', 'c0')[k]} must be (B, H) = "
                             f"{(B, H)}; got {got}")
        filled.append(s)
    tensors = [x, weight_ih, weight_hh, *filled] + [b for b in (bias_ih, bias_hh)
                                                    if b is not None]
    if not x.backend.is_floating(x.data):
        raise TypeError(f"{op}: x must be floating point; got {x.dtype}")
    for t in tensors:
        if t.dtype != x.dtype:
            raise TypeError(f"{op}: all tensors must share x's dtype {x.dtype}; "
                            f"got one of shape {t.shape} with dtype {t.dtype}")
    return tuple(filled)
