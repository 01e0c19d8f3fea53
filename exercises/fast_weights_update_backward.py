"""Exercise fast_weights_update_backward: the fast-weights memory, one step.

    A = lam * A_prev + eta * h h^T        A_prev (B, H, H), h (B, H)  ->  A (B, H, H)

Each example has its own fast-weight matrix (Ba et al., 2016): it decays by
lam and stores the outer product of the hidden state with itself, scaled by
eta. Given dA (B, H, H), return (dA_prev, dh). dA need not be symmetric:
h appears on both sides of the outer product.
"""
import tinyrnn as tr

POINTS = 2
OPTIONS = {"lam": 0.9, "eta": 0.5}


class FastWeightsUpdate(tr.Function):
    @staticmethod
    def forward(ctx, A_prev, h, lam, eta):
        ctx.save_for_backward(h)
        ctx.lam, ctx.eta = lam, eta
        return lam * A_prev + eta * h[:, :, None] * h[:, None, :]

    @staticmethod
    def backward(ctx, dA):
        (h,) = ctx.saved
        xp = ctx.xp
        lam, eta = ctx.lam, ctx.eta
        # -- begin your code --
        # Hint: d(h_j h_k)/dh_m has two terms, one for j = m and one for k = m.
        dA_prev = lam * dA
        dh = eta * (xp.sum(dA * h[:, None, :], axis=2) + xp.sum(dA * h[:, :, None], axis=1))
        return dA_prev, dh
        # -- end your code --


def make_inputs(rng):
    return [rng.standard_normal((2, 3, 3)), rng.standard_normal((2, 3))]


# -- begin instructor only --
WRONG_ANSWERS = {
    "one-side-of-the-outer-product-only": (
        "dh = eta * (xp.sum(dA * h[:, None, :], axis=2) + xp.sum(dA * h[:, :, None], axis=1))",
        "dh = 2 * eta * xp.sum(dA * h[:, None, :], axis=2)"),
    "forgot-the-decay": ("dA_prev = lam * dA", "dA_prev = dA"),
    "forgot-eta": ("dh = eta * (", "dh = ("),
}
# -- end instructor only --
