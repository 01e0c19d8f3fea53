"""The command line: ``python -m tinyrnn train [DATA]`` and ``python -m tinyrnn sample CKPT``.

Every expected problem (a bad file, a bad option, a checkpoint that does not
fit) ends in one line on stderr and a non-zero exit status, never in a
traceback. Exit status: 0 done, 1 error, 2 bad command line, 3 training
diverged, 130 stopped by Ctrl-C (after saving a checkpoint).
"""
from __future__ import annotations

import argparse
import sys

from .backend import BackendError
from .checkpoint import CheckpointError
from .data import DataError
from .train import (MODELS, OPTIMIZERS, Diverged, TrainConfig, TrainError, Trainer,
                    load_model, resolve_config)

EXPECTED_ERRORS = (TrainError, DataError, CheckpointError, BackendError)
DEFAULTS = TrainConfig()


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line: ``tinyrnn train: error: ...``."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _default(name: str) -> str:
    value = getattr(DEFAULTS, name)
    return "none" if value is None else str(value)


def _train_parser(sub) -> None:
    p = sub.add_parser(
        "train", help="train a character-level language model on a text file",
        description="Train a character-level language model with truncated "
                    "backpropagation through time, in the spirit of Karpathy's char-rnn. "
                    "Checkpoints, a CSV log and a loss plot go to --checkpoint-dir.",
        epilog="Resuming: --init-from DIR/latest.npz continues a run exactly; options "
               "you leave out are taken from the checkpoint. Ctrl-C stops after the "
               "current step and saves.")
    # Defaults are None here so that we know which options were given; the
    # real defaults live in TrainConfig (or come from the resumed checkpoint).
    p.set_defaults(command="train")
    d = _default
    p.add_argument("data", nargs="?", metavar="DATA",
                   help="UTF-8 text file to learn from (default: the Python standard "
                        "library's own source, which every Python has)")
    p.add_argument("--max-chars", type=int, metavar="N",
                   help="use only the first N characters of the text (default: 1000000 "
                        "for the built-in corpus, all of a DATA file)")
    g = p.add_argument_group("model")
    g.add_argument("--model", choices=MODELS,
                   help=f"recurrent cell: rnn, lstm, gru, rwa (recurrent weighted "
                        f"average) or fw (fast weights) (default: {d('model')})")
    g.add_argument("--rnn-size", type=int, metavar="H",
                   help=f"hidden units per layer (default: {d('rnn_size')})")
    g.add_argument("--num-layers", type=int, metavar="L",
                   help=f"stacked recurrent layers (default: {d('num_layers')})")
    g.add_argument("--dropout", type=float, metavar="P",
                   help=f"dropout between the layers and before the output layer, 0 for "
                        f"none (default: {d('dropout')})")
    g = p.add_argument_group("optimisation")
    g.add_argument("--seq-length", type=int, metavar="T",
                   help=f"steps of backpropagation through time per chunk "
                        f"(default: {d('seq_length')})")
    g.add_argument("--batch-size", type=int, metavar="B",
                   help=f"parallel streams of text per step (default: {d('batch_size')})")
    g.add_argument("--optimizer", choices=tuple(OPTIMIZERS),
                   help=f"update rule (default: {d('optimizer')})")
    g.add_argument("--learning-rate", type=float, metavar="LR",
                   help=f"initial learning rate (default: {d('learning_rate')})")
    g.add_argument("--lr-decay", type=float, metavar="F",
                   help=f"multiply the learning rate by F at the end of every epoch, "
                        f"from the --lr-decay-after'th on (default: {d('lr_decay')})")
    g.add_argument("--lr-decay-after", type=int, metavar="E",
                   help=f"start decaying when E epochs are complete, as char-rnn's "
                        f"learning_rate_decay_after (default: {d('lr_decay_after')})")
    g.add_argument("--grad-clip", type=float, metavar="C",
                   help=f"rescale the gradients when their global L2 norm exceeds C; "
                        f"0 turns clipping off (default: {d('grad_clip')})")
    g.add_argument("--max-epochs", type=int, metavar="E",
                   help=f"stop after E passes over the training text "
                        f"(default: {d('max_epochs')})")
    g.add_argument("--max-steps", type=int, metavar="N",
                   help="stop when N updates have been made in total, counting those "
                        "of a resumed run (default: none)")
    g.add_argument("--max-time", type=float, metavar="SECONDS",
                   help="stop after this much training time in this session, then "
                        "validate and save (default: none)")
    g.add_argument("--seed", type=int,
                   help=f"random seed for the initial weights, dropout and samples "
                        f"(default: {d('seed')})")
    g = p.add_argument_group("data split and evaluation")
    g.add_argument("--train-frac", type=float, metavar="F",
                   help=f"fraction of the text to train on (default: {d('train_frac')})")
    g.add_argument("--val-frac", type=float, metavar="F",
                   help=f"fraction after it for validation, 0 for none; the rest is a "
                        f"test part left unused (default: {d('val_frac')})")
    g.add_argument("--val-max-chars", type=int, metavar="N",
                   help="validate on only the first N characters of the validation "
                        "part, to bound the time each validation takes (default: all)")
    g.add_argument("--eval-every", type=int, metavar="N",
                   help=f"validate, print a sample and save checkpoints every N steps, "
                        f"and at the end (default: {d('eval_every')})")
    g.add_argument("--sample-length", type=int, metavar="N",
                   help=f"characters in the sample printed at each validation, 0 for "
                        f"none (default: {d('sample_length')})")
    g = p.add_argument_group("checkpoints and hardware")
    g.add_argument("--checkpoint-dir", metavar="DIR",
                   help=f"where latest.npz, best.npz, log.csv and loss.png go "
                        f"(default: {d('checkpoint_dir')})")
    g.add_argument("--init-from", metavar="CKPT",
                   help="resume from this checkpoint (or directory: its latest.npz); "
                        "options left out are the checkpoint's (default: none)")
    g.add_argument("--overwrite", action="store_true", default=None,
                   help="allow starting a new run in a --checkpoint-dir that holds "
                        "another run's checkpoints (default: refuse)")
    g.add_argument("--backend", choices=("numpy", "cupy"),
                   help=f"numpy (CPU) or cupy (CUDA GPU) (default: {d('backend')})")


def _sample_parser(sub) -> None:
    p = sub.add_parser("sample", help="generate text from a trained checkpoint",
                       description="Generate text from a checkpoint written by "
                                   "`python -m tinyrnn train`.")
    p.set_defaults(command="sample")
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


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m tinyrnn",
                     description="tinyrnn: character-level recurrent language models.")
    sub = parser.add_subparsers(metavar="COMMAND", required=True)
    _train_parser(sub)
    _sample_parser(sub)
    return parser


def run_train(args: argparse.Namespace) -> int:
    given = {k: v for k, v in vars(args).items() if v is not None and k != "command"}
    cfg, resume = resolve_config(given)
    trainer = Trainer(cfg, resume)
    return trainer.run()


def run_sample(args: argparse.Namespace) -> int:
    from .sample import sample
    if args.length < 0:
        raise TrainError(f"--length must be >= 0, got {args.length}")
    if not args.temperature > 0:
        raise TrainError(f"--temperature must be > 0, got {args.temperature}")
    model, vocab, _ = load_model(args.checkpoint, args.backend)
    try:
        text = sample(model, vocab, prime=args.prime, length=args.length,
                      temperature=args.temperature, argmax=args.argmax, seed=args.seed)
    except ValueError as e:            # e.g. prime characters not in the vocabulary
        raise TrainError(f"--prime: {e}") from None
    sys.stdout.write(text + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (see the module docstring)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:            # --help (0) or a usage error (2), already printed
        return e.code if isinstance(e.code, int) else 2
    prog = f"python -m tinyrnn {args.command}"
    try:
        return run_train(args) if args.command == "train" else run_sample(args)
    except Diverged as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return 3
    except EXPECTED_ERRORS as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:          # a second Ctrl-C: the last checkpoint stays
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except OSError as e:               # e.g. an unwritable --checkpoint-dir
        where = f" {e.filename!r}" if e.filename else ""
        print(f"{prog}: error:{where} {e.strerror or e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
