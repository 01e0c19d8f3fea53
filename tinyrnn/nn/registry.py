"""Every cell tinyrnn builds by name, in one table.

:func:`make_cell` builds from it, the command line offers its general cells
(:func:`cell_names` with ``paper_models=False``), and the fast-weights
paper's four models (``FAST_WEIGHTS_MODELS``) are its rows of that paper.
Adding a row here is all a new cell needs to be reachable by name.
"""
from __future__ import annotations

from typing import NamedTuple

from .cell_base import Cell
from .cells import GRUCell, LSTMCell, RNNCell
from .fast_weights import FastWeightsCell
from .rwa import RWACell

__all__ = ["make_cell", "cell_names", "fast_weights_model_cell", "CELL_NAMES",
           "FAST_WEIGHTS_MODELS"]

FAST_WEIGHTS_PAPER = "Ba et al. 2016"


class CellEntry(NamedTuple):
    """One name: the class it builds, the options the name itself fixes or
    defaults, the paper it comes from (None: a general cell) and what it is."""
    cls: type
    fixed: dict
    defaults: dict
    paper: str | None
    description: str


_CELLS = {
    "rnn": CellEntry(RNNCell, {}, {}, None, "a vanilla (Elman) RNN cell"),
    "lstm": CellEntry(LSTMCell, {}, {}, None, "an LSTM cell (gates i, f, g, o)"),
    "gru": CellEntry(GRUCell, {}, {}, None, "a GRU cell (gates r, z, n)"),
    "rwa": CellEntry(RWACell, {}, {}, None, "a Recurrent Weighted Average cell "
                                            "(Ostmeyer & Cowell 2017)"),
    "fw": CellEntry(FastWeightsCell, {}, {}, None, "a fast-weights cell"),
    # The models Ba et al. (2016) compare on associative retrieval.
    "RNN-LN-FW": CellEntry(FastWeightsCell, {}, {}, FAST_WEIGHTS_PAPER,
                           "fast weights: ReLU, layer norm, fast memory (lam 0.95, "
                           "eta 0.5, S 1)"),
    "RNN-LN": CellEntry(FastWeightsCell, {"fast_weights": False}, {"layer_norm": True},
                        FAST_WEIGHTS_PAPER,
                        "the model without the fast memory: h' = ReLU(LN[W h + C x + b]), "
                        "W = 0.05 I, so the comparison isolates the fast weights"),
    "CONTROL": CellEntry(RNNCell, {}, {}, FAST_WEIGHTS_PAPER,
                         "a plain RNN (tanh unless nonlinearity= says otherwise)"),
    "GRU-LN": CellEntry(GRUCell, {"layer_norm": True}, {}, FAST_WEIGHTS_PAPER,
                        "a GRU with layer norm"),
}


def cell_names(paper_models: bool = True) -> tuple[str, ...]:
    """The names :func:`make_cell` knows, in the table's order; with
    ``paper_models=False`` only the general cells (rnn, lstm, gru, rwa, fw),
    which the command line offers."""
    return tuple(n for n, e in _CELLS.items() if paper_models or e.paper is None)


CELL_NAMES = cell_names()
FAST_WEIGHTS_MODELS = tuple(n for n, e in _CELLS.items() if e.paper == FAST_WEIGHTS_PAPER)


def make_cell(name: str, input_size: int, hidden_size: int, **options) -> Cell:
    """Build a cell by name (case-insensitive); ``options`` go to its constructor.

    ``"rnn"``, ``"lstm"``, ``"gru"``: RNNCell, LSTMCell, GRUCell.
    ``"rwa"``: RWACell (Ostmeyer & Cowell 2017).  ``"fw"``: FastWeightsCell.
    The fast-weights paper's (Ba et al. 2016) four models: ``"RNN-LN-FW"``
    fast weights with layer norm; ``"RNN-LN"`` the same ReLU RNN with layer
    norm but no fast memory; ``"CONTROL"`` a plain tanh RNN; ``"GRU-LN"`` a
    GRU with layer norm.
    """
    return _build("make_cell", "cell", CELL_NAMES, name, input_size, hidden_size, options)


def fast_weights_model_cell(name: str, input_size: int, hidden_size: int,
                            **options) -> Cell:
    """A cell for one of the models the fast-weights paper compares
    (case-insensitive): one of ``FAST_WEIGHTS_MODELS``; see :func:`make_cell`.

    ``options`` go to the cell's constructor (e.g. lam=0.9, inner_steps=2).
    """
    return _build("fast_weights_model_cell", "model", FAST_WEIGHTS_MODELS, name,
                  input_size, hidden_size, options)


def _build(fn: str, what: str, names: tuple, name, input_size, hidden_size, options) -> Cell:
    key = {n.lower(): n for n in names}.get(str(name).lower())
    if key is None:
        listed = ", ".join(repr(n) for n in names) if what == "cell" else ", ".join(names)
        raise ValueError(f"{fn}: unknown {what} {name!r}; expected one of {listed}"
                         + (" (case-insensitive)" if what == "cell" else ""))
    entry = _CELLS[key]
    for option in entry.fixed:
        if option in options:
            raise ValueError(f"{fn}: {key!r} is {entry.description}; {option}= cannot be "
                             "set")
    return entry.cls(input_size, hidden_size, **{**entry.defaults, **options, **entry.fixed})
