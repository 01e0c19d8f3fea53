"""The papers' synthetic tasks (tinyrnn.tasks): shapes, contents, seeding, errors."""
import numpy as np
import pytest

from tinyrnn.tasks import (IGNORE_INDEX, adding_problem, associative_retrieval, copy_problem,
                           render_retrieval, RETRIEVAL_CHARS)


def test_adding_problem():
    rng = np.random.default_rng(0)
    x, y = adding_problem(500, 20, rng)
    assert x.shape == (20, 500, 2) and y.shape == (500,)
    assert x.dtype == np.float32 and y.dtype == np.float32
    markers = x[..., 1]
    assert np.array_equal(markers.sum(0), np.full(500, 2.0))
    assert np.array_equal(markers[:10].sum(0), np.ones(500))   # one in each half
    assert np.allclose((x[..., 0] * markers).sum(0), y)
    assert 0 <= x[..., 0].min() and x[..., 0].max() < 1
    assert abs(y.var() - 2 / 12) < 0.03                        # chance-level MSE
    x2, y2 = adding_problem(500, 20, np.random.default_rng(0))
    assert np.array_equal(x, x2) and np.array_equal(y, y2)
    x, y = adding_problem(300, 3, rng, one_per_half=False)
    assert np.array_equal(x[..., 1].sum(0), np.full(300, 2.0))  # two distinct steps


def test_copy_problem_fixed_delay():
    S, T, n = 4, 7, 50
    x, y, vocab_size = copy_problem(n, T, S=S, num_symbols=8, rng=np.random.default_rng(1))
    L = 2 * S + T
    assert x.shape == y.shape == (L, n) and vocab_size == 9
    blank, go = 7, 8
    assert x[:S].max() < blank                               # data symbols 0..6
    assert np.all(x[S:S + T - 1] == blank) and np.all(x[S + T - 1] == go)
    assert np.all(x[S + T:] == blank)
    assert np.array_equal(y[-S:], x[:S])                     # copy at the end
    assert np.all(y[:-S] == IGNORE_INDEX)


def test_copy_problem_random_delay_blank_targets():
    S, T, n = 3, 10, 200
    x, y, _ = copy_problem(n, T, S, 5, np.random.default_rng(2),
                           random_delay=True, blank_targets=True)
    blank, go = 4, 5
    go_steps = np.argmax(x == go, axis=0)
    assert np.all((x == go).sum(0) == 1)
    assert go_steps.min() >= S and go_steps.max() <= S + T - 1
    assert len(np.unique(go_steps)) > 5
    for i in range(n):
        g = go_steps[i]
        assert np.array_equal(y[g + 1:g + 1 + S, i], x[:S, i])
        rest = np.delete(y[:, i], np.arange(g + 1, g + 1 + S))
        assert np.all(rest == blank)


def test_associative_retrieval():
    rng = np.random.default_rng(3)
    x, y, vocab = associative_retrieval(400, K=4, rng=rng)
    assert x.shape == (11, 400) and y.shape == (400,) and x.dtype == np.int64
    assert len(vocab) == 37 and vocab == RETRIEVAL_CHARS
    for i in range(400):
        text = "".join(vocab[k] for k in x[:, i])
        keys, values = text[0:8:2], text[1:8:2]
        assert len(set(keys)) == 4 and keys.isalpha() and values.isdigit()
        assert text[8:10] == "??" and text[10] in keys
        assert values[keys.index(text[10])] == str(y[i])
    assert render_retrieval(x, y, 0) == "".join(vocab[k] for k in x[:, 0]) + " -> " + str(y[0])
    assert sorted(np.unique(y)) == list(range(10))
    x, y, _ = associative_retrieval(50, K=10, rng=rng, unique_values=True)
    assert all(len(set(x[1:20:2, i])) == 10 for i in range(50))


def test_synthetic_tasks_validate():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="K <= 26"):
        associative_retrieval(10, K=27, rng=rng)
    with pytest.raises(ValueError, match="Generator"):
        associative_retrieval(10, K=4, rng=None)
    with pytest.raises(ValueError, match="num_symbols >= 3"):
        copy_problem(10, 5, num_symbols=2, rng=rng)
    with pytest.raises(ValueError, match="T >= 2"):
        adding_problem(10, 1, rng)
