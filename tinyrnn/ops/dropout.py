"""Dropout (Srivastava et al. 2014), the inverted kind: rescale at training time."""
from __future__ import annotations

from ..autograd import Function
from ..tensor import Tensor

__all__ = ["dropout"]


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


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each element with probability p during training (scaling the rest
    by 1 / (1 - p)); identity when not training or p == 0."""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout: p must be in [0, 1); got {p}")
    if not training or p == 0.0:
        return x
    return Dropout.apply(x, p=p)
