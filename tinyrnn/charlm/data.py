"""A text's ids laid out for truncated BPTT: splits, parallel streams, (T, B) chunks.

Everything here works on NumPy arrays on the host; the training loop uploads
each batch to its backend. The flow, with :mod:`.textfile` and :mod:`.vocab`::

    text = load_text("input.txt")              # or default_corpus()
    vocab = CharVocab(text)                     # sorted, stable characters
    ids = vocab.encode(text)                    # (N,) int64
    train, val, test = split_ids(ids, 0.9, 0.05)
    streams = batchify(train, batch_size=50)    # (N // 50, 50): column b = stream b
    for inputs, targets in bptt_batches(streams, seq_length=50):
        ...                                     # (T, B) int64 each, time-major

The papers' synthetic tasks (adding, copy, associative retrieval) live in
:mod:`tinyrnn.tasks`.
"""
from __future__ import annotations

from typing import Iterator

import numpy as np

from .errors import DataError

__all__ = ["split_ids", "batchify", "bptt_batches", "num_bptt_batches"]


# ---------------------------------------------------------------------------
# Splits and batches for truncated BPTT
# ---------------------------------------------------------------------------
def _check_ids(ids, fn: str) -> np.ndarray:
    ids = np.asarray(ids)
    if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
        raise DataError(f"{fn}: expected a 1-D integer array of ids, "
                        f"got shape {ids.shape} and dtype {ids.dtype}")
    return ids


def split_ids(ids, train_frac: float = 0.95, val_frac: float = 0.05
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut a sequence of ids into contiguous train / validation / test parts.

    ``n_train = floor(N * train_frac)`` and ``n_val = floor(N * val_frac)``;
    the test part is the rest. When ``train_frac + val_frac == 1`` the
    validation part takes the rest instead, so no character is lost.

    Parameters
    ----------
    ids : (N,) int array
    train_frac, val_frac : float
        Fractions of N; ``0 < train_frac <= 1``, ``val_frac >= 0`` and their
        sum at most 1 (char-rnn's defaults are 0.95 and 0.05).

    Returns
    -------
    train, val, test : views of ``ids`` (some possibly empty)
    """
    ids = _check_ids(ids, "split_ids")
    if not (0 < train_frac <= 1) or not (0 <= val_frac < 1) \
            or train_frac + val_frac > 1 + 1e-9:
        raise DataError(f"split_ids: need 0 < train_frac <= 1, 0 <= val_frac and "
                        f"train_frac + val_frac <= 1, got train_frac={train_frac}, "
                        f"val_frac={val_frac}")
    n = len(ids)
    n_train = int(n * train_frac)
    if n_train == 0:
        raise DataError(f"split_ids: a text of {n} ids leaves no training data "
                        f"at train_frac={train_frac}")
    if abs(train_frac + val_frac - 1) <= 1e-9:
        n_val = n - n_train
    else:
        n_val = int(n * val_frac)
    return ids[:n_train], ids[n_train:n_train + n_val], ids[n_train + n_val:]


def batchify(ids, batch_size: int, seq_length: int = 1) -> np.ndarray:
    """Lay a sequence out as ``batch_size`` contiguous streams, time-major.

    The sequence is cut into B equal pieces (the remainder, fewer than B ids,
    is dropped) and piece b becomes column b::

        ids = 0 1 2 3 4 5 6 7 8 9,  B = 3   ->   [[0, 3, 6],
                                                   [1, 4, 7],
                                                   [2, 5, 8]]

    Reading down a column is reading the text, so a hidden state carried from
    one chunk of rows to the next continues the same stream.

    Parameters
    ----------
    ids : (N,) int array
    batch_size : int
        B, the number of streams.
    seq_length : int
        T; the text must fill at least one batch: ``N >= B * (T + 1)`` (T
        inputs plus the target after the last of them, per stream).

    Returns
    -------
    streams : (N // B, B) read-only view of ``ids`` (same dtype, no copy)
        Row t is ``ids[t], ids[t + N//B], ...``: strides (itemsize,
        N//B * itemsize). Compact ids stay compact: 1 byte per character
        for uint8 ids, however long the text.
    """
    ids = _check_ids(ids, "batchify")
    if batch_size < 1 or seq_length < 1:
        raise DataError(f"batchify: batch_size and seq_length must be >= 1, "
                        f"got {batch_size} and {seq_length}")
    need = batch_size * (seq_length + 1)
    if len(ids) < need:
        raise DataError(f"batchify: the text has {len(ids)} characters, fewer than one "
                        f"batch needs: batch_size {batch_size} x (seq_length "
                        f"{seq_length} + 1) = {need}")
    steps = len(ids) // batch_size
    streams = ids[:steps * batch_size].reshape(batch_size, steps).T
    streams.flags.writeable = False      # a view: writing would change the text
    return streams


def num_bptt_batches(streams: np.ndarray, seq_length: int) -> int:
    """How many batches :func:`bptt_batches` yields: ``ceil((N - 1) / T)``."""
    if seq_length < 1:
        raise DataError(f"bptt_batches: seq_length must be >= 1, got {seq_length}")
    return max(0, -(-(len(streams) - 1) // seq_length))


def bptt_batches(streams: np.ndarray, seq_length: int, start: int = 0
                 ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Walk the streams in chunks of ``seq_length`` steps (truncated BPTT).

    Chunk j covers rows ``t0 = j*T`` to ``t1 = min(t0 + T, N - 1)``::

        inputs  = streams[t0 : t1]          # (T, B)
        targets = streams[t0 + 1 : t1 + 1]  # (T, B), the next character

    The last chunk may be shorter than T. The consumer carries the hidden
    state from chunk to chunk and detaches it, so gradients stop at chunk
    boundaries while the state does not.

    Parameters
    ----------
    streams : (N, B) int array
        From :func:`batchify`.
    seq_length : int
        T, the number of steps to backpropagate through.
    start : int
        Index of the first chunk to yield (to resume in the middle of an epoch).

    Yields
    ------
    inputs, targets : (T, B) int64 arrays
        Converted chunk by chunk from the streams' (compact) dtype, so only
        one chunk at a time exists as int64, what the embedding and the loss
        take.
    """
    streams = np.asarray(streams)
    if streams.ndim != 2 or not np.issubdtype(streams.dtype, np.integer):
        raise DataError(f"bptt_batches: expected (N, B) integer streams from batchify, "
                        f"got shape {streams.shape} and dtype {streams.dtype}")
    count = num_bptt_batches(streams, seq_length)
    if not 0 <= start <= count:
        raise DataError(f"bptt_batches: start must lie in [0, {count}], got {start}")
    last = len(streams) - 1
    for t0 in range(start * seq_length, last, seq_length):
        t1 = min(t0 + seq_length, last)
        yield (streams[t0:t1].astype(np.int64), streams[t0 + 1:t1 + 1].astype(np.int64))
