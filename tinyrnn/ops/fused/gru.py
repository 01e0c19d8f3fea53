"""``GRUSequence``: a GRU over a whole sequence as one op, with BPTT by hand.

Layouts are PyTorch's (``nn.GRU``): rows of weight_ih (3H, I), weight_hh
(3H, H) and the biases (3H,) stacked [r | z | n], with the reset gate applied
*after* the recurrent product (cuDNN's form):
n = tanh(W_in x + b_in + r * (W_hn h + b_hn)).
Inside, the gates live gate-major, (3, T, B, H) -- see ``common.py``.
"""
from __future__ import annotations

from ...autograd import Function
from ...tensor import Tensor
from .common import (check_sequence_args, copy, empty, gate_blocks, gate_projection,
                     may_overwrite_saved, needs_grad, sequence_grads, sigmoid_,
                     start_states, with_out)


INPUTS = ('x', 'h0', 'weight_ih', 'weight_hh', 'bias_ih', 'bias_hh')
"""The op's inputs in order (``needs_grad`` keys its flags by them)."""


class GRUSequence(Function):
    """A GRU over T steps: one graph node, input projection and weight
    gradients as single products over all T*B rows.

    Shapes
    ------
    x (T, B, I), h0 (B, H), weight_ih (3H, I), weight_hh (3H, H),
    bias_ih (3H,) or None, bias_hh (3H,) or None
    -> out (T, B, H) = h_1 .. h_T, h_n (B, H).

    Forward, per step
    -------
    [a_r | a_z | a_n] = x_t W_ih^T + b_ih          (all T at once)
    [q_r | q_z | q_n] = h_{t-1} W_hh^T + b_hh
    r = sigmoid(a_r + q_r)   z = sigmoid(a_z + q_z)   n = tanh(a_n + r * q_n)
    h_t = (1 - z) * n + z * h_{t-1}  =  n + z * (h_{t-1} - n)

    Saved: r, z, n gate-major (3, T, B, H), q_n (T, B, H), h_0..h_T.

    Backward, going back in time (dh_T = dout_T + dh_n)
    --------
    dn~ = dh_t * (1 - z) * (1 - n^2)                 (gradient of a_n + r * q_n)
    dz~ = dh_t * (h_{t-1} - n) * z(1 - z)
    dr~ = dn~ * q_n * r(1 - r)
    input side      dA_t = [dr~ | dz~ | dn~]
    recurrent side  dQ_t = [dr~ | dz~ | dn~ * r]
    dh_{t-1} = dout_{t-1} + dh_t * z + dQ_t W_hh
    then once over all T*B rows: dW_ih = dA^T X, dW_hh = dQ^T H_prev,
    db_ih = sum(dA), db_hh = sum(dQ), dx = dA W_ih.
    """

    @staticmethod
    def forward(ctx, x, h0, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
        xp = ctx.xp
        matmul, add, subtract, multiply, tanh = (
            with_out(ctx, f) for f in (xp.matmul, xp.add, xp.subtract, xp.multiply, xp.tanh))
        T, B, _ = x.shape
        H = h0.shape[1]
        gates = gate_projection(ctx, x, weight_ih, bias_ih, 3)    # (3, T, B, H): a_r, a_z, a_n
        if bias_hh is not None:           # b_hr, b_hz add like input biases; b_hn cannot
            gates[:2, ...] += xp.reshape(bias_hh[:2 * H], (2, 1, 1, H))
        w_hh = gate_blocks(ctx, weight_hh, 3)                # (3, H, H): W_hh,k^T
        hs = start_states(ctx, h0, T)
        q_n = empty(ctx, (T, B, H), x.dtype)
        rec = empty(ctx, (3, B, H), x.dtype)
        for t in range(T):
            a = gates[:, t, ...]                             # (3, B, H) view, filled in place
            matmul(hs[t, ...], w_hh, out=rec)                # q = h_{t-1} W_hh,k^T
            rz = a[:2, ...]
            rz += rec[:2, ...]
            sigmoid_(ctx, rz)                                # r, z
            r, z, n = a[0, ...], a[1, ...], a[2, ...]
            if bias_hh is None:                              # q_n = W_hn h + b_hn
                q_n[t, ...] = rec[2, ...]
            else:
                add(rec[2, ...], bias_hh[2 * H:], out=q_n[t, ...])
            multiply(r, q_n[t, ...], out=rec[2, ...])        # n = tanh(a_n + r * q_n)
            n += rec[2, ...]
            tanh(n, out=n)
            h = hs[t + 1, ...]                               # h_t = n + z * (h_{t-1} - n)
            subtract(hs[t, ...], n, out=h)
            h *= z
            h += n
        out = hs[1:, ...]
        ctx.save_for_backward(x, weight_ih, weight_hh, gates, q_n, hs, out)
        return out, copy(ctx, hs[T, ...])

    @staticmethod
    def backward(ctx, dout, dh_n):
        xp = ctx.xp
        matmul, subtract, multiply, sum_ = (
            with_out(ctx, f) for f in (xp.matmul, xp.subtract, xp.multiply, xp.sum))
        x, weight_ih, weight_hh, gates, q_n, hs, out = ctx.saved
        T, B, _ = x.shape
        H = hs.shape[-1]
        w_hh = xp.reshape(weight_hh, (3, H, H))              # W_hh,k blocks
        dA = gates if may_overwrite_saved(ctx) else empty(ctx, gates.shape, gates.dtype)
        dq_n = empty(ctx, (T, B, H), x.dtype)                # recurrent side of n: dn~ * r
        dh = copy(ctx, dh_n)
        d, rec = empty(ctx, (3, B, H), x.dtype), empty(ctx, (3, B, H), x.dtype)
        tmp = empty(ctx, (B, H), x.dtype)
        dr, dz, dn = d[0, ...], d[1, ...], d[2, ...]
        for t in range(T - 1, -1, -1):
            a = gates[:, t, ...]
            r, z, n = a[0, ...], a[1, ...], a[2, ...]
            dh += dout[t, ...]
            subtract(hs[t, ...], n, out=dz)                  # dz~ = dh (h_{t-1} - n) z(1-z)
            dz *= dh
            multiply(z, z, out=tmp)
            subtract(z, tmp, out=tmp)
            dz *= tmp
            multiply(dh, z, out=dn)                          # dn~ = dh (1 - z)(1 - n^2)
            subtract(dh, dn, out=dn)
            multiply(n, n, out=tmp)
            tmp -= 1
            dn *= tmp
            dn *= -1
            multiply(dn, q_n[t, ...], out=dr)                # dr~ = dn~ q_n r(1-r)
            multiply(r, r, out=tmp)
            subtract(r, tmp, out=tmp)
            dr *= tmp
            dh *= z                                          # the direct path z * h_{t-1}
            multiply(dn, r, out=dq_n[t, ...])
            dA[:, t, ...] = d                                # may overwrite a: r, z, n are dead
            d[2, ...] = dq_n[t, ...]                         # recurrent side: [dr~, dz~, dn~ r]
            matmul(d, w_hh, out=rec)
            sum_(rec, axis=0, out=tmp)
            dh += tmp                                        # dh_{t-1} (without dout_{t-1})
        dx, dW_ih, dW_hh, db_ih, db_hh = sequence_grads(ctx, dA, x, hs, weight_ih,
                                                        needs_grad(ctx, INPUTS), last_hh=dq_n)
        return dx, dh, dW_ih, dW_hh, db_ih, db_hh


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
    (h0,) = check_sequence_args("gru_sequence", 3, x, (h0,), weight_ih, weight_hh,
                                bias_ih, bias_hh)
    return GRUSequence.apply(x, h0, weight_ih, weight_hh, bias_ih, bias_hh)
