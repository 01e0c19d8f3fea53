"""Opening a file a user named, once, after making sure it is a regular file.

``open("fifo")`` blocks until someone writes to the pipe, ``/dev/zero`` reads
zeros for ever, and a symlink loop fails with a message about a file that
"does not exist". :func:`open_regular` looks at the path first (``os.stat``,
which never blocks), refuses anything but a regular file in one line naming
the path and what it is, then opens it without blocking (``O_NONBLOCK``) and
checks the open file again (``os.fstat``), so a path swapped for a pipe in
between is refused too. The caller reads everything through the one file
object it returns (seeking back for a second pass), never reopening the path.
"""
from __future__ import annotations

import errno
import os
import stat
from typing import BinaryIO

__all__ = ["open_regular", "file_kind", "check_regular"]

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))


def file_kind(mode: int) -> str:
    """What ``st_mode`` describes, in words: "a regular file", "a named pipe (FIFO)" ..."""
    if stat.S_ISREG(mode):
        return "a regular file"
    return next((kind for test, kind in _KINDS if test(mode)), "a special file")


def _refusal(what: str, name: str, problem: str) -> str:
    return f"{what} {name!r} {problem}"


def check_regular(path: str | os.PathLike, what: str, error: type = ValueError) -> int:
    """The size of ``path`` once it is known to be a regular file; else ``error``.

    ``what`` names the file in the message ("checkpoint", "data file" ...):
    ``checkpoint 'x.npz' is a named pipe (FIFO), expected a regular file``.
    Never opens the path, so it cannot block.
    """
    name = os.fspath(path)
    try:
        info = os.stat(name)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise error(_refusal(what, name, "is a loop of symbolic links, expected a "
                                 "regular file")) from None
        if e.errno in (errno.ENOENT, errno.ENOTDIR) or not name:
            raise error(_refusal(what, name, "does not exist")) from None
        raise error(_refusal(what, name, f"cannot be read ({e.strerror or e})")) from None
    if not stat.S_ISREG(info.st_mode):
        raise error(_refusal(what, name, f"is {file_kind(info.st_mode)}, expected a "
                             "regular file"))
    return info.st_size


def open_regular(path: str | os.PathLike, what: str, error: type = ValueError) -> BinaryIO:
    """Open a regular file for reading in binary mode, refusing anything else.

    Parameters
    ----------
    path : the file a user named
    what : how messages name it ("checkpoint", "data file", "safetensors file")
    error : the exception class raised, with one line naming the path

    Returns
    -------
    A binary file object (a ``with`` block closes it). Special files (a named
    pipe, a device such as ``/dev/zero``, a socket), directories, symlink
    loops and missing paths are refused without blocking.
    """
    name = os.fspath(path)
    check_regular(name, what, error)
    try:
        fd = os.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as e:
        raise error(_refusal(what, name, f"cannot be read ({e.strerror or e})")) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):          # swapped for something else since the stat
            raise error(_refusal(what, name, f"is {file_kind(mode)}, expected a regular "
                                 "file"))
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
