"""tinyrnn.viz.connectivity and top_guesses: the numbers against central differences
and a plain softmax, for every cell, and the pictures."""
from __future__ import annotations

import numpy as np
import pytest

import tinyrnn as tr
from tinyrnn import viz
from tinyrnn.charlm import CharLM, CharVocab

CHARS = "ab c\n"
TEXT = "ab ca\nbc a"
CELLS = ("rnn", "lstm", "gru", "rwa", "fw")


def model_of(cell: str, seed: int = 0, embedding_dim=None) -> CharLM:
    tr.manual_seed(seed)
    return CharLM(len(CHARS), hidden_size=6, num_layers=2 if cell != "rwa" else 1, cell=cell,
                  embedding_dim=embedding_dim).double().eval()


def log_p_next(model, x: np.ndarray, ids: np.ndarray, t: int) -> float:
    """log p(c_{t+1} | ...) with the input vectors ``x`` (T-1, 1, E) given directly."""
    with tr.no_grad():
        out, _ = model.rnn(tr.tensor(x))
        logits = model.decoder(out).numpy()[t, 0]
    logits = logits - logits.max()
    return float(logits[ids[t + 1]] - np.log(np.exp(logits).sum()))


@pytest.mark.parametrize("cell", CELLS)
def test_connectivity_is_the_gradient_norm_of_the_next_char_log_prob(cell):
    model = model_of(cell, embedding_dim=3)
    C = viz.connectivity_matrix(model, TEXT, CHARS)
    T = len(TEXT) - 1
    assert C.shape == (T, T) and np.all(np.triu(C, 1) == 0)     # never on later inputs
    assert np.all(np.diag(C) > 0)
    ids = np.array([CHARS.index(c) for c in TEXT])
    with tr.no_grad():
        x0 = model.embedding(tr.tensor(ids[:-1].reshape(-1, 1))).numpy().astype(np.float64)
    for t, s in [(T - 1, 0), (T - 1, T - 3), (4, 2), (3, 3)]:
        grad, eps = np.zeros(x0.shape[-1]), 1e-6
        for e in range(x0.shape[-1]):
            up, down = x0.copy(), x0.copy()
            up[s, 0, e] += eps
            down[s, 0, e] -= eps
            grad[e] = (log_p_next(model, up, ids, t) - log_p_next(model, down, ids, t)) / (2 * eps)
        assert C[t, s] == pytest.approx(np.linalg.norm(grad), rel=1e-5, abs=1e-9), (t, s)


def test_connectivity_leaves_the_model_as_it_was():
    model = model_of("lstm")
    model.train()
    before = [(p.requires_grad, p.grad) for p in model.parameters()]
    viz.connectivity_matrix(model, TEXT, CharVocab(CHARS))       # a vocabulary object too
    assert model.training
    assert [(p.requires_grad, p.grad) for p in model.parameters()] == before


@pytest.mark.parametrize("cell", CELLS)
def test_top_guesses_are_the_softmax_best_in_order(cell):
    model = model_of(cell, seed=2)
    table = viz.guess_table(model, TEXT, CHARS, k=3)
    with tr.no_grad():
        logits, _ = model(np.array([CHARS.index(c) for c in TEXT]).reshape(-1, 1))
    z = logits.numpy()[:, 0]
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    for t in range(len(TEXT)):
        best = np.argsort(-p[t])[:3]
        assert table["chars"][t] == [CHARS[i] for i in best]
        np.testing.assert_allclose(table["probs"][t], p[t][best], rtol=1e-9)
        if t < len(TEXT) - 1:
            assert table["hit"][t] == (TEXT[t + 1] in table["chars"][t])


@pytest.mark.parametrize("cell", ["lstm", "rwa"])      # the numbers are tested for all
def test_the_pictures(cell, tmp_path):
    model = model_of(cell)
    viz.connectivity(model, TEXT, CHARS, path=tmp_path / "c.png", title=cell)
    viz.top_guesses(model, TEXT, CHARS, path=tmp_path / "g.png")
    for name in ("c.png", "g.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"


def test_bad_input_is_named():
    model = model_of("gru")
    with pytest.raises(ValueError, match="characters not in the vocabulary: 'z'"):
        viz.connectivity_matrix(model, "abz", CHARS)
    with pytest.raises(ValueError, match="at least 2 characters"):
        viz.guess_table(model, "a", CHARS)
    with pytest.raises(TypeError, match="has no embedding, rnn, decoder"):
        viz.guess_table(tr.nn.Linear(2, 2), "ab", CHARS)
    with pytest.raises(ValueError, match="k must be an int >= 1"):
        viz.guess_table(model, "ab", CHARS, k=0)
