"""Layers, cells and recurrent networks, with PyTorch's names and layouts."""
from .module import Module, Parameter, ModuleList
from .layers import Linear, Embedding, LayerNorm, Dropout
from . import init
from .cell_base import Cell
from .cells import RNNCell, LSTMCell, GRUCell
from .checks import check_state
from .state import (detach_state, map_state, state_tensors, flatten_state, unflatten_state,
                    zero_state)
from .recurrent import Recurrent, Stack, RNN, LSTM, GRU
from .rwa import RWACell, RWA
from .fast_weights import FastWeightsCell, FastWeights
from .registry import (make_cell, cell_names, fast_weights_model_cell, CELL_NAMES,
                       FAST_WEIGHTS_MODELS)
from .attention import AdditiveAttention, additive_attention
from . import utils
