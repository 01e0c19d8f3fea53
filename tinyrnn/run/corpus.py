"""The text of a run: read, fingerprinted, encoded, split and laid out for BPTT.

A run remembers its text by the file's absolute path and by a fingerprint,
the SHA-256 of the characters it trained on, so that resuming from another
folder finds the file again and resuming on a changed or different text is
refused instead of silently becoming another run.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import numpy as np

from ..data import CharVocab, batchify, default_corpus, load_text, split_ids
from .console import TrainError

__all__ = ["CharData", "prepare_data", "fingerprint"]


def fingerprint(text: str) -> str:
    """SHA-256 (hex) of the text's UTF-8 bytes."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class CharData:
    """The text of a run, encoded and laid out for truncated BPTT."""

    vocab: CharVocab
    train: np.ndarray        # (N_train, B) int64 streams
    val: np.ndarray | None   # (N_val, B_val) int64 streams, or None without validation
    description: str         # where the text came from, for messages
    num_chars: int
    source: dict             # {"path": absolute path or None, "sha256": ..., "chars": N}


def prepare_data(cfg, vocab: CharVocab | None = None, same_as: dict | None = None
                 ) -> CharData:
    """Read the text, build (or check against ``vocab``) the vocabulary, split and batch.

    ``same_as`` is the ``data`` record of a run being resumed (plus its
    ``"checkpoint"`` path): the text must have the same fingerprint.
    Raises DataError / TrainError with one line naming the problem.
    """
    if cfg.data is None:
        text = default_corpus() if cfg.max_chars is None else default_corpus(cfg.max_chars)
        where = f"the default corpus (Python standard library, {len(text):,} chars)"
        path = None
    else:
        text = load_text(cfg.data)[:cfg.max_chars]
        where = f"{cfg.data!r} ({len(text):,} chars)"
        path = os.path.abspath(cfg.data)
    if same_as is not None and fingerprint(text) != same_as.get("sha256"):
        trained_on = same_as.get("path") or "the default corpus"
        raise TrainError(f"--init-from {same_as['checkpoint']}: {where} is not the text "
                         f"that run trained on ({trained_on!r}, {same_as.get('chars', 0):,} "
                         "chars, by content); resuming needs the same text. To train "
                         "these weights on this text, start a new run with "
                         f"--finetune-from {same_as['checkpoint']}")
    if vocab is None:
        vocab = CharVocab(text)
    ids = vocab.encode(text, what=f"the text of {where}, compared with the checkpoint's "
                                  "vocabulary,")
    train, val, _ = split_ids(ids, cfg.train_frac, cfg.val_frac)
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
    source = {"path": path, "sha256": fingerprint(text), "chars": len(text)}
    return CharData(vocab, batchify(train, B, T), val_streams, where, len(text), source)
