"""Generate text from a character-level model, one character at a time.

The model reads the *prime* text (warming up its state), then repeatedly
turns its logits for the next character into probabilities,

    p = softmax(logits / temperature),

picks a character and feeds it back in. A temperature below 1 sharpens p
(safer, more repetitive text); above 1 flattens it (more surprising, more
mistakes). This is char-rnn's ``sample.lua``, with the ways of picking that
came after it:

``argmax``   always the most probable character (deterministic)
``top_k=K``  draw only among the K most probable characters (p renormalised)
``top_p=P``  draw only among the fewest most probable characters whose
             probabilities add up to at least P ("nucleus" sampling)
``beam=N``   not a draw at all: :func:`~tinyrnn.charlm.beam.beam_search` keeps
             the N most probable continuations and returns the best one

Top-k is applied first, then top-p on what it kept. :func:`generate` yields
the characters as they are made, so a long sample can be shown (and
interrupted) as it grows; :func:`sample` returns the whole string.
"""
from __future__ import annotations

import math
import numbers
from typing import Iterator

import numpy as np

from ..autograd import no_grad
from ..backend import host_rng
from ..tensor import Tensor
from .errors import ModelFileError

__all__ = ["sample", "generate", "next_char_probs", "check_sampling", "step_logits"]


def next_char_probs(logits, temperature: float = 1.0, top_k: int | None = None,
                    top_p: float | None = None) -> np.ndarray:
    """The distribution a character is drawn from, shape (V,), summing to 1.

    ``p = softmax((logits - max(logits)) / temperature)`` (the same as
    ``softmax(logits / temperature)``, but a tiny temperature cannot overflow),
    then every character outside the ``top_k`` most probable is set to 0, then
    every one outside the smallest set of most probable characters holding at
    least ``top_p`` of the mass, and p is renormalised. Ties are broken by
    the lower id, so exactly ``min(top_k, V)`` characters survive top-k.
    """
    logits = np.asarray(logits, dtype=np.float64)
    p = np.exp((logits - logits.max()) / temperature)
    p /= p.sum()
    if top_k is None and top_p is None:
        return p
    order = np.argsort(-p, kind="stable")            # most probable first
    keep = len(p) if top_k is None else min(top_k, len(p))
    if top_p is not None:
        mass = np.cumsum(p[order[:keep]]) / p[order[:keep]].sum()
        keep = min(keep, int(np.searchsorted(mass, top_p)) + 1)   # first prefix >= P
    kept = np.zeros_like(p)
    kept[order[:keep]] = p[order[:keep]]
    return kept / kept.sum()


def check_sampling(length, temperature, argmax=False, seed=None, top_k=None, top_p=None,
                   beam=None) -> None:
    """Raise ValueError naming the first argument of :func:`sample` that is out of range."""
    def whole(name, value, low):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
            raise ValueError(f"sample: {name} must be an int >= {low}; got {value!r}")
    whole("length", length, 0)
    if not (isinstance(temperature, numbers.Real) and temperature > 0):
        raise ValueError(f"sample: temperature must be a number > 0; got {temperature!r}")
    if not math.isfinite(temperature):
        raise ValueError(f"sample: temperature must be a finite number; got {temperature!r}")
    if seed is not None:
        whole("seed", seed, 0)
    if top_k is not None:
        whole("top_k", top_k, 1)
    if top_p is not None and not (isinstance(top_p, numbers.Real) and 0 < top_p <= 1):
        raise ValueError(f"sample: top_p must be a number in (0, 1]; got {top_p!r}")
    if beam is not None:
        whole("beam", beam, 1)
        if argmax or top_k is not None or top_p is not None:
            raise ValueError("sample: beam search picks the most probable continuation; "
                             "it does not combine with argmax, top_k or top_p")


def check_prime(vocab, prime: str, model) -> None:
    """The prime is a str of the vocabulary's characters, for a model of its size."""
    if not isinstance(prime, str):
        raise TypeError(f"sample: prime must be a str; got {type(prime).__name__}")
    V = len(vocab)
    model_V = getattr(model, "vocab_size", V)
    if model_V != V:
        raise ValueError(f"sample: the model predicts {model_V} characters but the "
                         f"vocabulary has {V}; use the vocabulary it was trained with")
    vocab.encode(prime, what="sample: the prime text")      # UnknownCharacters names them


def step_logits(model, ids, state):
    """Run ``model`` on ids (T, B) (a NumPy array) from ``state``: the last
    step's logits as float64 (B, V) on the host, and the new state.

    Logits that are not finite mean the weights are not (a model with finite
    weights cannot produce NaN here): ModelFileError names the first bad tensor.
    """
    backend = next(iter(model.parameters())).backend
    logits, state = model(Tensor(np.asarray(ids, dtype=np.int64), backend=backend), state)
    last = logits.numpy()[-1].astype(np.float64)
    if not np.isfinite(last).all():
        bad = [name for name, p in model.named_parameters()
               if not np.isfinite(p.numpy()).all()]
        raise ModelFileError(
            "the model's weights are not finite (NaN or inf in "
            + (", ".join(bad[:3]) if bad else "none of its parameters: its state") + "); "
            "it cannot be sampled or scored; use a checkpoint from before training diverged")
    return last, state


def generate(model, vocab, prime: str = "", length: int = 200, temperature: float = 1.0,
             argmax: bool = False, seed: int | None = None, top_k: int | None = None,
             top_p: float | None = None) -> Iterator[str]:
    """Yield ``prime``, then the ``length`` generated characters one at a time.

    Same arguments as :func:`sample` (without ``beam``); nothing is kept but
    the last character and the model's state, so memory does not grow with
    ``length``. The model is in eval mode while the generator runs and gets
    its previous mode back when the generator ends or is closed.
    """
    check_sampling(length, temperature, argmax, seed, top_k, top_p)
    check_prime(vocab, prime, model)
    V = len(vocab)
    rng = host_rng() if seed is None else np.random.default_rng(seed)

    def pick(logits) -> int:
        if argmax:
            return int(np.argmax(logits))
        return int(rng.choice(V, p=next_char_probs(logits, temperature, top_k, top_p)))

    if prime:
        yield prime
    if length == 0:
        return
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            if prime:
                logits, state = step_logits(model, vocab.encode(prime).reshape(-1, 1), None)
                made = 0
            else:
                last = int(rng.integers(V))
                yield vocab.decode([last])
                made = 1
                logits, state = step_logits(model, [[last]], None)
            while made < length:
                last = pick(logits[0])
                yield vocab.decode([last])
                made += 1
                if made < length:
                    logits, state = step_logits(model, [[last]], state)
    finally:
        model.train(was_training)


def sample(model, vocab, prime: str = "", length: int = 200, temperature: float = 1.0,
           argmax: bool = False, seed: int | None = None, top_k: int | None = None,
           top_p: float | None = None, beam: int | None = None) -> str:
    """Text generated by ``model`` after ``prime``.

    Parameters
    ----------
    model : a CharLM-like module, ``model(ids (T, B), state) -> (logits (T, B, V), state)``.
    vocab : a CharVocab-like object with ``encode(str) -> ids``, ``decode(ids) -> str``,
        ``len()`` and ``in``.
    prime : text to start from; every character must be in the vocabulary.
        Empty: the first character is drawn uniformly from the vocabulary.
    length : how many characters to generate after the prime (>= 0).
    temperature : finite, > 0; divides the logits before the softmax.
    argmax : always take the most likely character (deterministic; the
        temperature then does not matter).
    seed : an int >= 0 seeding this call's random draws; None uses tinyrnn's
        seeded generator (``tinyrnn.manual_seed``).
    top_k : draw only among the ``top_k`` most probable characters.
    top_p : draw only among the fewest most probable characters holding at
        least ``top_p`` of the probability (in (0, 1]).
    beam : return the most probable continuation found by a beam search with
        this many beams (:func:`tinyrnn.charlm.beam.beam_search`) instead of drawing.

    Returns
    -------
    ``prime`` followed by the ``length`` generated characters (when ``prime``
    is empty, the random first character counts as one of them).

    The model runs in eval mode (no dropout) without recording a graph; its
    previous train / eval mode is restored afterwards. Bad arguments raise
    ValueError naming the argument; prime characters outside the vocabulary
    raise :class:`~tinyrnn.charlm.UnknownCharacters`; a model whose weights
    are not finite raises :class:`~tinyrnn.charlm.ModelFileError`.
    """
    if beam is not None:
        from .beam import beam_search
        check_sampling(length, temperature, argmax, seed, top_k, top_p, beam)
        return beam_search(model, vocab, prime, length, beam, temperature, seed)[0]
    return "".join(generate(model, vocab, prime, length, temperature, argmax, seed,
                            top_k, top_p))
