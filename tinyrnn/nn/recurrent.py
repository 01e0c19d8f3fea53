"""Recurrent layers: run a stack of cells over a whole sequence.

``Recurrent([cell_0, cell_1, ...])`` feeds a sequence x (T, B, I) through
cell_0 one step at a time, its outputs (T, B, H_0) through cell_1, and so on::

    for k, cell in enumerate(cells):          # layers, bottom to top
        state = states[k]
        for t in range(T):                    # time
            h_t, state = cell(x_t, state)
        x = [h_0, ..., h_{T-1}]               # the next layer's input

``RNN``, ``LSTM`` and ``GRU`` are such stacks of one cell type with PyTorch's
constructor and parameter names (``weight_ih_l0``, ``bias_hh_l1`` ...), so a
``state_dict`` loads into ``torch.nn.LSTM`` unchanged. For plain RNN, LSTM and
GRU cells (no layer norm) the layer runs, by default (``fused=True``), one
fused op per layer (:mod:`tinyrnn.ops.fused`): the input projection of all T
steps in one matrix product and a hand-written backward through time. That
is the fast path; ``fused=False`` runs the readable cells step by step. Both
compute the same numbers (the tests check outputs and gradients agree).

Truncated BPTT carries the returned states into the next chunk after
:func:`detach_state`, so backward stops at the chunk boundary.
"""
from __future__ import annotations

from .. import ops
from ..ops import fused
from ..tensor import Tensor
from .cells import GRUCell, LSTMCell, RNNCell
from .module import Module, ModuleList

__all__ = ["Recurrent", "RNN", "LSTM", "GRU", "detach_state", "make_cell", "CELL_NAMES"]


def map_state(fn, state, name: str = "map_state"):
    """``state`` with ``fn`` applied to each of its tensors, nesting kept.

    A recurrent state is a Tensor, (nested) tuples / lists of Tensors, or None.
    """
    if state is None:
        return None
    if isinstance(state, Tensor):
        return fn(state)
    if isinstance(state, (tuple, list)):
        return type(state)(map_state(fn, s, name) for s in state)
    raise TypeError(f"{name}: expected a Tensor or (nested) tuples / lists of "
                    f"Tensors; got {type(state).__name__}")


def state_tensors(state) -> list:
    """The tensors of a state, in order (the inverse of ``map_state`` over an iterator)."""
    found = []
    map_state(found.append, state, "state_tensors")
    return found


def detach_state(state):
    """A copy of ``state`` cut from the graph: a Tensor, or tuples / lists of them
    (nested), or None. Truncated BPTT passes each chunk's final state through
    this before the next chunk, so backward stops at the chunk boundary."""
    return map_state(Tensor.detach, state, "detach_state")


# ---- building cells by name -------------------------------------------------------
CELL_NAMES = ("rnn", "lstm", "gru", "rwa", "fw", "RNN-LN-FW", "RNN-LN", "CONTROL", "GRU-LN")


def make_cell(name: str, input_size: int, hidden_size: int, **options) -> Module:
    """Build a cell by name (case-insensitive); ``options`` go to its constructor.

    ``"rnn"``, ``"lstm"``, ``"gru"``: RNNCell, LSTMCell, GRUCell.
    ``"rwa"``: RWACell (Ostmeyer & Cowell 2017).  ``"fw"``: FastWeightsCell.
    The fast-weights paper's (Ba et al. 2016) four models, built by
    :func:`tinyrnn.nn.fast_weights.fast_weights_model_cell`: ``"RNN-LN-FW"``
    fast weights with layer norm; ``"RNN-LN"`` the same ReLU RNN with layer
    norm but no fast memory; ``"CONTROL"`` a plain tanh RNN; ``"GRU-LN"`` a
    GRU with layer norm.
    """
    key = str(name).lower()
    if key == "rnn":
        return RNNCell(input_size, hidden_size, **options)
    if key == "lstm":
        return LSTMCell(input_size, hidden_size, **options)
    if key == "gru":
        return GRUCell(input_size, hidden_size, **options)
    if key == "rwa":
        from .rwa import RWACell
        return RWACell(input_size, hidden_size, **options)
    if key == "fw":
        from .fast_weights import FastWeightsCell
        return FastWeightsCell(input_size, hidden_size, **options)
    if key in ("rnn-ln-fw", "rnn-ln", "control", "gru-ln"):
        from .fast_weights import fast_weights_model_cell
        return fast_weights_model_cell(key.upper(), input_size, hidden_size, **options)
    raise ValueError(f"make_cell: unknown cell {name!r}; expected one of "
                     + ", ".join(repr(n) for n in CELL_NAMES) + " (case-insensitive)")


# ---- the layer ----------------------------------------------------------------------
class Recurrent(Module):
    """A stack of recurrent cells (possibly of different kinds) run over time.

    Parameters
    ----------
    cells : list of cells; cell k+1's input_size must equal cell k's hidden_size.
    dropout : probability of zeroing the outputs of every layer but the last,
        in training mode, before they enter the next layer (as in PyTorch).
    batch_first : take and return (B, T, ...) instead of (T, B, ...).
    fused : run plain RNN / LSTM / GRU cells (no layer norm) with the fused
        sequence ops of :mod:`tinyrnn.ops.fused`; other cells always run step by step.

    Shapes: ``forward(x (T, B, I), states=None) -> (output (T, B, H_last), states)``
    where ``states`` has one cell state per layer (h for RNN / GRU, (h, c) for
    LSTM ...), ready to pass back in for the next chunk of a sequence.

    Parameters are registered on the layer itself with PyTorch's names: cell
    k's ``weight_ih`` is the layer's ``weight_ih_l0``, ``weight_ih_l1`` ...
    (a dotted cell name such as ``ln.weight`` becomes ``ln_weight_l0``). They
    are the very same Parameter objects the cells use.
    """

    def __init__(self, cells, dropout: float = 0.0, batch_first: bool = False,
                 fused: bool = True):
        cells = list(cells.children()) if isinstance(cells, ModuleList) else list(cells)
        if not cells:
            raise ValueError("Recurrent: needs at least one cell")
        for k, cell in enumerate(cells):
            if not isinstance(cell, Module) or not hasattr(cell, "hidden_size"):
                raise TypeError(f"Recurrent: layer {k} is a {type(cell).__name__}, not a "
                                "cell (a Module with input_size, hidden_size, "
                                "initial_state and forward(x, state))")
            if k and cell.input_size != cells[k - 1].hidden_size:
                raise ValueError(f"Recurrent: layer {k} ({type(cell).__name__}) has "
                                 f"input_size {cell.input_size}, but layer {k - 1} outputs "
                                 f"{cells[k - 1].hidden_size} features")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"{type(self).__name__}: dropout must be in [0, 1); got {dropout}")
        self.dropout, self.batch_first, self.fused = float(dropout), bool(batch_first), fused
        self.input_size, self.hidden_size = cells[0].input_size, cells[-1].hidden_size
        self.num_layers = len(cells)
        # The flat PyTorch names first: named_parameters() lists each parameter
        # once, under the first name it meets, so the cells below add no names.
        for k, cell in enumerate(cells):
            for name, p in cell.named_parameters():
                setattr(self, f"{name.replace('.', '_')}_l{k}", p)
        self.cells = ModuleList(cells)      # reached by train() / eval() and repr

    def initial_state(self, batch_size: int) -> list:
        """One initial cell state per layer."""
        return [cell.initial_state(batch_size) for cell in self.cells]

    def forward(self, x: Tensor, state=None):
        """x (T, B, I) (or (B, T, I) with batch_first) -> (output, states); see the class."""
        name = type(self).__name__
        if not isinstance(x, Tensor):
            raise TypeError(f"{name}: input must be a Tensor; got {type(x).__name__}")
        layout = "(batch, time, input_size)" if self.batch_first else \
            "(time, batch, input_size)"
        if x.ndim != 3 or x.shape[2] != self.input_size:
            raise ValueError(f"{name}: input of shape {x.shape}; expected {layout} with "
                             f"input_size {self.input_size}")
        if 0 in x.shape[:2]:
            raise ValueError(f"{name}: input of shape {x.shape} is empty; expected at "
                             "least one time step and one sequence")
        if self.batch_first:
            x = ops.transpose(x, 0, 1)
        states = self._check_states(state)
        final = []
        for k, cell in enumerate(self.cells):
            if k and self.dropout:
                x = ops.dropout(x, self.dropout, self.training)
            x, s = self._run_layer(cell, x, states[k])
            final.append(s)
        if self.batch_first:
            x = ops.transpose(x, 0, 1)
        return x, final

    def _check_states(self, state) -> list:
        if state is None:
            return [None] * self.num_layers
        if not isinstance(state, (list, tuple)) or len(state) != self.num_layers:
            got = f"a {type(state).__name__}" + (
                f" of length {len(state)}" if isinstance(state, (list, tuple)) else "")
            raise ValueError(f"{type(self).__name__}: state must be a list with one cell "
                             f"state per layer ({self.num_layers}); got {got}")
        return list(state)

    def _run_layer(self, cell, x: Tensor, state):
        """One layer over all T steps: x (T, B, I) -> (out (T, B, H), final state)."""
        if self.fused and _is_plain(cell):
            return _run_fused(cell, x, state)
        outputs = []
        for x_t in ops.split(x, 1, axis=0):                  # T pieces (1, B, I)
            h, state = cell(x_t[0], state)
            outputs.append(h)
        return ops.stack(outputs, axis=0), state

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}"
        if self.dropout:
            s += f", dropout={self.dropout}"
        return s + (", batch_first=True" if self.batch_first else "")


def _is_plain(cell) -> bool:
    """Can a fused op run this cell? (an RNN / LSTM / GRU cell without layer norm)"""
    return type(cell) in (RNNCell, LSTMCell, GRUCell) and not cell.layer_norm


def _run_fused(cell, x: Tensor, state):
    """The whole layer as one fused op, with the same checks as the cell's."""
    B = x.shape[1]
    cell._check_input(x.detach()[0])                     # detached: records no graph
    weights = (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
    if isinstance(cell, LSTMCell):
        h0, c0 = cell._check_pair(cell.initial_state(B) if state is None else state, B)
        out, h, c = fused.lstm_sequence(x, h0, c0, *weights)
        return out, (h, c)
    h0 = cell.initial_state(B) if state is None else state
    cell._check_hidden(h0, "h", B)
    if isinstance(cell, GRUCell):
        return fused.gru_sequence(x, h0, *weights)
    return fused.rnn_sequence(x, h0, *weights, nonlinearity=cell.nonlinearity)


class _Stack(Recurrent):
    """``num_layers`` cells of one kind, built from PyTorch-style arguments."""

    cell_class = RNNCell

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, *,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 fused: bool = True, backend=None, **cell_options):
        if not isinstance(num_layers, int) or num_layers < 1:
            raise ValueError(f"{type(self).__name__}: num_layers must be a positive int; "
                             f"got {num_layers!r}")
        cells = [self.cell_class(input_size if k == 0 else hidden_size, hidden_size,
                                 bias=bias, backend=backend, **cell_options)
                 for k in range(num_layers)]
        super().__init__(cells, dropout=dropout, batch_first=batch_first, fused=fused)


class RNN(_Stack):
    """A multi-layer vanilla RNN (``torch.nn.RNN``'s arguments and parameter names).

    ``RNN(input_size, hidden_size, num_layers=1, *, nonlinearity="tanh",
    bias=True, batch_first=False, dropout=0.0, fused=True, layer_norm=False)``.
    Each layer is an :class:`RNNCell`; see :class:`Recurrent` for shapes.
    ``fused`` applies when ``layer_norm`` is off.
    """

    cell_class = RNNCell


class LSTM(_Stack):
    """A multi-layer LSTM (``torch.nn.LSTM``'s arguments and parameter names;
    gate order i, f, g, o).

    ``LSTM(input_size, hidden_size, num_layers=1, *, bias=True,
    batch_first=False, dropout=0.0, fused=True, forget_bias=None,
    layer_norm=False)``. Each layer is an :class:`LSTMCell` and its state is
    (h, c); see :class:`Recurrent` for shapes. Note that the final states come
    back as a list of per-layer (h, c), not PyTorch's stacked (h_n, c_n).
    """

    cell_class = LSTMCell


class GRU(_Stack):
    """A multi-layer GRU (``torch.nn.GRU``'s arguments and parameter names; gate
    order r, z, n, reset applied after the recurrent product).

    ``GRU(input_size, hidden_size, num_layers=1, *, bias=True,
    batch_first=False, dropout=0.0, fused=True, layer_norm=False)``.
    Each layer is a :class:`GRUCell`; see :class:`Recurrent` for shapes.
    """

    cell_class = GRUCell
