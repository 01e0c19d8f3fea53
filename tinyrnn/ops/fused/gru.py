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
from .common import (check_sequence_args, copy, empty, gate_blocks,
                     gate_projection, gated_step_functions, may_overwrite_saved, needs_grad, sequence_grads,
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

    Saved: r, z, n gate-major (3, T, B, H), q_n (T, B, H), h_0..h_T. (Inside,
    r and z are computed as (1 + tanh(a / 2)) / 2 from halved pre-activations:
    ``activate_gates``.)

    Backward, going back in time (dh_T = dout_T + dh_n)
    --------
    dn~ = dh_t * (1 - z) * (1 - n^2)                 (gradient of a_n + r * q_n)
    dz~ = dh_t * (h_{t-1} - n) * z(1 - z)
    dr~ = dn~ * q_n * r(1 - r)
    input side      dA_t = [dr~ | dz~ | dn~]
    recurrent side  dQ_t = [dr~ | dz~ | dn~ * r]
    dh_{t-1} = dout_{t-1} + dh_t * z + dQ_t W_hh
    (each step's element-wise work is one pointwise function, ``gru_cell_backward``,
    which also sums the previous step's dQ W_hh blocks into dh_t);
    then once over all T*B rows: dW_ih = dA^T X, dW_hh = dQ^T H_prev,
    db_ih = sum(dA), db_hh = sum(dQ), dx = dA W_ih.
    """

    @staticmethod
    def forward(ctx, x, h0, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
        xp = ctx.xp
        matmul, activate, candidate = gated_step_functions(ctx, gru_candidate_forward)
        T, B, _ = x.shape
        H = h0.shape[1]
        gates = gate_projection(ctx, x, weight_ih, bias_ih, 3)    # (3, T, B, H): a_r, a_z, a_n
        if bias_hh is not None:           # b_hr, b_hz add like input biases; b_hn cannot
            gates[:2, ...] += xp.reshape(bias_hh[:2 * H], (2, 1, 1, H))
        gates[:2, ...] *= 0.5             # r, z = sigmoid = (1 + tanh(a / 2)) / 2
        w_hh = gate_blocks(ctx, weight_hh, 3)                # (3, H, H): W_hh,k^T
        w_hh[:2, ...] *= 0.5
        b_hn = ctx.backend.zeros((H,), x.dtype) if bias_hh is None else bias_hh[2 * H:]
        hs = start_states(ctx, h0, T)
        q_n = empty(ctx, (T, B, H), x.dtype)
        rec = empty(ctx, (3, B, H), x.dtype)
        for t in range(T):
            a = gates[:, t, ...]                             # (3, B, H) view, filled in place
            matmul(hs[t, ...], w_hh, out=rec)                # q = h_{t-1} W_hh,k^T
            activate(a[:2, ...], rec[:2, ...], 0.5, 0.5)     # r, z
            candidate(a[2, ...], rec[2, ...], b_hn, a[0, ...], a[1, ...], hs[t, ...],
                      q_n[t, ...], hs[t + 1, ...])           # n, h_t
        out = hs[1:, ...]
        ctx.save_for_backward(x, weight_ih, weight_hh, gates, q_n, hs, out)
        return out, copy(ctx, hs[T, ...])

    @staticmethod
    def backward(ctx, dout, dh_n):
        xp = ctx.xp
        matmul = with_out(ctx, xp.matmul)
        step = ctx.backend.pointwise(gru_cell_backward)
        x, weight_ih, weight_hh, gates, q_n, hs, out = ctx.saved
        T, B, _ = x.shape
        H = hs.shape[-1]
        w_hh = xp.reshape(weight_hh, (3, H, H))              # W_hh,k blocks
        # recurrent side dQ = [dr~, dz~, dn~ r], gate-major; over r, z, n when allowed
        dQ = gates if may_overwrite_saved(ctx) else empty(ctx, gates.shape, gates.dtype)
        dn = empty(ctx, (T, B, H), x.dtype)                  # input side of n: dn~
        dh, tmp = empty(ctx, (B, H), x.dtype), empty(ctx, (B, H), x.dtype)
        carry = copy(ctx, dh_n)                              # dh_{t+1} z_{t+1}, then dh_n
        rec = ctx.backend.zeros((3, B, H), x.dtype)          # dQ_{t+1} W_hh,k
        for t in range(T - 1, -1, -1):
            a, d = gates[:, t, ...], dQ[:, t, ...]
            step(dh, carry, dout[t, ...], rec[0, ...], rec[1, ...], rec[2, ...],
                 a[0, ...], a[1, ...], a[2, ...], hs[t, ...], q_n[t, ...],
                 d[0, ...], d[1, ...], d[2, ...], dn[t, ...], tmp)
            matmul(d, w_hh, out=rec)
        dh = carry + rec[0, ...] + rec[1, ...] + rec[2, ...]   # dh_0: h0's gradient
        dx, dW_ih, dW_hh, db_ih, db_hh = sequence_grads(ctx, dQ, x, hs, weight_ih,
                                                        needs_grad(ctx, INPUTS), last_ih=dn)
        return dx, dh, dW_ih, dW_hh, db_ih, db_hh


def gru_candidate_forward(xp, a_n, rec_n, b_hn, r, z, h_prev, q_n, h):
    """q_n <- rec_n + b_hn;  a_n <- n = tanh(a_n + r q_n);  h <- n + z (h_prev - n).

    One step after the gates r, z are activated (all (B, H), b_hn (H,)).
    A pointwise step: one kernel on CuPy.
    """
    xp.add(rec_n, b_hn, out=q_n)
    xp.multiply(r, q_n, out=h)                   # h as scratch: r q_n
    a_n += h
    xp.tanh(a_n, out=a_n)
    xp.subtract(h_prev, a_n, out=h)
    h *= z
    h += a_n


def gru_cell_backward(xp, dh, carry, dout_t, rec_r, rec_z, rec_n, r, z, n, h_prev, q_n,
                      dr, dz, dq_n, dn, tmp):
    """One step back through the GRU, from dh_t's parts to the gates' gradients.

    dh    <- dh_t = carry + dout_t + rec_r + rec_z + rec_n
    carry <- dh_t z                          (the direct path to h_{t-1})
    dn    <- dn~ = dh_t (1 - z)(1 - n^2)     (input side of n)
    dz    <- dz~ = dh_t (h_{t-1} - n) z(1 - z)
    dq_n  <- dn~ r                           (recurrent side of n)
    dr    <- dr~ = dn~ q_n r(1 - r)

    All (B, H); ``tmp`` is scratch. ``dr, dz, dq_n`` may be ``r, z, n``
    themselves: each is written after its last read. One kernel on CuPy.
    """
    xp.add(carry, dout_t, out=dh)
    dh += rec_r
    dh += rec_z
    dh += rec_n
    xp.multiply(dh, z, out=carry)
    xp.subtract(carry, dh, out=dn)               # (dh z - dh)(n^2 - 1)
    xp.multiply(n, n, out=tmp)
    tmp -= 1
    dn *= tmp
    xp.multiply(z, z, out=tmp)
    xp.subtract(z, tmp, out=tmp)                 # z(1 - z); z read for the last time
    xp.subtract(h_prev, n, out=dz)
    dz *= dh
    dz *= tmp
    xp.multiply(r, r, out=tmp)
    xp.subtract(r, tmp, out=tmp)                 # r(1 - r)
    xp.multiply(dn, r, out=dq_n)                 # n read for the last time above
    xp.multiply(dn, q_n, out=dr)                 # r read for the last time above
    dr *= tmp


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
