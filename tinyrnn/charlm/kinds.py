"""What kind of character each one is, and two models' losses compared by kind.

Where does one model beat another? Karpathy, Johnson & Fei-Fei (2015) found
an LSTM's gain over n-grams in characters whose evidence lies far back:
closing brackets and quotes, the first character of a line, indentation.
This module labels each character of a (code-like) text and tabulates two
per-character losses by those labels:

* :func:`char_kinds`: one of :data:`KINDS` per character;
* :func:`bracket_distances` / :func:`quote_distances`: how far back the
  opener of a closing bracket or quote is;
* :func:`kind_table` / :func:`distance_table`: Markdown tables of the mean
  loss of both models per kind or per distance, and their difference.

Losses are per character in nats, NaN where a model made no prediction.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["KINDS", "ERROR_NLL", "char_kinds", "bracket_distances", "quote_distances",
           "grouped", "kind_table", "distance_table", "kind_summary", "QUOTE_EDGES",
           "BRACKET_EDGES"]

KINDS = ("indentation", "first char of a line", "newline", "closing bracket ) ] }",
         "closing quote", "letter/digit/_", "other")
ERROR_NLL = math.log(2)     # an error: p(correct) < 0.5, i.e. -log p > log 2
OPENERS = {")": "(", "]": "[", "}": "{"}
QUOTE_DELIMITERS = ('"""', "'''", '"', "'")
BRACKET_EDGES = [(1, 6), (6, 21), (21, 61), (61, 201), (201, 10 ** 9)]
QUOTE_EDGES = [(1, 4), (4, 11), (11, 31), (31, 101), (101, 10 ** 9)]


def bracket_distances(text: str) -> np.ndarray:
    """For each position: the distance back to the matching opener if the character
    is a closing bracket ) ] } (matched with a stack, ignoring quotes), else -1."""
    out = np.full(len(text), -1)
    stack = []
    for i, ch in enumerate(text):
        if ch in "([{":
            stack.append((ch, i))
        elif ch in OPENERS:
            while stack and stack[-1][0] != OPENERS[ch]:
                stack.pop()                   # an unmatched opener (e.g. in a string)
            if stack:
                out[i] = i - stack.pop()[1]
    return out


def quote_distances(text: str) -> np.ndarray:
    """For each position: the distance back to the opening quote if it starts a
    closing string delimiter (' " ''' \"\"\"), else -1.

    A small scanner of Python source: comments (# to the end of the line) and
    backslash escapes are skipped, and an unclosed one-line string ends at the
    newline (a text may start and end mid-file).
    """
    out = np.full(len(text), -1)
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif ch in "\"'":
            delim = next(d for d in QUOTE_DELIMITERS if text.startswith(d, i))
            j = i + len(delim)
            while j < n and not text.startswith(delim, j):
                if text[j] == "\\":
                    j += 1
                elif text[j] == "\n" and len(delim) == 1:
                    break
                j += 1
            if j < n and text.startswith(delim, j):
                out[j] = j - i
                j += len(delim)
            i = j
        else:
            i += 1
    return out


def char_kinds(text: str) -> np.ndarray:
    """Index into :data:`KINDS` for each character of ``text``, shape (N,)."""
    brackets, quotes = bracket_distances(text), quote_distances(text)
    kinds = np.full(len(text), KINDS.index("other"))
    at_line_start = True
    for i, ch in enumerate(text):
        if ch == "\n":
            kinds[i], at_line_start = KINDS.index("newline"), True
            continue
        if at_line_start and ch in " \t":
            kinds[i] = KINDS.index("indentation")
            continue
        if at_line_start:
            kinds[i], at_line_start = KINDS.index("first char of a line"), False
        elif brackets[i] >= 0:
            kinds[i] = KINDS.index("closing bracket ) ] }")
        elif quotes[i] >= 0:
            kinds[i] = KINDS.index("closing quote")
        elif ch.isalnum() or ch == "_":
            kinds[i] = KINDS.index("letter/digit/_")
    return kinds


def grouped(nll: np.ndarray, groups: np.ndarray, edges: list) -> list[tuple[str, int, float]]:
    """Mean of ``nll`` over positions whose group value lies in each [lo, hi) bin:
    a (label, count, mean) row per bin (mean NaN for an empty bin)."""
    rows = []
    for lo, hi in edges:
        mask = (groups >= lo) & (groups < hi) & ~np.isnan(nll)
        label = f"{lo}" if hi == lo + 1 else f"{lo}-{hi - 1}" if hi < 10 ** 9 else f">={lo}"
        rows.append((label, int(mask.sum()), float(nll[mask].mean()) if mask.any()
                     else float("nan")))
    return rows


def kind_table(kinds: np.ndarray, net: np.ndarray, other: np.ndarray, names) -> str:
    """Per kind of character: count, both losses, and its part of the total gap.

    ``net`` and ``other`` (N,) are the two models' losses (``names[0]`` and
    ``names[1]``); the difference is ``other - net`` (positive where the
    first model is better); errors are the characters with p(correct) < 0.5.
    """
    keep = ~np.isnan(net) & ~np.isnan(other)
    total = max(int(keep.sum()), 1)
    lines = [f"**by kind of character** (nats/char; contribution: the kind's part of "
             f"the mean difference {names[1]} minus {names[0]} over all characters, "
             f"{float((other[keep] - net[keep]).sum()) / total:+.4f} nats/char)", "",
             f"| kind | characters | {names[0]} | {names[1]} | difference | contribution "
             f"| errors {names[0]} | errors {names[1]} |",
             "|---|---|---|---|---|---|---|---|"]
    for k, kind in enumerate(KINDS):
        m = keep & (kinds == k)
        if m.any():
            gap = float((other[m] - net[m]).sum())
            lines.append(f"| {kind} | {m.sum():,} | {net[m].mean():.3f} | "
                         f"{other[m].mean():.3f} | {gap / m.sum():+.3f} | "
                         f"{gap / total:+.4f} | "
                         f"{100 * np.mean(net[m] > ERROR_NLL):.0f}% | "
                         f"{100 * np.mean(other[m] > ERROR_NLL):.0f}% |")
    return "\n".join(lines)


def distance_table(title: str, dist: np.ndarray, net: np.ndarray, other: np.ndarray,
                   names, edges) -> str:
    """Both losses by the distance ``dist`` (N,) of each character, in ``edges`` bins."""
    rows_n = grouped(np.where(np.isnan(other), np.nan, net), dist, edges)
    rows_o = grouped(np.where(np.isnan(net), np.nan, other), dist, edges)
    lines = [f"**{title}** (nats/char)", "",
             f"| distance | characters | {names[0]} | {names[1]} | {names[1]} minus "
             f"{names[0]} |", "|---|---|---|---|---|"]
    for (label, count, a), (_, _, b) in zip(rows_n, rows_o):
        if count:
            lines.append(f"| {label} | {count} | {a:.3f} | {b:.3f} | {b - a:+.3f} |")
    return "\n".join(lines)


def kind_summary(text: str, net: np.ndarray, other: np.ndarray, names) -> str:
    """The three tables: by kind, closing brackets and closing quotes by distance."""
    return "\n\n".join([
        kind_table(char_kinds(text), net, other, names),
        distance_table("closing brackets ) ] } by distance to their opener",
                       bracket_distances(text), net, other, names, BRACKET_EDGES),
        distance_table("closing quotes by distance to the opening quote",
                       quote_distances(text), net, other, names, QUOTE_EDGES)])
