"""A character-level language model in one short script (Karpathy's char-rnn).

    python examples/char_rnn.py [TEXT_FILE] [STEPS] [--out char_rnn.npz]
    python -m tinyrnn sample char_rnn.npz --prime "def "

It does what ``python -m tinyrnn train`` does, without the conveniences
(resuming, logs, plots, progress bars), so that every step is in view:
read a text, lay it out as B parallel streams, and train an LSTM to predict
each next character with truncated backpropagation through time.
"""
import argparse
import sys

import tinyrnn
from tinyrnn.charlm import (CharVocab, DataError, batchify, bptt_batches, default_corpus,
                          load_text, split_ids)
from tinyrnn.nn import detach_state
from tinyrnn.charlm import CharLM, sample, save_model
from tinyrnn.nn.utils import clip_grad_norm_
from tinyrnn.optim import Adam

B, T = 32, 50                     # streams per batch, steps of backpropagation

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("text", nargs="?", help="UTF-8 text file to learn from "
                    "(default: 300,000 characters of Python's standard library)")
parser.add_argument("steps", nargs="?", type=int, default=300,
                    help="training steps of B=32 streams x T=50 characters (default: 300)")
parser.add_argument("--out", default="char_rnn.npz", help="the checkpoint to write; "
                    "`python -m tinyrnn sample` reads it (default: char_rnn.npz)")
parser.add_argument("--no-fused", action="store_true", help="run the readable LSTMCell, "
                    "composed from engine ops, instead of the fused per-layer kernel "
                    "(same numbers, slower; default: fused)")
parser.add_argument("--lr", type=float, default=2e-3,
                    help="Adam's learning rate (default: 2e-3)")
parser.add_argument("--seed", type=int, default=0,
                    help="random seed of the initial weights (default: 0)")
args = parser.parse_args()
if args.steps < 1:
    parser.error(f"STEPS must be at least 1, got {args.steps}")

# 1. Text -> ids. The vocabulary is the sorted set of characters.
try:
    text = load_text(args.text) if args.text else default_corpus(300_000)
except DataError as e:
    sys.exit(f"char_rnn.py: error: {e}")
vocab = CharVocab(text)
train_ids, val_ids, _ = split_ids(vocab.encode(text), 0.95, 0.05)
train = batchify(train_ids, B)    # (N, B): column b is one contiguous stream of text
val = batchify(val_ids, 4)
print(f"{len(text):,} characters, {len(vocab)} distinct; {len(train)} steps per stream")

# 2. The model: one-hot characters -> 2 LSTM layers of 128 -> logits over the vocabulary.
#    fused=False steps through tinyrnn.nn.LSTMCell, one op per equation, so the
#    whole computation can be read (and gradchecked) op by op. The default fused
#    kernel (tinyrnn/ops/fused/lstm.py) computes the same numbers with one op per
#    layer: the input projection of all T steps in one product, each step's
#    element-wise work in one function, and a hand-derived backward.
tinyrnn.manual_seed(args.seed)
model = CharLM(len(vocab), hidden_size=128, num_layers=2, cell="lstm", fused=not args.no_fused)
optimizer = Adam(model.parameters(), lr=args.lr)


def validation_loss() -> float:
    """Mean cross-entropy in nats per character over the validation text."""
    model.eval()
    total, count, state = 0.0, 0, None
    with tinyrnn.no_grad():
        for x, y in bptt_batches(val, T):
            logits, state = model(tinyrnn.tensor(x), state)
            total += tinyrnn.cross_entropy(logits, tinyrnn.tensor(y), reduction="sum").item()
            count += y.size
    model.train()
    return total / count


# 3. Truncated BPTT: the state runs on from chunk to chunk, gradients do not.
step, state = 0, None
while step < args.steps:
    for x, y in bptt_batches(train, T):            # x, y: (T, B) ids; y is x shifted by one
        logits, state = model(tinyrnn.tensor(x), state)         # logits: (T, B, V)
        loss = tinyrnn.cross_entropy(logits, tinyrnn.tensor(y))  # nats per character
        optimizer.zero_grad()
        loss.backward()
        clip_grad_norm_(model.parameters(), 5.0)   # tame exploding gradients
        optimizer.step()
        state = detach_state(state)                # keep the values, cut the graph
        step += 1
        if step % 100 == 0 or step == args.steps:
            print(f"step {step}: train loss {loss.item():.3f}, "
                  f"validation loss {validation_loss():.3f} nats/char")
        if step == args.steps:
            break
    state = None                                   # the streams start over

# 4. Generate, and save the model in tinyrnn's char-LM checkpoint format
#    (an .npz without pickle, written atomically), which the CLI samples from.
print(sample(model, vocab, length=300, temperature=0.8, seed=0))
save_model(args.out, model, vocab)
print(f"saved {args.out}")
