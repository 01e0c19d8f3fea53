"""A hand-written NumPy char-level RNN / LSTM / GRU, CS231n style: the peer
tinyrnn's training step is measured against.

Plain NumPy, no autograd: ``*_step_forward`` returns the next state and a
cache, ``*_step_backward`` turns upstream gradients into gradients of the
step's inputs and weights, and the sequence functions loop over time --
including the per-step weight-gradient products (dWx += x^T da at every
step), which is what a student writes first and what the fused kernels
replace by one product over all T*B rows.

Layout as in CS231n: row vectors, y = x Wx + h Wh + b, with Wx (I, G*H),
Wh (H, G*H), b (G*H,). LSTM gates are stacked i, f, o, g (CS231n's order);
the GRU is PyTorch's (reset after the recurrent product, separate b_hn).
"""
from __future__ import annotations

import numpy as np


def sigmoid(x):
    return 0.5 * np.tanh(0.5 * x) + 0.5


# ---- vanilla RNN ------------------------------------------------------------------
def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)
    return next_h, (x, prev_h, next_h)


def rnn_step_backward(dnext_h, cache, Wx, Wh, need_dx):
    x, prev_h, next_h = cache
    da = dnext_h * (1 - next_h * next_h)
    dx = da @ Wx.T if need_dx else None
    return dx, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)


# ---- LSTM (gates i, f, o, g) -------------------------------------------------------
def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    H = prev_h.shape[1]
    a = x @ Wx + prev_h @ Wh + b
    i, f, o = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H]), sigmoid(a[:, 2 * H:3 * H])
    g = np.tanh(a[:, 3 * H:])
    next_c = f * prev_c + i * g
    tanh_c = np.tanh(next_c)
    next_h = o * tanh_c
    return next_h, next_c, (x, prev_h, prev_c, i, f, o, g, tanh_c)


def lstm_step_backward(dnext_h, dnext_c, cache, Wx, Wh, need_dx):
    x, prev_h, prev_c, i, f, o, g, tanh_c = cache
    dc = dnext_c + dnext_h * o * (1 - tanh_c * tanh_c)
    da = np.concatenate([dc * g * i * (1 - i), dc * prev_c * f * (1 - f),
                         dnext_h * tanh_c * o * (1 - o), dc * i * (1 - g * g)], axis=1)
    dx = da @ Wx.T if need_dx else None
    return dx, da @ Wh.T, dc * f, x.T @ da, prev_h.T @ da, da.sum(axis=0)


# ---- GRU (gates r, z, n; n = tanh(x Wxn + bxn + r * (h Whn + bhn))) ---------------
def gru_step_forward(x, prev_h, Wx, Wh, bx, bh):
    H = prev_h.shape[1]
    ax = x @ Wx + bx
    ah = prev_h @ Wh + bh
    r = sigmoid(ax[:, :H] + ah[:, :H])
    z = sigmoid(ax[:, H:2 * H] + ah[:, H:2 * H])
    hn = ah[:, 2 * H:]
    n = np.tanh(ax[:, 2 * H:] + r * hn)
    next_h = (1 - z) * n + z * prev_h
    return next_h, (x, prev_h, r, z, n, hn)


def gru_step_backward(dnext_h, cache, Wx, Wh, need_dx):
    x, prev_h, r, z, n, hn = cache
    dn = dnext_h * (1 - z) * (1 - n * n)
    dz = dnext_h * (prev_h - n) * z * (1 - z)
    dr = dn * hn * r * (1 - r)
    dax = np.concatenate([dr, dz, dn], axis=1)
    dah = np.concatenate([dr, dz, dn * r], axis=1)
    dx = dax @ Wx.T if need_dx else None
    dprev_h = dnext_h * z + dah @ Wh.T
    return dx, dprev_h, x.T @ dax, prev_h.T @ dah, dax.sum(axis=0), dah.sum(axis=0)


# ---- a layer over the sequence --------------------------------------------------
class Layer:
    """One recurrent layer: weights, and forward / backward over x (T, B, I)."""

    gates = {"rnn": 1, "lstm": 4, "gru": 3}

    def __init__(self, cell, I, H, rng, dtype=np.float32):
        G = self.gates[cell] * H
        k = 1 / np.sqrt(H)
        self.cell, self.H = cell, H
        self.params = {"Wx": rng.uniform(-k, k, (I, G)).astype(dtype),
                       "Wh": rng.uniform(-k, k, (H, G)).astype(dtype),
                       "b": np.zeros(G, dtype)}
        if cell == "gru":
            self.params["bh"] = np.zeros(G, dtype)

    def forward(self, x):
        p, (T, B, _) = self.params, x.shape
        h = np.zeros((B, self.H), x.dtype)
        c = np.zeros_like(h)
        out = np.empty((T, B, self.H), x.dtype)
        self.caches = []
        for t in range(T):
            if self.cell == "rnn":
                h, cache = rnn_step_forward(x[t], h, p["Wx"], p["Wh"], p["b"])
            elif self.cell == "lstm":
                h, c, cache = lstm_step_forward(x[t], h, c, p["Wx"], p["Wh"], p["b"])
            else:
                h, cache = gru_step_forward(x[t], h, p["Wx"], p["Wh"], p["b"], p["bh"])
            out[t] = h
            self.caches.append(cache)
        return out

    def backward(self, dout, need_dx):
        p = self.params
        T, B, _ = dout.shape
        grads = {k: np.zeros_like(v) for k, v in p.items()}
        dx = np.empty((T, B, p["Wx"].shape[0]), dout.dtype) if need_dx else None
        dh = np.zeros((B, self.H), dout.dtype)
        dc = np.zeros_like(dh)
        for t in reversed(range(T)):
            cache = self.caches[t]
            if self.cell == "rnn":
                dxt, dh, dWx, dWh, db = rnn_step_backward(dout[t] + dh, cache, p["Wx"],
                                                          p["Wh"], need_dx)
            elif self.cell == "lstm":
                dxt, dh, dc, dWx, dWh, db = lstm_step_backward(dout[t] + dh, dc, cache,
                                                               p["Wx"], p["Wh"], need_dx)
            else:
                dxt, dh, dWx, dWh, db, dbh = gru_step_backward(dout[t] + dh, cache,
                                                               p["Wx"], p["Wh"], need_dx)
                grads["bh"] += dbh
            grads["Wx"] += dWx
            grads["Wh"] += dWh
            grads["b"] += db
            if need_dx:
                dx[t] = dxt
        self.caches = None
        return dx, grads


class CharModel:
    """One-hot chars (T, B, V) -> recurrent layers -> affine -> softmax loss; SGD."""

    def __init__(self, cell, V, H, layers, seed=0, dtype=np.float32):
        rng = np.random.default_rng(seed)
        self.layers = [Layer(cell, V if k == 0 else H, H, rng, dtype) for k in range(layers)]
        k = 1 / np.sqrt(H)
        self.Wy = rng.uniform(-k, k, (H, V)).astype(dtype)
        self.by = np.zeros(V, dtype)

    def train_step(self, x, y, lr=0.01):
        """One forward, backward and SGD update on one-hot x (T, B, V), targets
        y (T, B). Returns the mean cross-entropy loss."""
        T, B, V = x.shape
        hs = [x]
        for layer in self.layers:
            hs.append(layer.forward(hs[-1]))
        top = hs[-1].reshape(T * B, -1)
        scores = top @ self.Wy + self.by
        scores -= scores.max(axis=1, keepdims=True)
        probs = np.exp(scores)
        probs /= probs.sum(axis=1, keepdims=True)
        flat_y = y.reshape(-1)
        rows = np.arange(T * B)
        loss = -np.log(probs[rows, flat_y]).mean()
        dscores = probs
        dscores[rows, flat_y] -= 1
        dscores /= T * B
        dWy, dby = top.T @ dscores, dscores.sum(axis=0)
        dout = (dscores @ self.Wy.T).reshape(T, B, -1)
        all_grads = []
        for k in reversed(range(len(self.layers))):
            dout, grads = self.layers[k].backward(dout, need_dx=k > 0)
            all_grads.append((self.layers[k].params, grads))
        self.Wy -= lr * dWy
        self.by -= lr * dby
        for params, grads in all_grads:
            for name in params:
                params[name] -= lr * grads[name]
        return float(loss)
