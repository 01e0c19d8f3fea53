"""The character language model's exceptions and the command line's exit codes.

Each exception's message is one line naming what was wrong and what was
expected; ``python -m tinyrnn`` prints it and exits with the status
:data:`EXIT_CODES` gives for its kind.
"""
from __future__ import annotations

__all__ = ["DataError", "UnknownCharacters", "ModelFileError", "TrainError", "OptionError",
           "Diverged", "Interrupted", "EXIT_CODES"]


class DataError(ValueError):
    """A data file, text or dataset option that cannot be used."""


class UnknownCharacters(DataError):
    """A text has characters its vocabulary (a trained model's) does not know."""


class ModelFileError(Exception):
    """A file that does not hold a usable char-LM model (or training run)."""


class TrainError(Exception):
    """A problem with a training run's folder, options or machine."""


class OptionError(TrainError):
    """An option's value is out of range or clashes with another option."""


class Diverged(TrainError):
    """The loss (or the gradient norm) became NaN or infinite."""


class Interrupted(KeyboardInterrupt):
    """A second Ctrl-C stopped the run at once; the message says what is on disk."""


# One convention for the exit status of ``python -m tinyrnn``.
EXIT_CODES = {
    "done": 0,
    "error": 1,          # the data, a checkpoint, a folder or the machine is wrong
    "usage": 2,          # the command line is wrong: argparse's errors and our option checks
    "diverged": 3,       # the loss or the gradient became NaN / infinite
    "interrupted": 130,  # Ctrl-C (128 + SIGINT, the shell's convention)
    "terminated": 143,   # SIGTERM, after saving as for a first Ctrl-C (128 + SIGTERM)
}
