"""Data for character-level language models: text, vocabularies, BPTT batches.

Everything here works on NumPy arrays on the host; the training loop uploads
each batch to its backend. The flow for character-level language modelling::

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

import json
import os
import sysconfig
from typing import Iterable, Iterator

import numpy as np

__all__ = ["DataError", "CharVocab", "load_text", "default_corpus", "split_ids",
           "batchify", "bptt_batches", "num_bptt_batches"]


class DataError(ValueError):
    """A data file, text or dataset option that cannot be used (one clear line)."""


# ---------------------------------------------------------------------------
# Character vocabulary
# ---------------------------------------------------------------------------
def _code_points(text: str) -> np.ndarray:
    """The Unicode code points of ``text`` as a (len(text),) uint32 array."""
    return np.frombuffer(text.encode("utf-32-le"), dtype="<u4")


def _describe_chars(chars: Iterable[str], limit: int = 10) -> str:
    """``'é', '☃'`` (at most ``limit`` of them, then ``... (n more)``)."""
    chars = list(chars)
    shown = ", ".join(repr(c) for c in chars[:limit])
    return shown + (f", ... ({len(chars) - limit} more)" if len(chars) > limit else "")


class CharVocab:
    """A character vocabulary: the distinct characters of a text, sorted.

    The characters are sorted by code point, so the same text always gives
    the same ids on every run and machine (``list(set(text))`` would not).

    Parameters
    ----------
    chars : str or iterable of str
        A text, or any iterable of single characters. Duplicates are dropped
        and the rest sorted: ``CharVocab("hello")`` has ``chars == "ehlo"``.

    Examples
    --------
    >>> vocab = CharVocab("hello world")
    >>> vocab.chars
    ' dehlorw'
    >>> vocab.encode("hold")
    array([3, 5, 4, 1])
    >>> vocab.decode([3, 2, 4, 4, 5])
    'hello'
    """

    def __init__(self, chars: str | Iterable[str]):
        unique = sorted(set(chars))
        bad = [c for c in unique if not isinstance(c, str) or len(c) != 1]
        if bad:
            raise DataError(f"CharVocab: expected single characters, got {bad[:5]!r}")
        if not unique:
            raise DataError("CharVocab: cannot build a vocabulary from an empty text")
        self._chars = "".join(unique)
        self._codes = _code_points(self._chars)     # sorted, for searchsorted
        self._index = {c: i for i, c in enumerate(self._chars)}

    @classmethod
    def from_text(cls, text: str) -> "CharVocab":
        """Build the vocabulary of ``text`` (the same as ``CharVocab(text)``)."""
        return cls(text)

    @property
    def chars(self) -> str:
        """All characters, in id order (sorted by code point)."""
        return self._chars

    def __len__(self) -> int:
        return len(self._chars)

    def __contains__(self, ch: str) -> bool:
        return ch in self._index

    def __eq__(self, other) -> bool:
        return isinstance(other, CharVocab) and self._chars == other._chars

    def __hash__(self) -> int:
        return hash(self._chars)

    def __repr__(self) -> str:
        preview = self._chars if len(self) <= 20 else self._chars[:20] + "..."
        return f"CharVocab({len(self)} chars: {preview!r})"

    def index(self, ch: str) -> int:
        """The id of character ``ch``; DataError if it is not in the vocabulary."""
        try:
            return self._index[ch]
        except (KeyError, TypeError):
            raise DataError(f"CharVocab.index: {ch!r} is not in the vocabulary "
                            f"of {len(self)} characters") from None

    def encode(self, text: str, what: str = "text") -> np.ndarray:
        """Map a text to ids.

        Parameters
        ----------
        text : str
            The characters to encode; each must be in the vocabulary.
        what : str
            What the text is, for the error message (``"prime text"``).

        Returns
        -------
        ids : (len(text),) int64 array

        Raises
        ------
        DataError
            Naming every character of ``text`` that is not in the vocabulary.
        """
        if not isinstance(text, str):
            raise DataError(f"CharVocab.encode: expected a str, got {type(text).__name__}")
        codes = _code_points(text)
        ids = np.searchsorted(self._codes, codes)
        ids_clipped = np.minimum(ids, len(self) - 1)
        unknown = self._codes[ids_clipped] != codes
        if unknown.any():
            missing = sorted(set(text[i] for i in np.flatnonzero(unknown)))
            raise DataError(f"{what} has characters not in the vocabulary: "
                            f"{_describe_chars(missing)} (the vocabulary has "
                            f"{len(self)} characters, taken from the training text)")
        return ids.astype(np.int64)

    def decode(self, ids) -> str:
        """Map ids (any integer array-like, flattened) back to a string."""
        ids = np.asarray(ids)
        if ids.size == 0:
            return ""
        if not np.issubdtype(ids.dtype, np.integer):
            raise DataError(f"CharVocab.decode: expected integer ids, got dtype {ids.dtype}")
        ids = ids.reshape(-1)
        if ids.min() < 0 or ids.max() >= len(self):
            raise DataError(f"CharVocab.decode: ids must lie in [0, {len(self)}), "
                            f"got values from {ids.min()} to {ids.max()}")
        return self._codes[ids].astype("<u4").tobytes().decode("utf-32-le")

    # ---- storing the vocabulary in a checkpoint (as JSON) -----------------
    def to_dict(self) -> dict:
        """``{"type": "char", "chars": "..."}``: JSON-ready, to store with a model."""
        return {"type": "char", "chars": self._chars}

    def to_json(self) -> str:
        """The vocabulary as a JSON string (see :meth:`to_dict`)."""
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, obj: str | dict) -> "CharVocab":
        """Rebuild a vocabulary from :meth:`to_json`'s string or :meth:`to_dict`'s dict.

        The stored characters must be exactly what this class would have
        built (unique and sorted); anything else is a DataError, because ids
        in a checkpoint are only meaningful with the very same order.
        """
        if isinstance(obj, str):
            try:
                obj = json.loads(obj)
            except json.JSONDecodeError as e:
                raise DataError(f"CharVocab.from_json: invalid JSON ({e})") from None
        if not isinstance(obj, dict) or obj.get("type") != "char" \
                or not isinstance(obj.get("chars"), str):
            raise DataError("CharVocab.from_json: expected {'type': 'char', 'chars': str}, "
                            f"got {str(obj)[:80]}")
        chars = obj["chars"]
        vocab = cls(chars)
        if vocab.chars != chars:
            raise DataError("CharVocab.from_json: the stored characters are not "
                            "unique and sorted; refusing to guess their ids")
        return vocab


# ---------------------------------------------------------------------------
# Text files and the default corpus
# ---------------------------------------------------------------------------
def load_text(path: str | os.PathLike) -> str:
    """Read a UTF-8 text file.

    A leading byte-order mark is dropped; line endings are kept as they are.

    Raises
    ------
    DataError
        One line naming the file, for a missing file, a directory, an empty
        file, a binary file (a NUL byte) or bytes that are not UTF-8 (with the
        byte offset of the first bad byte).
    """
    name = os.fspath(path)
    if not os.path.exists(name):
        raise DataError(f"data file {name!r} does not exist")
    if os.path.isdir(name):
        raise DataError(f"data file {name!r} is a directory, expected a text file")
    try:
        with open(name, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise DataError(f"data file {name!r} cannot be read: {e.strerror or e}") from None
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    if not raw:
        raise DataError(f"data file {name!r} is empty")
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise DataError(f"data file {name!r} looks binary (NUL byte at offset {nul}), "
                        "expected UTF-8 text")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"data file {name!r} is not UTF-8: byte 0x{raw[e.start]:02x} "
                        f"at offset {e.start} ({e.reason})") from None


def _stdlib_files() -> list[str]:
    """Top-level ``.py`` files of the standard library, sorted by name."""
    root = sysconfig.get_paths()["stdlib"]
    try:
        names = sorted(n for n in os.listdir(root) if n.endswith(".py"))
    except OSError:
        names = []
    return [os.path.join(root, n) for n in names if os.path.isfile(os.path.join(root, n))]


def default_corpus(max_chars: int | None = 1_000_000) -> str:
    """A code corpus that needs no download: the Python standard library's source.

    Karpathy, Johnson & Fei-Fei (2015) trained character models on the Linux
    kernel's C source; Python's standard library is the same kind of data
    (brackets, indentation, strings, comments) and is on every machine that
    runs tinyrnn. The corpus is the top-level ``.py`` files of the directory
    ``sysconfig.get_paths()["stdlib"]`` (no packages, hence no tests and no
    site-packages), sorted by file name, read as UTF-8 (a file that does not
    decode is skipped) and concatenated, then cut to ``max_chars``.

    The text is the same on every call; it differs between Python versions,
    whose standard libraries differ.

    Parameters
    ----------
    max_chars : int or None
        Length of the corpus in characters (None: every file, about 4.5 M
        characters on Python 3.11).

    Returns
    -------
    str
    """
    if max_chars is not None and max_chars < 1:
        raise DataError(f"default_corpus: max_chars must be >= 1, got {max_chars}")
    parts, total = [], 0
    for path in _stdlib_files():
        try:
            with open(path, "rb") as f:
                text = f.read().decode("utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if text and not text.endswith("\n"):
            text += "\n"
        parts.append(text)
        total += len(text)
        if max_chars is not None and total >= max_chars:
            break
    if not parts:
        raise DataError("default_corpus: no Python source found in "
                        f"{sysconfig.get_paths()['stdlib']!r}; pass a text file instead")
    corpus = "".join(parts)
    return corpus if max_chars is None else corpus[:max_chars]


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
    streams : (N // B, B) int64 array, C-contiguous
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
    return np.ascontiguousarray(streams, dtype=np.int64)


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
    inputs, targets : (T, B) int64 arrays (views into ``streams``)
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
        yield streams[t0:t1], streams[t0 + 1:t1 + 1]


# ---------------------------------------------------------------------------
# Old home of the synthetic tasks
# ---------------------------------------------------------------------------
_MOVED_TO_TASKS = ("adding_problem", "copy_problem", "associative_retrieval",
                   "retrieval_vocab", "render_retrieval", "IGNORE_INDEX", "RETRIEVAL_CHARS")


def __getattr__(name: str):
    """``tinyrnn.data.adding_problem`` and friends still work: they moved to
    :mod:`tinyrnn.tasks` (import them from there)."""
    if name in _MOVED_TO_TASKS:
        from . import tasks
        return getattr(tasks, name)
    raise AttributeError(f"module 'tinyrnn.data' has no attribute {name!r}")
