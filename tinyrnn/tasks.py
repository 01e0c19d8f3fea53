"""The papers' synthetic tasks: sequences built to test memory over long spans.

* :func:`adding_problem` and :func:`copy_problem`, the benchmarks of the RWA
  paper (Ostmeyer & Cowell 2017);
* :func:`associative_retrieval`, the benchmark of the fast-weights paper
  (Ba et al. 2016).

Each takes a ``numpy.random.Generator`` so that a seed gives the same data on
every machine, and returns time-major NumPy arrays (T, n, ...) on the host.
"""
from __future__ import annotations

import numpy as np

__all__ = ["adding_problem", "copy_problem", "associative_retrieval",
           "render_retrieval", "IGNORE_INDEX", "RETRIEVAL_CHARS"]


def _check_rng(rng, fn: str) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"{fn}: rng must be a numpy.random.Generator "
                        f"(np.random.default_rng(seed)), got {type(rng).__name__}")
    return rng


def adding_problem(n: int, T: int, rng: np.random.Generator, one_per_half: bool = True
                   ) -> tuple[np.ndarray, np.ndarray]:
    """The adding problem in Le, Jaitly & Hinton (2015)'s form, which the RWA
    paper (Ostmeyer & Cowell 2017) uses too.

    Each step carries two features: a value drawn from U(0, 1) and a marker,
    1 at exactly two steps and 0 elsewhere. The target is the sum of the two
    marked values. Predicting the mean, 1, gives the chance-level mean squared
    error Var(u1 + u2) = 2/12 = 0.167.

    The task goes back to Hochreiter & Schmidhuber (1997, experiment 4), whose
    original differs: values in [-1, 1], the first marker within the first
    ten steps and the second within the first half, and the target a
    rescaled sum, 0.5 + (u1 + u2) / 4. The
    [0, 1] values with one marker in each half are Le et al.'s variant.

    Parameters
    ----------
    n : int
        Number of sequences.
    T : int
        Sequence length (>= 2).
    rng : numpy.random.Generator
    one_per_half : bool
        True (default): one marker in each half of the sequence, as in
        Le et al. (2015), so the first marked value must be held for
        at least ~T/2 steps. False: two distinct steps anywhere, as in the
        RWA repository's generator.

    Returns
    -------
    x : (T, n, 2) float32, features (value, marker), time-major
    y : (n,) float32, the sum of the marked values
    """
    _check_rng(rng, "adding_problem")
    if n < 1 or T < 2:
        raise ValueError(f"adding_problem: need n >= 1 and T >= 2, got n={n}, T={T}")
    values = rng.random((T, n))
    if one_per_half:
        half = T // 2
        first = rng.integers(0, half, size=n)
        second = rng.integers(half, T, size=n)
    else:   # two distinct positions: the second skips over the first
        first = rng.integers(0, T, size=n)
        second = rng.integers(0, T - 1, size=n)
        second = second + (second >= first)
    markers = np.zeros((T, n))
    cols = np.arange(n)
    markers[first, cols] = 1.0
    markers[second, cols] = 1.0
    x = np.stack([values, markers], axis=-1).astype(np.float32)
    y = (values[first, cols] + values[second, cols]).astype(np.float32)
    return x, y


IGNORE_INDEX = -100
"""Target value meaning "no output required here" (as in ``torch.nn.CrossEntropyLoss``)."""


def copy_problem(n: int, T: int, S: int = 10, num_symbols: int = 8,
                 rng: np.random.Generator | None = None, random_delay: bool = False,
                 blank_targets: bool = False) -> tuple[np.ndarray, np.ndarray, int]:
    """The copy problem of Ostmeyer & Cowell (2017): remember S symbols, repeat them on cue.

    Symbols, following the RWA repository's ``N_symbols`` (which counts the
    blank): data symbols ``0 .. num_symbols-2`` (7 by default), the blank
    ``num_symbols-1`` and the "go" cue ``num_symbols``, so the input
    vocabulary has ``num_symbols + 1`` ids. The sequence has ``L = 2S + T``
    steps. With the default fixed delay (go cue at step S + T - 1)::

        step    0 .. S-1   S .. S+T-2    S+T-1   S+T .. 2S+T-1
        input   s1 .. sS   blank ...     go      blank ...
        target  ignore ... ignore ...    ignore  s1 .. sS

    so the S symbols must be produced in the last S steps, T steps after the
    last was seen. ``random_delay=True`` puts the go cue at a uniformly random
    step in ``[S, S+T-1]`` instead, the outputs following it immediately, as
    the RWA repository does (then the outputs need not be at the end).

    Targets are ``IGNORE_INDEX`` (-100) wherever no output is required, for a
    masked cross-entropy. ``blank_targets=True`` asks for the blank there
    instead, as the RWA repository's loss does: with that loss, guessing
    blanks and uniform symbols gives the chance level ``S ln(num_symbols-1) / L``
    per step (0.162 for S = 10, T = 100).

    Parameters
    ----------
    n : int
        Number of sequences.
    T : int
        Delay (>= 1): steps from the end of the symbols to the end of the go cue.
    S : int
        Number of symbols to copy.
    num_symbols : int
        Data symbols plus the blank (>= 3).
    rng : numpy.random.Generator
    random_delay, blank_targets : bool
        See above.

    Returns
    -------
    x : (L, n) int64 inputs, time-major
    y : (L, n) int64 targets
    vocab_size : int, ``num_symbols + 1``
    """
    _check_rng(rng, "copy_problem")
    if n < 1 or T < 1 or S < 1 or num_symbols < 3:
        raise ValueError(f"copy_problem: need n >= 1, T >= 1, S >= 1 and num_symbols >= 3, "
                        f"got n={n}, T={T}, S={S}, num_symbols={num_symbols}")
    blank, go, L = num_symbols - 1, num_symbols, 2 * S + T
    symbols = rng.integers(0, num_symbols - 1, size=(S, n))
    if random_delay:
        go_step = rng.integers(S, S + T, size=n)
    else:
        go_step = np.full(n, S + T - 1)
    x = np.full((L, n), blank, dtype=np.int64)
    y = np.full((L, n), blank if blank_targets else IGNORE_INDEX, dtype=np.int64)
    cols = np.arange(n)
    x[:S] = symbols
    x[go_step, cols] = go
    out_steps = go_step[None, :] + 1 + np.arange(S)[:, None]     # (S, n)
    y[out_steps, cols[None, :]] = symbols
    return x, y, num_symbols + 1


RETRIEVAL_CHARS = "0123456789?abcdefghijklmnopqrstuvwxyz"
"""The 37 symbols of associative retrieval, sorted: digit d has id d."""


def associative_retrieval(n: int, K: int = 4, rng: np.random.Generator | None = None,
                          unique_values: bool = False
                          ) -> tuple[np.ndarray, np.ndarray, str]:
    """The associative retrieval task of Ba et al. (2016), "Using Fast Weights ...".

    A sequence lists K pairs (key letter, value digit), keys drawn without
    replacement from a-z, then ``??`` and one of the keys; the answer is that
    key's digit::

        c9k8j3f1??c  ->  9          (K = 4, L = 2K + 3 = 11 steps)

    Parameters
    ----------
    n : int
        Number of sequences.
    K : int
        Number of pairs (1 <= K <= 26).
    rng : numpy.random.Generator
    unique_values : bool
        False (default): each digit drawn independently (values may repeat).
        True: digits drawn without replacement (K <= 10), as one public
        reimplementation does.

    Returns
    -------
    x : (2K + 3, n) int64 ids, time-major: id i is ``symbols[i]``
    y : (n,) int64, the answer's id, which is also its digit (0-9)
    symbols : str, :data:`RETRIEVAL_CHARS` (37 symbols, ``"0123456789?abc...z"``)
    """
    _check_rng(rng, "associative_retrieval")
    max_k = 10 if unique_values else 26
    if n < 1 or not 1 <= K <= max_k:
        raise ValueError(f"associative_retrieval: need n >= 1 and 1 <= K <= {max_k}, "
                        f"got n={n}, K={K}")
    letter0, question = RETRIEVAL_CHARS.index("a"), RETRIEVAL_CHARS.index("?")
    # K distinct keys per example: the first K of a random permutation of 26
    keys = np.argsort(rng.random((n, 26)), axis=1)[:, :K]
    if unique_values:
        values = np.argsort(rng.random((n, 10)), axis=1)[:, :K]
    else:
        values = rng.integers(0, 10, size=(n, K))
    query = rng.integers(0, K, size=n)
    rows = np.arange(n)
    x = np.empty((n, 2 * K + 3), dtype=np.int64)
    x[:, 0:2 * K:2] = letter0 + keys
    x[:, 1:2 * K:2] = values            # digit d has id d
    x[:, 2 * K:2 * K + 2] = question
    x[:, 2 * K + 2] = letter0 + keys[rows, query]
    y = values[rows, query].astype(np.int64)
    return np.ascontiguousarray(x.T), y, RETRIEVAL_CHARS


def render_retrieval(x: np.ndarray, y: np.ndarray | None = None, i: int = 0,
                     symbols: str = RETRIEVAL_CHARS) -> str:
    """Example ``i`` of :func:`associative_retrieval` as text: ``'c9k8j3f1??c -> 9'``.

    Parameters
    ----------
    x : (L, n) int array;  y : (n,) int array or None (then no ``-> answer``)
    """
    text = "".join(symbols[k] for k in np.asarray(x)[:, i])
    return text if y is None else f"{text} -> {symbols[int(np.asarray(y)[i])]}"
