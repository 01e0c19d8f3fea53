"""Associative retrieval (Ba, Hinton, Mnih, Leibo & Ionescu 2016, "Using Fast
Weights to Attend to the Recent Past"), rerun with tinyrnn.

Each sequence lists K pairs of a key letter and a value digit, then ``??``
and one of the keys; the answer is that key's digit::

    c9k8j3f1??c  ->  9          (K = 4)

The network reads the 2K + 3 characters one at a time and answers from its
last hidden state. A fast-weights RNN stores its recent hidden states in the
fast memory A and can look the key up there; an ordinary RNN of R units has
to squeeze all K pairs into its hidden vector.

The model, as in the paper: a learned 100-d embedding -> one recurrent layer
of R units -> 100 ReLUs -> softmax over the 10 digits. The recurrent layer is
one of (built by name with :func:`tinyrnn.nn.make_cell`)::

    RNN-LN-FW   fast weights with layer norm (lam 0.95, eta 0.5, S 1)
    RNN-LN      the same ReLU RNN with layer norm, without the fast memory
    CONTROL     a plain tanh RNN
    GRU-LN      a GRU with layer norm
    LSTM        a plain LSTM

Subcommands (all write into ``--out``)::

    python examples/associative_retrieval.py train --models RNN-LN-FW,RNN-LN --hidden 50
    python examples/associative_retrieval.py test        # results.md: accuracy per model and R
    python examples/associative_retrieval.py plot        # retrieval_curves.png
    python examples/associative_retrieval.py plot --hidden 50   # only the runs with R = 50
    python examples/associative_retrieval.py all --smoke # all three, in seconds

``train`` saves ``<model>_R<R>.npz`` (a tinyrnn checkpoint: the weights and,
in its meta, the options and the training history) for every model and size.
The data are fixed by ``--seed``: a training set of ``--train-size``
sequences, a validation set and a test set of 10,000 (the paper used
100,000 / 10,000 / 10,000).
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import time

import numpy as np

import tinyrnn as tr
from tinyrnn import nn, optim
from tinyrnn.utils import checkpoint
from tinyrnn.tasks import associative_retrieval
from tinyrnn.charlm.store import load_params, param_arrays

MODELS = ("RNN-LN-FW", "RNN-LN", "CONTROL", "GRU-LN", "LSTM")
NUM_SYMBOLS, NUM_DIGITS = 37, 10


class RetrievalNet(nn.Module):
    """Embedding (37 -> E) -> one recurrent cell of R units -> ReLU layer -> 10 logits.

    ``forward(ids (L, B) int) -> logits (B, 10)`` from the hidden state after
    the last character (the query key).
    """

    def __init__(self, model: str, hidden_size: int, embedding_dim: int = 100,
                 readout_size: int = 100):
        self.embedding = nn.Embedding(NUM_SYMBOLS, embedding_dim)
        cell = nn.make_cell(model, embedding_dim, hidden_size)
        self.rnn = nn.Recurrent([cell])
        self.hidden = nn.Linear(hidden_size, readout_size)
        self.out = nn.Linear(readout_size, NUM_DIGITS)

    def forward(self, ids):
        states, _ = self.rnn(self.embedding(ids))                # (L, B, R)
        return self.out(tr.relu(self.hidden(states[-1])))        # (B, 10)


# ---- data --------------------------------------------------------------------------
def make_data(K: int, train_size: int, test_size: int, seed: int) -> dict:
    """Train / validation / test sets, each ``(x (2K+3, n), y (n,))``, fixed by ``seed``."""
    sets = {}
    for k, (name, n) in enumerate((("train", train_size), ("val", test_size),
                                   ("test", test_size))):
        x, y, _ = associative_retrieval(n, K, np.random.default_rng([seed, k]))
        sets[name] = (x, y)
    return sets


def evaluate(net: RetrievalNet, x: np.ndarray, y: np.ndarray, batch: int = 1000
             ) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of ``net`` on the sequences x (L, n), answers y (n,)."""
    net.eval()
    loss, correct = 0.0, 0
    with tr.no_grad():
        for s in range(0, len(y), batch):
            logits = net(tr.tensor(x[:, s:s + batch]))
            yb = y[s:s + batch]
            loss += tr.cross_entropy(logits, tr.tensor(yb), reduction="sum").item()
            correct += int((logits.numpy().argmax(axis=1) == yb).sum())
    net.train()
    return loss / len(y), correct / len(y)


# ---- train -------------------------------------------------------------------------
def train_one(model: str, R: int, data: dict, args) -> dict:
    """Train one model; returns its history (lists per evaluation) and saves a checkpoint."""
    tr.manual_seed(args.seed)
    net = RetrievalNet(model, R)
    opt = optim.Adam(net.parameters(), lr=args.lr)
    x_train, y_train = data["train"]
    x_val, y_val = data["val"]
    n_val = min(len(y_val), args.val_size)
    rng = np.random.default_rng(args.seed)
    order, pos = rng.permutation(len(y_train)), 0
    history = {"step": [], "seconds": [], "cpu_seconds": [], "train_loss": [],
               "train_acc": [], "val_loss": [], "val_acc": []}
    run_loss, run_correct, run_count = 0.0, 0, 0
    start, cpu_start = time.perf_counter(), time.process_time()
    for step in range(1, args.steps + 1):
        if pos + args.batch > len(order):                       # next epoch
            order, pos = rng.permutation(len(y_train)), 0
        idx = order[pos:pos + args.batch]
        pos += args.batch
        logits = net(tr.tensor(x_train[:, idx]))
        loss = tr.cross_entropy(logits, tr.tensor(y_train[idx]))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), args.clip)
        opt.step()
        run_loss += loss.item() * len(idx)
        run_correct += int((logits.numpy().argmax(axis=1) == y_train[idx]).sum())
        run_count += len(idx)
        elapsed = time.perf_counter() - start
        out_of_time = args.max_time is not None and elapsed > args.max_time
        if step % args.eval_every == 0 or step == args.steps or out_of_time:
            val_loss, val_acc = evaluate(net, x_val[:, :n_val], y_val[:n_val])
            for key, value in (("step", step), ("seconds", round(elapsed, 1)),
                               ("cpu_seconds", round(time.process_time() - cpu_start, 1)),
                               ("train_loss", run_loss / run_count),
                               ("train_acc", run_correct / run_count),
                               ("val_loss", val_loss), ("val_acc", val_acc)):
                history[key].append(value)
            run_loss, run_correct, run_count = 0.0, 0, 0
            if not args.quiet:
                print(f"  {model:9s} R={R:<3d} step {step:6d}  {elapsed:7.1f}s  "
                      f"train loss {history['train_loss'][-1]:.3f}  "
                      f"val loss {val_loss:.3f}  val acc {val_acc:.1%}", flush=True)
        if out_of_time:
            break
    meta = {"model": model, "hidden_size": R, "K": args.K, "seed": args.seed,
            "lr": args.lr, "batch": args.batch, "clip": args.clip,
            "train_size": args.train_size, "history": history}
    checkpoint.save(os.path.join(args.out, f"{model}_R{R}.npz"), param_arrays(net), meta)
    return history


def cmd_train(args) -> None:
    data = make_data(args.K, args.train_size, args.test_size, args.seed)
    for R in args.hidden:
        for model in args.models:
            train_one(model, R, data, args)


# ---- test --------------------------------------------------------------------------
def load_net(path: str) -> tuple[RetrievalNet, dict]:
    """A trained RetrievalNet and its meta; one line (SystemExit) if the file is unusable."""
    try:
        arrays, meta = checkpoint.load(path)
        net = RetrievalNet(meta["model"], meta["hidden_size"])
        load_params(net, arrays)
    except (checkpoint.CheckpointError, KeyError, TypeError, ValueError) as e:
        raise SystemExit(f"associative_retrieval.py: error: {path}: not a retrieval "
                         f"checkpoint of this script ({e})") from None
    return net, meta


def checkpoints(out: str) -> list[str]:
    paths = sorted(glob.glob(os.path.join(out, "*_R*.npz")))
    if not paths:
        raise SystemExit(f"no checkpoints (<model>_R<R>.npz) in {out!r}; run `train` first")
    return paths


def cmd_test(args) -> list[dict]:
    """Test accuracy of every checkpoint in --out; writes results.md and results.json."""
    rows, data = [], {}
    for path in checkpoints(args.out):
        net, meta = load_net(path)
        key = (meta["K"], meta["seed"])
        if key not in data:        # the same test set the model's training run drew
            data[key] = make_data(meta["K"], 1, args.test_size, meta["seed"])["test"]
        loss, acc = evaluate(net, *data[key])
        hist = meta["history"]
        rows.append({"model": meta["model"], "R": meta["hidden_size"], "K": meta["K"],
                     "test_loss": loss, "test_acc": acc,
                     "steps": hist["step"][-1] if hist["step"] else 0,
                     "seconds": hist["seconds"][-1] if hist["seconds"] else 0.0,
                     "cpu_seconds": (hist.get("cpu_seconds") or [0.0])[-1]})
    table = results_table(rows)
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(table)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(rows, f, indent=1)
    print(table)
    return rows


def results_table(rows: list[dict]) -> str:
    """Markdown: one row per model, one column per R, cells "accuracy (steps, time)"."""
    sizes = sorted({r["R"] for r in rows})
    models = [m for m in MODELS if any(r["model"] == m for r in rows)]
    lines = ["| model | " + " | ".join(f"R = {R}" for R in sizes) + " |",
             "|---|" + "---|" * len(sizes)]
    for m in models:
        cells = []
        for R in sizes:
            hit = [r for r in rows if r["model"] == m and r["R"] == R]
            cells.append("" if not hit else
                         f"{hit[0]['test_acc']:.1%} ({hit[0]['steps']} steps, "
                         f"{hit[0]['seconds'] / 60:.1f} min)")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# ---- plot --------------------------------------------------------------------------
def cmd_plot(args) -> str:
    """Validation loss and accuracy of every run in --out on one figure."""
    from tinyrnn import viz
    runs = {}
    for path in checkpoints(args.out):
        _, meta = checkpoint.load(path)
        if args.plot_sizes is not None and meta["hidden_size"] not in args.plot_sizes:
            continue
        h = meta["history"]
        runs[f"{meta['model']} R={meta['hidden_size']}"] = {
            "step": h["step"], "loss": h["val_loss"], "accuracy": h["val_acc"]}
    if not runs:
        raise SystemExit(f"no checkpoints of R in {args.plot_sizes} in {args.out!r}")
    path = os.path.join(args.out, "retrieval_curves.png")
    viz.plot_curves(runs, path=path, title=f"Associative retrieval: validation "
                    f"(K = {args.K})")
    print(f"wrote {path}")
    return path


# ---- command line ------------------------------------------------------------------
SMOKE = {"models": list(MODELS), "hidden": [8], "plot_sizes": [8], "steps": 3, "train_size": 64,
         "test_size": 64, "val_size": 64, "batch": 16, "eval_every": 2}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", choices=("train", "test", "plot", "all"),
                   help="train the models, test the saved ones, plot their curves, or all")
    p.add_argument("--models", default="RNN-LN-FW,RNN-LN,CONTROL,GRU-LN,LSTM",
                   help="comma-separated models (default: all five)")
    p.add_argument("--hidden", default=None,
                   help="comma-separated sizes R: train these (default 50); plot only "
                        "these (default: every checkpoint in --out)")
    p.add_argument("--K", type=int, default=4, help="key-value pairs (4)")
    p.add_argument("--steps", type=int, default=20000, help="training steps per model (20000)")
    p.add_argument("--max-time", type=float, default=None,
                   help="stop each model's training after this many seconds (no limit)")
    p.add_argument("--batch", type=int, default=128, help="batch size (128)")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam's learning rate (1e-3)")
    p.add_argument("--clip", type=float, default=5.0, help="global gradient-norm clip (5)")
    p.add_argument("--train-size", type=int, default=100_000,
                   help="training sequences (100,000)")
    p.add_argument("--test-size", type=int, default=10_000,
                   help="validation and test sequences each (10,000)")
    p.add_argument("--val-size", type=int, default=2000,
                   help="validation sequences scored at each evaluation (2000)")
    p.add_argument("--eval-every", type=int, default=250,
                   help="validate every N steps (250)")
    p.add_argument("--seed", type=int, default=0, help="random seed of data and weights (0)")
    p.add_argument("--out", default="retrieval_out",
                   help="folder of checkpoints, tables and figures (retrieval_out)")
    p.add_argument("--smoke", action="store_true", help="a tiny run that takes seconds")
    p.add_argument("--quiet", action="store_true", help="print only the results")
    args = p.parse_args(argv)
    args.models = [m.strip().upper() for m in args.models.split(",") if m.strip()]
    for m in args.models:
        if m not in MODELS:
            p.error(f"--models: unknown model {m!r}; expected some of {', '.join(MODELS)}")
    try:
        args.plot_sizes = None if args.hidden is None else \
            [int(h) for h in args.hidden.split(",")]
        args.hidden = args.plot_sizes or [50]
    except ValueError:
        p.error(f"--hidden must be comma-separated integers; got {args.hidden!r}")
    if args.smoke:
        for key, value in SMOKE.items():
            setattr(args, key, value)
    for name in ("K", "steps", "batch", "train_size", "test_size", "val_size", "eval_every"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    if any(h < 1 for h in args.hidden):
        p.error("--hidden sizes must be at least 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.command in ("plot", "all"):
        try:
            import matplotlib  # noqa: F401  (checked before the training, not after)
        except ImportError:
            raise SystemExit(f"associative_retrieval.py: error: `{args.command}` draws "
                             "with matplotlib: pip install matplotlib") from None
    os.makedirs(args.out, exist_ok=True)
    start = time.perf_counter()
    if args.command in ("train", "all"):
        cmd_train(args)
    if args.command in ("test", "all"):
        cmd_test(args)
    if args.command in ("plot", "all"):
        cmd_plot(args)
    if not args.quiet:
        print(f"done in {time.perf_counter() - start:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
