"""Plots a person would rather look at than read: what a recurrent network does.

Most functions take NumPy arrays and return a ``matplotlib.figure.Figure``;
pass ``path=`` to also save it as a PNG. matplotlib is imported only inside
the functions that draw (``pip install matplotlib``), and no pyplot state is
touched, so the module is safe in scripts, tests and notebooks (display a
figure there by leaving it as a cell's last value).

What is here (after Karpathy, Johnson & Fei-Fei 2015, "Visualizing and
Understanding Recurrent Networks", Ostmeyer & Cowell 2017 and Pascanu et al. 2013):

* :func:`trace` runs a model step by step and records, per layer and time
  step, the hidden state h, the LSTM cell c, the gates (LSTM i, f, o; GRU r,
  z) and the RWA log-weights a;
* :func:`activation_html` / :func:`plot_activation`: one unit's activation
  over a text, each character coloured from -1 (red) to +1 (blue);
  :func:`rank_units` finds the units that follow a per-character signal such
  as :func:`inside_string`, :func:`line_position`, :func:`indent_depth`;
* :func:`gate_saturation` / :func:`plot_gate_saturation`: how often each gate
  unit is left-saturated (< 0.1) or right-saturated (> 0.9), one panel per layer;
* :func:`plot_rwa_weights`: the RWA's mean and max log-weight per time step;
* :func:`bptt_gradient_norms` / :func:`plot_gradient_norms`: ||dL/dh_t||
  against t through backpropagation through time (vanishing and exploding
  gradients), with and without clipping;
* :func:`plot_curves`: loss and accuracy curves of several runs on one figure.
"""
from __future__ import annotations

import html
import math
import os

import numpy as np

from . import ops
from .autograd import no_grad
from .nn.recurrent import map_state, state_tensors
from .tensor import Tensor

__all__ = ["trace", "unit_values", "activation_html", "plot_activation", "rank_units",
           "inside_string", "line_position", "indent_depth", "gate_saturation",
           "plot_gate_saturation", "plot_rwa_weights", "bptt_gradient_norms",
           "plot_gradient_norms", "plot_curves", "GATES"]

GATES = {"LSTMCell": ("i", "f", "o"), "GRUCell": ("r", "z")}
"""The gates :func:`trace` records (and saturation plots show) per cell type."""


# ---------------------------------------------------------------------------
# Figures: creation and saving
# ---------------------------------------------------------------------------
def _figure(width: float, height: float):
    """A new Figure with no pyplot state (never shown by a GUI by accident)."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("tinyrnn.viz needs matplotlib to draw: pip install matplotlib") \
            from None
    return Figure(figsize=(width, height), layout="constrained")


def _save(fig, path) -> None:
    if path is not None:
        directory = os.path.dirname(os.fspath(path))
        if directory:
            os.makedirs(directory, exist_ok=True)
        fig.savefig(path, dpi=100)


def _array(values, name: str, fn: str, ndim: int | tuple = 1) -> np.ndarray:
    """``values`` as a float64 NumPy array of the expected rank, or a clear error."""
    if isinstance(values, Tensor):
        values = values.numpy()
    a = np.asarray(values, dtype=np.float64)
    ndims = (ndim,) if isinstance(ndim, int) else ndim
    if a.ndim not in ndims:
        raise ValueError(f"{fn}: {name} has shape {a.shape}; expected "
                         f"{' or '.join(f'{d}-D' for d in ndims)}")
    return a


# ---------------------------------------------------------------------------
# Looking inside a model: record states and gates step by step
# ---------------------------------------------------------------------------
def _cells_of(model) -> tuple[list, object]:
    """(cells, embedding or None) of a CharLM-like model or a Recurrent stack."""
    if hasattr(model, "rnn") and hasattr(model.rnn, "cells"):
        return list(model.rnn.cells), getattr(model, "embedding", None)
    if hasattr(model, "cells"):
        return list(model.cells), None
    raise TypeError(f"trace: expected a CharLM-like model (with .rnn.cells) or a "
                    f"Recurrent stack (with .cells); got {type(model).__name__}")


def trace(model, inputs, state=None) -> list[dict[str, np.ndarray]]:
    """Run ``model`` over ``inputs`` one step at a time and record what happens inside.

    Parameters
    ----------
    model : a CharLM (``inputs`` are ids (T, B) or (T,)) or a Recurrent stack
        such as ``nn.LSTM`` (``inputs`` are features (T, B, I)).
    inputs : array or Tensor, see above.
    state : the stack's initial states (one per layer), or None for zeros.

    Returns
    -------
    One dict per layer (bottom first) of NumPy arrays (T, B, H):
    ``"h"`` the output; for an LSTM also ``"c"`` (the cell, before tanh) and
    the gates ``"i"``, ``"f"``, ``"o"``; for a GRU ``"r"`` and ``"z"``; for an
    RWA ``"a"``, the log-weights. (B is 1 for 1-D ids.)

    The model runs in eval mode (no dropout) under ``no_grad``, through its
    readable cells (never the fused kernels). The gates come from the cells'
    own ``gate_values`` method, the one their ``forward`` uses, so nothing here
    repeats the cell equations.
    """
    cells, embedding = _cells_of(model)
    backend = next(iter(cells[0].parameters())).backend
    if not isinstance(inputs, Tensor):
        inputs = Tensor(np.asarray(inputs), backend=backend)
    if embedding is not None and inputs.ndim == 1:
        inputs = inputs.reshape(inputs.shape[0], 1)
    was_training = model.training
    model.eval()
    records = []
    try:
        with no_grad():
            x = embedding(inputs) if embedding is not None else inputs
            states = [None] * len(cells) if state is None else list(state)
            for k, cell in enumerate(cells):
                x, rec = _trace_layer(cell, x, states[k])
                records.append(rec)
    finally:
        model.train(was_training)
    return records


def _trace_layer(cell, x: Tensor, state) -> tuple[Tensor, dict]:
    """One layer over T steps: (its outputs (T, B, H), {name: (T, B, H) array})."""
    kind = type(cell).__name__
    gates = GATES.get(kind, ())
    if gates and not hasattr(cell, "gate_values"):
        raise TypeError(f"trace: {kind} has no gate_values(x, h) method to read the "
                        "gates from")
    steps: dict[str, list] = {"h": []}
    outputs = []
    for x_t in ops.split(x, 1, axis=0):
        x_t = x_t[0]
        if gates:
            h_prev = (cell.initial_state(x_t.shape[0]) if state is None else state)
            h_prev = h_prev[0] if isinstance(h_prev, (tuple, list)) else h_prev
            values = dict(zip("ifgo" if kind == "LSTMCell" else "rzn",
                              cell.gate_values(x_t, h_prev)))
            for g in gates:
                steps.setdefault(g, []).append(values[g].numpy())
        if kind == "RWACell":
            cell.record_weights, cell.log_weights = True, []
            try:
                h, state = cell(x_t, state)
                steps.setdefault("a", []).append(cell.log_weights[0].numpy())
            finally:
                cell.record_weights, cell.log_weights = False, []
        else:
            h, state = cell(x_t, state)
        if kind == "LSTMCell":
            steps.setdefault("c", []).append(state[1].numpy())
        steps["h"].append(h.numpy())
        outputs.append(h)
    return ops.stack(outputs, axis=0), {k: np.stack(v) for k, v in steps.items()}


def unit_values(records: list[dict], layer: int = -1, kind: str | None = None
                ) -> np.ndarray:
    """The activations to colour text with, (T, H) for the first sequence of the batch.

    ``kind`` "cell" is tanh(c) (LSTM only; Karpathy et al.'s choice; for a
    layer-normalised LSTM this is tanh of the raw cell, not of LN(c)), "h" the
    output; None picks tanh(c) when there is a cell, else h.
    """
    rec = records[layer]
    if kind is None:
        kind = "cell" if "c" in rec else "h"
    if kind == "cell":
        if "c" not in rec:
            raise ValueError("unit_values: kind='cell' needs an LSTM layer (it has c); "
                             f"this layer recorded {sorted(rec)}")
        return np.tanh(rec["c"][:, 0])
    if kind == "h":
        return rec["h"][:, 0]
    raise ValueError(f"unit_values: kind must be 'cell', 'h' or None; got {kind!r}")


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
    v = _array(values, "values", fn)
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
            "<p>red = -1, white = 0, blue = +1</p></body></html>\n")
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
    rows are drawn.
    """
    v = _check_text_values(text, values, "plot_activation")
    rows = _lines(text, width)[:max_lines]
    grid = np.full((max(len(rows), 1), width), np.nan)
    for r, (start, line) in enumerate(rows):
        grid[r, :len(line)] = v[start:start + len(line)]
    fig = _figure(width * 0.11 + 0.6, len(grid) * 0.2 + 0.6)
    ax = fig.add_subplot()
    ax.imshow(grid, cmap="RdBu", vmin=-1, vmax=1, aspect="auto", interpolation="nearest")
    for r, (_, line) in enumerate(rows):
        for c, ch in enumerate(line):
            ax.text(c, r, "↵" if ch == "\n" else ch, ha="center", va="center",
                    fontsize=8, family="monospace")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=10)
    _save(fig, path)
    return fig


# ---------------------------------------------------------------------------
# Which units follow a signal?
# ---------------------------------------------------------------------------
def rank_units(activations, signal, top: int | None = None) -> list[tuple[int, float]]:
    """Rank units by how well their activation follows a per-character ``signal``.

    Parameters
    ----------
    activations : (N, H) array, one row per character (e.g. from :func:`unit_values`).
    signal : (N,) array (e.g. :func:`inside_string` of the text), or a
        predicate: booleans work too.
    top : keep the best ``top`` units (all when None).

    Returns
    -------
    [(unit, r), ...] sorted by |r| descending, r the Pearson correlation between
    the unit's activation and the signal (0 for a constant unit or signal). A
    negative r is as good as a positive one: the unit tracks the signal with
    the opposite sign.
    """
    a = _array(activations, "activations", "rank_units", 2)
    s = _array(signal, "signal", "rank_units")
    if len(s) != len(a):
        raise ValueError(f"rank_units: signal has {len(s)} values, activations "
                         f"{len(a)} rows; expected one value per row (character)")
    a_c, s_c = a - a.mean(axis=0), s - s.mean()
    denom = np.sqrt((a_c ** 2).sum(axis=0) * (s_c ** 2).sum())
    varies = (np.ptp(a, axis=0) > 0) & (np.ptp(s) > 0)    # exactly constant: r = 0
    r = np.divide(s_c @ a_c, denom, out=np.zeros(a.shape[1]), where=varies & (denom > 0))
    order = np.argsort(-np.abs(r), kind="stable")[:top]
    return [(int(u), float(r[u])) for u in order]


def inside_string(text: str) -> np.ndarray:
    """1.0 for each character read while inside a Python string literal, else 0.0.

    The value at i is the state *after* reading character i (the opening quote
    is inside, the closing quote outside). Handles ' " and triple quotes,
    backslash escapes, and ``#`` comments (quotes there open nothing). A
    newline ends a single-quoted string (an unterminated literal).
    """
    out = np.zeros(len(text))
    i, quote, comment = 0, None, False
    while i < len(text):
        ch = text[i]
        if comment:
            comment = ch != "\n"
        elif quote is None:
            if ch == "#":
                comment = True
            elif ch in "'\"":
                quote = ch * 3 if text.startswith(ch * 3, i) else ch
                out[i:i + len(quote)] = 1.0
                i += len(quote)
                continue
        else:
            if ch == "\\":
                out[i:i + 2] = 1.0
                i += 2
                continue
            if text.startswith(quote, i):
                i += len(quote)         # the closing quote: outside again (0)
                quote = None
                continue
            if ch == "\n" and len(quote) == 1:
                quote = None
            else:
                out[i] = 1.0
        i += 1
    return out


def line_position(text: str) -> np.ndarray:
    """The column after reading each character: 1 for a line's first character,
    2 for its second ...; 0 after a newline (a line-length counter's target)."""
    out = np.zeros(len(text))
    col = 0
    for i, ch in enumerate(text):
        col = 0 if ch == "\n" else col + 1
        out[i] = col
    return out


def indent_depth(text: str) -> np.ndarray:
    """The indentation of the current line (leading spaces; a tab counts 4) for
    each character, as far as it has been read: it grows through the leading
    whitespace and then stays; a newline resets it to 0."""
    out = np.zeros(len(text))
    depth, leading = 0, True
    for i, ch in enumerate(text):
        if ch == "\n":
            depth, leading = 0, True
        elif leading and ch in " \t":
            depth += 4 if ch == "\t" else 1
        else:
            leading = False
        out[i] = depth
    return out


# ---------------------------------------------------------------------------
# Gate saturation (Karpathy, Johnson & Fei-Fei 2015, Fig. 3)
# ---------------------------------------------------------------------------
def gate_saturation(values, low: float = 0.1, high: float = 0.9
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Per gate unit, the fraction of steps left-saturated (< ``low``) and
    right-saturated (> ``high``).

    values : (..., H) gate activations in [0, 1]; all leading axes (time,
    batch) count as steps. Returns ``(left (H,), right (H,))``.
    """
    v = _array(values, "values", "gate_saturation", (2, 3))
    v = v.reshape(-1, v.shape[-1])
    return (v < low).mean(axis=0), (v > high).mean(axis=0)


def plot_gate_saturation(layers: list[dict], path=None, title: str = "",
                         low: float = 0.1, high: float = 0.9):
    """One panel per layer: each gate unit a dot at (fraction right-saturated,
    fraction left-saturated), coloured by gate.

    ``layers``: per layer a dict {gate name: (T, B, H) or (N, H) activations},
    e.g. :func:`trace`'s records (its "h" and "c" entries are skipped). A unit
    near the bottom right is almost always open (> 0.9: for a forget gate, an
    integrator that keeps its cell); near the top left, almost always closed;
    near the origin, rarely saturated.
    """
    if not layers:
        raise ValueError("plot_gate_saturation: no layers given")
    colours = {"i": "tab:green", "f": "tab:blue", "o": "tab:red",
               "r": "tab:purple", "z": "tab:orange"}
    fig = _figure(3.2 * len(layers) + 0.4, 3.4)
    axes = fig.subplots(1, len(layers), squeeze=False)[0]
    for k, (ax, rec) in enumerate(zip(axes, layers)):
        gates = [g for g in rec if g in colours]
        if not gates:
            raise ValueError(f"plot_gate_saturation: layer {k} has no gates (got "
                             f"{sorted(rec)}); expected some of {sorted(colours)}")
        for g in gates:
            left, right = gate_saturation(rec[g], low, high)
            ax.scatter(right, left, s=12, alpha=0.7, color=colours[g], label=g)
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
    _save(fig, path)
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
    fig = _figure(8.5, 3.2)
    ax_mean, ax_max = fig.subplots(1, 2)
    for k, a in enumerate(log_weights):
        a = _array(a, f"log_weights[{k}]", "plot_rwa_weights", (2, 3))
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
    _save(fig, path)
    return fig


# ---------------------------------------------------------------------------
# Gradients through time (Bengio et al. 1994; Pascanu et al. 2013)
# ---------------------------------------------------------------------------
def _final_loss(h: Tensor, loss_fn, rng) -> Tensor:
    if loss_fn is not None:
        return loss_fn(h)
    v = rng.standard_normal(h.shape[1])
    v = Tensor((v / np.linalg.norm(v)).astype(h.numpy().dtype), backend=h.backend)
    return (h * v).sum()           # dL/dh_T = v (a unit vector) for every sequence


def bptt_gradient_norms(cell, x, state=None, clip: float | None = None, loss_fn=None,
                        seed: int = 0) -> np.ndarray:
    """||dL/dh_t|| for t = 1 .. T, for a loss L on the last step only.

    Parameters
    ----------
    cell : a composed cell (RNNCell, LSTMCell, GRUCell, RWACell ...).
    x : (T, B, I) inputs (array or Tensor).
    state : the initial state (None: the cell's zeros).
    clip : None: one backward through the whole unrolled graph, reading each
        step's gradient with ``retain_grad()``. A number: backpropagate one
        step at a time and rescale every sequence's gradient with respect to
        the state (all its tensors together, e.g. (h, c)) to norm at most
        ``clip`` before passing it on to the step before -- clipping *inside*
        BPTT (as Graves 2013 clips the LSTM's backward pass), so that one
        exploding stretch cannot blow up all the earlier steps. (Clipping the
        parameters' gradient after backward, ``clip_grad_norm_``, changes none
        of these numbers: it acts on the sum over steps.)
    loss_fn : maps h_T (B, H) to a scalar Tensor; default L = sum_b v . h_T[b]
        with a fixed random unit vector v (``seed``), so that ||dL/dh_T|| = 1.

    Returns
    -------
    (T,) float64: the norm of each sequence's dL/dh_t (after clipping, when
    clipping), averaged over the B sequences. For a tanh RNN with small
    recurrent weights it shrinks geometrically going back in time (vanishing
    gradients); with large ones it grows (exploding). The cell's parameter
    gradients are restored to what they were.
    """
    params = list(cell.parameters())
    if not isinstance(x, Tensor):
        x = Tensor(np.asarray(x), backend=params[0].backend)
    if x.ndim != 3:
        raise ValueError(f"bptt_gradient_norms: x has shape {x.shape}; expected "
                         "(time, batch, input_size)")
    if clip is not None and not clip > 0:
        raise ValueError(f"bptt_gradient_norms: clip must be positive or None; got {clip}")
    rng = np.random.default_rng(seed)
    xs = [x_t[0] for x_t in ops.split(x, 1, axis=0)]
    saved = [p.grad for p in params]
    try:
        if clip is None:
            hs = []
            for x_t in xs:
                h, state = cell(x_t, state)
                hs.append(h.retain_grad())
            _final_loss(hs[-1], loss_fn, rng).backward()
        else:
            hs = _clipped_bptt(cell, xs, state, clip, loss_fn, rng)
        return np.array([_row_norms(h.grad).mean() if h.grad is not None else 0.0
                         for h in hs])
    finally:
        for p, g in zip(params, saved):
            p.grad = g


def _row_norms(g: Tensor) -> np.ndarray:
    """The L2 norm of each row (sequence) of a (B, ...) gradient."""
    a = g.numpy().astype(np.float64)
    return np.sqrt((a ** 2).reshape(a.shape[0], -1).sum(axis=1))


def _rebuild(state, leaves: list):
    """``state``'s nesting with its tensors replaced, in order, by ``leaves``."""
    replacements = iter(leaves)
    return map_state(lambda _: next(replacements), state)


def _clipped_bptt(cell, xs, state, clip, loss_fn, rng) -> list:
    """BPTT one step at a time, clipping each sequence's state gradient on the way.

    Each step starts from a detached copy of the state before it, so backward
    through that step stops at the copy and leaves dL/d(state) in its .grad;
    we clip that and push it into the step before with the surrogate loss
    sum(state_out * grad), whose gradient with respect to state_out is grad.
    Returns the per-step outputs h_t, each holding (clipped) dL/dh_t in .grad.
    """
    if state is None:
        state = cell.initial_state(xs[0].shape[0])
    copies, outs, hs = [], [], []
    for x_t in xs:
        leaves = [t.detach().requires_grad_(t.backend.is_floating(t.data))
                  for t in state_tensors(state)]
        h, state = cell(x_t, _rebuild(state, list(leaves)))
        copies.append(leaves)
        outs.append(state_tensors(state))
        hs.append(h.retain_grad())
    _final_loss(hs[-1], loss_fn, rng).backward()
    for t in range(len(xs) - 1, 0, -1):
        grads = _clip_rows([leaf.grad for leaf in copies[t]], clip)
        terms = [(out * g).sum() for out, g in zip(outs[t - 1], grads)
                 if g is not None and out.requires_grad]
        if terms:
            total = terms[0]
            for term in terms[1:]:
                total = total + term
            total.backward()
    return hs


def _clip_rows(grads: list, clip: float) -> list:
    """Scale each row b of all gradients together so that their joint norm is <= clip."""
    present = [g for g in grads if g is not None]
    if not present:
        return grads
    total = np.sqrt(sum(_row_norms(g) ** 2 for g in present))         # (B,)
    scale = np.minimum(1.0, clip / np.maximum(total, 1e-300))
    out = []
    for g in grads:
        if g is None:
            out.append(None)
            continue
        a = g.numpy()
        s = scale.reshape((-1,) + (1,) * (a.ndim - 1)).astype(a.dtype)
        out.append(Tensor(a * s, backend=g.backend))
    return out


def plot_gradient_norms(curves: dict, path=None, title: str = "", log: bool = True):
    """||dL/dh_t|| against t, one line per entry of ``curves`` {label: (T,) array}
    (from :func:`bptt_gradient_norms`), on a log scale by default."""
    if not curves:
        raise ValueError("plot_gradient_norms: no curves given")
    fig = _figure(6.5, 3.8)
    ax = fig.add_subplot()
    for label, norms in curves.items():
        norms = _array(norms, f"curves[{label!r}]", "plot_gradient_norms")
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
    _save(fig, path)
    return fig


# ---------------------------------------------------------------------------
# Training curves
# ---------------------------------------------------------------------------
def plot_curves(runs: dict, path=None, title: str = "", x: str = "step",
                metrics: tuple = ("loss", "accuracy"), log_loss: bool = False):
    """Several runs' curves on one figure, one panel per metric.

    Parameters
    ----------
    runs : {label: {"step": [...], "loss": [...], "accuracy": [...]}} -- any
        keys; ``x`` names the horizontal axis, ``metrics`` the panels. A run
        without a metric is left out of that panel; a metric no run has gets no
        panel.
    log_loss : draw metrics whose name contains "loss" on a log scale.
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
    fig = _figure(4.6 * len(shown) + 0.4, 3.6)
    axes = fig.subplots(1, len(shown), squeeze=False)[0]
    for ax, metric in zip(axes, shown):
        for label, run in runs.items():
            if metric not in run:
                continue
            xs = _array(run[x], f"{label}.{x}", "plot_curves")
            ys = _array(run[metric], f"{label}.{metric}", "plot_curves")
            if len(xs) != len(ys):
                raise ValueError(f"plot_curves: run {label!r} has {len(xs)} {x} values "
                                 f"but {len(ys)} {metric} values")
            ax.plot(xs, ys, label=label)
        if log_loss and "loss" in metric:
            ax.set_yscale("log")
        ax.set_xlabel(x)
        ax.set_ylabel(metric)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=11)
    _save(fig, path)
    return fig
from .draw_graph import graph  # noqa: E402,F401
