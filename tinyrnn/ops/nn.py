"""Neural-network ops: softmax, log_softmax, cross_entropy, layer_norm, dropout.

Each is one op with its own backward (rather than a chain of exp / sum /
div) because the combined formulas are both cheaper and numerically safer.
"""
from __future__ import annotations

import math

from ..autograd import Function
from .shape import check_indices


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


class LayerNorm(Function):
    """Layer normalisation over the last axis, with optional gain and bias.

    Shapes: x (..., H), gain (H,), bias (H,).
    mu = mean(x), var = mean((x - mu)**2), xhat = (x - mu) / sqrt(var + eps),
    y = gain * xhat + bias.
    dxhat = dy * gain;
    dx = (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) / sqrt(var + eps);
    dgain = sum over leading axes of dy * xhat;  dbias = sum of dy.
    """

    @staticmethod
    def forward(ctx, x, gain=None, bias=None, eps=1e-5):
        xp = ctx.xp
        mu = xp.mean(x, axis=-1, keepdims=True)
        centred = x - mu
        inv_std = 1.0 / xp.sqrt(xp.mean(centred * centred, axis=-1, keepdims=True) + eps)
        xhat = centred * inv_std
        ctx.save_for_backward(xhat, inv_std, gain)
        y = xhat if gain is None else xhat * gain
        return y if bias is None else y + bias

    @staticmethod
    def backward(ctx, dy):
        xp = ctx.xp
        xhat, inv_std, gain = ctx.saved
        dxhat = dy if gain is None else dy * gain
        dx = None
        if ctx.needs_input_grad[0]:
            dx = inv_std * (dxhat - xp.mean(dxhat, axis=-1, keepdims=True)
                            - xhat * xp.mean(dxhat * xhat, axis=-1, keepdims=True))
        dgain = dy * xhat if ctx.needs_input_grad[1] else None
        dbias = dy if ctx.needs_input_grad[2] else None
        return dx, dgain, dbias


class Dropout(Function):
    """y = x * mask / (1 - p), each mask entry 1 with probability 1 - p ("inverted"
    dropout: the expected value of y is x, so evaluation needs no rescaling).
    dx = dy * mask / (1 - p). The mask comes from the seeded host generator."""

    @staticmethod
    def forward(ctx, x, p=0.5):
        mask = ctx.backend.bernoulli(x.shape, 1.0 - p, x.dtype) * (1.0 / (1.0 - p))
        ctx.save_for_backward(mask)
        return x * mask

    @staticmethod
    def backward(ctx, dy):
        (mask,) = ctx.saved
        return dy * mask
