"""How many threads the BLAS library behind NumPy (OpenBLAS, MKL) may use.

NumPy's matrix products run in BLAS, which by default starts one thread per
core. Whether that pays for a recurrent network depends on more than the
problem's size: on a quiet machine more threads make a step faster, on a
busy one the BLAS threads wait for cores other processes hold and the step
gets slower (benchmarks/README.md has the figures). Neither the sizes nor
the load average tell these apart in time, so tinyrnn measures:

>>> from tinyrnn.utils.threads import set_num_threads, num_threads, ThreadTuner
>>> set_num_threads(1)                     # from now on
>>> with num_threads(2):                   # for a block; restored after it
...     pass
>>> tuner = ThreadTuner()                  # "auto": times the work itself
>>> with tuner.active():                   # the previous setting returns after
...     for batch in batches:
...         loss = tuner.run(train_step, batch)    # each step through the tuner

``"auto"`` (the command line's default, ``--threads auto``) is a
:class:`ThreadTuner`: it times a few training steps with one thread and with
every core, interleaved, keeps the faster, and probes again now and then
and at once when a step with several threads suddenly takes longer (the
machine became busy). The thread count changes no result: BLAS splits a
product's *output* among its threads, each element summed in the same order
(OpenBLAS gives bit-identical products with 1 and 2 threads; a BLAS that
split the sums would differ by float roundoff only). All this is done with
`threadpoolctl <https://github.com/joblib/threadpoolctl>`_ (the library
scikit-learn uses), not with environment variables. Only BLAS is limited:
NumPy's element-wise work runs on one core anyway.
"""
from __future__ import annotations

import contextlib
import os
import statistics
import time
from collections import deque

__all__ = ["set_num_threads", "num_threads", "blas_threads", "check_threads",
           "ThreadTuner", "cores", "MAX_THREADS"]

MAX_THREADS = 1024       # more BLAS threads than any machine has cores is a typo


def check_threads(value) -> str | None:
    """What is wrong with a thread setting (``"auto"`` or a count in [1, MAX_THREADS]),
    or None."""
    if value == "auto":
        return None
    try:
        ok = not isinstance(value, (float, bool)) and 1 <= int(value) <= MAX_THREADS
    except (TypeError, ValueError):
        ok = False
    return None if ok else f"must be 'auto' or a whole number in [1, {MAX_THREADS}]"


def _count(value) -> int:
    problem = check_threads(value)
    if problem or value == "auto":
        raise ValueError(f"threads: {problem or 'give a count here, not auto'}, got {value!r}")
    return int(value)


def cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


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


def resolve(value) -> int:
    """A setting as a fixed count, for work that is not timed step by step
    (sampling one stream: ``"auto"`` is one thread, as a one-row product
    gains nothing from more)."""
    return 1 if value in ("auto", None) else _count(value)


def _blas_setter():
    """``set(n)``: BLAS threads to n, in a few microseconds (``threadpool_limits``
    itself inspects the loaded libraries each time: ~0.2 ms)."""
    from threadpoolctl import ThreadpoolController
    controller = ThreadpoolController()
    return lambda n: controller.limit(limits=n, user_api="blas")


class ThreadTuner:
    """Chooses the BLAS thread count by timing the steps it runs, and keeps checking.

    Parameters
    ----------
    counts : the thread counts to choose from (default: 1 and every core);
        a single count never probes.
    probe_steps : steps timed per count in a probe.
    every : steps from the first probe to the second; doubled after each
        probe (up to ``max_every``): each probe costs a few steps with the
        slower count, and on a busy machine a lucky probe may pick several
        threads that the drift check then has to take back.
    drift : with more than one thread, probe again at once when the median
        of the last ``window`` steps exceeds the probe's median by this
        fraction (another process took the cores).
    margin : more threads than the fewest probed must be this much faster
        (their median at most 1 / (1 + margin) of it) to be chosen.
    give_up : a count is dropped from a probe once TWO of its steps took
        this many times the best median so far (on a busy machine a step
        with two threads can take 15x one with one: two such steps, not
        three; one is not enough, as a count's first step may carry a
        one-off cost).
    clock : seconds, as ``time.perf_counter`` (tests pass a fake one).
    set_threads : applies a count (default: BLAS through threadpoolctl),
        called only when the count changes.

    A probe runs ``probe_steps`` steps per count, interleaved (1, n, 1, n,
    ...) so that a change of load hits every count alike, and keeps the
    count with the lowest median (see ``margin``). One thread comes
    first in every probe, so there is always a safe time to compare with.

    Run each step as ``tuner.run(step, *args)`` inside ``with
    tuner.active():``, which puts the previous setting back afterwards.
    """

    def __init__(self, counts=None, *, probe_steps: int = 3, every: int = 100,
                 max_every: int = 1600, drift: float = 0.3, window: int = 3,
                 margin: float = 0.05, give_up: float = 2.0, clock=time.perf_counter,
                 set_threads=None):
        self.counts = sorted({_count(n) for n in counts} if counts else {1, cores()})
        self.probe_steps, self.every, self.max_every = probe_steps, every, max_every
        self.drift, self.margin, self.give_up, self.clock = drift, margin, give_up, clock
        self._set = set_threads or _blas_setter()
        self._applied = None                  # the count last given to _set
        self._recent = deque(maxlen=window)   # step times since the probe
        self.interval = every                 # steps from this probe to the next
        self.threads = self.counts[0]         # the count for the next step
        self.reference = None                 # the chosen count's probe median
        self.steps = self.probes = 0
        self.history = []                     # (step, chosen count) after each probe
        self._start_probe()

    @classmethod
    def from_setting(cls, value, **kwargs) -> "ThreadTuner":
        """A tuner for ``--threads``: ``"auto"`` probes, a count stays fixed."""
        return cls(None if value in ("auto", None) else [_count(value)], **kwargs)

    @property
    def probing(self) -> bool:
        return bool(self._plan)

    def describe(self) -> str:
        """For a log line: "1 BLAS thread", or the counts it chooses from."""
        if len(self.counts) == 1:
            n = self.counts[0]
            return f"{n} BLAS thread{'s' if n > 1 else ''}"
        return f"BLAS threads timed while training ({' or '.join(map(str, self.counts))})"

    @contextlib.contextmanager
    def active(self):
        """Inside the block the tuner sets BLAS threads; after it the previous
        setting returns."""
        with num_threads(self.threads):
            self._applied = self.threads
            try:
                yield self
            finally:
                self.resume()

    def resume(self) -> None:
        """Something else set the BLAS threads: the next step sets its count again."""
        self._applied = None

    def run(self, step, *args, **kwargs):
        """``step(*args, **kwargs)`` with the chosen thread count, timed; its result."""
        if self._applied != self.threads:
            self._set(self.threads)
            self._applied = self.threads
        started = self.clock()
        result = step(*args, **kwargs)
        self.record(self.clock() - started)
        return result

    def record(self, seconds: float) -> None:
        """The step just run with ``self.threads`` took ``seconds``."""
        self.steps += 1
        if self._plan:
            self._probe_step(seconds)
        else:
            self._recent.append(seconds)
            if self._should_probe():
                self._start_probe()

    # ---- probing ------------------------------------------------------------
    def _start_probe(self) -> None:
        self._since = 0
        self._samples = {n: [] for n in self.counts}
        self._plan = [n for _ in range(self.probe_steps) for n in self.counts] \
            if len(self.counts) > 1 else []
        if self._plan:
            self.threads = self._plan[0]

    def _probe_step(self, seconds: float) -> None:
        n = self._plan.pop(0)
        self._samples[n].append(seconds)
        mine = self._samples[n]
        others = [statistics.median(v) for k, v in self._samples.items() if v and k != n]
        if len(mine) >= 2 and others and min(mine) > self.give_up * min(others):
            self._plan = [k for k in self._plan if k != n]       # hopeless this time
        if self._plan:
            self.threads = self._plan[0]
            return
        medians = {k: statistics.median(v) for k, v in self._samples.items() if v}
        fewest = min(medians)
        best = min(medians, key=lambda k: (medians[k] * (1 if k == fewest else 1 + self.margin),
                                           k))
        self.interval = min(2 * self.interval, self.max_every) if self.history else self.every
        self.threads, self.reference = best, medians[best]
        self.probes += 1
        self.history.append((self.steps, best))
        self._recent.clear()

    def _should_probe(self) -> bool:
        self._since += 1
        if len(self.counts) == 1:
            return False
        if self._since >= self.interval:
            return True
        slower = len(self._recent) == self._recent.maxlen and \
            statistics.median(self._recent) > (1 + self.drift) * self.reference
        return self.threads > 1 and slower
