"""The char-LM race: tinyrnn's command-line training loop against the same
model and recipe in PyTorch, on the same text.

    python benchmarks/race_char_lm.py                     # 300 steps of char-rnn's recipe
    python benchmarks/race_char_lm.py --steps 1500 --data play.txt
    python benchmarks/race_char_lm.py --smoke             # seconds: a tiny model, 3 steps

The recipe is char-rnn's and the CLI's defaults: one-hot characters, a
2-layer LSTM of 128, truncated BPTT over 50 steps of 50 streams, Adam at
2e-3, gradients clipped to norm 5. tinyrnn runs the CLI's own step
(``tinyrnn.charlm.train.loop.Trainer.train_step``: forward, loss, backward, clip,
Adam, detach the state) under the CLI's thread choice (``--threads``,
default auto); PyTorch runs ``nn.LSTM`` + ``nn.Linear`` with its own default
threads. Both read the same chunks of the same text (the CLI's split and
stream layout) and are validated on the same held-out part afterwards.

Reported per contender: median seconds per step, characters per second
(T*B / median), total training time and the validation loss after N steps
(nats per character). The two start from different random weights (each
library's own initialisation), so the losses agree within seed noise, not
exactly. Timings on a machine that is running anything else are void: the
load average is printed before and after.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

import tinyrnn  # noqa: E402
from tinyrnn.charlm import bptt_batches  # noqa: E402
from tinyrnn.charlm.options import TrainConfig  # noqa: E402
from tinyrnn.charlm.train.loop import Trainer  # noqa: E402

SMOKE = dict(rnn_size=16, num_layers=1, seq_length=16, batch_size=8, max_chars=20_000)


def chunks(streams: np.ndarray, seq_length: int, steps: int):
    """``steps`` training chunks, epoch after epoch, as the CLI walks them."""
    done = 0
    while True:
        for pair in bptt_batches(streams, seq_length):
            if done == steps:
                return
            yield pair
            done += 1


def race_tinyrnn(cfg: TrainConfig, steps: int) -> dict:
    """The CLI's Trainer: setup as ``python -m tinyrnn train``, then N of its steps."""
    trainer = Trainer(cfg, out=open(os.devnull, "w"))
    times, tuner = [], trainer.tuner
    try:
        with tuner.active():
            for inputs, targets in chunks(trainer.data.train, cfg.seq_length, steps):
                tick = time.perf_counter()
                tuner.run(trainer.train_step, inputs, targets)
                times.append(time.perf_counter() - tick)
            val = trainer.evaluate()
    finally:
        trainer.folder.release()
    chosen = f", chose {[n for _, n in tuner.history]}" if tuner.history else ""
    return {"times": times, "val": val, "data": trainer.data,
            "note": tuner.describe() + chosen}


def race_torch(cfg: TrainConfig, data, steps: int, threads: int | None = None) -> dict:
    """The same model and recipe in PyTorch, on the same chunks (its default
    threads unless ``threads`` is given)."""
    import torch
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(cfg.seed)
    V = len(data.vocab)
    lstm = torch.nn.LSTM(V, cfg.rnn_size, cfg.num_layers)
    head = torch.nn.Linear(cfg.rnn_size, V)
    params = list(lstm.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=cfg.learning_rate)
    eye = torch.eye(V)

    def run(inputs, targets, state):
        out, state = lstm(eye[torch.from_numpy(inputs)], state)
        logits = head(out).reshape(-1, V)
        return torch.nn.functional.cross_entropy(logits, torch.from_numpy(targets).reshape(-1),
                                                 reduction="sum"), state
    times, state = [], None
    for inputs, targets in chunks(data.train, cfg.seq_length, steps):
        tick = time.perf_counter()
        if state is not None and state[0].shape[1] != inputs.shape[1]:
            state = None
        opt.zero_grad()
        loss, state = run(inputs, targets, state)
        (loss / targets.size).backward()
        torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        opt.step()
        state = tuple(s.detach() for s in state)
        times.append(time.perf_counter() - tick)
    total, count, state = 0.0, 0, None
    with torch.no_grad():
        for inputs, targets in bptt_batches(data.val, cfg.seq_length):
            loss, state = run(inputs, targets, state)
            total, count = total + loss.item(), count + targets.size
    return {"times": times, "val": total / count,
            "note": f"{torch.get_num_threads()} torch threads"}


def report(name: str, result: dict, chars_per_step: int) -> str:
    per_step = statistics.median(result["times"])
    line = (f"  {name:10s} {per_step * 1e3:9.1f} {chars_per_step / per_step:10,.0f} "
            f"{sum(result['times']):9.1f} {result['val']:10.4f}   {result['note']}")
    print(line)
    return line


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=None,
                        help="UTF-8 text (default: the CLI's built-in corpus)")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--max-chars", type=int, default=None)
    parser.add_argument("--threads", default="auto", help="tinyrnn's --threads (default auto)")
    parser.add_argument("--seed", type=int, default=123)
    parser.add_argument("--smoke", action="store_true",
                        help="a tiny model for 3 steps: checks the race runs, times nothing")
    args = parser.parse_args(argv)
    options = dict(SMOKE) if args.smoke else {}
    steps = 3 if args.smoke else args.steps
    if args.max_chars:
        options["max_chars"] = args.max_chars
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        cfg = TrainConfig(data=args.data, seed=args.seed, threads=args.threads,
                          checkpoint_dir=folder, sample_length=0, **options)
        print(f"char-LM race: {cfg.num_layers}-layer LSTM of {cfg.rnn_size}, batches of "
              f"{cfg.batch_size} x {cfg.seq_length}, Adam {cfg.learning_rate}, clip "
              f"{cfg.grad_clip}, {steps} steps; tinyrnn {tinyrnn.__version__}, numpy "
              f"{np.__version__}, {os.cpu_count()} cpus, load average "
              f"{os.getloadavg()[0]:.2f}")
        print(f"  {'contender':10s} {'ms/step':>9s} {'chars/s':>10s} {'train s':>9s} "
              f"{'val loss':>10s}")
        chars = cfg.batch_size * cfg.seq_length
        results["tinyrnn"] = mine = race_tinyrnn(cfg, steps)
        report("tinyrnn", mine, chars)
        try:
            import torch  # noqa: F401
        except ImportError:
            print("  (PyTorch is not installed: no PyTorch row)")
        else:
            # --smoke: one torch thread, so that a busy machine cannot stall the check
            results["pytorch"] = race_torch(cfg, mine["data"], steps, 1 if args.smoke else None)
            report("pytorch", results["pytorch"], chars)
    print(f"load average after: {os.getloadavg()[0]:.2f}"
          + ("  (--smoke: the times mean nothing)" if args.smoke else ""))
    return results


if __name__ == "__main__":
    main()
