"""The functional API: one function per op, checking its arguments.

The classes (``Add``, ``Tanh``, ``MatMul`` ...) hold the math; the functions
here turn numbers and lists into tensors, check shapes and options, and give
errors that name the op and what it expected.
"""
from __future__ import annotations

import builtins
import numbers

from ..tensor import Tensor
from .arithmetic import Add, Sub, Mul, Div, Neg, Pow, Maximum, Minimum, Where
from .unary import Exp, Log, Sqrt, Tanh, Sigmoid, Relu, Clip
from .reduce import Sum, Mean, Max, Min, LogSumExp, normalize_axes
from .linalg import Linear, MatMul
from .shape import Reshape, Permute, BroadcastTo, GetItem, Take, Concat, Stack, Split
from .nn import Softmax, LogSoftmax, CrossEntropy, LayerNorm, Dropout

__all__ = [
    "add", "sub", "mul", "div", "neg", "pow", "maximum", "minimum", "where",
    "exp", "log", "sqrt", "tanh", "sigmoid", "relu", "clip",
    "sum", "mean", "max", "min", "logsumexp", "matmul", "linear",
    "reshape", "permute", "transpose", "broadcast_to", "getitem", "take", "embedding",
    "concat", "stack", "split",
    "softmax", "log_softmax", "cross_entropy", "layer_norm", "dropout",
]


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


# ---- arithmetic ------------------------------------------------------------
def add(a, b) -> Tensor:
    return _binary(Add, a, b)


def sub(a, b) -> Tensor:
    return _binary(Sub, a, b)


def mul(a, b) -> Tensor:
    return _binary(Mul, a, b)


def div(a, b) -> Tensor:
    return _binary(Div, a, b)


def neg(x: Tensor) -> Tensor:
    return Neg.apply(x)


def pow(a, b) -> Tensor:
    """a ** b. With a tensor exponent that requires grad the base must be positive."""
    return _binary(Pow, a, b)


def maximum(a, b) -> Tensor:
    return _binary(Maximum, a, b)


def minimum(a, b) -> Tensor:
    return _binary(Minimum, a, b)


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


# ---- element-wise functions -----------------------------------------------
def exp(x: Tensor) -> Tensor:
    return Exp.apply(x)


def log(x: Tensor) -> Tensor:
    return Log.apply(x)


def sqrt(x: Tensor) -> Tensor:
    return Sqrt.apply(x)


def tanh(x: Tensor) -> Tensor:
    return Tanh.apply(x)


def sigmoid(x: Tensor) -> Tensor:
    return Sigmoid.apply(x)


def relu(x: Tensor) -> Tensor:
    return Relu.apply(x)


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


# ---- reductions --------------------------------------------------------------
def sum(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    return Sum.apply(x, axis=axis, keepdims=keepdims)


def mean(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    return Mean.apply(x, axis=axis, keepdims=keepdims)


def max(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    """The largest element over ``axis``; ties share the gradient equally."""
    return Max.apply(x, axis=axis, keepdims=keepdims)


def min(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    return Min.apply(x, axis=axis, keepdims=keepdims)


def logsumexp(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    return LogSumExp.apply(x, axis=axis, keepdims=keepdims)


def matmul(a, b) -> Tensor:
    if not isinstance(a, Tensor):
        a = as_tensor_like(a, b)
    if not isinstance(b, Tensor):
        b = as_tensor_like(b, a)
    return MatMul.apply(a, b)


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x @ weight.T + bias as one op: x (..., K), weight (M, K), bias (M,) or None
    -> (..., M). What ``nn.Linear`` computes."""
    for name, t in (("x", x), ("weight", weight), ("bias", bias)):
        if not isinstance(t, Tensor) and not (name == "bias" and t is None):
            raise TypeError(f"linear: {name} must be a Tensor; got {type(t).__name__}")
    if weight.ndim != 2 or x.ndim < 1 or x.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: x of shape {x.shape} and weight of shape {weight.shape} "
                         "do not fit; expected x (..., K) and weight (M, K)")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"linear: bias of shape {bias.shape}; expected "
                         f"({weight.shape[0]},) for weight of shape {weight.shape}")
    return Linear.apply(x, weight, bias)


# ---- shapes ------------------------------------------------------------------
def reshape(x: Tensor, shape) -> Tensor:
    shape = tuple(int(n) for n in shape)
    known = 1
    for n in shape:
        known *= n if n != -1 else 1
    size = x.size
    if shape.count(-1) > 1 or (-1 in shape and (known == 0 or size % known)) or \
            (-1 not in shape and known != size):
        raise ValueError(f"reshape: cannot reshape a tensor of shape {x.shape} "
                         f"({size} elements) into {shape}")
    if -1 in shape:
        shape = tuple(size // known if n == -1 else n for n in shape)
    if shape == x.shape:
        return x
    return Reshape.apply(x, shape=shape)


def permute(x: Tensor, axes) -> Tensor:
    axes = tuple(int(a) % builtins.max(x.ndim, 1) for a in axes)
    if sorted(axes) != list(range(x.ndim)):
        raise ValueError(f"permute: {tuple(axes)} is not a permutation of the "
                         f"{x.ndim} axes of a tensor of shape {x.shape}")
    return Permute.apply(x, axes=axes)


def transpose(x: Tensor, dim0: int = -2, dim1: int = -1) -> Tensor:
    """Swap two axes (PyTorch's ``transpose``); ``permute`` reorders them all."""
    axes = list(range(x.ndim))
    if x.ndim < 2:
        raise ValueError(f"transpose: needs at least 2 axes; got shape {x.shape}")
    axes[dim0], axes[dim1] = axes[dim1], axes[dim0]
    return Permute.apply(x, axes=tuple(axes))


def broadcast_to(x: Tensor, shape) -> Tensor:
    shape = tuple(shape)
    if check_broadcast(x.shape, shape, "broadcast_to") != shape:
        raise ValueError(f"broadcast_to: cannot broadcast shape {x.shape} to {shape}")
    return BroadcastTo.apply(x, shape=shape)


def _is_index_array(k) -> bool:
    return isinstance(k, (Tensor, list)) or hasattr(k, "shape")   # NumPy / backend arrays


def getitem(x: Tensor, key) -> Tensor:
    """x[key]. Supported keys: ints, slices, None and ``...`` in any mix; one
    integer array (with repeats) along an axis, as in ``x[ids]`` or
    ``x[:, ids]``; or one boolean mask over the leading axes (``x[mask]``)."""
    parts = key if isinstance(key, tuple) else (key,)
    arrays = [i for i, k in enumerate(parts) if _is_index_array(k)]
    if not arrays:
        try:
            return GetItem.apply(x, key=key)
        except IndexError as err:
            raise IndexError(f"getitem: {err} (tensor of shape {x.shape}, "
                             f"key {key!r})") from None
    axis = arrays[0]
    if len(arrays) > 1 or any(k != slice(None) for k in parts[:axis]) or \
            any(k != slice(None) for k in parts[axis + 1:]):
        raise IndexError("getitem: unsupported index; use ints, slices, None and ..., "
                         "or a single integer array / boolean mask preceded only by ':' "
                         "(e.g. x[ids], x[:, ids], x[mask])")
    index = parts[axis]
    index = index if isinstance(index, Tensor) else Tensor(index, backend=x.backend)
    if x.backend.xp.isdtype(index.dtype, "bool"):
        return _mask_select(x, index, axis)
    return take(x, index, axis)


def _mask_select(x: Tensor, mask: Tensor, axis: int) -> Tensor:
    lead = x.shape[:axis]
    covered = x.shape[axis:axis + mask.ndim]
    if covered != mask.shape:
        raise IndexError(f"getitem: boolean mask of shape {mask.shape} does not match "
                         f"axes {axis}..{axis + mask.ndim - 1} of shape {x.shape}")
    xp = x.backend.xp
    flat = reshape(x, lead + (-1,) + x.shape[axis + mask.ndim:])
    (positions,) = xp.nonzero(xp.reshape(mask.data, (-1,)))
    return take(flat, Tensor._make(positions, x.backend, False), axis)


def take(x: Tensor, indices, axis: int = 0) -> Tensor:
    """Gather entries of ``x`` along ``axis`` at integer ``indices`` (any shape)."""
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"take: axis {axis} is out of range for shape {x.shape}")
    indices = indices if isinstance(indices, Tensor) else Tensor(indices, backend=x.backend)
    return Take.apply(x, indices.detach(), axis=axis)


def embedding(ids, weight: Tensor) -> Tensor:
    """Rows of ``weight`` (V, E) for the token ``ids`` (any shape): (*ids.shape, E)."""
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-D (vocab, dim); got {weight.shape}")
    ids = ids if isinstance(ids, Tensor) else Tensor(ids, backend=weight.backend)
    # Token ids are never negative: -1 is a bug, not "the last row".
    return Take.apply(weight, ids.detach(), axis=0, op="embedding", negative=False)


def _same_rank(tensors, op):
    tensors = list(tensors)
    if not tensors:
        raise ValueError(f"{op}: needs at least one tensor")
    if not builtins.all(isinstance(t, Tensor) for t in tensors):
        raise TypeError(f"{op}: expects a sequence of Tensors")
    return tensors


def concat(tensors, axis: int = 0) -> Tensor:
    """Join tensors along an existing axis; the other axes must agree."""
    tensors = _same_rank(tensors, "concat")
    first = tensors[0].shape
    if not -len(first) <= axis < len(first):
        raise ValueError(f"concat: axis {axis} is out of range for tensors of shape {first}")
    ax = axis % len(first)
    for t in tensors[1:]:
        if len(t.shape) != len(first) or builtins.any(
                a != b for i, (a, b) in enumerate(zip(t.shape, first)) if i != ax):
            raise ValueError(f"concat: shapes {first} and {t.shape} differ outside axis {axis}")
    return Concat.apply(*tensors, axis=axis)


def stack(tensors, axis: int = 0) -> Tensor:
    """Stack equally shaped tensors along a new axis."""
    tensors = _same_rank(tensors, "stack")
    ndim = tensors[0].ndim
    if not -(ndim + 1) <= axis <= ndim:
        raise ValueError(f"stack: axis {axis} is out of range for stacking tensors of "
                         f"shape {tensors[0].shape} (expected {-(ndim + 1)} <= axis <= {ndim})")
    for t in tensors[1:]:
        if t.shape != tensors[0].shape:
            raise ValueError(f"stack: all tensors need the same shape; got "
                             f"{tensors[0].shape} and {t.shape}")
    return Stack.apply(*tensors, axis=axis)


def split(x: Tensor, split_size_or_sections, axis: int = 0) -> tuple:
    """Cut x along ``axis``: into pieces of one size (the last may be shorter),
    or into the listed sizes, which must add up to the axis length."""
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"split: axis {axis} is out of range for shape {x.shape}")
    n = x.shape[axis]
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        if step <= 0:
            raise ValueError(f"split: size must be positive; got {step}")
        sizes = [builtins.min(step, n - s) for s in range(0, n, step)]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if builtins.sum(sizes) != n:
            raise ValueError(f"split: sizes {sizes} add up to {builtins.sum(sizes)}, "
                             f"not the axis length {n} of shape {x.shape}")
    return Split.apply(x, sizes=tuple(sizes), axis=axis)


# ---- neural-network ops --------------------------------------------------------
def softmax(x: Tensor, axis: int = -1) -> Tensor:
    (axis,) = normalize_axes(axis, x.ndim, "softmax")
    return Softmax.apply(x, axis=axis)


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    (axis,) = normalize_axes(axis, x.ndim, "log_softmax")
    return LogSoftmax.apply(x, axis=axis)


def cross_entropy(logits: Tensor, targets, reduction: str = "mean",
                  ignore_index: int = -100) -> Tensor:
    """Softmax cross-entropy: logits (..., C), integer targets (...).

    reduction: "mean" (over non-ignored targets), "sum" or "none".
    """
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"cross_entropy: reduction must be 'mean', 'sum' or 'none'; "
                         f"got {reduction!r}")
    targets = targets if isinstance(targets, Tensor) else \
        Tensor(targets, backend=logits.backend)
    if targets.shape != logits.shape[:-1]:
        raise ValueError(f"cross_entropy: targets of shape {targets.shape} do not match "
                         f"logits of shape {logits.shape} (expected {logits.shape[:-1]})")
    if not logits.backend.xp.isdtype(targets.dtype, "integral"):
        raise TypeError(f"cross_entropy: targets must be integer class ids; "
                        f"got {targets.dtype}")
    return CrossEntropy.apply(logits, targets.detach(), reduction=reduction,
                              ignore_index=ignore_index)


def layer_norm(x: Tensor, gain: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """Normalise the last axis of x (..., H) to mean 0, variance 1, then
    scale by ``gain`` (H,) and shift by ``bias`` (H,)."""
    H = x.shape[-1]
    for name, p in (("gain", gain), ("bias", bias)):
        if p is not None and p.shape != (H,):
            raise ValueError(f"layer_norm: {name} has shape {p.shape}; expected ({H},) "
                             f"for input of shape {x.shape}")
    return LayerNorm.apply(x, gain, bias, eps=eps)


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each element with probability p during training (scaling the rest
    by 1 / (1 - p)); identity when not training or p == 0."""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout: p must be in [0, 1); got {p}")
    if not training or p == 0.0:
        return x
    return Dropout.apply(x, p=p)
