"""A trained char-LM against Kneser-Ney n-grams on exactly its own split, and
where the difference lies (Karpathy, Johnson & Fei-Fei 2015, the comparison
with n-gram models and the error analysis).

Given a checkpoint of ``python -m tinyrnn train``, the script

1. rebuilds the run's text and train / validation split with the functions
   the trainer uses (``tinyrnn.charlm.train.corpus.prepare_data``; checked against the
   validation streams the trainer evaluated);
2. fits n-gram models of every order in ``--orders`` on the training part
   and scores them on the validation part;
3. computes both models' loss at every validation character (the text read in
   one piece is scored by ``python -m tinyrnn score``'s own code,
   ``tinyrnn.charlm.score``; the tables by kind come from ``tinyrnn.charlm.kinds``), read two ways
   with the same information for both: as the trainer validates (``B``
   contiguous pieces, each from scratch) and as one piece (the network's
   state carried through), and compares the network character by character
   with the best n-gram on the text read in one piece (``breakdown.md``,
   ``evidence.png``):

   * by kind of character (indentation, newlines, closing brackets and
     quotes, names, ...), with each kind's part of the mean difference and
     each model's error rate (the paper's errors: p(correct char) < 0.5);
   * closing brackets ) ] } by the distance to their opener, and closing
     quotes by the distance to the opening quote (where the paper finds the
     LSTM's gain: characters like ``}`` whose evidence lies beyond the
     n-gram's context, growing with the distance);
   * all characters by the longest context the n-gram had seen in training;

4. draws the run's validation curve against the n-grams' lines
   (``curve.png``, from the run's ``log.csv``).

    python examples/lstm_vs_ngram.py runs/lstm/best.npz --orders 5-24 --out lstm_vs_ngram
    python examples/lstm_vs_ngram.py --smoke --out /tmp/lvn      # seconds
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare_cells as cc                                  # noqa: E402

from tinyrnn.charlm import (DataError, NGramModel, batchify, load_model, split_ids)      # noqa: E402
from tinyrnn.charlm.options import TrainConfig                   # noqa: E402
from tinyrnn.charlm.errors import ModelFileError, TrainError          # noqa: E402
from tinyrnn.charlm.train.corpus import prepare_data                  # noqa: E402
from tinyrnn.charlm.kinds import (KINDS, QUOTE_EDGES, char_kinds, distance_table,  # noqa: E402,F401
                                  kind_table, quote_distances)
from tinyrnn.charlm.score import ModelScorer, NGramScorer, score_file  # noqa: E402



# ---- the run's data --------------------------------------------------------------------
def run_split(meta: dict):
    """(vocab, train ids, validation ids, config) of the run a checkpoint belongs to.

    The trainer's own ``prepare_data`` reads and splits the text; the raw
    validation ids are cut with the same ``split_ids`` and checked against the
    streams the trainer validates on, so both models see the same characters.
    """
    fields = set(TrainConfig.__dataclass_fields__)
    cfg = TrainConfig(**{k: v for k, v in meta["train"].items() if k in fields})
    _, vocab, _ = load_model(meta["path"])
    data = prepare_data(cfg, vocab)
    from tinyrnn.charlm import default_corpus, load_text       # the text prepare_data read
    if cfg.data is not None:
        text = load_text(cfg.data)[:cfg.max_chars]
    else:                                   # default_corpus's own default when None
        text = default_corpus() if cfg.max_chars is None else default_corpus(cfg.max_chars)
    train, val, _ = split_ids(vocab.encode(text), cfg.train_frac, cfg.val_frac)
    B = data.val.shape[1]
    if not np.array_equal(batchify(val, B, cfg.seq_length), data.val):
        raise SystemExit("lstm_vs_ngram: the validation split differs from the trainer's")
    return vocab, np.asarray(train), np.asarray(val), cfg, B


# ---- the comparison ----------------------------------------------------------------------
def fit_orders(train: np.ndarray, val: np.ndarray, orders, V: int, quiet=False) -> dict:
    """{n: (model, per-character nll on val)} for every order."""
    grams = {}
    for n in orders:
        t0 = time.perf_counter()
        gram = NGramModel(n, V).fit(train)
        grams[n] = (gram, gram.nll(val))
        if not quiet:
            print(f"  {n:2d}-gram: {grams[n][1].mean():.4f} nats/char "
                  f"({time.perf_counter() - t0:.1f}s)", flush=True)
        if n != max(orders):
            grams[n] = (None, grams[n][1])               # keep the memory small
    return grams


def curve_figure(log_csv: str, grams: dict, path: str, title: str) -> None:
    """Validation (and smoothed training) loss of the run against n-gram lines."""
    from matplotlib.figure import Figure
    with open(log_csv) as f:
        rows = list(csv.DictReader(f))
    step = np.array([float(r["step"]) for r in rows])
    train = np.array([float(r["train_loss"]) for r in rows])
    val = np.array([float(r["val_loss"]) if r["val_loss"] else np.nan for r in rows])
    hours = np.array([float(r["time_s"]) for r in rows]) / 3600
    fig = Figure(figsize=(6.4, 4), layout="constrained")
    ax = fig.subplots()
    width = max(1, len(train) // 100)
    smooth = np.convolve(train, np.ones(width) / width, mode="valid")
    ax.plot(step[width - 1:], smooth, lw=0.8, color="0.6", label="training (running mean)")
    ok = ~np.isnan(val)
    ax.plot(step[ok], val[ok], "o-", ms=3, label="validation")
    best = min(grams, key=lambda n: grams[n][1].mean())
    for n, style in ((best, "--"), (min(grams), ":")):
        ax.axhline(grams[n][1].mean(), ls=style, color="C3",
                   label=f"{n}-gram Kneser-Ney ({grams[n][1].mean():.3f})")
    low = grams[min(grams)][1].mean()
    ax.set_ylim(min(np.nanmin(val), grams[best][1].mean(), smooth.min()) - 0.05,
                max(low + 0.3, min(np.nanmax(val), 2.5)))
    ax.set_xlabel("step")
    ax.set_ylabel("nats / char")
    top = ax.secondary_xaxis("top", functions=(
        lambda s: np.interp(s, step, hours), lambda h: np.interp(h, hours, step)))
    top.set_xlabel("hours spent in training steps (wall clock)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=90)


def layouts(model, vocab, gram: NGramModel, val: np.ndarray, B: int, T: int, out: str) -> dict:
    """Both models on the same characters with the same information, two ways.

    ``pieces``: the trainer's validation layout, B contiguous pieces each read
    from scratch (the network from a zero state, the n-gram from an empty
    context). ``whole``: the validation text read in one piece, scored as
    ``python -m tinyrnn score CKPT validation.txt --compare ngram:N`` scores it
    (:func:`tinyrnn.charlm.score.score_file`; the file is written to ``out``).
    Returns {layout: (net nll, gram nll)}, per character, NaN where the
    network made no prediction.
    """
    grid = batchify(val, B, 1)                                   # (N, B): piece b = column b
    net_pieces = cc.per_char_nll(model, val, streams=B, T=T)
    gram_pieces = np.full(len(val), np.nan)
    gram_pieces[:grid.size] = np.concatenate([gram.nll(grid[:, b]) for b in range(B)])
    path = os.path.join(out, "validation.txt")
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(vocab.decode(val))
    whole = score_file(path, [ModelScorer(model, vocab, chunk=T), NGramScorer(gram, vocab)],
                       detail=len(val))
    net_whole, gram_whole = whole.nll
    net_whole[0] = np.nan                         # the first character: no prediction
    return {"pieces": (net_pieces, gram_pieces), "whole": (net_whole, gram_whole)}


def difference_line(label: str, net: np.ndarray, gram: np.ndarray, blocks: int = 50) -> str:
    """Mean losses and their difference, with a standard error from ``blocks``
    contiguous blocks (neighbouring characters are not independent)."""
    keep = ~np.isnan(net)
    diff = (gram - net)[keep]
    block_means = [b.mean() for b in np.array_split(diff, blocks)]
    se = np.std(block_means, ddof=1) / np.sqrt(blocks)
    return (f"| {label} | {keep.sum():,} | {net[keep].mean():.4f} | {gram[keep].mean():.4f} | "
            f"{diff.mean():+.4f} ± {se:.4f} |")


def run(args) -> dict:
    model, vocab, meta = load_model(args.checkpoint)
    vocab, train, val, cfg, B = run_split(meta)
    name = (f"{cfg.model.upper()} {cfg.num_layers}x{cfg.rnn_size}")
    print(f"{name} at step {meta['step']}; {len(train):,} training and {len(val):,} "
          f"validation characters, {len(vocab)} symbols", flush=True)
    grams = fit_orders(train, val, args.orders, len(vocab), args.quiet)
    best = min(grams, key=lambda n: grams[n][1].mean())
    if grams[best][0] is None:
        grams[best] = (NGramModel(best, len(vocab)).fit(train), grams[best][1])
    gram_model = grams[best][0]
    names = (name, f"{best}-gram")
    os.makedirs(args.out, exist_ok=True)
    both = layouts(model, vocab, gram_model, val, B, cfg.seq_length, args.out)
    net_nll, gram_nll = both["whole"]              # the breakdown: the text read in one piece
    text = vocab.decode(val)
    head = [f"{name} (step {meta['step']}) against the best of the n-gram orders tried, "
            f"the {best}-gram (nats/char; difference: {best}-gram minus {name}, positive "
            f"where the network is better, ± one standard error over 50 blocks)", "",
            f"| validation text read as | characters | {name} | {best}-gram | difference |",
            "|---|---|---|---|---|",
            difference_line(f"{B} pieces, each from scratch (the trainer's validation)",
                            *both["pieces"]),
            difference_line("one piece", *both["whole"]), "",
            "| order | " + " | ".join(str(n) for n in grams) + " |",
            "|---|" + "---|" * len(grams),
            "| nats/char (one piece) | " + " | ".join(f"{grams[n][1].mean():.4f}"
                                                    for n in grams) + " |"]
    tables = [kind_table(char_kinds(text), net_nll, gram_nll, names),
              distance_table("closing quotes by distance to the opening quote",
                             quote_distances(text), net_nll, gram_nll, names, QUOTE_EDGES)]
    evidence = cc.evidence_report(text, net_nll, gram_nll, gram_model, val, names,
                                  SimpleNamespace(out=args.out))   # brackets, contexts
    report = "\n".join(head) + "\n\n" + "\n\n".join(tables) + "\n\n" + evidence
    with open(os.path.join(args.out, "breakdown.md"), "w") as f:
        f.write(report)
    log_csv = os.path.join(os.path.dirname(meta["path"]), "log.csv")
    if os.path.exists(log_csv):
        curve_figure(log_csv, grams, os.path.join(args.out, "curve.png"),
                     f"{name}, dropout {cfg.dropout}, BPTT {cfg.seq_length}, "
                     f"{len(train) / 1e6:.2f} M training chars, seed {cfg.seed}")
    summary = {"checkpoint": meta["path"], "step": meta["step"],
               "net_nll": float(np.nanmean(both["pieces"][0])),
               "net_nll_one_piece": float(np.nanmean(net_nll)), "best_order": best,
               "ngram_nll": {n: float(g[1].mean()) for n, g in grams.items()}}
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(report)
    return summary


def _orders(spec: str) -> list[int]:
    """'5-24' -> 5, 6, ..., 24; '5,12,20' -> 5, 12, 20 (ranges and commas mix)."""
    orders = set()
    try:
        for part in spec.split(","):
            lo, _, hi = part.partition("-")
            orders.update(range(int(lo), int(hi or lo) + 1))
    except ValueError:
        orders = set()
    if not orders or min(orders) < 1:
        raise argparse.ArgumentTypeError(f"expected orders >= 1 like 5-24 or 5,12,20, "
                                         f"got {spec!r}")
    return sorted(orders)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", nargs="?",
                   help="a checkpoint of `python -m tinyrnn train` (file, or its directory)")
    p.add_argument("--orders", type=_orders, default=_orders("5-24"),
                   help="n-gram orders to fit: a range lo-hi, a list, or both, "
                        "e.g. 5-24 or 5,12,20 (5-24)")
    p.add_argument("--out", default="lstm_vs_ngram", help="folder for the tables and figures")
    p.add_argument("--smoke", action="store_true",
                   help="train a tiny model for 300 steps first, then compare (seconds)")
    p.add_argument("--quiet", action="store_true", help="do not print each n-gram order as it is fitted")
    args = p.parse_args(argv)
    if not args.smoke and not args.checkpoint:
        p.error("give a checkpoint, or --smoke")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.smoke:
        from tinyrnn.charlm.train.loop import Trainer
        cfg = TrainConfig(max_chars=20_000, rnn_size=16, num_layers=1, seq_length=20,
                          batch_size=8, max_steps=300, eval_every=100, sample_length=0,
                          checkpoint_dir=os.path.join(args.out, "run"), overwrite=True)
        Trainer(cfg).run()
        args.checkpoint, args.orders = os.path.join(cfg.checkpoint_dir, "best.npz"), [2, 3, 4]
    try:
        run(args)
    except (TrainError, ModelFileError, DataError) as e:
        sys.exit(f"lstm_vs_ngram: {e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
