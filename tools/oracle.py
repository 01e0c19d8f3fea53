"""The oracle of ``tools/mutate.py``: is a mutant the registry passes really right?

Independent of the registry's data and trainability: each case reaching the
op is run with other random data (seeds 1, 2), with its data rounded to
multiples of 0.5 (ties, exact zeros) and scaled by 3 (saturation, inactive
units), and with every trainability pattern (all floating inputs, each alone
frozen, each alone trainable). A trial counts only where the *original*
backward passes it (a kink or a three-way tie fools the central difference
itself). The loss is a Function of our own, so no backward under test runs
in it.
"""
from __future__ import annotations

import numpy as np

import tinyrnn as tr
from tinyrnn.autograd import Function

__all__ = ["inputs_of", "analytic", "upstream_of", "Trial", "trials"]


def inputs_of(case, seed=0, transform=None, trainable=None) -> list:
    """``case.make_inputs()`` after ``manual_seed(seed)``, floating inputs as float64
    copies, ``transform`` applied to their data, and requiring grad exactly when
    their index is in ``trainable`` (None: as the case has it)."""
    tr.manual_seed(seed)
    inputs = list(case.make_inputs())
    for i, x in enumerate(inputs):
        if isinstance(x, tr.Tensor) and x.backend.is_floating(x.data):
            data = x.numpy() if transform is None else transform(x.numpy())
            grad = x.requires_grad if trainable is None else i in trainable
            inputs[i] = tr.tensor(data, dtype="float64", requires_grad=grad)
    return inputs


def _outputs(out) -> list:
    return [o for o in (out if isinstance(out, (tuple, list)) else (out,))
            if isinstance(o, tr.Tensor)]


class _Dot(Function):
    """L = sum_k <y_k, u_k>: the oracle's loss, with a backward no mutant touches."""

    @staticmethod
    def forward(ctx, *ys, upstream):
        ctx.upstream = upstream
        return sum(ctx.xp.sum(y * u) for y, u in zip(ys, upstream))

    @staticmethod
    def backward(ctx, dl):
        return tuple(dl * u for u in ctx.upstream)


def analytic(fn, inputs, upstream) -> list:
    """Backward's gradients of sum_k <fn(inputs)_k, upstream_k> (None: no grad wanted),
    by one backward pass, as gradcheck does, but through a loss of our own: a
    loss built from tinyrnn ops would run their backward too (and a Sum
    mutant negated twice, in f and in the loss, would pass unseen)."""
    for x in inputs:
        if isinstance(x, tr.Tensor):
            x.grad = None
    pairs = [(o, u) for o, u in zip(_outputs(fn(*inputs)), upstream) if o.requires_grad]
    if pairs:
        _Dot.apply(*[o for o, _ in pairs], upstream=[u for _, u in pairs]).backward()
    return [None if not (isinstance(x, tr.Tensor) and x.requires_grad) else
            np.zeros(x.shape) if x.grad is None else x.grad.numpy() for x in inputs]


def upstream_of(fn, inputs, seed) -> list:
    rng = np.random.default_rng([seed, 1])
    with tr.no_grad():
        return [rng.standard_normal(o.shape) for o in _outputs(fn(*inputs))]


_TRANSFORMS = {"as drawn": None,
               "rounded to 0.5": lambda a: np.round(a * 2) / 2,     # ties, exact zeros
               "times 3": lambda a: a * 3}                          # saturation, dead units


class Trial:
    """One check of the oracle: a case on other data and another trainability.

    The central differences use forward code only, which no mutant touches,
    and do not depend on which other inputs train: they are computed once per
    (case, seed, data) for every floating input and shared by all trials and
    mutants. The original backward's verdict is kept too.
    """
    numeric_cache: dict = {}

    def __init__(self, case, seed, transform, trainable, floats):
        self.case, self.seed, self.transform = case, seed, transform
        self.trainable, self.floats = trainable, floats
        self.upstream = upstream_of(case.fn, self.inputs(), seed)
        self.original_ok = None            # set by the Runner, with the original code

    def inputs(self, trainable=None) -> list:
        """Fresh inputs each time (a mutant may write into the arrays it is given)."""
        return inputs_of(self.case, self.seed, _TRANSFORMS[self.transform],
                       self.trainable if trainable is None else trainable)

    def numeric(self, eps) -> list:
        key = (self.case.name, self.seed, self.transform)
        if key not in self.numeric_cache:
            self.numeric_cache[key] = tr.check.numerical_gradients(
                self.case.fn, self.inputs(self.floats), self.upstream, eps)
        return self.numeric_cache[key]

    def __str__(self):
        return (f"{self.case.name}, seed {self.seed}, data {self.transform}, "
                f"trainable inputs {sorted(self.trainable)}")

    def failure(self) -> str | None:
        """How the backward installed now disagrees with the central difference."""
        options = {"eps": 1e-6, "atol": 1e-5, "rtol": 1e-3, **self.case.check}
        try:
            grads = analytic(self.case.fn, self.inputs(), self.upstream)
            numeric = self.numeric(options["eps"])
        except Exception as err:                              # noqa: BLE001
            return f"{type(err).__name__}: {err}"[:120]
        for i, (a, n) in enumerate(zip(grads, numeric)):
            if a is None:
                continue
            if not (np.all(np.isfinite(a)) and np.all(np.isfinite(n))):
                return f"input {i}: non-finite gradient"
            if np.any(np.abs(a - n) > options["atol"] + options["rtol"] * np.abs(n)):
                return f"input {i}: max |analytic - numeric| {np.max(np.abs(a - n)):.3g}"
        return None


def trials(case) -> list[Trial]:
    """Seeds 1, 2 x three data transforms x trainability: all floating inputs,
    each alone frozen, each alone trainable."""
    floats = {i for i, x in enumerate(inputs_of(case))
              if isinstance(x, tr.Tensor) and x.backend.is_floating(x.data)}
    patterns = [floats] + [floats - {i} for i in floats] + \
        [{i} for i in floats if len(floats) > 2]
    return [Trial(case, seed, t, p, floats) for seed in (1, 2) for t in _TRANSFORMS
            for p in patterns if p]
