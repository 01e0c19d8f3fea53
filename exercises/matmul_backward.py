"""Exercise matmul_backward: the backward of a matrix product.

    y = a @ b        a (N, K), b (K, M)  ->  y (N, M)

Given dy = dL/dy (N, M), return (da, db), each with the shape of its input:
da (N, K) and db (K, M). Let the shapes tell you the order of the factors.
"""
import tinyrnn as tr

POINTS = 2


class MatMul(tr.Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a @ b

    @staticmethod
    def backward(ctx, dy):
        a, b = ctx.saved
        # -- begin your code --
        # Hint: which product of dy with b (or its transpose) has a's shape (N, K)?
        da = dy @ b.T
        db = a.T @ dy
        return da, db
        # -- end your code --


def make_inputs(rng):
    """The check's inputs: unequal sizes, so a wrong transpose cannot hide."""
    return [rng.standard_normal((3, 4)), rng.standard_normal((4, 5))]


# -- begin instructor only --
WRONG_ANSWERS = {
    "sign-error": ("db = a.T @ dy", "db = -(a.T @ dy)"),
    "b-not-transposed": ("da = dy @ b.T", "da = dy @ b"),
    "gradients-in-the-wrong-order": ("return da, db", "return db, da"),
    "no-gradient-for-b": ("db = a.T @ dy", "db = None"),
}
# -- end instructor only --
