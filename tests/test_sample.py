"""sample(): priming, argmax, temperature, seeds, modes and bad input."""
from __future__ import annotations

import numpy as np
import pytest

import tinyrnn as tr
from tinyrnn import nn
from tinyrnn.charlm import CharLM, CharVocab, sample


class TableModel(nn.Module):
    """A stand-in language model: the logits for the next character are a fixed
    row of a table, picked by the last input character. Records what it sees."""

    def __init__(self, table):
        self.table = nn.Parameter(tr.tensor(np.asarray(table, dtype=np.float64)))
        self.vocab_size = self.table.shape[0]
        self.calls = []

    def forward(self, ids, state=None):
        self.calls.append((ids.numpy().copy(), state, self.training, tr.is_grad_enabled()))
        logits = tr.embedding(ids, self.table)                     # (T, B, V)
        return logits, (0 if state is None else state + 1)


VOCAB = CharVocab("abc")
# after a -> b (certain), after b -> c (certain), after c: 50/50 a or b
TABLE = [[-50.0, 50.0, -50.0], [-50.0, -50.0, 50.0], [0.0, 0.0, -50.0]]


def test_argmax_primes_then_generates():
    model = TableModel(TABLE)
    assert sample(model, VOCAB, prime="ab", length=4, argmax=True) == "abcabc"
    first_ids, first_state, training, grad = model.calls[0]
    np.testing.assert_array_equal(first_ids, [[0], [1]])            # the prime, (T, 1)
    assert first_state is None and not training and not grad        # eval, no_grad
    assert [c[1] for c in model.calls[1:]] == [0, 1, 2]             # state carried
    assert [c[0].tolist() for c in model.calls[1:]] == [[[2]], [[0]], [[1]]]  # each pick, once
    assert len(model.calls) == 4                                    # the last pick is not fed


def test_random_sampling_follows_the_softmax():
    model = TableModel(TABLE)
    text = sample(model, VOCAB, prime="c", length=4000, seed=0)
    after_c = [text[i + 1] for i in range(len(text) - 1) if text[i] == "c"]
    share_a = after_c.count("a") / len(after_c)
    assert "b" in after_c and "c" not in after_c and abs(share_a - 0.5) < 0.05
    assert all(text[i + 1] == "b" for i in range(len(text) - 1) if text[i] == "a")


def test_temperature_sharpens_and_flattens():
    table = [[1.0, 0.0, 0.0]] * 3                   # a slight preference for "a"
    cold = sample(TableModel(table), VOCAB, prime="a", length=2000, temperature=0.1, seed=1)
    hot = sample(TableModel(table), VOCAB, prime="a", length=2000, temperature=10.0, seed=1)
    p = np.exp([1.0, 0, 0]) / np.exp([1.0, 0, 0]).sum()            # at temperature 1
    assert cold[1:].count("a") / 2000 > 0.99
    assert abs(hot[1:].count("a") / 2000 - 1 / 3) < 0.05 and p[0] > 0.5
    # logits / temperature of thousands: the softmax subtracts the largest, no overflow
    frozen = sample(TableModel([[0.0, 5.0, 1.0]] * 3), VOCAB, prime="a", length=50,
                    temperature=1e-3, seed=2)
    assert frozen == "a" + "b" * 50


def test_seed_reproduces_and_no_prime_draws_a_first_character():
    model = TableModel([[0.0, 0.0, 0.0]] * 3)
    a = sample(model, VOCAB, length=50, seed=7)
    assert a == sample(model, VOCAB, length=50, seed=7) and len(a) == 50
    assert set(a) <= set("abc") and a != sample(model, VOCAB, length=50, seed=8)
    tr.manual_seed(3)
    b = sample(model, VOCAB, length=50)
    tr.manual_seed(3)
    assert b == sample(model, VOCAB, length=50)
    assert sample(model, VOCAB, prime="ab", length=0) == "ab"


def test_restores_training_mode_and_works_with_charlm(backend):
    model = CharLM(len(VOCAB), hidden_size=5, num_layers=2, cell="gru", dropout=0.3)
    text = sample(model, VOCAB, prime="abc", length=10, argmax=True)
    assert text.startswith("abc") and len(text) == 13 and set(text) <= set("abc")
    assert model.training and model.rnn.cells[0].training
    model.eval()
    sample(model, VOCAB, prime="a", length=3)
    assert not model.training
    assert text == sample(model, VOCAB, prime="abc", length=10, argmax=True)


def test_bad_input():
    model = TableModel(TABLE)
    with pytest.raises(ValueError, match=r"sample: the prime text has characters not in the "
                                         r"vocabulary: 'x', 'z' \(the vocabulary has 3"):
        sample(model, VOCAB, prime="axz")
    with pytest.raises(ValueError, match="temperature must be a number > 0; got 0"):
        sample(model, VOCAB, prime="a", temperature=0)
    assert sample(model, VOCAB, prime="a", temperature=np.float32(0.8), length=3, seed=0)
    with pytest.raises(ValueError, match="length must be an int >= 0; got -1"):
        sample(model, VOCAB, length=-1)
    with pytest.raises(ValueError, match="the model predicts 3 characters but the vocabulary "
                                         "has 4"):
        sample(model, CharVocab("abcd"), prime="a")
