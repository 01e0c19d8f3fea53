"""Helpers shared by the fused sequence kernels (``fused_rnn``, ``fused_lstm``,
``fused_gru``): buffers, the input projection, in-place gate functions and the
weight-gradient products.

Every helper works on raw arrays through ``ctx.xp`` and ``ctx.backend.into``
(which writes into a preallocated array with ``out=`` on NumPy and CuPy), so
one kernel serves every backend.
"""
from __future__ import annotations


def empty(ctx, shape, dtype):
    """An uninitialised buffer on the op's device."""
    return ctx.xp.empty(shape, dtype=dtype, device=ctx.backend.device)


def transposed_copy(ctx, w):
    """W^T as a C-contiguous copy.

    The recurrent product h_{t-1} W^T runs T times; OpenBLAS multiplies
    against a contiguous matrix faster than against a transposed view, and
    one copy of W is cheap next to T products.
    """
    out = empty(ctx, (w.shape[1], w.shape[0]), w.dtype)
    out[...] = ctx.xp.matrix_transpose(w)
    return out


def input_projection(ctx, x, weight_ih, *biases):
    """P = X W_ih^T + sum(biases) for all T steps as one product.

    x (T, B, I), weight_ih (G, I), biases (G,) or None -> P (T, B, G).
    """
    xp = ctx.xp
    T, B, I = x.shape
    G = weight_ih.shape[0]
    proj = empty(ctx, (T * B, G), x.dtype)
    ctx.backend.into(proj, xp.matmul, xp.reshape(x, (T * B, I)), xp.matrix_transpose(weight_ih))
    for b in biases:
        if b is not None:
            proj += b
    return xp.reshape(proj, (T, B, G))


def start_states(ctx, h0, T):
    """A (T + 1, B, H) buffer whose row 0 is a copy of ``h0``.

    Keeping h_0 .. h_T in one buffer makes H_prev = buffer[:-1] and the
    output buffer[1:] views, with no concatenation in forward or backward.
    """
    hs = empty(ctx, (T + 1,) + tuple(h0.shape), h0.dtype)
    hs[0, ...] = h0
    return hs


def copy(ctx, a):
    """A copy that shares no memory with ``a`` (so a carried h_n does not keep
    the whole sequence buffer alive)."""
    out = empty(ctx, a.shape, a.dtype)
    out[...] = a
    return out


def sigmoid_(ctx, v):
    """v <- sigmoid(v) in place, as 0.5 * tanh(v / 2) + 0.5.

    The identity sigmoid(v) = (1 + tanh(v / 2)) / 2 needs no exp, so nothing
    overflows for large |v|, and it runs in place on a view of the gate buffer.
    """
    v *= 0.5
    ctx.backend.into(v, ctx.xp.tanh, v)
    v *= 0.5
    v += 0.5
    return v


def sequence_grads(ctx, dgates, x, hs, weight_ih, needs, dgates_hh=None):
    """The gradients that are sums over all T steps, each as one product.

    dgates (T, B, G): dL/d(pre-activations) of the gates; x (T, B, I); hs
    (T + 1, B, H) holding h_0 .. h_T; ``needs`` = ctx.needs_input_grad for
    (x, h0, weight_ih, weight_hh, bias_ih, bias_hh) -- the LSTM's c0 removed.
    ``dgates_hh`` (GRU only) is the gradient of the recurrent pre-activations
    when it differs from ``dgates``.

        dx     = dG W_ih                  (T*B, G) @ (G, I)
        dW_ih  = dG^T X                   (G, T*B) @ (T*B, I)
        dW_hh  = dG_hh^T H_prev           (G, T*B) @ (T*B, H),  H_prev = h_0 .. h_{T-1}
        db_ih  = sum over t, b of dG;   db_hh = sum over t, b of dG_hh

    Returns (dx, dW_ih, dW_hh, db_ih, db_hh), None where not needed.
    """
    xp = ctx.xp
    T, B, I = x.shape
    G, H = dgates.shape[-1], hs.shape[-1]
    dG = xp.reshape(dgates, (T * B, G))
    dG_hh = dG if dgates_hh is None else xp.reshape(dgates_hh, (T * B, G))
    dx = dW_ih = dW_hh = db_ih = db_hh = None
    if needs[0]:
        dx = xp.reshape(xp.matmul(dG, weight_ih), (T, B, I))
    if needs[2]:
        dW_ih = xp.matmul(xp.matrix_transpose(dG), xp.reshape(x, (T * B, I)))
    if needs[3]:
        dW_hh = xp.matmul(xp.matrix_transpose(dG_hh), xp.reshape(hs[:-1, ...], (T * B, H)))
    if needs[4]:
        db_ih = xp.sum(dG, axis=0)
    if needs[5]:
        db_hh = xp.sum(dG_hh, axis=0)
    return dx, dW_ih, dW_hh, db_ih, db_hh


def may_overwrite_saved(ctx) -> bool:
    """True when backward runs once only (no ``retain_graph``): a kernel may
    then write its gate gradients over the saved gate activations and need no
    second (T, B, G) buffer. Unknown means no."""
    return getattr(ctx, "retain_graph", True) is False
