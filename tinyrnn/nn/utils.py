"""Gradient clipping: keep one bad step from throwing training off a cliff.

Recurrent nets multiply by the same weights at every step, so gradients can
explode (Pascanu et al. 2013). Two remedies, both applied after ``backward()``
and before ``optimizer.step()``:

* :func:`clip_grad_norm_` rescales *all* gradients together when their global
  L2 norm exceeds ``max_norm``; the direction of the step is kept.
* :func:`clip_grad_value_` clamps every element to [-v, v], as min-char-rnn
  and char-rnn do (``grad_clip = 5``); the direction can change.

Both assign new gradient arrays rather than writing into the old ones, which
other tensors may share.
"""
from __future__ import annotations

import math

from ..tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _with_grads(params) -> list[Tensor]:
    if isinstance(params, Tensor):
        params = [params]
    return [p for p in params if p.grad is not None]


def clip_grad_norm_(params, max_norm: float) -> float:
    """Scale the gradients of ``params`` so that their global norm is at most ``max_norm``.

    total = sqrt(sum over every gradient element g of g^2);
    if total > max_norm:  g <- g * max_norm / (total + 1e-6)    (as PyTorch does)

    Returns ``total``, the norm *before* clipping (a float; log it to watch for
    explosions). A non-finite total (inf or NaN) leaves the gradients alone:
    the caller decides whether to skip the step or stop.
    """
    max_norm = float(max_norm)
    if not max_norm > 0:
        raise ValueError(f"clip_grad_norm_: max_norm must be positive; got {max_norm}")
    params = _with_grads(params)
    total = math.sqrt(sum(float(p.backend.xp.sum(p.grad.data * p.grad.data)) for p in params))
    if total > max_norm and math.isfinite(total):
        scale = max_norm / (total + 1e-6)
        for p in params:
            p.grad = Tensor.from_array(p.grad.data * scale, p.backend)
    return total


def clip_grad_value_(params, clip_value: float) -> None:
    """Clamp every gradient element to [-clip_value, clip_value]."""
    clip_value = float(clip_value)
    if not clip_value > 0:
        raise ValueError(f"clip_grad_value_: clip_value must be positive; got {clip_value}")
    for p in _with_grads(params):
        xp = p.backend.xp
        p.grad = Tensor.from_array(xp.clip(p.grad.data, -clip_value, clip_value), p.backend)
