"""A character n-gram language model with interpolated Kneser–Ney smoothing.

The baseline of Karpathy, Johnson & Fei-Fei (2015): how far does counting
get, with no learning at all? A model of order n predicts a character from
the n-1 characters before it.

Interpolated Kneser–Ney (Chen & Goodman 1998, §3.5, one discount per order)
---------------------------------------------------------------------------
Write h for a context of k-1 characters, h' for h without its first (oldest)
character, and w for the next character. At each order k = n, n-1, ..., 1::

    P_k(w | h) = max(c_k(hw) - D_k, 0) / c_k(h•)  +  D_k · N_k(h•) / c_k(h•) · P_{k-1}(w | h')
    P_0(w)     = 1 / V                                            (uniform)

    c_k(h•) = Σ_w c_k(hw)           N_k(h•) = #{w : c_k(hw) > 0}

Every seen continuation gives up D_k of its count, and the mass collected,
D_k · N_k(h•) / c_k(h•), is spread over the next-lower order. When c_k(h•) = 0
(a context never seen with a continuation) P_k(w | h) = P_{k-1}(w | h').
Since 0 < D_k <= 1 and counts are whole numbers, each P_k sums to exactly 1
over the vocabulary.

What Kneser–Ney adds is the count used *below* the top order: not how often
the k-gram occurred, but in how many distinct contexts it continued,

    c_n(hw) = count of the n-gram hw                                  (top order)
    c_k(hw) = #{a : the (k+1)-gram a·hw occurs}                       (k < n)

because the lower orders are only asked when the longer context was rare:
a character that follows one frequent context only ("n" after "functio")
should not get a large share then.

The discount is Ney's estimate ``D_k = n1 / (n1 + 2 n2)``, where n1 and n2
count the k-grams with c_k = 1 and c_k = 2, clipped to [0.05, 1] so that
characters never seen in training keep a little probability (0.5 when no
k-gram has c_k = 1 or 2); or one fixed value given by the user.

Near the start of a text, where fewer than n-1 characters precede position
i, the model predicts with the longest context there is, i characters.

Implementation
--------------
Counts live in NumPy arrays, not dictionaries. Each k-gram gets an integer
id: the 1-gram id of a character is its id, and the id of a k-gram is its
rank among the sorted integers ``id(first k-1 characters) * V + last char``
(``np.unique``), so the ids of all k-grams of a text come from one sort per
order, exactly (no hashing, no collisions). Looking up a new text's k-grams is
a ``np.searchsorted`` in those sorted keys. Fitting n = 9 on a million
characters takes about a second on one CPU core.
"""
from __future__ import annotations

import numpy as np

__all__ = ["NGramModel"]


def _lookup(keys: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Index of each ``query`` value in the sorted array ``keys``, or -1 if absent."""
    if len(keys) == 0:
        return np.full(query.shape, -1, dtype=np.int64)
    pos = np.minimum(np.searchsorted(keys, query), len(keys) - 1)
    return np.where(keys[pos] == query, pos, -1)


def _gather(table: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``table[index]``, with 0 wherever ``index`` is -1 (unseen)."""
    if len(table) == 0:
        return np.zeros(index.shape, dtype=table.dtype)
    return np.where(index >= 0, table[np.maximum(index, 0)], 0)


class NGramModel:
    """Character n-gram model of order ``n`` with interpolated Kneser–Ney smoothing.

    Parameters
    ----------
    n : int
        Order: the model predicts a character from the previous ``n - 1``
        (n = 1 is a smoothed unigram model).
    vocab_size : int
        V, the number of character ids (``len(vocab)``).
    discount : float or None
        A fixed discount D in (0, 1] for every order, or None (default) for
        Ney's estimate per order (see the module docstring).

    Attributes (after :meth:`fit`)
    ------------------------------
    discounts : list of float
        ``discounts[k - 1]`` is D_k.

    Examples
    --------
    ::

        vocab = CharVocab(text)
        train, val, _ = split_ids(vocab.encode(text), 0.9, 0.1)
        NGramModel(5, len(vocab)).fit(train).mean_nll(val)    # nats per character
    """

    def __init__(self, n: int, vocab_size: int, discount: float | None = None):
        if not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"NGramModel: n must be an integer >= 1, got {n!r}")
        if not isinstance(vocab_size, (int, np.integer)) or vocab_size < 1:
            raise ValueError(f"NGramModel: vocab_size must be an integer >= 1, got {vocab_size!r}")
        if discount is not None and not 0 < discount <= 1:
            raise ValueError(f"NGramModel: discount must lie in (0, 1], got {discount}")
        self.n, self.vocab_size, self.discount = int(n), int(vocab_size), discount
        self._fitted = False

    def __repr__(self) -> str:
        state = "fitted" if self._fitted else "not fitted"
        return f"NGramModel(n={self.n}, vocab_size={self.vocab_size}, {state})"

    def _check_ids(self, ids, fn: str) -> np.ndarray:
        ids = np.asarray(ids)
        if ids.ndim != 1 or (ids.size and not np.issubdtype(ids.dtype, np.integer)):
            raise ValueError(f"NGramModel.{fn}: expected a 1-D integer array of ids, "
                             f"got shape {ids.shape} and dtype {ids.dtype}")
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocab_size):
            raise ValueError(f"NGramModel.{fn}: ids must lie in [0, {self.vocab_size}), "
                             f"got values from {ids.min()} to {ids.max()}")
        return ids.astype(np.int64)

    # ---- fitting ------------------------------------------------------------
    def fit(self, ids) -> "NGramModel":
        """Count the k-grams of ``ids`` (shape (N,)) for k = 1..n; returns self."""
        x = self._check_ids(ids, "fit")
        if len(x) == 0:
            raise ValueError("NGramModel.fit: cannot fit on an empty sequence")
        V, n = self.vocab_size, self.n
        if len(x) * V >= 2**62:
            raise ValueError(f"NGramModel.fit: {len(x)} ids x vocab_size {V} overflows "
                             "the int64 keys")
        # gram_ids[k] : id of the k-gram ending at each position i = k-1 .. N-1
        # keys[k]     : sorted keys parent_id * V + last_char of all k-grams (k >= 2)
        gram_ids, keys = {1: x}, {1: None}
        num_grams = {0: 1, 1: V}
        for k in range(2, n + 1):
            prev = gram_ids[k - 1]
            key = prev[:-1] * V + x[k - 1:]
            keys[k], gram_ids[k] = np.unique(key, return_inverse=True)
            num_grams[k] = len(keys[k])

        self._keys, self._count, self._ctx_total, self._ctx_types = {}, {}, {}, {}
        self.discounts = []
        for k in range(1, n + 1):
            if k == n:      # the top order counts occurrences
                count = np.bincount(gram_ids[k], minlength=num_grams[k])
            else:           # lower orders count distinct left extensions
                suffix = np.zeros(num_grams[k + 1], dtype=np.int64)
                suffix[gram_ids[k + 1]] = gram_ids[k][1:]
                count = np.bincount(suffix, minlength=num_grams[k])
                # (a k-gram seen only at the very start of the text gets 0 here)
            parent = np.zeros(num_grams[k], dtype=np.int64) if k == 1 else keys[k] // V
            self._keys[k] = keys[k]
            self._count[k] = count
            self._ctx_total[k] = np.bincount(parent, weights=count, minlength=num_grams[k - 1])
            self._ctx_types[k] = np.bincount(parent[count > 0], minlength=num_grams[k - 1])
            self.discounts.append(self._estimate_discount(count))
        self._fitted = True
        return self

    def _estimate_discount(self, count: np.ndarray) -> float:
        if self.discount is not None:
            return float(self.discount)
        n1, n2 = np.count_nonzero(count == 1), np.count_nonzero(count == 2)
        if n1 + n2 == 0:
            return 0.5
        return float(np.clip(n1 / (n1 + 2 * n2), 0.05, 1.0))

    # ---- probabilities --------------------------------------------------------
    def _gram_ids(self, x: np.ndarray) -> dict[int, np.ndarray]:
        """Training ids of the k-grams of a new sequence ``x`` (-1: never seen).

        ``result[k][j]`` belongs to the k-gram ending at position ``j + k - 1``.
        """
        result = {1: x}
        for k in range(2, self.n + 1):
            if len(x) < k:
                break
            query = result[k - 1][:-1] * self.vocab_size + x[k - 1:]   # <0 if parent unseen
            result[k] = _lookup(self._keys[k], query)
        return result

    def _interpolate(self, k: int, ctx: np.ndarray, gram: np.ndarray,
                     lower: np.ndarray) -> np.ndarray:
        """P_k(w | h) from the context ids ``ctx``, k-gram ids ``gram`` (-1: unseen)
        and the lower-order probabilities ``lower``; all three of one shape."""
        D = self.discounts[k - 1]
        total = _gather(self._ctx_total[k], ctx)
        types = _gather(self._ctx_types[k], ctx)
        count = _gather(self._count[k], gram)
        has_data = total > 0
        denom = np.where(has_data, total, 1.0)
        p = (np.maximum(count - D, 0.0) + D * types * lower) / denom
        return np.where(has_data, p, lower)

    def _check_fitted(self, fn: str) -> None:
        if not self._fitted:
            raise RuntimeError(f"NGramModel.{fn}: call fit(ids) first")

    def probs(self, context) -> np.ndarray:
        """P(next character | context), shape (V,), summing to 1.

        Parameters
        ----------
        context : sequence of int ids (only the last n-1 are used; may be empty)
        """
        self._check_fitted("probs")
        h = self._check_ids(context, "probs")
        h = h[max(0, len(h) - (self.n - 1)):]            # the last n-1 ids at most
        V, every_char = self.vocab_size, np.arange(self.vocab_size)
        ids = self._gram_ids(h)
        p = np.full(V, 1.0 / V)
        for k in range(1, len(h) + 2):
            if k == 1:
                ctx, gram = np.zeros(V, dtype=np.int64), every_char
            else:
                ctx = np.full(V, ids[k - 1][-1])         # the (k-1)-gram ending h
                gram = _lookup(self._keys[k], ctx * V + every_char)
            p = self._interpolate(k, ctx, gram, p)
        return p

    def log_probs(self, context) -> np.ndarray:
        """log P(next character | context) in nats, shape (V,)."""
        return np.log(self.probs(context))

    def _position_probs(self, ids) -> tuple[np.ndarray, np.ndarray]:
        """P(x_i | x_<i) for every i, and the context length each one used."""
        x = self._check_ids(ids, "nll")
        N, V = len(x), self.vocab_size
        ids_by_order = self._gram_ids(x)
        p = np.full(N, 1.0 / V)
        used = np.zeros(N, dtype=np.int64)
        for k in range(1, min(N, self.n) + 1):
            # positions i = k-1 .. N-1: context = the (k-1)-gram ending at i-1
            ctx = np.zeros(N, dtype=np.int64) if k == 1 else ids_by_order[k - 1][:-1]
            p[k - 1:] = self._interpolate(k, ctx, ids_by_order[k], p[k - 1:])
            if k > 1:
                seen = _gather(self._ctx_total[k], ctx) > 0
                used[k - 1:] = np.where(seen, k - 1, used[k - 1:])
        return p, used

    def nll(self, ids) -> np.ndarray:
        """Negative log-likelihood of each character, in nats.

        Parameters
        ----------
        ids : (N,) int array

        Returns
        -------
        (N,) float64 : ``-log P(x_i | x_{i-n+1} .. x_{i-1})``; the first
        characters use the shorter contexts they have.
        """
        self._check_fitted("nll")
        return -np.log(self._position_probs(ids)[0])

    def mean_nll(self, ids) -> float:
        """Mean negative log-likelihood in nats per character (divide by ln 2 for bits)."""
        values = self.nll(ids)
        if len(values) == 0:
            raise ValueError("NGramModel.mean_nll: empty sequence")
        return float(values.mean())

    def context_lengths(self, ids) -> np.ndarray:
        """For each character, the longest context (0 .. n-1 characters) that was
        seen in training with a continuation: how far back the model's evidence
        reaches. Shape (N,), int64."""
        self._check_fitted("context_lengths")
        return self._position_probs(ids)[1]
