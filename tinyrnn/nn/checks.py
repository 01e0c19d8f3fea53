"""Argument checks for cells and layers, in one place, so that the same mistake
gets the same words and the same exception in every cell and layer: the
owner's name, what came, and what was expected.

Exception types follow Python's rule: a wrong *kind* of thing (an array
where a Tensor belongs, a Tensor where a tuple belongs, float64 where the
parameters are float32) is a ``TypeError``; the right kind with a wrong
value (a shape, a length, a size) is a ``ValueError``; a tensor on another
backend is a :class:`~tinyrnn.BackendError`.
"""
from __future__ import annotations

import math
import numbers

from ..backend import BackendError
from ..tensor import Tensor

__all__ = ["check_positive_int", "check_dropout", "check_input", "check_sequence",
           "check_state", "check_layer_states", "check_like", "describe"]


def check_positive_int(owner: str, name: str, value) -> None:
    """``value`` must be an int >= 1 (not a bool, not a float)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive integer; got {value!r}")


def check_dropout(owner: str, p) -> None:
    """A dropout probability: a number in [0, 1)."""
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0.0 <= p < 1.0 \
            or not math.isfinite(p):
        raise ValueError(f"{owner}: dropout must be in [0, 1); got {p!r}")


def check_like(owner: str, what: str, t: Tensor, like: Tensor) -> None:
    """Refuse a tensor ``t`` (an input or a state) that does not live on the
    backend of, or share the dtype of, the parameter ``like``.

    Without this, a float64 input into a float32 cell would silently promote
    everything to float64, and a tensor of another backend would fail deep
    inside the first op.
    """
    if t.backend is not like.backend:
        raise BackendError(f"{owner}: {what} lives on backend {t.backend.name!r} but the "
                           f"parameters on {like.backend.name!r}; move one of them with "
                           ".to(...)")
    if t.dtype != like.dtype:
        raise TypeError(f"{owner}: {what} dtype {t.dtype} differs from the parameters' "
                        f"{like.dtype}; cast one of them (x.astype(...), "
                        "module.double() / module.float())")


def check_input(owner: str, x, input_size: int, like: Tensor) -> None:
    """One time step of input for a cell: a Tensor (batch, input_size) like ``like``."""
    _check_features(owner, x, 2, input_size, f"(batch, input_size) = (batch, {input_size})",
                    hint=" (a cell takes one time step)")
    check_like(owner, "input", x, like)


def check_sequence(owner: str, x, input_size: int, batch_first: bool = False) -> None:
    """A whole sequence for a layer: a Tensor (time, batch, input_size), or
    (batch, time, input_size) with ``batch_first``, at least one step long."""
    layout = "(batch, time, input_size)" if batch_first else "(time, batch, input_size)"
    _check_features(owner, x, 3, input_size, f"{layout} with input_size {input_size}")
    if 0 in x.shape[:2]:
        raise ValueError(f"{owner}: input of shape {x.shape} is empty; expected at "
                         "least one time step and one sequence")


def _check_features(owner: str, x, ndim: int, size: int, layout: str, hint: str = "") -> None:
    """``x`` a Tensor of ``ndim`` axes, the last of length ``size``, as ``layout`` says."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{owner}: input must be a Tensor of shape {layout}; "
                        f"got {type(x).__name__}")
    if x.ndim != ndim or x.shape[-1] != size:
        raise ValueError(f"{owner}: input of shape {x.shape}; expected {layout}{hint}")


def check_state(owner: str, state, shapes: dict, like: Tensor):
    """Check a cell's state against the shapes it must have; return it.

    Parameters
    ----------
    owner : the cell's name, for the messages.
    state : what the caller passed.
    shapes : ``{name: shape}`` of the state's tensors, in order, e.g.
        ``{"h": (B, H), "c": (B, H)}`` for an LSTM (a cell's ``state_shapes``).
        With one entry the state is that tensor itself; with several, a
        tuple (or list) of them in this order.
    like : a parameter of the cell: every tensor must share its backend and dtype.

    Returns
    -------
    The state: the tensor, or a tuple of the tensors.
    """
    names = list(shapes)
    if len(names) == 1:
        leaves = [state]
    else:
        wanted = f"a tuple ({', '.join(names)})"
        if not isinstance(state, (tuple, list)):
            raise TypeError(f"{owner}: state must be {wanted}; got {describe(state)}")
        if len(state) != len(names):
            raise ValueError(f"{owner}: state must be {wanted} of {len(names)} tensors; "
                             f"got {describe(state)}")
        leaves = list(state)
    for name, t in zip(names, leaves):
        expected = tuple(shapes[name])
        if not isinstance(t, Tensor):
            raise TypeError(f"{owner}: state {name} must be a Tensor of shape {expected}; "
                            f"got {describe(t)}")
        if t.shape != expected:
            raise ValueError(f"{owner}: state {name} has shape {t.shape}; expected shape "
                             f"{expected} (the input's batch, then the cell's sizes)")
        check_like(owner, f"state {name}", t, like)
    return leaves[0] if len(names) == 1 else tuple(leaves)


def check_layer_states(owner: str, state, num_layers: int) -> list:
    """A stack's state: None (fresh) or a list with one cell state per layer."""
    if state is None:
        return [None] * num_layers
    if not isinstance(state, (list, tuple)) or len(state) != num_layers:
        raise ValueError(f"{owner}: state must be a list with one cell state per layer "
                         f"({num_layers}); got {describe(state)}")
    return list(state)


def describe(obj) -> str:
    """A few words on what came instead of the expected thing, for error messages."""
    if isinstance(obj, Tensor):
        return f"a Tensor of shape {obj.shape}"
    if isinstance(obj, (tuple, list)):
        return f"a {type(obj).__name__} of length {len(obj)}"
    return type(obj).__name__
