"""Data for recurrent networks: text, vocabularies, BPTT batches, synthetic tasks.

Everything here works on NumPy arrays on the host; the training loop uploads
each batch to its backend. The flow for character-level language modelling::

    text = load_text("input.txt")              # or default_corpus()
    vocab = CharVocab(text)                     # sorted, stable characters
    ids = vocab.encode(text)                    # (N,) int64
    train, val, test = split_ids(ids, 0.9, 0.05)
    streams = batchify(train, batch_size=50)    # (N // 50, 50): column b = stream b
    for inputs, targets in bptt_batches(streams, seq_length=50):
        ...                                     # (T, B) int64 each, time-major

The synthetic tasks at the end are the benchmarks of the RWA paper (adding and
copy problems, Ostmeyer & Cowell 2017) and of the fast-weights paper
(associative retrieval, Ba et al. 2016). They take a ``numpy.random.Generator``
so that a seed gives the same data on every machine.
"""
from __future__ import annotations

import codecs
import json
import os
import sys
import sysconfig
from typing import Iterable, Iterator

import numpy as np

__all__ = ["DataError", "CharVocab", "load_text", "load_ids", "default_corpus", "split_ids",
           "batchify", "bptt_batches", "num_bptt_batches", "adding_problem",
           "copy_problem", "associative_retrieval", "retrieval_vocab",
           "render_retrieval"]


class DataError(ValueError):
    """A data file, text or dataset option that cannot be used (one clear line)."""


READ_CHUNK = 1 << 20         # bytes read (and checked) at a time from a text file
ENCODE_CHUNK = 1 << 18       # characters encoded at a time (~13 bytes each, transient)


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
        self._codes = _code_points(self._chars)     # sorted code points
        self._index = {c: i for i, c in enumerate(self._chars)}
        # code point -> id, and len(self) (no id) for the rest: one gather per text
        self._table = np.full(int(self._codes[-1]) + 2, len(self), dtype=np.uint32)
        self._table[self._codes] = np.arange(len(self), dtype=np.uint32)

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

    @property
    def id_dtype(self) -> np.dtype:
        """The smallest unsigned integer type that holds every id: uint8 for up
        to 256 characters, uint16 up to 65,536, else uint32 (1, 2, 4 bytes/char)."""
        for dtype in (np.uint8, np.uint16):
            if len(self) <= np.iinfo(dtype).max + 1:
                return np.dtype(dtype)
        return np.dtype(np.uint32)

    def encode(self, text: str, what: str = "text", dtype=np.int64) -> np.ndarray:
        """Map a text to ids.

        The text is encoded in pieces of ``ENCODE_CHUNK`` characters, so the
        temporaries (4 + 8 bytes per character of a piece) do not grow with it.

        Parameters
        ----------
        text : str
            The characters to encode; each must be in the vocabulary.
        what : str
            What the text is, for the error message (``"prime text"``).
        dtype : integer dtype
            Of the result: int64 by default; ``vocab.id_dtype`` for the most
            compact storage of a corpus.

        Returns
        -------
        ids : (len(text),) array of ``dtype``

        Raises
        ------
        DataError
            Naming every character of ``text`` that is not in the vocabulary.
        """
        if not isinstance(text, str):
            raise DataError(f"CharVocab.encode: expected a str, got {type(text).__name__}")
        ids, missing, beyond = np.empty(len(text), dtype=dtype), set(), len(self._table) - 1
        for start in range(0, len(text), ENCODE_CHUNK):
            piece = text[start:start + ENCODE_CHUNK]
            found = self._table[np.minimum(_code_points(piece), beyond)]
            unknown = found == len(self)
            if unknown.any():
                missing.update(piece[i] for i in np.flatnonzero(unknown))
            ids[start:start + len(piece)] = found
        if missing:
            raise self._unknown(missing, what)
        return ids

    def _unknown(self, missing: set, what: str) -> DataError:
        return DataError(f"{what} has characters not in the vocabulary: "
                         f"{_describe_chars(sorted(missing))} (the vocabulary has "
                         f"{len(self)} characters, taken from the training text)")

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
def _read_text(path: str | os.PathLike, max_chars: int | None = None,
               chunk_bytes: int = READ_CHUNK) -> Iterator[str]:
    """Decode a UTF-8 file piece by piece, checking each piece as it is read.

    Yields the text in pieces, ``max_chars`` characters in all (None: the
    whole file), and reads only the bytes these need (at most one chunk of
    ``chunk_bytes`` more). The checks cover exactly the characters yielded:
    a NUL byte (a binary file) or bytes that are not UTF-8 among them is a
    DataError naming the file offset, whatever follows is never read. A
    leading byte-order mark is skipped.
    """
    name = os.fspath(path)
    if max_chars is not None and max_chars < 1:
        raise DataError(f"max_chars must be >= 1, got {max_chars}")
    if not os.path.exists(name):
        raise DataError(f"data file {name!r} does not exist")
    if os.path.isdir(name):
        raise DataError(f"data file {name!r} is a directory, expected a text file")
    decoder = codecs.getincrementaldecoder("utf-8")()
    chars, offset = 0, 0             # characters yielded; file offset of the next read
    try:
        with open(name, "rb") as f:
            while max_chars is None or chars < max_chars:
                raw = f.read(max(chunk_bytes, 4))
                start, offset = offset, offset + len(raw)
                if start == 0 and raw.startswith(codecs.BOM_UTF8):
                    raw, start = raw[3:], 3
                text, problem = _decode_piece(decoder, raw, start, name)
                if max_chars is not None and chars + len(text) >= max_chars:
                    yield text[:max_chars - chars]
                    return
                if problem:
                    raise problem
                if text:
                    chars += len(text)
                    yield text
                if not raw and offset == start:     # end of file
                    break
    except OSError as e:
        raise DataError(f"data file {name!r} cannot be read: {e.strerror or e}") from None
    if chars == 0:
        raise DataError(f"data file {name!r} is empty")


def _decode_piece(decoder, raw: bytes, start: int, name: str
                  ) -> tuple[str, DataError | None]:
    """The text of ``raw`` (read at file offset ``start``) up to its first problem.

    Returns the characters before a NUL byte or an invalid UTF-8 sequence and
    the error for that problem (None if there is none); a piece with a NUL
    byte is called binary whichever comes first. An empty ``raw`` means the
    end of the file: an unfinished multi-byte character is then an error.
    """
    pending = len(decoder.getstate()[0])          # bytes of a character cut by the read
    nul = raw.find(b"\x00")
    binary = DataError(f"data file {name!r} looks binary (NUL byte at offset "
                       f"{start + nul}), expected UTF-8 text") if nul >= 0 else None
    try:
        text = decoder.decode(raw if nul < 0 else raw[:nul], final=not raw)
    except UnicodeDecodeError as e:                # e.object = pending bytes + raw
        at = start - pending + e.start
        return e.object[:e.start].decode("utf-8"), binary or DataError(
            f"data file {name!r} is not UTF-8: byte 0x{e.object[e.start]:02x} at offset "
            f"{at} ({e.reason})")
    return text, binary


def load_text(path: str | os.PathLike, max_chars: int | None = None) -> str:
    """Read a UTF-8 text file, or only its first ``max_chars`` characters.

    A leading byte-order mark is dropped; line endings are kept as they are.
    With ``max_chars`` only the bytes needed are read and checked.

    Raises
    ------
    DataError
        One line naming the file, for a missing file, a directory, an empty
        file, a binary file (a NUL byte) or bytes that are not UTF-8 (with the
        byte offset of the first bad byte).
    """
    return "".join(_read_text(path, max_chars))


def load_ids(path: str | os.PathLike, max_chars: int | None = None,
             vocab: "CharVocab | None" = None, what: str | None = None
             ) -> tuple[np.ndarray, "CharVocab"]:
    """Read a UTF-8 text file straight into compact character ids.

    Two streaming passes over the file: the first finds its characters (and
    builds the vocabulary, or checks them against ``vocab``) and counts them,
    the second encodes it piece by piece into one array of
    ``vocab.id_dtype``. The text itself is never held whole, so memory is
    1 byte per character for up to 256 distinct characters (2 up to 65,536,
    else 4), plus one piece.

    Parameters
    ----------
    path : str or path-like
    max_chars : int or None
        Use only the first ``max_chars`` characters (only those are read).
    vocab : CharVocab or None
        An existing vocabulary (a resumed model's); every character must be in it.
    what : str or None
        How to name the text in an unknown-character error.

    Returns
    -------
    ids : (N,) array of ``vocab.id_dtype``
    vocab : CharVocab
        ``vocab`` itself, or the sorted characters of the text.

    Raises
    ------
    DataError
        As :func:`load_text`; characters outside ``vocab``; a file that
        changed between the two passes.
    """
    present, count = np.zeros(sys.maxunicode + 1, dtype=bool), 0   # by code point
    for piece in _read_text(path, max_chars):
        present[_code_points(piece)] = True
        count += len(piece)
    seen = set(map(chr, np.flatnonzero(present)))
    if vocab is None:
        vocab = CharVocab(seen)
    elif not seen <= set(vocab.chars):
        raise vocab._unknown(seen - set(vocab.chars), what or f"data file {path!r}")
    ids, filled = np.empty(count, dtype=vocab.id_dtype), 0
    try:
        for piece in _read_text(path, max_chars):
            ids[filled:filled + len(piece)] = vocab.encode(piece, dtype=ids.dtype)
            filled += len(piece)
    except (DataError, ValueError):
        filled = -1
    if filled != count:
        raise DataError(f"data file {os.fspath(path)!r} changed while it was being read")
    return ids, vocab


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


# ---------------------------------------------------------------------------
# Synthetic tasks
# ---------------------------------------------------------------------------
def _check_rng(rng, fn: str) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise DataError(f"{fn}: rng must be a numpy.random.Generator "
                        f"(np.random.default_rng(seed)), got {type(rng).__name__}")
    return rng


def adding_problem(n: int, T: int, rng: np.random.Generator, one_per_half: bool = True
                   ) -> tuple[np.ndarray, np.ndarray]:
    """The adding problem (Hochreiter & Schmidhuber 1997; Ostmeyer & Cowell 2017).

    Each step carries two features: a value drawn from U(0, 1) and a marker,
    1 at exactly two steps and 0 elsewhere. The target is the sum of the two
    marked values. Predicting the mean, 1, gives the chance-level mean squared
    error Var(u1 + u2) = 2/12 = 0.167.

    Parameters
    ----------
    n : int
        Number of sequences.
    T : int
        Sequence length (>= 2).
    rng : numpy.random.Generator
    one_per_half : bool
        True (default): one marker in each half of the sequence, as in
        Hochreiter & Schmidhuber, so the first marked value must be held for
        at least ~T/2 steps. False: two distinct steps anywhere, as in the
        RWA repository's generator.

    Returns
    -------
    x : (T, n, 2) float32, features (value, marker), time-major
    y : (n,) float32, the sum of the marked values
    """
    _check_rng(rng, "adding_problem")
    if n < 1 or T < 2:
        raise DataError(f"adding_problem: need n >= 1 and T >= 2, got n={n}, T={T}")
    values = rng.random((T, n))
    if one_per_half:
        half = T // 2
        first = rng.integers(0, half, size=n)
        second = rng.integers(half, T, size=n)
    else:   # two distinct positions: the second skips over the first
        first = rng.integers(0, T, size=n)
        second = rng.integers(0, T - 1, size=n)
        second = second + (second >= first)
    markers = np.zeros((T, n))
    cols = np.arange(n)
    markers[first, cols] = 1.0
    markers[second, cols] = 1.0
    x = np.stack([values, markers], axis=-1).astype(np.float32)
    y = (values[first, cols] + values[second, cols]).astype(np.float32)
    return x, y


IGNORE_INDEX = -100
"""Target value meaning "no output required here" (as in ``torch.nn.CrossEntropyLoss``)."""


def copy_problem(n: int, T: int, S: int = 10, num_symbols: int = 8,
                 rng: np.random.Generator | None = None, random_delay: bool = False,
                 blank_targets: bool = False) -> tuple[np.ndarray, np.ndarray, int]:
    """The copy problem of Ostmeyer & Cowell (2017): remember S symbols, repeat them on cue.

    Symbols, following the RWA repository's ``N_symbols`` (which counts the
    blank): data symbols ``0 .. num_symbols-2`` (7 by default), the blank
    ``num_symbols-1`` and the "go" cue ``num_symbols``, so the input
    vocabulary has ``num_symbols + 1`` ids. The sequence has ``L = 2S + T``
    steps. With the default fixed delay (go cue at step S + T - 1)::

        step    0 .. S-1   S .. S+T-2    S+T-1   S+T .. 2S+T-1
        input   s1 .. sS   blank ...     go      blank ...
        target  ignore ... ignore ...    ignore  s1 .. sS

    so the S symbols must be produced in the last S steps, T steps after the
    last was seen. ``random_delay=True`` puts the go cue at a uniformly random
    step in ``[S, S+T-1]`` instead, the outputs following it immediately, as
    the RWA repository does (then the outputs need not be at the end).

    Targets are ``IGNORE_INDEX`` (-100) wherever no output is required, for a
    masked cross-entropy. ``blank_targets=True`` asks for the blank there
    instead, as the RWA repository's loss does: with that loss, guessing
    blanks and uniform symbols gives the chance level ``S ln(num_symbols-1) / L``
    per step (0.162 for S = 10, T = 100).

    Parameters
    ----------
    n : int
        Number of sequences.
    T : int
        Delay (>= 1): steps from the end of the symbols to the end of the go cue.
    S : int
        Number of symbols to copy.
    num_symbols : int
        Data symbols plus the blank (>= 3).
    rng : numpy.random.Generator
    random_delay, blank_targets : bool
        See above.

    Returns
    -------
    x : (L, n) int64 inputs, time-major
    y : (L, n) int64 targets
    vocab_size : int, ``num_symbols + 1``
    """
    _check_rng(rng, "copy_problem")
    if n < 1 or T < 1 or S < 1 or num_symbols < 3:
        raise DataError(f"copy_problem: need n >= 1, T >= 1, S >= 1 and num_symbols >= 3, "
                        f"got n={n}, T={T}, S={S}, num_symbols={num_symbols}")
    blank, go, L = num_symbols - 1, num_symbols, 2 * S + T
    symbols = rng.integers(0, num_symbols - 1, size=(S, n))
    if random_delay:
        go_step = rng.integers(S, S + T, size=n)
    else:
        go_step = np.full(n, S + T - 1)
    x = np.full((L, n), blank, dtype=np.int64)
    y = np.full((L, n), blank if blank_targets else IGNORE_INDEX, dtype=np.int64)
    cols = np.arange(n)
    x[:S] = symbols
    x[go_step, cols] = go
    out_steps = go_step[None, :] + 1 + np.arange(S)[:, None]     # (S, n)
    y[out_steps, cols[None, :]] = symbols
    return x, y, num_symbols + 1


RETRIEVAL_CHARS = "0123456789?abcdefghijklmnopqrstuvwxyz"
"""The 37 symbols of associative retrieval, sorted: digit d has id d."""


def retrieval_vocab() -> CharVocab:
    """The vocabulary of :func:`associative_retrieval` (37 characters, digit d = id d)."""
    return CharVocab(RETRIEVAL_CHARS)


def associative_retrieval(n: int, K: int = 4, rng: np.random.Generator | None = None,
                          unique_values: bool = False
                          ) -> tuple[np.ndarray, np.ndarray, CharVocab]:
    """The associative retrieval task of Ba et al. (2016), "Using Fast Weights ...".

    A sequence lists K pairs (key letter, value digit), keys drawn without
    replacement from a-z, then ``??`` and one of the keys; the answer is that
    key's digit::

        c9k8j3f1??c  ->  9          (K = 4, L = 2K + 3 = 11 steps)

    Parameters
    ----------
    n : int
        Number of sequences.
    K : int
        Number of pairs (1 <= K <= 26).
    rng : numpy.random.Generator
    unique_values : bool
        False (default): each digit drawn independently (values may repeat).
        True: digits drawn without replacement (K <= 10), as one public
        reimplementation does.

    Returns
    -------
    x : (2K + 3, n) int64 ids in :func:`retrieval_vocab`, time-major
    y : (n,) int64, the answer's id, which is also its digit (0-9)
    vocab : CharVocab of 37 symbols (``"0123456789?abc...z"``)
    """
    _check_rng(rng, "associative_retrieval")
    max_k = 10 if unique_values else 26
    if n < 1 or not 1 <= K <= max_k:
        raise DataError(f"associative_retrieval: need n >= 1 and 1 <= K <= {max_k}, "
                        f"got n={n}, K={K}")
    vocab = retrieval_vocab()
    letter0, question = vocab.index("a"), vocab.index("?")
    # K distinct keys per example: the first K of a random permutation of 26
    keys = np.argsort(rng.random((n, 26)), axis=1)[:, :K]
    if unique_values:
        values = np.argsort(rng.random((n, 10)), axis=1)[:, :K]
    else:
        values = rng.integers(0, 10, size=(n, K))
    query = rng.integers(0, K, size=n)
    rows = np.arange(n)
    x = np.empty((n, 2 * K + 3), dtype=np.int64)
    x[:, 0:2 * K:2] = letter0 + keys
    x[:, 1:2 * K:2] = values            # digit d has id d
    x[:, 2 * K:2 * K + 2] = question
    x[:, 2 * K + 2] = letter0 + keys[rows, query]
    y = values[rows, query].astype(np.int64)
    return np.ascontiguousarray(x.T), y, vocab


def render_retrieval(x: np.ndarray, y: np.ndarray | None = None, i: int = 0,
                     vocab: CharVocab | None = None) -> str:
    """Example ``i`` of :func:`associative_retrieval` as text: ``'c9k8j3f1??c -> 9'``.

    Parameters
    ----------
    x : (L, n) int array;  y : (n,) int array or None (then no ``-> answer``)
    """
    vocab = vocab or retrieval_vocab()
    text = vocab.decode(np.asarray(x)[:, i])
    return text if y is None else f"{text} -> {vocab.decode([int(np.asarray(y)[i])])}"
