"""Fast weights: an RNN with a fast associative memory (Ba, Hinton, Mnih,
Leibo & Ionescu 2016, "Using Fast Weights to Attend to the Recent Past").

Besides its slow weights W (hidden to hidden) and C (input to hidden), the
network keeps a *fast weight matrix* A, one per example, that stores its
recent hidden states as decaying outer products (Hebb's rule):

    A(t) = lam * A(t-1) + eta * h(t) h(t)^T                      (B, H, H)

To compute the next hidden state it first makes a preliminary vector from
the slow weights, then lets the memory pull it, S times, towards the stored
states it resembles:

    h_0(t+1)     = f( W h(t) + C x(t) + b )
    h_{s+1}(t+1) = f( LN[ W h(t) + C x(t) + b + A(t) h_s(t+1) ] ),  s = 0 .. S-1
    h(t+1)       = h_S(t+1)

f is ReLU, LN is layer normalisation over the H units *of each example*
(with a learned gain and bias), lam = 0.95, eta = 0.5, S = 1. Unrolling the
memory shows it is attention to the past:
A(t) h_s = eta * sum_{tau<=t} lam^(t-tau) h(tau) (h(tau)^T h_s).

Two things implementations get wrong: A must be
one matrix per example -- summing h h^T over the batch leaks one example's
memories into the others -- and layer norm must not use batch statistics.
"""
from __future__ import annotations

import math
import numbers

from .. import ops
from ..tensor import Tensor
from . import init
from .cell_base import Cell
from .layers import empty_parameter
from .recurrent import Stack

__all__ = ["FastWeightsCell", "FastWeights"]

_NONLINEARITIES = {"relu": ops.relu, "tanh": ops.tanh}


class FastWeightsCell(Cell):
    """One step of a fast-weights RNN (Ba et al. 2016).

    Parameters
    ----------
    input_size, hidden_size : I and H.
    lam : decay of the fast memory, in [0, 1] (paper: 0.95).
    eta : fast learning rate, >= 0 (paper: 0.5).
    inner_steps : S >= 1, the number of inner-loop steps (paper: 1).
    layer_norm : apply LN inside the inner loop (paper: yes; without it S > 1
        tends to diverge).
    nonlinearity : f, "relu" (paper) or "tanh".
    fast_weights : False drops the memory altogether: h(t+1) = f(LN[W h(t) +
        C x(t) + b]) in one step, the paper's "RNN-LN" baseline; the state is
        then just h (B, H).
    bias : add the bias b (H,), which starts at 0.
    backend : where the parameters live.

    Learned parameters (shapes)
    ---------------------------
    weight_hh (H, H)   W, the slow recurrent weights, starting at 0.05 * I
    weight_ih (H, I)   C, the input weights, U(+-1/sqrt(I)) like ``Linear``
    bias (H,)          b (when ``bias``)
    ln_gain (H,), ln_bias (H,)   LN's gain (starts at 1) and bias (at 0),
                                 when ``layer_norm``

    State
    -----
    ``cell(x, state=None) -> (h, (h, A))`` with x (B, I), h (B, H), A (B, H, H).
    The state (h(t), A(t)) is consistent in time: A(t) *already contains*
    h(t)'s outer product. So the step from t to t+1 uses A(t) as it comes in
    (which includes h(t), exactly as the paper's equations say), and after
    computing h(t+1) stores A(t+1) = lam A(t) + eta h(t+1) h(t+1)^T for the
    next step. The initial state is h = 0, A = 0 for every example; a state
    you build yourself must keep the same convention.
    """

    def __init__(self, input_size: int, hidden_size: int, lam: float = 0.95,
                 eta: float = 0.5, inner_steps: int = 1, layer_norm: bool = True,
                 nonlinearity: str = "relu", fast_weights: bool = True, bias: bool = True,
                 backend=None):
        super().__init__(input_size, hidden_size)
        _check_options(lam, eta, inner_steps, nonlinearity)
        self.lam, self.eta, self.inner_steps = float(lam), float(eta), inner_steps
        self.layer_norm, self.nonlinearity = bool(layer_norm), nonlinearity
        self.fast_weights = bool(fast_weights)
        I, H = input_size, hidden_size
        k = 1.0 / math.sqrt(I)
        self.weight_ih = init.uniform_(empty_parameter(H, I, backend=backend), -k, k)
        self.weight_hh = init.scaled_identity_(empty_parameter(H, H, backend=backend), 0.05)
        self.bias = empty_parameter(H, backend=backend) if bias else None
        if self.layer_norm:
            self.ln_gain = init.ones_(empty_parameter(H, backend=backend))
            self.ln_bias = empty_parameter(H, backend=backend)

    def state_shapes(self, batch_size: int) -> dict:
        """h (B, H) and A (B, H, H); just h when ``fast_weights`` is off."""
        B, H = batch_size, self.hidden_size
        return {"h": (B, H), "A": (B, H, H)} if self.fast_weights else {"h": (B, H)}

    def step(self, x: Tensor, state) -> tuple:
        """One step: x (B, I), state (h(t), A(t)) -> (h(t+1), (h(t+1), A(t+1)), {}).

        Without the fast memory the state is h alone."""
        B, H = x.shape[0], self.hidden_size
        h, A = state if self.fast_weights else (state, None)
        f = _NONLINEARITIES[self.nonlinearity]

        slow = ops.matmul(h, self.weight_hh.T) + ops.matmul(x, self.weight_ih.T)
        if self.bias is not None:
            slow = slow + self.bias                                    # W h + C x + b
        if not self.fast_weights:
            h_new = f(self._norm(slow))
            return h_new, h_new, {}

        hs = f(slow)                                                   # h_0(t+1)
        for _ in range(self.inner_steps):
            # A(t) h_s, one (H, H) @ (H, 1) product per example (batched matmul).
            recalled = ops.reshape(ops.matmul(A, ops.reshape(hs, (B, H, 1))), (B, H))
            hs = f(self._norm(slow + recalled))
        h_new = hs
        outer = ops.matmul(ops.reshape(h_new, (B, H, 1)), ops.reshape(h_new, (B, 1, H)))
        A_new = A * self.lam + outer * self.eta                      # per example (B, H, H)
        return h_new, (h_new, A_new), {}

    def _norm(self, z: Tensor) -> Tensor:
        """LN over the hidden units of each example (the last axis), if enabled."""
        if not self.layer_norm:
            return z
        return ops.layer_norm(z, self.ln_gain, self.ln_bias)

    def extra_repr(self) -> str:
        return (f"{self.input_size}, {self.hidden_size}, lam={self.lam}, eta={self.eta}, "
                f"inner_steps={self.inner_steps}, layer_norm={self.layer_norm}, "
                f"nonlinearity={self.nonlinearity!r}, fast_weights={self.fast_weights}")


def _check_options(lam, eta, inner_steps, nonlinearity) -> None:
    def real(v):
        return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)
    if not real(lam) or not 0.0 <= lam <= 1.0:
        raise ValueError(f"FastWeightsCell: lam (the memory's decay) must be a number in "
                         f"[0, 1]; got {lam!r}")
    if not real(eta) or eta < 0.0:
        raise ValueError(f"FastWeightsCell: eta (the fast learning rate) must be a finite "
                         f"number >= 0; got {eta!r}")
    if isinstance(inner_steps, bool) or not isinstance(inner_steps, numbers.Integral) \
            or inner_steps < 1:
        raise ValueError(f"FastWeightsCell: inner_steps (S) must be an integer >= 1; "
                         f"got {inner_steps!r}")
    if nonlinearity not in _NONLINEARITIES:
        raise ValueError(f"FastWeightsCell: unknown nonlinearity {nonlinearity!r}; "
                         f"expected one of {sorted(_NONLINEARITIES)}")


class FastWeights(Stack):
    """A stack of ``num_layers`` fast-weights cells run over a whole sequence.

    ``FastWeights(input_size, hidden_size, num_layers=1, *, batch_first=False,
    dropout=0.0, backend=None, **cell_options)`` where ``cell_options`` are
    :class:`FastWeightsCell`'s (lam, eta, inner_steps, layer_norm,
    nonlinearity, fast_weights, bias). x (T, B, I) -> (output (T, B, H),
    states), ``states`` a list of one (h, A) per layer. Cell k's parameters
    are the layer's ``weight_ih_l<k>``, ``weight_hh_l<k>``, ``bias_l<k>``,
    ``ln_gain_l<k>``, ``ln_bias_l<k>``.
    """

    cell_class = FastWeightsCell
