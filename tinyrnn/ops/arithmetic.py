"""Element-wise arithmetic with broadcasting: + - * / ** neg maximum minimum where.

Each backward returns the gradient at the *broadcast* shape; the engine sums
it down to each input's shape (``autograd.sum_to``). Inputs may be Python
numbers (constants: no gradient is computed for them).
"""
from __future__ import annotations

import math

from ..autograd import Function


class Add(Function):
    """y = a + b.   da = dy,  db = dy."""

    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, dy):
        return dy, dy


class Sub(Function):
    """y = a - b.   da = dy,  db = -dy."""

    @staticmethod
    def forward(ctx, a, b):
        return a - b

    @staticmethod
    def backward(ctx, dy):
        return dy, (-dy if ctx.needs_input_grad[1] else None)


class Mul(Function):
    """y = a * b.   da = dy * b,  db = dy * a."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, dy):
        a, b = ctx.saved
        da = dy * b if ctx.needs_input_grad[0] else None
        db = dy * a if ctx.needs_input_grad[1] else None
        return da, db


class Div(Function):
    """y = a / b.   da = dy / b,  db = -dy * a / b**2 = -dy * y / b."""

    @staticmethod
    def forward(ctx, a, b):
        y = a / b
        ctx.save_for_backward(b, y)
        return y

    @staticmethod
    def backward(ctx, dy):
        b, y = ctx.saved
        da = dy / b if ctx.needs_input_grad[0] else None
        db = -dy * y / b if ctx.needs_input_grad[1] else None
        return da, db


class Neg(Function):
    """y = -x.   dx = -dy."""

    @staticmethod
    def forward(ctx, x):
        return -x

    @staticmethod
    def backward(ctx, dy):
        return -dy


class Pow(Function):
    """y = a ** b, for a tensor or number exponent b.

    da = dy * b * a**(b - 1);  db = dy * y * log(a) (needs a > 0 when b
    requires grad: a negative base has no real logarithm).
    """

    @staticmethod
    def forward(ctx, a, b):
        y = a ** b
        ctx.save_for_backward(a, b, y)
        return y

    @staticmethod
    def backward(ctx, dy):
        a, b, y = ctx.saved
        da = dy * b * a ** (b - 1) if ctx.needs_input_grad[0] else None
        db = None
        if ctx.needs_input_grad[1]:
            log_a = math.log(a) if isinstance(a, (int, float)) else ctx.xp.log(a)
            db = dy * y * log_a
        return da, db


class Maximum(Function):
    """y = max(a, b) element-wise. The gradient goes to the larger input; on a
    tie it is shared equally (0.5 each), a valid subgradient."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return ctx.xp.maximum(a, b)

    @staticmethod
    def backward(ctx, dy):
        return _pick_larger(ctx, dy, sign=1.0)


class Minimum(Function):
    """y = min(a, b) element-wise; ties share the gradient equally."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return ctx.xp.minimum(a, b)

    @staticmethod
    def backward(ctx, dy):
        return _pick_larger(ctx, dy, sign=-1.0)


def _pick_larger(ctx, dy, sign):
    xp = ctx.xp
    a, b = ctx.saved
    diff = (a - b) * sign
    share_a = xp.astype(diff > 0, dy.dtype) + 0.5 * xp.astype(diff == 0, dy.dtype)
    da = dy * share_a if ctx.needs_input_grad[0] else None
    db = dy * (1.0 - share_a) if ctx.needs_input_grad[1] else None
    return da, db


class Where(Function):
    """y = a where cond else b.   da = dy where cond else 0;  db = dy where not cond.

    ``cond`` is a boolean array (never differentiated).
    """

    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.save_for_backward(cond)
        return ctx.xp.where(cond, a, b)

    @staticmethod
    def backward(ctx, dy):
        (cond,) = ctx.saved
        zero = ctx.xp.zeros_like(dy)
        da = ctx.xp.where(cond, dy, zero) if ctx.needs_input_grad[1] else None
        db = ctx.xp.where(cond, zero, dy) if ctx.needs_input_grad[2] else None
        return None, da, db
