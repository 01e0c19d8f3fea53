"""``RNNSequence``: a vanilla (Elman) RNN over a whole sequence as one op.

The composed path records T x (2 matmuls + adds + tanh) graph nodes; this op
records one, and its backward is backpropagation through time written out by
hand (the CS231n exercise). Layouts are PyTorch's (``nn.RNN``).
"""
from __future__ import annotations

from ...autograd import Function
from ...tensor import Tensor
from .common import (add_bias, check_sequence_args, copy, empty, input_projection,
                     needs_grad, sequence_grads, start_states, transposed_copy, with_out)


INPUTS = ('x', 'h0', 'weight_ih', 'weight_hh', 'bias_ih', 'bias_hh')
"""The op's inputs in order (``needs_grad`` keys its flags by them)."""


def rnn_step_tanh(xp, a, rec):
    """a <- tanh(a + rec): one forward step, in place (a holds x_t W_ih^T + b)."""
    a += rec
    xp.tanh(a, out=a)


def rnn_step_relu(xp, a, rec):
    """a <- relu(a + rec), in place."""
    a += rec
    xp.maximum(a, 0, out=a)


def rnn_step_backward(xp, dh, dout_t, da):
    """dh <- dh_t = dh + dout_t;  da <- da_t = dh_t * f'(a_t) (da holds f'(a_t))."""
    dh += dout_t
    da *= dh


STEP_FORWARD = {"tanh": rnn_step_tanh, "relu": rnn_step_relu}
"""Each time step's element-wise work, written once for every backend
(``Backend.pointwise``: one fused kernel on CuPy)."""


class RNNSequence(Function):
    """h_t = f(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), t = 1 .. T, f = tanh or relu.

    Shapes
    ------
    x (T, B, I), h0 (B, H), weight_ih (H, I), weight_hh (H, H),
    bias_ih (H,) or None, bias_hh (H,) or None
    -> out (T, B, H) = h_1 .. h_T, h_n (B, H) = h_T.

    Forward
    -------
    A = X W_ih^T + b_ih + b_hh for all T steps in one product (written into
    the buffer that will hold h_1 .. h_T); then per step
    a_t += h_{t-1} W_hh^T and h_t = f(a_t) in place.

    Backward
    --------
    With dh_T = dout_T + dh_n, going back in time:

        da_t     = dh_t * f'(a_t)     f' = 1 - h_t^2 (tanh), [h_t > 0] (relu)
        dh_{t-1} = dout_{t-1} + da_t W_hh         (dh_0 is h0's gradient)

    then, once over all T*B rows: dW_ih = dA^T X, dW_hh = dA^T H_prev,
    db_ih = db_hh = sum(dA), dx = dA W_ih.
    """

    @staticmethod
    def forward(ctx, x, h0, weight_ih, weight_hh, bias_ih=None, bias_hh=None,
                nonlinearity="tanh"):
        matmul = with_out(ctx, ctx.xp.matmul)
        step = ctx.backend.pointwise(STEP_FORWARD[nonlinearity])
        T = x.shape[0]
        hs = start_states(ctx, h0, T)                      # h_0 .. h_T
        hs[1:, ...] = input_projection(ctx, x, weight_ih, add_bias(bias_ih, bias_hh))
        w_hh_t = transposed_copy(ctx, weight_hh)
        rec = empty(ctx, h0.shape, h0.dtype)
        for t in range(T):
            matmul(hs[t, ...], w_hh_t, out=rec)
            step(hs[t + 1, ...], rec)                      # h_t = f(a_t + rec), in place
        ctx.nonlinearity = nonlinearity
        out = hs[1:, ...]
        ctx.save_for_backward(x, weight_ih, weight_hh, hs, out)
        return out, copy(ctx, hs[T, ...])

    @staticmethod
    def backward(ctx, dout, dh_n):
        xp = ctx.xp
        matmul, multiply = with_out(ctx, xp.matmul), with_out(ctx, xp.multiply)
        x, weight_ih, weight_hh, hs, out = ctx.saved
        T = x.shape[0]
        # f'(a_t) for every step at once (a handful of calls, not T of them)
        dA = empty(ctx, out.shape, out.dtype)
        if ctx.nonlinearity == "tanh":
            multiply(out, out, out=dA)
            dA -= 1
            dA *= -1                                       # 1 - h^2
        else:
            dA[...] = xp.astype(out > 0, out.dtype)
        step = ctx.backend.pointwise(rnn_step_backward)
        dh = copy(ctx, dh_n)
        for t in range(T - 1, -1, -1):
            step(dh, dout[t, ...], dA[t, ...])             # da_t = dh_t * f'(a_t)
            matmul(dA[t, ...], weight_hh, out=dh)          # dh_{t-1} (recurrent part)
        dz = xp.reshape(dA, (1,) + tuple(dA.shape))      # one gate, gate-major
        dx, dW_ih, dW_hh, db_ih, db_hh = sequence_grads(ctx, dz, x, hs, weight_ih,
                                                        needs_grad(ctx, INPUTS))
        return dx, dh, dW_ih, dW_hh, db_ih, db_hh


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
    (h0,) = check_sequence_args("rnn_sequence", 1, x, (h0,), weight_ih, weight_hh,
                                bias_ih, bias_hh)
    return RNNSequence.apply(x, h0, weight_ih, weight_hh, bias_ih, bias_hh,
                             nonlinearity=nonlinearity)
