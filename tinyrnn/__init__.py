"""tinyrnn: a small, readable reverse-mode autograd engine on NumPy (CuPy on a
GPU, same code) for learning and doing recurrent networks.

>>> import tinyrnn as tr
>>> x = tr.tensor([1.0, 2.0, 3.0], requires_grad=True)
>>> (x * x).sum().backward()
>>> x.grad
tensor([2., 4., 6.], dtype=float32)

The library: the engine (``backend``, ``tensor``, ``autograd``), ``ops``,
``nn``, ``optim``, ``check`` (gradient checking), ``viz`` (looking inside),
``tasks`` and ``utils``. The character language model and the command line
are an application built on it: :mod:`tinyrnn.charlm`.
"""
__version__ = "0.1.0"

from .backend import (Backend, BackendError, get_backend, set_default_backend,
                      default_backend, manual_seed)
from .tensor import (Tensor, tensor, zeros, ones, full, randn, rand, arange,
                     zeros_like, ones_like)
from .autograd import Function, no_grad, enable_grad, is_grad_enabled
from .ops import *  # noqa: F401,F403  (every op's function, as each family lists it)

float32 = "float32"
float64 = "float64"
int64 = "int64"

from . import nn, optim, check, viz, tasks  # noqa: E402  (after the engine they build on)
from .check import gradcheck, gradcheck_module, locate  # noqa: E402
