"""Checkpoints: NumPy arrays plus JSON metadata in one ``.npz`` file, written atomically.

A checkpoint is an ordinary ``.npz`` (a zip archive of ``.npy`` files, one per
array), readable by ``numpy.load`` anywhere, with one reserved entry,
``"__meta__"``: a 0-d unicode array holding JSON::

    {"format": "tinyrnn-checkpoint", "version": 1, "meta": {...your meta...}}

Two properties protect the user's work:

* **No pickle.** Files are written and read with ``allow_pickle=False``; an
  entry that holds a pickled Python object is refused on load (unpickling
  runs arbitrary code). Configuration, vocabulary and step counters travel as
  JSON in the meta, not as objects.
* **Atomic writes.** :func:`save` writes to a temporary file in the same
  directory, flushes it, ``fsync``s it to disk and then renames it over the
  target with ``os.replace`` (atomic on one file system). A crash or Ctrl-C in
  the middle leaves the previous checkpoint untouched and no temporary file.

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
import zlib
from typing import Iterator

import numpy as np

__all__ = ["CheckpointError", "save", "load", "atomic_open", "META_KEY",
           "FORMAT", "VERSION"]

FORMAT = "tinyrnn-checkpoint"
VERSION = 1
META_KEY = "__meta__"

# The permission bits a new file would get (mkstemp makes its files 0600).
_UMASK = os.umask(0)
os.umask(_UMASK)


class CheckpointError(ValueError):
    """A checkpoint that cannot be written or read (one line, naming the file)."""


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
        os.chmod(tmp, 0o666 & ~_UMASK)
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


# ---------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------
def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def _read_entries(npz, name: str) -> dict[str, np.ndarray]:
    """Every entry of an open NpzFile, read eagerly with pickle disabled."""
    entries = {}
    for member in npz.zip.namelist():
        if not member.endswith(".npy"):
            raise CheckpointError(f"checkpoint {name!r} has an unexpected entry "
                                  f"{member!r} (not an .npy array)")
        key = member[:-len(".npy")]
        try:
            entries[key] = npz[key]
        except ValueError as e:
            if "allow_pickle" in str(e):
                raise CheckpointError(f"checkpoint {name!r}: entry {key!r} holds a pickled "
                                      "Python object; tinyrnn never loads pickles "
                                      "(they can run arbitrary code)") from None
            raise CheckpointError(f"checkpoint {name!r}: entry {key!r} is corrupted "
                                  f"({_one_line(e)})") from None
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as e:
            raise CheckpointError(f"checkpoint {name!r}: entry {key!r} is truncated or "
                                  f"corrupted ({_one_line(e)})") from None
    return entries


def _parse_meta(entries: dict, name: str) -> dict:
    """Pop and check the ``__meta__`` entry; return the user's meta dict."""
    if META_KEY not in entries:
        raise CheckpointError(f"checkpoint {name!r} has no {META_KEY!r} entry: it is an "
                              "npz file but not a tinyrnn checkpoint")
    raw = entries.pop(META_KEY)
    if raw.shape != () or raw.dtype.kind != "U":
        raise CheckpointError(f"checkpoint {name!r}: {META_KEY!r} must be a 0-d unicode "
                              f"array of JSON, got shape {raw.shape} dtype {raw.dtype}")
    try:
        header = json.loads(str(raw))
    except json.JSONDecodeError as e:
        raise CheckpointError(f"checkpoint {name!r}: {META_KEY!r} is not valid JSON "
                              f"({e})") from None
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


def load(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict]:
    """Read a checkpoint written by :func:`save`, with pickle disabled.

    Returns
    -------
    arrays : dict[str, numpy.ndarray]
        Every array, read into memory (the file is closed on return).
    meta : dict
        The metadata given to :func:`save`.

    Raises
    ------
    CheckpointError
        One line naming the file: missing, a directory, empty, not an npz,
        truncated or corrupted, an entry holding a pickled object, missing or
        invalid metadata, an unknown format version.
    """
    name = os.fspath(path)
    if not os.path.exists(name):
        raise CheckpointError(f"checkpoint {name!r} does not exist")
    if os.path.isdir(name):
        raise CheckpointError(f"checkpoint {name!r} is a directory, expected an .npz file")
    try:
        with open(name, "rb") as f:
            magic = f.read(4)
    except OSError as e:
        raise CheckpointError(f"checkpoint {name!r} cannot be read ({_one_line(e)})") from None
    if not magic:
        raise CheckpointError(f"checkpoint {name!r} is empty")
    if magic != b"PK\x03\x04":       # every zip archive, hence every .npz, starts so
        raise CheckpointError(f"checkpoint {name!r} is not a tinyrnn checkpoint "
                              "(not an .npz/zip file)")
    try:
        npz = np.load(name, allow_pickle=False)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError) as e:
        raise CheckpointError(f"checkpoint {name!r} is truncated or corrupted "
                              f"({_one_line(e)})") from None
    with npz:
        entries = _read_entries(npz, name)
    meta = _parse_meta(entries, name)
    return entries, meta
