"""A run's options, in one table: name, default, help text, check.

The table :data:`OPTIONS` is the only place an option is described. From it
come :class:`TrainConfig` (the options as a dataclass, for Python), the
``train`` command line (:func:`add_options`; each help ends with the default),
the range checks (:func:`check_config`, errors naming the flag), and the
merge of the options given with a checkpoint's (:func:`resolve_config`).

How each option meets a checkpoint (``merge``):

``"run"``      resuming (--init-from) takes the checkpoint's value when the
               option is left out
``"model"``    the architecture: resuming or fine-tuning takes the
               checkpoint's; giving another value is an error
``"session"``  never taken from a checkpoint (--max-time, --overwrite, ...)
"""
from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from typing import Callable

from .. import nn, optim
from ..utils.files import check_regular
from ..utils.threads import check_threads
from .bridge import BridgeError, checkpoint_from_safetensors
from .errors import ModelFileError, OptionError, TrainError
from .schema import MAX_COUNT, MAX_HIDDEN, MAX_LAYERS
from .store import architecture, read_checkpoint

__all__ = ["Option", "OPTIONS", "TrainConfig", "check_config", "add_options",
           "resolve_config", "Start", "MODELS", "OPTIMIZERS", "flag", "check_saved"]

MODELS = nn.cell_names(paper_models=False)
OPTIMIZERS = tuple(optim.OPTIMIZERS)


# ---- checks: each returns what was expected, or None when the value is fine ----
# Every number must also be finite (see check_config); the upper ends are
# what a run can use (a bigger value is a typo, or an attack on the machine).
def at_least(low, high=MAX_COUNT) -> Callable:
    return lambda v: None if low <= v <= high else \
        f"must be >= {low}" if v < low else f"must be <= {high:,}"


def above(low, high) -> Callable:
    return lambda v: None if low < v <= high else \
        f"must be > {low}" if v <= low else f"must be <= {high:g}"


def in_range(low, high, closed_high=False) -> Callable:
    def check(v):
        ok = low <= v <= high if closed_high else low <= v < high
        return None if ok else f"must be in [{low}, {high}{']' if closed_high else ')'}"
    return check


def one_of(choices) -> Callable:
    return lambda v: None if v in choices else f"must be one of {', '.join(choices)}"


def fraction(v):
    return None if 0 < v <= 1 else "must be in (0, 1]"


@dataclass(frozen=True)
class Option:
    """One option: ``--name-with-dashes`` on the command line, ``name`` in Python."""

    name: str
    default: object
    help: str
    type: type = str
    check: Callable | None = None
    choices: tuple | None = None    # offered by the command line (check= enforces)
    metavar: str | None = None
    group: str = "training"
    merge: str = "run"              # "run" | "model" | "session" (module docstring)


OPTIONS = (
    Option("data", None, "UTF-8 text file to learn from; resuming finds the checkpoint's "
           "text again by its absolute path (default: the Python standard library's own "
           "source, which every Python has)", metavar="DATA", group="data"),
    Option("max_chars", None, "use only the first N characters of the text (default: "
           "1000000 for the built-in corpus, all of a DATA file)", int, at_least(1),
           metavar="N", group="data"),
    Option("model", "lstm", "recurrent cell: rnn, lstm, gru, rwa (recurrent weighted "
           "average) or fw (fast weights)", check=one_of(MODELS), choices=MODELS,
           group="model", merge="model"),
    Option("rnn_size", 128, "hidden units per layer", int, at_least(1, MAX_HIDDEN),
           metavar="H", group="model", merge="model"),
    Option("num_layers", 2, "stacked recurrent layers", int, at_least(1, MAX_LAYERS),
           metavar="L", group="model", merge="model"),
    Option("no_fused", False, "run the readable cells composed from engine ops instead "
           "of the fused per-layer kernels (same results, slower)", bool, group="model"),
    Option("dropout", 0.0, "dropout between the layers and before the output layer, 0 "
           "for none", float, in_range(0, 1), metavar="P", group="model"),
    Option("seq_length", 50, "steps of backpropagation through time per chunk", int,
           at_least(1, 10**6), metavar="T"),
    Option("batch_size", 50, "parallel streams of text per step", int, at_least(1, 10**6),
           metavar="B"),
    Option("optimizer", "adam", "update rule", check=one_of(OPTIMIZERS), choices=OPTIMIZERS),
    Option("learning_rate", 2e-3, "initial learning rate", float, above(0, 1e308),
           metavar="LR"),
    Option("lr_decay", 0.97, "multiply the learning rate by F at the end of every epoch, "
           "from the --lr-decay-after'th on", float, fraction, metavar="F"),
    Option("lr_decay_after", 10, "start decaying when E epochs are complete, as "
           "char-rnn's learning_rate_decay_after", int, at_least(0, 10**9), metavar="E"),
    Option("grad_clip", 5.0, "rescale the gradients when their global L2 norm exceeds "
           "C; 0 turns clipping off", float, at_least(0, 1e30), metavar="C"),
    Option("max_epochs", 50, "stop after E passes over the training text", int,
           at_least(1, 10**9), metavar="E"),
    Option("max_steps", None, "stop when N updates have been made in total, counting "
           "those of a resumed run", int, at_least(0), metavar="N"),
    Option("max_time", None, "stop after the step during which this much training time "
           "(in this session) has passed, then validate and save", float, above(0, 1e9),
           metavar="SECONDS", merge="session"),
    Option("seed", 123, "random seed for the initial weights, dropout and samples", int,
           at_least(0, 2**32 - 1)),
    Option("train_frac", 0.95, "fraction of the text to train on", float, fraction,
           metavar="F", group="data split and evaluation"),
    Option("val_frac", 0.05, "fraction after it for validation, 0 for none (then there "
           "is no best.npz, only latest.npz); the rest is a test part left unused",
           float, in_range(0, 1), metavar="F", group="data split and evaluation"),
    Option("val_max_chars", None, "validate on only the first N characters of the "
           "validation part (a large text's full split can take minutes each time)",
           int, at_least(1), metavar="N", group="data split and evaluation"),
    Option("eval_every", 500, "validate, print a sample and save checkpoints every N "
           "steps, and at the end", int, at_least(1), metavar="N",
           group="data split and evaluation"),
    Option("sample_length", 200, "characters in the sample printed at each validation, "
           "0 for none", int, at_least(0, 10**7), metavar="N",
           group="data split and evaluation"),
    Option("sample_every", 0, "write a sample (--sample-length characters, 200 if that "
           "is 0) with its step to samples.txt in the run's folder every N steps, 0 for "
           "none", int, at_least(0, 10**7), metavar="N", group="watching a run"),
    Option("show_sample", False, "the progress line shows the start of the latest "
           "--sample-every sample", bool, group="watching a run", merge="session"),
    Option("layer_stats_every", 0, "every N steps, log.csv gets each layer's gradient "
           "norm and update-to-data ratio ||w_after - w_before|| / ||w_before|| (about "
           "1e-3 is healthy); 0 for none", int, at_least(0, 10**7), metavar="N",
           group="watching a run"),
    Option("checkpoint_dir", "checkpoints", "the run's folder: latest.npz, best.npz, "
           "log.csv and loss.png; a run holds a lock on it while it trains (default "
           "when resuming: the folder of the --init-from checkpoint)", metavar="DIR",
           group="checkpoints and hardware", merge="session"),
    Option("init_from", None, "resume the run of this checkpoint (or directory: its "
           "latest.npz) exactly, on the same text; options left out are the "
           "checkpoint's", metavar="CKPT", group="checkpoints and hardware",
           merge="session"),
    Option("finetune_from", None, "start a new run (step 0, a fresh log) from this "
           "checkpoint's weights, vocabulary and architecture, on DATA (a .safetensors "
           "file of `python -m tinyrnn export` or PyTorch works too)",
           metavar="CKPT", group="checkpoints and hardware", merge="session"),
    Option("overwrite", False, "start a new run in a --checkpoint-dir that holds "
           "another run, deleting that run's latest.npz, best.npz, log.csv and loss.png",
           bool, group="checkpoints and hardware", merge="session"),
    Option("backend", "numpy", "numpy (CPU) or cupy (CUDA GPU); in Python also any "
           "backend tinyrnn.get_backend knows", choices=("numpy", "cupy"),
           group="checkpoints and hardware"),
    Option("threads", "auto", "threads for NumPy's matrix products (BLAS), or auto: "
           "training steps timed with one thread and with every core, the faster kept "
           "and checked again as the load changes (tinyrnn.ThreadTuner)",
           check=check_threads, metavar="N",
           group="checkpoints and hardware", merge="session"),
)
BY_NAME = {o.name: o for o in OPTIONS}
PATHS = ("data", "checkpoint_dir", "init_from", "finetune_from")    # files and folders

TrainConfig = dataclasses.make_dataclass(
    "TrainConfig", [(o.name, o.type | None, dataclasses.field(default=o.default))
                    for o in OPTIONS],
    namespace={"to_dict": lambda self: dataclasses.asdict(self),
               "__doc__": "Every option of a training run: the command line's options, "
                          "same names (underscores for dashes) and defaults; see OPTIONS."})


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _problem(o: Option, value) -> str | None:
    """What is wrong with ``value`` for option ``o`` (its type, finiteness, range)."""
    if o.type is bool:
        return None if isinstance(value, bool) else "must be true or false"
    if o.type is int and (not isinstance(value, int) or isinstance(value, bool)):
        return "must be a whole number"
    if o.type is float:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return "must be a number"
        if not math.isfinite(value):
            return "must be a finite number"
    if o.type is str and o.check is not check_threads and not isinstance(value, str):
        return "must be text"
    return o.check(value) if o.check is not None else None


def check_config(cfg) -> None:
    """Each option against its type and check, then the pairs; OptionError naming the flags."""
    for o in OPTIONS:
        value = getattr(cfg, o.name)
        if value is None:
            continue
        problem = _problem(o, value)
        if problem:
            raise OptionError(f"{flag(o.name)} {problem}, got {value!r}")
    if cfg.train_frac + cfg.val_frac > 1:
        raise OptionError(f"--train-frac {cfg.train_frac} plus --val-frac {cfg.val_frac} "
                          "is more than the whole text (their sum must be <= 1)")
    for name in PATHS:                # a path given as "" names no file or folder
        value = getattr(cfg, name)
        if isinstance(value, str) and not value.strip():
            raise OptionError(f"{flag(name) if name != 'data' else 'DATA'} is empty; "
                              "expected a path")
    if cfg.init_from and cfg.finetune_from:
        raise OptionError("--init-from resumes a run and --finetune-from starts a new one "
                          "from a checkpoint's weights: give one of them")


def check_saved(saved: dict, where: str) -> None:
    """A checkpoint's stored options (its ``train`` meta) against the same table:
    unknown names and bad values are a ModelFileError naming the file and the field."""
    unknown = sorted(set(saved) - set(BY_NAME), key=str)
    if unknown:
        raise ModelFileError(f"{where}: metadata field 'train.{unknown[0]}' is unknown; "
                             "expected only the options of `python -m tinyrnn train`")
    for name, value in saved.items():
        problem = None if value is None else _problem(BY_NAME[name], value)
        if problem:
            raise ModelFileError(f"{where}: metadata field 'train.{name}' is "
                                 f"{str(value)[:60]!r}; the option {flag(name)} {problem}")


def add_options(parser) -> None:
    """The table as argparse arguments, in groups, each help ending with its default.

    Every default here is None so that the caller knows which options were
    given (the real defaults are the table's, or the resumed checkpoint's).
    """
    groups = {}
    for o in OPTIONS:
        if o.group not in groups:
            groups[o.group] = parser.add_argument_group(o.group)
        shown = "none" if o.default is None else ("off" if o.default is False else o.default)
        kwargs = dict(help=o.help if "(default:" in o.help else f"{o.help} (default: {shown})")
        if o.name == "data":
            groups[o.group].add_argument("data", nargs="?", metavar=o.metavar, **kwargs)
            continue
        if o.type is bool:
            kwargs.update(action="store_true", default=None)
        else:
            kwargs.update(type=o.type, choices=o.choices, metavar=o.metavar)
        groups[o.group].add_argument(flag(o.name), **kwargs)


@dataclass
class Start:
    """Where a run starts from: a checkpoint to ``"resume"`` or to ``"finetune"``."""

    how: str
    arrays: dict
    meta: dict


def _read_start(source: str, resumable: bool) -> tuple[dict, dict]:
    """A checkpoint to start from; a PyTorch-named ``.safetensors`` file
    (:mod:`tinyrnn.charlm.bridge`) gives a model-only one, for --finetune-from."""
    if not str(source).endswith(".safetensors"):
        return read_checkpoint(source, resumable=resumable)
    if resumable:
        raise OptionError(f"--init-from {source}: a safetensors file holds weights, not a "
                          "run to resume; use --finetune-from")
    try:
        arrays, meta = checkpoint_from_safetensors(source)
    except BridgeError as e:
        raise TrainError(str(e)) from None
    return arrays, {**meta, "path": source}


def resolve_config(given: dict):
    """The run's options: table defaults < the checkpoint's (when resuming) < ``given``.

    ``given`` holds only the options the user set. Returns ``(config, start)``,
    ``start`` being a :class:`Start` or None for a run from scratch.
    """
    unknown = set(given) - set(BY_NAME)
    if unknown:
        raise OptionError(f"unknown training options: {', '.join(sorted(unknown))}")
    check_config(TrainConfig(**given))       # the flags' own errors first
    source = given.get("init_from") or given.get("finetune_from")
    if not source:
        return TrainConfig(**given), None
    how = "resume" if given.get("init_from") else "finetune"
    arrays, meta = _read_start(source, resumable=how == "resume")
    saved = architecture(meta)
    option = "--init-from" if how == "resume" else "--finetune-from"
    clash = [f"{flag(k)} {given[k]} (the checkpoint has {saved[k]})"
             for k in saved if k in given and given[k] != saved[k]]
    if clash:
        raise OptionError(f"{option} {source}: the checkpoint holds another model: "
                          + "; ".join(clash) + ". Leave these options out to use it")
    if "train" in meta:
        check_saved(meta["train"], f"checkpoint {meta['path']!r}")
    if how == "resume":
        saved.update({k: v for k, v in meta["train"].items()
                      if k in BY_NAME and BY_NAME[k].merge == "run"})
        saved["data"] = meta["data"].get("path")
        saved["checkpoint_dir"] = os.path.dirname(os.path.abspath(meta["path"]))
        if "data" not in given and saved["data"] and not os.path.lexists(saved["data"]):
            raise TrainError(f"{option} {source}: the run trained on {saved['data']!r}, "
                             "which does not exist (any more); give the same text's new "
                             "place as DATA")
        if "data" not in given and saved["data"]:
            try:
                check_regular(saved["data"], "the run's text", TrainError)
            except TrainError as e:
                raise TrainError(f"{option} {source}: {e}; give the text as DATA") from None
    cfg = TrainConfig(**{**saved, **given})
    if how == "resume":
        cfg.init_from = meta["path"]
    else:
        cfg.finetune_from = meta["path"]
    return cfg, Start(how, arrays, meta)
