"""Argument checks the recurrent cells share, so every cell words its errors alike:
the cell's name, what came, and what was expected."""
from __future__ import annotations

from ..backend import BackendError
from ..tensor import Tensor

__all__ = ["check_sizes", "check_input", "check_like", "describe"]


def check_sizes(cell: str, input_size, hidden_size) -> None:
    """Both sizes must be positive ints (not bools, not floats)."""
    for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{cell}: {name} must be a positive integer; got {value!r}")


def check_input(cell: str, x, input_size: int, param: Tensor) -> None:
    """One time step of input: a Tensor (B, input_size) like the parameter ``param``."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{cell}: input must be a Tensor of shape (batch, {input_size}); "
                        f"got {type(x).__name__}")
    if x.ndim != 2 or x.shape[1] != input_size:
        raise ValueError(f"{cell}: input of shape {x.shape}; expected (batch, {input_size}) "
                         f"(a cell takes one time step; input_size={input_size})")
    check_like(cell, "input", x, param)


def check_like(cell: str, what: str, t: Tensor, param: Tensor) -> None:
    """Refuse a tensor ``t`` (an input or a state) that does not live on the
    backend of, or share the dtype of, the cell's parameter ``param``.

    Without this, a float64 input into a float32 cell would silently promote
    everything to float64, and a tensor of another backend would fail deep
    inside the first op.
    """
    if t.backend is not param.backend:
        raise BackendError(f"{cell}: {what} lives on backend {t.backend.name!r} but the "
                           f"parameters on {param.backend.name!r}; move one of them with "
                           ".to(...)")
    if t.dtype != param.dtype:
        raise TypeError(f"{cell}: {what} dtype {t.dtype} differs from the parameters' "
                        f"{param.dtype}; cast one of them (x.astype(...), "
                        "module.double() / module.float())")


def describe(obj) -> str:
    """A few words on what came instead of the expected state, for error messages."""
    if isinstance(obj, Tensor):
        return f"shape {obj.shape}"
    if isinstance(obj, (tuple, list)):
        return f"a {type(obj).__name__} of {len(obj)}"
    return type(obj).__name__
