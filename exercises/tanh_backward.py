"""Exercise tanh_backward: the hyperbolic tangent, written with its output.

    y = tanh(x)      elementwise, any shape

d tanh(x) / dx = 1 - tanh(x)^2 = 1 - y^2: the forward saves y, so the
backward needs no tanh of its own. Given dy, return dx (same shape).
"""
import tinyrnn as tr

POINTS = 1


class Tanh(tr.Function):
    @staticmethod
    def forward(ctx, x):
        y = ctx.xp.tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, dy):
        (y,) = ctx.saved
        # -- begin your code --
        # Hint: write the derivative with the saved output y.
        return dy * (1 - y * y)
        # -- end your code --


def make_inputs(rng):
    return [rng.standard_normal((3, 4))]


# -- begin instructor only --
WRONG_ANSWERS = {
    "forgot-the-derivative": ("return dy * (1 - y * y)", "return dy"),
    "derivative-of-x-not-of-y": ("return dy * (1 - y * y)", "return dy * (1 - y)"),
    "sigmoid-derivative": ("return dy * (1 - y * y)", "return dy * y * (1 - y)"),
    "no-upstream-gradient": ("return dy * (1 - y * y)", "return 1 - y * y"),
}
# -- end instructor only --
