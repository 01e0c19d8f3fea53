"""Teach a tiny recurrent network to spell "hello" -- the example of Karpathy's
"The Unreasonable Effectiveness of Recurrent Neural Networks".

The vocabulary is four characters, h, e, l and o, each fed in one-hot. The
network reads "hell" one character at a time and at every step must predict
the next one, so the targets are "ello". The two "l"s make it interesting:
after the first "l" the answer is "l", after the second it is "o", so the
network must remember what it has seen -- that is what the recurrent state is
for. After training it writes "hello" from "h" alone, taking the most likely
character at every step.

    python examples/hello_char_rnn.py                  # an LSTM
    python examples/hello_char_rnn.py --cell rwa       # rnn, lstm, gru, rwa or fw

It exits with status 1 (and says so) if the network did not learn: if it
does not write "hello", or its final loss is not below 0.1.
"""
from __future__ import annotations

import argparse
import sys
import time

import tinyrnn as tr
from tinyrnn import nn, optim
from tinyrnn.charlm import CharLM, CharVocab, sample

CELLS = ("rnn", "lstm", "gru", "rwa", "fw")
NAMES = {"rnn": "an RNN", "lstm": "an LSTM", "gru": "a GRU", "rwa": "an RWA",
         "fw": "a fast-weights RNN"}
LEARNED_LOSS = 0.1       # mean cross-entropy; guessing is ln 4 = 1.386


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Train a tiny RNN on 'hello' and make it "
                                            "spell the word.")
    p.add_argument("--cell", default="lstm", choices=CELLS, help="recurrent cell (lstm)")
    p.add_argument("--hidden", type=int, default=16, help="hidden units (16)")
    p.add_argument("--steps", type=int, default=100, help="training steps (100)")
    p.add_argument("--lr", type=float, default=0.01, help="Adam's learning rate (0.01)")
    p.add_argument("--seed", type=int, default=0, help="random seed (0)")
    p.add_argument("--quiet", action="store_true", help="print only the result")
    args = p.parse_args(argv)
    for name in ("hidden", "steps"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be at least 1; got {getattr(args, name)}")
    if not args.lr > 0:
        p.error(f"--lr must be positive; got {args.lr}")
    return args


def train(args) -> tuple[CharLM, CharVocab, float]:
    """Fit the model to "hell" -> "ello"; returns (model, vocab, final loss)."""
    tr.manual_seed(args.seed)
    vocab = CharVocab("hello")                            # ids: e 0, h 1, l 2, o 3
    inputs = tr.tensor(vocab.encode("hell").reshape(4, 1))    # (T=4, B=1)
    targets = tr.tensor(vocab.encode("ello").reshape(4, 1))
    model = CharLM(len(vocab), hidden_size=args.hidden, num_layers=1, cell=args.cell)
    opt = optim.Adam(model.parameters(), lr=args.lr)
    report = {0, args.steps} | {round(args.steps * k / 4) for k in (1, 2, 3)}
    for step in range(args.steps + 1):                    # loss after `step` updates
        logits, _ = model(inputs)                         # (4, 1, 4)
        loss = tr.cross_entropy(logits, targets)          # mean over the 4 predictions
        loss_value = loss.item()
        if step in report and not args.quiet:
            note = "   (guessing among 4 letters: ln 4 = 1.386)" if step == 0 else ""
            print(f"  step {step:4d}   loss {loss_value:.3f}{note}")
        if step == args.steps:
            break
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
    return model, vocab, loss_value


def main(argv=None) -> int:
    args = parse_args(argv)
    start = time.perf_counter()
    if not args.quiet:
        print(f"Training {NAMES[args.cell]} with {args.hidden} hidden units to read "
              f"'hell' and predict 'ello':")
    model, vocab, loss = train(args)
    text = sample(model, vocab, prime="h", length=4, argmax=True)
    seconds = time.perf_counter() - start
    if text != "hello" or not loss < LEARNED_LOSS:
        print(f"Did not learn: from 'h' it wrote {text!r} (wanted 'hello'), final loss "
              f"{loss:.3f} (wanted < {LEARNED_LOSS}). Try more --steps, or another --lr "
              "or --seed.", file=sys.stderr)
        return 1
    if args.quiet:
        print(text)
    else:
        print(f"From 'h' it writes: {text}   ({seconds:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
