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
                     gate_projection, may_overwrite_saved, needs_grad, sequence_grads,
                     start_states, with_out)

# sigmoid(v) = (1 + tanh(v / 2)) / 2. Halving the i, f, o pre-activations once
# (the input projection and the recurrent weights' blocks) lets ONE tanh over
# all four gates do each step's work; then i, f, o <- tanh * 1/2 + 1/2.
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
        matmul, multiply, tanh = (with_out(ctx, f) for f in (xp.matmul, xp.multiply, xp.tanh))
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
            z += rec
            tanh(z, out=z)
            z *= scale                                      # i, f, o = (1 + tanh) / 2
            z += shift
            i, f, g, o = z[0, ...], z[1, ...], z[2, ...], z[3, ...]
            c = cs[t + 1, ...]
            multiply(f, cs[t, ...], out=c)                  # c_t = f * c_{t-1} + i * g
            multiply(i, g, out=ig)
            c += ig
            tanh(c, out=tanh_c[t, ...])                     # h_t = o * tanh(c_t)
            multiply(o, tanh_c[t, ...], out=hs[t + 1, ...])
        out = hs[1:, ...]
        ctx.save_for_backward(x, weight_ih, weight_hh, gates, hs, cs, tanh_c, out)
        return out, copy(ctx, hs[T, ...]), copy(ctx, cs[T, ...])

    @staticmethod
    def backward(ctx, dout, dh_n, dc_n):
        xp = ctx.xp
        matmul, multiply, subtract, sum_ = (
            with_out(ctx, f) for f in (xp.matmul, xp.multiply, xp.subtract, xp.sum))
        x, weight_ih, weight_hh, gates, hs, cs, tanh_c, out = ctx.saved
        T, B, _ = x.shape
        H = hs.shape[-1]
        alpha, gamma = _per_gate(ctx, _ALPHA, x.dtype), _per_gate(ctx, _GAMMA, x.dtype)
        w_hh = xp.reshape(weight_hh, (4, H, H))             # W_hh,k blocks
        # Without retain_graph the activations are dead once read: write dZ over them.
        dgates = gates if may_overwrite_saved(ctx) else empty(ctx, gates.shape, gates.dtype)
        dh, dc = copy(ctx, dh_n), copy(ctx, dc_n)
        d, local, rec = (empty(ctx, (4, B, H), x.dtype) for _ in range(3))
        tmp = empty(ctx, (B, H), x.dtype)
        for t in range(T - 1, -1, -1):
            z = gates[:, t, ...]
            i, f, g, o = z[0, ...], z[1, ...], z[2, ...], z[3, ...]
            tc = tanh_c[t, ...]
            dh += dout[t, ...]
            multiply(tc, tc, out=tmp)                       # dc_t += dh * o * (1 - tc^2)
            tmp -= 1
            tmp *= o
            tmp *= dh
            dc -= tmp
            multiply(dc, g, out=d[0, ...])                  # di
            multiply(dc, cs[t, ...], out=d[1, ...])         # df
            multiply(dc, i, out=d[2, ...])                  # dg
            multiply(dh, tc, out=d[3, ...])                 # do
            dc *= f                                         # dc_{t-1}
            subtract(alpha, z, out=local)                   # s(1 - s) | 1 - g^2
            local *= z
            local += gamma
            dz = dgates[:, t, ...]                          # may be z itself: all reads done
            multiply(d, local, out=dz)
            matmul(dz, w_hh, out=rec)                       # dh_{t-1} = sum_k dz_k W_hh,k
            sum_(rec, axis=0, out=dh)
        dx, dW_ih, dW_hh, db_ih, db_hh = sequence_grads(
            ctx, dgates, x, hs, weight_ih, needs_grad(ctx, INPUTS))
        return dx, dh, dc, dW_ih, dW_hh, db_ih, db_hh


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
