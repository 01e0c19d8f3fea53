"""tinyrnn: a small, readable reverse-mode autograd engine on NumPy (CuPy on a
GPU, same code) for learning and doing recurrent networks.

>>> import tinyrnn as tr
>>> x = tr.tensor([1.0, 2.0, 3.0], requires_grad=True)
>>> (x * x).sum().backward()
>>> x.grad
tensor([2., 4., 6.], dtype=float32)
"""
__version__ = "0.1.0"

from .backend import (Backend, BackendError, get_backend, set_default_backend,
                      default_backend, manual_seed)
from .tensor import (Tensor, tensor, zeros, ones, full, randn, rand, arange,
                     zeros_like, ones_like)
from .autograd import Function, no_grad, enable_grad, is_grad_enabled
from .ops import (add, sub, mul, div, neg, pow, maximum, minimum, where,
                  exp, log, sqrt, tanh, sigmoid, relu, clip,
                  sum, mean, max, min, logsumexp, matmul,
                  reshape, permute, transpose, broadcast_to, getitem, take, embedding,
                  concat, stack, split,
                  softmax, log_softmax, cross_entropy, layer_norm, dropout)
from . import gradcheck
from .threads import set_num_threads, num_threads, ThreadTuner

float32 = "float32"
float64 = "float64"
int64 = "int64"

from . import nn, optim  # noqa: E402  (after the engine they build on)


# Submodules that are not imported above are reachable as attributes all the
# same (``tr.viz``, ``tr.data``), imported on first use: matplotlib, which
# ``viz`` draws with, stays optional, and ``import tinyrnn`` stays quick.
_LAZY_SUBMODULES = ("backend", "checkpoint", "data", "inspect", "ngram", "run", "sample",
                    "tasks", "viz")


def __getattr__(name: str):
    if name in _LAZY_SUBMODULES:
        import importlib
        try:
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"{__name__}.{name}":      # a missing dependency: say so
                raise
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
