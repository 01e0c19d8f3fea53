"""tinyrnn.viz, the drawing side: the figures are checked for their data, not
their looks (what tinyrnn.viz.record records is tested in test_inspect.py)."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest

from tinyrnn import viz

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


def test_plot_curves_smooths_a_run_and_leaves_gaps_out(tmp_path):
    steps = list(range(1, 101))
    noisy = [2.0 + (-1) ** s for s in steps]             # 3, 1, 3, 1, ...: mean 2
    val = [float("nan")] * 100
    val[49], val[99] = 1.5, 1.25
    runs = {"train": {"step": steps, "loss": noisy}, "val": {"step": steps, "loss": val}}
    fig = viz.plot_curves(runs, path=tmp_path / "l.png", metrics=("loss",),
                          smooth={"train": 10}, labels={"loss": "nats"})
    ax = fig.axes[0]
    raw, mean, validation = ax.lines
    assert len(raw.get_ydata()) == 100 and raw.get_alpha() == 0.25
    np.testing.assert_allclose(mean.get_ydata(), 2.0)     # running mean of 10 points
    np.testing.assert_array_equal(mean.get_xdata(), steps[9:])
    np.testing.assert_array_equal(validation.get_xdata(), [50, 100])   # NaN steps left out
    assert ax.get_ylabel() == "nats"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["train (mean of 10)", "val"]
    for bad in ({"train": 0}, {"train": 2.5}, {"test": 3}):
        with pytest.raises(ValueError, match=r"plot_curves: smooth must map run labels "
                                             r"\['train', 'val'\] to whole numbers"):
            viz.plot_curves(runs, metrics=("loss",), smooth=bad)


def test_a_redrawn_figure_replaces_the_old_file_whole(tmp_path, monkeypatch):
    path = tmp_path / "c.png"
    path.write_bytes(b"old figure")
    runs = {"a": {"step": [1, 2], "loss": [2.0, 1.0]}}

    def broken_savefig(self, *args, **kwargs):
        raise RuntimeError("disk full")
    from matplotlib.figure import Figure
    monkeypatch.setattr(Figure, "savefig", broken_savefig)
    with pytest.raises(RuntimeError, match="disk full"):
        viz.plot_curves(runs, path=path)
    assert path.read_bytes() == b"old figure" and os.listdir(tmp_path) == ["c.png"]


def test_matplotlib_is_imported_only_when_drawing():
    code = ("import sys, tinyrnn.viz as v; a = 'matplotlib' in sys.modules; "
            "v.activation_html('ab', [0, 1]); v.rank_units([[0.], [1.]], [0, 1]); "
            "print(a, 'matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.split() == ["False", "False"]


def test_activation_png_has_a_colour_legend():
    fig = viz.plot_activation("ab", [-1.0, 1.0])
    image_ax, legend_ax = fig.axes
    assert legend_ax.get_ylabel() == viz.LEGEND == "red = -1, white = 0, blue = +1"
    assert viz.LEGEND in viz.activation_html("ab", [-1.0, 1.0])     # the same words
    assert image_ax.images[0].get_clim() == (-1, 1)


def test_any_cell_gates_are_drawn():
    """Gates are found by their values, not by the cell's name: a gate called u is drawn."""
    u = np.random.default_rng(0).random((5, 2, 3))
    fig = viz.plot_gate_saturation([{"h": u, "u": u, "a": u - 2.0}])
    (panel,) = [ax for ax in fig.axes if ax.collections]
    assert [c.get_label() for c in panel.collections] == ["u"]


def test_viz_reexports_what_inspect_records():
    from tinyrnn.viz import record as inspect
    for name in ("trace", "unit_values", "rank_units", "inside_string", "line_position",
                 "indent_depth", "gate_saturation", "bptt_gradient_norms"):
        assert getattr(viz, name) is getattr(inspect, name)
