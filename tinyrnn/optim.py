"""Optimisers: turn gradients into parameter updates.

The usual loop (PyTorch's names)::

    opt = tinyrnn.optim.Adam(model.parameters(), lr=2e-3)
    for inputs, targets in batches:
        opt.zero_grad()
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        tinyrnn.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()

Each rule below is written for one parameter p with gradient g; the
per-parameter memory (momentum, squared-gradient averages) lives in
``opt.state[i]`` as arrays of p's backend and dtype. With ``weight_decay`` w,
g is first replaced by g + w * p (L2 regularisation). Updates use Python
floats only, so a float32 parameter stays float32 and a GPU parameter stays on
the GPU. Parameters whose ``.grad`` is None are skipped.

``state_dict()`` / ``load_state_dict()`` save and restore everything a
resumed run needs to continue exactly (the learning rate, step counts, the
hyper-parameters and the arrays) as flat keys with NumPy arrays or numbers.
"""
from __future__ import annotations

import math

import numpy as np

from .backend import host_dtype
from .tensor import Tensor

__all__ = ["Optimizer", "SGD", "Adagrad", "RMSprop", "Adam", "StepDecay", "OPTIMIZERS"]


class Optimizer:
    """Base class: holds the parameters, ``lr`` and per-parameter state.

    Subclasses list their hyper-parameters in ``hyper`` and their state
    arrays in ``buffers``, and write ``update(xp, p, g, state) -> new p data`` on raw
    arrays (``xp`` is the backend's array namespace).
    """

    hyper: tuple[str, ...] = ()
    buffers: tuple[str, ...] = ()

    def __init__(self, params, lr: float, weight_decay: float = 0.0):
        name = type(self).__name__
        params = [params] if isinstance(params, Tensor) else list(params)
        if not params:
            raise ValueError(f"{name}: got an empty parameter list")
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: parameter {i} is a {type(p).__name__}, not a Tensor")
        if len({id(p) for p in params}) != len(params):
            raise ValueError(f"{name}: a parameter appears more than once in the list")
        _check_positive(name, "lr", lr)
        if weight_decay < 0:
            raise ValueError(f"{name}: weight_decay must be >= 0; got {weight_decay}")
        self.params = params
        self.lr = float(lr)
        self.weight_decay = float(weight_decay)
        self.state: list[dict] = [{"step": 0} for _ in params]

    def zero_grad(self) -> None:
        """Forget the gradients (``p.grad = None``) before the next backward."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        """Update every parameter that has a gradient, in place (``p.assign_``:
        ``p.data`` is replaced by a new array and its version bumped)."""
        for p, state in zip(self.params, self.state):
            if p.grad is None:
                continue
            g = p.grad.data
            if self.weight_decay:
                g = g + self.weight_decay * p.data
            for key in self.buffers:
                if key not in state:
                    state[key] = p.backend.xp.zeros_like(p.data)
            state["step"] += 1
            p.assign_(self.update(p.backend.xp, p.data, g, state))

    def update(self, xp, p, g, state):
        raise NotImplementedError

    # ---- saving and restoring -------------------------------------------------------
    def state_dict(self) -> dict:
        """Flat dict: ``lr``, ``weight_decay``, the hyper-parameters (floats),
        ``step.<i>`` (ints) and ``<buffer>.<i>`` (NumPy arrays) for parameter i."""
        out = {"lr": self.lr, "weight_decay": self.weight_decay}
        out.update({h: float(getattr(self, h)) for h in self.hyper})
        for i, (p, state) in enumerate(zip(self.params, self.state)):
            out[f"step.{i}"] = int(state["step"])
            for key in self.buffers:
                if key in state:
                    out[f"{key}.{i}"] = p.backend.to_numpy(state[key]).copy()
        return out

    def load_state_dict(self, d: dict) -> None:
        """Restore what :meth:`state_dict` saved, for the same list of parameters.

        Raises ValueError listing every missing, unexpected or misshaped key,
        and changes nothing in that case.
        """
        name = type(self).__name__
        scalars = ["lr", "weight_decay", *self.hyper]
        expected = set(scalars) | {f"step.{i}" for i in range(len(self.params))}
        allowed = expected | {f"{k}.{i}" for k in self.buffers
                              for i in range(len(self.params))}
        problems = []
        missing = sorted(expected - set(d))
        unexpected = sorted(set(d) - allowed, key=str)
        if missing:
            problems.append("missing keys: " + ", ".join(missing))
        if unexpected:
            problems.append("unexpected keys: " + ", ".join(map(str, unexpected))
                            + f" (is it the state of another optimizer, or of a model "
                            f"with another number of parameters than {len(self.params)}?)")
        for i, p in enumerate(self.params):
            for key in self.buffers:
                value = d.get(f"{key}.{i}")
                if value is not None and tuple(np.shape(value)) != p.shape:
                    problems.append(f"{key}.{i} has shape {tuple(np.shape(value))}; "
                                    f"expected {p.shape} like parameter {i}")
        if problems:
            raise ValueError(f"{name}.load_state_dict: " + "; ".join(problems))
        self.lr = float(d["lr"])
        self.weight_decay = float(d["weight_decay"])
        for h in self.hyper:
            setattr(self, h, float(d[h]))
        for i, (p, state) in enumerate(zip(self.params, self.state)):
            state.clear()
            state["step"] = int(d[f"step.{i}"])
            dtype = host_dtype(p.dtype)
            for key in self.buffers:
                if f"{key}.{i}" in d:
                    host = np.asarray(d[f"{key}.{i}"], dtype=dtype)
                    state[key] = p.backend.asarray(host.copy())

    def __repr__(self) -> str:
        hyper = "".join(f", {h}={getattr(self, h)}" for h in self.hyper)
        wd = f", weight_decay={self.weight_decay}" if self.weight_decay else ""
        return f"{type(self).__name__}({len(self.params)} parameters, lr={self.lr}{hyper}{wd})"


def _check_positive(name: str, what: str, value) -> None:
    if not (isinstance(value, (int, float)) and value > 0 and math.isfinite(value)):
        raise ValueError(f"{name}: {what} must be a positive number; got {value!r}")


def _check_unit(name: str, what: str, value) -> None:
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name}: {what} must be in [0, 1); got {value!r}")


class SGD(Optimizer):
    """Stochastic gradient descent, with optional (heavy-ball) momentum.

    momentum = 0:   p <- p - lr * g
    momentum = mu:  v <- mu * v + g   (v starts at 0);   p <- p - lr * v
    (PyTorch's form: lr multiplies the velocity, not the gradient inside it.)
    """

    hyper = ("momentum",)

    def __init__(self, params, lr: float, momentum: float = 0.0, weight_decay: float = 0.0):
        super().__init__(params, lr, weight_decay)
        _check_unit("SGD", "momentum", momentum)
        self.momentum = float(momentum)
        self.buffers = ("velocity",) if momentum else ()

    def update(self, xp, p, g, state):
        if not self.momentum:
            return p - self.lr * g
        state["velocity"] = self.momentum * state["velocity"] + g
        return p - self.lr * state["velocity"]


class Adagrad(Optimizer):
    """Adagrad (Duchi et al. 2011): each weight's step shrinks with its gradient history.

    G <- G + g^2 (G starts at 0), then, by default (PyTorch's placement of eps)::

        p <- p - lr * g / (sqrt(G) + eps)

    or, with ``eps_inside_sqrt=True`` (Karpathy's min-char-rnn, eps = 1e-8)::

        p <- p - lr * g / sqrt(G + eps)

    These are different rules, not the same one up to rounding: eps inside
    the root floors the denominator at sqrt(eps) = 1e-4, outside at eps =
    1e-8. They agree only where sqrt(G) >> 1e-4; for a weight whose
    gradients stay small they do not. The very first step shows it: with
    G = g^2, PyTorch's moves every weight by about lr * sign(g) however tiny
    g is, min-char-rnn's by lr * g / sqrt(g^2 + 1e-8), e.g. 100 times less
    for |g| = 1e-6. Use ``eps_inside_sqrt=True`` to reproduce min-char-rnn.
    The placement is a choice made when building the optimizer; it is not
    part of ``state_dict``.
    """

    hyper = ("eps",)
    buffers = ("sum_sq",)

    def __init__(self, params, lr: float = 1e-2, eps: float = 1e-8, weight_decay: float = 0.0,
                 eps_inside_sqrt: bool = False):
        super().__init__(params, lr, weight_decay)
        _check_positive("Adagrad", "eps", eps)
        if not isinstance(eps_inside_sqrt, bool):
            raise TypeError(f"Adagrad: eps_inside_sqrt must be True or False; "
                            f"got {eps_inside_sqrt!r}")
        self.eps = float(eps)
        self.eps_inside_sqrt = eps_inside_sqrt

    def update(self, xp, p, g, state):
        state["sum_sq"] = state["sum_sq"] + g * g
        if self.eps_inside_sqrt:
            return p - self.lr * g / xp.sqrt(state["sum_sq"] + self.eps)
        return p - self.lr * g / (xp.sqrt(state["sum_sq"]) + self.eps)

    def __repr__(self) -> str:
        inside = ", eps_inside_sqrt=True" if self.eps_inside_sqrt else ""
        return super().__repr__()[:-1] + inside + ")"


class RMSprop(Optimizer):
    """RMSprop (Tieleman & Hinton 2012): divide by a running RMS of the gradient.

    s <- alpha * s + (1 - alpha) * g^2   (s starts at 0);   p <- p - lr * g / (sqrt(s) + eps)
    char-rnn trains with this rule, alpha = 0.95 (its ``decay_rate``), lr = 2e-3.
    """

    hyper = ("alpha", "eps")
    buffers = ("mean_sq",)

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(params, lr, weight_decay)
        _check_unit("RMSprop", "alpha", alpha)
        _check_positive("RMSprop", "eps", eps)
        self.alpha, self.eps = float(alpha), float(eps)

    def update(self, xp, p, g, state):
        state["mean_sq"] = self.alpha * state["mean_sq"] + (1.0 - self.alpha) * (g * g)
        return p - self.lr * g / (xp.sqrt(state["mean_sq"]) + self.eps)


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015): momentum and RMS scaling, both bias-corrected.

    m <- b1 * m + (1 - b1) * g;     v <- b2 * v + (1 - b2) * g^2     (both start at 0)
    m_hat = m / (1 - b1^t);  v_hat = v / (1 - b2^t)                  (t = this parameter's step)
    p <- p - lr * m_hat / (sqrt(v_hat) + eps)
    """

    hyper = ("beta1", "beta2", "eps")
    buffers = ("exp_avg", "exp_avg_sq")

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(params, lr, weight_decay)
        if len(tuple(betas)) != 2:
            raise ValueError(f"Adam: betas must be a pair (beta1, beta2); got {betas!r}")
        self.beta1, self.beta2 = (float(b) for b in betas)
        _check_unit("Adam", "beta1", self.beta1)
        _check_unit("Adam", "beta2", self.beta2)
        _check_positive("Adam", "eps", eps)
        self.eps = float(eps)

    @property
    def betas(self) -> tuple[float, float]:
        return self.beta1, self.beta2

    def update(self, xp, p, g, state):
        t = state["step"]
        state["exp_avg"] = self.beta1 * state["exp_avg"] + (1.0 - self.beta1) * g
        state["exp_avg_sq"] = self.beta2 * state["exp_avg_sq"] + (1.0 - self.beta2) * (g * g)
        m_hat = state["exp_avg"] / (1.0 - self.beta1 ** t)
        v_hat = state["exp_avg_sq"] / (1.0 - self.beta2 ** t)
        return p - self.lr * m_hat / (xp.sqrt(v_hat) + self.eps)


OPTIMIZERS = {"sgd": SGD, "adagrad": Adagrad, "rmsprop": RMSprop, "adam": Adam}
"""The update rules by the name a command line gives them."""


class StepDecay:
    """char-rnn's schedule: a constant learning rate, then geometric decay.

    ``step(epoch)`` sets ``optimizer.lr = base_lr * decay ** max(0, epoch - after)``
    where ``base_lr`` is the optimizer's lr when the schedule was made and
    ``epoch`` is the number of *completed* epochs (it may be fractional; the
    exponent is then rounded down, so the lr changes once per whole epoch).
    With the defaults the lr stays at base_lr up to epoch 10 and is
    multiplied by 0.97 at epochs 11, 12, ... (char-rnn multiplies at the end of
    every epoch from ``learning_rate_decay_after`` on, one epoch earlier:
    use ``after = learning_rate_decay_after - 1`` to match it exactly).
    """

    def __init__(self, optimizer: Optimizer, decay: float = 0.97, after: int = 10):
        if not 0.0 < decay <= 1.0:
            raise ValueError(f"StepDecay: decay must be in (0, 1]; got {decay!r}")
        if after < 0:
            raise ValueError(f"StepDecay: after must be >= 0; got {after!r}")
        self.optimizer, self.decay, self.after = optimizer, float(decay), after
        self.base_lr = optimizer.lr
        self.epoch = 0

    def lr_at(self, epoch: float) -> float:
        return self.base_lr * self.decay ** max(0, math.floor(epoch) - self.after)

    def step(self, epoch: float) -> float:
        """Set and return the optimizer's learning rate for ``epoch``."""
        self.epoch = epoch
        self.optimizer.lr = self.lr_at(epoch)
        return self.optimizer.lr

    def state_dict(self) -> dict:
        return {"base_lr": self.base_lr, "decay": self.decay, "after": self.after,
                "epoch": self.epoch}

    def load_state_dict(self, d: dict) -> None:
        missing = [k for k in ("base_lr", "decay", "after", "epoch") if k not in d]
        if missing:
            raise ValueError("StepDecay.load_state_dict: missing keys: " + ", ".join(missing))
        self.base_lr, self.decay = float(d["base_lr"]), float(d["decay"])
        self.after, self.epoch = d["after"], d["epoch"]
