"""``Cell``: the contract every recurrent cell keeps.

A cell computes one time step. Every cell in tinyrnn (RNN, LSTM, GRU, RWA,
fast weights) is a ``Cell`` and so is used the same way::

    h, state = cell(x, state)                  # x (B, I) -> h (B, H); None starts fresh
    state = cell.initial_state(B)              # the state before the first step
    h, state, inside = cell.step_with_internals(x, state)   # + {"i": ..., "f": ...}

A subclass writes two things:

* ``state_shapes(B)``: the names and shapes of its state's tensors, e.g.
  ``{"h": (B, H), "c": (B, H)}`` for the LSTM. From it come the zero
  initial state and the check of a state passed in, with the same words for
  the same mistake in every cell (:mod:`tinyrnn.nn.checks`);
* ``step(x, state) -> (h, new_state, internals)``: the cell's equations, on
  arguments already checked. ``internals`` is a dict of the values worth
  looking at (gates, the LSTM's cell, the RWA's log-weights), each (B, H);
  :func:`tinyrnn.inspect.trace` records them, so a new cell -- or a
  subclass of one -- is traced without anything else to edit.

A cell may also offer ``fused_sequence(x, state)``, a whole sequence in one
fused op (:mod:`tinyrnn.ops.fused`); the layers use it when they may.
"""
from __future__ import annotations

from ..tensor import Tensor
from .checks import check_input, check_positive_int, check_state
from .module import Module
from .state import zero_state

__all__ = ["Cell"]


class Cell(Module):
    """Base class of the recurrent cells; see the module docstring for the contract.

    Parameters
    ----------
    input_size, hidden_size : I and H, positive integers (checked here, so
        every cell words the mistake alike).
    """

    def __init__(self, input_size: int, hidden_size: int):
        owner = type(self).__name__
        check_positive_int(owner, "input_size", input_size)
        check_positive_int(owner, "hidden_size", hidden_size)
        self.input_size, self.hidden_size = input_size, hidden_size

    # ---- what a subclass writes --------------------------------------------------------
    def state_shapes(self, batch_size: int) -> dict:
        """{name: shape} of the state's tensors, in order."""
        raise NotImplementedError(f"{type(self).__name__} has no state_shapes()")

    def step(self, x: Tensor, state) -> tuple:
        """One step on checked arguments: (h (B, H), new state, {name: tensor})."""
        raise NotImplementedError(f"{type(self).__name__} has no step()")

    def fused_sequence(self, x: Tensor, state):
        """The whole sequence x (T, B, I) as one fused op -> (out (T, B, H), state),
        or None when this cell has no fused kernel (the layer then steps)."""
        return None

    # ---- what every cell gets -----------------------------------------------------------
    def forward(self, x: Tensor, state=None) -> tuple:
        """One step: x (B, I), state (None: :meth:`initial_state`) -> (h, new state)."""
        h, state, _ = self.step_with_internals(x, state)
        return h, state

    def step_with_internals(self, x: Tensor, state=None) -> tuple:
        """One step, also returning what happened inside:
        (h (B, H), new state, {name: (B, H) tensor}), e.g. the LSTM's gates."""
        self.check_input(x)
        B = x.shape[0]
        state = self.check_state(self.initial_state(B) if state is None else state, B)
        return self.step(x, state)

    def initial_state(self, batch_size: int):
        """The state before the first step: zeros of :meth:`state_shapes`."""
        return zero_state(self.state_shapes(batch_size), self.reference_parameter())

    def check_input(self, x) -> None:
        """``x`` must be a Tensor (batch, input_size) on the parameters' backend and dtype."""
        check_input(type(self).__name__, x, self.input_size, self.reference_parameter())

    def check_state(self, state, batch_size: int):
        """``state`` checked against :meth:`state_shapes`; returned as a tensor or tuple."""
        return check_state(type(self).__name__, state, self.state_shapes(batch_size),
                           self.reference_parameter())

    def reference_parameter(self) -> Tensor:
        """The cell's first parameter (its first tensor attribute, so that tools
        that swap parameters for plain tensors keep working): inputs and states
        must share its backend and dtype."""
        for value in vars(self).values():
            if isinstance(value, Tensor):
                return value
        raise TypeError(f"{type(self).__name__} has no parameters")

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}"
