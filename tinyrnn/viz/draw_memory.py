"""Pictures of what a character model remembers (numbers from :mod:`.memory`).

* :func:`connectivity`: the heatmap of ``||d y_t / d x_s||`` over a window of
  text (row t: the output after character t; column s: the input character
  s), each row scaled by its largest entry, beside the mean of the row-scaled
  values against the distance ``t - s``: how far back the outputs still feel
  an input;
* :func:`plot_memory_by_distance`: those distance curves of several models
  on one axis, to compare cells;
* :func:`top_guesses`: the text with, under each character, the model's top-k
  guesses for it (made from the characters before), shaded by probability,
  the right one framed.
"""
from __future__ import annotations

import numpy as np

from .draw import new_figure, save_png
from .memory import connectivity_matrix, guess_table

__all__ = ["connectivity", "memory_by_distance", "plot_memory_by_distance", "top_guesses"]


def memory_by_distance(C: np.ndarray) -> np.ndarray:
    """(T,): mean over t of ``C[t, t-k] / max_s C[t, s]`` for k = 0 .. T-1."""
    scaled = C / np.maximum(C.max(axis=1, keepdims=True), 1e-300)
    T = len(C)
    return np.array([np.diagonal(scaled, -k).mean() for k in range(T)])


def connectivity(model, text: str, vocab, path=None, title: str = ""):
    """Heatmap and distance curve of :func:`~tinyrnn.viz.connectivity_matrix` over
    ``text`` (keep it short: one backward per character); Figure, PNG at ``path``."""
    C = connectivity_matrix(model, text, vocab)
    scaled = C / np.maximum(C.max(axis=1, keepdims=True), 1e-300)
    T = len(C)
    fig = new_figure(min(4 + T * 0.12, 16), min(3 + T * 0.09, 10))
    heat, curve = fig.subplots(1, 2, width_ratios=[3, 1.3])
    image = heat.imshow(np.where(np.tril(np.ones((T, T))) > 0, scaled, np.nan),
                        cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
    labels = ["↵" if c == "\n" else "␣" if c == " " else c for c in text[:T]]
    heat.set_xticks(range(T), labels, fontsize=7, family="monospace")
    heat.set_yticks(range(T), labels, fontsize=7, family="monospace")
    heat.set_xlabel("input character s")
    heat.set_ylabel("output after character t")
    fig.colorbar(image, ax=heat, fraction=0.04, pad=0.01).set_label(
        "||dy_t/dx_s|| / max over s", fontsize=8)
    curve.plot(memory_by_distance(C), "o-", ms=2)
    curve.set_xlabel("distance t - s (characters)")
    curve.set_ylabel("mean of the row-scaled connectivity")
    curve.grid(alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=10)
    save_png(fig, path)
    return fig


def plot_memory_by_distance(curves: dict, path=None, title: str = "", log: bool = True):
    """Several models' :func:`memory_by_distance` curves ``{label: (T,)}`` on one axis."""
    fig = new_figure(6, 3.8)
    ax = fig.add_subplot()
    for label, values in curves.items():
        ax.plot(np.arange(len(values)), values, lw=1.5, label=label)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("distance t - s (characters back)")
    ax.set_ylabel("||dy_t/dx_s|| / max over s (mean over t)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    save_png(fig, path)
    return fig


def top_guesses(model, text: str, vocab, path=None, title: str = "", k: int = 5,
                width: int = 60):
    """Characters 1 .. ``width`` of ``text``, each with the ``k`` characters the model
    thought most likely there (from the characters before it) below it: darker is
    more probable, the right one is framed. Figure, PNG at ``path``."""
    table = guess_table(model, text[:width + 1], vocab, k)
    n = min(width, len(text) - 1)
    fig = new_figure(n * 0.22 + 1.0, (k + 1) * 0.3 + 0.7)
    ax = fig.add_subplot()
    ax.imshow(np.vstack([np.zeros((1, n)), table["probs"][:n].T]), cmap="Blues", vmin=0,
              vmax=1.4, aspect="auto", interpolation="nearest")
    for t in range(n):                      # column t: character t+1, guessed after t
        ch = text[t + 1]
        ax.text(t, 0, "↵" if ch == "\n" else ch, ha="center", va="center", fontsize=9,
                family="monospace", weight="bold")
        for r, guess in enumerate(table["chars"][t]):
            ax.text(t, r + 1, "↵" if guess == "\n" else "␣" if guess == " " else guess,
                    ha="center", va="center", fontsize=8, family="monospace",
                    bbox={"fc": "none", "ec": "C3", "lw": 1.2} if guess == ch else None)
    ax.set_xticks([])
    ax.set_yticks(range(k + 1), ["text"] + [f"guess {r + 1}" for r in range(k)], fontsize=8)
    ax.set_title(title or f"the model's top-{k} guesses for each character "
                          f"({table['hit'][:n].mean():.0%} of them among its guesses)",
                 fontsize=10)
    save_png(fig, path)
    return fig
