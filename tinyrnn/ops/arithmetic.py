"""Element-wise arithmetic with broadcasting: + - * / ** neg maximum minimum where.

Each backward returns the gradient at the *broadcast* shape; the engine sums
it down to each input's shape (``autograd.sum_to``). Inputs may be Python
numbers (constants: no gradient is computed for them).
"""
from __future__ import annotations

import builtins
import math
import numbers

from ..autograd import Function
from ..tensor import Tensor

__all__ = ["add", "sub", "mul", "div", "neg", "pow", "maximum", "minimum", "where"]


# ---- arguments: numbers stay constants, broadcasting is checked once ---------
def as_tensor_like(value, like: Tensor):
    """Python numbers stay numbers (ops treat them as constants); everything else
    becomes a tensor on ``like``'s backend. NumPy scalars turn into Python
    numbers so that they cannot promote float32 to float64."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, numbers.Number):
        return plain_number(value)
    return Tensor(value, backend=like.backend, dtype=_float_like(value, like))


def plain_number(value):
    """A Python number for any number: NumPy scalars (np.float64(2.0)) carry a
    dtype that would promote a float32 result to float64; plain numbers don't."""
    return value if type(value) in (int, float, bool) else value.item()


def _float_like(value, like: Tensor):
    """Lists of numbers adopt the other operand's float dtype."""
    if isinstance(value, (list, tuple)) and like.backend.is_floating(like.data):
        return like.dtype
    return None


def _binary(cls, a, b):
    if not isinstance(a, Tensor):
        a = as_tensor_like(a, b)
    elif not isinstance(b, Tensor):
        b = as_tensor_like(b, a)
    sa = a.shape if isinstance(a, Tensor) else ()
    sb = b.shape if isinstance(b, Tensor) else ()
    if sa != sb:
        check_broadcast(sa, sb, cls.__name__.lower())
    return cls.apply(a, b)


def check_broadcast(sa, sb, op: str) -> tuple:
    """The broadcast shape of ``sa`` and ``sb``, or a clear error."""
    out = []
    for i in range(1, builtins.max(len(sa), len(sb)) + 1):
        x = sa[-i] if i <= len(sa) else 1
        y = sb[-i] if i <= len(sb) else 1
        if x != y and x != 1 and y != 1:
            raise ValueError(f"{op}: shapes {tuple(sa)} and {tuple(sb)} cannot be broadcast "
                             f"together (axis -{i}: {x} vs {y})")
        out.append(builtins.max(x, y) if 0 not in (x, y) else 0)
    return tuple(reversed(out))


class Add(Function):
    """y = a + b.   da = dy,  db = dy."""

    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, dy):
        return dy, dy


def add(a, b) -> Tensor:
    return _binary(Add, a, b)


class Sub(Function):
    """y = a - b.   da = dy,  db = -dy."""

    @staticmethod
    def forward(ctx, a, b):
        return a - b

    @staticmethod
    def backward(ctx, dy):
        return dy, (-dy if ctx.needs_input_grad[1] else None)


def sub(a, b) -> Tensor:
    return _binary(Sub, a, b)


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


def mul(a, b) -> Tensor:
    return _binary(Mul, a, b)


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


def div(a, b) -> Tensor:
    return _binary(Div, a, b)


class Neg(Function):
    """y = -x.   dx = -dy."""

    @staticmethod
    def forward(ctx, x):
        return -x

    @staticmethod
    def backward(ctx, dy):
        return -dy


def neg(x: Tensor) -> Tensor:
    return Neg.apply(x)


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


def pow(a, b) -> Tensor:
    """a ** b. With a tensor exponent that requires grad the base must be positive."""
    return _binary(Pow, a, b)


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


def maximum(a, b) -> Tensor:
    return _binary(Maximum, a, b)


class Minimum(Function):
    """y = min(a, b) element-wise; ties share the gradient equally."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return ctx.xp.minimum(a, b)

    @staticmethod
    def backward(ctx, dy):
        return _pick_larger(ctx, dy, sign=-1.0)


def minimum(a, b) -> Tensor:
    return _binary(Minimum, a, b)


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


def where(cond, a, b) -> Tensor:
    """Pick ``a`` where the boolean ``cond`` holds, else ``b`` (all broadcast)."""
    like = a if isinstance(a, Tensor) else b
    if not isinstance(like, Tensor):
        raise TypeError("where: at least one of a and b must be a Tensor")
    cond = cond if isinstance(cond, Tensor) else Tensor(cond, backend=like.backend)
    if not like.backend.xp.isdtype(cond.dtype, "bool"):
        raise TypeError(f"where: cond must be boolean; got {cond.dtype}")
    a, b = as_tensor_like(a, like), as_tensor_like(b, like)
    return Where.apply(cond.detach(), a, b)
