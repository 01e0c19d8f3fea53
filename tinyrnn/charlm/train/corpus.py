"""The text of a run: read, fingerprinted, encoded, split and laid out for BPTT.

A run remembers its text by the file's absolute path and by a fingerprint,
the SHA-256 of the characters it trained on (as vocabulary + ids), so that
resuming from another folder finds the file again and resuming on a changed or
different text is refused instead of silently becoming another run.

A file is streamed into compact ids (:func:`tinyrnn.data.load_ids`): only
``--max-chars`` characters are read, and the text is never held whole; the
splits and streams are views of those ids, made int64 one chunk at a time.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import numpy as np

from ..data import batchify, split_ids
from ..textfile import default_corpus, load_ids
from ..vocab import CharVocab
from ..errors import TrainError, UnknownCharacters
from ..model import MAX_VOCAB

__all__ = ["CharData", "prepare_data", "fingerprint"]


def fingerprint(ids: np.ndarray, vocab: CharVocab) -> str:
    """SHA-256 (hex) of a text given as its vocabulary and ids: the characters
    in id order, the ids' dtype, then the ids' bytes (hashed in place, no copy)."""
    digest = hashlib.sha256(f"{vocab.chars}\0{ids.dtype.str}\0".encode("utf-8"))
    digest.update(memoryview(np.ascontiguousarray(ids)).cast("B"))
    return digest.hexdigest()


@dataclass
class CharData:
    """The text of a run, encoded and laid out for truncated BPTT."""

    vocab: CharVocab
    train: np.ndarray        # (N_train, B) streams: a view of the compact ids
    val: np.ndarray | None   # (N_val, B_val) streams (a view), or None without validation
    description: str         # where the text came from, for messages
    num_chars: int
    source: dict             # {"path": absolute path or None, "sha256": ..., "chars": N}


def _read_ids(cfg, vocab: CharVocab | None):
    """``(ids, vocab, where, path)``: the run's text as compact ids, its
    vocabulary (``vocab`` itself when given), a description and the absolute path."""
    what = "the text of {}, compared with the checkpoint's vocabulary,"
    if cfg.data is None:
        text = default_corpus() if cfg.max_chars is None else default_corpus(cfg.max_chars)
        where = f"the default corpus (Python standard library, {len(text):,} chars)"
        vocab = CharVocab(text) if vocab is None else vocab
        return vocab.encode(text, what=what.format(where), dtype=vocab.id_dtype), vocab, \
            where, None
    # streamed: only --max-chars are read, never the whole text
    ids, vocab = load_ids(cfg.data, cfg.max_chars, vocab, what.format(repr(cfg.data)))
    return ids, vocab, f"{cfg.data!r} ({len(ids):,} chars)", os.path.abspath(cfg.data)


def prepare_data(cfg, vocab: CharVocab | None = None, same_as: dict | None = None
                 ) -> CharData:
    """Read the text, build (or check against ``vocab``) the vocabulary, split and batch.

    ``same_as`` is the ``data`` record of a run being resumed (plus its
    ``"checkpoint"`` path): the text must have the same fingerprint.
    Raises DataError / TrainError with one line naming the problem.
    """
    try:
        ids, vocab, where, path = _read_ids(cfg, vocab)
        sha = fingerprint(ids, vocab)
    except UnknownCharacters:     # the resumed run's text had none of those
        if same_as is None:
            raise
        sha, where = None, repr(cfg.data) if cfg.data else "the default corpus"
    if same_as is not None and sha != same_as.get("sha256"):
        trained_on = same_as.get("path") or "the default corpus"
        raise TrainError(f"--init-from {same_as['checkpoint']}: {where} is not the text "
                         f"that run trained on ({trained_on!r}, {same_as.get('chars', 0):,} "
                         "chars, by content); resuming needs the same text. To train "
                         "these weights on this text, start a new run with "
                         f"--finetune-from {same_as['checkpoint']}")
    if len(vocab) > MAX_VOCAB:
        raise TrainError(f"{where} has {len(vocab):,} distinct characters, more than the "
                         f"{MAX_VOCAB:,} a model may predict (its logits are --batch-size "
                         "x --seq-length x characters floats per step)")
    train, val, _ = split_ids(ids, cfg.train_frac, cfg.val_frac)
    val = val[:cfg.val_max_chars]
    B, T = cfg.batch_size, cfg.seq_length
    if len(train) < B * (T + 1):
        raise TrainError(f"{where} is too short: its training part ({len(train):,} chars "
                         f"at --train-frac {cfg.train_frac}) must fill one batch of "
                         f"--batch-size {B} x (--seq-length {T} + 1) = {B * (T + 1):,} "
                         "chars; use more text or smaller batches")
    val_streams = None
    if cfg.val_frac > 0:
        if len(val) < T + 1:
            raise TrainError(f"{where} is too short for validation: its validation part "
                             f"({len(val):,} chars at --val-frac {cfg.val_frac}) needs at "
                             f"least --seq-length {T} + 1 chars; use more text, a larger "
                             "--val-frac, or --val-frac 0")
        val_streams = batchify(val, min(B, len(val) // (T + 1)), T)
    source = {"path": path, "sha256": sha, "chars": len(ids)}
    return CharData(vocab, batchify(train, B, T), val_streams, where, len(ids), source)
