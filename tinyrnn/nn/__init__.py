"""Layers, cells and recurrent networks, with PyTorch's names and layouts."""
from .module import Module, Parameter, ModuleList
from .layers import Linear, Embedding, LayerNorm, Dropout
from . import init
