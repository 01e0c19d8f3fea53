"""The contenders of ``bench_step.py``: each builds, for one configuration, a
``step()`` that runs one full training step on fixed data -- one-hot input
(T, B, V) -> recurrent layer(s) over T steps -> linear -> softmax
cross-entropy over V -> backward through time -> SGD update, in float32.

Every builder takes (cfg, data) and returns the step function; ``CONTENDERS``
names them in the order the tables print them.
"""
from __future__ import annotations

import numpy as np

import tinyrnn as tr
from numpy_reference import CharModel
from tinyrnn import nn, optim

GATES = {"rnn": 1, "lstm": 4, "gru": 3}
LR = 0.01
BACKEND = "numpy"   # where tinyrnn and the floor run; "cupy" times them on a GPU


def make_data(cfg, seed: int = 0) -> dict:
    """Random character ids: one-hot inputs x (T, B, V) float32, targets y (T, B)."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, cfg["V"], size=(cfg["T"] + 1, cfg["B"]))
    x = np.eye(cfg["V"], dtype=np.float32)[ids[:-1]]
    return {"x": x, "y": ids[1:].astype(np.int64)}


# ---- tinyrnn: the layers of tinyrnn.nn, fused (default) or composed cells ----------
def tinyrnn_model(cfg, fused: bool):
    """(recurrent layer stack, linear head, SGD optimiser) as a user builds them."""
    tr.manual_seed(0)
    layer = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cfg["cell"]]
    rnn = layer(cfg["V"], cfg["H"], cfg["layers"], fused=fused, backend=BACKEND)
    head = nn.Linear(cfg["H"], cfg["V"], backend=BACKEND)
    opt = optim.SGD(rnn.parameters() + head.parameters(), lr=LR)
    return rnn, head, opt


def tinyrnn_train_step(rnn, head, opt, x, y, state=None):
    """Forward, loss, backward, update; returns the final (not yet detached) state."""
    out, state = rnn(x, state)
    loss = tr.cross_entropy(head(out), y)
    loss.backward()
    opt.step()
    opt.zero_grad()
    return state


def tinyrnn_step(fused: bool):
    def build(cfg, data):
        rnn, head, opt = tinyrnn_model(cfg, fused)
        x = tr.tensor(data["x"], backend=BACKEND)
        y = tr.tensor(data["y"], backend=BACKEND)
        backend = x.backend

        def step():
            tinyrnn_train_step(rnn, head, opt, x, y)
            backend.synchronize()               # wait for the GPU (no-op on the CPU)
        return step
    return build


# ---- hand-written NumPy, CS231n style ---------------------------------------------
def numpy_step(cfg, data):
    model = CharModel(cfg["cell"], cfg["V"], cfg["H"], cfg["layers"])
    return lambda: model.train_step(data["x"], data["y"], LR)


# ---- the floor: only the matrix products, on preallocated arrays -----------------
def floor_step(cfg, data):
    """The products one step cannot avoid, each written into a preallocated
    array (``out=``): per layer the input projection (T*B, I) @ (I, G), T
    recurrent products (B, H) @ (H, G) forward and T (B, G) @ (G, H) backward,
    dW_ih and dW_hh as single products over T*B rows, dx for the upper
    layers; and the output layer's three products."""
    T, B, V, H, L = cfg["T"], cfg["B"], cfg["V"], cfg["H"], cfg["layers"]
    G = GATES[cfg["cell"]] * H
    rng = np.random.default_rng(0)
    backend = tr.get_backend(BACKEND)
    xp = np if BACKEND == "numpy" else __import__(BACKEND)     # numpy or cupy: both have out=

    def arr(*shape):
        return xp.asarray((0.1 * rng.standard_normal(shape)).astype(np.float32))
    x0 = xp.asarray(data["x"].reshape(T * B, V))
    layers = []
    for k in range(L):
        I = V if k == 0 else H
        layers.append(dict(I=I, w_ih=arr(G, I), w_ih_t=arr(I, G), w_hh=arr(G, H),
                           w_hh_t=arr(H, G), z=arr(T * B, G), rec=arr(B, G),
                           hs=arr(T + 1, B, H), dz=arr(T * B, G), dh=arr(B, H),
                           dw_ih=arr(G, I), dw_hh=arr(G, H), dx=arr(T * B, I)))
    w_y, w_y_t, y, dy = arr(V, H), arr(H, V), arr(T * B, V), arr(T * B, V)
    dw_y, dtop = arr(V, H), arr(T * B, H)
    mm = xp.matmul

    def step():
        inp = x0
        for lay in layers:
            mm(inp, lay["w_ih_t"], out=lay["z"])
            for t in range(T):
                mm(lay["hs"][t], lay["w_hh_t"], out=lay["rec"])
            lay["inp"] = inp
            inp = lay["hs"][1:].reshape(T * B, H)
        mm(inp, w_y_t, out=y)
        mm(dy.T, inp, out=dw_y)
        mm(dy, w_y, out=dtop)
        for k in reversed(range(L)):
            lay = layers[k]
            dz3 = lay["dz"].reshape(T, B, G)
            for t in reversed(range(T)):
                mm(dz3[t], lay["w_hh"], out=lay["dh"])
            mm(lay["dz"].T, lay["inp"], out=lay["dw_ih"])
            mm(lay["dz"].T, lay["hs"][:-1].reshape(T * B, H), out=lay["dw_hh"])
            if k > 0:
                mm(lay["dz"], lay["w_ih"], out=lay["dx"])
        backend.synchronize()
    return step


# ---- PyTorch: its fused layer, and its cells in a Python loop ----------------------
def torch_step(fused: bool):
    def build(cfg, data):
        import torch
        torch.manual_seed(0)
        V, H, L, cell = cfg["V"], cfg["H"], cfg["layers"], cfg["cell"]
        if fused:
            rnn = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](V, H, L)
            params = list(rnn.parameters())
        else:
            make = {"rnn": torch.nn.RNNCell, "lstm": torch.nn.LSTMCell,
                    "gru": torch.nn.GRUCell}[cell]
            cells = [make(V if k == 0 else H, H) for k in range(L)]
            params = [p for c in cells for p in c.parameters()]
        head = torch.nn.Linear(H, V)
        opt = torch.optim.SGD(params + list(head.parameters()), lr=LR)
        x, y = torch.from_numpy(data["x"]), torch.from_numpy(data["y"]).reshape(-1)

        def run_cells(inp):
            for c in cells:
                h = torch.zeros(inp.shape[1], H)
                state = (h, h) if cell == "lstm" else h
                outs = []
                for t in range(inp.shape[0]):
                    state = c(inp[t], state)
                    outs.append(state[0] if cell == "lstm" else state)
                inp = torch.stack(outs)
            return inp

        def step():
            out = rnn(x)[0] if fused else run_cells(x)
            loss = torch.nn.functional.cross_entropy(head(out).reshape(-1, V), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return step
    return build


CONTENDERS = {
    "floor": floor_step,
    "tinyrnn fused": tinyrnn_step(True),
    "tinyrnn composed": tinyrnn_step(False),
    "numpy (CS231n)": numpy_step,
    "torch nn.LSTM/GRU/RNN": torch_step(True),
    "torch cells loop": torch_step(False),
}


def torch_available() -> bool:
    try:
        import torch  # noqa: F401
        return True
    except ImportError:
        return False
