"""Basic layers: Linear, Embedding, LayerNorm, Dropout."""
from __future__ import annotations

import math

from .. import ops
from ..backend import get_backend
from ..tensor import Tensor
from . import init
from .module import Module, Parameter

__all__ = ["Linear", "Embedding", "LayerNorm", "Dropout", "empty_parameter"]


def empty_parameter(*shape, backend=None, dtype="float32") -> Parameter:
    """A zero-filled Parameter of ``shape`` on ``backend`` (initialise it next)."""
    be = get_backend(backend)
    return Parameter(be.zeros(shape, dtype), backend=be)


class Linear(Module):
    """y = x W^T + b.

    Shapes: x (..., in_features) -> y (..., out_features); weight
    (out_features, in_features) and bias (out_features,) as in PyTorch,
    both initialised U(-k, k) with k = 1 / sqrt(in_features).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, backend=None):
        self.in_features, self.out_features = in_features, out_features
        k = 1.0 / math.sqrt(in_features)
        self.weight = init.uniform_(empty_parameter(out_features, in_features,
                                                    backend=backend), -k, k)
        self.bias = init.uniform_(empty_parameter(out_features, backend=backend), -k, k) \
            if bias else None

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1:] != (self.in_features,):
            raise ValueError(f"Linear: input of shape {x.shape} has last axis "
                             f"{x.shape[-1] if x.ndim else None}; expected "
                             f"{self.in_features} features")
        return ops.linear(x, self.weight, self.bias)      # x @ W^T + b, one op

    def extra_repr(self) -> str:
        return f"{self.in_features}, {self.out_features}, bias={self.bias is not None}"


class Embedding(Module):
    """A table of learned vectors, one row per token id.

    Shapes: ids (any shape, ints in [0, num_embeddings)) -> (*ids.shape,
    embedding_dim); weight (num_embeddings, embedding_dim) ~ N(0, 1).
    Its backward is a scatter-add: ids that repeat collect every gradient.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, backend=None):
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.weight = init.normal_(empty_parameter(num_embeddings, embedding_dim,
                                                   backend=backend))

    def forward(self, ids) -> Tensor:
        return ops.embedding(ids, self.weight)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"


class LayerNorm(Module):
    """Normalise the last axis to zero mean and unit variance, then y = gain * xhat + bias.

    Shapes: x (..., size); gain (size,) starts at 1, bias (size,) at 0.
    """

    def __init__(self, size: int, eps: float = 1e-5, backend=None):
        self.size, self.eps = size, eps
        self.weight = init.ones_(empty_parameter(size, backend=backend))
        self.bias = empty_parameter(size, backend=backend)

    def forward(self, x: Tensor) -> Tensor:
        return ops.layer_norm(x, self.weight, self.bias, eps=self.eps)

    def extra_repr(self) -> str:
        return f"{self.size}, eps={self.eps}"


class Dropout(Module):
    """Zero each element with probability ``p`` in training mode; identity in eval mode."""

    def __init__(self, p: float = 0.5):
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1); got {p}")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        return ops.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"
