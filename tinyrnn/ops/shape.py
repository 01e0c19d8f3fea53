"""Ops that move elements without changing them: reshape, permute, broadcast_to,
indexing (getitem, take), concat, stack, split.

Their backward moves the upstream gradient back to where each element came
from; where one input element fed several outputs (broadcast_to, take with
repeated indices) the contributions add up.
"""
from __future__ import annotations

import math

from ..autograd import Function


class Reshape(Function):
    """y = x viewed with a new shape (same elements, C order).   dx = dy reshaped back."""

    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        return ctx.xp.reshape(x, shape)

    @staticmethod
    def backward(ctx, dy):
        return ctx.xp.reshape(dy, ctx.shape)


class Permute(Function):
    """y = x with its axes reordered: y.shape[i] = x.shape[axes[i]].
    dx = dy permuted by the inverse permutation."""

    @staticmethod
    def forward(ctx, x, axes):
        ctx.axes = axes
        return ctx.xp.permute_dims(x, axes)

    @staticmethod
    def backward(ctx, dy):
        inverse = [0] * len(ctx.axes)
        for i, a in enumerate(ctx.axes):
            inverse[a] = i
        return ctx.xp.permute_dims(dy, tuple(inverse))


class BroadcastTo(Function):
    """y = x repeated along new leading axes and along its size-1 axes.

    dx = dy summed over those axes. The engine's ``sum_to`` does exactly that
    for every op, so the backward just hands dy on.
    """

    @staticmethod
    def forward(ctx, x, shape):
        return ctx.xp.broadcast_to(x, shape)

    @staticmethod
    def backward(ctx, dy):
        return dy


class GetItem(Function):
    """y = x[key] for *basic* keys: ints, slices, None and Ellipsis.

    dx = zeros of x's shape with dy written into the selected positions.
    (Integer-array and boolean keys go through :class:`Take`.)
    """

    @staticmethod
    def forward(ctx, x, key):
        key = full_key(key)
        ctx.shape = x.shape
        # The standard allows None (new axes) when reading but not when writing,
        # so backward writes dy, reshaped, through the key without its Nones.
        ctx.key = tuple(k for k in key if k is not None)
        y = x[key]
        ctx.plain_shape = y.shape if len(ctx.key) == len(key) else x[ctx.key].shape
        return y

    @staticmethod
    def backward(ctx, dy):
        xp = ctx.xp
        dx = xp.zeros(ctx.shape, dtype=dy.dtype, device=ctx.backend.device)
        dx[ctx.key] = xp.reshape(dy, ctx.plain_shape)
        return dx


def full_key(key) -> tuple:
    """``key`` as a tuple ending in ``...`` unless it has one: the Array API (and
    the strict backend) wants every axis indexed, where NumPy fills in the rest."""
    key = key if isinstance(key, tuple) else (key,)
    return key if any(k is Ellipsis for k in key) else key + (Ellipsis,)


class Take(Function):
    """y = x gathered at integer ``indices`` along ``axis`` -- also the embedding lookup.

    Shapes: x (..., N, ...) with N at ``axis``, indices (any shape, values in
    [-N, N)) -> y (..., *indices.shape, ...). For an embedding, x is the
    weight table (V, E), indices the token ids (T, B) and y is (T, B, E).

    dx = zeros, then dx[indices[k]] += dy[k] for every k: a *scatter-add*,
    because an index that appears twice received the gradient twice.

    ``op`` names the caller in errors; ``negative=False`` refuses negative
    indices (token ids are never negative: -1 is a bug, not "the last row").
    """

    @staticmethod
    def forward(ctx, x, indices, axis=0, op="take", negative=True):
        xp = ctx.xp
        axis = axis % x.ndim
        indices = check_indices(ctx.backend, indices, x.shape[axis], f"{op} (axis {axis})",
                                negative)
        ctx.save_for_backward(indices)
        ctx.axis, ctx.shape = axis, x.shape
        flat = xp.take(x, xp.reshape(indices, (-1,)), axis=axis)
        return xp.reshape(flat, x.shape[:axis] + indices.shape + x.shape[axis + 1:])

    @staticmethod
    def backward(ctx, dy):
        xp = ctx.xp
        (indices,) = ctx.saved
        axis, shape = ctx.axis, ctx.shape
        dy = xp.reshape(dy, shape[:axis] + (-1,) + shape[axis + 1:])
        order = (axis,) + tuple(i for i in range(len(shape)) if i != axis)
        if axis:
            dy = xp.permute_dims(dy, order)
        moved = tuple(shape[i] for i in order)
        dx = xp.zeros(moved, dtype=dy.dtype, device=ctx.backend.device)
        dx = ctx.backend.scatter_add(dx, xp.reshape(indices, (-1,)), dy)
        if axis:
            inverse = tuple(order.index(i) for i in range(len(shape)))
            dx = xp.permute_dims(dx, inverse)
        return dx


def check_indices(backend, indices, n: int, op: str, negative: bool = True):
    """Check integer ``indices`` lie in [-n, n) (in [0, n) when ``negative`` is
    False) and make them non-negative.

    Done on every backend because CuPy would silently wrap an index that is
    out of range instead of raising.
    """
    xp = backend.xp
    if not xp.isdtype(indices.dtype, "integral"):
        raise TypeError(f"{op}: indices must be integers; got {indices.dtype}")
    if math.prod(indices.shape) == 0:
        return indices
    lo, hi = int(xp.min(indices)), int(xp.max(indices))
    first = -n if negative else 0
    if lo < first or hi >= n:
        bad = hi if hi >= n else lo
        raise IndexError(f"{op}: index {bad} is out of range for an axis of size {n} "
                         f"(expected {first} <= index < {n})")
    if lo < 0:
        indices = xp.where(indices < 0, indices + n, indices)
    return indices


class Concat(Function):
    """y = the inputs joined along ``axis`` (all other axes equal).
    dx_i = the slice of dy that came from input i."""

    @staticmethod
    def forward(ctx, *arrays, axis=0):
        ctx.axis = axis % arrays[0].ndim
        ctx.sizes = [a.shape[ctx.axis] for a in arrays]
        return ctx.xp.concat(arrays, axis=ctx.axis)

    @staticmethod
    def backward(ctx, dy):
        grads, start = [], 0
        lead = (slice(None),) * ctx.axis
        for size in ctx.sizes:
            grads.append(dy[lead + (slice(start, start + size), ...)])
            start += size
        return tuple(grads)


class Stack(Function):
    """y = the inputs (all the same shape) stacked along a new axis ``axis``.
    dx_i = dy[..., i, ...] (index i along ``axis``)."""

    @staticmethod
    def forward(ctx, *arrays, axis=0):
        ctx.axis = axis % (arrays[0].ndim + 1)
        ctx.count = len(arrays)
        return ctx.xp.stack(arrays, axis=ctx.axis)

    @staticmethod
    def backward(ctx, dy):
        lead = (slice(None),) * ctx.axis
        return tuple(dy[lead + (i, ...)] for i in range(ctx.count))


class Split(Function):
    """(y_1, ..., y_k) = consecutive pieces of x along ``axis`` of the given sizes.
    dx = the upstream gradients of the pieces joined again (concat)."""

    @staticmethod
    def forward(ctx, x, sizes, axis=0):
        ctx.axis = axis % x.ndim
        lead = (slice(None),) * ctx.axis
        pieces, start = [], 0
        for size in sizes:
            pieces.append(x[lead + (slice(start, start + size), ...)])
            start += size
        return tuple(pieces)

    @staticmethod
    def backward(ctx, *dys):
        return ctx.xp.concat(dys, axis=ctx.axis)
