"""Reading a ``.npz`` archive someone else made, checking before allocating.

The zip directory, the JSON metadata member and every ``.npy`` header (NumPy
reads one without its data) are checked -- names, dtypes, shapes, declared
against actual sizes, caps -- before a byte of array data is read; arrays
the caller does not ask for (``only``) are skipped unread. The file is
opened once, after checking it is a regular file. Used by
:func:`tinyrnn.checkpoint.load`, which sets the order; split from it to keep
each file one idea.
"""
from __future__ import annotations

import fnmatch
import os
import json
import math
import struct
import zipfile
import zlib
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

from .files import open_regular

FORMAT = "tinyrnn-checkpoint"
VERSION = 1
META_KEY = "__meta__"


class CheckpointError(ValueError):
    """A checkpoint that cannot be written or read (one line, naming the file)."""


# ---------------------------------------------------------------------------
# Reading: every member's size, header and name is checked before any data
# ---------------------------------------------------------------------------
MAX_BYTES = 8 * 2**30        # default cap on the arrays' total size (load's max_bytes)
MAX_META_BYTES = 16 * 2**20  # the JSON metadata member
MAX_MEMBERS = 10_000         # arrays in one checkpoint
MAX_HEADER_BYTES = 10_000    # one .npy header (NumPy's own default limit)
DEFLATE_MAX_RATIO = 1032     # deflate never expands its input more than this

_ARRAY_KINDS = {"b": "bool", "i": "signed integer", "u": "unsigned integer",
                "f": "float", "c": "complex"}
_COMPRESSIONS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)     # what np.savez writes
# What a damaged archive or member makes zipfile, zlib and numpy.lib.format raise.
_DAMAGE = (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, SyntaxError,
           NotImplementedError, RuntimeError, struct.error, OverflowError)


@dataclass(frozen=True)
class ArrayHeader:
    """What a member's ``.npy`` header declares, read without reading its data."""

    dtype: np.dtype
    shape: tuple[int, ...]
    fortran_order: bool

    @property
    def nbytes(self) -> int:
        """Bytes of data the header promises: prod(shape) * itemsize (no overflow)."""
        return math.prod(self.shape) * self.dtype.itemsize

    def __str__(self) -> str:
        return f"shape {self.shape} {self.dtype} ({self.nbytes:,} bytes)"


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def _check_file(f: BinaryIO, name: str) -> int:
    """The size of the open file ``f`` (``name``), once it is known to look like a zip."""
    try:
        magic = f.read(4)
        size = f.seek(0, os.SEEK_END)
        f.seek(0)
    except OSError as e:
        raise CheckpointError(f"checkpoint {name!r} cannot be read ({_one_line(e)})") from None
    if not magic:
        raise CheckpointError(f"checkpoint {name!r} is empty")
    if magic != b"PK\x03\x04":       # every zip archive, hence every .npz, starts so
        raise CheckpointError(f"checkpoint {name!r} is not a tinyrnn checkpoint "
                              "(not an .npz/zip file)")
    return size


def _members(archive: zipfile.ZipFile, name: str, size: int, max_bytes: int, only=None
             ) -> dict[str, zipfile.ZipInfo]:
    """Array name -> zip entry, after checking names, compression and sizes.

    Every declared size is backed by bytes of the file: a stored member's data
    lies inside the file, and a deflated one cannot claim more than
    ``DEFLATE_MAX_RATIO`` times its compressed size.
    """
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        raise CheckpointError(f"checkpoint {name!r} has {len(infos):,} members, more than "
                              f"the {MAX_MEMBERS:,} a checkpoint may hold")
    members, total = {}, 0
    for info in infos:
        member = info.filename
        where = f"checkpoint {name!r}: member {member!r}"
        if not member.endswith(".npy") or member == ".npy" or not member.isprintable():
            raise CheckpointError(f"checkpoint {name!r} has an unexpected entry {member!r} "
                                  "(not an .npy array with a printable name)")
        key = member[:-len(".npy")]
        if key in members:
            raise CheckpointError(f"{where} appears twice")
        if info.flag_bits & 0x1:
            raise CheckpointError(f"{where} is encrypted; checkpoints are not")
        if info.compress_type not in _COMPRESSIONS:
            raise CheckpointError(f"{where} uses zip compression method "
                                  f"{info.compress_type}; expected stored (0) or deflated (8)")
        if info.header_offset < 0 or info.header_offset + info.compress_size > size:
            raise CheckpointError(f"{where} claims {info.compress_size:,} bytes beyond the "
                                  f"end of the {size:,}-byte file: truncated or corrupted")
        if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
            raise CheckpointError(f"{where} is stored uncompressed, yet its sizes differ "
                                  f"({info.compress_size:,} vs {info.file_size:,} bytes): "
                                  "corrupted")
        if info.file_size > DEFLATE_MAX_RATIO * info.compress_size + 1024:
            raise CheckpointError(f"{where} claims {info.file_size:,} bytes from "
                                  f"{info.compress_size:,} compressed bytes, more than "
                                  "deflate can produce: corrupted or crafted")
        members[key] = info
        if key == META_KEY or _is_wanted(key, only):
            total += info.file_size
    if total > max_bytes:
        raise CheckpointError(f"checkpoint {name!r}: its members take {total:,} bytes "
                              f"unpacked, more than the limit of {max_bytes:,} "
                              "(load's max_bytes)")
    return members


def _read_header(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str,
                 kinds: str = "".join(_ARRAY_KINDS)) -> ArrayHeader:
    """Read and check one member's ``.npy`` header; its data stays unread.

    Checks: a known format version, a header under ``MAX_HEADER_BYTES``, a
    dtype of an allowed kind (never object, structured or void), and that the
    data the header promises is exactly what the member holds.
    """
    key = info.filename[:-len(".npy")]
    where = f"checkpoint {name!r}: member {key!r}"
    try:
        with archive.open(info) as fp:
            version = np.lib.format.read_magic(fp)
            if version not in ((1, 0), (2, 0)):
                raise CheckpointError(f"{where} is .npy format version {version}; "
                                      "expected 1.0 or 2.0")
            read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                    else np.lib.format.read_array_header_2_0)
            shape, fortran_order, dtype = read(fp, max_header_size=MAX_HEADER_BYTES)
            data_size = info.file_size - fp.tell()
    except CheckpointError:
        raise
    except (*_DAMAGE, TypeError) as e:
        raise CheckpointError(f"{where} has an unreadable .npy header "
                              f"({_one_line(e)})") from None
    if dtype.hasobject:
        raise CheckpointError(f"{where} holds a pickled Python object; tinyrnn never "
                              "loads pickles (they can run arbitrary code)")
    if dtype.kind not in kinds or dtype.fields is not None or dtype.subdtype is not None:
        allowed = ", ".join(_ARRAY_KINDS.get(k, "unicode text") for k in kinds)
        raise CheckpointError(f"{where} has dtype {dtype.str!r}; expected {allowed}")
    header = ArrayHeader(dtype, shape, fortran_order)
    if header.nbytes != data_size:
        raise CheckpointError(f"{where} declares {header} but holds {data_size:,} bytes "
                              "of data: corrupted or crafted")
    return header


def _read_data(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str,
               header: ArrayHeader) -> np.ndarray:
    """Read a member whose header has been checked (pickle disabled, CRC checked)."""
    key = info.filename[:-len(".npy")]
    try:
        with archive.open(info) as fp:
            array = np.lib.format.read_array(fp, allow_pickle=False,
                                             max_header_size=MAX_HEADER_BYTES)
            if fp.read(1):
                raise ValueError("data after the array")
    except _DAMAGE as e:
        raise CheckpointError(f"checkpoint {name!r}: member {key!r} is truncated or "
                              f"corrupted ({_one_line(e)})") from None
    if array.dtype != header.dtype or array.shape != header.shape:   # cannot happen
        raise CheckpointError(f"checkpoint {name!r}: member {key!r} changed while read")
    return array


def _parse_meta(raw: np.ndarray, name: str) -> dict:
    """Check the ``__meta__`` array and return the user's meta dict."""
    if raw.shape != ():
        raise CheckpointError(f"checkpoint {name!r}: {META_KEY!r} must be a 0-d unicode "
                              f"array of JSON, got shape {raw.shape} dtype {raw.dtype}")
    try:
        header = json.loads(str(raw))
    except (json.JSONDecodeError, RecursionError) as e:
        raise CheckpointError(f"checkpoint {name!r}: {META_KEY!r} is not valid JSON "
                              f"({_one_line(e)})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint {name!r}: {META_KEY!r} does not say "
                              f"format {FORMAT!r}: not a tinyrnn checkpoint")
    version = header.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version != VERSION:
        raise CheckpointError(f"checkpoint {name!r} has format version {version!r}; this "
                              f"tinyrnn reads version {VERSION} (upgrade tinyrnn for "
                              "newer files)")
    meta = header.get("meta")
    if not isinstance(meta, dict):
        raise CheckpointError(f"checkpoint {name!r}: its meta is a "
                              f"{type(meta).__name__}, expected a JSON object")
    return meta


def _read_meta(archive: zipfile.ZipFile, members: dict, name: str) -> dict:
    """Read the small, size-capped ``__meta__`` member first (and remove it)."""
    info = members.pop(META_KEY, None)
    if info is None:
        raise CheckpointError(f"checkpoint {name!r} has no {META_KEY!r} entry: it is an "
                              "npz file but not a tinyrnn checkpoint")
    if info.file_size > MAX_META_BYTES:
        raise CheckpointError(f"checkpoint {name!r}: {META_KEY!r} is {info.file_size:,} "
                              f"bytes, more than the {MAX_META_BYTES:,} metadata may take")
    header = _read_header(archive, info, name, kinds="U")
    return _parse_meta(_read_data(archive, info, name, header), name)


def _matches(header: ArrayHeader, dtype, shape) -> bool:
    """Does ``header`` fit a spec: dtype None = any; shape None = any, None entries = any size."""
    if dtype is not None and header.dtype != np.dtype(dtype):
        return False
    if shape is None:
        return True
    return len(shape) == len(header.shape) and all(
        want is None or want == got for want, got in zip(shape, header.shape))


def _check_expected(headers: dict[str, ArrayHeader], expected: dict, name: str) -> None:
    """Names, dtypes and shapes against a spec ``{name or glob: (dtype, shape)}``.

    Plain names are required; glob patterns (``"history/*"``) are optional. A
    stored array that no name or pattern covers is refused.
    """
    def is_pattern(key: str) -> bool:
        return any(c in key for c in "*?[")

    missing = [k for k in expected if not is_pattern(k) and k not in headers]
    if missing:
        shown = ", ".join(repr(k) for k in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise CheckpointError(f"checkpoint {name!r} is inconsistent: it lacks "
                              f"{shown}{more}, which its config requires")
    for key, header in headers.items():
        spec = expected.get(key) or next(
            (v for k, v in expected.items() if is_pattern(k) and fnmatch.fnmatchcase(key, k)),
            None)
        if spec is None:
            raise CheckpointError(f"checkpoint {name!r} is inconsistent: member {key!r} "
                                  "is not part of what its config describes")
        dtype, shape = spec
        if not _matches(header, dtype, shape):
            want = (f"shape {'(any)' if shape is None else tuple(shape)} "
                    f"{'(any dtype)' if dtype is None else np.dtype(dtype)}")
            raise CheckpointError(f"checkpoint {name!r} is inconsistent: member {key!r} "
                                  f"has shape {header.shape} {header.dtype}, its config "
                                  f"implies {want}")


def _expected_spec(expected, meta: dict, headers: dict, name: str) -> dict:
    """Resolve ``expected`` (a dict, or a function of the meta and headers)."""
    if not callable(expected):
        return expected
    try:
        return expected(meta, headers)
    except CheckpointError:
        raise
    except (ValueError, TypeError, KeyError) as e:
        raise CheckpointError(f"checkpoint {name!r} is inconsistent: {e}") from None


def _is_wanted(key: str, only) -> bool:
    """Does array ``key`` match a glob of ``only`` (every array does when None)?
    The others are never read, not even their headers."""
    return only is None or any(fnmatch.fnmatchcase(key, pattern) for pattern in only)


def read_npz(name: str, expected, max_bytes: int, only=None
             ) -> tuple[dict[str, np.ndarray], dict]:
    """The checks and the read behind :func:`tinyrnn.checkpoint.load`, in its order."""
    if os.path.isdir(name):
        raise CheckpointError(f"checkpoint {name!r} is a directory, expected an .npz file")
    with open_regular(name, "checkpoint", CheckpointError) as f:     # opened once
        size = _check_file(f, name)
        try:
            with zipfile.ZipFile(f) as archive:
                members = _members(archive, name, size, max_bytes, only)
                meta = _read_meta(archive, members, name)
                members = {k: i for k, i in members.items() if _is_wanted(k, only)}
                headers = {key: _read_header(archive, info, name)
                           for key, info in members.items()}
                if expected is not None:
                    spec = _expected_spec(expected, meta, headers, name)
                    _check_expected(headers, spec, name)
                arrays = {key: _read_data(archive, info, name, headers[key])
                          for key, info in members.items()}
        except CheckpointError:
            raise
        except _DAMAGE as e:
            raise CheckpointError(f"checkpoint {name!r} is truncated or corrupted "
                                  f"({_one_line(e)})") from None
    return arrays, meta
