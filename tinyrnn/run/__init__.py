"""A training run of a character-level language model, as the command line runs it.

Imports run one way, so that loading a model never loads the training loop::

    config.py   the options: one table (default, help, check) -> TrainConfig, argparse
    store.py    the one char-LM checkpoint schema: save, read, describe, load a model
    console.py  errors, exit codes, progress lines and bar, Ctrl-C
    corpus.py   the run's text: read, fingerprinted, split, batched
    folder.py   the run's folder, locked while a run writes into it
    history.py  log.csv and loss.png
    loop.py     the Trainer: truncated BPTT, evaluation, checkpoints
                (loop -> config, store, console, ...; store never imports the loop)

``from tinyrnn.run import Trainer`` works; the names are imported on first use.
"""
from __future__ import annotations

import importlib

__all__ = ["TrainConfig", "resolve_config", "Trainer", "load_model", "read_checkpoint",
           "save_model", "TrainError", "Diverged", "OPTIONS"]

_HOME = {"TrainConfig": "config", "resolve_config": "config", "OPTIONS": "config",
         "Trainer": "loop", "load_model": "store", "read_checkpoint": "store",
         "save_model": "store", "TrainError": "console", "Diverged": "console"}


def __getattr__(name: str):
    if name in _HOME:
        return getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
