"""Reference solutions of the lecture exercises, and plausible wrong answers.

``SOLUTIONS[name]`` is the source code that replaces the stub of the exercise
cell ``name`` (see tests/test_lectures.py); ``WRONG_ANSWERS[name]`` maps a
short description of a typical mistake to source code making that mistake.
The solutions are ordinary functions and classes in this module and the
cell source is taken with ``inspect.getsource``; each wrong answer is the
solution with one targeted edit, so it differs from the right one in exactly
the way the description says. The part a student writes sits between the
comments ``# -- begin solution --`` and ``# -- end solution --``; the stub in
the notebook is the same code with that part replaced by a hint and
``raise NotImplementedError``, so the given parts (forward passes, caches)
are identical in both.
"""
from __future__ import annotations

import inspect

import numpy as np  # noqa: F401  (the solutions use the names the notebooks define)

SOLUTIONS: dict[str, str] = {}
WRONG_ANSWERS: dict[str, dict[str, str]] = {}


def _register(name: str, obj, wrong: dict[str, tuple[str, str]]):
    """Record ``obj``'s source as the solution of exercise ``name`` and derive
    each wrong answer by replacing one exact snippet (which must occur once)."""
    source = inspect.getsource(obj)
    SOLUTIONS[name] = source
    WRONG_ANSWERS[name] = {}
    for why, (old, new) in wrong.items():
        assert source.count(old) == 1, f"{name}: {old!r} must occur exactly once"
        WRONG_ANSWERS[name][why] = source.replace(old, new)
    return obj


# ---- lecture 02: a broadcast product's backward, summed by hand -------------------
import tinyrnn as tr  # noqa: E402


class MyScale(tr.Function):
    """y = x * s, one scale per feature shared by every position.
    x (B, T, H), s (H,) -> y (B, T, H). Checked inside ``exact_grad_shapes()``."""

    @staticmethod
    def forward(ctx, x, s):
        ctx.save_for_backward(x, s)
        return x * s

    @staticmethod
    def backward(ctx, dy):
        xp = ctx.xp
        x, s = ctx.saved
        # -- begin solution --
        dx = dy * s                                 # s broadcast over (B, T): dx has x's shape
        ds = xp.sum(dy * x, axis=(0, 1))            # every copy of s adds its gradient
        return dx, ds
        # -- end solution --


_register("broadcast_scale_backward", MyScale, {
    "forgot-to-sum-over-the-copies": ("ds = xp.sum(dy * x, axis=(0, 1))", "ds = dy * x"),
    "summed-over-the-batch-only": ("ds = xp.sum(dy * x, axis=(0, 1))",
                                   "ds = xp.sum(dy * x, axis=0)"),
    "averaged-instead-of-summed": ("ds = xp.sum(dy * x, axis=(0, 1))",
                                   "ds = xp.mean(dy * x, axis=(0, 1))"),
    "forgot-the-upstream-gradient-in-ds": ("ds = xp.sum(dy * x, axis=(0, 1))",
                                           "ds = xp.sum(x, axis=(0, 1))"),
})


# ---- lecture 03: softmax backward, as a tinyrnn Function ----------------------


class MySoftmax(tr.Function):
    """y = softmax(x) along the last axis.   x (..., C) -> y (..., C)."""

    @staticmethod
    def forward(ctx, x):
        xp = ctx.xp
        e = xp.exp(x - xp.max(x, axis=-1, keepdims=True))   # subtracting the max: no overflow
        y = e / xp.sum(e, axis=-1, keepdims=True)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, dy):
        xp = ctx.xp
        (y,) = ctx.saved
        # -- begin solution --
        # dx_j = sum_i dy_i dy_i/dx_j = sum_i dy_i y_i (delta_ij - y_j) = y_j (dy_j - <dy, y>)
        return y * (dy - xp.sum(dy * y, axis=-1, keepdims=True))
        # -- end solution --


_register("softmax_backward", MySoftmax, {
    "missing-factor-y": ("return y * (dy - xp.sum(dy * y, axis=-1, keepdims=True))",
                         "return dy - xp.sum(dy * y, axis=-1, keepdims=True)"),
    "elementwise-like-sigmoid": ("return y * (dy - xp.sum(dy * y, axis=-1, keepdims=True))",
                                 "return dy * y * (1 - y)"),
    "summed-over-the-batch-axis": ("xp.sum(dy * y, axis=-1, keepdims=True))",
                                   "xp.sum(dy * y, axis=0, keepdims=True))"),
})


# ---- lecture 04: one step of a vanilla RNN, backward (NumPy, PyTorch layout) ---
def rnn_step_backward(dh, cache):
    """Backward of h = tanh(x W_ih^T + b_ih + h_prev W_hh^T + b_hh).

    dh (B, H) is dL/dh; cache = (x (B, I), h_prev (B, H), W_ih (H, I), W_hh (H, H), h (B, H)).
    Returns dx (B, I), dh_prev (B, H), dW_ih (H, I), dW_hh (H, H), db_ih (H,), db_hh (H,).
    """
    x, h_prev, W_ih, W_hh, h = cache
    # -- begin solution --
    da = dh * (1 - h * h)              # through tanh, written with its output h
    dx = da @ W_ih                     # a = x W_ih^T + ...  =>  dx = da W_ih
    dh_prev = da @ W_hh
    dW_ih = da.T @ x                   # one outer product per example, summed over the batch
    dW_hh = da.T @ h_prev
    db_ih = da.sum(axis=0)             # the biases were broadcast over the batch
    db_hh = da.sum(axis=0)
    # -- end solution --
    return dx, dh_prev, dW_ih, dW_hh, db_ih, db_hh


_register("rnn_step_backward", rnn_step_backward, {
    "forgot-the-tanh-derivative": ("da = dh * (1 - h * h)", "da = dh"),
    "transposed-recurrent-weight-gradient": ("dW_hh = da.T @ h_prev", "dW_hh = h_prev.T @ da"),
    "transposed-weight-for-dh_prev": ("dh_prev = da @ W_hh", "dh_prev = da @ W_hh.T"),
    "bias-not-summed-over-the-batch": ("db_ih = da.sum(axis=0)", "db_ih = da"),
})


# ---- lecture 06: one LSTM step, backward (NumPy, PyTorch's gate order i, f, g, o) ----
def lstm_step_backward(dh, dc, cache):
    """Backward of one LSTM step (see lstm_step_forward in lecture 06).

    dh, dc (B, H): dL/dh_t and dL/dc_t arriving from later in the network.
    cache = (x, h_prev, c_prev, W_ih, W_hh, i, f, g, o, tc) with tc = tanh(c_t).
    Returns dx (B, I), dh_prev (B, H), dc_prev (B, H), dW_ih (4H, I), dW_hh (4H, H),
    db_ih (4H,), db_hh (4H,).
    """
    x, h_prev, c_prev, W_ih, W_hh, i, f, g, o, tc = cache
    # -- begin solution --
    do = dh * tc                                  # h = o * tanh(c)
    dc_total = dc + dh * o * (1 - tc * tc)        # c reaches the loss through h_t and through c_{t+1}
    di, df, dg = dc_total * g, dc_total * c_prev, dc_total * i    # c = f * c_prev + i * g
    dc_prev = dc_total * f
    da = np.concatenate([di * i * (1 - i),        # through each gate's nonlinearity, in the
                         df * f * (1 - f),        # order the rows of W are stacked: i, f, g, o
                         dg * (1 - g * g),
                         do * o * (1 - o)], axis=1)
    dx = da @ W_ih
    dh_prev = da @ W_hh
    dW_ih = da.T @ x
    dW_hh = da.T @ h_prev
    db_ih = da.sum(axis=0)
    db_hh = da.sum(axis=0)
    # -- end solution --
    return dx, dh_prev, dc_prev, dW_ih, dW_hh, db_ih, db_hh


_register("lstm_step_backward", lstm_step_backward, {
    "cs231n-gate-order-ifog": ("                         dg * (1 - g * g),\n"
                               "                         do * o * (1 - o)], axis=1)",
                               "                         do * o * (1 - o),\n"
                               "                         dg * (1 - g * g)], axis=1)"),
    "ignored-the-incoming-dc": ("dc_total = dc + dh * o * (1 - tc * tc)",
                                "dc_total = dh * o * (1 - tc * tc)"),
    "forgot-tanh-derivative-of-c": ("dc_total = dc + dh * o * (1 - tc * tc)",
                                    "dc_total = dc + dh * o"),
    "cell-gradient-through-the-input-gate": ("dc_prev = dc_total * f", "dc_prev = dc_total * i"),
})


# ---- lecture 09: the RWA's running weighted average, backward through time -------
def rwa_average_backward(dh, cache):
    """Backward of rwa_average_forward (lecture 09) over a whole sequence.

    dh (T, B, H) is dL/dh_t for every step; cache = (z, a, w, r, n, d, h), each
    (T, B, H): the values z_t, their log-weights a_t, w_t = exp(a_t - m_t),
    r_t = exp(m_{t-1} - m_t), the running sums n_t, d_t and h_t = tanh(n_t / d_t).
    The running maximum m is a constant (h does not depend on it).
    Returns dz (T, B, H) and da (T, B, H).
    """
    z, a, w, r, n, d, h = cache
    # -- begin solution --
    dz, da = np.zeros_like(z), np.zeros_like(a)
    dn_next, dd_next = np.zeros_like(n[0]), np.zeros_like(d[0])   # from step t+1
    for t in reversed(range(len(z))):
        q = dh[t] * (1 - h[t] ** 2)                  # through the tanh
        dn = dn_next + q / d[t]                      # h_t = tanh(n_t / d_t)
        dd = dd_next - q * n[t] / d[t] ** 2
        dz[t] = dn * w[t]                            # n_t = n_{t-1} r_t + z_t w_t
        da[t] = (dn * z[t] + dd) * w[t]              # d_t = d_{t-1} r_t + w_t, dw/da = w
        dn_next, dd_next = dn * r[t], dd * r[t]      # the rescaling is part of the path back
    # -- end solution --
    return dz, da


_register("rwa_average_backward", rwa_average_backward, {
    "forgot-the-denominator-path": ("dd = dd_next - q * n[t] / d[t] ** 2", "dd = dd_next"),
    "forgot-the-rescaling": ("dn_next, dd_next = dn * r[t], dd * r[t]",
                             "dn_next, dd_next = dn, dd"),
    "weight-derivative-without-w": ("da[t] = (dn * z[t] + dd) * w[t]", "da[t] = dn * z[t] + dd"),
    "no-gradient-from-later-steps": ("dn = dn_next + q / d[t]", "dn = q / d[t]"),
})


# ---- lecture 10: layer normalisation, backward (NumPy) -----------------------------
def layer_norm_backward(dy, cache):
    """Backward of y = gain * (x - mean(x)) / sqrt(var(x) + eps) + bias over the last axis.

    dy (B, H); cache = (xhat (B, H), inv_std (B, 1), gain (H,)).
    Returns dx (B, H), dgain (H,), dbias (H,).
    """
    xhat, inv_std, gain = cache
    # -- begin solution --
    dxhat = dy * gain
    # three paths from x to xhat: directly, through the mean, through the standard deviation
    dx = inv_std * (dxhat - dxhat.mean(axis=-1, keepdims=True)
                    - xhat * (dxhat * xhat).mean(axis=-1, keepdims=True))
    dgain = (dy * xhat).sum(axis=0)            # gain and bias are shared by every example
    dbias = dy.sum(axis=0)
    # -- end solution --
    return dx, dgain, dbias


_register("layer_norm_backward", layer_norm_backward, {
    "mean-and-std-treated-as-constants": (
        "dx = inv_std * (dxhat - dxhat.mean(axis=-1, keepdims=True)\n"
        "                    - xhat * (dxhat * xhat).mean(axis=-1, keepdims=True))",
        "dx = inv_std * dxhat"),
    "forgot-the-std-path": (
        "\n                    - xhat * (dxhat * xhat).mean(axis=-1, keepdims=True))", ")"),
    "statistics-over-the-batch-axis": (
        "dx = inv_std * (dxhat - dxhat.mean(axis=-1, keepdims=True)\n"
        "                    - xhat * (dxhat * xhat).mean(axis=-1, keepdims=True))",
        "dx = inv_std * (dxhat - dxhat.mean(axis=0, keepdims=True)\n"
        "                    - xhat * (dxhat * xhat).mean(axis=0, keepdims=True))"),
    "gain-gradient-not-summed-over-the-batch": ("dgain = (dy * xhat).sum(axis=0)",
                                                "dgain = dy * xhat"),
})


# ---- non-finite answers: a check given nan or inf must say FAILED, never PASSED ----
# (nan compares false with everything, so a check written as `error > tol` lets it through)
for _name, (_old, _new) in {
        "broadcast_scale_backward": ("return dx, ds", "return dx, ds * float('nan')"),
        "softmax_backward": ("return y * (dy - xp.sum(dy * y, axis=-1, keepdims=True))",
                             "return y * (dy - xp.sum(dy * y, axis=-1, keepdims=True)) * float('nan')"),
        "rnn_step_backward": ("db_hh = da.sum(axis=0)", "db_hh = da.sum(axis=0) * np.nan"),
        "lstm_step_backward": ("db_hh = da.sum(axis=0)", "db_hh = da.sum(axis=0) * np.nan"),
        "rwa_average_backward": ("da[t] = (dn * z[t] + dd) * w[t]", "da[t] = (dn * z[t] + dd) * w[t] * np.nan"),
        "layer_norm_backward": ("dbias = dy.sum(axis=0)", "dbias = dy.sum(axis=0) * np.nan"),
}.items():
    assert SOLUTIONS[_name].count(_old) == 1, (_name, _old)
    WRONG_ANSWERS[_name]["nan-gradient"] = SOLUTIONS[_name].replace(_old, _new)
    WRONG_ANSWERS[_name]["inf-gradient"] = SOLUTIONS[_name].replace(_old, _new.replace("nan", "inf"))


# ---- lecture 11: one read of additive attention, backward (a tinyrnn Function) -------
class AttentionStep(tr.Function):
    """context = sum_s alpha_s values_s,  alpha = softmax over s of e,  e_s = w . tanh(pk_s + pq).

    pq (B, A): the projected query W_q q;  pk (S, B, A): the projected keys W_k k_s;
    w (A,): the score vector;  values (S, B, V)  ->  context (B, V).
    """

    @staticmethod
    def forward(ctx, pq, pk, w, values):
        xp = ctx.xp
        u = xp.tanh(pk + pq)                                 # (S, B, A): pq is broadcast over s
        e = xp.sum(u * w, axis=-1)                           # (S, B): one score per position
        z = xp.exp(e - xp.max(e, axis=0, keepdims=True))
        alpha = z / xp.sum(z, axis=0, keepdims=True)         # softmax over the positions s
        ctx.save_for_backward(u, alpha, w, values)
        return xp.sum(alpha[..., None] * values, axis=0)     # (B, V)

    @staticmethod
    def backward(ctx, dcontext):
        xp = ctx.xp
        u, alpha, w, values = ctx.saved
        # -- begin solution --
        dvalues = alpha[..., None] * dcontext                # each value was read with weight alpha_s
        dalpha = xp.sum(values * dcontext, axis=-1)          # (S, B)
        de = alpha * (dalpha - xp.sum(alpha * dalpha, axis=0, keepdims=True))   # softmax over s
        du = de[..., None] * w * (1 - u * u)                 # through the score and the tanh
        dpk = du
        dpq = xp.sum(du, axis=0)                             # pq was copied to every position
        dw = xp.sum(de[..., None] * u, axis=(0, 1))          # w was shared by every position and example
        # -- end solution --
        return dpq, dpk, dw, dvalues


_register("attention_step_backward", AttentionStep, {
    "softmax-without-the-weighted-mean": (
        "de = alpha * (dalpha - xp.sum(alpha * dalpha, axis=0, keepdims=True))",
        "de = alpha * dalpha"),
    "softmax-normalised-over-the-batch-axis": (
        "de = alpha * (dalpha - xp.sum(alpha * dalpha, axis=0, keepdims=True))",
        "de = alpha * (dalpha - xp.sum(alpha * dalpha, axis=1, keepdims=True))"),
    "forgot-the-tanh-derivative": ("du = de[..., None] * w * (1 - u * u)", "du = de[..., None] * w"),
    "values-gradient-without-the-weights": ("dvalues = alpha[..., None] * dcontext",
                                            "dvalues = dcontext + 0 * values"),
})
for _why, _new in {"nan-gradient": "np.nan", "inf-gradient": "np.inf"}.items():
    _old = "dw = xp.sum(de[..., None] * u, axis=(0, 1))"
    assert SOLUTIONS["attention_step_backward"].count(_old) == 1
    WRONG_ANSWERS["attention_step_backward"][_why] = SOLUTIONS["attention_step_backward"].replace(
        _old, _old + " * " + _new)
