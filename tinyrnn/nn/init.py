"""Initialisers: fill a parameter in place from the seeded host generator.

Random numbers are drawn on the host (NumPy) and uploaded, so a seed gives
the same initial weights on every backend.
"""
from __future__ import annotations

import math

import numpy as np

from ..backend import host_dtype, host_rng
from ..tensor import Tensor

__all__ = ["uniform_", "normal_", "zeros_", "ones_", "constant_", "xavier_uniform_",
           "orthogonal_", "scaled_identity_"]


def _fill(t: Tensor, host: np.ndarray) -> Tensor:
    dtype = host_dtype(t.dtype)
    return t.assign_(t.backend.asarray(np.asarray(host, dtype=dtype).reshape(t.shape)))


def uniform_(t: Tensor, low: float = -1.0, high: float = 1.0) -> Tensor:
    """t ~ U(low, high)."""
    return _fill(t, host_rng().uniform(low, high, t.shape))


def normal_(t: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """t ~ N(mean, std^2)."""
    return _fill(t, host_rng().normal(mean, std, t.shape))


def constant_(t: Tensor, value: float) -> Tensor:
    return _fill(t, np.full(t.shape, value))


def zeros_(t: Tensor) -> Tensor:
    return constant_(t, 0.0)


def ones_(t: Tensor) -> Tensor:
    return constant_(t, 1.0)


def xavier_uniform_(t: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot & Bengio 2010: U(+-a), a = gain * sqrt(6 / (fan_in + fan_out)) for a
    2-D weight (fan_out, fan_in)."""
    if t.ndim != 2:
        raise ValueError(f"xavier_uniform_: needs a 2-D weight; got shape {t.shape}")
    fan_out, fan_in = t.shape
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(t, -a, a)


def orthogonal_(t: Tensor, gain: float = 1.0) -> Tensor:
    """A (semi-)orthogonal matrix (Saxe et al. 2014): the Q of a QR decomposition
    of a Gaussian matrix, signs fixed so the result is uniformly distributed."""
    if t.ndim != 2:
        raise ValueError(f"orthogonal_: needs a 2-D weight; got shape {t.shape}")
    rows, cols = t.shape
    a = host_rng().standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q = q * np.sign(np.diag(r))
    q = q if rows >= cols else q.T
    return _fill(t, gain * q[:rows, :cols])


def scaled_identity_(t: Tensor, scale: float = 1.0) -> Tensor:
    """scale * I (Le et al. 2015's IRNN; Ba et al. 2016 start fast weights' W at 0.05 I)."""
    if t.ndim != 2:
        raise ValueError(f"scaled_identity_: needs a 2-D weight; got shape {t.shape}")
    return _fill(t, scale * np.eye(*t.shape))
