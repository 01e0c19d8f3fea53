"""A training run of a character-level language model, as ``python -m tinyrnn
train`` runs it (its options are :mod:`tinyrnn.charlm.options`)::

    console.py  progress lines and bar, Ctrl-C
    corpus.py   the run's text: read, fingerprinted, split, batched
    folder.py   the run's folder, locked while a run writes into it
    history.py  log.csv and loss.png
    loop.py     the Trainer: truncated BPTT, evaluation, checkpoints

Nothing outside this folder imports it but the ``train`` command: loading,
sampling and exporting a model never load the training loop.
"""
from .loop import Trainer

__all__ = ["Trainer"]
