"""Top-k, top-p and beam search: each against what it promises, with planted bugs
that the checks catch; plain temperature sampling and argmax unchanged."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import tinyrnn as tr
from tinyrnn.charlm import CharLM, CharVocab, sample
from tinyrnn.charlm import beam as beam_module
from tinyrnn.charlm.beam import beam_search
from tinyrnn.charlm.next_char import next_char_probs
from tinyrnn.charlm.sample import generate


def tiny_model(V: int, seed: int, scale: float = 3.0) -> tuple[CharLM, CharVocab]:
    """A random one-layer LSTM over V characters with confident (scaled) logits."""
    tr.manual_seed(seed)
    model = CharLM(V, hidden_size=8, num_layers=1, cell="lstm")
    model.decoder.weight.data[...] *= scale
    return model, CharVocab("abcdefgh"[:V])


def teacher_forced_logits(model, vocab, text: str) -> np.ndarray:
    """(len(text), V): the logits after each character of ``text``, state carried."""
    with tr.no_grad():
        logits, _ = model(vocab.encode(text).reshape(-1, 1))
    return logits.numpy()[:, 0].astype(np.float64)


def log_prob(model, vocab, prime: str, continuation: str) -> float:
    """log p(continuation | prime) under the model, from one forward pass."""
    logits = teacher_forced_logits(model, vocab, prime + continuation)
    logits = logits - logits.max(axis=1, keepdims=True)
    logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    ids = vocab.encode(continuation)
    return float(sum(logp[len(prime) - 1 + t, i] for t, i in enumerate(ids)))


# ---- top-k ---------------------------------------------------------------------------
@pytest.mark.parametrize("k", [1, 2, 3])
def test_top_k_never_emits_outside_the_k_most_probable(k):
    model, vocab = tiny_model(6, seed=k)
    for seed in range(3):
        text = sample(model, vocab, prime="a", length=150, top_k=k, seed=seed)
        logits = teacher_forced_logits(model, vocab, text)
        for t in range(1, len(text)):                      # each generated character
            rank = int((logits[t - 1] > logits[t - 1][vocab.index(text[t])]).sum())
            assert rank < k, (t, text[t], rank)


def test_top_k_keeps_exactly_k_and_renormalises():
    p = next_char_probs(np.array([0.0, 2.0, 2.0, 1.0, -1.0]), top_k=2)
    assert np.count_nonzero(p) == 2 and p[1] == p[2] == pytest.approx(0.5)


# ---- top-p ---------------------------------------------------------------------------
def check_nucleus(p: np.ndarray, kept: np.ndarray, top_p: float) -> None:
    """What top-p promises: the kept characters are the most probable ones, hold
    at least top_p of the mass, and none of them could be dropped."""
    keep = kept > 0
    assert p[keep].min() >= p[~keep].max(initial=-1.0), "a less probable one was kept"
    assert p[keep].sum() >= top_p - 1e-12, "kept mass below P"
    assert p[keep].sum() - p[keep].min() < top_p, "not minimal: one kept is not needed"
    np.testing.assert_allclose(kept[keep], p[keep] / p[keep].sum())


def test_top_p_keeps_the_smallest_most_probable_set_with_mass_at_least_p():
    rng = np.random.default_rng(0)
    for _ in range(300):
        logits = rng.normal(size=rng.integers(2, 30)) * rng.uniform(0.1, 5)
        top_p = float(rng.uniform(0.05, 1.0))
        p = next_char_probs(logits)
        check_nucleus(p, next_char_probs(logits, top_p=top_p), top_p)


def test_top_p_check_fails_on_a_filter_that_drops_the_most_probable():
    """The planted bug: the nucleus taken one place too far down the ranking."""
    def buggy(logits, top_p):
        p = next_char_probs(logits)
        order = np.argsort(-p, kind="stable")[1:]               # skips the best
        n = int(np.searchsorted(np.cumsum(p[order]), top_p)) + 1
        kept = np.zeros_like(p)
        kept[order[:n]] = p[order[:n]]
        return kept / kept.sum()
    logits = np.array([3.0, 1.0, 0.5, 0.0, -1.0])
    check_nucleus(next_char_probs(logits), next_char_probs(logits, top_p=0.5), 0.5)
    with pytest.raises(AssertionError):
        check_nucleus(next_char_probs(logits), buggy(logits, 0.5), 0.5)


def test_top_p_sampling_emits_only_the_nucleus():
    model, vocab = tiny_model(6, seed=4)
    text = sample(model, vocab, prime="b", length=200, top_p=0.6, seed=1)
    logits = teacher_forced_logits(model, vocab, text)
    for t in range(1, len(text)):
        assert next_char_probs(logits[t - 1], top_p=0.6)[vocab.index(text[t])] > 0


# ---- beam search -----------------------------------------------------------------------
def brute_force_best(model, vocab, prime: str, length: int) -> tuple[str, float]:
    scored = {"".join(c): log_prob(model, vocab, prime, "".join(c))
              for c in itertools.product(vocab.chars, repeat=length)}
    best = max(scored, key=scored.get)
    return best, scored[best]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_beam_wide_enough_is_the_most_probable_of_all_sequences(seed):
    model, vocab = tiny_model(3, seed=seed)
    best, logp = brute_force_best(model, vocab, "a", 4)
    text, score = beam_search(model, vocab, "a", length=4, beam=3 ** 3)  # never drops one
    assert text == "a" + best
    assert score == pytest.approx(logp / 4, abs=1e-6)         # length-normalised


def test_beam_of_one_is_argmax_and_the_check_fails_on_a_one_hypothesis_beam(monkeypatch):
    """On this model the greedy path is not the best one, so a beam search that
    keeps a single hypothesis (the planted bug) misses it."""
    for seed in range(200):         # the first seeded model whose greedy path is not the best
        model, vocab = tiny_model(3, seed=seed)
        best, _ = brute_force_best(model, vocab, "a", 4)
        greedy = sample(model, vocab, prime="a", length=4, argmax=True)
        if greedy != "a" + best:
            break
    assert greedy != "a" + best, "no model among 200 seeds has a greedy path that is not the best"
    assert beam_search(model, vocab, "a", 4, beam=1)[0] == greedy
    assert beam_search(model, vocab, "a", 4, beam=27)[0] == "a" + best
    monkeypatch.setattr(beam_module, "best_candidates", lambda scores, n: np.argsort(
        -scores.reshape(-1), kind="stable")[:1])
    assert beam_search(model, vocab, "a", 4, beam=27)[0] != "a" + best


def test_beam_without_prime_and_through_sample():
    model, vocab = tiny_model(3, seed=2)
    scored = {"".join(c): np.log(1 / 3) + log_prob(model, vocab, c[0], "".join(c[1:]))
              for c in itertools.product(vocab.chars, repeat=3)}
    best = max(scored, key=scored.get)
    assert sample(model, vocab, length=3, beam=9) == best
    assert beam_search(model, vocab, "", 3, beam=9) == (best, pytest.approx(scored[best] / 3))
    assert len(sample(model, vocab, prime="ab", length=30, beam=4)) == 32


def test_beam_search_keeps_five_beams_unless_told_and_checks_its_prime():
    model, vocab = tiny_model(6, seed=18, scale=1.0)     # a model where 4 and 5 beams differ
    five = beam_search(model, vocab, "a", 8, beam=5)
    assert beam_search(model, vocab, "a", 8) == five != beam_search(model, vocab, "a", 8, beam=4)
    assert beam_search(model, vocab, "ab", 0) == ("ab", 0.0)
    assert len(beam_search(model, vocab, "ab", beam=1)[0]) == 2 + 200      # by default
    with pytest.raises(ValueError, match="prime"):
        beam_search(model, vocab, "az", 3)


@pytest.mark.parametrize("temperature", [0.5, 2.0])
def test_beam_search_scores_under_softmax_of_logits_over_temperature(temperature):
    model, vocab = tiny_model(3, seed=4)
    scores = {}
    for chars in itertools.product(vocab.chars, repeat=3):
        z = teacher_forced_logits(model, vocab, "a" + "".join(chars))[:-1] / temperature
        logp = z - z.max(axis=1, keepdims=True)
        logp -= np.log(np.exp(logp).sum(axis=1, keepdims=True))
        scores["".join(chars)] = sum(logp[t, vocab.encode(c)[0]] for t, c in enumerate(chars))
    best = max(scores, key=scores.get)
    text, score = beam_search(model, vocab, "a", 3, beam=9, temperature=temperature)
    assert text == "a" + best and score == pytest.approx(scores[best] / 3)


def test_the_default_temperature_is_one():
    logits = np.array([2.0, 0.5, -1.0, 3.0])
    p = np.exp(logits - logits.max())
    np.testing.assert_allclose(next_char_probs(logits), p / p.sum(), rtol=1e-12)


@pytest.mark.parametrize("argmax", [True, False])
def test_a_model_whose_weights_turned_nan_is_not_sampled(argmax):
    from tinyrnn.charlm.errors import ModelFileError
    model, vocab = tiny_model(4, seed=1)
    model.decoder.weight.data[0, 0] = np.nan
    with pytest.raises(ModelFileError, match="decoder.weight"):
        sample(model, vocab, prime="ab", length=5, argmax=argmax, seed=0)


def test_beam_search_stays_finite_when_cold():
    """At a low temperature the logits / T reach the thousands: the log-softmax
    must subtract their maximum before exponentiating."""
    model, vocab = tiny_model(5, seed=3, scale=30.0)
    text, score = beam_search(model, vocab, "ab", 6, beam=3, temperature=1e-3)
    assert np.isfinite(score) and text == sample(model, vocab, "ab", 6, argmax=True)


def test_sample_writes_200_characters_by_default():
    model, vocab = tiny_model(4, seed=1)
    assert len(sample(model, vocab, prime="ab", seed=0)) == 2 + 200
    assert len("".join(generate(model, vocab, "ab", seed=0))) == 2 + 200


# ---- plain sampling unchanged, seeds -----------------------------------------------------
def reference_sample(model, vocab, prime, length, temperature, seed, argmax=False):
    """The plain algorithm, written out: softmax(logits / T), one draw per step."""
    rng = np.random.default_rng(seed)
    text = prime
    for _ in range(length):
        z = teacher_forced_logits(model, vocab, text)[-1] / temperature
        p = np.exp(z - z.max())
        text += vocab.chars[int(np.argmax(z)) if argmax else
                            int(rng.choice(len(vocab), p=p / p.sum()))]
    return text


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0])
def test_temperature_and_argmax_are_the_plain_algorithm(temperature):
    model, vocab = tiny_model(5, seed=3, scale=1.0)
    for seed in (0, 1):
        plain = sample(model, vocab, prime="ab", length=40, temperature=temperature, seed=seed)
        assert plain == reference_sample(model, vocab, "ab", 40, temperature, seed)
        # keeping everything draws the very same characters
        assert sample(model, vocab, prime="ab", length=40, temperature=temperature,
                      seed=seed, top_k=5, top_p=1.0) == plain
    assert sample(model, vocab, prime="c", length=30, argmax=True) == \
        reference_sample(model, vocab, "c", 30, 1.0, 0, argmax=True)


def test_seed_reproduces_every_strategy_and_generate_streams_the_same_text():
    model, vocab = tiny_model(6, seed=5)
    for kwargs in ({}, {"top_k": 3}, {"top_p": 0.8}, {"top_k": 4, "top_p": 0.9}):
        a = sample(model, vocab, prime="a", length=50, seed=9, **kwargs)
        assert a == sample(model, vocab, prime="a", length=50, seed=9, **kwargs)
        assert "".join(generate(model, vocab, "a", 50, seed=9, **kwargs)) == a


@pytest.mark.parametrize("kwargs, message", [
    ({"top_k": 0}, "top_k must be an int >= 1; got 0"),
    ({"top_p": 0.0}, r"top_p must be a number in \(0, 1\]; got 0.0"),
    ({"top_p": 1.5}, r"top_p must be a number in \(0, 1\]; got 1.5"),
    ({"beam": 0}, "beam must be an int >= 1; got 0"),
    ({"beam": 2, "top_k": 3}, "does not combine with argmax, top_k or top_p"),
    ({"temperature": float("inf")}, "temperature must be a finite number; got inf"),
    ({"temperature": float("nan")}, "temperature must be a number > 0; got nan"),
    ({"seed": -1}, "seed must be an int >= 0; got -1"),
])
def test_bad_strategy_arguments_are_named(kwargs, message):
    model, vocab = tiny_model(3, seed=0)
    with pytest.raises(ValueError, match=message):
        sample(model, vocab, prime="a", length=5, **kwargs)
