"""How many threads the BLAS library behind NumPy (OpenBLAS, MKL) may use.

NumPy's matrix products run in BLAS, which by default starts one thread per
core. For a recurrent network's small per-step products that is often a
loss: each product is split across threads that then wait for each other,
and on a machine whose cores are busy with other work the waiting threads
spin (issue 13 measured char-rnn's recipe, 2-layer LSTM of 128, batch 50, at
95 s with one thread against 105 s with two on a quiet 2-core machine, and
6-9x slower with two on a busy one). So tinyrnn chooses, with
`threadpoolctl <https://github.com/joblib/threadpoolctl>`_ (the library
scikit-learn uses), instead of leaving it to environment variables:

>>> import tinyrnn as tr
>>> tr.set_num_threads(1)                  # from now on
>>> with tr.num_threads(2):                # for a block; restored after it
...     pass

``"auto"`` (the command line's default, ``--threads auto``) picks with
:func:`auto_threads`: one thread unless the recurrent product of one time
step is large (:data:`AUTO_MIN_FLOPS`) and the machine has idle cores.
Only BLAS is limited: NumPy's element-wise work runs on one core anyway.
"""
from __future__ import annotations

import contextlib
import os

__all__ = ["set_num_threads", "num_threads", "blas_threads", "auto_threads",
           "check_threads", "AUTO_MIN_FLOPS"]

AUTO_MIN_FLOPS = 2e8
"""Floating-point operations of one step's recurrent product, 2 B H (G H), from
which ``"auto"`` uses more than one thread. Issue 13's measurements put
char-rnn's size (B = 50, H = 128, G = 4: 6.6e6) on the side where one
thread is fastest even on a quiet machine; on a busy 2-core machine two
threads made a training step 15x slower at that size and 3.7x slower at
B = 32, H = 512 (6.7e7; benchmarks/README.md). The threshold is set above
both, at about an LSTM of H = 1024 with B = 24, where a product takes tens of
milliseconds on one core and splitting it can pay; the gain there has not
been measured on a quiet machine yet."""


def check_threads(value) -> str | None:
    """What is wrong with a thread setting (``"auto"`` or a count >= 1), or None."""
    if value == "auto":
        return None
    try:
        ok = not isinstance(value, (float, bool)) and int(value) >= 1
    except (TypeError, ValueError):
        ok = False
    return None if ok else "must be 'auto' or a whole number >= 1"


def _count(value) -> int:
    problem = check_threads(value)
    if problem or value == "auto":
        raise ValueError(f"threads: {problem or 'give a count here, not auto'}, got {value!r}")
    return int(value)


def blas_threads() -> int | None:
    """The number of threads the loaded BLAS libraries use now (the largest if
    several are loaded); None when threadpoolctl finds no BLAS."""
    from threadpoolctl import threadpool_info
    counts = [p["num_threads"] for p in threadpool_info() if p.get("user_api") == "blas"]
    return max(counts) if counts else None


def set_num_threads(n) -> None:
    """Let BLAS use ``n`` threads from now on (an int >= 1)."""
    from threadpoolctl import threadpool_limits
    threadpool_limits(limits=_count(n), user_api="blas")


@contextlib.contextmanager
def num_threads(n):
    """BLAS uses ``n`` threads inside the block; the previous setting returns after it."""
    from threadpoolctl import threadpool_limits
    with threadpool_limits(limits=_count(n), user_api="blas"):
        yield


def auto_threads(batch: int, hidden: int, gates: int = 4, cores: int | None = None,
                 load: float | None = None) -> int:
    """The thread count ``"auto"`` picks for a recurrent layer of this size.

    One thread unless one step's recurrent product (B, H) @ (H, G*H) costs at
    least :data:`AUTO_MIN_FLOPS`; then every core that the 1-minute load
    average leaves idle (never fewer than one). ``cores`` and ``load``
    default to this machine's.
    """
    flops = 2.0 * batch * hidden * gates * hidden
    if flops < AUTO_MIN_FLOPS:
        return 1
    if cores is None:
        cores = os.cpu_count() or 1
    if load is None:
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    return max(1, min(cores, int(cores - load + 0.5)))


def resolve(value, batch: int, hidden: int, gates: int = 4) -> int:
    """A setting (``"auto"`` or a count) as a count for a layer of this size."""
    return auto_threads(batch, hidden, gates) if value in ("auto", None) else _count(value)
