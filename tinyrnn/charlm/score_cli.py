"""``python -m tinyrnn score CKPT TEXT``: nats and bits per character of a text,
and with ``--out DIR`` where the model was surprised.

``--out DIR`` writes::

    losses.csv    position, character, nats (and the second model's nats) for
                  every scored character, written as the text is read
    score.html    the first --detail characters coloured by surprise (or by the
                  difference of two models), the top-5 guesses on hover
    score.png     the first --png-chars of them, the same colours
    summary.md    the totals and, comparing, the losses by kind of character
    summary.json  the totals as numbers
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import sys

import numpy as np

from .data import split_ids
from .errors import EXIT_CODES, OptionError
from .kinds import kind_summary
from .ngram import NGramModel
from .score import ModelScorer, NGramScorer, score_file
from .score_page import score_html, score_png
from .store import load_model
from .textfile import default_corpus, load_ids

__all__ = ["add_score_parser", "run_score", "training_ids"]


def add_score_parser(sub) -> None:
    p = sub.add_parser(
        "score", help="nats and bits per character of a text under a trained model",
        description="Score a UTF-8 text with a char-LM checkpoint: the text is read as one "
                    "piece, the model's state carried, in constant memory. Prints nats and "
                    "bits per character and the perplexity of the characters after the "
                    "first.")
    p.add_argument("checkpoint", metavar="CHECKPOINT",
                   help="a .npz checkpoint (or a directory: its latest.npz)")
    p.add_argument("text", metavar="TEXT", help="the UTF-8 text file to score")
    p.add_argument("--compare", metavar="CKPT|ngram:N",
                   help="score the same characters with a second checkpoint, or with a "
                        "Kneser-Ney N-gram fitted on the checkpoint's training text (or "
                        "on --ngram-text), and colour the difference (default: none)")
    p.add_argument("--ngram-text", metavar="FILE",
                   help="fit --compare ngram:N on this text instead of the run's own "
                        "training part (default: the run's)")
    p.add_argument("--out", metavar="DIR", help="write losses.csv, score.html, score.png "
                   "and summary.md there (default: print the totals only)")
    p.add_argument("--detail", type=int, default=5000, metavar="N",
                   help="characters shown on the page and broken down by kind (default: "
                        "5000)")
    p.add_argument("--png-chars", type=int, default=1200, metavar="N",
                   help="characters drawn in score.png (default: 1200)")
    p.add_argument("--max-chars", type=int, default=None, metavar="N",
                   help="score only the first N characters (default: all)")
    p.add_argument("--skip-unknown", action="store_true",
                   help="leave out characters the model's vocabulary lacks (counted) "
                        "instead of refusing the text (default: off)")
    p.add_argument("--backend", choices=("numpy", "cupy"), default="numpy",
                   help="numpy (CPU) or cupy (CUDA GPU) (default: numpy)")


def training_ids(meta: dict, vocab) -> np.ndarray:
    """The training part of the text a run's checkpoint was trained on, as ids."""
    data, train = meta.get("data") or {}, meta.get("train") or {}
    if not train:
        raise OptionError("--compare ngram:N: the checkpoint records no training text "
                          "(not written by `python -m tinyrnn train`); give --ngram-text")
    if data.get("path"):
        ids, _ = load_ids(data["path"], train.get("max_chars"), vocab,
                          what=f"the run's text {data['path']!r}")
    else:
        text = default_corpus(train.get("max_chars") or 1_000_000)
        ids = vocab.encode(text, what="the default corpus")
    return split_ids(ids, train.get("train_frac", 0.95), train.get("val_frac", 0.05))[0]


def _second_scorer(args, meta, vocab):
    spec = args.compare
    if not spec.startswith("ngram:"):
        model, other_vocab, _ = load_model(spec, args.backend)
        return ModelScorer(model, other_vocab, name=os.path.basename(spec))
    order = spec.partition(":")[2]
    if not order.isdigit() or not 1 <= int(order) <= 64:
        raise OptionError(f"--compare ngram:N needs an order N from 1 to 64, got {spec!r}")
    if args.ngram_text:
        ids, _ = load_ids(args.ngram_text, None, vocab, what=f"--ngram-text {args.ngram_text}")
    else:
        ids = training_ids(meta, vocab)
    return NGramScorer(NGramModel(int(order), len(vocab)).fit(ids), vocab)


def run_score(args: argparse.Namespace) -> int:
    for name in ("detail", "png_chars", "max_chars"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise OptionError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    if args.ngram_text and not (args.compare or "").startswith("ngram:"):
        raise OptionError("--ngram-text is the text an n-gram is fitted on: give it with "
                          "--compare ngram:N")
    model, vocab, meta = load_model(args.checkpoint, args.backend)
    scorers = [ModelScorer(model, vocab, name=f"{model.cell.upper()} "
                           f"{model.num_layers}x{model.hidden_size}")]
    if args.compare:
        scorers.append(_second_scorer(args, meta, vocab))
        if scorers[1].name == scorers[0].name:
            scorers[1].name += " (2)"
    writer = LossWriter(os.path.join(args.out, "losses.csv"), [s.name for s in scorers]) \
        if args.out else None
    try:
        result = score_file(args.text, scorers, detail=args.detail,
                            skip_unknown=args.skip_unknown, max_chars=args.max_chars,
                            on_piece=writer)
    except KeyboardInterrupt:
        if writer is None or writer.file is None:
            raise                                   # "nothing was written"
        writer.close()
        print(f"python -m tinyrnn score: interrupted; {writer.path} holds the losses of "
              f"the first {writer.position:,} characters", file=sys.stderr)
        return EXIT_CODES["interrupted"]
    finally:
        if writer is not None:
            writer.close()
    print(result.summary())
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        _write_pages(args, result, vocab)
    return 0


class LossWriter:
    """``on_piece`` for :func:`score_file`: each piece's losses as CSV rows at
    ``path`` (the file is created with the first piece, after the checks)."""

    def __init__(self, path: str, names: list):
        self.path, self.names, self.file, self.writer, self.position = path, names, None, \
            None, 0

    def __call__(self, piece: str, nlls: list) -> None:
        if self.file is None:
            os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
            self.file = open(self.path, "w", newline="", encoding="utf-8")
            self.writer = csv.writer(self.file)
            self.writer.writerow(["position", "char"] + [f"nats {n}" for n in self.names])
        columns = [np.char.mod("%.5f", nll) for nll in nlls]
        self.writer.writerows((self.position + i, ch, *(c[i] for c in columns))
                              for i, ch in enumerate(piece) if not np.isnan(nlls[0][i]))
        self.position += len(piece)

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


def _write_pages(args, result, vocab) -> None:
    title = f"{os.path.basename(args.text)} scored by {', '.join(result.names)}"
    tables = ""
    if len(result.nll) > 1:
        tables = kind_summary(result.text, *result.nll[:2], result.names[:2])
    with open(os.path.join(args.out, "score.html"), "w", encoding="utf-8") as f:
        f.write(score_html(result, vocab, title, tables))
    try:
        score_png(result, os.path.join(args.out, "score.png"), title, args.png_chars)
    except ImportError:
        print("(no score.png: drawing needs matplotlib)")
    with open(os.path.join(args.out, "summary.md"), "w", encoding="utf-8") as f:
        f.write(f"# {title}\n\n{result.summary()}\n\n{tables}\n")
    with open(os.path.join(args.out, "summary.json"), "w", encoding="utf-8") as f:
        json.dump({"text": os.path.abspath(args.text), "scored_chars": result.scored,
                   "skipped": result.skipped,
                   "models": {n: {"nats_per_char": result.nats_per_char(k),
                                  "bits_per_char": result.bits_per_char(k),
                                  "perplexity": result.perplexity(k)}
                              for k, n in enumerate(result.names)}}, f, indent=1)
    print(f"wrote losses.csv, score.html, score.png, summary.md and summary.json in "
          f"{args.out}")
