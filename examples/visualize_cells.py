"""Find the interpretable cells of a character-level model trained on code
(Karpathy, Johnson & Fei-Fei 2015, Section 4.2), and colour the text by them.

The script trains a small LSTM on the default corpus (Python's standard
library) for a few minutes -- or loads a checkpoint -- then reads a stretch of
validation text, records every unit's activation (tanh(c) for an LSTM, h
otherwise) after each character, and for each of three signals finds the
units whose activation follows it best (Pearson correlation, either sign):

    inside_string    1 inside a string literal, 0 outside
    line_position    the column: 1, 2, 3 ... reset by each newline
    indent_depth     the indentation of the current line

For the best ``--top`` units of each signal it writes an HTML page and a PNG
with every character coloured from red (-1) through white to blue (+1), and
an ``index.html`` linking them, into ``--out``. Karpathy et al. found such
cells in LSTMs trained on the Linux kernel (Karpathy's blog post estimates
that about 5% of cells are interpretable; most are not).

    python examples/visualize_cells.py --steps 3000 --out cells_out
    python examples/visualize_cells.py --checkpoint checkpoints/best.npz
    python examples/visualize_cells.py --smoke --out /tmp/cells     # seconds

A checkpoint is a tinyrnn char-LM checkpoint (``tinyrnn.charlm.store``):
``python -m tinyrnn train``, ``examples/char_rnn.py`` and
``examples/compare_cells.py`` write them, and so does ``--save`` here. The
PNGs need matplotlib.
"""
from __future__ import annotations

import argparse
import html
import os
import sys
import time

import numpy as np

import tinyrnn as tr
from tinyrnn import nn, optim, viz
from tinyrnn.charlm import CharLM, CharVocab, batchify, bptt_batches, default_corpus, split_ids
from tinyrnn.charlm import store

SIGNALS = {"inside_string": viz.inside_string, "line_position": viz.line_position,
           "indent_depth": viz.indent_depth}


def load(path: str) -> tuple[CharLM, CharVocab]:
    """A CharLM and its vocabulary from a char-LM checkpoint (one line if it fails)."""
    try:
        model, vocab, _ = store.load_model(path)
    except store.ModelFileError as e:
        raise SystemExit(f"visualize_cells.py: error: {e}") from None
    return model, vocab


def train(text: str, args) -> tuple[CharLM, CharVocab]:
    """A brief char-rnn-style training run (Adam, truncated BPTT, clipping at 5)."""
    vocab = CharVocab(text)
    train_ids, _, _ = split_ids(vocab.encode(text), 0.95, 0.05)
    tr.manual_seed(args.seed)
    model = CharLM(len(vocab), args.hidden, args.layers, cell=args.cell,
                      **({"forget_bias": 1.0} if args.cell == "lstm" else {}))
    opt = optim.Adam(model.parameters(), lr=args.lr)
    streams = batchify(train_ids, args.batch, args.seq_length)
    step, start, running = 0, time.perf_counter(), []
    while step < args.steps:
        state = None
        for x, y in bptt_batches(streams, args.seq_length):
            logits, state = model(tr.tensor(x), state)
            loss = tr.cross_entropy(logits, tr.tensor(y))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            state = nn.detach_state(state)
            running.append(loss.item())
            step += 1
            if step % args.log_every == 0 and not args.quiet:
                print(f"  step {step:5d}  {time.perf_counter() - start:6.1f}s  "
                      f"train loss {np.mean(running):.3f}", flush=True)
                running = []
            if step == args.steps or (args.max_time and
                                      time.perf_counter() - start > args.max_time):
                return model, vocab
    return model, vocab


def find_units(model: CharLM, text: str, vocab: CharVocab, top: int):
    """For each signal, the ``top`` units (over all layers) that follow it best:
    {signal: [(layer, unit, r), ...]}, and the activations {layer: (N, H)}."""
    records = viz.trace(model, vocab.encode(text))
    acts = {k: viz.unit_values(records, k) for k in range(len(records))}
    found = {}
    for name, signal_fn in SIGNALS.items():
        signal = signal_fn(text)
        ranked = [(k, u, r) for k, a in acts.items() for u, r in viz.rank_units(a, signal)]
        found[name] = sorted(ranked, key=lambda t: -abs(t[2]))[:top]
    return found, acts


def write_pages(found: dict, acts: dict, text: str, kind: str, args) -> str:
    """Per unit an HTML page and a PNG; returns the path of index.html."""
    items = []
    for name, units in found.items():
        for rank, (layer, unit, r) in enumerate(units, 1):
            stem = f"{name}_{rank}_layer{layer + 1}_unit{unit}"
            values = acts[layer][:, unit]
            title = (f"{name}: layer {layer + 1}, unit {unit} ({kind}), "
                     f"correlation {r:+.2f}")
            viz.activation_html(text, values, path=os.path.join(args.out, stem + ".html"),
                                title=title)
            viz.plot_activation(text[:args.png_chars], values[:args.png_chars],
                                path=os.path.join(args.out, stem + ".png"), title=title)
            items.append(f'<li><a href="{stem}.html">{html.escape(title)}</a> '
                         f'(<a href="{stem}.png">png</a>)</li>')
    index = os.path.join(args.out, "index.html")
    with open(index, "w", encoding="utf-8") as f:
        f.write("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Interpretable "
                "cells</title></head><body>\n<h2>Units that follow a signal best</h2>\n<ul>\n"
                + "\n".join(items) + "\n</ul></body></html>\n")
    return index


SMOKE = {"chars": 20_000, "hidden": 16, "layers": 1, "steps": 3, "batch": 8,
         "seq_length": 20, "text_chars": 300, "png_chars": 60, "top": 1, "log_every": 1}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", help="load this char-LM checkpoint instead of "
                   "training a model (default: train one)")
    p.add_argument("--cell", default="lstm", choices=("rnn", "gru", "lstm"),
                   help="recurrent cell of the model trained here (default: lstm)")
    p.add_argument("--hidden", type=int, default=128,
                   help="hidden units per layer (default: 128)")
    p.add_argument("--layers", type=int, default=2, help="recurrent layers (default: 2)")
    p.add_argument("--chars", type=int, default=1_000_000,
                   help="characters of the default corpus to use (default: 1,000,000)")
    p.add_argument("--steps", type=int, default=3000, help="training steps (default: 3000)")
    p.add_argument("--max-time", type=float, default=None,
                   help="stop training after this many seconds (default: no limit)")
    p.add_argument("--batch", type=int, default=50,
                   help="parallel text streams per step (default: 50)")
    p.add_argument("--seq-length", type=int, default=100,
                   help="steps of backpropagation through time (default: 100)")
    p.add_argument("--lr", type=float, default=2e-3, help="Adam's learning rate (default: 2e-3)")
    p.add_argument("--text-chars", type=int, default=5000,
                   help="validation characters to score units on and colour (default: 5000)")
    p.add_argument("--png-chars", type=int, default=1500,
                   help="characters drawn in a PNG (default: 1500)")
    p.add_argument("--top", type=int, default=3, help="units shown per signal (default: 3)")
    p.add_argument("--log-every", type=int, default=100,
                   help="print the training loss every N steps (default: 100)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--out", default="cells_out",
                   help="folder for the HTML pages and PNGs (default: cells_out)")
    p.add_argument("--save", help="save the trained model to this .npz, a char-LM "
                   "checkpoint that `python -m tinyrnn sample` reads (default: not saved)")
    p.add_argument("--smoke", action="store_true",
                   help="a tiny model and text, for a test that takes seconds; options "
                        "given on the command line win over its settings")
    p.add_argument("--quiet", action="store_true", help="print only the results")
    args = p.parse_args(argv)
    if args.smoke:                  # its settings replace the defaults, not what was given
        p.set_defaults(**SMOKE)
        args = p.parse_args(argv)
    for name in ("hidden", "layers", "steps", "batch", "seq_length", "text_chars",
                 "png_chars", "top", "chars"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        import matplotlib  # noqa: F401  (the PNGs; checked before minutes of training)
    except ImportError:
        raise SystemExit("visualize_cells.py: error: the PNGs need matplotlib: pip install "
                         "matplotlib") from None
    os.makedirs(args.out, exist_ok=True)
    start = time.perf_counter()
    text = default_corpus(args.chars)
    if args.checkpoint:
        model, vocab = load(args.checkpoint)
        unknown = sorted(set(text) - set(vocab.chars))
        if unknown:        # keep only what the model can read
            text = "".join(ch for ch in text if ch in vocab)
    else:
        model, vocab = train(text, args)
        if args.save:
            store.save_model(args.save, model, vocab)
    _, val_ids, _ = split_ids(vocab.encode(text), 0.95, 0.05)
    snippet = vocab.decode(val_ids[:args.text_chars])
    kind = "tanh(c)" if model.cell == "lstm" else "h"
    found, acts = find_units(model, snippet, vocab, args.top)
    index = write_pages(found, acts, snippet, kind, args)
    for name, units in found.items():
        best = ", ".join(f"layer {k + 1} unit {u} (r = {r:+.2f})" for k, u, r in units)
        print(f"{name:14s} {best}")
    print(f"wrote {index} in {time.perf_counter() - start:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
