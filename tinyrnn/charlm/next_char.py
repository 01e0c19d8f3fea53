"""One step of a character model: its next-character distribution, and the
checks of the arguments every way of sampling shares.

:func:`step_logits` runs the model and refuses logits that are not finite
(naming the weights that are not); :func:`next_char_probs` turns logits into
the distribution a character is drawn from (temperature, top-k, top-p);
:func:`check_sampling` and :func:`check_prime` refuse bad arguments in one
line naming the argument. Used by :mod:`.sample`, :mod:`.beam` and :mod:`.score`.
"""
from __future__ import annotations

import math
import numbers
from contextlib import contextmanager

import numpy as np

from ..autograd import no_grad
from ..tensor import Tensor
from .errors import ModelFileError

__all__ = ["next_char_probs", "check_sampling", "check_prime", "step_logits", "require_finite",
           "evaluating"]


@contextmanager
def evaluating(model):
    """Inside: eval mode (no dropout) and no graph recorded; afterwards the model's
    previous train / eval mode is back, also after an error."""
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            yield model
    finally:
        model.train(was_training)


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
    require_finite(model, last)
    return last, state


def require_finite(model, outputs: np.ndarray) -> None:
    """ModelFileError naming the weights that are not finite, if ``outputs``
    (what the model computed) holds NaN or inf; a model with finite weights
    cannot produce them from character ids."""
    if np.isfinite(outputs).all():
        return
    bad = [name for name, p in model.named_parameters() if not np.isfinite(p.numpy()).all()]
    raise ModelFileError(
        "the model's weights are not finite (NaN or inf in "
        + (", ".join(bad[:3]) if bad else "none of its parameters: its state") + "); "
        "it cannot be sampled or scored; use a checkpoint from before training diverged")
