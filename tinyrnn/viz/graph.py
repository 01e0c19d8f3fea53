"""Draw the graph a tensor has recorded: ops, shapes, leaves, gradient norms.

``tinyrnn.viz.graph(loss)`` turns the graph behind ``loss`` into a picture
(a matplotlib Figure, SVG or PNG) or into Graphviz DOT text, which needs
no Graphviz to produce (paste it into any DOT viewer, or run ``dot -Tsvg``).

* **Op nodes** (blue) show the op's name and the shape of what it made.
* **Leaves** (orange if they require grad, grey if constant) show a name --
  from ``names=``, e.g. ``dict(model.named_parameters())`` -- and a shape.
* **Gradient norms** (``grad_norms=True``): ||grad|| of every tensor that has
  one after ``backward`` -- the leaves, and intermediates you called
  ``retain_grad()`` on (a single number's gradient is shown signed).
  ``values=True`` adds the values of small tensors. Call
  ``backward(retain_graph=True)``, or the graph is freed and there is
  nothing left to draw.
* **Collapsing** (``collapse=True``): an RNN unrolled over T steps records
  the same few ops T times. Runs of at least ``min_repeats`` identical
  steps (same ops, same shapes, in the same order) are drawn once, inside a
  box labelled "× T"; a dashed edge marks what one step hands the next
  (h_{t-1} -> step t), and gradient norms in the box become min..max over
  the steps.
"""
from __future__ import annotations

import io
import os
from dataclasses import dataclass, field

import numpy as np

from ..autograd import recorded_nodes
from ..tensor import Tensor

__all__ = ["graph"]

_OP, _LEAF, _CONST = "#e8f0fe", "#fde7cf", "#eeeeee"


@dataclass
class _Drawing:
    """What to draw: boxes (key -> label, colour), edges, and the collapsed runs."""
    labels: dict = field(default_factory=dict)          # key -> text
    colours: dict = field(default_factory=dict)         # key -> fill colour
    edges: dict = field(default_factory=dict)           # (src, dst) -> recurrent?
    blocks: list = field(default_factory=list)          # (keys, repeats)


def graph(tensor, fmt: str = "figure", grad_norms: bool = False, values: bool = False,
          collapse: bool = True, names: dict | None = None,
          path: str | os.PathLike | None = None, min_repeats: int = 3):
    """Draw the graph recorded behind ``tensor`` (or a list of tensors).

    Parameters
    ----------
    tensor : a Tensor made by recorded ops (or a list / tuple of them).
    fmt : "figure" (a matplotlib Figure; a notebook shows it), "svg" (str),
        "png" (bytes) or "dot" (Graphviz text; needs neither Graphviz nor matplotlib).
    grad_norms : also print ||grad|| next to every tensor that has a ``.grad``
        (the gradient itself, signed, for a single number).
    values : also print the values of tensors of at most 4 elements.
    collapse : draw runs of >= ``min_repeats`` identical steps once, marked "× T".
    names : name -> tensor, to label leaves (``dict(model.named_parameters())``,
        ``{"x": x, "W": W}``); other leaves read "leaf" or "const".
    path : also write the result there (DOT / SVG as text, PNG / figure as PNG).

    Returns the DOT or SVG text, the PNG bytes, or the Figure.
    """
    if fmt not in ("figure", "svg", "png", "dot"):
        raise ValueError(f"graph: fmt must be 'figure', 'svg', 'png' or 'dot'; got {fmt!r}")
    roots = list(tensor) if isinstance(tensor, (list, tuple)) else [tensor]
    if not roots or not all(isinstance(t, Tensor) for t in roots):
        raise TypeError("graph: expected a Tensor (or a list of Tensors) to draw the graph of")
    if any(t._node is not None and t._node.freed for t in roots):
        raise RuntimeError("graph: backward() has already freed this graph; call "
                           "backward(retain_graph=True) to draw it afterwards")
    drawing = _describe(roots, grad_norms, values, collapse, min_repeats,
                        {id(t): name for name, t in (names or {}).items()})
    if fmt == "dot":
        result = _dot(drawing)
    else:
        figure = _figure(drawing)
        if fmt == "figure":
            if path is not None:
                figure.savefig(path, format="png")
            return figure
        buffer = io.BytesIO()
        figure.savefig(buffer, format=fmt)
        result = buffer.getvalue().decode("utf-8") if fmt == "svg" else buffer.getvalue()
    if path is not None:
        with open(path, "w" if isinstance(result, str) else "wb") as f:
            f.write(result)
    return result


# ---- what to draw ----------------------------------------------------------------
def _describe(roots, grad_norms, values, collapse, min_repeats, names) -> _Drawing:
    nodes = recorded_nodes(*roots)
    blocks = _repeated_runs(nodes, min_repeats) if collapse else []
    where = {}                          # seq -> (block number, step, key of the step-0 node)
    for b, (start, period, repeats) in enumerate(blocks):
        for step in range(repeats):
            for j in range(period):
                where[nodes[start + step * period + j].seq] = (b, step, nodes[start + j].seq)
    drawing = _Drawing()
    shown = {}                          # key -> {id: tensor} of the tensors a box stands for
    consumers = {}                      # id(leaf) -> set of (block, step), None outside blocks
    leaves = {}
    for node in nodes:
        b, step, rep = where.get(node.seq, (None, None, node.seq))
        key = ("op", rep)
        drawing.labels.setdefault(key, f"{node.fn.__name__}\n" + _shapes(node.out_meta))
        drawing.colours[key] = _OP
        if len(node.outputs) == 1 and node.outputs[0]() is not None:
            shown.setdefault(key, {})[node.seq] = node.outputs[0]()
        for x in node.inputs:
            if isinstance(x, Tensor) and x._node is None:
                leaves[id(x)] = x
                consumers.setdefault(id(x), set()).add(None if b is None else (b, step))
    per_step = {}                       # (rep, input) -> steps whose leaf there is their own
    for node in nodes:
        b, step, rep = where.get(node.seq, (None, None, node.seq))
        for i, x in enumerate(node.inputs):
            if b is not None and isinstance(x, Tensor) and x._node is None \
                    and consumers[id(x)] == {(b, step)}:
                per_step[(rep, i)] = per_step.get((rep, i), 0) + 1
    leaf_keys = {}
    for node in nodes:
        b, step, rep = where.get(node.seq, (None, None, node.seq))
        for i, x in enumerate(node.inputs):
            if not isinstance(x, Tensor):
                continue
            if x._node is None:
                # a leaf made afresh at every step (a constant) is drawn once, in the box
                fresh = per_step.get((rep, i), 0) > 1 and consumers[id(x)] == {(b, step)}
                src = ("leaf", rep, i) if fresh else ("leaf", id(x))
                leaf_keys.setdefault(src, x)
                shown.setdefault(src, {})[id(x)] = x
                recurrent = False
            else:
                xb, xstep, xrep = where.get(x._node.seq, (None, None, x._node.seq))
                src = ("op", xrep)
                recurrent = xb is not None and xb == b and xstep < step
            drawing.edges[(src, ("op", rep))] = drawing.edges.get((src, ("op", rep)),
                                                                    False) or recurrent
    for root in roots:
        if root._node is None:
            leaf_keys.setdefault(("leaf", id(root)), root)
            shown.setdefault(("leaf", id(root)), {})[id(root)] = root
    for key, x in leaf_keys.items():
        name = names.get(id(x), "leaf" if x.requires_grad else "const")
        drawing.labels[key] = f"{name}\n{_shape(x.shape)}" + (
            "\nrequires_grad" if x.requires_grad else "")
        drawing.colours[key] = _LEAF if x.requires_grad else _CONST
    for key, tensors in shown.items():
        drawing.labels[key] += _annotation(list(tensors.values()), values, grad_norms)
    for start, period, repeats in blocks:
        members = [("op", nodes[start + j].seq) for j in range(period)]
        members += [k for k in leaf_keys if k[0] == "leaf" and len(k) == 3
                    and ("op", k[1]) in members]
        drawing.blocks.append((members, repeats))
    return drawing


def _annotation(tensors, values: bool, grads: bool) -> str:
    """Extra lines for a box: its value (one small tensor) and its gradient --
    signed for a single number, else the norm; min..max over the steps of a box."""
    text = ""
    if values and len(tensors) == 1 and tensors[0].size <= 4:
        v = tensors[0].numpy().astype(float)
        text += "\n= " + (f"{v.item():.4g}" if v.size == 1 else
                          "[" + ", ".join(f"{e:.3g}" for e in v.ravel()) + "]")
    with_grad = [t.grad.numpy().astype(float) for t in tensors if grads and t.grad is not None]
    if with_grad:
        scalar = all(g.size == 1 for g in with_grad)
        found = [g.item() if scalar else float(np.linalg.norm(g)) for g in with_grad]
        low, high = min(found), max(found)
        text += ("\ngrad " if scalar else "\n|grad| ") + (
            f"{low:.3g}" if low == high else f"{low:.3g}..{high:.3g}")
    return text


def _shape(shape) -> str:
    return "scalar" if tuple(shape) == () else str(tuple(int(n) for n in shape))


def _shapes(out_meta) -> str:
    """"(2, 3)", or "(2, 3) × 10, (4,)" for an op with many outputs."""
    groups = []
    for shape, _ in out_meta:
        if groups and groups[-1][0] == shape:
            groups[-1][1] += 1
        else:
            groups.append([shape, 1])
    return ", ".join(_shape(s) + (f" × {n}" if n > 1 else "") for s, n in groups)


def _repeated_runs(nodes, min_repeats) -> list:
    """Non-overlapping (start, period, repeats): stretches of the recording
    where the same ``period`` ops (by name and shapes) repeat, the longest first."""
    tokens = [(n.fn.__name__, n.out_meta, tuple(getattr(x, "shape", None) for x in n.inputs))
              for n in nodes]
    taken = [False] * len(tokens)
    runs = []
    while True:
        best = None                     # (covered, -period, -start, start, period, repeats)
        for period in range(1, min(64, len(tokens) // min_repeats) + 1):
            i = 0
            while i + period < len(tokens):
                j = i                   # tokens[j] == tokens[j + period] for j in [i, end)
                while (j + period < len(tokens) and not taken[j + period] and not taken[j]
                       and tokens[j] == tokens[j + period]):
                    j += 1
                repeats = (j - i) // period + 1
                if repeats >= min_repeats:
                    candidate = (period * repeats, -period, -i, i, period, repeats)
                    best = max(best, candidate) if best else candidate
                i = max(j, i + 1)
        if best is None:
            return sorted(runs)
        _, _, _, start, period, repeats = best
        runs.append((start, period, repeats))
        for k in range(start, start + period * repeats):
            taken[k] = True


# ---- DOT --------------------------------------------------------------------------
def _dot(drawing: _Drawing) -> str:
    ids = {key: f"n{k}" for k, key in enumerate(drawing.labels)}

    def box(key):
        label = drawing.labels[key].replace("\\", "\\\\").replace('"', '\\"')
        label = label.replace("\n", "\\n")
        return (f'{ids[key]} [label="{label}", fillcolor="{drawing.colours[key]}"'
                + (', style="rounded,filled"' if key[0] == "leaf" else "") + "];")
    lines = ["digraph tinyrnn {", "  rankdir=LR;",
             '  node [shape=box, style=filled, fontname="Helvetica", fontsize=10];']
    boxed = set()
    for b, (members, repeats) in enumerate(drawing.blocks):
        lines += [f"  subgraph cluster_{b} {{",
                  f'    label="× {repeats}"; style="dashed,rounded"; color="#888888";']
        lines += ["    " + box(key) for key in members]
        lines.append("  }")
        boxed.update(members)
    lines += ["  " + box(key) for key in drawing.labels if key not in boxed]
    for (src, dst), recurrent in drawing.edges.items():
        style = ' [style=dashed, label="next step", constraint=false]' if recurrent else ""
        lines.append(f"  {ids[src]} -> {ids[dst]}{style};")
    return "\n".join(lines + ["}"]) + "\n"


# ---- matplotlib ---------------------------------------------------------------------
def _layers(drawing: _Drawing) -> dict:
    """key -> column: an op one right of its deepest input, a leaf just left of
    its first consumer (dashed edges ignored). Op keys come in recording order,
    so every op's inputs have their column before it does."""
    inputs, consumers = {}, {}
    for (src, dst), recurrent in drawing.edges.items():
        if not recurrent:
            inputs.setdefault(dst, []).append(src)
            consumers.setdefault(src, []).append(dst)
    block_of = {key: b for b, (members, _) in enumerate(drawing.blocks) for key in members}
    column, floor, highest = {}, {}, 0
    for key in drawing.labels:
        if key[0] != "op":
            continue
        column[key] = 1 + max((column.get(s, 0) for s in inputs.get(key, [])), default=0)
        b = block_of.get(key)
        if b is not None:               # a box starts right of everything recorded before it
            column[key] = max(column[key], floor.setdefault(b, highest + 1))
        highest = max(highest, column[key])
    for key in reversed(list(drawing.labels)):      # ops fed by leaves only (W.T) move
        if key[0] == "op" and key in consumers and all(s[0] == "leaf" for s in inputs[key]):
            column[key] = min(column[d] for d in consumers[key]) - 1   # next to their use
    for key in drawing.labels:
        if key[0] == "leaf":
            column[key] = min((column[d] for d in consumers.get(key, [])), default=1) - 1
    return column


def _figure(drawing: _Drawing):
    try:
        from matplotlib.figure import Figure
        from matplotlib.patches import FancyBboxPatch
    except ImportError:
        raise ImportError("tinyrnn.viz.graph needs matplotlib for fmt='figure', 'svg' or "
                          "'png' (pip install matplotlib); fmt='dot' needs nothing") from None
    column = _layers(drawing)
    rows, position = {}, {}
    for key in drawing.labels:
        c = column[key]
        position[key] = (2.2 * c, -1.3 * rows.get(c, 0))
        rows[c] = rows.get(c, 0) + 1
    width, height = 2.2 * (max(column.values()) + 1), 1.3 * max(rows.values())
    figure = Figure(figsize=(max(3.0, 1.1 * width), max(2.0, 1.1 * height)))
    ax = figure.add_axes((0, 0, 1, 1))
    for members, repeats in drawing.blocks:
        xs = [position[k][0] for k in members]
        ys = [position[k][1] for k in members]
        ax.add_patch(FancyBboxPatch((min(xs) - 1.0, min(ys) - 0.6), max(xs) - min(xs) + 2.0,
                                    max(ys) - min(ys) + 1.4, boxstyle="round,pad=0.05",
                                    fill=False, linestyle="--", edgecolor="0.5"))
        ax.text(max(xs) + 0.95, max(ys) + 0.7, f"× {repeats}", ha="right", va="top",
                fontsize=10, color="0.3")
    boxes = {}
    for key, text in drawing.labels.items():
        x, y = position[key]
        boxes[key] = ax.text(x, y, text, ha="center", va="center", fontsize=8, bbox=dict(
            boxstyle="round" if key[0] == "leaf" else "square", fc=drawing.colours[key],
            ec="0.5"))
    for (src, dst), recurrent in drawing.edges.items():
        # anchored to the text boxes: right side of the input -> left side of the op;
        # a dashed step-to-step edge runs from bottom to bottom, curving below
        ax.annotate("", xy=(0.5, 0.0) if recurrent else (0.0, 0.5), xycoords=boxes[dst],
                    xytext=(0.5, 0.0) if recurrent else (1.0, 0.5), textcoords=boxes[src],
                    arrowprops=dict(arrowstyle="->", color="0.4", shrinkA=4, shrinkB=4,
                                    linestyle="--" if recurrent else "-",
                                    connectionstyle="arc3,rad=-0.3" if recurrent else "arc3"))
    ax.set_xlim(-1.2, width - 1.0)
    ax.set_ylim(-height + 0.4, 0.9)
    ax.axis("off")
    return figure
