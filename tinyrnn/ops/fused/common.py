"""Helpers shared by the fused sequence kernels (``rnn``, ``lstm``, ``gru``):
argument checks, buffers, the input projection, in-place gate functions and
the weight-gradient products.

Every helper works on raw arrays through ``ctx.xp`` and ``ctx.backend.into``
(which writes into a preallocated array with ``out=`` on NumPy and CuPy), so
one kernel serves every backend; the kernels' time loops call ``xp``
functions with ``out=`` directly, bound once by :func:`with_out`.

**One time step = a product or two plus pointwise functions.** Each
kernel's per-step element-wise work is written once, as functions of ``xp``
that write into the arrays they are given (:func:`activate_gates` here, the
cell functions in ``rnn.py``, ``lstm.py``, ``gru.py``), and called through
``ctx.backend.pointwise(fn)``: as they are on NumPy, fused into ONE kernel
launch each by ``cupy.fuse`` on a GPU. A step then launches at most 6
kernels forward and backward together (``benchmarks/bench_ops.py`` counts
them), where a launch costs ~5-20 us whatever its size.

**Gate-major buffers.** PyTorch stacks the G gates' weights as rows
[gate 0 | gate 1 | ...] of one (G*H, I) matrix, so x W^T has the gates side by
side in each row: (B, G*H). Element-wise work on one gate is then a strided
slice, and NumPy runs a (B, H) slice of a (B, G*H) array several times slower
than a contiguous (B, H) array (one inner loop per row). The LSTM and GRU
kernels therefore keep their gates *gate-major*, (G, T, B, H): gate k at step
t is the contiguous block ``z[k, t]``, and the products are batched over the
gates -- (B, H) @ (G, H, H) -> (G, B, H) in one call.
"""
from __future__ import annotations

from ...tensor import Tensor


def with_out(ctx, fn):
    """``fn``, callable as ``fn(*args, out=buffer)`` on every backend.

    NumPy's and CuPy's functions take ``out=`` themselves, so there this is
    ``fn`` unchanged; the Array API standard has no ``out=``, so on the strict
    backend it computes and copies (as ``Backend.into`` does). Kernels bind
    their functions once, before the time loop: at B = 1 a NumPy call costs
    about a microsecond, and a Python wrapper around each would add a third.
    """
    backend = ctx.backend
    if backend.name != "strict":
        return fn
    return lambda *args, out, **kwargs: backend.into(out, fn, *args, **kwargs)


def empty(ctx, shape, dtype):
    """An uninitialised buffer on the op's device."""
    return ctx.xp.empty(shape, dtype=dtype, device=ctx.backend.device)


def copy(ctx, a):
    """A contiguous copy that shares no memory with ``a`` (so a carried h_n does
    not keep the whole sequence buffer alive)."""
    out = empty(ctx, a.shape, a.dtype)
    out[...] = a
    return out


def transposed_copy(ctx, w):
    """W^T as a C-contiguous copy.

    The recurrent product h_{t-1} W^T runs T times; OpenBLAS multiplies
    against a contiguous matrix faster than against a transposed view, and
    one copy of W is cheap next to T products.
    """
    return copy(ctx, ctx.xp.matrix_transpose(w))


def gate_blocks(ctx, w, gates: int):
    """(G*H, K) weights -> (G, K, H): each gate's W_k^T, contiguous, so that
    v @ blocks is (..., G, rows, H) = [v W_0^T, v W_1^T, ...] in one batched call."""
    xp = ctx.xp
    G = gates
    return copy(ctx, xp.matrix_transpose(xp.reshape(w, (G, w.shape[0] // G, w.shape[1]))))


def input_projection(ctx, x, weight_ih, bias):
    """P = X W_ih^T + bias for all T steps as one (batched) product.

    x (T, B, I), weight_ih (H, I), bias (H,) or None -> P (T, B, H); this
    buffer becomes the RNN's h_1 .. h_T in place.
    """
    xp = ctx.xp
    T, B, I = x.shape
    proj = empty(ctx, (T * B, weight_ih.shape[0]), x.dtype)
    ctx.backend.into(proj, xp.matmul, xp.reshape(x, (T * B, I)), xp.matrix_transpose(weight_ih))
    if bias is not None:
        proj += bias
    return xp.reshape(proj, (T, B, weight_ih.shape[0]))


def gate_projection(ctx, x, weight_ih, bias, gates: int):
    """Z[k] = X W_k^T + b_k for every gate k, all T steps in one batched product.

    x (T, B, I), weight_ih (G*H, I), bias (G*H,) or None -> Z (G, T, B, H).
    """
    xp = ctx.xp
    T, B, I = x.shape
    H = weight_ih.shape[0] // gates
    z = empty(ctx, (gates, T * B, H), x.dtype)
    ctx.backend.into(z, xp.matmul, xp.reshape(x, (T * B, I)), gate_blocks(ctx, weight_ih, gates))
    if bias is not None:
        z += xp.reshape(bias, (gates, 1, H))
    return xp.reshape(z, (gates, T, B, H))


def add_bias(bias_a, bias_b):
    """b_ih + b_hh (either may be None): the two biases only ever appear summed."""
    if bias_a is None or bias_b is None:
        return bias_b if bias_a is None else bias_a
    return bias_a + bias_b


def start_states(ctx, h0, T):
    """A (T + 1, B, H) buffer whose row 0 is a copy of ``h0``.

    Keeping h_0 .. h_T in one buffer makes H_prev = buffer[:-1] and the
    output buffer[1:] views, with no concatenation in forward or backward.
    """
    hs = empty(ctx, (T + 1,) + tuple(h0.shape), h0.dtype)
    hs[0, ...] = h0
    return hs


def activate_gates(xp, z, rec, scale, shift):
    """z <- tanh(z + rec) * scale + shift, in place: a block of gates activated at once.

    sigmoid(v) = (1 + tanh(v / 2)) / 2 needs no exp (nothing overflows for
    large |v|), so a kernel that halves the pre-activations of its sigmoid
    gates beforehand (their rows of the input projection and of the
    recurrent weights) activates its sigmoid gates and its tanh gates with
    ONE tanh over a contiguous block: scale = shift = 1/2 for a sigmoid gate,
    scale = 1, shift = 0 for a tanh gate (per gate, broadcast over (B, H)).
    A pointwise step (``Backend.pointwise``): one kernel on CuPy.
    """
    z += rec
    xp.tanh(z, out=z)
    z *= scale
    z += shift


def gated_step_functions(ctx, cell_step):
    """What an LSTM or GRU forward binds once, before its time loop: the
    product with ``out=`` (:func:`with_out`), :func:`activate_gates` and the
    cell's own pointwise step, each of the two a single kernel on CuPy."""
    return (with_out(ctx, ctx.xp.matmul), ctx.backend.pointwise(activate_gates),
            ctx.backend.pointwise(cell_step))


def per_gate(ctx, dz, m):
    """sum over rows of dz_k^T m for each gate: dz (G, T*B, H), m (T*B, K) -> (G*H, K)."""
    xp = ctx.xp
    if dz.shape[0] == 1:        # one gate (the RNN): a plain product, no batched call
        return xp.matmul(xp.matrix_transpose(dz[0, ...]), m)
    out = xp.matmul(xp.matrix_transpose(dz), m)            # (G, H, K)
    return xp.reshape(out, (dz.shape[0] * dz.shape[2], m.shape[1]))


def sequence_grads(ctx, dz, x, hs, weight_ih, needs, last_ih=None):
    """The gradients that are sums over all T steps, as products over all T*B rows.

    dz (G, T, B, H): dL/d(gate pre-activations), gate-major; x (T, B, I);
    hs (T + 1, B, H) holding h_0 .. h_T; ``needs`` from :func:`needs_grad`, with
    the keys "x", "weight_ih", "weight_hh", "bias_ih" and "bias_hh". ``last_ih``
    (T, B, H), GRU only: the input side of the last gate's gradient when it
    differs from the recurrent side in ``dz`` (dn~ against dn~ * r), used for
    that gate's rows of dx, dW_ih and db_ih.

        dx     = sum_k dZ_k W_k           (T*B, H) @ (H, I) per gate
        dW_ih  = [dZ_k^T X]_k             (H, T*B) @ (T*B, I) per gate, batched
        dW_hh  = [dZ_k^T H_prev]_k        H_prev = h_0 .. h_{T-1}
        db_ih  = db_hh = sum over t, b of dZ

    Returns (dx, dW_ih, dW_hh, db_ih, db_hh), None where not needed.
    """
    xp = ctx.xp
    G, T, B, H = dz.shape
    I = x.shape[2]
    dz = xp.reshape(dz, (G, T * B, H))
    ih = [dz] if last_ih is None else [dz[:G - 1, ...], xp.reshape(last_ih, (1, T * B, H))]
    dx = dW_ih = dW_hh = db_ih = db_hh = None
    if needs["x"]:
        w = xp.reshape(weight_ih, (G, H, I))
        rows = [part[k, ...] for part in ih for k in range(part.shape[0])]
        dx = xp.matmul(rows[0], w[0, ...])
        for k in range(1, G):
            dx += xp.matmul(rows[k], w[k, ...])
        dx = xp.reshape(dx, (T, B, I))
    if needs["weight_ih"]:
        dW_ih = _join(xp, [per_gate(ctx, part, xp.reshape(x, (T * B, I))) for part in ih])
    if needs["weight_hh"]:
        dW_hh = per_gate(ctx, dz, xp.reshape(hs[:-1, ...], (T * B, H)))
    if needs["bias_hh"]:
        db_hh = xp.reshape(xp.sum(dz, axis=1), (G * H,))
    if needs["bias_ih"] and needs["bias_hh"] and last_ih is None:
        db_ih = copy(ctx, db_hh)        # the same sum; a copy, so no two .grad share memory
    elif needs["bias_ih"]:
        db_ih = _join(xp, [xp.reshape(xp.sum(part, axis=1), (-1,)) for part in ih])
    return dx, dW_ih, dW_hh, db_ih, db_hh


def _join(xp, parts):
    return parts[0] if len(parts) == 1 else xp.concat(parts, axis=0)


def may_overwrite_saved(ctx) -> bool:
    """True when backward runs once only (no ``retain_graph``): a kernel may
    then write its gate gradients over the saved gate activations and need no
    second (G, T, B, H) buffer. Unknown means no."""
    return getattr(ctx, "retain_graph", True) is False


def check_sequence_args(op: str, gates: int, x, states, weight_ih, weight_hh, bias_ih,
                        bias_hh) -> tuple:
    """Check shapes, dtypes and backends; return the states with None made zeros."""
    for name, t in (("x", x), ("weight_ih", weight_ih), ("weight_hh", weight_hh)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor; got {type(t).__name__}")
    if x.ndim != 3 or x.shape[0] < 1:
        raise ValueError(f"{op}: x must be (T, B, I) with T >= 1 (time first); "
                         f"got shape {x.shape}")
    T, B, I = x.shape
    if weight_hh.ndim != 2 or weight_hh.shape[0] != gates * weight_hh.shape[1]:
        raise ValueError(f"{op}: weight_hh must be ({gates}*H, H); got {weight_hh.shape}")
    H = weight_hh.shape[1]
    G = gates * H
    expected = {"weight_ih": (G, I), "bias_ih": (G,), "bias_hh": (G,)}
    for name, t in (("weight_ih", weight_ih), ("bias_ih", bias_ih), ("bias_hh", bias_hh)):
        if t is not None and t.shape != expected[name]:
            raise ValueError(f"{op}: {name} has shape {t.shape}; expected {expected[name]} "
                             f"for x of shape {x.shape} and hidden size {H}")
    filled = []
    for k, s in enumerate(states):
        if s is None:
            s = Tensor.from_array(x.backend.zeros((B, H), x.dtype), x.backend)
        elif not isinstance(s, Tensor) or s.shape != (B, H):
            got = s.shape if isinstance(s, Tensor) else type(s).__name__
            raise ValueError(f"{op}: initial state {('h0', 'c0')[k]} must be (B, H) = "
                             f"{(B, H)}; got {got}")
        filled.append(s)
    tensors = [x, weight_ih, weight_hh, *filled] + [b for b in (bias_ih, bias_hh)
                                                    if b is not None]
    if not x.backend.is_floating(x.data):
        raise TypeError(f"{op}: x must be floating point; got {x.dtype}")
    for t in tensors:
        if t.dtype != x.dtype:
            raise TypeError(f"{op}: all tensors must share x's dtype {x.dtype}; "
                            f"got one of shape {t.shape} with dtype {t.dtype}")
    return tuple(filled)


def needs_grad(ctx, names: tuple) -> dict:
    """``ctx.needs_input_grad`` keyed by the op's input names.

    The kernels' inputs differ (the LSTM has c0 between h0 and weight_ih), so
    :func:`sequence_grads` asks ``needs["weight_hh"]`` rather than counting
    positions.
    """
    return dict(zip(names, ctx.needs_input_grad))
