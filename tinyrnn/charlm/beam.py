"""Beam search: the most probable continuation a model sees, not a random one.

Drawing one character at a time finds *a* likely text; the single most
probable text of ``L`` characters, ``argmax_x log p(x_1 .. x_L | prime)``, is
out of reach (``V**L`` candidates), and picking the best character at every
step (argmax, greedy) can miss it: a likely character may lead only to
unlikely ones. Beam search keeps the ``N`` best partial texts ("beams"):

    scores = beam_scores[:, None] + log p(next | beam)      # (N, V) candidates
    keep the N highest of the N*V, each extending its beam by one character

and, after ``L`` steps, returns the highest. With ``N = 1`` it is argmax;
with ``N >= V**(L-1)`` no candidate is ever dropped, so it is exact. The
beams run as one batch of ``N`` streams through the model, whose state is
reordered to follow the beams that survive.

The score reported is length-normalised, ``log p / L`` in nats per
character, so scores of different lengths compare; every beam here has the
same length, so the normalisation does not change which one wins.
"""
from __future__ import annotations

import numpy as np

from ..nn.state import map_state
from ..tensor import Tensor
from .next_char import check_prime, check_sampling, evaluating, step_logits

__all__ = ["beam_search", "best_candidates", "MAX_BEAM_LENGTH"]

MAX_BEAM_LENGTH = 100_000    # every beam's text is held to the end: N x L ids


def best_candidates(scores: np.ndarray, n: int) -> np.ndarray:
    """Flat indices of the ``n`` highest of ``scores`` (N, V), best first
    (ties: the lower index)."""
    flat = scores.reshape(-1)
    return np.argsort(-flat, kind="stable")[:n]


def _log_softmax(logits: np.ndarray, temperature: float) -> np.ndarray:
    z = (logits - logits.max(axis=-1, keepdims=True)) / temperature
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def _follow(state, parents: np.ndarray):
    """The state of each surviving beam: rows ``parents`` of every tensor."""
    def take(t: Tensor) -> Tensor:
        index = t.backend.asarray(parents.astype(np.int64))
        return Tensor.from_array(t.backend.xp.take(t.data, index, axis=0), t.backend)
    return map_state(take, state, "beam_search")


def beam_search(model, vocab, prime: str = "", length: int = 200, beam: int = 5,
                temperature: float = 1.0, seed: int | None = None) -> tuple[str, float]:
    """The most probable continuation of ``prime`` among ``beam`` beams.

    Parameters
    ----------
    model, vocab, prime, temperature : as :func:`~tinyrnn.charlm.sample`; the
        probabilities are ``softmax(logits / temperature)``.
    length : characters to generate (0 .. MAX_BEAM_LENGTH).
    beam : N >= 1, the beams kept at every step.
    seed : unused (beam search draws nothing); accepted so that the same
        arguments serve every way of sampling.

    Returns
    -------
    (text, score): ``prime`` + the best continuation, and its length-normalised
    log-probability ``log p(continuation | prime) / length`` (nats per char).
    Without a prime, the first character is scored as uniform, ``log 1/V``,
    as :func:`~tinyrnn.charlm.sample` draws it.
    """
    check_sampling(length, temperature, beam=beam)
    if length > MAX_BEAM_LENGTH:
        raise ValueError(f"beam_search: length must be <= {MAX_BEAM_LENGTH} (every "
                         f"beam's text is held to the end); got {length}")
    check_prime(vocab, prime, model)
    if length == 0:
        return prime, 0.0
    V = len(vocab)
    with evaluating(model):
        if prime:
            logits, state = step_logits(model, vocab.encode(prime).reshape(-1, 1), None)
            scores, chars, parents = np.zeros(1), [], []
        else:                             # every first character, each with p = 1/V
            first = best_candidates(np.zeros((1, V)), min(beam, V))
            scores = np.full(len(first), -np.log(V))
            chars, parents = [first], [np.zeros(len(first), dtype=np.int64)]
            logits, state = step_logits(model, first.reshape(1, -1), None)
        while len(chars) < length:
            candidates = scores[:, None] + _log_softmax(logits, temperature)
            best = best_candidates(candidates, beam)
            parent, char = np.divmod(best, V)
            scores = candidates.reshape(-1)[best]
            chars.append(char)
            parents.append(parent)
            if len(chars) < length:
                logits, state = step_logits(model, char.reshape(1, -1),
                                            _follow(state, parent))
    ids, b = [], 0                          # walk back from the best beam
    for t in range(length - 1, -1, -1):
        ids.append(int(chars[t][b]))
        b = int(parents[t][b])
    return prime + vocab.decode(ids[::-1]), float(scores[0]) / length
