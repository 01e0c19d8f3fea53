"""Reductions over axes: sum, mean, max, min, logsumexp.

``axis`` is None (all axes), an int or a tuple of ints; ``keepdims`` keeps
the reduced axes with length 1. Every backward first puts the reduced axes
back (length 1) and then broadcasts dy over them: each input element
contributed to one output element.
"""
from __future__ import annotations

import builtins

from ..autograd import Function
from ..tensor import Tensor

__all__ = ["sum", "mean", "max", "min", "logsumexp"]


def normalize_axes(axis, ndim: int, op: str) -> tuple:
    """``axis`` as a sorted tuple of non-negative ints, checked against ``ndim``."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < builtins.max(ndim, 1):
            raise ValueError(f"{op}: axis {a} is out of range for a tensor with {ndim} axes")
        out.append(a % builtins.max(ndim, 1))
    return tuple(sorted(set(out)))


def keepdims_shape(shape, axes) -> tuple:
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


class Sum(Function):
    """y = sum of x over ``axis``.   dx = dy broadcast back to x's shape."""

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        ctx.axes = normalize_axes(axis, x.ndim, "sum")
        ctx.shape = x.shape
        return ctx.xp.sum(x, axis=ctx.axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx, dy):
        xp = ctx.xp
        dy = xp.reshape(dy, keepdims_shape(ctx.shape, ctx.axes))
        return xp.broadcast_to(dy, ctx.shape)


def sum(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    return Sum.apply(x, axis=axis, keepdims=keepdims)


class Mean(Function):
    """y = mean of x over ``axis`` (N elements each).   dx = dy / N, broadcast."""

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        ctx.axes = normalize_axes(axis, x.ndim, "mean")
        ctx.shape = x.shape
        return ctx.xp.mean(x, axis=ctx.axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx, dy):
        xp = ctx.xp
        count = 1
        for a in ctx.axes:
            count *= ctx.shape[a]
        dy = xp.reshape(dy, keepdims_shape(ctx.shape, ctx.axes)) / count
        return xp.broadcast_to(dy, ctx.shape)


def mean(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    return Mean.apply(x, axis=axis, keepdims=keepdims)


class Max(Function):
    """y = max of x over ``axis``.

    dx = dy at the position of the maximum, 0 elsewhere. **Ties:** when
    several elements share the maximum, the gradient is split equally among
    them (each gets dy / count), so the gradients still add up to dy.
    """

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        return _extreme_forward(ctx, x, axis, keepdims, "max")

    @staticmethod
    def backward(ctx, dy):
        return _extreme_backward(ctx, dy)


def max(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    """The largest element over ``axis``; ties share the gradient equally."""
    return Max.apply(x, axis=axis, keepdims=keepdims)


class Min(Function):
    """y = min of x over ``axis``; ties split the gradient equally (see Max)."""

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        return _extreme_forward(ctx, x, axis, keepdims, "min")

    @staticmethod
    def backward(ctx, dy):
        return _extreme_backward(ctx, dy)


def min(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    return Min.apply(x, axis=axis, keepdims=keepdims)


def _extreme_forward(ctx, x, axis, keepdims, which):
    xp = ctx.xp
    ctx.axes = normalize_axes(axis, x.ndim, which)
    if x.ndim and any(x.shape[a] == 0 for a in ctx.axes):
        raise ValueError(f"{which}: cannot reduce an empty axis of shape {tuple(x.shape)}")
    reduce = xp.max if which == "max" else xp.min
    y = reduce(x, axis=ctx.axes, keepdims=True)
    ctx.save_for_backward(x, y)
    return y if keepdims else xp.reshape(y, tuple(
        n for i, n in enumerate(x.shape) if i not in ctx.axes))


def _extreme_backward(ctx, dy):
    xp = ctx.xp
    x, y = ctx.saved
    hit = xp.astype(x == y, dy.dtype)
    count = xp.sum(hit, axis=ctx.axes, keepdims=True)
    return hit * (xp.reshape(dy, y.shape) / count)


class LogSumExp(Function):
    """y = log(sum(exp(x))) over ``axis``, computed as m + log(sum(exp(x - m)))
    with m = max(x) so nothing overflows.   dx = dy * exp(x - y) (the softmax)."""

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        xp = ctx.xp
        ctx.axes = normalize_axes(axis, x.ndim, "logsumexp")
        y = logsumexp_array(xp, x, ctx.axes)
        ctx.save_for_backward(x, y)
        return y if keepdims else xp.reshape(y, tuple(
            n for i, n in enumerate(x.shape) if i not in ctx.axes))

    @staticmethod
    def backward(ctx, dy):
        xp = ctx.xp
        x, y = ctx.saved
        return xp.reshape(dy, y.shape) * xp.exp(x - y)


def logsumexp(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    return LogSumExp.apply(x, axis=axis, keepdims=keepdims)


def logsumexp_array(xp, x, axes):
    """Stable log-sum-exp over ``axes`` of a raw array, keeping the axes."""
    m = xp.max(x, axis=axes, keepdims=True)
    m = xp.where(xp.isfinite(m), m, xp.zeros_like(m))   # all -inf rows stay -inf, not NaN
    return m + xp.log(xp.sum(xp.exp(x - m), axis=axes, keepdims=True))
