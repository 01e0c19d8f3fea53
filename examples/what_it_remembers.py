"""What each cell remembers: RNN, LSTM, GRU, RWA and fast weights trained on the
same text for the same time (or the same number of steps), then looked at two ways.

1. **Connectivity** (Madsen, Distill 2019): over a window of validation text,
   ``||d y_t / d x_s||``, how much the prediction after character t depends
   on the input character s, computed with the engine's own backward
   (``tinyrnn.viz.connectivity``). ``memory_by_distance.png`` draws, for every
   cell, its mean (each row scaled by its largest entry) against the
   distance t - s: a curve that falls fast is a short memory.
2. **Top guesses** (Karpathy 2015): the five most probable next characters
   under each character of the window (``tinyrnn.viz.top_guesses``).

Each cell trains with ``python -m tinyrnn train``'s loop for ``--seconds`` of
training steps (the same wall-clock budget, one BLAS thread), or with
``--steps N`` for N updates each (the same number of updates, whatever the
machine's speed), then is scored on the validation part with the state carried
(bits per character).

    python examples/what_it_remembers.py --seconds 120 --out remember
    python examples/what_it_remembers.py --smoke --out /tmp/remember      # seconds
    python examples/what_it_remembers.py --smoke --steps 60 --out /tmp/remember  # the test's
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from tinyrnn import viz
from tinyrnn.charlm import load_model
from tinyrnn.charlm.options import TrainConfig
from tinyrnn.charlm.score import ModelScorer
from tinyrnn.charlm.train import Trainer

CELLS = ("rnn", "lstm", "gru", "rwa", "fw")
NAMES = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU", "rwa": "RWA", "fw": "fast weights"}


def train_cell(cell: str, args) -> tuple:
    """(model, vocab, trainer) of one cell trained for --seconds, or for --steps updates."""
    cfg = TrainConfig(data=args.data, max_chars=args.chars, model=cell, rnn_size=args.size,
                      num_layers=1, seq_length=50, batch_size=32,
                      max_time=None if args.steps else args.seconds,
                      max_steps=args.steps or 10 ** 9, eval_every=10 ** 9, sample_length=0,
                      threads="1",
                      seed=args.seed, checkpoint_dir=os.path.join(args.out, cell),
                      overwrite=True)
    trainer = Trainer(cfg, out=open(os.devnull, "w"))
    trainer.run()
    model, vocab, meta = load_model(os.path.join(cfg.checkpoint_dir, "latest.npz"))
    return model, vocab, trainer


def bits_per_char(model, vocab, ids: np.ndarray) -> float:
    """The validation ids read as one piece, the state carried."""
    nll = ModelScorer(model, vocab).feed(ids)[0]
    return float(np.nanmean(nll) / np.log(2))


def run(args) -> str:
    budget = (f"{args.steps} training steps" if args.steps
              else f"{args.seconds:g} s of training steps")
    os.makedirs(args.out, exist_ok=True)
    curves, rows, window = {}, [], None
    for cell in args.cells:
        model, vocab, trainer = train_cell(cell, args)
        val = trainer.data.val.T.reshape(-1)          # the validation streams, in order
        if window is None:
            window = vocab.decode(val[args.skip:args.skip + args.window + 1])
        name = NAMES[cell]
        C = viz.connectivity_matrix(model, window, vocab)
        curves[name] = viz.memory_by_distance(C)
        viz.connectivity(model, window, vocab, os.path.join(args.out, f"connectivity_{cell}.png"),
                         title=f"{name}: ||dy_t/dx_s|| over a validation window")
        viz.top_guesses(model, window, vocab, os.path.join(args.out, f"guesses_{cell}.png"),
                        width=min(60, len(window) - 1))
        far = curves[name][min(10, len(C) - 1):].mean()
        rows.append(f"| {name} | {trainer.step} | {bits_per_char(model, vocab, val):.3f} | "
                    f"{far:.3f} |")
        print(rows[-1], flush=True)
    viz.plot_memory_by_distance(curves, os.path.join(args.out, "memory_by_distance.png"),
                                title=f"{budget} each, hidden size {args.size}")
    table = "\n".join([f"{budget} per cell, one layer of "
                       f"{args.size} units, {args.chars:,} characters of text", "",
                       "| cell | steps | validation bits/char | mean connectivity 10+ "
                       "characters back |", "|---|---|---|---|", *rows])
    with open(os.path.join(args.out, "results.md"), "w", encoding="utf-8") as f:
        f.write(table + "\n")
    return table


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", help="a UTF-8 text file (default: the Python standard library)")
    p.add_argument("--chars", type=int, default=300_000, help="characters of it to use (300000)")
    p.add_argument("--seconds", type=float, default=120.0,
                   help="seconds of training steps per cell (120)")
    p.add_argument("--steps", type=int,
                   help="train each cell for this many updates instead of --seconds "
                        "(the same number of steps, not the same time)")
    p.add_argument("--size", type=int, default=128, help="hidden units of the one layer (128)")
    p.add_argument("--window", type=int, default=80,
                   help="characters of validation text looked at (80)")
    p.add_argument("--skip", type=int, default=1000,
                   help="where the window starts in the validation text")
    p.add_argument("--cells", nargs="+", choices=CELLS, default=list(CELLS),
                   help="the cells to train and compare (default: all five)")
    p.add_argument("--seed", type=int, default=1, help="seed of the weights and batches")
    p.add_argument("--out", default="what_it_remembers", help="folder for the runs and figures")
    p.add_argument("--smoke", action="store_true",
                   help="tiny models, a second each (with --steps N: N updates each)")
    args = p.parse_args(argv)
    if args.steps is not None and args.steps < 1:
        p.error(f"--steps must be >= 1, got {args.steps}")
    if args.smoke:
        args.chars, args.seconds, args.size, args.window, args.skip = 20_000, 0.3, 12, 12, 0
    return args


def main(argv=None) -> int:
    print(run(parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
