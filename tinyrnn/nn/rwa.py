"""The Recurrent Weighted Average (RWA) cell of Ostmeyer & Cowell (2017).

An RWA keeps a running *weighted average* of everything it has seen. At
step t it turns the input x_t and the previous output h_{t-1} into a value
z_t (what to remember) and a log-weight a_t (how much it matters), and
outputs the average of all values so far, squashed:

    u_t = W_u x_t + b_u                      (depends on the input only)
    g_t = W_g [x_t; h_{t-1}] + b_g
    a_t = W_a [x_t; h_{t-1}]                 (no bias: a constant cancels in the ratio)
    z_t = u_t * tanh(g_t)
    h_t = tanh( sum_{i<=t} z_i exp(a_i) / sum_{i<=t} exp(a_i) )

with ``[x; h]`` the concatenation. h_0 = tanh(s) for a learned vector s.
The sums are kept as two running totals, a numerator n and a denominator
d, so a step costs the same however long the sequence is. Done naively,
exp(a_i) overflows as soon as some a_i > 88 (float32); the cell therefore
stores n and d rescaled by exp(-m_t), where m_t is the running maximum of
the log-weights (per example and unit):

    m_t = max(m_{t-1}, a_t)
    n_t = n_{t-1} exp(m_{t-1} - m_t) + z_t exp(a_t - m_t)
    d_t = d_{t-1} exp(m_{t-1} - m_t) +     exp(a_t - m_t)
    h_t = tanh(n_t / d_t)

Every exponent is <= 0, so nothing overflows, and d_t >= 1 (the term that
set the maximum contributes exp(0)), so the division is safe. The state
carried from one truncated-BPTT chunk to the next is therefore the four
tensors (n, d, m, h), each of shape (B, H).
"""
from __future__ import annotations

import math

from .. import ops
from ..tensor import Tensor
from . import init
from .cell_base import Cell
from .layers import empty_parameter
from .recurrent import Stack

__all__ = ["RWACell", "RWA", "M_START"]

# The running maximum starts at a large negative *finite* number, not -inf.
# With -inf, any step that leaves m where it started (a padded step that does
# not update m, or an a_t that overflowed to -inf) computes (-inf) - (-inf) =
# NaN in exp(m_{t-1} - m_t), and -inf * 0 = NaN appears as soon as m meets a
# 0/1 mask. -1e38 is finite in float32 (largest 3.4e38) and m_0 - a_1 stays
# finite for any |a_1| < 2.4e38, so nothing overflows; exp(m_0 - m_1) then
# underflows to exactly 0, which makes the empty n_0 = d_0 = 0 vanish.
M_START = -1e38


class RWACell(Cell):
    """One step of a Recurrent Weighted Average (Ostmeyer & Cowell 2017).

    Parameters
    ----------
    input_size : I, features per input vector.
    hidden_size : H, number of units.
    backend : where the parameters live (the default backend when None).

    Learned parameters (shapes)
    ---------------------------
    weight_u (H, I), bias_u (H,)          u = W_u x + b_u
    weight_g (H, I + H), bias_g (H,)      g = W_g [x; h] + b_g
    weight_a (H, I + H)                   a = W_a [x; h]
    s (H,)                                the initial output h_0 = tanh(s)

    As in the paper, W_g and W_a ~ U(+-sqrt(6 / (I + 2H))), W_u ~
    U(+-sqrt(6 / (I + H))) (Glorot's rule for each matrix), biases 0, s ~ N(0, 1).

    ``cell(x, state=None) -> (h, (n, d, m, h))`` with x (B, I) and h, n, d,
    m all (B, H); see the module docstring for the equations. Only the ratio
    n / d matters: n and d alone depend on the reference point m, which is
    detached, so gradients are exact for h and anything computed from it but
    not for n or d used on their own.

    To look at what the cell attends to, ``step_with_internals`` reports the
    log-weights a_t (B, H) as ``"a"`` (and ``RWA(...)(x, return_weights=True)``
    all of them). The normalised weight of step i at time t is exp(a_i - m_t) / d_t.
    """

    def __init__(self, input_size: int, hidden_size: int, backend=None):
        super().__init__(input_size, hidden_size)
        I, H = input_size, hidden_size
        k_u = math.sqrt(6.0 / (I + H))
        k_ga = math.sqrt(6.0 / (I + 2 * H))
        self.weight_u = init.uniform_(empty_parameter(H, I, backend=backend), -k_u, k_u)
        self.bias_u = empty_parameter(H, backend=backend)
        self.weight_g = init.uniform_(empty_parameter(H, I + H, backend=backend), -k_ga, k_ga)
        self.bias_g = empty_parameter(H, backend=backend)
        self.weight_a = init.uniform_(empty_parameter(H, I + H, backend=backend), -k_ga, k_ga)
        self.s = init.normal_(empty_parameter(H, backend=backend))

    def state_shapes(self, batch_size: int) -> dict:
        """The state is (n, d, m, h), each (B, H)."""
        return {name: (batch_size, self.hidden_size) for name in ("n", "d", "m", "h")}

    def initial_state(self, batch_size: int) -> tuple:
        """(n, d, m, h) before the first step: n = d = 0, m = M_START, h = tanh(s).

        h_0 depends on the learned s, so it carries a gradient back to s.
        """
        B, H, p = batch_size, self.hidden_size, self.s
        zeros = Tensor.from_array(p.backend.zeros((B, H), p.dtype), p.backend)
        m = Tensor.from_array(p.backend.full((B, H), M_START, p.dtype), p.backend)
        h = ops.broadcast_to(ops.tanh(p), (B, H))
        return zeros, zeros, m, h

    def step(self, x: Tensor, state: tuple) -> tuple:
        """One step: x (B, I), state (n, d, m, h) -> (h_t, (n_t, d_t, m_t, h_t), {"a": a_t})."""
        n, d, m, h = state
        xh = ops.concat([x, h], axis=1)                          # (B, I + H)
        u = ops.matmul(x, self.weight_u.T) + self.bias_u
        g = ops.matmul(xh, self.weight_g.T) + self.bias_g
        a = ops.matmul(xh, self.weight_a.T)                      # log-weights (B, H)
        z = u * ops.tanh(g)

        # The running maximum is a constant to autograd (detached). That loses
        # nothing: n_t / d_t equals the plain weighted average whatever m is,
        # so d(n/d)/dm = 0 and the gradients of h are exact -- and we never
        # need a subgradient of max at ties.
        m_new = ops.maximum(m.detach(), a.detach())
        rescale = ops.exp(m.detach() - m_new)                    # <= 1, no graph
        w = ops.exp(a - m_new)                                   # in (0, 1]
        n_new = n * rescale + z * w
        d_new = d * rescale + w
        h_new = ops.tanh(n_new / d_new)
        return h_new, (n_new, d_new, m_new, h_new), {"a": a}


class RWA(Stack):
    """A stack of ``num_layers`` RWA cells run over a whole sequence.

    ``RWA(input_size, hidden_size, num_layers=1, *, batch_first=False,
    dropout=0.0, backend=None)``: x (T, B, I) -> (output (T, B, H), states),
    ``states`` a list of one (n, d, m, h) per layer, to pass back in (after
    ``detach_state``) for the next truncated-BPTT chunk. Cell k's parameters
    are the layer's ``weight_u_l<k>``, ``bias_u_l<k>``, ``weight_g_l<k>``,
    ``bias_g_l<k>``, ``weight_a_l<k>`` and ``s_l<k>``; see :class:`RWACell`.

    ``forward(x, state, return_weights=True)`` also returns each layer's
    log-weights a_t, a list of (T, B, H) tensors ((B, T, H) with
    ``batch_first``), detached, for plotting what the network attends to.
    """

    cell_class = RWACell

    def forward(self, x: Tensor, state=None, return_weights: bool = False):
        if not return_weights:
            return super().forward(x, state)
        out, states, internals = self.forward_with_internals(x, state)
        return out, states, [layer["a"].detach() for layer in internals]
