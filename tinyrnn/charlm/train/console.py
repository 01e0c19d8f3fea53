"""What a run says to the person watching it: progress and Ctrl-C.

* **Progress** is a tqdm bar on a terminal, and a plain line every
  :data:`PROGRESS_EVERY` seconds when the output goes to a file or a pipe.
  Both estimate the time left against the limit that will actually stop the
  run: the last step, the last epoch, or ``--max-time``, whichever comes first.
* **Ctrl-C** once: finish what is running, save, stop. Twice: stop at once;
  the message then says which checkpoint is the last one (or that none is).
  **SIGTERM** (what ``kill``, ``timeout`` and job schedulers send) is treated
  as a first Ctrl-C: the run saves and stops (exit status 143); a second
  signal of either kind stops it at once.
"""
from __future__ import annotations

import os
import signal
import sys
import time


__all__ = ["Console", "GracefulInterrupt", "expected_last_step", "PROGRESS_EVERY"]


PROGRESS_EVERY = 30.0    # seconds between plain progress lines when not on a terminal


def expected_last_step(step: int, last_step: int, elapsed: float, max_time: float | None,
                       seconds_per_step: float | None) -> int:
    """The step at which the run will stop, as far as can be told now.

    ``last_step`` is where --max-steps / --max-epochs stop it; ``--max-time``
    stops it sooner when the remaining time, at the current speed, runs out
    before that step.
    """
    if max_time is None or not seconds_per_step:
        return last_step
    steps_left = max(0.0, max_time - elapsed) / seconds_per_step
    return min(last_step, step + int(steps_left) + 1)


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    h, m, s = seconds // 3600, seconds // 60 % 60, seconds % 60
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Console:
    """Messages and progress of one training run.

    Parameters
    ----------
    out : stream for messages and plain progress lines (a bar goes to stderr)
    last_step : the step where --max-steps / --max-epochs stop the run
    first_step : the step it starts from (0, or the resumed step)
    max_time : --max-time in seconds, or None
    """

    def __init__(self, out=None, last_step: int = 0, first_step: int = 0,
                 max_time: float | None = None):
        self.out = out or sys.stdout
        self.last_step, self.first_step, self.max_time = last_step, first_step, max_time
        self.started = time.perf_counter()
        self.bar = _progress_bar(last_step, first_step)
        self.printed_at = self.started
        self.latest_sample = None        # --show-sample: shown at the end of the line

    def say(self, message: str) -> None:
        """Print a line without breaking the progress bar."""
        if self.bar is not None:
            self.bar.write(message, file=self.out)
        else:
            print(message, file=self.out, flush=True)

    def progress(self, step: int, epoch: int, loss: float, chars_per_sec: float) -> None:
        """After each step: move the bar, or print a plain line every PROGRESS_EVERY s."""
        now = time.perf_counter()
        elapsed = now - self.started
        done = step - self.first_step
        per_step = elapsed / done if done > 0 else None
        end = expected_last_step(step, self.last_step, elapsed, self.max_time, per_step)
        if self.bar is not None:
            if self.bar.total != end:
                self.bar.total = end
            self.bar.update(step - self.bar.n)
            self.bar.set_postfix_str(f"epoch {epoch}, loss {loss:.3f}, "
                                     f"{chars_per_sec:,.0f} chars/s" + self._sample())
        elif now - self.printed_at >= PROGRESS_EVERY:
            self.printed_at = now
            left = (end - step) * per_step if per_step else 0.0
            limit = "--max-time" if end < self.last_step else "the last step"
            self.say(f"step {step}/{end} (epoch {epoch}): loss {loss:.3f}, "
                     f"{chars_per_sec:,.0f} chars/s, {_clock(elapsed)} elapsed, "
                     f"about {_clock(left)} left (until {limit})" + self._sample())

    def _sample(self, chars: int = 40) -> str:
        if not self.latest_sample:
            return ""
        return ", sample: " + repr(self.latest_sample[:chars])

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _progress_bar(total: int, initial: int):
    """A tqdm bar on stderr when stderr is a terminal (and TQDM_DISABLE is not set);
    None otherwise, or without tqdm."""
    try:
        from tqdm import tqdm
    except ImportError:                       # tqdm is optional: plain lines then
        return None
    off = os.environ.get("TQDM_DISABLE", "").lower() not in ("", "0", "false", "no")
    terminal = hasattr(sys.stderr, "isatty") and sys.stderr.isatty()
    if off or not terminal:
        return None
    # tqdm reads TQDM_* variables once, at import: pass disable explicitly.
    return tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True,
                file=sys.stderr, disable=False)


class GracefulInterrupt:
    """While active, the first Ctrl-C (SIGINT) or SIGTERM calls ``on_first(signum)``
    (which asks the loop to stop and says what will be saved); a second one
    raises KeyboardInterrupt."""

    SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM")
                    if hasattr(signal, name))

    def __init__(self, on_first):
        self.on_first, self.previous, self.pressed = on_first, {}, False

    def _handler(self, signum, frame):
        if self.pressed:
            raise KeyboardInterrupt
        self.pressed = True
        self.on_first(signum)

    def __enter__(self):
        try:
            for signum in self.SIGNALS:
                self.previous[signum] = signal.signal(signum, self._handler)
        except ValueError:          # not the main thread: leave the signals alone
            self.previous = {}
        return self

    def __exit__(self, *exc):
        for signum, previous in self.previous.items():
            signal.signal(signum, previous)
        self.previous = {}
        return False
