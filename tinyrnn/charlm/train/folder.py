"""A run's folder: one run at a time, and nothing of another run mixed in.

A training run locks its ``--checkpoint-dir`` (a ``.lock`` file held with
``filelock``, released when the run ends, also when it crashes) before it
writes anything, so a second run into the same folder is refused at once
instead of both overwriting each other's files. A folder that holds another
run's checkpoint is refused too, unless ``--overwrite``, which deletes that
run's files (and only those) first.
"""
from __future__ import annotations

import os

from filelock import FileLock, Timeout

from ..errors import TrainError

__all__ = ["RunFolder", "RUN_FILES"]

RUN_FILES = ("latest.npz", "best.npz", "log.csv", "loss.png",   # what a run writes
             "samples.txt")
LOCK = ".lock"


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

    def file(self, name: str) -> str:
        return os.path.join(self.path, name)

    def release(self) -> None:
        self.lock.release()
