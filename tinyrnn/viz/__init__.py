"""Looking inside a network: record what it does, then draw it.

==================  =============================================================
``record.py``       numbers: traces of every layer's states and gates over a
                    text, units that follow a signal, gate saturation, gradient
                    norms through time (NumPy arrays; no matplotlib)
``draw.py``         pictures of those numbers: activations over a text, gate
                    saturation, RWA weights, gradient flow, loss curves
``graph.py``        the recorded computation graph as a figure, SVG, PNG or DOT
==================  =============================================================

Drawing imports recording, never the other way round. matplotlib is imported
only inside the functions that draw, so ``import tinyrnn`` does not need it.
"""
from .record import (trace, unit_values, rank_units, inside_string, line_position,
                     indent_depth, gate_saturation, gate_names, bptt_gradient_norms)
from .draw import (LEGEND, activation_html, plot_activation, plot_text, plot_gate_saturation, plot_rwa_weights,
                   plot_gradient_norms, plot_curves)
from .graph import graph

__all__ = ["trace", "unit_values", "rank_units", "inside_string", "line_position",
           "indent_depth", "gate_saturation", "gate_names", "bptt_gradient_norms",
           "LEGEND", "activation_html", "plot_activation", "plot_text", "plot_gate_saturation", "plot_rwa_weights",
           "plot_gradient_norms", "plot_curves", "graph"]
