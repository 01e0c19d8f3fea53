"""The bridge to PyTorch: char-LM weights as safetensors files, both ways.

When a model outgrows one machine, carry it to PyTorch (and its
DistributedDataParallel) rather than rewrite it, and bring the result back to
sample from it and look inside it with :mod:`tinyrnn.viz`::

    python -m tinyrnn export checkpoints/best.npz model.safetensors
    python -m tinyrnn import model.safetensors imported.npz

* :mod:`.charlm` maps a CharLM to PyTorch's names (the layout is written out
  there), infers a model from a file's shapes, and converts.
* :mod:`.safetensors_file` checks a file's header before reading any weight.
* :mod:`.cli` adds the two commands to ``python -m tinyrnn``.

Only plain RNN, LSTM and GRU models cross (PyTorch has no RWA, fast-weights or
layer-norm cells). Writing needs the ``safetensors`` package
(``pip install "tinyrnn[bridge]"``); nothing is ever pickled.
"""
from .convert import (TORCH_CELLS, check_torch_cell, checkpoint_from_safetensors,
                     export_safetensors, import_safetensors, load_charlm,
                     model_from_safetensors, save_charlm, torch_shapes, torch_state_dict,
                     charlm_state_dict, write_safetensors)
from .safetensors_file import BridgeError, read_header

__all__ = ["BridgeError", "TORCH_CELLS", "check_torch_cell",
           "checkpoint_from_safetensors", "export_safetensors", "import_safetensors",
           "load_charlm", "model_from_safetensors", "read_header", "save_charlm",
           "torch_shapes", "torch_state_dict", "charlm_state_dict", "write_safetensors"]
