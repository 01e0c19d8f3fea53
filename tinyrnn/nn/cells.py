"""Recurrent cells: one time step of a vanilla RNN, an LSTM and a GRU.

Every cell is a :class:`~tinyrnn.nn.Module` with the same small contract::

    h, state = cell(x, state)        # x (B, I) -> h (B, H); state=None starts fresh
    state = cell.initial_state(B)    # zeros

The cells are *composed* from engine ops (matmul, sigmoid, tanh, split ...),
so their backward comes for free and every line reads like the equations.
The recurrent layers (:mod:`tinyrnn.nn.recurrent`) run them step by step, or
replace a whole sequence of them by one fused op with a hand-written backward.

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
from ..tensor import Tensor
from . import init
from .checks import check_like
from .layers import empty_parameter
from .module import Module

__all__ = ["RNNCell", "LSTMCell", "GRUCell"]


class _Cell(Module):
    """What the three cells share: PyTorch-style weights and argument checks.

    Subclasses set ``gates`` (G) and write ``forward``.
    """

    gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 layer_norm: bool = False, backend=None):
        name = type(self).__name__
        for arg, value in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name}: {arg} must be a positive int; got {value!r}")
        self.input_size, self.hidden_size = input_size, hidden_size
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

    # ---- state ----------------------------------------------------------------
    def _zeros(self, batch_size: int) -> Tensor:
        w = self.weight_hh
        data = w.backend.xp.zeros((batch_size, self.hidden_size), dtype=w.dtype,
                                  device=w.backend.device)
        return Tensor._make(data, w.backend, False)

    def initial_state(self, batch_size: int):
        """The state at t = 0: zeros (B, H)."""
        return self._zeros(batch_size)

    # ---- argument checks ----------------------------------------------------------
    def _check_input(self, x) -> None:
        name = type(self).__name__
        if not isinstance(x, Tensor):
            raise TypeError(f"{name}: input must be a Tensor of shape (batch, "
                            f"{self.input_size}); got {type(x).__name__}")
        if x.ndim != 2 or x.shape[1] != self.input_size:
            raise ValueError(f"{name}: input of shape {x.shape}; expected (batch, "
                             f"input_size) = (B, {self.input_size})")
        check_like(name, "input", x, self.weight_ih)

    def _check_hidden(self, t, what: str, batch_size: int) -> None:
        name = type(self).__name__
        expected = (batch_size, self.hidden_size)
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}: state {what} must be a Tensor of shape {expected}; "
                            f"got {type(t).__name__}")
        if t.shape != expected:
            raise ValueError(f"{name}: state {what} has shape {t.shape}; expected "
                             f"(batch, hidden_size) = {expected}")
        check_like(name, f"state {what}", t, self.weight_hh)

    def _check_pair(self, state, batch_size: int):
        """An LSTM-style state: a tuple (h, c) of (B, H) tensors."""
        if not isinstance(state, (tuple, list)) or len(state) != 2:
            raise TypeError(f"{type(self).__name__}: state must be a tuple (h, c); got "
                            f"{type(state).__name__}"
                            + (f" of length {len(state)}" if isinstance(state, (tuple, list))
                               else ""))
        self._check_hidden(state[0], "h", batch_size)
        self._check_hidden(state[1], "c", batch_size)
        return tuple(state)

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

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias_ih is None:
            s += ", bias=False"
        return s + (", layer_norm=True" if self.layer_norm else "")


class RNNCell(_Cell):
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

    def forward(self, x: Tensor, state: Tensor | None = None):
        """One step: x (B, I), state h (B, H) or None -> (h', h')."""
        self._check_input(x)
        h = self.initial_state(x.shape[0]) if state is None else state
        self._check_hidden(h, "h", x.shape[0])
        a = self._affine(x, self.weight_ih, self.bias_ih) \
            + self._affine(h, self.weight_hh, self.bias_hh)
        if self.layer_norm:
            a = self._norm_gates(a, 0, 1)
        h = ops.tanh(a) if self.nonlinearity == "tanh" else ops.relu(a)
        return h, h

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s + (", nonlinearity='relu'" if self.nonlinearity == "relu" else "")


class LSTMCell(_Cell):
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

    def initial_state(self, batch_size: int):
        """(h, c), both zeros (B, H)."""
        return self._zeros(batch_size), self._zeros(batch_size)

    def forward(self, x: Tensor, state=None):
        """One step: x (B, I), state (h, c) or None -> (h', (h', c'))."""
        self._check_input(x)
        h, c = self._check_pair(self.initial_state(x.shape[0]) if state is None else state,
                                x.shape[0])
        i, f, g, o = self.gate_values(x, h)
        c = f * c + i * g
        c_out = ops.layer_norm(c, self.ln_cell_weight, self.ln_cell_bias) \
            if self.layer_norm else c
        h = o * ops.tanh(c_out)
        return h, (h, c)

    def gate_values(self, x: Tensor, h: Tensor) -> tuple:
        """The gate activations ``forward`` uses: x (B, I), h (B, H) -> (i, f, g, o),
        each (B, H). Public so that one can look at them (:func:`tinyrnn.viz.trace`)."""
        a = self._affine(x, self.weight_ih, self.bias_ih) \
            + self._affine(h, self.weight_hh, self.bias_hh)
        if self.layer_norm:
            a = self._norm_gates(a, 0, 4)
        a_i, a_f, a_g, a_o = ops.split(a, self.hidden_size, axis=1)
        return ops.sigmoid(a_i), ops.sigmoid(a_f), ops.tanh(a_g), ops.sigmoid(a_o)

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s + (f", forget_bias={self.forget_bias}" if self.forget_bias is not None else "")


class GRUCell(_Cell):
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

    def forward(self, x: Tensor, state: Tensor | None = None):
        """One step: x (B, I), state h (B, H) or None -> (h', h')."""
        self._check_input(x)
        h = self.initial_state(x.shape[0]) if state is None else state
        self._check_hidden(h, "h", x.shape[0])
        r, z, n = self.gate_values(x, h)
        h = n + z * (h - n)                                     # = (1 - z) * n + z * h
        return h, h

    def gate_values(self, x: Tensor, h: Tensor) -> tuple:
        """The gate activations ``forward`` uses: x (B, I), h (B, H) -> (r, z, n),
        each (B, H). Public so that one can look at them (:func:`tinyrnn.viz.trace`)."""
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
