"""Layers, cells and recurrent networks, with PyTorch's names and layouts."""
from .module import Module, Parameter, ModuleList
from .layers import Linear, Embedding, LayerNorm, Dropout
from . import init
from .cells import RNNCell, LSTMCell, GRUCell
from .recurrent import (Recurrent, RNN, LSTM, GRU, detach_state, map_state, state_tensors,
                        make_cell)
from .rwa import RWACell, RWA
from .fast_weights import FastWeightsCell, FastWeights, fast_weights_model_cell
from .charlm import CharLM
from . import utils
