"""Exercise bias_add_backward: adding a bias to every row of a batch.

    y = x + b        x (B, H), b (H,)  ->  y (B, H)

b is broadcast: every example of the batch uses the same b, so the chain
rule adds up the contribution of every row. Given dy (B, H), return
(dx, db) with dx (B, H) and db (H,).

This exercise runs inside ``tinyrnn.autograd.exact_grad_shapes()``: the
engine does not reduce a broadcast gradient for you, so a gradient of the
wrong shape is an error.
"""
import tinyrnn as tr

POINTS = 2
EXACT_GRAD_SHAPES = True


class BiasAdd(tr.Function):
    @staticmethod
    def forward(ctx, x, b):
        return x + b

    @staticmethod
    def backward(ctx, dy):
        xp = ctx.xp
        # -- begin your code --
        # Hint: b reached every row of y; which axis do its gradients add up over?
        dx = dy
        db = xp.sum(dy, axis=0)
        return dx, db
        # -- end your code --


def make_inputs(rng):
    return [rng.standard_normal((4, 3)), rng.standard_normal(3)]


# -- begin instructor only --
WRONG_ANSWERS = {
    "forgot-to-sum-over-the-batch": ("db = xp.sum(dy, axis=0)", "db = dy"),
    "averaged-instead-of-summed": ("db = xp.sum(dy, axis=0)", "db = xp.mean(dy, axis=0)"),
    "summed-over-the-wrong-axis": ("db = xp.sum(dy, axis=0)", "db = xp.sum(dy, axis=1)"),
    "kept-the-batch-axis": ("db = xp.sum(dy, axis=0)", "db = xp.sum(dy, axis=0, keepdims=True)"),
}
# -- end instructor only --
