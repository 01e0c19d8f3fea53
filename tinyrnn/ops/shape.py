"""Ops that move elements without changing them: reshape, permute, broadcast_to,
indexing (getitem, take), concat, stack, split.

Their backward moves the upstream gradient back to where each element came
from; where one input element fed several outputs (broadcast_to, take with
repeated indices) the contributions add up.
"""
from __future__ import annotations

import builtins
import math

from ..autograd import Function
from ..tensor import Tensor
from .arithmetic import check_broadcast

__all__ = ["reshape", "permute", "transpose", "broadcast_to", "getitem", "take", "embedding", "concat", "stack", "split"]


class Reshape(Function):
    """y = x viewed with a new shape (same elements, C order).   dx = dy reshaped back."""

    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        return ctx.xp.reshape(x, shape)

    @staticmethod
    def backward(ctx, dy):
        return ctx.xp.reshape(dy, ctx.shape)


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


def broadcast_to(x: Tensor, shape) -> Tensor:
    shape = tuple(shape)
    if check_broadcast(x.shape, shape, "broadcast_to") != shape:
        raise ValueError(f"broadcast_to: cannot broadcast shape {x.shape} to {shape}")
    return BroadcastTo.apply(x, shape=shape)


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
    return take(flat, Tensor.from_array(positions, x.backend), axis)


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
