"""Recurrent Weighted Average against LSTM (Ostmeyer & Cowell 2017), rerun with tinyrnn.

Three experiments (``--task``):

``adding``  The adding problem: each step carries a value from U(0, 1) and a
            marker; the answer is the sum of the two marked values (mean
            squared error; always answering 1 scores 0.167).
``copy``    The copy problem: remember 10 symbols, then, T steps later, on a
            "go" cue, repeat them (cross-entropy per step, blanks included,
            as the RWA repository scores it; chance 0.162 at T = 100).
``char``    A character-level language model on the default corpus (the
            Python standard library), one RWA layer against one LSTM layer;
            the state runs through the text (truncated BPTT), or, with
            ``--window``, every chunk of ``--seq-length`` characters starts
            afresh (an RWA's average cannot forget, so over a whole text it
            is dominated by the distant past).

For ``adding`` and ``copy`` the script counts the iterations (batches) each
model needs before its loss on a fixed test batch first falls below
``--threshold`` (0.01), as the RWA repository's logs do; for ``char`` it
compares validation loss after the same number of steps. Figures (written
into ``--out``): the loss curves of both models, and the RWA's mean and max
log-weight a_t per time step after training (``tinyrnn.viz.plot_rwa_weights``).

    python examples/rwa_vs_lstm.py --task adding --T 100
    python examples/rwa_vs_lstm.py --task copy --T 50 --max-iters 20000
    python examples/rwa_vs_lstm.py --task char --max-iters 1500
    python examples/rwa_vs_lstm.py --smoke          # every task, tiny, in seconds

Both models get the same hidden size, optimiser (Adam, --lr), batch and data;
the LSTM's forget-gate bias starts at 1 (a stronger baseline than PyTorch's
default). The RWA repository used 250 units, batch 100, Adam 1e-3; the
defaults here are smaller (``--hidden 64``) so that a CPU finishes.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

import tinyrnn as tr
from tinyrnn import nn, optim, viz
from tinyrnn.charlm import CharLM, CharVocab, batchify, bptt_batches, default_corpus, split_ids
from tinyrnn.backend import install_hint
from tinyrnn.tasks import adding_problem, copy_problem

MODELS = ("rwa", "lstm")


class SequenceNet(nn.Module):
    """(one-hot or raw features) -> one RWA or LSTM layer -> Linear readout.

    ``forward(x) -> (outputs, log_weights)``: outputs (T, B, O) at every step
    (``last_only``: (B, O) from the last step); log_weights is the RWA's list
    of (T, B, H) log-weights, or None for the LSTM.
    """

    def __init__(self, model: str, input_size: int, hidden_size: int, output_size: int,
                 one_hot: bool = False, last_only: bool = False):
        self.model, self.last_only = model, last_only
        self.embedding = None
        if one_hot:                     # fixed identity table: ids -> one-hot rows
            self.embedding = nn.Embedding(input_size, input_size)
            nn.init.scaled_identity_(self.embedding.weight, 1.0)
            self.embedding.weight.requires_grad_(False)
        if model == "rwa":
            self.rnn = nn.RWA(input_size, hidden_size)
        else:
            self.rnn = nn.LSTM(input_size, hidden_size, forget_bias=1.0)
        self.readout = nn.Linear(hidden_size, output_size)

    def forward(self, x, state=None, weights: bool = False):
        if self.embedding is not None:
            x = self.embedding(x)
        log_weights = None
        if self.model == "rwa" and weights:
            out, state, log_weights = self.rnn(x, state, return_weights=True)
        else:
            out, state = self.rnn(x, state)
        y = self.readout(out[-1] if self.last_only else out)
        return y, state, log_weights


# ---- the synthetic tasks -----------------------------------------------------------
def task_setup(task: str, T: int, args):
    """(make_batch(n, rng) -> (x, y), loss(pred, y) -> Tensor, net kwargs)."""
    if task == "adding":
        def make(n, rng):
            return adding_problem(n, T, rng, one_per_half=args.one_per_half)

        def loss(pred, y):
            diff = pred.reshape(pred.shape[0]) - tr.tensor(y)
            return (diff * diff).mean()
        return make, loss, dict(input_size=2, output_size=1, last_only=True)

    def make(n, rng):
        x, y, _ = copy_problem(n, T, rng=rng, blank_targets=True)
        return x, y

    def loss(pred, y):
        return tr.cross_entropy(pred, tr.tensor(y))
    vocab = 9                                   # 7 symbols, blank, go (copy_problem's default)
    return make, loss, dict(input_size=vocab, output_size=vocab, one_hot=True)


def run_synthetic(task: str, args) -> dict:
    """Train both models on one task; returns {model: {"iters_to_threshold", history ...}}."""
    make, loss_fn, net_kwargs = task_setup(task, args.T, args)
    x_test, y_test = make(args.test_size, np.random.default_rng([args.seed, 1]))
    results = {}
    for model in args.models:
        tr.manual_seed(args.seed)
        net = SequenceNet(model, hidden_size=args.hidden, **net_kwargs)
        opt = optim.Adam(net.parameters(), lr=args.lr)
        rng = np.random.default_rng([args.seed, 2])      # the same batches for both models
        hist = {"step": [], "loss": [], "seconds": []}
        reached, start = None, time.perf_counter()
        for it in range(1, args.max_iters + 1):
            x, y = make(args.batch, rng)
            pred, _, _ = net(tr.tensor(x))
            loss = loss_fn(pred, y)
            opt.zero_grad()
            loss.backward()
            if args.clip:
                nn.utils.clip_grad_norm_(net.parameters(), args.clip)
            opt.step()
            elapsed = time.perf_counter() - start
            out_of_time = args.max_time is not None and elapsed > args.max_time
            if it % args.eval_every == 0 or it == args.max_iters or out_of_time:
                with tr.no_grad():
                    test = loss_fn(net(tr.tensor(x_test))[0], y_test).item()
                hist["step"].append(it)
                hist["loss"].append(test)
                hist["seconds"].append(round(elapsed, 1))
                if not args.quiet:
                    print(f"  {task} T={args.T} {model:4s} iter {it:6d}  {elapsed:7.1f}s  "
                          f"test loss {test:.5f}", flush=True)
                if reached is None and test < args.threshold:
                    reached = it
                    if args.stop_at_threshold:
                        break
            if out_of_time:
                break
        results[model] = {"iters_to_threshold": reached, "final_loss": hist["loss"][-1],
                          "iters": hist["step"][-1], "seconds": hist["seconds"][-1],
                          "history": hist}
        if model == "rwa":
            with tr.no_grad():
                _, _, weights = net(tr.tensor(x_test[:, :100]), weights=True)
            path = os.path.join(args.out, f"rwa_weights_{task}_T{args.T}.png")
            viz.plot_rwa_weights([w.numpy() for w in weights], path=path,
                                 title=f"RWA log-weights, {task} problem, T = {args.T}")
    return results


# ---- the character-level run -------------------------------------------------------
def run_char(args) -> dict:
    """One RWA layer against one LSTM layer on the default corpus, same steps."""
    text = default_corpus(args.chars)
    vocab = CharVocab(text)
    train_ids, val_ids, _ = split_ids(vocab.encode(text), 0.95, 0.05)
    B, T = args.batch, args.seq_length
    train, val = batchify(train_ids, B, T), batchify(val_ids, 8, T)
    results = {}
    for model in args.models:
        tr.manual_seed(args.seed)
        net = CharLM(len(vocab), hidden_size=args.hidden, num_layers=1, cell=model,
                        **({"forget_bias": 1.0} if model == "lstm" else {}))
        opt = optim.Adam(net.parameters(), lr=args.lr)
        hist = {"step": [], "loss": [], "train_loss": [], "seconds": []}
        state, it, start, run = None, 0, time.perf_counter(), []
        batches = iter(())
        while it < args.max_iters:
            try:
                x, y = next(batches)
            except StopIteration:
                batches, state = iter(bptt_batches(train, T)), None
                continue
            it += 1
            if args.window:
                state = None                    # every chunk is its own sequence
            logits, state = net(tr.tensor(x), state)
            loss = tr.cross_entropy(logits, tr.tensor(y))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), args.clip or 5.0)
            opt.step()
            state = nn.detach_state(state)
            run.append(loss.item())
            elapsed = time.perf_counter() - start
            out_of_time = args.max_time is not None and elapsed > args.max_time
            if it % args.eval_every == 0 or it == args.max_iters or out_of_time:
                val_loss = char_loss(net, val, T, carry=not args.window)
                hist["step"].append(it)
                hist["loss"].append(val_loss)
                hist["train_loss"].append(float(np.mean(run)))
                hist["seconds"].append(round(elapsed, 1))
                run = []
                if not args.quiet:
                    print(f"  char {model:4s} iter {it:6d}  {elapsed:7.1f}s  "
                          f"train {hist['train_loss'][-1]:.3f}  val {val_loss:.3f} nats/char",
                          flush=True)
            if out_of_time:
                break
        results[model] = {"final_loss": hist["loss"][-1], "iters": it,
                          "seconds": hist["seconds"][-1], "history": hist}
        if model == "rwa":
            snippet = val_ids[:min(len(val_ids), T if args.window else 400)]
            records = viz.trace(net, snippet)
            viz.plot_rwa_weights([r["a"] for r in records],
                                 path=os.path.join(args.out,
                                                   f"rwa_weights_{_char_label(args)}.png"),
                                 title=f"RWA log-weights over {len(snippet)} characters of "
                                       "validation text")
    return results


def char_loss(net, streams: np.ndarray, T: int, carry: bool = True) -> float:
    """Mean validation cross-entropy in nats per character (``carry``: the state
    runs through the whole text; otherwise every chunk of T starts afresh)."""
    net.eval()
    total, count, state = 0.0, 0, None
    with tr.no_grad():
        for x, y in bptt_batches(streams, T):
            logits, state = net(tr.tensor(x), state if carry else None)
            total += tr.cross_entropy(logits, tr.tensor(y), reduction="sum").item()
            count += y.size
    net.train()
    return total / count


# ---- reporting ---------------------------------------------------------------------
def report(task: str, results: dict, args) -> str:
    label = _char_label(args) if task == "char" else f"{task}_T{args.T}"
    runs = {m: {"step": r["history"]["step"], "loss": r["history"]["loss"]}
            for m, r in results.items()}
    what = "validation nats/char" if task == "char" else "test loss"
    viz.plot_curves(runs, path=os.path.join(args.out, f"curves_{label}.png"),
                    metrics=("loss",), log_loss=task != "char",
                    title=f"RWA vs LSTM: {task}" + ("" if task == "char" else
                                                    f", T = {args.T}") + f" ({what})")
    setting = (f"windows of {args.seq_length} characters" if args.window else
               f"state carried through the text, BPTT {args.seq_length}") \
        if task == "char" else f"T = {args.T}"
    lines = [f"{task}, {setting}, hidden {args.hidden}, batch {args.batch}, lr {args.lr}, "
             f"seed {args.seed}", ""]
    if task == "char":
        lines += ["| model | steps | validation nats/char | seconds |", "|---|---|---|---|"]
        for m, r in results.items():
            lines.append(f"| {m.upper()} | {r['iters']} | {r['final_loss']:.3f} | "
                         f"{r['seconds']:.0f} |")
    else:
        lines += [f"| model | iterations to loss < {args.threshold} | final test loss "
                  "(iterations) | seconds |", "|---|---|---|---|"]
        for m, r in results.items():
            hit = r["iters_to_threshold"]
            lines.append(f"| {m.upper()} | {hit if hit is not None else 'not reached'} | "
                         f"{r['final_loss']:.4g} ({r['iters']}) | {r['seconds']:.0f} |")
    table = "\n".join(lines) + "\n"
    with open(os.path.join(args.out, f"results_{label}.md"), "w") as f:
        f.write(table)
    with open(os.path.join(args.out, f"results_{label}.json"), "w") as f:
        json.dump({"task": task, "T": args.T, "options": {
            k: v for k, v in vars(args).items() if isinstance(v, (int, float, str, list))},
            "results": results}, f, indent=1)
    print(table)
    return table


def _char_label(args) -> str:
    return "char_window" if args.window else "char"


# ---- command line ------------------------------------------------------------------
SMOKE = {"T": 8, "hidden": 8, "batch": 8, "max_iters": 4, "eval_every": 2, "test_size": 16,
         "chars": 3000, "seq_length": 10}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", default="adding", choices=("adding", "copy", "char", "all"),
                   help="the adding problem, the copy problem, text, or all three (adding)")
    p.add_argument("--models", default="rwa,lstm", help="comma-separated: rwa, lstm (rwa,lstm)")
    p.add_argument("--T", type=int, default=100, help="sequence length / delay (100)")
    p.add_argument("--hidden", type=int, default=64, help="hidden units (64)")
    p.add_argument("--batch", type=int, default=100, help="batch size (100)")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam's learning rate (1e-3)")
    p.add_argument("--clip", type=float, default=0.0,
                   help="global gradient-norm clip, 0 = none (the RWA paper used none) (0)")
    p.add_argument("--threshold", type=float, default=0.01, help="loss threshold (0.01)")
    p.add_argument("--max-iters", type=int, default=5000,
                   help="training iterations per model (5000)")
    p.add_argument("--max-time", type=float, default=None,
                   help="seconds of training per model (no limit)")
    p.add_argument("--eval-every", type=int, default=50,
                   help="test the model every N iterations (50)")
    p.add_argument("--test-size", type=int, default=1000,
                   help="test sequences per evaluation (1000)")
    p.add_argument("--stop-at-threshold", action="store_true",
                   help="stop a model once it reaches the threshold")
    p.add_argument("--one-per-half", action="store_true",
                   help="adding: one marker in each half (Hochreiter & Schmidhuber) instead "
                        "of anywhere (the RWA repository)")
    p.add_argument("--chars", type=int, default=300_000, help="char: corpus size (300,000)")
    p.add_argument("--seq-length", type=int, default=50, help="char: BPTT length (50)")
    p.add_argument("--window", action="store_true",
                   help="char: start every chunk of --seq-length characters from a fresh "
                        "state (independent windows, as unixpickle's RWA char-rnn) instead "
                        "of carrying the state through the text")
    p.add_argument("--seed", type=int, default=0, help="random seed of weights and data (0)")
    p.add_argument("--out", default="rwa_out",
                   help="folder for the results and figures (rwa_out)")
    p.add_argument("--smoke", action="store_true", help="tiny runs of every task (seconds)")
    p.add_argument("--quiet", action="store_true", help="print less while training")
    args = p.parse_args(argv)
    args.models = [m.strip().lower() for m in args.models.split(",") if m.strip()]
    for m in args.models:
        if m not in MODELS:
            p.error(f"--models: unknown model {m!r}; expected rwa and/or lstm")
    if args.smoke:
        for key, value in SMOKE.items():
            setattr(args, key, value)
        args.task = "all"
    for name in ("T", "hidden", "batch", "max_iters", "eval_every", "test_size", "chars",
                 "seq_length"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.clip < 0 or not args.threshold > 0:
        p.error("--clip must be >= 0 and --threshold > 0")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        import matplotlib  # noqa: F401  (checked before the training, not after)
    except ImportError:
        raise SystemExit(f"rwa_vs_lstm.py: error: its curves need matplotlib: "
                         f"{install_hint('plot')}") from None
    os.makedirs(args.out, exist_ok=True)
    start = time.perf_counter()
    tasks = ("adding", "copy", "char") if args.task == "all" else (args.task,)
    for task in tasks:
        results = run_char(args) if task == "char" else run_synthetic(task, args)
        report(task, results, args)
    if not args.quiet:
        print(f"done in {time.perf_counter() - start:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
