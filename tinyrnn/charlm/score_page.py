"""The pictures of a score: a self-contained HTML page and a PNG.

Each character of the text is drawn on a colour for how surprised the model
was by it, ``-log2 p`` bits (white: expected, deep red: 8 bits or more, i.e.
p < 1/256); with a second model, for the difference instead (blue where the
first model gave the character more probability, red where the second did,
saturating at 4 bits). Hovering a character on the page shows its
probability and the model's top-5 guesses for that place.

The page has no scripts and fetches nothing: the colours are inline styles
and the hover box is CSS (``:hover::after`` showing a ``data-`` attribute).
"""
from __future__ import annotations

import html
import math

import numpy as np

from .score import ScoreResult

__all__ = ["score_html", "score_png", "markdown_to_html", "SURPRISE_MAX", "DIFFERENCE_MAX"]

SURPRISE_MAX = 8.0       # bits at which the surprise colour is deepest
DIFFERENCE_MAX = 4.0     # bits of difference at which the comparison colour is deepest

STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
.text { font-family: monospace; font-size: 15px; line-height: 1.7;
        white-space: pre-wrap; word-break: break-all; }
.text span { position: relative; }
.text span:hover { outline: 1px solid #000; }
.text span:hover::after { content: attr(data-g); position: absolute; left: 0; top: 1.5em;
        background: #222; color: #fff; padding: 3px 7px; white-space: pre; z-index: 1;
        font-size: 12px; border-radius: 3px; }
.scale span { display: inline-block; width: 2.2em; text-align: center; font-size: 12px; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 13px; }
td, th { border: 1px solid #ccc; padding: 2px 8px; text-align: right; }
"""


def surprise_rgb(bits: float) -> tuple[int, int, int]:
    """0 bits -> white, SURPRISE_MAX bits or more -> deep red; NaN -> light grey."""
    if math.isnan(bits):
        return 235, 235, 235
    t = min(max(bits / SURPRISE_MAX, 0.0), 1.0)
    return 255 - round(75 * t), round(255 * (1 - t)), round(255 * (1 - t))


def difference_rgb(bits: float) -> tuple[int, int, int]:
    """> 0 (the first model better) -> blue, < 0 -> red, saturating at DIFFERENCE_MAX."""
    if math.isnan(bits):
        return 235, 235, 235
    t = min(abs(bits) / DIFFERENCE_MAX, 1.0)
    fade = round(255 * (1 - t))
    return (fade, fade, 255) if bits > 0 else (255, fade, fade)


def _shown(ch: str) -> str:
    return "↵\n" if ch == "\n" else "→" if ch == "\t" else html.escape(ch)


def _hover(result: ScoreResult, vocab, i: int) -> str:
    """The hover text of character i: its probability (each model) and the guesses."""
    lines = [f"{name}: p = {math.exp(-nll[i]):.3g} ({nll[i] / math.log(2):.2f} bits)"
             if not math.isnan(nll[i]) else f"{name}: not scored (nothing before it)"
             for name, nll in zip(result.names, result.nll)]
    ids, probs = result.guesses
    if ids is not None and not math.isnan(result.nll[0][i]):
        guesses = "  ".join(f"{vocab.decode([g])!r} {p:.2f}" for g, p in zip(ids[i], probs[i]))
        lines.append(f"{result.names[0]} guessed: {guesses}")
    return html.escape("\n".join(lines), quote=True)


def markdown_to_html(markdown: str) -> str:
    """The tables of :mod:`.kinds` (``**title**`` lines and ``| a | b |`` rows) as HTML."""
    out, rows = [], []
    for line in markdown.splitlines() + [""]:
        if line.startswith("|"):
            if not set(line) <= set("|-"):
                rows.append([html.escape(c.strip()) for c in line.strip("|").split("|")])
            continue
        if rows:
            head, *body = rows
            out.append("<table><tr>" + "".join(f"<th>{c}</th>" for c in head) + "</tr>"
                       + "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>"
                                 for r in body) + "</table>")
            rows = []
        if line.startswith("**"):
            title, _, rest = line[2:].partition("**")
            out.append(f"<h4>{html.escape(title)}</h4><p>{html.escape(rest.strip())}</p>")
    return "\n".join(out)


def score_html(result: ScoreResult, vocab, title: str, tables: str = "") -> str:
    """The page: the totals, a colour scale, the coloured text, and ``tables``
    (Markdown from :func:`~tinyrnn.charlm.kinds.kind_summary`)."""
    compare = len(result.nll) > 1
    if compare:
        values = (result.nll[1] - result.nll[0]) / math.log(2)
        colour = difference_rgb
        legend = (f"blue: {result.names[0]} gave the character more probability, red: "
                  f"{result.names[1]} did (difference in bits, deepest at "
                  f"{DIFFERENCE_MAX:g})")
        ticks = np.linspace(-DIFFERENCE_MAX, DIFFERENCE_MAX, 9)
    else:
        values = result.nll[0] / math.log(2)
        colour = surprise_rgb
        legend = (f"surprise -log2 p(character) in bits: white expected, deep red "
                  f"{SURPRISE_MAX:g} bits or more (p < 1/{2 ** SURPRISE_MAX:g})")
        ticks = np.linspace(0, SURPRISE_MAX, 9)
    scale = "".join(f'<span style="background:rgb{colour(t)}">{t:g}</span>' for t in ticks)
    spans = "".join(f'<span style="background:rgb{colour(v)}" '
                    f'data-g="{_hover(result, vocab, i)}">{_shown(ch)}</span>'
                    for i, (ch, v) in enumerate(zip(result.text, values)))
    totals = "<br>".join(html.escape(line) for line in result.summary().splitlines())
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>\n"
            f"<h2>{html.escape(title)}</h2>\n<p>{totals}</p>\n"
            f"<p>{html.escape(legend)}; hover a character for its probability and the "
            f"model's top guesses. The first {len(result.text):,} characters:</p>\n"
            f"<p class=\"scale\">{scale}</p>\n<div class=\"text\">{spans}</div>\n"
            f"{markdown_to_html(tables)}\n</body></html>\n")


def score_png(result: ScoreResult, path, title: str, chars: int = 1200):
    """The first ``chars`` characters coloured as on the page, as a PNG at ``path``."""
    from .. import viz
    text = result.text[:chars]
    if len(result.nll) > 1:
        values = (result.nll[1] - result.nll[0])[:chars] / math.log(2)
        return viz.plot_text(text, values, path, title, cmap="RdBu", vmin=-DIFFERENCE_MAX,
                             vmax=DIFFERENCE_MAX, label=f"bits: blue {result.names[0]} "
                             f"better, red {result.names[1]} better")
    return viz.plot_text(text, result.nll[0][:chars] / math.log(2), path, title,
                         cmap="Reds", vmin=0, vmax=SURPRISE_MAX,
                         label="surprise, bits (-log2 p)")
