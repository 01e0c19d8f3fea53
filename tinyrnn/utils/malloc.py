"""Keep freed memory for the next training step instead of handing it back.

A training step allocates the same large buffers every time (the gates of
every time step, the states, the gradients: megabytes each) and frees them
at its end. By default the C library behind NumPy on Linux (glibc) gives
large freed blocks back to the operating system -- blocks above its
``mmap`` threshold at once, the top of the heap when more than a trim
threshold of it is free -- so the next step gets fresh pages, and the first
write to each 4 KiB page is a page fault in which the kernel zeroes it.
Keeping the freed blocks instead costs no extra peak memory (the next step
reuses them, it does not add to them) and saves most of those faults
(benchmarks/README.md has the measurement).

:func:`keep_freed_memory` sets glibc's thresholds so that blocks up to
``mmap_mb`` come from the heap and the heap's free top is kept up to
``trim_mb``. ``python -m tinyrnn train`` calls it; in Python, call it once
before training. Elsewhere (macOS, Windows, musl) it does nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import sys

__all__ = ["keep_freed_memory"]

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3      # mallopt's parameters (malloc.h)


def keep_freed_memory(mmap_mb: int = 64, trim_mb: int = 512) -> bool:
    """Ask glibc to keep freed blocks up to ``mmap_mb`` MiB and up to ``trim_mb``
    MiB of free heap for reuse; True if it took the setting (Linux with glibc).

    Bigger blocks are still mapped afresh (they are then few and large). The
    peak memory stays what the steps need; what changes is that the process
    keeps it between steps.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):          # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, mmap_mb << 20)) and \
        bool(mallopt(_M_TRIM_THRESHOLD, trim_mb << 20))
