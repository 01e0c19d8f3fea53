"""safetensors files, checked before a byte of tensor data is read.

A safetensors file (Hugging Face's format; no pickle, no code) is::

    8 bytes   N, the header's length, an unsigned little-endian integer
    N bytes   UTF-8 JSON:  {"__metadata__": {"key": "value", ...},
                            "NAME": {"dtype": "F32", "shape": [d0, d1, ...],
                                     "data_offsets": [begin, end]}, ...}
    the rest  the tensors' bytes, row-major, little-endian; tensor NAME is the
              bytes [begin, end) of this data part

A file from a stranger may declare anything. :func:`read_header` reads only
the 8 + N header bytes (N is bounded first) and checks, with Python integers
(no overflow), that every entry's dtype is one we read, that its shape and
offsets agree (``end - begin == prod(shape) * itemsize``), that every tensor
lies inside the file, and that the tensors tile the data part exactly, with
no overlap and no gap. Only then may the caller compare names and shapes
with what it expects and :func:`read_tensors`: whatever is allocated is at
most the size of the file. The file is opened once, after checking it is a
regular file (never a named pipe or a device), and tensors holding NaN or
infinite values are refused by name. Every problem is one line, naming the file.

Writing uses the ``safetensors`` package's NumPy API (the optional
``bridge`` extra) and is atomic, like tinyrnn's checkpoints.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass

import numpy as np

from ...utils.checkpoint import atomic_open
from ...utils.files import open_regular

__all__ = ["BridgeError", "Entry", "DTYPES", "MAX_HEADER_BYTES", "read_header",
           "read_tensors", "open_safetensors", "write", "require_safetensors"]

DTYPES = {"F32": np.dtype("<f4"), "F64": np.dtype("<f8")}   # what a char model holds
MAX_HEADER_BYTES = 100 * 2**20         # the safetensors package's own limit
INSTALL_HINT = 'pip install "tinyrnn[bridge]" (or pip install ".[bridge]" in a clone)'


class BridgeError(ValueError):
    """A file or model that cannot cross the bridge (one line, naming the file)."""


@dataclass(frozen=True)
class Entry:
    """One tensor of a file's header: its dtype, shape and byte range in the data part."""

    dtype: np.dtype
    shape: tuple[int, ...]
    begin: int
    end: int
    base: int = 0        # where the data part starts in the file: 8 + the header's length


def require_safetensors():
    """The ``safetensors.numpy`` module, or a BridgeError saying how to install it."""
    try:
        import safetensors.numpy
    except ImportError:
        raise BridgeError(f"this needs the safetensors package: {INSTALL_HINT}") from None
    return safetensors.numpy


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _entry(name: str, info, where: str, data_bytes: int, base: int) -> Entry:
    """Check one header entry on its own (dtype, shape, offsets inside the data)."""
    if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
        raise BridgeError(f"{where}: tensor {name!r} must be described by exactly "
                          f"dtype, shape and data_offsets, got {str(info)[:80]}")
    dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    if not isinstance(dtype, str) or dtype not in DTYPES:
        raise BridgeError(f"{where}: tensor {name!r} has dtype {str(dtype)[:20]!r}; "
                          f"expected one of {', '.join(DTYPES)} (float32, float64)")
    if not isinstance(shape, list) or not all(map(_is_count, shape)):
        raise BridgeError(f"{where}: tensor {name!r} has shape {str(shape)[:80]}; "
                          "expected a list of non-negative integers")
    if not (isinstance(offsets, list) and len(offsets) == 2
            and all(map(_is_count, offsets)) and offsets[0] <= offsets[1]):
        raise BridgeError(f"{where}: tensor {name!r} has data_offsets "
                          f"{str(offsets)[:80]}; expected [begin, end] with "
                          "0 <= begin <= end")
    begin, end = offsets
    needed = math.prod(shape) * DTYPES[dtype].itemsize       # Python ints: exact
    if end - begin != needed:
        raise BridgeError(f"{where}: tensor {name!r} of shape {shape} and dtype {dtype} "
                          f"needs {needed:,} bytes, but its data_offsets [{begin}, {end}] "
                          f"span {end - begin:,}")
    if end > data_bytes:
        raise BridgeError(f"{where} is truncated: tensor {name!r} ends at byte {end:,} "
                          f"of the data, which has only {data_bytes:,} bytes")
    return Entry(DTYPES[dtype], tuple(shape), begin, end, base)


def _check_tiling(entries: dict[str, Entry], where: str, data_bytes: int) -> None:
    """The tensors must cover the data part exactly: no overlap, no gap, nothing after."""
    position, previous = 0, None
    for name, e in sorted(entries.items(), key=lambda item: (item[1].begin, item[1].end)):
        if e.begin < position:
            raise BridgeError(f"{where}: tensors {previous!r} and {name!r} overlap "
                              f"(bytes {e.begin:,} to {position:,} of the data)")
        if e.begin > position:
            raise BridgeError(f"{where}: bytes {position:,} to {e.begin:,} of the data "
                              "belong to no tensor")
        position, previous = e.end, name
    if position != data_bytes:
        raise BridgeError(f"{where}: {data_bytes - position:,} bytes after the last "
                          "tensor belong to no tensor")


def open_safetensors(path: str | os.PathLike):
    """The file, opened once for its header and its tensors: a regular file, or
    a BridgeError naming it (a named pipe, ``/dev/zero``, a symlink loop too)."""
    return open_regular(path, "safetensors file", BridgeError)


def _read_json(f, name: str) -> tuple[dict, int, int]:
    """The header's JSON object, the size in bytes of the data part after it,
    and where that part starts."""
    where = f"safetensors file {name!r}"
    try:
        size = os.fstat(f.fileno()).st_size
        f.seek(0)
        prefix = f.read(8)
        if len(prefix) < 8:
            raise BridgeError(f"{where} is too short ({size} bytes) to be a "
                              "safetensors file (it starts with an 8-byte header length)")
        length = int.from_bytes(prefix, "little")
        if length > min(MAX_HEADER_BYTES, size - 8):
            raise BridgeError(f"{where} is not a safetensors file or is truncated: its "
                              f"header length {length:,} exceeds the "
                              f"{min(MAX_HEADER_BYTES, size - 8):,} bytes available")
        raw = f.read(length)
    except OSError as e:
        raise BridgeError(f"{where} cannot be read ({e.strerror or e})") from None
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        reason = str(e).splitlines()[0][:100] if str(e) else type(e).__name__
        raise BridgeError(f"{where}: its header is not UTF-8 JSON ({reason})") from None
    if not isinstance(header, dict):
        raise BridgeError(f"{where}: its header is a JSON {type(header).__name__}, "
                          "expected an object")
    return header, size - 8 - length, 8 + length


def read_header(path: str | os.PathLike, file=None
                ) -> tuple[dict[str, str], dict[str, Entry]]:
    """The metadata and the checked tensor entries of a safetensors file.

    Reads the header only (at most ``MAX_HEADER_BYTES``), never tensor data,
    from ``file`` (the file already open by :func:`open_safetensors`) or else
    from ``path``, opened here.

    Returns
    -------
    metadata : dict[str, str]
        The ``__metadata__`` object (empty when the file has none).
    entries : dict[str, Entry]
        name -> dtype, shape and byte range, each checked against the file.

    Raises
    ------
    BridgeError
        One line naming the file and what is wrong with it.
    """
    name = os.fspath(path)
    if file is None:
        with open_safetensors(name) as f:
            return read_header(name, f)
    header, data_bytes, base = _read_json(file, name)
    where = f"safetensors file {name!r}"
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise BridgeError(f"{where}: __metadata__ must map strings to strings, got "
                          f"{str(metadata)[:80]}")
    entries = {key: _entry(key, info, where, data_bytes, base)
               for key, info in header.items()}
    _check_tiling(entries, where, data_bytes)
    return metadata, entries


def read_tensors(path: str | os.PathLike, entries: dict[str, Entry], file=None
                 ) -> dict[str, np.ndarray]:
    """The tensors of a file whose header :func:`read_header` has checked.

    Each is read from its checked byte range of ``file`` (or of ``path``,
    opened here), so at most the file's size is allocated; a tensor that is
    not finite (NaN or infinite) is refused by name: no model holds one.
    """
    name = os.fspath(path)
    if file is None:
        with open_safetensors(name) as f:
            return read_tensors(name, entries, f)
    tensors = {}
    for key, e in entries.items():
        try:
            file.seek(e.base + e.begin)
            raw = file.read(e.end - e.begin)
        except OSError as error:
            raise BridgeError(f"safetensors file {name!r} cannot be read "
                              f"({error.strerror or error})") from None
        if len(raw) != e.end - e.begin:
            raise BridgeError(f"safetensors file {name!r} changed while it was being read")
        array = np.frombuffer(bytearray(raw), dtype=e.dtype).reshape(e.shape)
        if not np.isfinite(array).all():
            raise BridgeError(f"safetensors file {name!r}: tensor {key!r} holds NaN or "
                              "infinite values; expected finite weights")
        tensors[key] = array
    return tensors


def write(path: str | os.PathLike, tensors: dict[str, np.ndarray],
          metadata: dict[str, str]) -> None:
    """Write ``tensors`` and string ``metadata`` as a safetensors file, atomically."""
    st = require_safetensors()
    payload = st.save({k: np.ascontiguousarray(v) for k, v in tensors.items()}, metadata)
    with atomic_open(path, "wb") as f:
        f.write(payload)
