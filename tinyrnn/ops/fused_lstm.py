"""``LSTMSequence``: an LSTM over a whole sequence as one op, with BPTT by hand.

Layouts are PyTorch's (``nn.LSTM``): the rows of weight_ih (4H, I),
weight_hh (4H, H) and the biases (4H,) are the gates stacked [i | f | g | o].
(CS231n and char-rnn stack them [i | f | o | g]; permute rows when porting.)
"""
from __future__ import annotations

from ..autograd import Function
from .fused_common import (input_projection, start_states, transposed_copy, copy, empty,
                           sigmoid_, sequence_grads, may_overwrite_saved)


class LSTMSequence(Function):
    """An LSTM over T steps: one graph node, input projection and weight
    gradients as single products over all T*B rows.

    Shapes
    ------
    x (T, B, I), h0 (B, H), c0 (B, H), weight_ih (4H, I), weight_hh (4H, H),
    bias_ih (4H,) or None, bias_hh (4H,) or None
    -> out (T, B, H) = h_1 .. h_T, h_n (B, H), c_n (B, H).

    Forward, per step (z_t: pre-activations, one (B, 4H) row block)
    -------
    z_t = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh  = [z_i | z_f | z_g | z_o]
    i = sigmoid(z_i)   f = sigmoid(z_f)   g = tanh(z_g)   o = sigmoid(z_o)
    c_t = f * c_{t-1} + i * g
    h_t = o * tanh(c_t)

    Saved: the gate activations (T, B, 4H), h_0..h_T, c_0..c_T and tanh(c_t).

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
        xp, into = ctx.xp, ctx.backend.into
        T, B, _ = x.shape
        H = h0.shape[1]
        gates = input_projection(ctx, x, weight_ih, bias_ih, bias_hh)   # (T, B, 4H)
        hs, cs = start_states(ctx, h0, T), start_states(ctx, c0, T)   # h_0..h_T, c_0..c_T
        tanh_c = empty(ctx, (T, B, H), x.dtype)
        w_hh_t = transposed_copy(ctx, weight_hh)
        rec, ig = empty(ctx, (B, 4 * H), x.dtype), empty(ctx, (B, H), x.dtype)
        for t in range(T):
            z = gates[t, ...]                              # a view, filled in place
            into(rec, xp.matmul, hs[t, ...], w_hh_t)
            z += rec
            sigmoid_(ctx, z[:, :2 * H])                    # i, f
            into(z[:, 2 * H:3 * H], xp.tanh, z[:, 2 * H:3 * H])   # g
            sigmoid_(ctx, z[:, 3 * H:])                    # o
            i, f, g, o = z[:, :H], z[:, H:2 * H], z[:, 2 * H:3 * H], z[:, 3 * H:]
            c = cs[t + 1, ...]
            into(c, xp.multiply, f, cs[t, ...])            # c_t = f * c_{t-1} + i * g
            into(ig, xp.multiply, i, g)
            c += ig
            into(tanh_c[t, ...], xp.tanh, c)               # h_t = o * tanh(c_t)
            into(hs[t + 1, ...], xp.multiply, o, tanh_c[t, ...])
        out = hs[1:, ...]
        ctx.save_for_backward(x, weight_ih, weight_hh, gates, hs, cs, tanh_c, out)
        return out, copy(ctx, hs[T, ...]), copy(ctx, cs[T, ...])

    @staticmethod
    def backward(ctx, dout, dh_n, dc_n):
        xp, into = ctx.xp, ctx.backend.into
        x, weight_ih, weight_hh, gates, hs, cs, tanh_c, out = ctx.saved
        T, B, _ = x.shape
        H = hs.shape[-1]
        # Without retain_graph the activations are dead once read: write dZ over them.
        dgates = gates if may_overwrite_saved(ctx) else empty(ctx, gates.shape, gates.dtype)
        dh, dc = copy(ctx, dh_n), copy(ctx, dc_n)
        d, local = empty(ctx, (B, 4 * H), x.dtype), empty(ctx, (B, 4 * H), x.dtype)
        tmp = empty(ctx, (B, H), x.dtype)
        for t in range(T - 1, -1, -1):
            z = gates[t, ...]
            i, f, g, o = z[:, :H], z[:, H:2 * H], z[:, 2 * H:3 * H], z[:, 3 * H:]
            tc = tanh_c[t, ...]
            dh += dout[t, ...]
            into(tmp, xp.multiply, tc, tc)                 # dc_t += dh * o * (1 - tc^2)
            tmp -= 1
            tmp *= o
            tmp *= dh
            dc -= tmp
            into(d[:, :H], xp.multiply, dc, g)             # di
            into(d[:, H:2 * H], xp.multiply, dc, cs[t, ...])  # df
            into(d[:, 2 * H:3 * H], xp.multiply, dc, i)    # dg
            into(d[:, 3 * H:], xp.multiply, dh, tc)        # do
            dc *= f                                        # dc_{t-1}
            into(local, xp.multiply, z, z)                 # s(1 - s) and 1 - g^2
            into(local[:, :2 * H], xp.subtract, z[:, :2 * H], local[:, :2 * H])
            into(local[:, 3 * H:], xp.subtract, z[:, 3 * H:], local[:, 3 * H:])
            local[:, 2 * H:3 * H] -= 1
            local[:, 2 * H:3 * H] *= -1
            dz = dgates[t, ...]                            # may be z itself: all reads done
            into(dz, xp.multiply, d, local)
            into(dh, xp.matmul, dz, weight_hh)             # dh_{t-1} (recurrent part)
        n = ctx.needs_input_grad
        dx, dW_ih, dW_hh, db_ih, db_hh = sequence_grads(
            ctx, dgates, x, hs, weight_ih, (n[0], n[1], n[3], n[4], n[5], n[6]))
        return dx, dh, dc, dW_ih, dW_hh, db_ih, db_hh
