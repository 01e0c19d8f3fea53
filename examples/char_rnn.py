"""A character-level language model in one short script (Karpathy's char-rnn).

    python examples/char_rnn.py [text-file] [steps]

It does what ``python -m tinyrnn train`` does, without the conveniences
(resuming, logs, plots, progress bars), so that every step is in view:
read a text, lay it out as B parallel streams, and train an LSTM to predict
each next character with truncated backpropagation through time.
"""
import sys

import tinyrnn
from tinyrnn import checkpoint
from tinyrnn.data import CharVocab, batchify, bptt_batches, default_corpus, load_text, split_ids
from tinyrnn.nn import detach_state
from tinyrnn.nn.charlm import CharLM
from tinyrnn.nn.utils import clip_grad_norm_
from tinyrnn.optim import Adam
from tinyrnn.sample import sample

B, T = 32, 50                     # streams per batch, steps of backpropagation
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 300

# 1. Text -> ids. The vocabulary is the sorted set of characters.
text = load_text(sys.argv[1]) if len(sys.argv) > 1 else default_corpus(300_000)
vocab = CharVocab(text)
train_ids, val_ids, _ = split_ids(vocab.encode(text), 0.95, 0.05)
train = batchify(train_ids, B)    # (N, B): column b is one contiguous stream of text
val = batchify(val_ids, 4)
print(f"{len(text):,} characters, {len(vocab)} distinct; {len(train)} steps per stream")

# 2. The model: one-hot characters -> 2 LSTM layers of 128 -> logits over the vocabulary.
tinyrnn.manual_seed(0)
model = CharLM(len(vocab), hidden_size=128, num_layers=2, cell="lstm")
optimizer = Adam(model.parameters(), lr=2e-3)


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
while step < steps:
    for x, y in bptt_batches(train, T):            # x, y: (T, B) ids; y is x shifted by one
        logits, state = model(tinyrnn.tensor(x), state)         # logits: (T, B, V)
        loss = tinyrnn.cross_entropy(logits, tinyrnn.tensor(y))  # nats per character
        optimizer.zero_grad()
        loss.backward()
        clip_grad_norm_(model.parameters(), 5.0)   # tame exploding gradients
        optimizer.step()
        state = detach_state(state)                # keep the values, cut the graph
        step += 1
        if step % 100 == 0 or step == steps:
            print(f"step {step}: train loss {loss.item():.3f}, "
                  f"validation loss {validation_loss():.3f} nats/char")
        if step == steps:
            break
    state = None                                   # the streams start over

# 4. Generate, and save the model (an .npz without pickle, written atomically).
print(sample(model, vocab, length=300, temperature=0.8, seed=0))
checkpoint.save("char_rnn.npz", {f"param/{k}": v for k, v in model.state_dict().items()},
                {"model": model.config(), "vocab": vocab.to_dict()})
print("saved char_rnn.npz")
