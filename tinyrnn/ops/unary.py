"""Element-wise functions of one tensor: exp log sqrt tanh sigmoid relu clip.

Shapes: x (any) -> y (same shape); dx has x's shape.
"""
from __future__ import annotations

import numbers

from ..autograd import Function
from ..tensor import Tensor
from .arithmetic import plain_number

__all__ = ["exp", "log", "sqrt", "tanh", "sigmoid", "relu", "clip"]


class Exp(Function):
    """y = exp(x).   dx = dy * y."""

    @staticmethod
    def forward(ctx, x):
        y = ctx.xp.exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, dy):
        (y,) = ctx.saved
        return dy * y


def exp(x: Tensor) -> Tensor:
    return Exp.apply(x)


class Log(Function):
    """y = log(x) (natural logarithm, x > 0).   dx = dy / x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return ctx.xp.log(x)

    @staticmethod
    def backward(ctx, dy):
        (x,) = ctx.saved
        return dy / x


def log(x: Tensor) -> Tensor:
    return Log.apply(x)


class Sqrt(Function):
    """y = sqrt(x) (x > 0).   dx = dy / (2 y)."""

    @staticmethod
    def forward(ctx, x):
        y = ctx.xp.sqrt(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, dy):
        (y,) = ctx.saved
        return dy / (2 * y)


def sqrt(x: Tensor) -> Tensor:
    return Sqrt.apply(x)


class Tanh(Function):
    """y = tanh(x).   dx = dy * (1 - y**2)."""

    @staticmethod
    def forward(ctx, x):
        y = ctx.xp.tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, dy):
        (y,) = ctx.saved
        return dy * (1 - y * y)


def tanh(x: Tensor) -> Tensor:
    return Tanh.apply(x)


class Sigmoid(Function):
    """y = 1 / (1 + exp(-x)).   dx = dy * y * (1 - y).

    Computed so that no exp ever overflows (see ``sigmoid_array``):
    sigmoid(-1000) is 0 and sigmoid(1000) is 1, no warning.
    """

    @staticmethod
    def forward(ctx, x):
        y = sigmoid_array(ctx.xp, x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, dy):
        (y,) = ctx.saved
        return dy * y * (1 - y)


def sigmoid_array(xp, x):
    """The numerically stable logistic function on a raw array.

    sigmoid(x) = exp(min(x, 0)) / (1 + exp(-|x|)): for x >= 0 that is
    1 / (1 + e^-x), for x < 0 it is e^x / (1 + e^x), and neither exp sees a
    positive argument, so nothing overflows. These are the numbers of picking
    one of the two forms per element with ``where``, which NumPy runs about
    3x slower.
    """
    denominator = xp.exp(-xp.abs(x))
    denominator += 1
    return xp.exp(xp.minimum(x, 0)) / denominator


def sigmoid(x: Tensor) -> Tensor:
    return Sigmoid.apply(x)


class Relu(Function):
    """y = max(x, 0).   dx = dy where x > 0, else 0 (0 at the kink x = 0)."""

    @staticmethod
    def forward(ctx, x):
        y = ctx.xp.maximum(x, 0)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, dy):
        (y,) = ctx.saved
        return dy * ctx.xp.astype(y > 0, dy.dtype)


def relu(x: Tensor) -> Tensor:
    return Relu.apply(x)


class Clip(Function):
    """y = min(max(x, lo), hi).   dx = dy where lo <= x <= hi, else 0.

    ``lo`` or ``hi`` may be None (no bound on that side).
    """

    @staticmethod
    def forward(ctx, x, lo=None, hi=None):
        xp = ctx.xp
        inside = xp.ones_like(x, dtype=xp.bool)
        if lo is not None:
            inside = inside & (x >= lo)
            x = xp.maximum(x, lo)
        if hi is not None:
            inside = inside & (x <= hi)
            x = xp.minimum(x, hi)
        ctx.save_for_backward(inside)
        return x

    @staticmethod
    def backward(ctx, dy):
        (inside,) = ctx.saved
        return dy * ctx.xp.astype(inside, dy.dtype)


def clip(x: Tensor, min=None, max=None) -> Tensor:
    """Limit x to [min, max] (either bound may be None)."""
    min = plain_number(min) if isinstance(min, numbers.Number) else min
    max = plain_number(max) if isinstance(max, numbers.Number) else max
    for name, bound in (("min", min), ("max", max)):
        if bound is not None and not isinstance(bound, numbers.Real):
            raise TypeError(f"clip: {name} must be a number or None; got "
                            f"{type(bound).__name__} (use tinyrnn.maximum / minimum "
                            "for tensor bounds)")
    if min is None and max is None:
        raise ValueError("clip: give at least one of min and max")
    if min is not None and max is not None and min > max:
        raise ValueError(f"clip: min ({min}) is larger than max ({max})")
    return Clip.apply(x, min, max)
