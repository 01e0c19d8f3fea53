"""Exercise sigmoid_backward: the logistic function, the gates of LSTMs and GRUs.

    y = sigmoid(x) = 1 / (1 + exp(-x))      elementwise, any shape

d sigmoid(x) / dx = y (1 - y). Given dy, return dx (same shape), using the
saved output y.
"""
import tinyrnn as tr

POINTS = 1


class Sigmoid(tr.Function):
    @staticmethod
    def forward(ctx, x):
        y = 1 / (1 + ctx.xp.exp(-x))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, dy):
        (y,) = ctx.saved
        # -- begin your code --
        # Hint: the derivative is a product of y and something.
        return dy * y * (1 - y)
        # -- end your code --


def make_inputs(rng):
    return [2 * rng.standard_normal((3, 4))]


# -- begin instructor only --
WRONG_ANSWERS = {
    "tanh-derivative": ("return dy * y * (1 - y)", "return dy * (1 - y * y)"),
    "forgot-the-factor-y": ("return dy * y * (1 - y)", "return dy * (1 - y)"),
    "sign-error": ("return dy * y * (1 - y)", "return dy * y * (y - 1)"),
}
# -- end instructor only --
