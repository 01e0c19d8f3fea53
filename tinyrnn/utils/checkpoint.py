"""Checkpoints: NumPy arrays plus JSON metadata in one ``.npz`` file, written atomically.

A checkpoint is an ordinary ``.npz`` (a zip archive of ``.npy`` files, one per
array), readable by ``numpy.load`` anywhere, with one reserved entry,
``"__meta__"``: a 0-d unicode array holding JSON::

    {"format": "tinyrnn-checkpoint", "version": 1, "meta": {...your meta...}}

Three properties protect the user's work and machine:

* **No pickle.** Files are written and read with ``allow_pickle=False``; an
  entry that holds a pickled Python object is refused on load (unpickling
  runs arbitrary code). Configuration, vocabulary and step counters travel as
  JSON in the meta, not as objects.
* **Atomic writes.** :func:`save` writes to a temporary file in the same
  directory, flushes it, ``fsync``s it to disk and then renames it over the
  target with ``os.replace`` (atomic on one file system). A crash or Ctrl-C in
  the middle leaves the previous checkpoint untouched and no temporary file.
* **Check before allocating.** Checkpoints come from strangers. :func:`load`
  reads the zip directory, the metadata and every array's ``.npy`` header
  (NumPy reads a header without its data) and checks names, dtypes, shapes
  and sizes -- against the bytes really in the file, a total cap, and what
  the caller's ``expected`` computes from the stored config -- before it
  reads a byte of data. A header declaring a 3.6 TiB array in a 1 kB file is
  refused in one line, in milliseconds, without allocating it.

Arrays must be NumPy arrays on the host: convert device arrays first with
``backend.to_numpy`` and upload after loading with ``backend.asarray``::

    save("ckpt/latest.npz", {"W": np.eye(2, dtype=np.float32)}, {"step": 10})
    arrays, meta = load("ckpt/latest.npz")      # ({"W": array(...)}, {"step": 10})
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
import zipfile
from typing import Iterator

import numpy as np

__all__ = ["CheckpointError", "ArrayHeader", "save", "load", "atomic_open", "META_KEY",
           "FORMAT", "VERSION", "MAX_BYTES"]

from .archive import (FORMAT, MAX_BYTES, META_KEY, VERSION, ArrayHeader, CheckpointError,
                      read_npz)

def _umask() -> int:
    """The process's umask, read where the system shows it (Linux) and
    otherwise set and put back at once (POSIX has no way to only read it)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------
def _fsync_directory(directory: str) -> None:
    """Make a rename in ``directory`` durable (POSIX; skipped where unsupported)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb", **kwargs) -> Iterator:
    """Open a file for writing that appears at ``path`` only when complete.

    Writes go to a temporary file in the same directory (created if needed);
    when the ``with`` block ends without an exception the file is flushed,
    ``fsync``-ed and renamed over ``path``. On any exception, including
    KeyboardInterrupt, the temporary file is removed and ``path`` is left
    as it was. Useful for logs and figures as well as checkpoints::

        with atomic_open("log.json", "w", encoding="utf-8") as f:
            json.dump(history, f)
    """
    path = os.path.abspath(os.fspath(path))
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".",
                               suffix=".tmp")
    try:
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())   # mkstemp made it 0600
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def _check_arrays(arrays: dict, name: str) -> dict[str, np.ndarray]:
    """Validate the arrays to save; return them as NumPy arrays."""
    if not isinstance(arrays, dict):
        raise CheckpointError(f"save {name!r}: arrays must be a dict of name -> array, "
                              f"got {type(arrays).__name__}")
    checked = {}
    for key, value in arrays.items():
        if not isinstance(key, str) or not key:
            raise CheckpointError(f"save {name!r}: array names must be non-empty "
                                  f"strings, got {key!r}")
        if key == META_KEY:
            raise CheckpointError(f"save {name!r}: the name {META_KEY!r} is reserved "
                                  "for the metadata")
        try:
            array = np.asarray(value)
        except (TypeError, ValueError) as e:
            raise CheckpointError(f"save {name!r}: entry {key!r} is not a NumPy array "
                                  f"({type(value).__name__}: {e}); convert device "
                                  "arrays with backend.to_numpy first") from None
        if array.dtype.hasobject:
            raise CheckpointError(f"save {name!r}: entry {key!r} has dtype object; "
                                  "checkpoints hold numeric arrays only (put other "
                                  "values in meta, as JSON)")
        checked[key] = array
    return checked


def save(path: str | os.PathLike, arrays: dict[str, np.ndarray], meta: dict | None = None,
         compress: bool = False) -> None:
    """Write arrays and JSON metadata to ``path`` atomically, without pickle.

    Parameters
    ----------
    path : str or path-like
        The file to write, used exactly as given (``np.savez`` would append
        ``.npz`` to a string path; we write through an open file instead).
        Missing parent directories are created.
    arrays : dict[str, numpy.ndarray]
        Named numeric arrays of any shape and dtype (not ``object``).
    meta : dict
        Anything ``json.dumps`` accepts: config, vocabulary, step, losses.
    compress : bool
        Deflate the entries (smaller, slower), like ``np.savez_compressed``.

    Raises
    ------
    CheckpointError
        For an object array, a reserved or non-string name, or meta that is
        not JSON-serialisable; nothing is written then.
    """
    name = os.fspath(path)
    if os.path.isdir(name):
        raise CheckpointError(f"save {name!r}: it is a directory, expected a file path")
    checked = _check_arrays(arrays, name)
    try:
        header = json.dumps({"format": FORMAT, "version": VERSION,
                             "meta": {} if meta is None else meta})
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"save {name!r}: meta is not JSON-serialisable ({e})") from None
    checked[META_KEY] = np.array(header)

    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with atomic_open(name, "wb") as f, zipfile.ZipFile(f, "w", compression=method) as archive:
        for key, array in checked.items():        # what np.savez does, entry by entry
            with archive.open(key + ".npy", "w", force_zip64=True) as entry:
                np.lib.format.write_array(entry, array, allow_pickle=False)


def load(path: str | os.PathLike, expected=None, max_bytes: int = MAX_BYTES,
         only: tuple[str, ...] | None = None) -> tuple[dict[str, np.ndarray], dict]:
    """Read a checkpoint written by :func:`save`, checking everything before allocating.

    The order is what makes a hostile file cheap to refuse:

    1. the zip directory: names (``*.npy``, printable, no duplicates), stored
       or deflated, sizes backed by bytes of the file, total under ``max_bytes``;
    2. ``__meta__``, read first (at most ``MAX_META_BYTES``), and its JSON;
    3. every member's ``.npy`` header, without its data: dtype bool, integer,
       float or complex (never object: no pickle), declared size
       prod(shape) * itemsize equal to the bytes the member holds;
    4. ``expected`` (names, dtypes, shapes), which may be computed from the meta;
    5. only then the data, CRC-checked.

    Parameters
    ----------
    path : str or path-like
    expected : dict or callable, optional
        ``{name: (dtype, shape)}``, or ``expected(meta, headers) -> dict`` where
        ``headers`` maps each stored name to its :class:`ArrayHeader`. ``dtype``
        None accepts any allowed dtype; ``shape`` None any shape, and a None
        inside a shape any length on that axis. Names with ``*``, ``?`` or
        ``[`` are glob patterns and optional; other names are required, and a
        stored array that nothing covers is refused.
    max_bytes : int
        Cap on the total size of the arrays read (default 8 GiB).
    only : tuple of glob patterns, optional
        Read only the arrays whose names match one (``("param/*",)``); the
        others are skipped unread -- neither header nor data is decompressed,
        so they cost nothing. None reads every array.

    Returns
    -------
    arrays : dict[str, numpy.ndarray]
        Every array, read into memory (the file is closed on return).
    meta : dict
        The metadata given to :func:`save`.

    Raises
    ------
    CheckpointError
        One line naming the file (and the member): missing, a directory, a
        special file (a named pipe, a device, a symlink loop), empty,
        not an npz, truncated or corrupted, a pickled object, a header that
        promises other sizes than the member holds, over a limit, missing or
        invalid metadata, an unknown format version, not what ``expected`` says.
        The file is only read, never changed.
    """
    return read_npz(os.fspath(path), expected, max_bytes, only)
