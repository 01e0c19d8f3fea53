"""Recurrent cells: one time step of a vanilla RNN, an LSTM and a GRU.

Every cell keeps the contract of :class:`~tinyrnn.nn.cell_base.Cell`::

    h, state = cell(x, state)        # x (B, I) -> h (B, H); state=None starts fresh
    state = cell.initial_state(B)    # zeros
    h, state, inside = cell.step_with_internals(x, state)    # + the gates

The cells are *composed* from engine ops (matmul, sigmoid, tanh, split ...),
so their backward comes for free and every line reads like the equations.
The recurrent layers (:mod:`tinyrnn.nn.recurrent`) run them step by step, or
replace a whole sequence of them by one fused op with a hand-written backward
(``fused_sequence``, :mod:`tinyrnn.ops.fused`).

Parameters use **PyTorch's names, shapes, gate order and initialisation**::

    weight_ih (G*H, I)   weight_hh (G*H, H)   bias_ih (G*H,)   bias_hh (G*H,)
    all ~ U(-k, k), k = 1 / sqrt(H);   G = 1 (RNN), 4 (LSTM: i, f, g, o), 3 (GRU: r, z, n)

so ``torch.nn.LSTMCell(I, H).load_state_dict(our_cell.state_dict())`` (after
``torch.from_numpy``) gives the same numbers, and back. Weights are stored
(out, in), so a product is ``x @ W.T``.

``layer_norm=True`` (Ba, Kiros & Hinton 2016) normalises each gate's
pre-activation -- the quantity inside its sigmoid or tanh -- per example over
that gate's H units, then applies a learned gain (``ln_weight``, starts at 1)
and bias (``ln_bias``, starts at 0), one per gate unit (G*H of each). The LSTM
also normalises the cell before its output tanh (``ln_cell_weight``,
``ln_cell_bias``). PyTorch has no such cells, so those parameters have no
PyTorch counterpart.
"""
from __future__ import annotations

import math

from .. import ops
from ..autograd import no_grad
from ..ops import fused
from ..tensor import Tensor
from . import init
from .cell_base import Cell
from .checks import check_like
from .layers import empty_parameter

__all__ = ["RNNCell", "LSTMCell", "GRUCell"]


class _PyTorchCell(Cell):
    """What the three cells share: PyTorch-style weights and the fused path.

    Subclasses set ``gates`` (G) and write ``step``.
    """

    gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 layer_norm: bool = False, backend=None):
        super().__init__(input_size, hidden_size)
        self.layer_norm = bool(layer_norm)
        GH, k = self.gates * hidden_size, 1.0 / math.sqrt(hidden_size)
        self.weight_ih = init.uniform_(empty_parameter(GH, input_size, backend=backend), -k, k)
        self.weight_hh = init.uniform_(empty_parameter(GH, hidden_size, backend=backend), -k, k)
        self.bias_ih = init.uniform_(empty_parameter(GH, backend=backend), -k, k) \
            if bias else None
        self.bias_hh = init.uniform_(empty_parameter(GH, backend=backend), -k, k) \
            if bias else None
        if self.layer_norm:
            self.ln_weight = init.ones_(empty_parameter(GH, backend=backend))
            self.ln_bias = empty_parameter(GH, backend=backend)

    def state_shapes(self, batch_size: int) -> dict:
        """The state is h (B, H) (the LSTM adds c)."""
        return {"h": (batch_size, self.hidden_size)}

    # ---- building blocks ------------------------------------------------------------
    def _affine(self, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        """x @ W^T + b: (B, in) -> (B, G*H)."""
        y = ops.matmul(x, weight.T)
        return y if bias is None else y + bias

    def _norm_gates(self, a: Tensor, first: int, count: int) -> Tensor:
        """Layer norm of gates ``first .. first+count-1`` of ``a`` (B, count*H),
        each gate over its own H units, then that gate's gain and bias."""
        B, H = a.shape[0], self.hidden_size
        normed = ops.layer_norm(a.reshape(B, count, H)).reshape(B, count * H)
        lo, hi = first * H, (first + count) * H
        return normed * self.ln_weight[lo:hi] + self.ln_bias[lo:hi]

    # ---- the fused path ---------------------------------------------------------------
    def _fused_start(self, x: Tensor, state, own_class):
        """The checked initial state when a fused kernel computes exactly this
        cell's step, else None: not with layer norm, and not for a subclass that
        rewrote the step (the kernel would silently compute the parent's)."""
        mine = type(self)
        if self.layer_norm or mine.step is not own_class.step or \
                getattr(mine, "gate_values", None) is not getattr(own_class, "gate_values", None):
            return None
        check_like(mine.__name__, "input", x, self.weight_ih)
        B = x.shape[1]
        return self.check_state(self.initial_state(B) if state is None else state, B)

    def _weights(self) -> tuple:
        return self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh

    def extra_repr(self) -> str:
        s = super().extra_repr()
        if self.bias_ih is None:
            s += ", bias=False"
        return s + (", layer_norm=True" if self.layer_norm else "")


class RNNCell(_PyTorchCell):
    """The vanilla (Elman) RNN cell.

    h' = f(W_ih x + b_ih + W_hh h + b_hh),   f = tanh or relu

    Shapes: x (B, I), h (B, H) -> h' (B, H); weight_ih (H, I), weight_hh (H, H),
    bias_ih (H,), bias_hh (H,): PyTorch's ``torch.nn.RNNCell`` exactly (the two
    biases are redundant -- only their sum matters -- but kept so weights load
    unchanged). min-char-rnn and CS231n write the same step with one bias and
    column vectors (Wxh, Whh, bh).

    With ``layer_norm=True``: h' = f(LN(W_ih x + b_ih + W_hh h + b_hh)), the
    "RNN-LN" of Ba et al. The state is h itself.

    Parameters
    ----------
    input_size, hidden_size : I and H.
    bias : whether to have bias_ih and bias_hh.
    nonlinearity : "tanh" (default) or "relu".
    layer_norm : normalise the pre-activation (adds ln_weight, ln_bias (H,)).
    """

    gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", layer_norm: bool = False, backend=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: unknown nonlinearity {nonlinearity!r}; expected "
                             "'tanh' or 'relu'")
        super().__init__(input_size, hidden_size, bias, layer_norm, backend)
        self.nonlinearity = nonlinearity

    def step(self, x: Tensor, h: Tensor) -> tuple:
        """One step: x (B, I), h (B, H) -> (h', h', {}): the state is h' itself."""
        a = self._affine(x, self.weight_ih, self.bias_ih) \
            + self._affine(h, self.weight_hh, self.bias_hh)
        if self.layer_norm:
            a = self._norm_gates(a, 0, 1)
        h = ops.tanh(a) if self.nonlinearity == "tanh" else ops.relu(a)
        return h, h, {}

    def fused_sequence(self, x: Tensor, state):
        """All T steps of x (T, B, I) as one :func:`~tinyrnn.ops.fused.rnn_sequence`."""
        h0 = self._fused_start(x, state, RNNCell)
        if h0 is None:
            return None
        return fused.rnn_sequence(x, h0, *self._weights(), nonlinearity=self.nonlinearity)

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s + (", nonlinearity='relu'" if self.nonlinearity == "relu" else "")


class LSTMCell(_PyTorchCell):
    """The long short-term memory cell (Hochreiter & Schmidhuber 1997, with the
    forget gate of Gers et al. 2000), in PyTorch's layout.

    Gate pre-activations, stacked in the order **i, f, g, o** (PyTorch, cuDNN)::

        [a_i | a_f | a_g | a_o] = W_ih x + b_ih + W_hh h + b_hh     (B, 4H)
        i = sigmoid(a_i)    input gate        f = sigmoid(a_f)   forget gate
        g = tanh(a_g)       candidate cell    o = sigmoid(a_o)   output gate
        c' = f * c + i * g
        h' = o * tanh(c')

    CS231n's ``lstm_step_forward`` and char-rnn stack the same four blocks as
    **i, f, o, g** (and store Wx as (D, 4H)); to port their weights, swap the
    last two H-row blocks and transpose.

    Shapes: x (B, I), state (h, c) each (B, H) -> h' (B, H), state (h', c');
    weight_ih (4H, I), weight_hh (4H, H), bias_ih (4H,), bias_hh (4H,).

    ``forget_bias``: when given, the forget gate's bias starts at this value
    (bias_ih[H:2H] = forget_bias, bias_hh[H:2H] = 0), as char-rnn and
    Jozefowicz et al. 2015 recommend (1.0), so that the cell remembers by
    default early in training. ``None`` keeps PyTorch's uniform init.

    ``layer_norm=True`` (Ba et al. 2016):  i, f, g, o from LN of each gate's
    pre-activation, and h' = o * tanh(LN(c')); the carried c' is not normalised.
    """

    gates = 4

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 forget_bias: float | None = None, layer_norm: bool = False,
                 backend=None):
        super().__init__(input_size, hidden_size, bias, layer_norm, backend)
        self.forget_bias = forget_bias
        if forget_bias is not None:
            if not bias:
                raise ValueError("LSTMCell: forget_bias needs bias=True")
            H = hidden_size
            with no_grad():
                self.bias_ih[H:2 * H] = float(forget_bias)
                self.bias_hh[H:2 * H] = 0.0
        if self.layer_norm:
            self.ln_cell_weight = init.ones_(empty_parameter(hidden_size, backend=backend))
            self.ln_cell_bias = empty_parameter(hidden_size, backend=backend)

    def state_shapes(self, batch_size: int) -> dict:
        """The state is (h, c), both (B, H)."""
        return {"h": (batch_size, self.hidden_size), "c": (batch_size, self.hidden_size)}

    def step(self, x: Tensor, state: tuple) -> tuple:
        """One step: x (B, I), state (h, c) -> (h', (h', c'), {i, f, o, c'})."""
        h, c = state
        i, f, g, o = self.gate_values(x, h)
        c = f * c + i * g
        c_out = ops.layer_norm(c, self.ln_cell_weight, self.ln_cell_bias) \
            if self.layer_norm else c
        h = o * ops.tanh(c_out)
        return h, (h, c), {"i": i, "f": f, "o": o, "c": c}

    def fused_sequence(self, x: Tensor, state):
        """All T steps of x (T, B, I) as one :func:`~tinyrnn.ops.fused.lstm_sequence`."""
        start = self._fused_start(x, state, LSTMCell)
        if start is None:
            return None
        out, h, c = fused.lstm_sequence(x, *start, *self._weights())
        return out, (h, c)

    def gate_values(self, x: Tensor, h: Tensor) -> tuple:
        """The gate activations of one step: x (B, I), h (B, H) -> (i, f, g, o),
        each (B, H). ``step`` builds on it."""
        a = self._affine(x, self.weight_ih, self.bias_ih) \
            + self._affine(h, self.weight_hh, self.bias_hh)
        if self.layer_norm:
            a = self._norm_gates(a, 0, 4)
        a_i, a_f, a_g, a_o = ops.split(a, self.hidden_size, axis=1)
        return ops.sigmoid(a_i), ops.sigmoid(a_f), ops.tanh(a_g), ops.sigmoid(a_o)

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s + (f", forget_bias={self.forget_bias}" if self.forget_bias is not None else "")


class GRUCell(_PyTorchCell):
    """The gated recurrent unit, PyTorch's ("reset after", cuDNN) variant.

    Pre-activations stacked in the order **r, z, n**::

        r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)            reset gate
        z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)            update gate
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn))         candidate
        h' = (1 - z) * n + z * h

    The reset gate acts *after* the recurrent product, and b_hn sits inside
    r * (...), so unlike the RNN and LSTM the two biases are not redundant.
    Cho et al. 2014 (and TF1, Keras ``reset_after=False``) instead compute
    n = tanh(W_in x + W_hn (r * h) + b); Chung et al. 2014 and char-rnn also
    swap the roles of z and 1 - z. Those weights do not transfer as they are.

    Shapes: x (B, I), h (B, H) -> h' (B, H); weight_ih (3H, I), weight_hh (3H, H),
    bias_ih (3H,), bias_hh (3H,). The state is h itself.

    ``layer_norm=True`` ("GRU-LN", a baseline of Ba et al.'s fast-weights
    paper): r, z and n take LN of their pre-activations (for n the whole
    W_in x + b_in + r * (W_hn h + b_hn)).
    """

    gates = 3

    def step(self, x: Tensor, h: Tensor) -> tuple:
        """One step: x (B, I), h (B, H) -> (h', h', {r, z}): the state is h' itself."""
        r, z, n = self.gate_values(x, h)
        h = n + z * (h - n)                                     # = (1 - z) * n + z * h
        return h, h, {"r": r, "z": z}

    def fused_sequence(self, x: Tensor, state):
        """All T steps of x (T, B, I) as one :func:`~tinyrnn.ops.fused.gru_sequence`."""
        h0 = self._fused_start(x, state, GRUCell)
        if h0 is None:
            return None
        return fused.gru_sequence(x, h0, *self._weights())

    def gate_values(self, x: Tensor, h: Tensor) -> tuple:
        """The gate activations of one step: x (B, I), h (B, H) -> (r, z, n),
        each (B, H). ``step`` builds on it."""
        H = self.hidden_size
        gi = self._affine(x, self.weight_ih, self.bias_ih)      # (B, 3H): [x_r | x_z | x_n]
        gh = self._affine(h, self.weight_hh, self.bias_hh)      # (B, 3H): [h_r | h_z | h_n]
        gi_rz, gi_n = ops.split(gi, [2 * H, H], axis=1)
        gh_rz, gh_n = ops.split(gh, [2 * H, H], axis=1)
        a_rz = gi_rz + gh_rz
        if self.layer_norm:
            a_rz = self._norm_gates(a_rz, 0, 2)
        r, z = ops.split(ops.sigmoid(a_rz), H, axis=1)
        a_n = gi_n + r * gh_n
        if self.layer_norm:
            a_n = self._norm_gates(a_n, 2, 1)
        return r, z, ops.tanh(a_n)
