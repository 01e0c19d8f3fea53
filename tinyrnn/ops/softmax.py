"""Softmax, log-softmax and the cross-entropy loss built on them.

Each is one op with its own backward (rather than a chain of exp / sum /
div) because the combined formulas are both cheaper and numerically safer.
"""
from __future__ import annotations

import math

from ..autograd import Function
from ..tensor import Tensor
from .reduce import normalize_axes
from .shape import check_indices

__all__ = ["softmax", "log_softmax", "cross_entropy"]


class Softmax(Function):
    """y = exp(x - max) / sum(exp(x - max)) along ``axis``.
    dx = y * (dy - sum(dy * y, axis))."""

    @staticmethod
    def forward(ctx, x, axis=-1):
        xp = ctx.xp
        e = xp.exp(x - xp.max(x, axis=axis, keepdims=True))
        y = e / xp.sum(e, axis=axis, keepdims=True)
        ctx.save_for_backward(y)
        ctx.axis = axis
        return y

    @staticmethod
    def backward(ctx, dy):
        (y,) = ctx.saved
        return y * (dy - ctx.xp.sum(dy * y, axis=ctx.axis, keepdims=True))


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    (axis,) = normalize_axes(axis, x.ndim, "softmax")
    return Softmax.apply(x, axis=axis)


class LogSoftmax(Function):
    """y = x - logsumexp(x) along ``axis``.   dx = dy - exp(y) * sum(dy, axis)."""

    @staticmethod
    def forward(ctx, x, axis=-1):
        xp = ctx.xp
        shifted = x - xp.max(x, axis=axis, keepdims=True)    # (x - m) first: precise
        y = shifted - xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))
        ctx.save_for_backward(y)
        ctx.axis = axis
        return y

    @staticmethod
    def backward(ctx, dy):
        xp = ctx.xp
        (y,) = ctx.saved
        return dy - xp.exp(y) * xp.sum(dy, axis=ctx.axis, keepdims=True)


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    (axis,) = normalize_axes(axis, x.ndim, "log_softmax")
    return LogSoftmax.apply(x, axis=axis)


class CrossEntropy(Function):
    """Softmax cross-entropy of ``logits`` (..., C) against integer ``targets`` (...).

    loss_i = logsumexp(logits_i) - logits_i[t_i]   (stable for huge logits)
    reduction "mean" averages over the targets that are not ``ignore_index``
    (0 when every target is ignored), "sum" adds them, "none" returns (...).

    dlogits_i = (softmax(logits_i) - onehot(t_i)) * dloss_i, and 0 for
    ignored targets.
    """

    @staticmethod
    def forward(ctx, logits, targets, reduction="mean", ignore_index=-100):
        xp = ctx.xp
        C = logits.shape[-1]
        targets, valid, count = _usable_targets(ctx, targets, C, ignore_index)
        # loss = log(sum(exp(z - m))) - (z_t - m): subtracting the row max m
        # first keeps float32 precise for huge logits (the largest term is 1).
        m = xp.max(logits, axis=-1, keepdims=True)
        shifted = logits - m
        e = xp.exp(shifted)
        total = xp.sum(e, axis=-1, keepdims=True)                 # >= 1
        picked = xp.take_along_axis(shifted, targets[..., None], axis=-1)
        losses = (xp.log(total) - picked)[..., 0]
        if valid is not None:
            losses = xp.where(valid, losses, 0.0)
        # backward needs softmax = e / total: keep both rather than recompute exp
        ctx.save_for_backward(e, total, targets, valid)
        ctx.reduction, ctx.count = reduction, count
        if reduction == "none":
            return losses
        total_loss = xp.sum(losses)
        return total_loss if reduction == "sum" else total_loss / count

    @staticmethod
    def backward(ctx, dy):
        xp = ctx.xp
        e, total, targets, valid = ctx.saved
        # scale = dL/dloss_i, one per row: (..., 1), or a 0-d array for sum / mean
        scale = dy[..., None] if ctx.reduction == "none" else \
            dy / ctx.count if ctx.reduction == "mean" else dy
        if valid is not None:
            scale = scale * xp.astype(valid[..., None], e.dtype)
        classes = xp.arange(e.shape[-1], device=ctx.backend.device)
        onehot = xp.astype(targets[..., None] == classes, e.dtype)
        grad = e / total                                          # softmax
        grad -= onehot
        grad *= scale
        return grad, None


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


def _usable_targets(ctx, targets, C: int, ignore_index: int):
    """(targets safe to index with, mask of those that count or None, their count).

    One look at the targets' range settles the usual case -- every target a
    class and ``ignore_index`` outside that range -- with no mask at all.
    Otherwise ignored targets become class 0 (their loss is masked out) and
    the rest must lie in [0, C).
    """
    xp = ctx.xp
    n = math.prod(targets.shape)
    if n:
        lo, hi = int(xp.min(targets)), int(xp.max(targets))
        if 0 <= lo and hi < C and not lo <= ignore_index <= hi:
            return targets, None, n
    valid = targets != ignore_index
    safe = xp.where(valid, targets, xp.zeros_like(targets))
    check_indices(ctx.backend, safe, C, f"cross_entropy (targets, ignore_index="
                  f"{ignore_index})", negative=False)
    return safe, valid, max(int(xp.sum(xp.astype(valid, xp.int64))), 1)
