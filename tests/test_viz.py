"""tinyrnn.viz: what it records and computes is checked against independent
formulas; the figures are checked for their data, not their looks."""
from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

import tinyrnn as tr
from tinyrnn import nn, viz

PNG = b"\x89PNG\r\n\x1a\n"


# ---- text pages ----------------------------------------------------------------------
def test_activation_html_colours_each_character(tmp_path):
    text = "a<\nb"
    page = viz.activation_html(text, [-1.0, 0.0, 1.0, 0.5], path=tmp_path / "p.html",
                               title="unit 3")
    colours = re.findall(r"background:rgb\((\d+),(\d+),(\d+)\)", page)
    assert [tuple(map(int, c)) for c in colours] == [
        (255, 0, 0), (255, 255, 255), (0, 0, 255), (128, 128, 255)]
    assert "&lt;" in page and "<<" not in page           # escaped
    assert "↵</span><br>" in page and "unit 3" in page
    assert (tmp_path / "p.html").read_text(encoding="utf-8") == page


def test_activation_html_clips_and_checks_lengths():
    page = viz.activation_html("xy", [-7.0, 3.0])
    assert "rgb(255,0,0)" in page and "rgb(0,0,255)" in page
    with pytest.raises(ValueError, match=r"activation_html: 3 values for a text of 2"):
        viz.activation_html("xy", [0.0, 0.1, 0.2])
    with pytest.raises(ValueError, match=r"plot_activation: values has shape \(2, 1\)"):
        viz.plot_activation("xy", [[0.0], [0.1]])


def test_plot_activation_grid_and_png(tmp_path):
    text = "ab\ncde\n" + "x" * 12
    values = np.linspace(-1, 1, len(text))
    fig = viz.plot_activation(text, values, path=tmp_path / "a.png", width=5)
    grid = fig.axes[0].images[0].get_array()
    # rows: "ab\n", "cde\n", "xxxxx", "xxxxx", "xx"
    assert grid.shape == (5, 5)
    np.testing.assert_allclose(grid[1, :4], values[3:7])
    np.testing.assert_allclose(grid[4, :2], values[17:19])
    assert np.ma.getmaskarray(grid)[0, 3:].all()          # past the line's end: blank
    assert (tmp_path / "a.png").read_bytes()[:8] == PNG


# ---- signals and ranking ---------------------------------------------------------------
def test_signals_on_a_small_program():
    text = 'x = "a#b"  # q\'s\n\tif \'c\\\'d\':\n  """doc\nz"""\n'
    s = viz.inside_string(text)
    inside = "".join(ch for ch, v in zip(text, s) if v)
    assert inside == '"a#b' + "'c\\'d" + '"""doc\nz'
    lines = text.split("\n")
    col = viz.line_position(text)
    assert col[len(lines[0]) - 1] == len(lines[0]) and col[len(lines[0])] == 0
    depth = viz.indent_depth(text)
    second = len(lines[0]) + 1
    assert depth[second] == 4 and depth[second + 5] == 4      # a tab counts 4
    third = second + len(lines[1]) + 1
    assert list(depth[third:third + 3]) == [1, 2, 2]
    assert depth[len(text) - 1] == 0                            # the final newline


def test_rank_units_orders_by_absolute_correlation():
    rng = np.random.default_rng(0)
    signal = rng.random(200)
    acts = np.stack([-signal + 0.01 * rng.standard_normal(200),     # follows, sign -
                     rng.standard_normal(200),                       # noise
                     np.full(200, 0.3),                              # constant: r = 0
                     signal + 0.5 * rng.standard_normal(200)], axis=1)
    ranked = viz.rank_units(acts, signal)
    assert [u for u, _ in ranked][:2] == [0, 3]
    assert ranked[0][1] < -0.99 and 0 < ranked[1][1] < 0.9
    assert dict(ranked)[2] == 0.0
    r3 = np.corrcoef(acts[:, 3], signal)[0, 1]
    assert dict(ranked)[3] == pytest.approx(r3, rel=1e-12)
    assert viz.rank_units(acts, signal > 0.5, top=1)[0][0] == 0     # a predicate works too
    with pytest.raises(ValueError, match="rank_units: signal has 5 values"):
        viz.rank_units(acts, signal[:5])


# ---- recording a model -------------------------------------------------------------------
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_trace_matches_the_fused_layer(cell, backend):
    model = nn.CharLM(7, hidden_size=5, num_layers=2, cell=cell)
    ids = np.array([[1, 2], [3, 0], [6, 6], [2, 5]])              # (T=4, B=2)
    records = viz.trace(model, ids)
    with tr.no_grad():
        out, states = model.rnn(model.embedding(tr.tensor(ids)))   # fused kernels
    assert len(records) == 2
    np.testing.assert_allclose(records[1]["h"], out.numpy(), rtol=1e-5, atol=1e-6)
    gates = {"lstm": {"i", "f", "o", "c"}, "gru": {"r", "z"}, "rnn": set()}[cell]
    assert set(records[0]) == {"h"} | gates
    for name in gates - {"c"}:
        assert records[0][name].shape == (4, 2, 5)
        assert ((records[0][name] > 0) & (records[0][name] < 1)).all()
    if cell == "lstm":       # h = o * tanh(c) at every step, from the recorded values
        rec = records[1]
        np.testing.assert_allclose(rec["h"], rec["o"] * np.tanh(rec["c"]), rtol=1e-5,
                                   atol=1e-6)
        np.testing.assert_allclose(rec["c"][-1], states[1][1].numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(viz.unit_values(records, 1), np.tanh(rec["c"][:, 0]))
    else:
        with pytest.raises(ValueError, match="kind='cell' needs an LSTM"):
            viz.unit_values(records, 0, kind="cell")
    assert model.training                                          # mode restored


def test_trace_records_rwa_log_weights():
    layer = nn.RWA(3, 4, num_layers=2)
    x = tr.randn(6, 2, 3)
    records = viz.trace(layer, x)
    with tr.no_grad():
        _, _, weights = layer(x, return_weights=True)
    for rec, a in zip(records, weights):
        np.testing.assert_allclose(rec["a"], a.numpy(), rtol=1e-6)
    assert not layer.cells[0].record_weights


def test_trace_rejects_other_objects():
    with pytest.raises(TypeError, match="trace: expected a CharLM-like model"):
        viz.trace(object(), np.zeros((3, 1), dtype=np.int64))


# ---- gate saturation ---------------------------------------------------------------------
def test_gate_saturation_fractions_and_plot(tmp_path):
    v = np.array([[0.05, 0.95, 0.5],
                  [0.09, 0.91, 0.95],
                  [0.5, 0.99, 0.01],
                  [0.2, 0.3, 0.1]])                        # 0.1 is not < 0.1
    left, right = viz.gate_saturation(v)
    np.testing.assert_allclose(left, [0.5, 0.0, 0.25])
    np.testing.assert_allclose(right, [0.0, 0.75, 0.25])
    layers = [{"i": v[:, None, :], "f": v[:, None, :], "h": v[:, None, :]}, {"z": v}]
    fig = viz.plot_gate_saturation(layers, path=tmp_path / "s.png")
    panels = [ax for ax in fig.axes if ax.collections]
    assert len(panels) == 2 and len(panels[0].collections) == 2   # i and f, not h
    np.testing.assert_allclose(panels[0].collections[0].get_offsets(),
                               np.stack([right, left], axis=1))
    assert (tmp_path / "s.png").read_bytes()[:8] == PNG
    with pytest.raises(ValueError, match="plot_gate_saturation: layer 0 has no gates"):
        viz.plot_gate_saturation([{"h": v}])


# ---- RWA weights -------------------------------------------------------------------------
def test_plot_rwa_weights_lines():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((7, 3, 4))
    fig = viz.plot_rwa_weights([a, a[:, 0]])
    mean_ax, max_ax = fig.axes[:2]
    np.testing.assert_allclose(mean_ax.lines[0].get_ydata(), a.mean(axis=(1, 2)))
    np.testing.assert_allclose(max_ax.lines[0].get_ydata(), a.max(axis=2).mean(axis=1))
    np.testing.assert_allclose(max_ax.lines[1].get_ydata(), a[:, 0].max(axis=1))
    with pytest.raises(ValueError, match=r"log_weights\[0\] has shape \(7,\)"):
        viz.plot_rwa_weights([a[:, 0, 0]])


# ---- gradients through time ----------------------------------------------------------------
def _reference_rnn_norms(cell, x, v):
    """dL/dh_t for L = sum_b v . h_T by hand: dh_{t-1} = W_hh^T ((1 - h_t^2) dh_t)."""
    W_ih, W_hh = cell.weight_ih.numpy(), cell.weight_hh.numpy()
    b = cell.bias_ih.numpy() + cell.bias_hh.numpy()
    h, hs = np.zeros((x.shape[1], W_hh.shape[0])), []
    for x_t in x:
        h = np.tanh(x_t @ W_ih.T + h @ W_hh.T + b)
        hs.append(h)
    g, norms = np.tile(v, (x.shape[1], 1)), []
    for h in reversed(hs):
        norms.append(np.linalg.norm(g, axis=1).mean())
        g = ((1 - h ** 2) * g) @ W_hh
    return np.array(norms[::-1])


def test_bptt_gradient_norms_against_a_hand_derivation():
    cell = nn.RNNCell(3, 6).double()
    x = np.random.default_rng(2).standard_normal((9, 4, 3))
    norms = viz.bptt_gradient_norms(cell, x, seed=5)
    v = np.random.default_rng(5).standard_normal(6)
    v /= np.linalg.norm(v)
    np.testing.assert_allclose(norms, _reference_rnn_norms(cell, x, v), rtol=1e-10)
    assert norms[-1] == pytest.approx(1.0)
    assert all(p.grad is None for p in cell.parameters())     # left as they were


@pytest.mark.parametrize("make", [lambda: nn.LSTMCell(3, 5), lambda: nn.GRUCell(3, 5),
                                  lambda: nn.RWACell(3, 5)])
def test_stepwise_bptt_without_effective_clip_equals_one_backward(make):
    cell = make().double()
    x = np.random.default_rng(3).standard_normal((8, 2, 3))
    full = viz.bptt_gradient_norms(cell, x)
    np.testing.assert_allclose(viz.bptt_gradient_norms(cell, x, clip=1e9), full, rtol=1e-12)


def test_clipping_bounds_exploding_gradients():
    cell = nn.RNNCell(2, 16).double()
    with tr.no_grad():
        cell.weight_hh.data = cell.weight_hh.data * 6.0          # spectral radius >> 1
    x = 0.1 * np.random.default_rng(4).standard_normal((30, 3, 2))
    free = viz.bptt_gradient_norms(cell, x)
    clipped = viz.bptt_gradient_norms(cell, x, clip=0.5)
    assert free[0] > 100 * free[-1]                               # exploding
    assert clipped[:-1].max() <= 0.5 + 1e-9 and clipped[-1] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="clip must be positive"):
        viz.bptt_gradient_norms(cell, x, clip=0.0)
    with pytest.raises(ValueError, match=r"x has shape \(30, 3\)"):
        viz.bptt_gradient_norms(cell, x[:, :, 0])


def test_plot_gradient_norms_and_curves(tmp_path):
    fig = viz.plot_gradient_norms({"RNN": [1e-3, 1e-1, 1.0], "LSTM": [0.0, 0.5, 1.0]},
                                  path=tmp_path / "g.png")
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and len(ax.lines) == 2
    assert np.isnan(ax.lines[1].get_ydata()[0])                  # 0 cannot go on a log axis
    runs = {"a": {"step": [1, 2, 3], "loss": [3, 2, 1], "accuracy": [0.1, 0.5, 0.9]},
            "b": {"step": [1, 2], "loss": [2.5, 2.0]}}
    fig = viz.plot_curves(runs, path=tmp_path / "c.png", title="runs")
    loss_ax, acc_ax = [ax for ax in fig.axes if ax.lines]
    assert len(loss_ax.lines) == 2 and len(acc_ax.lines) == 1
    np.testing.assert_allclose(acc_ax.lines[0].get_ydata(), [0.1, 0.5, 0.9])
    assert (tmp_path / "c.png").read_bytes()[:8] == PNG
    with pytest.raises(ValueError, match="run 'b' has 2 step values but 3 loss values"):
        viz.plot_curves({"b": {"step": [1, 2], "loss": [1, 2, 3]}})
    with pytest.raises(ValueError, match="plot_curves: run 'a' has no 'epoch' values"):
        viz.plot_curves(runs, x="epoch")


def test_matplotlib_is_imported_only_when_drawing():
    code = ("import sys, tinyrnn.viz as v; a = 'matplotlib' in sys.modules; "
            "v.activation_html('ab', [0, 1]); v.rank_units([[0.], [1.]], [0, 1]); "
            "print(a, 'matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.split() == ["False", "False"]
