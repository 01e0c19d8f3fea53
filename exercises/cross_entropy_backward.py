"""Exercise cross_entropy_backward: softmax and the negative log-likelihood, fused.

    loss = (1/B) sum_b [ log sum_c exp(z[b, c]) - z[b, t_b] ]
    z (B, C) logits, t (B,) integer targets  ->  loss (), a scalar

dloss/dz[b, c] = (softmax(z)[b, c] - [c == t_b]) / B. Given dloss (a 0-d
array: the upstream gradient of the scalar), return (dz, None): the targets
are integers and get no gradient.
"""
import tinyrnn as tr

POINTS = 2


class CrossEntropy(tr.Function):
    @staticmethod
    def forward(ctx, z, t):
        xp = ctx.xp
        shifted = z - xp.max(z, axis=1, keepdims=True)          # no overflow in exp
        log_norm = xp.log(xp.sum(xp.exp(shifted), axis=1, keepdims=True))
        log_p = shifted - log_norm                              # log softmax, (B, C)
        ctx.save_for_backward(log_p, t)
        rows = xp.arange(z.shape[0])
        return -xp.mean(log_p[rows, t])

    @staticmethod
    def backward(ctx, dloss):
        xp = ctx.xp
        log_p, t = ctx.saved
        B = log_p.shape[0]
        rows = xp.arange(B)
        # -- begin your code --
        # Hint: start from the softmax probabilities, then subtract 1 at each target.
        dz = xp.exp(log_p)
        dz[rows, t] -= 1
        dz = dz * (dloss / B)
        return dz, None
        # -- end your code --


def make_inputs(rng):
    """Logits (5, 4) and targets (5,) with a repeated class."""
    return [2 * rng.standard_normal((5, 4)), rng.integers(0, 4, size=5)]


# -- begin instructor only --
WRONG_ANSWERS = {
    "forgot-to-average-over-the-batch": ("dz = dz * (dloss / B)", "dz = dz * dloss"),
    "forgot-the-one-hot": ("        dz[rows, t] -= 1\n", ""),
    "log-probabilities-instead-of-probabilities": ("dz = xp.exp(log_p)", "dz = log_p.copy()"),
    "ignored-the-upstream-gradient": ("dz = dz * (dloss / B)", "dz = dz / B"),
}
# -- end instructor only --
