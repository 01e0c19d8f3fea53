"""Recurrent states: a Tensor, or (nested) tuples / lists of Tensors, or None.

An RNN's state is h, an LSTM's the pair (h, c), an RWA's (n, d, m, h), and
a stack of layers holds a list with one of those per layer. Everything that
walks such a nest lives here:

* :func:`map_state` applies a function to every tensor, keeping the nesting;
* :func:`detach_state` cuts the state from the graph (truncated BPTT);
* :func:`flatten_state` / :func:`unflatten_state` turn it into a list of
  tensors plus a JSON-able structure and back (checkpoints; replacing the
  tensors of a state one by one);
* :func:`zero_state` builds a fresh state of zeros from its shapes.
"""
from __future__ import annotations

from ..tensor import Tensor

__all__ = ["map_state", "detach_state", "flatten_state", "unflatten_state", "state_tensors",
           "zero_state"]


def map_state(fn, state, name: str = "map_state"):
    """``state`` with ``fn`` applied to each of its tensors, nesting kept.

    ``name`` is the caller's name for the error a wrong kind of state gets.
    """
    if state is None:
        return None
    if isinstance(state, Tensor):
        return fn(state)
    if isinstance(state, (tuple, list)):
        return type(state)(map_state(fn, s, name) for s in state)
    raise TypeError(f"{name}: expected a Tensor or (nested) tuples / lists of "
                    f"Tensors; got {type(state).__name__}")


def detach_state(state):
    """A copy of ``state`` cut from the graph: a Tensor, or tuples / lists of them
    (nested), or None. Truncated BPTT passes each chunk's final state through
    this before the next chunk, so backward stops at the chunk boundary."""
    return map_state(Tensor.detach, state, "detach_state")


def flatten_state(state) -> tuple[list, object]:
    """The tensors of ``state`` in order, and a JSON-able structure to rebuild it.

    A tensor becomes its index in the list; a list or tuple ``{"list": [...]}``
    or ``{"tuple": [...]}``; None stays None. For a two-layer LSTM's
    ``[(h0, c0), (h1, c1)]`` that is the leaves ``[h0, c0, h1, c1]`` and the
    structure ``{"list": [{"tuple": [0, 1]}, {"tuple": [2, 3]}]}``.
    """
    leaves: list = []

    def walk(s):
        if s is None:
            return None
        if isinstance(s, (list, tuple)):
            return {type(s).__name__: [walk(x) for x in s]}
        if not isinstance(s, Tensor):
            raise TypeError(f"flatten_state: expected a Tensor or (nested) tuples / lists "
                            f"of Tensors; got {type(s).__name__}")
        leaves.append(s)
        return len(leaves) - 1
    return leaves, walk(state)


def unflatten_state(structure, leaves: list):
    """The inverse of :func:`flatten_state`: the nesting ``structure`` describes,
    filled with ``leaves`` (the same tensors, or new ones in their place)."""
    if structure is None:
        return None
    if isinstance(structure, int):
        return leaves[structure]
    (kind, items), = structure.items()
    rebuilt = [unflatten_state(x, leaves) for x in items]
    return tuple(rebuilt) if kind == "tuple" else rebuilt


def state_tensors(state) -> list:
    """The tensors of a state, in order (:func:`flatten_state` without the structure)."""
    return flatten_state(state)[0]


def zero_state(shapes: dict, like: Tensor):
    """A state of zeros: one tensor per entry of ``shapes`` ({name: shape}), on
    ``like``'s backend with its dtype, recording no graph. One entry gives the
    tensor itself, several a tuple in order (the form :func:`check_state
    <tinyrnn.nn.checks.check_state>` expects)."""
    be = like.backend
    zeros = [Tensor.from_array(be.zeros(tuple(shape), like.dtype), be)
             for shape in shapes.values()]
    return zeros[0] if len(zeros) == 1 else tuple(zeros)
