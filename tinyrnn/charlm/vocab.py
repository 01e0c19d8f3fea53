"""Characters and their ids: :class:`CharVocab`."""
from __future__ import annotations

import json
from typing import Iterable

import numpy as np


from .errors import DataError, UnknownCharacters

ENCODE_CHUNK = 1 << 18       # characters encoded at a time (~13 bytes each, transient)


# ---------------------------------------------------------------------------
# Character vocabulary
# ---------------------------------------------------------------------------
def code_points(text: str) -> np.ndarray:
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
        surrogates = [c for c in unique if "\ud800" <= c <= "\udfff"]
        if surrogates:
            raise DataError(f"CharVocab: {surrogates[0]!r} is a lone UTF-16 surrogate, "
                            "not a character (no UTF-8 text holds one)")
        self._chars = "".join(unique)
        self._codes = code_points(self._chars)     # sorted code points
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
            found = self._table[np.minimum(code_points(piece), beyond)]
            unknown = found == len(self)
            if unknown.any():
                missing.update(piece[i] for i in np.flatnonzero(unknown))
            ids[start:start + len(piece)] = found
        if missing:
            raise self._unknown(missing, what)
        return ids

    def _unknown(self, missing: set, what: str) -> UnknownCharacters:
        return UnknownCharacters(f"{what} has characters not in the vocabulary: "
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
