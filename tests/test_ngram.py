"""Tests for tinyrnn.charlm.ngram: interpolated Kneser–Ney against a direct
implementation of its recursion, with Ney's discounts counted separately."""
import itertools
import math
from collections import Counter, defaultdict

import numpy as np
import pytest

from tinyrnn.charlm.ngram import NGramModel


def _continuation_counts(ids, n):
    """{k: Counter of k-gram -> c_k}: raw counts at the top order n, and below it
    the number of distinct characters seen just before the k-gram."""
    grams = {k: Counter(tuple(ids[i - k + 1:i + 1]) for i in range(k - 1, len(ids)))
             for k in range(1, n + 1)}
    count = {n: grams[n]}
    for k in range(1, n):
        count[k] = Counter(g[1:] for g in grams[k + 1])
    return count


def _ney_discounts(ids, n):
    """Ney's D_k = n1 / (n1 + 2 n2) per order, unclipped (None where n1 + n2 = 0)."""
    count = _continuation_counts([int(i) for i in ids], n)
    out = []
    for k in range(1, n + 1):
        n1 = sum(1 for c in count[k].values() if c == 1)
        n2 = sum(1 for c in count[k].values() if c == 2)
        out.append(None if n1 + n2 == 0 else n1 / (n1 + 2 * n2))
    return out


def _reference_kn(ids, n, V, discounts):
    """Interpolated Kneser–Ney written straight from its recursion with dicts of
    tuples (slow, obviously right), for the given discounts D_1..D_n; returns
    context -> P(. | context)."""
    ids = [int(i) for i in ids]
    count = _continuation_counts(ids, n)
    total, types = {}, {}
    for k in range(1, n + 1):
        total[k], types[k] = defaultdict(int), defaultdict(int)
        for g, c in count[k].items():
            total[k][g[:-1]] += c
            types[k][g[:-1]] += c > 0

    def prob(w, h):
        k = len(h) + 1
        lower = 1.0 / V if k == 1 else prob(w, h[1:])
        if total[k][h] == 0:
            return lower
        D = discounts[k - 1]
        return (max(count[k][h + (w,)] - D, 0) + D * types[k][h] * lower) / total[k][h]

    def probs(context):
        h = tuple(int(i) for i in context)[max(0, len(context) - (n - 1)):]
        return np.array([prob(w, h) for w in range(V)])

    return probs


def _markov_text(length, V, seed):
    """Text from a sparse order-2 Markov chain: strong but not perfect patterns."""
    rng = np.random.default_rng(seed)
    table = rng.dirichlet(np.full(V, 0.2), size=(V, V))
    out = [0, 1]
    for _ in range(length - 2):
        out.append(rng.choice(V, p=table[out[-2], out[-1]]))
    return np.array(out)


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_matches_reference_implementation(n):
    V = 6
    train = _markov_text(400, V - 1, seed=n)        # character V-1 never seen
    # the documented estimate: Ney's value, clipped to [0.05, 1]; 0.5 where undefined
    ney = [0.5 if d is None else min(max(d, 0.05), 1.0) for d in _ney_discounts(train, n)]
    rng = np.random.default_rng(0)
    contexts = [[], [2], [V - 1], list(train[10:10 + n]), list(train[-n:])]
    contexts += [list(rng.integers(0, V, size=rng.integers(1, n + 2))) for _ in range(30)]
    for model, discounts in [(NGramModel(n, V).fit(train), ney),
                             (NGramModel(n, V, discount=0.3).fit(train), [0.3] * n)]:
        assert np.allclose(model.discounts, discounts, rtol=1e-12, atol=0)
        reference = _reference_kn(train, n, V, discounts)
        for context in contexts:
            expected = reference(context)
            assert np.allclose(model.probs(context), expected, rtol=1e-12, atol=0), context
            assert np.allclose(model.log_probs(context), np.log(expected))


def test_estimated_discounts_are_kept_in_the_documented_range():
    """D_k = n1 / (n1 + 2 n2) is clipped to [0.05, 1], and is 0.5 when no k-gram
    count is 1 or 2 (the module's docstring)."""
    twice = np.array([0, 1, 0, 1])                 # unigram counts 2, 2: n1 = 0
    assert _ney_discounts(twice, 1) == [0.0]
    assert NGramModel(1, 2).fit(twice).discounts == [0.05]
    thrice = np.array([0, 0, 0, 1, 1, 1])          # counts 3, 3: n1 = n2 = 0
    assert _ney_discounts(thrice, 1) == [None]
    assert NGramModel(1, 2).fit(thrice).discounts == [0.5]


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8])
def test_probabilities_sum_to_one(n):
    V = 12
    model = NGramModel(n, V).fit(_markov_text(2000, V - 2, seed=1))
    rng = np.random.default_rng(1)
    for length in [0, 1, n - 1, n + 3]:
        for _ in range(10):
            p = model.probs(rng.integers(0, V, size=length))
            assert p.shape == (V,) and np.all(p > 0)
            assert abs(p.sum() - 1) < 1e-12
    # exhaustively for every short context of the small alphabet (seen or not)
    for context in itertools.product(range(V), repeat=min(n - 1, 2)):
        assert abs(model.probs(list(context)).sum() - 1) < 1e-12


def test_nll_agrees_with_log_probs():
    V, n = 9, 4
    model = NGramModel(n, V).fit(_markov_text(3000, V, seed=2))
    test = _markov_text(300, V, seed=3)
    nll = model.nll(test)
    assert nll.shape == (300,) and nll.dtype == np.float64
    for i in list(range(6)) + list(range(100, 300, 37)):
        assert math.isclose(nll[i], -model.log_probs(test[:i])[test[i]], rel_tol=1e-12)
    assert math.isclose(model.mean_nll(test), nll.mean())


def test_unigram_is_smoothed_frequency():
    V = 5
    ids = np.array([0] * 50 + [1] * 30 + [2] * 19 + [3])      # 4 never occurs
    model = NGramModel(1, V).fit(ids)
    counts = np.bincount(ids, minlength=V)
    n1, n2 = 1, 0                                            # one char seen once
    D = n1 / (n1 + 2 * n2)
    expected = (np.maximum(counts - D, 0) + D * 4 / V) / 100  # 4 seen types
    assert model.discounts == [D]
    assert np.allclose(model.probs([]), expected)
    assert np.allclose(model.probs([1, 2, 3]), expected)     # context ignored
    # with a small fixed discount it is close to the plain frequencies
    plain = NGramModel(1, V, discount=0.01).fit(ids).probs([])
    assert np.allclose(plain, counts / 100, atol=1e-3) and plain[4] > 0


def test_higher_order_helps_on_patterned_text():
    rng = np.random.default_rng(0)
    words = ["def ", "return ", "self", "(x)", ":\n    ", "lambda "]
    text = "".join(rng.choice(words, size=4000))
    chars = sorted(set(text))
    ids = np.array([chars.index(c) for c in text])
    train, test = ids[:-3000], ids[-3000:]
    nlls = [NGramModel(n, len(chars)).fit(train).mean_nll(test) for n in [1, 2, 3, 5, 7]]
    assert all(a > b for a, b in zip(nlls, nlls[1:])), nlls
    assert nlls[-1] < 0.5 * nlls[0]


def test_unseen_contexts_back_off():
    V = 4
    model = NGramModel(5, V).fit(np.array([0, 1] * 200))   # "abab..."
    test = np.array([2, 3, 3, 2, 0, 1, 0, 3, 2, 2])
    nll = model.nll(test)
    assert np.all(np.isfinite(nll)) and np.all(nll > 0)
    # "0 1 0" was seen (followed by 1), so position 7 has a 3-character context
    assert np.array_equal(model.context_lengths(test), [0, 0, 0, 0, 0, 1, 2, 3, 0, 0])
    assert model.context_lengths(np.array([0, 1, 0, 1, 0, 1]))[-1] == 4
    assert model.nll(np.array([0, 1, 0, 1, 0, 1]))[-1] < 0.05


def test_short_training_text_and_errors():
    model = NGramModel(6, 3).fit(np.array([0, 1, 2]))      # shorter than n
    assert abs(model.probs([0, 1, 2, 0, 1]).sum() - 1) < 1e-12
    assert np.all(np.isfinite(model.nll(np.array([2, 2, 1, 0, 0, 1, 2]))))
    with pytest.raises(ValueError, match=r"ids must lie in \[0, 3\)"):
        model.nll(np.array([0, 3]))
    with pytest.raises(ValueError, match="n must be"):
        NGramModel(0, 3)
    with pytest.raises(ValueError, match="discount"):
        NGramModel(2, 3, discount=1.5)
    with pytest.raises(RuntimeError, match="fit"):
        NGramModel(2, 3).nll(np.array([0]))
    with pytest.raises(ValueError, match="empty"):
        NGramModel(2, 3).fit(np.array([], dtype=np.int64))


