"""The command line: ``python -m tinyrnn train [DATA]``, ``python -m tinyrnn sample CKPT``,
``score CKPT TEXT``, ``report RUN``, ``export`` and ``import``.

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
import os
import sys

from ..backend import BackendError
from ..utils.checkpoint import CheckpointError
from ..utils.threads import check_threads, num_threads, resolve
from .bridge import BridgeError, cli as bridge_cli
from .errors import (EXIT_CODES, DataError, Diverged, Interrupted, ModelFileError, OptionError,
                     TrainError, UnknownCharacters)
from .options import add_options, resolve_config
from .beam import MAX_BEAM_LENGTH
from .next_char import check_sampling
from .sample import generate, sample
from .report import add_report_parser, run_report
from .score_cli import add_score_parser, run_score
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
                                   "`python -m tinyrnn train` or an example). The text is "
                                   "printed as it is made (a line or 256 characters at a "
                                   "time), so Ctrl-C keeps what was shown.")
    p.add_argument("checkpoint", metavar="CHECKPOINT",
                   help="a .npz checkpoint (or a directory: its latest.npz)")
    p.add_argument("--length", type=int, default=2000, metavar="N",
                   help="characters to generate (default: 2000)")
    p.add_argument("--temperature", type=float, default=1.0, metavar="T",
                   help="divide the logits by T (finite, > 0): below 1 is more "
                        "conservative, above 1 more surprising (default: 1.0)")
    p.add_argument("--prime", default="", metavar="TEXT",
                   help="text to start from; the output begins with it (default: none)")
    p.add_argument("--argmax", action="store_true",
                   help="always take the most likely character instead of sampling "
                        "(default: off)")
    p.add_argument("--top-k", type=int, default=None, metavar="K",
                   help="draw only among the K most probable characters (default: all)")
    p.add_argument("--top-p", type=float, default=None, metavar="P",
                   help="draw only among the fewest most probable characters holding at "
                        "least P of the probability, 0 < P <= 1 (default: all)")
    p.add_argument("--beam", type=int, default=None, metavar="N",
                   help="print the most probable continuation found by a beam search "
                        "with N beams (printed at the end; --length at most "
                        f"{MAX_BEAM_LENGTH}) instead of drawing (default: off)")
    p.add_argument("--seed", type=int, default=123,
                   help="random seed of the sampling, >= 0 (default: 123)")
    p.add_argument("--backend", choices=("numpy", "cupy"), default="numpy",
                   help="numpy (CPU) or cupy (CUDA GPU) (default: numpy)")
    p.add_argument("--threads", default="auto", metavar="N",
                   help="threads for NumPy's matrix products (BLAS), or auto: one, as "
                        "sampling runs one stream (default: auto)")


class StreamedText:
    """Text written to ``stream`` as it comes, a line (or ``chunk`` characters) at
    a time, each piece flushed; ``written`` counts the characters shown."""

    def __init__(self, stream, chunk: int = 256):
        self.stream, self.chunk, self.pending, self.written = stream, chunk, [], 0

    def write(self, text: str) -> None:
        self.pending.append(text)
        if "\n" in text or len(self.pending) >= self.chunk:
            self.flush()

    def flush(self) -> None:
        text, self.pending = "".join(self.pending), []
        self.stream.write(text)
        self.stream.flush()
        self.written += len(text)

    def close_quietly(self) -> None:
        """After the reader went away (a broken pipe): no second error at exit."""
        os.dup2(os.open(os.devnull, os.O_WRONLY), self.stream.fileno())


SAMPLE_FLAGS = {"length": "--length", "temperature": "--temperature", "seed": "--seed",
                "top_k": "--top-k", "top_p": "--top-p", "beam": "--beam"}


def _check_sample_options(args: argparse.Namespace) -> None:
    """Every number of ``sample`` in range, or OptionError naming its flag."""
    if args.beam is not None and (args.argmax or args.top_k or args.top_p):
        raise OptionError("--beam prints the most probable continuation; it does not "
                          "combine with --argmax, --top-k or --top-p")
    try:
        check_sampling(args.length, args.temperature, args.argmax, args.seed, args.top_k,
                       args.top_p, args.beam)
    except ValueError as e:        # "sample: top_k must be ..." -> "--top-k must be ..."
        message = str(e).removeprefix("sample: ")
        name = message.split(" ", 1)[0]
        raise OptionError(message.replace(name, SAMPLE_FLAGS.get(name, name), 1)) from None
    if args.beam is not None and args.length > MAX_BEAM_LENGTH:
        raise OptionError(f"--length must be <= {MAX_BEAM_LENGTH} with --beam (every beam's "
                          f"text is held to the end), got {args.length}")
    if check_threads(args.threads):
        raise OptionError(f"--threads {check_threads(args.threads)}, got {args.threads!r}")


def run_sample(args: argparse.Namespace) -> int:
    _check_sample_options(args)
    model, vocab, _ = load_model(args.checkpoint, args.backend)
    if args.beam is not None:      # one piece, at the end: the best beam is known last
        pieces = (sample(model, vocab, args.prime, args.length, args.temperature,
                         beam=args.beam) for _ in range(1))
    else:
        pieces = generate(model, vocab, args.prime, args.length, args.temperature,
                          args.argmax, args.seed, args.top_k, args.top_p)
    out = StreamedText(sys.stdout)
    try:
        with num_threads(resolve(args.threads)):
            for piece in pieces:
                out.write(piece)
        out.write("\n")
        out.flush()
    except UnknownCharacters as e:
        raise OptionError(f"--prime: {e}") from None
    except KeyboardInterrupt:
        out.flush()
        if not out.written:
            raise
        print(f"python -m tinyrnn sample: interrupted after {out.written:,} characters "
              "(printed above)", file=sys.stderr)
        return EXIT_CODES["interrupted"]
    except BrokenPipeError:         # e.g. `| head`: the reader has what it wanted
        out.close_quietly()
    return 0


register("train", _train_parser, run_train)
register("sample", _sample_parser, run_sample)
register("score", add_score_parser, run_score)
register("report", add_report_parser, run_report)
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

