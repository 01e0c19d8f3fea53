"""A run's folder: one run at a time, and nothing of another run mixed in.

A training run locks its ``--checkpoint-dir`` (a ``.lock`` file held with
``filelock``, released when the run ends, also when it crashes) before it
writes anything, so a second run into the same folder is refused at once
instead of both overwriting each other's files. A folder that holds another
run's checkpoint is refused too, unless ``--overwrite``, which deletes that
run's files (and only those) first.

Once locked, the folder is swept of what a killed save left: the temporary
files :func:`tinyrnn.utils.checkpoint.atomic_open` writes beside a run file
(``.latest.npz.k3j_x9a2.tmp``) before renaming them into place. Only names of
exactly that form, for the run's own files, are removed.
"""
from __future__ import annotations

import contextlib
import os
import re

from filelock import FileLock, Timeout

from ..errors import TrainError

__all__ = ["RunFolder", "RUN_FILES", "writing"]

RUN_FILES = ("latest.npz", "best.npz", "log.csv", "loss.png",   # what a run writes
             "samples.txt")
LOCK = ".lock"
# atomic_open's temporary files: "." + name + "." + mkstemp's 8 characters + ".tmp"
STALE = re.compile(r"\.(?:" + "|".join(map(re.escape, RUN_FILES)) + r")\.[a-z0-9_]{8}\.tmp")


class RunFolder:
    """The folder of one run, locked while the run is alive.

    Parameters
    ----------
    path : the --checkpoint-dir
    continuing : the run resumes the checkpoint that lives in this folder
    overwrite : delete another run's files instead of refusing
    """

    def __init__(self, path: str, continuing: bool = False, overwrite: bool = False):
        self.path = path
        if os.path.exists(path) and not os.path.isdir(path):
            raise TrainError(f"--checkpoint-dir {path!r} is a file, expected a directory")
        os.makedirs(path, exist_ok=True)
        self.lock = FileLock(os.path.join(path, LOCK))
        try:
            self.lock.acquire(timeout=0)
        except Timeout:
            raise TrainError(f"--checkpoint-dir {path!r} is in use: another training run "
                             "is writing into it now; wait for it, or choose another "
                             "--checkpoint-dir") from None
        try:
            self.removed = self._sweep()
            self._claim(continuing, overwrite)
        except BaseException:
            self.release()
            raise

    def _claim(self, continuing: bool, overwrite: bool) -> None:
        present = [name for name in RUN_FILES if os.path.exists(self.file(name))]
        if not present or continuing:
            return
        if not overwrite:
            raise TrainError(f"--checkpoint-dir {self.path!r} already holds a run "
                             f"({', '.join(present)}); resume it with --init-from "
                             f"{self.file('latest.npz')}, choose another --checkpoint-dir, "
                             "or pass --overwrite")
        for name in present:
            os.unlink(self.file(name))

    def _sweep(self) -> list[str]:
        """Remove the temporary files a killed save left (we hold the lock, so
        no save of ours is running); returns their names."""
        removed = []
        for entry in os.scandir(self.path):
            if STALE.fullmatch(entry.name) and entry.is_file(follow_symlinks=False):
                try:
                    os.unlink(entry.path)
                    removed.append(entry.name)
                except FileNotFoundError:
                    pass
        return sorted(removed)

    def file(self, name: str) -> str:
        return os.path.join(self.path, name)

    def release(self) -> None:
        self.lock.release()


@contextlib.contextmanager
def writing(path: str, last_saved: tuple | None):
    """Write a file of the run (atomically, as every run file is): an OSError
    (a full disk, a folder made read-only) becomes one TrainError naming the
    file and saying that what was saved before is intact -- the atomic write
    never replaced it. ``last_saved`` is (path, step) of the newest checkpoint."""
    try:
        yield
    except OSError as e:
        last = (f"the last is {last_saved[0]}, step {last_saved[1]}" if last_saved
                else "no latest.npz had been saved yet")
        before = f"the checkpoints saved before are intact ({last})"
        raise TrainError(f"cannot write {path!r}: {e.strerror or e}; {before}") from None
