"""Recurrent layers: run a stack of cells over a whole sequence.

``Recurrent([cell_0, cell_1, ...])`` feeds a sequence x (T, B, I) through
cell_0 one step at a time, its outputs (T, B, H_0) through cell_1, and so on::

    for k, cell in enumerate(cells):          # layers, bottom to top
        state = states[k]
        for t in range(T):                    # time
            h_t, state = cell(x_t, state)
        x = [h_0, ..., h_{T-1}]               # the next layer's input

``RNN``, ``LSTM`` and ``GRU`` (and ``RWA``, ``FastWeights``) are such stacks
of one cell type with PyTorch's constructor and parameter names
(``weight_ih_l0``, ``bias_hh_l1`` ...), so a ``state_dict`` loads into
``torch.nn.LSTM`` unchanged. The parameters live in the cells only; the
layer merely *names* them that way. For plain RNN, LSTM and GRU cells (no
layer norm) the layer runs, by default (``fused=True``), one fused op per
layer (the cell's ``fused_sequence``, :mod:`tinyrnn.ops.fused`): the input
projection of all T steps in one matrix product and a hand-written backward
through time. That is the fast path; ``fused=False`` runs the readable cells
step by step. Both compute the same numbers (the tests check outputs and
gradients agree).

Truncated BPTT carries the returned states into the next chunk after
:func:`detach_state`, so backward stops at the chunk boundary.
"""
from __future__ import annotations

import re

from .. import ops
from ..tensor import Tensor
from .cell_base import Cell
from .cells import GRUCell, LSTMCell, RNNCell
from .checks import check_dropout, check_layer_states, check_positive_int, check_sequence
from .module import Module, ModuleList
from .state import detach_state, map_state, state_tensors

__all__ = ["Recurrent", "RNN", "LSTM", "GRU", "Stack", "detach_state", "map_state",
           "state_tensors"]

_LAYER_NAME = re.compile(r"(.+)_l(\d+)$")        # "weight_ih_l0" -> ("weight_ih", "0")


class Recurrent(Module):
    """A stack of recurrent cells (possibly of different kinds) run over time.

    Parameters
    ----------
    cells : list of cells; cell k+1's input_size must equal cell k's hidden_size.
    dropout : probability of zeroing the outputs of every layer but the last,
        in training mode, before they enter the next layer (as in PyTorch).
    batch_first : take and return (B, T, ...) instead of (T, B, ...).
    fused : run each cell that has one through its fused sequence op
        (``cell.fused_sequence``: plain RNN / LSTM / GRU cells); the other
        cells always run step by step.

    Shapes: ``forward(x (T, B, I), states=None) -> (output (T, B, H_last), states)``
    where ``states`` has one cell state per layer (h for RNN / GRU, (h, c) for
    LSTM ...), ready to pass back in for the next chunk of a sequence.

    Parameter names are PyTorch's: cell k's ``weight_ih`` is the layer's
    ``weight_ih_l0``, ``weight_ih_l1`` ... (a dotted cell name such as
    ``ln.weight`` becomes ``ln_weight_l0``), in ``named_parameters()``,
    ``state_dict()`` and as attributes (``layer.weight_ih_l0``). Each
    Parameter is held once, by its cell.
    """

    def __init__(self, cells, dropout: float = 0.0, batch_first: bool = False,
                 fused: bool = True):
        owner = type(self).__name__
        cells = list(cells)
        if not cells:
            raise ValueError(f"{owner}: needs at least one cell")
        for k, cell in enumerate(cells):
            if not isinstance(cell, Cell):
                raise TypeError(f"{owner}: layer {k} is a {type(cell).__name__}, not a "
                                "cell (a tinyrnn.nn.Cell: input_size, hidden_size, "
                                "initial_state and forward(x, state))")
            if k and cell.input_size != cells[k - 1].hidden_size:
                raise ValueError(f"{owner}: layer {k} ({type(cell).__name__}) has "
                                 f"input_size {cell.input_size}, but layer {k - 1} outputs "
                                 f"{cells[k - 1].hidden_size} features")
        check_dropout(owner, dropout)
        self.dropout, self.batch_first, self.fused = float(dropout), bool(batch_first), fused
        self.input_size, self.hidden_size = cells[0].input_size, cells[-1].hidden_size
        self.num_layers = len(cells)
        self.cells = ModuleList(cells)

    # ---- PyTorch's parameter names ------------------------------------------------------
    def _named_parameters(self, prefix):
        for k, cell in enumerate(self.cells):
            for name, p in cell.named_parameters():
                yield f"{prefix}{name.replace('.', '_')}_l{k}", p

    def __getattr__(self, name: str):
        """``layer.weight_ih_l0`` is cell 0's ``weight_ih`` (only called for names
        that are not ordinary attributes)."""
        match = _LAYER_NAME.match(name)
        if match and "cells" in vars(self):
            k = int(match.group(2))
            if k < self.num_layers:
                params = dict(self.cells[k].named_parameters())
                key = match.group(1)
                for cell_name, p in params.items():
                    if cell_name.replace(".", "_") == key:
                        return p
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    # ---- running ------------------------------------------------------------------------
    def initial_state(self, batch_size: int) -> list:
        """One initial cell state per layer."""
        return [cell.initial_state(batch_size) for cell in self.cells]

    def forward(self, x: Tensor, state=None):
        """x (T, B, I) (or (B, T, I) with batch_first) -> (output, states); see the class."""
        out, states, _ = self._run(x, state, record=False)
        return out, states

    def forward_with_internals(self, x: Tensor, state=None):
        """Like ``forward``, step by step through the readable cells (never fused),
        also returning what happened inside: per layer a dict {name: (T, B, H)
        tensor} holding the layer's output ``"h"`` and every value its cell's
        ``step_with_internals`` reports (the LSTM's gates and cell, the RWA's
        log-weights ...), time first like ``x`` ((B, T, H) with batch_first).
        :func:`tinyrnn.inspect.trace` is built on it."""
        return self._run(x, state, record=True)

    def _run(self, x: Tensor, state, record: bool):
        check_sequence(type(self).__name__, x, self.input_size, self.batch_first)
        if self.batch_first:
            x = ops.transpose(x, 0, 1)
        states = check_layer_states(type(self).__name__, state, self.num_layers)
        final, internals = [], []
        for k, cell in enumerate(self.cells):
            if k and self.dropout:
                x = ops.dropout(x, self.dropout, self.training)
            fused = None if record or not self.fused else cell.fused_sequence(x, states[k])
            if fused is not None:
                x, s = fused
            else:
                x, s, inside = _run_steps(cell, x, states[k])
                internals.append(inside)
            final.append(s)
        if self.batch_first:
            x = ops.transpose(x, 0, 1)
            internals = [{n: ops.transpose(v, 0, 1) for n, v in d.items()} for d in internals]
        return x, final, internals

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}"
        if self.dropout:
            s += f", dropout={self.dropout}"
        return s + (", batch_first=True" if self.batch_first else "")


def _run_steps(cell, x: Tensor, state):
    """One layer over all T steps of x (T, B, I), one ``step_with_internals`` per
    step -> (out (T, B, H), final state, {"h": out, name: (T, B, H) internals})."""
    outputs, inside = [], {}
    for x_t in ops.split(x, 1, axis=0):                  # T pieces (1, B, I)
        h, state, values = cell.step_with_internals(x_t[0], state)
        outputs.append(h)
        for name, v in values.items():
            inside.setdefault(name, []).append(v)
    out = ops.stack(outputs, axis=0)
    return out, state, {"h": out, **{name: ops.stack(vs, axis=0) for name, vs in inside.items()}}


class Stack(Recurrent):
    """``num_layers`` cells of one class (``cell_class``), built from PyTorch-style
    arguments: ``Stack(input_size, hidden_size, num_layers=1, *, batch_first=False,
    dropout=0.0, fused=True, backend=None, **cell_options)``; layer 0 takes
    input_size features, the others hidden_size. ``cell_options`` go to every
    cell (``bias``, ``nonlinearity``, ``forget_bias``, ``layer_norm`` ...)."""

    cell_class = RNNCell

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, *,
                 batch_first: bool = False, dropout: float = 0.0, fused: bool = True,
                 backend=None, **cell_options):
        check_positive_int(type(self).__name__, "num_layers", num_layers)
        cells = [self.cell_class(input_size if k == 0 else hidden_size, hidden_size,
                                 backend=backend, **cell_options)
                 for k in range(num_layers)]
        super().__init__(cells, dropout=dropout, batch_first=batch_first, fused=fused)


class RNN(Stack):
    """A multi-layer vanilla RNN (``torch.nn.RNN``'s arguments and parameter names).

    ``RNN(input_size, hidden_size, num_layers=1, *, nonlinearity="tanh",
    bias=True, batch_first=False, dropout=0.0, fused=True, layer_norm=False)``.
    Each layer is an :class:`RNNCell`; see :class:`Recurrent` for shapes.
    ``fused`` applies when ``layer_norm`` is off.
    """

    cell_class = RNNCell


class LSTM(Stack):
    """A multi-layer LSTM (``torch.nn.LSTM``'s arguments and parameter names;
    gate order i, f, g, o).

    ``LSTM(input_size, hidden_size, num_layers=1, *, bias=True,
    batch_first=False, dropout=0.0, fused=True, forget_bias=None,
    layer_norm=False)``. Each layer is an :class:`LSTMCell` and its state is
    (h, c); see :class:`Recurrent` for shapes. Note that the final states come
    back as a list of per-layer (h, c), not PyTorch's stacked (h_n, c_n).
    """

    cell_class = LSTMCell


class GRU(Stack):
    """A multi-layer GRU (``torch.nn.GRU``'s arguments and parameter names; gate
    order r, z, n, reset applied after the recurrent product).

    ``GRU(input_size, hidden_size, num_layers=1, *, bias=True,
    batch_first=False, dropout=0.0, fused=True, layer_norm=False)``.
    Each layer is a :class:`GRUCell`; see :class:`Recurrent` for shapes.
    """

    cell_class = GRUCell
