"""tinyrnn.viz.graph: the drawing holds the recorded ops, shapes, leaves and
gradient norms, and collapses an unrolled recurrence; checked on the DOT text
and on the figure's texts, not on looks."""
from __future__ import annotations

import re
import sys

import numpy as np
import pytest

import tinyrnn as tr
from tinyrnn import nn
from tinyrnn.viz.graph import graph

PNG = b"\x89PNG\r\n\x1a\n"


def boxes(dot: str) -> dict:
    """DOT node id -> label lines."""
    return {m[0]: m[1].split("\\n") for m in re.findall(r'(n\d+) \[label="([^"]*)"', dot)}


def edges(dot: str) -> list:
    return re.findall(r"(n\d+) -> (n\d+)( \[style=dashed)?", dot)


def neuron():
    x = tr.tensor([1.5, -0.5], dtype="float64")
    w = tr.tensor([-0.8, 0.3], dtype="float64", requires_grad=True)
    b = tr.tensor(0.4, dtype="float64", requires_grad=True)
    return x, w, b, ((w * x).sum() + b).tanh()


def test_dot_lists_ops_with_shapes_and_leaves_with_requires_grad():
    x, w, b, loss = neuron()
    dot = graph(loss, fmt="dot", names={"x": x, "w": w, "b": b})
    assert dot.startswith("digraph tinyrnn {") and dot.rstrip().endswith("}")
    labels = boxes(dot)
    assert sorted(lines[0] for lines in labels.values()) == ["Add", "Mul", "Sum", "Tanh", "b",
                                                           "w", "x"]
    by_name = {lines[0]: lines for lines in labels.values()}
    assert by_name["Mul"] == ["Mul", "(2,)"] and by_name["Tanh"] == ["Tanh", "scalar"]
    assert by_name["w"] == ["w", "(2,)", "requires_grad"] and by_name["x"] == ["x", "(2,)"]
    ids = {lines[0]: k for k, lines in labels.items()}
    assert sorted((a, b) for a, b, _ in edges(dot)) == sorted(
        (ids[a], ids[b]) for a, b in [("w", "Mul"), ("x", "Mul"), ("Mul", "Sum"),
                                      ("Sum", "Add"), ("b", "Add"), ("Add", "Tanh")])


def test_gradient_norms_after_backward_with_retain_graph():
    x, w, b, loss = neuron()
    loss.backward(retain_graph=True)
    labels = boxes(graph(loss, fmt="dot", grad_norms=True, names={"x": x, "w": w, "b": b}))
    by_name = {lines[0]: lines for lines in labels.values()}
    assert by_name["w"][-1] == f"|grad| {np.linalg.norm(w.grad.numpy()):.3g}"
    assert by_name["b"][-1] == f"grad {b.grad.item():.3g}"          # one number: signed
    assert not any("grad" in line for line in by_name["x"] + by_name["Mul"])


def test_values_of_small_tensors():
    x, w, b, loss = neuron()
    by_name = {lines[0]: lines for lines in boxes(graph(loss, fmt="dot", values=True,
                                                        names={"w": w})).values()}
    assert by_name["Tanh"][-1] == f"= {loss.item():.4g}"
    assert by_name["w"][-1] == "= [-0.8, 0.3]"


def test_a_freed_graph_is_a_clear_error():
    _, _, _, loss = neuron()
    loss.backward()
    with pytest.raises(RuntimeError, match=r"freed .*backward\(retain_graph=True\) to draw it"):
        graph(loss, fmt="dot")


def rnn(steps):
    xs = tr.randn(steps, 3, dtype="float64", requires_grad=True)
    w = tr.randn(3, 3, dtype="float64", requires_grad=True)
    h = tr.zeros(3, dtype="float64")
    for t in range(steps):
        h = tr.tanh(h @ w + xs[t])
    return xs, w, h


def test_an_unrolled_rnn_is_drawn_once_with_its_step_count():
    xs, w, h = rnn(50)
    dot = graph(h, fmt="dot", names={"xs": xs, "W": w})
    assert dot.count("subgraph cluster_") == 1 and 'label="× 50"' in dot
    cluster = dot[dot.index("subgraph cluster_0"):dot.index("  }")]
    assert sorted(lines[0] for lines in boxes(cluster).values()) == ["Add", "GetItem", "MatMul",
                                                                   "Tanh"]
    labels = boxes(dot)
    ids = {lines[0]: k for k, lines in labels.items()}
    dashed = [(a, b) for a, b, d in edges(dot) if d]
    assert dashed == [(ids["Tanh"], ids["MatMul"])]            # h_{t-1} -> step t
    assert len(labels) == 4 + 3                                 # 4 ops; xs, W, h0
    full = graph(h, fmt="dot", collapse=False)
    assert "cluster" not in full and len(boxes(full)) == 4 * 50 + 3


def test_gradient_norms_in_a_collapsed_box_span_the_steps():
    """Per-step values share one box: their norms are shown as min..max."""
    xs = tr.randn(20, 3, dtype="float64", requires_grad=True)
    w = tr.randn(3, 3, dtype="float64", requires_grad=True)
    h, hs = tr.zeros(3, dtype="float64"), []
    for t in range(20):
        h = tr.tanh(h @ w + xs[t]).retain_grad()
        hs.append(h)
    h.sum().backward(retain_graph=True)
    labels = {lines[0]: lines for lines in boxes(graph(h, fmt="dot", grad_norms=True,
                                                       names={"W": w})).values()}
    norms = [np.linalg.norm(t.grad.numpy()) for t in hs]
    assert labels["Tanh"][-1] == f"|grad| {min(norms):.3g}..{max(norms):.3g}"
    assert labels["W"][-1] == f"|grad| {np.linalg.norm(w.grad.numpy()):.3g}"
    assert "grad" not in labels["MatMul"][-1]             # not retained: no norm


def test_stacked_composed_layers_collapse_to_one_box_per_layer():
    tr.manual_seed(0)
    lstm = nn.LSTM(2, 3, num_layers=2, fused=False)
    out, _ = lstm(tr.randn(7, 2, 2))
    dot = graph(out, fmt="dot", names=dict(lstm.named_parameters()))
    assert dot.count('label="× 7"') == 2
    names = {lines[0] for lines in boxes(dot).values()}
    assert {f"{p}_l{k}" for p in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
            for k in range(2)} <= names


def test_the_fused_layer_is_one_op():
    lstm = nn.LSTM(2, 3)
    out, _ = lstm(tr.randn(7, 2, 2))
    ops = [lines[0] for lines in boxes(graph(out, fmt="dot")).values()
           if lines[0] not in ("leaf", "const")]
    assert ops == ["LSTMSequence"]


def test_figure_svg_png_and_path(tmp_path):
    x, w, b, loss = neuron()
    figure = graph(loss, names={"w": w})
    texts = [t.get_text() for t in figure.axes[0].texts]
    assert "Tanh\nscalar" in texts and "w\n(2,)\nrequires_grad" in texts
    svg = graph(loss, fmt="svg", path=tmp_path / "g.svg")
    assert "<svg" in svg and (tmp_path / "g.svg").read_text() == svg
    png = graph(loss, fmt="png", path=tmp_path / "g.png")
    assert png.startswith(PNG) and (tmp_path / "g.png").read_bytes() == png
    dot = graph(loss, fmt="dot", path=tmp_path / "g.dot")
    assert (tmp_path / "g.dot").read_text() == dot


def test_without_matplotlib_dot_still_works_and_pictures_say_what_to_install(monkeypatch):
    _, _, _, loss = neuron()
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    assert graph(loss, fmt="dot").startswith("digraph")
    with pytest.raises(ImportError, match=r"needs matplotlib .*pip install matplotlib"):
        graph(loss, fmt="svg")


def test_bad_arguments():
    _, _, _, loss = neuron()
    with pytest.raises(ValueError, match="fmt must be"):
        graph(loss, fmt="jpeg")
    with pytest.raises(TypeError, match="expected a Tensor"):
        graph(loss.numpy())


def test_viz_graph_is_this_function():
    from tinyrnn import viz
    assert viz.graph is graph
