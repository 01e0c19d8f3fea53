"""Exercise embedding_backward: looking up rows of a table, and a scatter-add back.

    y = W[idx]       W (V, D), idx (N,) integers in [0, V)  ->  y (N, D)

Row idx[n] of W is copied to row n of y. When a row is used several times,
its gradient is the sum of the gradients of every copy. Given dy (N, D),
return (dW, None): dW (V, D), zero for rows nobody used; the indices get no
gradient.
"""
import numpy as np

import tinyrnn as tr

POINTS = 2


class Embedding(tr.Function):
    @staticmethod
    def forward(ctx, W, idx):
        ctx.save_for_backward(idx)
        ctx.table_shape = W.shape
        return W[idx]

    @staticmethod
    def backward(ctx, dy):
        (idx,) = ctx.saved
        # -- begin your code --
        # Hint: a row looked up twice gets both gradients. Does dW[idx] += dy add them up?
        dW = np.zeros(ctx.table_shape)
        np.add.at(dW, idx, dy)
        return dW, None
        # -- end your code --


def make_inputs(rng):
    """A table of 6 rows and 7 look-ups, some rows used twice, one never."""
    return [rng.standard_normal((6, 3)), np.array([0, 2, 2, 5, 1, 0, 2])]


# -- begin instructor only --
WRONG_ANSWERS = {
    "fancy-index-assignment-drops-repeats": ("np.add.at(dW, idx, dy)", "dW[idx] += dy"),
    "gradient-of-the-output-shape": ("return dW, None", "return dy, None"),
    "no-gradient-for-the-table": ("return dW, None", "return None, None"),
}
# -- end instructor only --
