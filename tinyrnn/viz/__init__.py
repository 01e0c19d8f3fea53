"""Looking inside a network: record what it does, then draw it.

==================  =============================================================
``record.py``       numbers: traces of every layer's states and gates over a
                    text, units that follow a signal, gate saturation, gradient
                    norms through time (NumPy arrays; no matplotlib)
``draw.py``         pictures of those numbers: activations over a text, gate
                    saturation, RWA weights, gradient flow, loss curves
``memory.py``       what a character model remembers: connectivity ||dy_t/dx_s||
                    over a text (the engine's backward), its top guesses
``draw_memory.py``  their pictures: heatmap, memory by distance, top-k overlay
``graph.py``        the recorded computation graph as a figure, SVG, PNG or DOT
==================  =============================================================

Drawing imports recording, never the other way round. matplotlib is imported
only inside the functions that draw, so ``import tinyrnn`` does not need it.
"""
from .record import (trace, unit_values, rank_units, inside_string, line_position,
                     indent_depth, gate_saturation, gate_names, bptt_gradient_norms)
from .draw import (LEGEND, activation_html, plot_activation, plot_text, plot_gate_saturation, plot_rwa_weights,
                   plot_gradient_norms, plot_curves)
from .memory import connectivity_matrix, guess_table
from .draw_memory import connectivity, memory_by_distance, plot_memory_by_distance, top_guesses
from .graph import graph

__all__ = ["trace", "unit_values", "rank_units", "inside_string", "line_position",
           "indent_depth", "gate_saturation", "gate_names", "bptt_gradient_norms",
           "LEGEND", "activation_html", "plot_activation", "plot_text", "plot_gate_saturation", "plot_rwa_weights",
           "plot_gradient_norms", "plot_curves", "graph", "connectivity_matrix", "guess_table",
           "connectivity", "memory_by_distance", "plot_memory_by_distance", "top_guesses"]
