"""The command line: ``python -m tinyrnn train [DATA]``, ``python -m tinyrnn sample CKPT``,
``export`` and ``import``.

Every expected problem (a bad file, a bad option, a checkpoint that does not
fit) ends in one line on stderr and a non-zero exit status, never in a
traceback. Exit status (:data:`.errors.EXIT_CODES`):

    0    done
    1    the data, a checkpoint, a folder or the machine is wrong
    2    the command line is wrong: an unknown option or value, an option out of range
    3    training diverged (the loss or the gradient became NaN or infinite)
    130  stopped by Ctrl-C (the message says which checkpoint is the last one)
    143  stopped by SIGTERM (``kill``, ``timeout``, a job scheduler): ``train``
         saves first, as for a first Ctrl-C

Subcommands are registered in :data:`COMMANDS` (name -> (add_parser, run)),
so a new one is a function pair and one :func:`register` call.
``sample`` imports the checkpoint schema only, never the training loop.
"""
from __future__ import annotations

import argparse
import sys

from ..backend import BackendError
from ..utils.checkpoint import CheckpointError
from ..utils.threads import check_threads, num_threads, resolve
from .bridge import BridgeError, cli as bridge_cli
from .errors import (EXIT_CODES, DataError, Diverged, Interrupted, ModelFileError, OptionError,
                     TrainError)
from .options import add_options, resolve_config
from .sample import sample
from .store import load_model

EXPECTED_ERRORS = (TrainError, DataError, ModelFileError, CheckpointError, BackendError,
                   BridgeError)
COMMANDS: dict = {}          # name -> (add_parser(subparsers), run(args) -> exit status)


def register(name: str, add_parser, run) -> None:
    """Add a subcommand: ``add_parser(subparsers)`` builds it, ``run(args)`` runs it."""
    COMMANDS[name] = (add_parser, run)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line: ``tinyrnn train: error: ...``."""

    def error(self, message: str):
        self.exit(EXIT_CODES["usage"], f"{self.prog}: error: {message} "
                                       f"(see {self.prog} --help)\n")


# ---- train --------------------------------------------------------------------
def _train_parser(sub) -> None:
    p = sub.add_parser(
        "train", help="train a character-level language model on a text file",
        description="Train a character-level language model with truncated "
                    "backpropagation through time, in the spirit of Karpathy's char-rnn. "
                    "Checkpoints, a CSV log and a loss plot go to --checkpoint-dir.",
        epilog="Resuming: --init-from DIR/latest.npz continues a run exactly, in DIR, "
               "on the same text; options you leave out are taken from the checkpoint. "
               "--finetune-from CKPT starts a new run from a checkpoint's weights. "
               "Ctrl-C or SIGTERM stops after the current step and saves. Exit status: "
               "0 done, 1 bad data / checkpoint / folder / machine, 2 bad command line, "
               "3 diverged, 130 Ctrl-C, 143 SIGTERM.")
    add_options(p)


def run_train(args: argparse.Namespace) -> int:
    from .train import Trainer          # only training needs the loop
    given = {k: v for k, v in vars(args).items() if v is not None and k != "command"}
    cfg, start = resolve_config(given)
    return Trainer(cfg, start).run()


# ---- sample -------------------------------------------------------------------
def _sample_parser(sub) -> None:
    p = sub.add_parser("sample", help="generate text from a trained checkpoint",
                       description="Generate text from a char-LM checkpoint (written by "
                                   "`python -m tinyrnn train` or an example).")
    p.add_argument("checkpoint", metavar="CHECKPOINT",
                   help="a .npz checkpoint (or a directory: its latest.npz)")
    p.add_argument("--length", type=int, default=2000, metavar="N",
                   help="characters to generate (default: 2000)")
    p.add_argument("--temperature", type=float, default=1.0, metavar="T",
                   help="divide the logits by T: below 1 is more conservative, above 1 "
                        "more surprising (default: 1.0)")
    p.add_argument("--prime", default="", metavar="TEXT",
                   help="text to start from; the output begins with it (default: none)")
    p.add_argument("--argmax", action="store_true",
                   help="always take the most likely character instead of sampling "
                        "(default: off)")
    p.add_argument("--seed", type=int, default=123,
                   help="random seed of the sampling (default: 123)")
    p.add_argument("--backend", choices=("numpy", "cupy"), default="numpy",
                   help="numpy (CPU) or cupy (CUDA GPU) (default: numpy)")
    p.add_argument("--threads", default="auto", metavar="N",
                   help="threads for NumPy's matrix products (BLAS), or auto: one, as "
                        "sampling runs one stream (default: auto)")


def run_sample(args: argparse.Namespace) -> int:
    if args.length < 0:
        raise OptionError(f"--length must be >= 0, got {args.length}")
    if not args.temperature > 0:
        raise OptionError(f"--temperature must be > 0, got {args.temperature}")
    if check_threads(args.threads):
        raise OptionError(f"--threads {check_threads(args.threads)}, got {args.threads!r}")
    model, vocab, _ = load_model(args.checkpoint, args.backend)
    try:
        with num_threads(resolve(args.threads)):
            text = sample(model, vocab, prime=args.prime, length=args.length,
                          temperature=args.temperature, argmax=args.argmax, seed=args.seed)
    except ValueError as e:            # e.g. prime characters not in the vocabulary
        raise OptionError(f"--prime: {e}") from None
    sys.stdout.write(text + "\n")
    return 0


register("train", _train_parser, run_train)
register("sample", _sample_parser, run_sample)
register("export", bridge_cli.add_export_parser, bridge_cli.run_export)
register("import", bridge_cli.add_import_parser, bridge_cli.run_import)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m tinyrnn",
                     description="tinyrnn: character-level recurrent language models.")
    sub = parser.add_subparsers(metavar="COMMAND", required=True, dest="command")
    for add_parser, _ in COMMANDS.values():
        add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (see the module docstring)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:            # --help (0) or a usage error (2), already printed
        return e.code if isinstance(e.code, int) else EXIT_CODES["usage"]
    prog = f"python -m tinyrnn {args.command}"
    try:
        return COMMANDS[args.command][1](args)
    except Diverged as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return EXIT_CODES["diverged"]
    except OptionError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return EXIT_CODES["usage"]
    except EXPECTED_ERRORS as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return EXIT_CODES["error"]
    except Interrupted as e:           # a second Ctrl-C during training
        print(f"{prog}: {e}", file=sys.stderr)
        return EXIT_CODES["interrupted"]
    except KeyboardInterrupt:          # Ctrl-C before training started, or while sampling
        print(f"{prog}: interrupted; nothing was written", file=sys.stderr)
        return EXIT_CODES["interrupted"]
    except OSError as e:               # e.g. an unwritable --checkpoint-dir
        where = f" {e.filename!r}" if e.filename else ""
        print(f"{prog}: error:{where} {e.strerror or e}", file=sys.stderr)
        return EXIT_CODES["error"]

