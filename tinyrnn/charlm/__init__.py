"""The character-level language model: an application built on the library.

==================  =============================================================
``errors.py``       its exceptions and the command line's exit codes
``vocab.py``        ``CharVocab``: characters <-> compact ids
``textfile.py``     UTF-8 text read a piece at a time; the default corpus
``data.py``         ids split and laid out as streams, cut into (T, B) chunks
``model.py``        ``CharLM``: embedding (or one-hot) -> recurrent layers -> decoder
``schema.py``       the checkpoint's metadata: a type and a range for every field
``store.py``        the model file: save, read, check and load a checkpoint
``sample.py``       generating text: temperature, argmax, top-k, top-p, with a prime
``beam.py``         beam search: the most probable continuation among N beams
``next_char.py``    one step: the next-character distribution, argument checks
``ngram.py``        a Kneser-Ney character n-gram, the baseline to beat
``score.py``        a text scored in constant memory: nats, bits per char, per-char losses
``score_page.py``   the score as a self-contained HTML page and a PNG
``score_cli.py``    the ``score`` command
``kinds.py``        what kind each character is; two losses compared by kind
``options.py``      the ``train`` options in one table -> ``TrainConfig``, argparse
``train/``          the training run: loop, its text, folder, log, console
``bridge/``         the model as a PyTorch-named safetensors file, both ways
``report.py``       ``report RUN``: loss, update ratios, gradient norms and samples
``cli.py``          the subcommands of ``python -m tinyrnn``
==================  =============================================================

The library (``tinyrnn`` without this folder) never imports it. Loading,
sampling and exporting a model never import ``train/``: only the ``train``
command does.

>>> from tinyrnn.charlm import CharVocab, CharLM, load_model, sample
"""
from .errors import DataError, ModelFileError, UnknownCharacters
from .vocab import CharVocab
from .textfile import default_corpus, load_ids, load_text
from .data import batchify, bptt_batches, num_bptt_batches, split_ids
from .model import CharLM
from .store import load_model, read_checkpoint, save_model
from .sample import sample
from .ngram import NGramModel

__all__ = ["DataError", "ModelFileError", "UnknownCharacters", "CharVocab", "default_corpus",
           "load_ids", "load_text", "batchify", "bptt_batches", "num_bptt_batches",
           "split_ids", "CharLM", "load_model", "read_checkpoint", "save_model", "sample",
           "NGramModel"]
