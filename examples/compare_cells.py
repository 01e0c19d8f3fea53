"""RNN, GRU and LSTM with 1, 2 and 3 layers at matched parameter counts, against
character n-grams: a small rerun of Karpathy, Johnson & Fei-Fei (2015),
"Visualizing and Understanding Recurrent Networks" (Table 1, Figs. 3 and 5).

On the default corpus (Python's standard library, a code corpus like their
Linux kernel) the script

1. trains the nine models, each with as many trainable parameters as a
   1-layer LSTM of ``--base-size`` cells (the hidden size is solved for),
   for the same number of steps, and tabulates their validation loss in
   nats per character (``table.md``);
2. fits interpolated Kneser-Ney n-gram models (``tinyrnn.charlm.ngram``) of several
   orders on the same training split and adds them to the table;
3. groups the validation characters by how far back their evidence lies
   and compares the best recurrent model with the best n-gram there
   (``evidence.md``, ``evidence.png``): closing brackets by the distance to
   their opener, and all characters by the longest context the n-gram model
   had seen in training (``NGramModel.context_lengths``);
4. draws the gate saturation of the deepest trained LSTM and GRU
   (``saturation_<cell><layers>.png``) and the gradient norm ||dL/dh_t|| through
   BPTT of the 1-layer RNN and LSTM, with and without clipping
   (``gradient_norms.png``).

    python examples/compare_cells.py --steps 2000 --out compare_out
    python examples/compare_cells.py --smoke --out /tmp/compare   # seconds

Every model sees the same batches (``--seed``), with Adam (``--lr``), batch
50, BPTT length 50 and gradient-norm clipping at 5.
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
from tinyrnn.charlm import (CharLM, CharVocab, NGramModel, batchify, bptt_batches, default_corpus, save_model, split_ids)
from tinyrnn.backend import install_hint
from tinyrnn.charlm.kinds import BRACKET_EDGES, bracket_distances, grouped

CELLS = ("rnn", "gru", "lstm")


def num_params(model: nn.Module) -> int:
    """Trainable parameters (the one-hot input table is fixed, so not counted)."""
    return sum(p.size for p in model.parameters() if p.requires_grad)


def matched_hidden_size(cell: str, layers: int, vocab_size: int, budget: int) -> int:
    """The hidden size whose model has the parameter count closest to ``budget``."""
    def count(H):
        return num_params(CharLM(vocab_size, H, layers, cell=cell))
    hi = 1
    while count(hi) < budget:            # double until past the budget ...
        hi *= 2
    lo = hi // 2 + 1 if hi > 1 else 1
    while lo < hi:                       # ... then the smallest H with count(H) >= budget
        mid = (lo + hi) // 2
        lo, hi = (mid + 1, hi) if count(mid) < budget else (lo, mid)
    return min((lo - 1, lo), key=lambda H: abs(count(H) - budget) if H > 0 else budget)


# ---- data --------------------------------------------------------------------------
def load_data(chars: int) -> tuple[CharVocab, np.ndarray, np.ndarray]:
    """The default corpus cut to ``chars``, split 90 / 5 / 5: (vocab, train, val)."""
    text = default_corpus(chars)
    vocab = CharVocab(text)
    train, val, _ = split_ids(vocab.encode(text), 0.90, 0.05)
    return vocab, train, val


def per_char_nll(model, ids: np.ndarray, streams: int = 16, T: int = 100) -> np.ndarray:
    """-log p(ids[i] | ids before i) for every position of ``ids`` (nats), from a
    recurrent model reading ``streams`` contiguous pieces in parallel; NaN where it
    made no prediction (the first character of each piece and the remainder)."""
    grid = batchify(ids, streams, 1)                         # (N, B): piece b = column b
    N = len(grid)
    nll = np.full(len(ids), np.nan)
    model.eval()
    state = None
    with tr.no_grad():
        for t0 in range(0, N - 1, T):
            x, y = grid[t0:t0 + T], grid[t0 + 1:t0 + T + 1]
            x = x[:len(y)]
            logits, state = model(tr.tensor(x), state)
            loss = tr.cross_entropy(logits, tr.tensor(y), reduction="none").numpy()
            rows = np.arange(t0 + 1, t0 + 1 + len(y))[:, None]
            nll[rows + N * np.arange(streams)[None, :]] = loss
    model.train()
    return nll


# ---- training ----------------------------------------------------------------------
def train_model(cell: str, layers: int, H: int, vocab: CharVocab, train: np.ndarray,
                args) -> tuple[CharLM, dict]:
    tr.manual_seed(args.seed)
    options = {"forget_bias": 1.0} if cell == "lstm" else {}
    model = CharLM(len(vocab), H, layers, cell=cell, **options)
    opt = optim.Adam(model.parameters(), lr=args.lr)
    streams = batchify(train, args.batch, args.seq_length)
    hist = {"step": [], "train_loss": []}
    step, state, running = 0, None, []
    start, cpu = time.perf_counter(), time.process_time()
    while step < args.steps:
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
            if step % args.log_every == 0 or step == args.steps:
                hist["step"].append(step)
                hist["train_loss"].append(float(np.mean(running)))
                running = []
                if not args.quiet:
                    print(f"  {cell.upper():4s} x{layers} H={H:<4d} step {step:5d}  "
                          f"{time.perf_counter() - start:6.1f}s  train loss "
                          f"{hist['train_loss'][-1]:.3f}", flush=True)
            if step == args.steps:
                break
        state = None                                      # a new epoch starts afresh
    hist["seconds"] = round(time.perf_counter() - start, 1)
    hist["cpu_seconds"] = round(time.process_time() - cpu, 1)
    return model, hist


# ---- evidence: how far back does a character's evidence lie? -----------------------
def evidence_report(text: str, rnn_nll: np.ndarray, gram_nll: np.ndarray,
                    gram: NGramModel, val: np.ndarray, names: tuple, args) -> str:
    dist = bracket_distances(text)
    ctx = gram.context_lengths(val)
    keep = ~np.isnan(rnn_nll)
    tables = []
    for title, groups, edges in (
            ("closing brackets ) ] } by distance to their opener (characters)", dist,
             BRACKET_EDGES),
            (f"all characters by the longest context the {gram.n}-gram saw in training",
             ctx, [(k, k + 1) for k in range(gram.n)])):
        r, g = grouped(rnn_nll, groups, edges), grouped(np.where(keep, gram_nll, np.nan),
                                                        groups, edges)
        pairs = [(a, b) for a, b in zip(r, g) if a[1] > 0]          # skip empty groups
        if not pairs:
            continue
        r, g = zip(*pairs)
        lines = [f"**{title}** (nats/char)", "",
                 f"| group | characters | {names[0]} | {names[1]} | "
                 f"{names[1]} minus {names[0]} |",
                 "|---|---|---|---|---|"]
        for (label, n, a), (_, _, b) in zip(r, g):
            lines.append(f"| {label} | {n} | {a:.3f} | {b:.3f} | {b - a:+.3f} |")
        tables.append((title, r, g, "\n".join(lines)))
    if not tables:
        return "(no characters to group)\n"
    from matplotlib.figure import Figure
    fig = Figure(figsize=(5 * len(tables), 3.6), layout="constrained")
    for ax, (title, r, g, _) in zip(fig.subplots(1, len(tables), squeeze=False)[0], tables):
        labels = [row[0] for row in r]
        pos = np.arange(len(labels))
        ax.bar(pos - 0.2, [row[2] for row in r], 0.4, label=names[0])
        ax.bar(pos + 0.2, [row[2] for row in g], 0.4, label=names[1])
        ax.set_xticks(pos, labels, fontsize=8)
        ax.set_title(title, fontsize=9)
        ax.set_ylabel("nats / char")
        ax.legend(fontsize=8)
    fig.savefig(os.path.join(args.out, "evidence.png"), dpi=100)
    return "\n\n".join(t[3] for t in tables) + "\n"


# ---- figures of the trained models ---------------------------------------------------
def saturation_figures(models: dict, val: np.ndarray, args) -> None:
    """Gate saturation of the deepest LSTM and GRU (Karpathy et al. show 3 layers)."""
    snippet = val[:args.trace_chars]
    for (cell, layers), (model, _) in models.items():
        if cell in ("lstm", "gru") and layers == max(args.layers):
            records = viz.trace(model, snippet)
            viz.plot_gate_saturation(
                records, path=os.path.join(args.out, f"saturation_{cell}{layers}.png"),
                title=f"{cell.upper()}, {layers} layer(s): gate saturation over "
                      f"{len(snippet)} validation characters")


def gradient_figure(models: dict, val: np.ndarray, args) -> dict:
    """||dL/dh_t|| through ``--grad-steps`` steps of BPTT for the trained 1-layer RNN
    and LSTM, L the cross-entropy of the last step's prediction. Trained models
    mostly show vanishing gradients; to show exploding ones and what clipping
    does, the RNN is also run with its recurrent weights multiplied by
    ``--grad-scale``, without and with per-step clipping at ``--grad-clip``."""
    T, B = args.grad_steps, 8
    ids = batchify(val[:B * (T + 1) + 1], B, T)[:T + 1]          # (T + 1, B)
    curves = {}
    for cell in ("rnn", "lstm"):
        if (cell, 1) not in models:
            continue
        model = models[(cell, 1)][0]
        rnn_cell = model.rnn.cells[0]
        x = model.embedding(tr.tensor(ids[:T])).detach()           # (T, B, V) one-hot
        target = tr.tensor(ids[T])

        def loss_fn(h, model=model, target=target):
            return tr.cross_entropy(model.decoder(h), target, reduction="sum")
        curves[f"{cell.upper()} (trained)"] = viz.bptt_gradient_norms(rnn_cell, x,
                                                                      loss_fn=loss_fn)
        if cell == "rnn":
            trained = rnn_cell.weight_hh.data
            rnn_cell.weight_hh.data = trained * args.grad_scale
            try:
                for clip in (None, args.grad_clip):
                    label = f"RNN, W_hh x {args.grad_scale}" + \
                        ("" if clip is None else f", clipped at {clip} per step")
                    curves[label] = viz.bptt_gradient_norms(rnn_cell, x, clip=clip,
                                                            loss_fn=loss_fn)
            finally:
                rnn_cell.weight_hh.data = trained
    if curves:
        viz.plot_gradient_norms(curves, path=os.path.join(args.out, "gradient_norms.png"),
                                title="Gradient of the last step's loss through BPTT")
    return {k: [float(v) for v in c] for k, c in curves.items()}


# ---- the whole experiment -------------------------------------------------------------
def run(args) -> dict:
    vocab, train, val = load_data(args.chars)
    V = len(vocab)
    budget = num_params(CharLM(V, args.base_size, 1, cell="lstm"))
    print(f"{len(train):,} training and {len(val):,} validation characters, {V} symbols; "
          f"every model has about {budget:,} parameters (a 1-layer LSTM of "
          f"{args.base_size})", flush=True)
    models, rows = {}, []
    for cell in args.cells:
        for layers in args.layers:
            H = matched_hidden_size(cell, layers, V, budget)
            model, hist = train_model(cell, layers, H, vocab, train, args)
            nll = per_char_nll(model, val)
            models[(cell, layers)] = (model, nll)
            rows.append({"model": cell.upper(), "layers": layers, "hidden": H,
                         "params": num_params(model), "val_nll": float(np.nanmean(nll)),
                         "steps": args.steps, "seconds": hist["seconds"],
                         "cpu_seconds": hist["cpu_seconds"], "history": hist})
            save_model(os.path.join(args.out, f"{cell}{layers}.npz"), model, vocab,
                       val_nll=rows[-1]["val_nll"])
    grams = {}
    for n in args.ngrams:
        t0 = time.perf_counter()
        gram = NGramModel(n, V).fit(train)
        nll = gram.nll(val)
        grams[n] = (gram, nll)
        rows.append({"model": f"{n}-gram (Kneser-Ney)", "layers": "", "hidden": "",
                     "params": "", "val_nll": float(nll.mean()), "steps": "",
                     "seconds": round(time.perf_counter() - t0, 1)})
    table = results_table(rows, args)
    text = vocab.decode(val)
    best_rnn = min(models, key=lambda k: np.nanmean(models[k][1]))
    best_n = min(grams, key=lambda n: grams[n][1].mean())
    names = (f"{best_rnn[0].upper()} x{best_rnn[1]}", f"{best_n}-gram")
    evidence = evidence_report(text, models[best_rnn][1], grams[best_n][1], grams[best_n][0],
                               val, names, args)
    with open(os.path.join(args.out, "evidence.md"), "w") as f:
        f.write(evidence)
    saturation_figures(models, val, args)
    curves = gradient_figure(models, val, args)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"options": {k: v for k, v in vars(args).items()
                               if isinstance(v, (int, float, str, list))},
                   "rows": rows, "gradient_norms": curves}, f, indent=1)
    print(table)
    print(evidence)
    return {"rows": rows, "table": table, "evidence": evidence}


def results_table(rows: list[dict], args) -> str:
    lines = [f"Validation loss (nats/char) on {args.chars:,} characters of the default "
             f"corpus (90/5/5 split), {args.steps} steps of batch {args.batch} x "
             f"{args.seq_length}, seed {args.seed}", "",
             "| model | layers | hidden | parameters | val nats/char | train time (s) |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['layers']} | {r['hidden']} | {r['params']} | "
                     f"{r['val_nll']:.3f} | {r['seconds']} |")
    table = "\n".join(lines) + "\n"
    with open(os.path.join(args.out, "table.md"), "w") as f:
        f.write(table)
    return table


SMOKE = {"chars": 20_000, "base_size": 8, "steps": 3, "layers": "1,2", "ngrams": "2,3",
         "trace_chars": 60, "grad_steps": 12, "log_every": 3}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cells", default="rnn,gru,lstm",
                   help="comma-separated cells to train (default: rnn,gru,lstm)")
    p.add_argument("--layers", default="1,2,3",
                   help="comma-separated layer counts, each with every cell (default: 1,2,3)")
    p.add_argument("--base-size", type=int, default=64,
                   help="match every model to a 1-layer LSTM of this size (64)")
    p.add_argument("--chars", type=int, default=1_000_000, help="corpus size (1,000,000)")
    p.add_argument("--steps", type=int, default=2000,
                   help="training steps per model (2000)")
    p.add_argument("--batch", type=int, default=50, help="parallel text streams per step (50)")
    p.add_argument("--seq-length", type=int, default=50,
                   help="steps of backpropagation through time (50)")
    p.add_argument("--lr", type=float, default=2e-3, help="Adam's learning rate (2e-3)")
    p.add_argument("--ngrams", default="2,3,5,7,9",
                   help="comma-separated n-gram orders (2,3,5,7,9)")
    p.add_argument("--trace-chars", type=int, default=3000,
                   help="validation characters for the gate-saturation plots (3000)")
    p.add_argument("--grad-steps", type=int, default=100,
                   help="BPTT steps of the gradient plot (100)")
    p.add_argument("--grad-clip", type=float, default=1.0,
                   help="per-step clipping of the state gradient in that plot (1.0)")
    p.add_argument("--grad-scale", type=float, default=3.0,
                   help="factor on the RNN's recurrent weights for the exploding curves (3.0)")
    p.add_argument("--log-every", type=int, default=100,
                   help="print the training loss every N steps (100)")
    p.add_argument("--seed", type=int, default=0, help="random seed of weights and batches (0)")
    p.add_argument("--out", default="compare_out",
                   help="folder for tables, figures and checkpoints (compare_out)")
    p.add_argument("--smoke", action="store_true",
                   help="tiny models and corpus, for a test that takes seconds; options "
                        "given on the command line win over its settings")
    p.add_argument("--quiet", action="store_true", help="print less while training")
    args = p.parse_args(argv)
    if args.smoke:                  # its settings replace the defaults, not what was given
        p.set_defaults(**SMOKE)
        args = p.parse_args(argv)
    try:
        args.layers = [int(v) for v in args.layers.split(",")]
        args.ngrams = [int(v) for v in args.ngrams.split(",")]
    except ValueError:
        p.error("--layers and --ngrams take comma-separated integers")
    args.cells = [c.strip().lower() for c in args.cells.split(",") if c.strip()]
    if any(c not in CELLS for c in args.cells) or not args.cells:
        p.error(f"--cells: expected some of {', '.join(CELLS)}")
    if min(args.layers) < 1 or min(args.ngrams) < 1 or args.steps < 1:
        p.error("--layers, --ngrams and --steps must be positive")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        import matplotlib  # noqa: F401  (checked before the training, not after)
    except ImportError:
        raise SystemExit(f"compare_cells.py: error: its figures need matplotlib: "
                         f"{install_hint('plot')}") from None
    os.makedirs(args.out, exist_ok=True)
    start = time.perf_counter()
    run(args)
    print(f"done in {time.perf_counter() - start:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
