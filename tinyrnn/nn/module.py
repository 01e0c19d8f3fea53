"""``Module`` and ``Parameter``: the containers every layer and cell is built from.

A Module finds its parameters by looking at its own attributes: a
``Parameter`` assigned to ``self.weight`` is a parameter, a Module assigned
to ``self.cell`` is a sub-module whose parameters are named ``cell.weight``
and so on (the names PyTorch uses, so state dicts line up).
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Iterator

import numpy as np

from ..backend import get_backend, host_dtype
from ..tensor import Tensor

__all__ = ["Parameter", "Module", "ModuleList"]


class Parameter(Tensor):
    """A tensor a Module learns: ``requires_grad`` is on by default."""

    __slots__ = ()

    def __init__(self, data, requires_grad: bool = True, backend=None, dtype=None):
        super().__init__(data, requires_grad=requires_grad, backend=backend, dtype=dtype)

    def __repr__(self) -> str:
        return "Parameter(" + super().__repr__()[len("tensor("):]


class Module:
    """Base class of layers and cells. Subclasses set parameters and sub-modules
    as attributes in ``__init__`` and write ``forward``."""

    training: bool = True

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ---- walking the tree ---------------------------------------------------
    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value

    def children(self) -> Iterator["Module"]:
        return (m for _, m in self.named_children())

    def modules(self) -> Iterator["Module"]:
        yield self
        for child in self.children():
            yield from child.modules()

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) pairs in definition order, each parameter once."""
        seen = set()
        for name, p in self._named_parameters(prefix):
            if id(p) not in seen:
                seen.add(id(p))
                yield name, p

    def _named_parameters(self, prefix):
        for name, value in vars(self).items():
            if isinstance(value, Parameter):
                yield prefix + name, value
            elif isinstance(value, Module):
                yield from value._named_parameters(prefix + name + ".")

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def num_parameters(self) -> int:
        return sum(p.size for p in self.parameters())

    # ---- modes and gradients -------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        """Training mode (dropout active); ``eval()`` turns it off."""
        for m in self.modules():
            m.training = mode
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    # ---- state dicts ------------------------------------------------------
    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """Parameter name -> NumPy copy on the host (ready for a checkpoint)."""
        return OrderedDict((name, p.numpy().copy()) for name, p in self.named_parameters())

    def load_state_dict(self, state: dict, strict: bool = True) -> None:
        """Copy arrays (or tensors) from ``state`` into the parameters.

        With ``strict`` every parameter must be present, no key may be
        unknown, and every shape must match; otherwise a ValueError lists all
        the problems at once and nothing is changed.
        """
        params = dict(self.named_parameters())
        missing = [k for k in params if k not in state]
        unexpected = [k for k in state if k not in params]
        misshaped = []
        for name, value in state.items():
            if name in params:
                shape = tuple(np.shape(value)) if not isinstance(value, Tensor) else value.shape
                if shape != params[name].shape:
                    misshaped.append(f"{name}: expected {params[name].shape}, got {shape}")
        problems = []
        if strict and missing:
            problems.append("missing keys: " + ", ".join(missing))
        if strict and unexpected:
            problems.append("unexpected keys: " + ", ".join(unexpected))
        if misshaped:
            problems.append("shape mismatches: " + "; ".join(misshaped))
        if problems:
            raise ValueError(f"load_state_dict for {type(self).__name__}: "
                             + " | ".join(problems))
        for name, value in state.items():
            if name in params:
                p = params[name]
                host = value.numpy() if isinstance(value, Tensor) else np.asarray(value)
                p.assign_(p.backend.asarray(host.astype(host_dtype(p.dtype), copy=False)))

    # ---- moving and casting ----------------------------------------------------
    def to(self, backend) -> "Module":
        """Move every parameter to ``backend`` ("numpy", "cupy", "strict"), in place."""
        backend = get_backend(backend)
        for p in self.parameters():
            if p.backend is not backend:
                p.data = backend.asarray(p.numpy())
                p.backend = backend
                p.grad = None
        return self

    def astype(self, dtype) -> "Module":
        """Cast every parameter to ``dtype`` in place (e.g. "float64" for gradcheck)."""
        for p in self.parameters():
            p.data = p.backend.xp.astype(p.data, p.backend.dtype(dtype))
            p.grad = None
        return self

    def double(self) -> "Module":
        return self.astype("float64")

    def float(self) -> "Module":
        return self.astype("float32")

    def __repr__(self) -> str:
        lines = [f"  ({name}): " + repr(m).replace("\n", "\n  ")
                 for name, m in self.named_children()]
        head = f"{type(self).__name__}({self.extra_repr()}"
        return head + ")" if not lines else head + "\n" + "\n".join(lines) + "\n)"

    def extra_repr(self) -> str:
        return ""


class ModuleList(Module):
    """A list of modules whose parameters are named ``0.weight``, ``1.weight`` ..."""

    def __init__(self, modules=()):
        for i, m in enumerate(modules):
            setattr(self, str(i), m)

    def __len__(self) -> int:
        return sum(1 for _ in self.named_children())

    def __iter__(self):
        return iter(list(self.children()))

    def __getitem__(self, i: int) -> Module:
        return list(self.children())[i]

    def append(self, module: Module) -> "ModuleList":
        setattr(self, str(len(self)), module)
        return self
