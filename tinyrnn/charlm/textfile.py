"""Text files, read as UTF-8 a piece at a time, and the default corpus (the Python
standard library's own source)."""
from __future__ import annotations

import codecs
import os
import sys
import sysconfig
from typing import Iterator

import numpy as np

from ..utils.files import open_regular
from .errors import DataError
from .vocab import CharVocab, code_points

READ_CHUNK = 1 << 20         # bytes read (and checked) at a time from a text file


# ---------------------------------------------------------------------------
# Text files and the default corpus
# ---------------------------------------------------------------------------
def open_text(path: str | os.PathLike):
    """Open a text file the user named: a regular file, opened once, or a
    DataError naming it (a named pipe, a device or a symlink loop too)."""
    return open_regular(path, "data file", DataError)


def _read_text(path: str | os.PathLike, max_chars: int | None = None,
               chunk_bytes: int = READ_CHUNK, file=None) -> Iterator[str]:
    """Decode a UTF-8 file piece by piece from its start, checking each piece
    as it is read; ``file`` is the file already open (:func:`open_text`), else
    ``path`` is opened.

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
    if file is None:
        with open_text(name) as f:
            yield from _read_text(name, max_chars, chunk_bytes, f)
        return
    f = file
    decoder = codecs.getincrementaldecoder("utf-8")()
    chars, offset = 0, 0             # characters yielded; file offset of the next read
    try:
        f.seek(0)
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


def text_pieces(path: str | os.PathLike, max_chars: int | None = None,
                chunk_bytes: int = READ_CHUNK) -> Iterator[str]:
    """The text of a UTF-8 file in pieces of about ``chunk_bytes`` bytes, checked
    as :func:`load_text` checks it: constant memory whatever the file's size."""
    return _read_text(path, max_chars, chunk_bytes)


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
    with open_text(path) as f:
        return "".join(_read_text(path, max_chars, file=f))


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
    name = os.fspath(path)
    with open_text(name) as f:               # opened once; the second pass seeks back
        present, count = np.zeros(sys.maxunicode + 1, dtype=bool), 0   # by code point
        for piece in _read_text(name, max_chars, file=f):
            present[code_points(piece)] = True
            count += len(piece)
        seen = set(map(chr, np.flatnonzero(present)))
        if vocab is None:
            vocab = CharVocab(seen)
        elif not seen <= set(vocab.chars):
            raise vocab._unknown(seen - set(vocab.chars), what or f"data file {path!r}")
        ids, filled = np.empty(count, dtype=vocab.id_dtype), 0
        try:
            for piece in _read_text(name, max_chars, file=f):
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
