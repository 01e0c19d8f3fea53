"""Score a text: how surprised a trained model is by it, in total and character by character.

The text is read as one piece, the model's state carried from each character
to the next, so the loss of character t is ``-log p(x_t | x_0 .. x_{t-1})``
(the first character, with nothing before it, is not scored). Summed over
the N-1 scored characters::

    nats per char  = sum(-log p) / (N - 1)
    bits per char  = nats per char / ln 2
    perplexity     = exp(nats per char)

The file is read a piece at a time (:func:`~tinyrnn.charlm.textfile.text_pieces`)
and run through the model in chunks of ``chunk`` characters, so memory stays
constant however long the text; only the first ``detail`` characters are
kept with their losses (and the model's top-5 guesses) for pictures and tables.

A second scorer (another checkpoint, or an n-gram: :class:`NGramScorer`)
reads the same characters, for a comparison character by character.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..tensor import Tensor
from .errors import DataError
from .next_char import evaluating, require_finite
from .textfile import text_pieces

__all__ = ["ModelScorer", "NGramScorer", "ScoreResult", "score_file", "GUESSES"]

GUESSES = 5          # the model's top guesses kept for each detailed character
PIECE_BYTES = 1 << 16   # bytes read at a time: a piece's ids and losses take ~16x that


class ModelScorer:
    """A char-LM reading a text piece by piece, its state carried throughout.

    ``feed(ids (n,))`` returns ``-log p`` (n,) of each of those characters
    given everything fed before (NaN for the very first character), and, when
    ``guesses > 0``, the ``guesses`` most probable characters before each
    (ids and probabilities, (n, guesses)).
    """

    def __init__(self, model, vocab, name: str = "model", chunk: int = 1024):
        self.model, self.vocab, self.name, self.chunk = model, vocab, name, chunk
        self.backend = next(iter(model.parameters())).backend
        self.state, self.last = None, None

    def feed(self, ids: np.ndarray, guesses: int = 0):
        nll = np.full(len(ids), np.nan)
        top_ids = np.zeros((len(ids), guesses), dtype=np.int64)
        top_p = np.zeros((len(ids), guesses))
        if len(ids) == 0:
            return nll, top_ids, top_p
        with evaluating(self.model):
            self._run(ids, nll, top_ids, top_p, guesses)
        self.last = int(ids[-1])
        return nll, top_ids, top_p

    def _run(self, ids, nll, top_ids, top_p, guesses) -> None:
        """Fill ``nll`` (and the guesses) chunk by chunk, carrying the state."""
        seq = ids if self.last is None else np.concatenate([[self.last], ids])
        offset = len(ids) - (len(seq) - 1)         # 1 for the first piece, else 0
        for s in range(0, len(seq) - 1, self.chunk):
            targets = seq[s + 1:s + 1 + self.chunk]
            inputs = seq[s:s + len(targets)]
            logits, self.state = self.model(
                Tensor(inputs.astype(np.int64).reshape(-1, 1), backend=self.backend),
                self.state)
            z = logits.numpy()[:, 0].astype(np.float64)          # (t, V)
            require_finite(self.model, z)
            z -= z.max(axis=1, keepdims=True)
            log_total = np.log(np.exp(z).sum(axis=1))
            at = slice(offset + s, offset + s + len(targets))
            nll[at] = log_total - z[np.arange(len(targets)), targets]
            if guesses:
                best = np.argsort(-z, axis=1, kind="stable")[:, :guesses]
                top_ids[at] = best
                top_p[at] = np.exp(np.take_along_axis(z, best, 1) - log_total[:, None])


class NGramScorer:
    """A fitted :class:`~tinyrnn.charlm.NGramModel` reading a text piece by piece:
    the last n-1 characters of one piece are the context of the next."""

    def __init__(self, gram, vocab, name: str | None = None):
        self.gram, self.vocab = gram, vocab
        self.name = name or f"{gram.n}-gram"
        self.context = np.zeros(0, dtype=np.int64)

    def feed(self, ids: np.ndarray, guesses: int = 0):
        seq = np.concatenate([self.context, ids.astype(np.int64)])
        nll = self.gram.nll(seq)[len(self.context):]
        self.context = seq[max(0, len(seq) - (self.gram.n - 1)):]
        return nll, None, None


@dataclass
class ScoreResult:
    """What :func:`score_file` found. ``nats`` sums -log p over ``scored`` characters."""

    names: list
    scored: int = 0
    nats: list = field(default_factory=list)          # one sum per scorer
    skipped: dict = field(default_factory=dict)       # unknown char -> count skipped
    text: str = ""                                    # the first `detail` characters
    nll: list = field(default_factory=list)           # per scorer: (len(text),) nats
    guesses: tuple = (None, None)                     # (ids, probs) (len(text), GUESSES)

    def nats_per_char(self, k: int = 0) -> float:
        return self.nats[k] / self.scored if self.scored else math.nan

    def bits_per_char(self, k: int = 0) -> float:
        return self.nats_per_char(k) / math.log(2)

    def perplexity(self, k: int = 0) -> float:
        return math.exp(self.nats_per_char(k))

    def summary(self) -> str:
        """One line per scorer: nats, bits per character and perplexity."""
        lines = [f"{name}: {self.nats_per_char(k):.4f} nats/char, "
                 f"{self.bits_per_char(k):.4f} bits/char, perplexity "
                 f"{self.perplexity(k):.3f} over {self.scored:,} characters"
                 for k, name in enumerate(self.names)]
        if self.skipped:
            lines.append(f"skipped {sum(self.skipped.values()):,} characters outside the "
                         "vocabulary: " + ", ".join(f"{c!r} x{n}" for c, n in
                                                    sorted(self.skipped.items())[:10]))
        return "\n".join(lines)


def _unknown_error(path, where: dict) -> DataError:
    shown = ", ".join(f"{c!r} (first at character {i:,}, line {line:,})"
                      for c, (i, line) in sorted(where.items(), key=lambda x: x[1])[:5])
    more = f" and {len(where) - 5} more" if len(where) > 5 else ""
    return DataError(f"{path!r} has characters not in the model's vocabulary: {shown}{more}; "
                     "--skip-unknown scores the text without them")


def find_unknown(path, known: set, max_chars: int | None = None) -> dict:
    """{character: (its first index, its line number)} for every character of the
    file outside ``known`` (one pass, constant memory)."""
    where, start, lines = {}, 0, 1
    for piece in text_pieces(path, max_chars, PIECE_BYTES):
        for ch in set(piece) - known:
            if ch not in where:
                i = piece.index(ch)
                where[ch] = (start + i, lines + piece.count("\n", 0, i))
        start += len(piece)
        lines += piece.count("\n")
    return where


def _feed(scorer, ids: np.ndarray, guessed: int):
    """``scorer.feed(ids)``, with the top guesses for the first ``guessed`` ids only
    (sorting every row of a long piece would cost time and memory for nothing)."""
    if not guessed:
        return scorer.feed(ids)
    nll, top_ids, top_p = scorer.feed(ids[:guessed], GUESSES)
    if len(ids) > guessed:
        nll = np.concatenate([nll, scorer.feed(ids[guessed:])[0]])
    return nll, top_ids, top_p


def score_file(path, scorers: list, detail: int = 5000, skip_unknown: bool = False,
               max_chars: int | None = None, on_piece: Callable | None = None) -> ScoreResult:
    """Score the UTF-8 file ``path`` with each scorer (the first is the main one).

    Parameters
    ----------
    path : a text file.
    scorers : :class:`ModelScorer` / :class:`NGramScorer` objects, each with
        ``name``, ``vocab`` and ``feed(ids, guesses) -> (nll, top ids, top p)``.
    detail : keep the first ``detail`` characters with every scorer's losses
        (and the main model's top guesses) in the result.
    skip_unknown : drop characters some scorer's vocabulary lacks (counted in
        ``skipped``) instead of refusing the file.
    on_piece : called as ``on_piece(text, [nll per scorer])`` for every piece
        (e.g. to write the per-character losses as they come).

    Raises
    ------
    DataError
        The file cannot be read, or (without ``skip_unknown``) it has characters
        outside a vocabulary: which, and the first place of each.
    """
    known = set.intersection(*(set(s.vocab.chars) for s in scorers))
    unknown = find_unknown(path, known, max_chars)
    if unknown and not skip_unknown:
        raise _unknown_error(str(path), unknown)
    result = ScoreResult([s.name for s in scorers], nats=[0.0] * len(scorers))
    kept_text, kept_nll, kept_guess, kept = [], [[] for _ in scorers], ([], []), 0
    for piece in text_pieces(path, max_chars, PIECE_BYTES):
        if unknown:
            for ch in set(piece) & set(unknown):
                result.skipped[ch] = result.skipped.get(ch, 0) + piece.count(ch)
                piece = piece.replace(ch, "")
        if not piece:
            continue
        room = max(0, detail - kept)
        outs = [_feed(s, s.vocab.encode(piece), room if k == 0 else 0)
                for k, s in enumerate(scorers)]
        nlls = [o[0] for o in outs]
        scored = ~np.isnan(nlls[0])
        for k, nll in enumerate(nlls):
            result.nats[k] += float(nll[scored].sum())
            if room:
                kept_nll[k].append(nll[:room])
        result.scored += int(scored.sum())
        if room:
            kept_text.append(piece[:room])
            kept += len(kept_text[-1])
            kept_guess[0].append(outs[0][1][:room])
            kept_guess[1].append(outs[0][2][:room])
        if on_piece is not None:
            on_piece(piece, nlls)
    result.text = "".join(kept_text)
    result.nll = [np.concatenate(n) if n else np.zeros(0) for n in kept_nll]
    if kept_guess[0]:
        result.guesses = (np.concatenate(kept_guess[0]), np.concatenate(kept_guess[1]))
    if result.scored == 0:
        raise DataError(f"{str(path)!r} has fewer than two characters to score "
                        "(the first one has nothing before it to be predicted from)")
    return result
