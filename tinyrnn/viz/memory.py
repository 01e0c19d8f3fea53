"""What a character model remembers, as numbers: connectivity and top guesses.

Both take a model of the char-rnn layout, ids (T, B) -> embedding -> a
recurrent stack -> decoder -> logits (T, B, V), i.e. any module with

    model.embedding(ids)  -> x (T, B, E)
    model.rnn(x, state)   -> (h (T, B, H), state)
    model.decoder(h)      -> logits (T, B, V)

and ``model(ids)`` doing those three in eval mode, and a vocabulary: a plain
string of the characters in id order, or an object with ``encode(str)`` and
``decode(ids)``.

* :func:`connectivity_matrix`: ``C[t, s] = ||d y_t / d x_s||``, how strongly
  the model's output at step t depends on the input at step s <= t
  (Madsen, "Visualizing memorization in RNNs", Distill 2019). Here ``y_t``
  is the log-probability the model gives the character that really comes
  next, ``log p(c_{t+1} | c_0 .. c_t)``, and ``x_s`` the input vector of
  character s (its one-hot or embedding row); one backward pass of the
  engine per output step gives a whole row.
* :func:`guess_table`: at every position the model's ``k`` most probable
  next characters and their probabilities (Karpathy, "The Unreasonable
  Effectiveness of Recurrent Neural Networks", 2015).
"""
from __future__ import annotations

import numpy as np

from ..autograd import no_grad
from ..ops import log_softmax
from ..tensor import Tensor

__all__ = ["encode_text", "connectivity_matrix", "guess_table"]


def encode_text(text: str, vocab, fn: str) -> tuple[np.ndarray, callable]:
    """(ids (T,) int64, decode(id) -> str) of ``text`` in ``vocab`` (a str or an
    object with ``encode`` / ``decode``); ValueError naming unknown characters."""
    if not isinstance(text, str) or len(text) < 2:
        raise ValueError(f"{fn}: text must be a str of at least 2 characters; "
                         f"got {text!r:.40}")
    if isinstance(vocab, str):
        index = {c: i for i, c in enumerate(vocab)}
        missing = sorted(set(text) - set(index))
        if missing:
            raise ValueError(f"{fn}: characters not in the vocabulary: "
                             + ", ".join(repr(c) for c in missing[:10]))
        return np.array([index[c] for c in text], dtype=np.int64), lambda i: vocab[i]
    ids = np.asarray(vocab.encode(text), dtype=np.int64)
    return ids, lambda i: vocab.decode([i])


def _check_layout(model, fn: str) -> None:
    missing = [name for name in ("embedding", "rnn", "decoder") if not hasattr(model, name)]
    if missing:
        raise TypeError(f"{fn}: expected a model with embedding, rnn and decoder "
                        f"(ids -> logits, the char-rnn layout); {type(model).__name__} "
                        f"has no {', '.join(missing)}")


def connectivity_matrix(model, text: str, vocab) -> np.ndarray:
    """``C`` (T-1, T-1): ``C[t, s] = ||d log p(c_{t+1} | c_0..c_t) / d x_s||`` for
    the T-1 predictions over ``text`` (T characters); 0 above the diagonal
    (an output never depends on later inputs).

    The model runs in eval mode on its own backend, its parameters frozen
    (their ``.grad`` untouched); modes and flags are restored afterwards.
    """
    _check_layout(model, "connectivity_matrix")
    ids, _ = encode_text(text, vocab, "connectivity_matrix")
    params = model.parameters()
    backend = params[0].backend
    flags, was_training = [p.requires_grad for p in params], model.training
    model.eval()
    for p in params:
        p.requires_grad_(False)
    try:
        inputs = Tensor(ids[:-1].reshape(-1, 1), backend=backend)
        x = model.embedding(inputs)                                    # (T-1, 1, E)
        # in the model's own dtype (a one-hot embedding makes float32 unless told)
        x = Tensor(backend.xp.astype(x.data, model.decoder.weight.data.dtype),
                   backend=backend, requires_grad=True)
        out, _ = model.rnn(x)
        logp = log_softmax(model.decoder(out), axis=-1)                # (T-1, 1, V)
        T = len(ids) - 1
        C = np.zeros((T, T))
        for t in range(T):
            x.grad = None
            logp[t, 0, int(ids[t + 1])].backward(retain_graph=t < T - 1)
            C[t] = np.sqrt((x.grad.numpy()[:, 0].astype(np.float64) ** 2).sum(axis=1))
    finally:
        for p, flag in zip(params, flags):
            p.requires_grad_(flag)
        model.train(was_training)
    return C


def guess_table(model, text: str, vocab, k: int = 5) -> dict:
    """The model's ``k`` best guesses for the character after each of ``text``'s.

    Returns ``{"text": text, "chars": [[str] * k] * T, "probs": (T, k),
    "hit": (T,) bool}``: row t holds the guesses made after reading
    characters 0..t, most probable first; ``hit[t]`` says whether character
    t+1 was among them (False for the last row, which has no next character).
    """
    _check_layout(model, "guess_table")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"guess_table: k must be an int >= 1; got {k!r}")
    ids, decode = encode_text(text, vocab, "guess_table")
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            backend = model.parameters()[0].backend
            logits, _ = model(Tensor(ids.reshape(-1, 1), backend=backend))
    finally:
        model.train(was_training)
    z = logits.numpy()[:, 0].astype(np.float64)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    best = np.argsort(-p, axis=1, kind="stable")[:, :k]
    hit = np.zeros(len(ids), dtype=bool)
    hit[:-1] = (best[:-1] == ids[1:, None]).any(axis=1)
    return {"text": text, "chars": [[decode(int(i)) for i in row] for row in best],
            "probs": np.take_along_axis(p, best, axis=1), "hit": hit}
