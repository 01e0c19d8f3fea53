"""Exercise lstm_cell_update_backward: the LSTM's cell-state update, one step.

    c = f * c_prev + i * g        f, c_prev, i, g, all (B, H)  ->  c (B, H)

The forget gate f scales the old cell state, the input gate i the candidate
g: the additive path c_prev -> c is why an LSTM remembers. Given dc (B, H),
return (df, dc_prev, di, dg) in the order of the inputs.
"""
import numpy as np

import tinyrnn as tr

POINTS = 2


class CellUpdate(tr.Function):
    @staticmethod
    def forward(ctx, f, c_prev, i, g):
        ctx.save_for_backward(f, c_prev, i, g)
        return f * c_prev + i * g

    @staticmethod
    def backward(ctx, dc):
        f, c_prev, i, g = ctx.saved
        # -- begin your code --
        # Hint: each input's gradient is dc times the factor it is multiplied with.
        df = dc * c_prev
        dc_prev = dc * f
        di = dc * g
        dg = dc * i
        return df, dc_prev, di, dg
        # -- end your code --


def make_inputs(rng):
    """Gates in (0, 1) and a candidate in (-1, 1), as the LSTM makes them."""
    gate = lambda: 1 / (1 + np.exp(-rng.standard_normal((2, 3))))         # noqa: E731
    return [gate(), rng.standard_normal((2, 3)), gate(), np.tanh(rng.standard_normal((2, 3)))]


# -- begin instructor only --
WRONG_ANSWERS = {
    "cell-gradient-through-the-input-gate": ("dc_prev = dc * f", "dc_prev = dc * i"),
    "gate-and-candidate-swapped": ("di = dc * g\n        dg = dc * i", "di = dc * i\n        dg = dc * g"),
    "cell-gradient-not-passed-on": ("dc_prev = dc * f", "dc_prev = f"),
    "gradients-in-the-wrong-order": ("return df, dc_prev, di, dg", "return dc_prev, df, di, dg"),
}
# -- end instructor only --
