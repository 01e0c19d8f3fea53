"""Layer normalisation (Ba, Kiros & Hinton 2016) as one op.

One op with its own backward rather than a chain of mean / sub / div: the
combined formula is cheaper and keeps the graph short inside every step of
a layer-normalised recurrent cell.
"""
from __future__ import annotations

from ..autograd import Function
from ..tensor import Tensor

__all__ = ["layer_norm"]


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
