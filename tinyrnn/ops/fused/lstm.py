"""``LSTMSequence``: an LSTM over a whole sequence as one op, with BPTT by hand.

Layouts are PyTorch's (``nn.LSTM``): the rows of weight_ih (4H, I),
weight_hh (4H, H) and the biases (4H,) are the gates stacked [i | f | g | o].
(CS231n and char-rnn stack them [i | f | o | g]; permute rows when porting.)
Inside, the gates live gate-major, (4, T, B, H) -- see ``common.py``.
"""
from __future__ import annotations

from ...autograd import Function
from ...tensor import Tensor
from .common import (add_bias, check_sequence_args, copy, empty, gate_blocks,
                     gate_projection, gated_step_functions, may_overwrite_saved, needs_grad, sequence_grads,
                     start_states, with_out)

# sigmoid(v) = (1 + tanh(v / 2)) / 2. Halving the i, f, o pre-activations once
# (the input projection and the recurrent weights' blocks) lets ONE tanh over
# all four gates do each step's work (``activate_gates``).
_SCALE = [0.5, 0.5, 1.0, 0.5]          # per gate, order i, f, g, o
_SHIFT = [0.5, 0.5, 0.0, 0.5]
# Local derivatives from the activations: s(1 - s) for i, f, o and 1 - g^2 for
# g, both as a * (alpha - a) + gamma with these per-gate constants.
_ALPHA = [1.0, 1.0, 0.0, 1.0]
_GAMMA = [0.0, 0.0, 1.0, 0.0]


INPUTS = ('x', 'h0', 'c0', 'weight_ih', 'weight_hh', 'bias_ih', 'bias_hh')
"""The op's inputs in order (``needs_grad`` keys its flags by them)."""


class LSTMSequence(Function):
    """An LSTM over T steps: one graph node, input projection and weight
    gradients as single products over all T*B rows.

    Shapes
    ------
    x (T, B, I), h0 (B, H), c0 (B, H), weight_ih (4H, I), weight_hh (4H, H),
    bias_ih (4H,) or None, bias_hh (4H,) or None
    -> out (T, B, H) = h_1 .. h_T, h_n (B, H), c_n (B, H).

    Forward, per step (z_t: pre-activations of the four gates)
    -------
    z_t = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh  = [z_i | z_f | z_g | z_o]
    i = sigmoid(z_i)   f = sigmoid(z_f)   g = tanh(z_g)   o = sigmoid(z_o)
    c_t = f * c_{t-1} + i * g
    h_t = o * tanh(c_t)

    Saved: the gate activations (4, T, B, H), h_0..h_T, c_0..c_T and tanh(c_t).

    Backward, going back in time (dh_T = dout_T + dh_n, dc_T = dc_n)
    --------
    dc_t  += dh_t * o * (1 - tanh(c_t)^2)
    do = dh_t * tanh(c_t)   di = dc_t * g   dg = dc_t * i   df = dc_t * c_{t-1}
    dz_t  = [di * i(1-i) | df * f(1-f) | dg * (1-g^2) | do * o(1-o)]
    dc_{t-1} = dc_t * f
    dh_{t-1} = dout_{t-1} + dz_t W_hh
    then once over all T*B rows: dW_ih = dZ^T X, dW_hh = dZ^T H_prev,
    db_ih = db_hh = sum(dZ), dx = dZ W_ih.
    """

    @staticmethod
    def forward(ctx, x, h0, c0, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
        xp = ctx.xp
        matmul, activate, cell = gated_step_functions(ctx, lstm_cell_forward)
        T, B, _ = x.shape
        H = h0.shape[1]
        scale, shift = _per_gate(ctx, _SCALE, x.dtype), _per_gate(ctx, _SHIFT, x.dtype)
        gates = gate_projection(ctx, x, weight_ih, add_bias(bias_ih, bias_hh), 4)
        gates *= xp.reshape(scale, (4, 1, 1, 1))           # (4, T, B, H), halved i, f, o
        w_hh = gate_blocks(ctx, weight_hh, 4)               # (4, H, H): W_hh,k^T
        w_hh *= scale
        hs, cs = start_states(ctx, h0, T), start_states(ctx, c0, T)   # h_0..h_T, c_0..c_T
        tanh_c = empty(ctx, (T, B, H), x.dtype)
        rec, ig = empty(ctx, (4, B, H), x.dtype), empty(ctx, (B, H), x.dtype)
        for t in range(T):
            z = gates[:, t, ...]                            # (4, B, H) view, filled in place
            matmul(hs[t, ...], w_hh, out=rec)               # h_{t-1} W_hh,k^T for every k
            activate(z, rec, scale, shift)                  # i, f, g, o
            cell(z[0, ...], z[1, ...], z[2, ...], z[3, ...], cs[t, ...], cs[t + 1, ...],
                 ig, tanh_c[t, ...], hs[t + 1, ...])
        out = hs[1:, ...]
        ctx.save_for_backward(x, weight_ih, weight_hh, gates, hs, cs, tanh_c, out)
        return out, copy(ctx, hs[T, ...]), copy(ctx, cs[T, ...])

    @staticmethod
    def backward(ctx, dout, dh_n, dc_n):
        xp = ctx.xp
        matmul, sum_ = with_out(ctx, xp.matmul), with_out(ctx, xp.sum)
        cell = ctx.backend.pointwise(lstm_cell_backward)
        local = ctx.backend.pointwise(lstm_gates_backward)
        x, weight_ih, weight_hh, gates, hs, cs, tanh_c, out = ctx.saved
        T, B, _ = x.shape
        H = hs.shape[-1]
        alpha, gamma = _per_gate(ctx, _ALPHA, x.dtype), _per_gate(ctx, _GAMMA, x.dtype)
        w_hh = xp.reshape(weight_hh, (4, H, H))             # W_hh,k blocks
        # Without retain_graph the activations are dead once read: write dZ over them.
        dgates = gates if may_overwrite_saved(ctx) else empty(ctx, gates.shape, gates.dtype)
        dh, dc = empty(ctx, (B, H), x.dtype), copy(ctx, dc_n)
        rec = ctx.backend.zeros((4, B, H), x.dtype)        # dz_{t+1} W_hh,k, summed into dh_t
        rec[0, ...] = dh_n
        d, tmp = empty(ctx, (4, B, H), x.dtype), empty(ctx, (4, B, H), x.dtype)
        for t in range(T - 1, -1, -1):
            z = gates[:, t, ...]
            cell(dh, dout[t, ...], rec[0, ...], rec[1, ...], rec[2, ...], rec[3, ...], dc,
                 z[0, ...], z[1, ...], z[2, ...], z[3, ...], cs[t, ...], tanh_c[t, ...],
                 d[0, ...], d[1, ...], d[2, ...], d[3, ...], tmp[0, ...])
            dz = dgates[:, t, ...]                          # may be z itself: all reads done
            local(d, z, alpha, gamma, dz, tmp)
            matmul(dz, w_hh, out=rec)                       # dz_t W_hh,k for every k
        sum_(rec, axis=0, out=dh)                           # dh_0: h0's gradient
        dx, dW_ih, dW_hh, db_ih, db_hh = sequence_grads(
            ctx, dgates, x, hs, weight_ih, needs_grad(ctx, INPUTS))
        return dx, dh, dc, dW_ih, dW_hh, db_ih, db_hh


def lstm_cell_forward(xp, i, f, g, o, c_prev, c, ig, tanh_c, h):
    """c <- f * c_prev + i * g;  tanh_c <- tanh(c);  h <- o * tanh_c.

    One step's cell update from the activated gates (all (B, H); ``ig`` is
    scratch). A pointwise step: one kernel on CuPy.
    """
    xp.multiply(f, c_prev, out=c)
    xp.multiply(i, g, out=ig)
    c += ig
    xp.tanh(c, out=tanh_c)
    xp.multiply(o, tanh_c, out=h)


def lstm_cell_backward(xp, dh, dout_t, r_i, r_f, r_g, r_o, dc, i, f, g, o, c_prev, tanh_c,
                       d_i, d_f, d_g, d_o, tmp):
    """One step back through the cell, from dh_t's parts to the activations' gradients.

    dh <- dh_t = dout_t + sum_k r_k  (r_k = dz_{t+1,k} W_hh,k, the recurrent part)
    dc <- dc_t = dc + dh_t o (1 - tanh(c_t)^2), then dc_{t-1} = dc_t f
    d_i, d_f, d_g, d_o <- dc_t g, dc_t c_{t-1}, dc_t i, dh_t tanh(c_t)

    All (B, H); ``tmp`` is scratch. A pointwise step: one kernel on CuPy.
    """
    xp.add(r_i, r_f, out=dh)
    dh += r_g
    dh += r_o
    dh += dout_t
    xp.multiply(dh, tanh_c, out=d_o)
    xp.multiply(d_o, tanh_c, out=tmp)                   # dh o (1 - tc^2) = o (dh - d_o tc)
    xp.subtract(dh, tmp, out=tmp)
    tmp *= o
    dc += tmp
    xp.multiply(dc, g, out=d_i)
    xp.multiply(dc, c_prev, out=d_f)
    xp.multiply(dc, i, out=d_g)
    dc *= f


def lstm_gates_backward(xp, d, z, alpha, gamma, dz, local):
    """dz <- d * (z (alpha - z) + gamma): the activations' local derivatives,
    s(1 - s) for i, f, o and 1 - g^2 for g, over the (4, B, H) block at once.
    ``dz`` may be ``z`` itself; ``local`` is scratch. One kernel on CuPy."""
    xp.subtract(alpha, z, out=local)
    local *= z
    local += gamma
    xp.multiply(d, local, out=dz)


def _per_gate(ctx, values, dtype):
    """Per-gate constants as a (4, 1, 1) array that broadcasts over (4, B, H)."""
    return ctx.xp.reshape(ctx.backend.asarray(values, dtype), (len(values), 1, 1))


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
    h0, c0 = check_sequence_args("lstm_sequence", 4, x, (h0, c0), weight_ih,
                                 weight_hh, bias_ih, bias_hh)
    return LSTMSequence.apply(x, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh)
