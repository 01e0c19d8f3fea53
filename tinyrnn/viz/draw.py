"""Plots a person would rather look at than read: what a recurrent network does.

This is the drawing side; the numbers come from :mod:`.record`, which this
module imports and never the other way round.

Most functions take NumPy arrays and return a ``matplotlib.figure.Figure``;
pass ``path=`` to also save it as a PNG. matplotlib is imported only inside
the functions that draw (``pip install matplotlib``), and no pyplot state is
touched, so the module is safe in scripts, tests and notebooks (display a
figure there by leaving it as a cell's last value).

* :func:`activation_html` / :func:`plot_activation`: one unit's activation
  over a text, each character coloured from -1 (red) to +1 (blue), with a
  legend of the colours; :func:`plot_text`: any value per character, any scale;
* :func:`plot_gate_saturation`: each gate unit's saturation, one panel per layer;
* :func:`plot_rwa_weights`: the RWA's mean and max log-weight per time step;
* :func:`plot_gradient_norms`: ||dL/dh_t|| against t;
* :func:`plot_curves`: loss and accuracy curves of several runs on one figure.
"""
from __future__ import annotations

import html

import numpy as np

from ..utils.checkpoint import atomic_open
from .record import as_array, gate_names, gate_saturation

__all__ = ["new_figure", "save_png", "activation_html", "plot_activation", "plot_text",
           "plot_gate_saturation", "plot_rwa_weights",
           "plot_gradient_norms", "plot_curves"]

LEGEND = "red = -1, white = 0, blue = +1"
"""How :func:`activation_html` and :func:`plot_activation` colour a value."""


# ---------------------------------------------------------------------------
# Figures: creation and saving
# ---------------------------------------------------------------------------
def new_figure(width: float, height: float):
    """A new Figure with no pyplot state (never shown by a GUI by accident)."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("tinyrnn.viz needs matplotlib to draw: pip install matplotlib") \
            from None
    return Figure(figsize=(width, height), layout="constrained")


def save_png(fig, path) -> None:
    """Save as PNG atomically: an old file at ``path`` stays whole until the new
    one is complete (a run's loss.png is redrawn while the run goes on)."""
    if path is not None:
        with atomic_open(path, "wb") as f:
            fig.savefig(f, format="png", dpi=100)


# ---------------------------------------------------------------------------
# One unit over a text: HTML and PNG
# ---------------------------------------------------------------------------
def _rgb(v: float) -> tuple[int, int, int]:
    """-1 -> red (255, 0, 0)-ish, 0 -> white, +1 -> blue; clipped to [-1, 1]."""
    v = max(-1.0, min(1.0, float(v)))
    if v < 0:           # towards red: keep R, drop G and B
        return 255, round(255 * (1 + v)), round(255 * (1 + v))
    return round(255 * (1 - v)), round(255 * (1 - v)), 255


def _check_text_values(text: str, values, fn: str) -> np.ndarray:
    if not isinstance(text, str):
        raise TypeError(f"{fn}: text must be a str; got {type(text).__name__}")
    v = as_array(values, "values", fn)
    if len(v) != len(text):
        raise ValueError(f"{fn}: {len(v)} values for a text of {len(text)} characters; "
                         "expected one value per character")
    return v


def activation_html(text: str, values, path=None, title: str = "") -> str:
    """An HTML page with each character of ``text`` on a background from red (-1)
    through white (0) to blue (+1) by ``values`` (N,), one per character.

    Newlines are shown as a coloured ``↵`` before the line break; hovering a
    character shows its value. Returns the page; writes it to ``path`` too.
    """
    v = _check_text_values(text, values, "activation_html")
    spans = []
    for ch, value in zip(text, v):
        r, g, b = _rgb(value)
        shown = {"\n": "↵", "\t": "→   ", " ": "&nbsp;"}.get(ch, html.escape(ch))
        spans.append(f'<span style="background:rgb({r},{g},{b})" '
                     f'title="{value:+.3f}">{shown}</span>' + ("<br>\n" if ch == "\n" else ""))
    head = f"<h3>{html.escape(title)}</h3>\n" if title else ""
    page = ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title or 'activation')}</title></head>\n"
            "<body style=\"font-family:monospace;font-size:14px;line-height:1.4\">\n"
            f"{head}<div>{''.join(spans)}</div>\n"
            f"<p>{LEGEND}</p></body></html>\n")
    if path is not None:
        with open(path, "w", encoding="utf-8") as f:
            f.write(page)
    return page


def _lines(text: str, width: int) -> list[tuple[int, str]]:
    """Cut ``text`` at newlines and every ``width`` characters: (start index, line)."""
    rows, start = [], 0
    for line in text.split("\n"):
        line_start = start
        line += "\n"
        for s in range(0, len(line), width):
            rows.append((line_start + s, line[s:s + width]))
        start += len(line)
    if rows and rows[-1][1] == "\n" and not text.endswith("\n"):
        rows.pop()          # split() added a newline the text does not have
    elif rows and not text.endswith("\n"):
        s, line = rows[-1]
        rows[-1] = (s, line[:-1])
    return [r for r in rows if r[1]]


def plot_activation(text: str, values, path=None, title: str = "", width: int = 80,
                    max_lines: int = 40):
    """The same picture as :func:`activation_html`, as a Figure (and a PNG at ``path``).

    Lines longer than ``width`` characters wrap; only the first ``max_lines``
    rows are drawn. A colour bar beside the text is the legend.
    """
    _check_text_values(text, values, "plot_activation")
    return plot_text(text, values, path, title, width, max_lines)


def plot_text(text: str, values, path=None, title: str = "", width: int = 80,
              max_lines: int = 40, cmap: str = "RdBu", vmin: float = -1, vmax: float = 1,
              label: str = LEGEND):
    """``text`` drawn as a grid of characters, each on a colour for its value.

    values : (N,), one per character; NaN leaves a character uncoloured.
    cmap, vmin, vmax : the matplotlib colour map and the values at its ends
        (values beyond them take the end colours); ``label`` names the scale
        on the colour bar. Lines wrap at ``width``; ``max_lines`` rows at most.
    """
    v = _check_text_values(text, values, "plot_text")
    rows = _lines(text, width)[:max_lines]
    grid = np.full((max(len(rows), 1), width), np.nan)
    for r, (start, line) in enumerate(rows):
        grid[r, :len(line)] = v[start:start + len(line)]
    fig = new_figure(width * 0.11 + 0.6, len(grid) * 0.2 + 0.6)
    ax = fig.add_subplot()
    image = ax.imshow(grid, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto",
                      interpolation="nearest")
    legend = fig.colorbar(image, ax=ax, ticks=[vmin, (vmin + vmax) / 2, vmax],
                          fraction=0.04, pad=0.01)
    legend.set_label(label, fontsize=8)
    rgba = image.to_rgba(grid)                    # white letters on dark cells
    dark = (rgba[..., :3] @ [0.299, 0.587, 0.114] < 0.45) & ~np.isnan(grid)
    for r, (_, line) in enumerate(rows):
        for c, ch in enumerate(line):
            ax.text(c, r, "↵" if ch == "\n" else ch, ha="center", va="center",
                    fontsize=8, family="monospace", color="white" if dark[r, c] else "black")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=10)
    save_png(fig, path)
    return fig


# ---------------------------------------------------------------------------
# Gate saturation (Karpathy, Johnson & Fei-Fei 2015, Fig. 3)
# ---------------------------------------------------------------------------
def plot_gate_saturation(layers: list[dict], path=None, title: str = "",
                         low: float = 0.1, high: float = 0.9):
    """One panel per layer: each gate unit a dot at (fraction right-saturated,
    fraction left-saturated), coloured by gate.

    ``layers``: per layer a dict {name: (T, B, H) or (N, H) activations},
    e.g. :func:`trace`'s records. The gates are found by
    :func:`tinyrnn.inspect.gate_names` (values in [0, 1]; the output h and an
    LSTM's cell c are not gates), so any cell's gates are drawn. A unit
    near the bottom right is almost always open (> 0.9: for a forget gate, an
    integrator that keeps its cell); near the top left, almost always closed;
    near the origin, rarely saturated.
    """
    if not layers:
        raise ValueError("plot_gate_saturation: no layers given")
    colours = {"i": "tab:green", "f": "tab:blue", "o": "tab:red",     # the usual gates
               "r": "tab:purple", "z": "tab:orange"}                  # keep their colours
    fig = new_figure(3.2 * len(layers) + 0.4, 3.4)
    axes = fig.subplots(1, len(layers), squeeze=False)[0]
    for k, (ax, rec) in enumerate(zip(axes, layers)):
        gates = gate_names(rec)
        if not gates:
            raise ValueError(f"plot_gate_saturation: layer {k} has no gates (got "
                             f"{sorted(rec)}); expected some values in [0, 1] besides "
                             "h and c, such as an LSTM's i, f, o")
        for n, g in enumerate(gates):
            left, right = gate_saturation(rec[g], low, high)
            ax.scatter(right, left, s=12, alpha=0.7, color=colours.get(g, f"C{n}"),
                       label=g)
        ax.plot([0, 1], [1, 0], color="0.8", lw=0.8, zorder=0)   # left + right <= 1
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-0.02, 1.02)
        ax.set_aspect("equal")
        ax.set_title(f"layer {k + 1}", fontsize=10)
        ax.set_xlabel(f"fraction right-saturated (> {high})")
        if k == 0:
            ax.set_ylabel(f"fraction left-saturated (< {low})")
        ax.legend(fontsize=8, loc="upper right")
    if title:
        fig.suptitle(title, fontsize=11)
    save_png(fig, path)
    return fig


# ---------------------------------------------------------------------------
# RWA: where does the average look?
# ---------------------------------------------------------------------------
def plot_rwa_weights(log_weights: list, path=None, title: str = ""):
    """Mean and max log-weight a_t per time step, one line per layer.

    ``log_weights``: per layer an array (T, B, H) or (T, H) of the RWA's a_t
    (``trace(...)[k]["a"]``, or ``nn.RWA(...)(x, return_weights=True)``).
    Left panel: the mean over units (and sequences); right: the max over units,
    averaged over sequences. Since step i's weight at time t is
    exp(a_i - m_t) / d_t, a rising curve means later steps outweigh earlier ones.
    """
    if not log_weights:
        raise ValueError("plot_rwa_weights: no layers given")
    fig = new_figure(8.5, 3.2)
    ax_mean, ax_max = fig.subplots(1, 2)
    for k, a in enumerate(log_weights):
        a = as_array(a, f"log_weights[{k}]", "plot_rwa_weights", (2, 3))
        a = a[:, None, :] if a.ndim == 2 else a                  # (T, B, H)
        t = np.arange(1, len(a) + 1)
        ax_mean.plot(t, a.mean(axis=(1, 2)), label=f"layer {k + 1}")
        ax_max.plot(t, a.max(axis=2).mean(axis=1), label=f"layer {k + 1}")
    for ax, what in ((ax_mean, "mean"), (ax_max, "max")):
        ax.set_xlabel("time step t")
        ax.set_ylabel(f"{what} log-weight a_t")
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=11)
    save_png(fig, path)
    return fig


# ---------------------------------------------------------------------------
# Gradients through time and training curves
# ---------------------------------------------------------------------------
def plot_gradient_norms(curves: dict, path=None, title: str = "", log: bool = True):
    """||dL/dh_t|| against t, one line per entry of ``curves`` {label: (T,) array}
    (from :func:`bptt_gradient_norms`), on a log scale by default."""
    if not curves:
        raise ValueError("plot_gradient_norms: no curves given")
    fig = new_figure(6.5, 3.8)
    ax = fig.add_subplot()
    for label, norms in curves.items():
        norms = as_array(norms, f"curves[{label!r}]", "plot_gradient_norms")
        t = np.arange(1, len(norms) + 1)
        shown = np.where(norms > 0, norms, np.nan) if log else norms
        ax.plot(t, shown, label=label)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("time step t (the loss is at the last step)")
    ax.set_ylabel("mean ||dL/dh_t||")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    save_png(fig, path)
    return fig


def plot_curves(runs: dict, path=None, title: str = "", x: str = "step",
                metrics: tuple = ("loss", "accuracy"), log_loss: bool = False,
                smooth: dict | None = None, labels: dict | None = None):
    """Several runs' curves on one figure, one panel per metric.

    Parameters
    ----------
    runs : {label: {"step": [...], "loss": [...], "accuracy": [...]}} -- any
        keys; ``x`` names the horizontal axis, ``metrics`` the panels. A run
        without a metric is left out of that panel; a metric no run has gets no
        panel. NaN values are gaps (a step without a validation), not drawn.
    log_loss : draw metrics whose name contains "loss" on a log scale.
    smooth : {label: k} -- draw that run faintly as it is and, over it, its
        running mean of k points (noisy per-step training losses).
    labels : {metric: axis label}, e.g. ``{"loss": "loss (nats per character)"}``.
    """
    if not runs:
        raise ValueError("plot_curves: no runs given")
    for label, run in runs.items():
        if x not in run:
            raise ValueError(f"plot_curves: run {label!r} has no {x!r} values (it has "
                             f"{sorted(run)})")
    shown = [m for m in metrics if any(m in run for run in runs.values())]
    if not shown:
        raise ValueError(f"plot_curves: no run has any of the metrics {list(metrics)}")
    smooth, labels = smooth or {}, labels or {}
    for label, k in smooth.items():
        if label not in runs or isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"plot_curves: smooth must map run labels {sorted(runs)} to "
                             f"whole numbers of points >= 1; got {label!r}: {k!r}")
    fig = new_figure(4.6 * len(shown) + 0.4, 3.6)
    axes = fig.subplots(1, len(shown), squeeze=False)[0]
    for ax, metric in zip(axes, shown):
        for label, run in runs.items():
            if metric not in run:
                continue
            xs = as_array(run[x], f"{label}.{x}", "plot_curves")
            ys = as_array(run[metric], f"{label}.{metric}", "plot_curves")
            if len(xs) != len(ys):
                raise ValueError(f"plot_curves: run {label!r} has {len(xs)} {x} values "
                                 f"but {len(ys)} {metric} values")
            drawn = np.isfinite(ys)
            _draw_curve(ax, xs[drawn], ys[drawn], label, smooth.get(label, 1))
        if log_loss and "loss" in metric:
            ax.set_yscale("log")
        ax.set_xlabel(x)
        ax.set_ylabel(labels.get(metric, metric))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=11)
    save_png(fig, path)
    return fig


def _draw_curve(ax, xs: np.ndarray, ys: np.ndarray, label: str, k: int) -> None:
    """One run's curve; with k > 1, faint as it is and solid as a running mean of k."""
    few = len(xs) <= 30                       # a handful of points: show each one
    if k <= 1 or len(ys) < k:
        ax.plot(xs, ys, "o-" if few else "-", ms=3, label=label)
        return
    raw, = ax.plot(xs, ys, alpha=0.25, lw=0.8)
    mean = np.convolve(ys, np.ones(k) / k, mode="valid")
    ax.plot(xs[k - 1:], mean, color=raw.get_color(), label=f"{label} (mean of {k})")
