"""The mistakes the gradient checker catches, each planted in a small function,
with the words it answers in.

``MISTAKES`` is the catalogue: tests/test_checker_mistakes.py runs every entry
and requires its words in the message, and docs/teaching.md holds the table
:func:`markdown_table` makes from it (the test compares them, so the docs
cannot drift from what the checker says).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np

import tinyrnn as tr
from tinyrnn import nn
from tinyrnn.autograd import exact_grad_shapes
from tinyrnn.check import eval_numerical_gradient_array
from tinyrnn.ops.arithmetic import Mul
from tinyrnn.ops.unary import Relu, Tanh


@dataclass(frozen=True)
class Mistake:
    """``run()`` makes the mistake and returns what the checker said; ``words`` must be in it."""
    name: str
    what: str
    run: Callable[[], str]
    words: str


def _said(call) -> str:
    """The message of the exception or warning ``call()`` raises (AssertionError,
    TypeError, ValueError), or of the report it returns."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = call()
        except (AssertionError, TypeError, ValueError, RuntimeError) as err:
            return str(err)
    if caught:
        return str(caught[0].message)
    return str(result)


def _gradcheck_says(fn, *inputs) -> Callable[[], str]:
    """What ``tr.gradcheck(fn, inputs)`` says, as a Mistake's ``run``."""
    return lambda: _said(lambda: tr.gradcheck(fn, list(inputs)))


def _x(*shape, seed=0):
    return tr.tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


class SignError(Tanh):
    @staticmethod
    def backward(ctx, dy):
        (y,) = ctx.saved
        return -dy * (1 - y * y)


class SlightlyOff(Tanh):
    @staticmethod
    def backward(ctx, dy):
        (y,) = ctx.saved
        return dy * (1 - y * y) * 1.0005          # 0.05% too large


class ScalesInPlace(tr.Function):
    @staticmethod
    def forward(ctx, x):
        x *= 2                                  # writes into the caller's array
        return x * 1.0

    @staticmethod
    def backward(ctx, dy):
        return 2 * dy


class ForgetsAnInput(Mul):
    @staticmethod
    def backward(ctx, dy):
        a, b = ctx.saved
        return dy * b, None                     # b needs a gradient too


class Float32Inside(Tanh):
    @staticmethod
    def forward(ctx, x):
        y = np.tanh(x.astype(np.float32)).astype(np.float64)     # a float32 buffer
        ctx.save_for_backward(y)
        return y


class BothWrong(Mul):
    @staticmethod
    def backward(ctx, dy):
        a, b = ctx.saved
        return dy * a, dy * b                   # each input gets the other's gradient


class NoBatchSum(tr.Function):
    @staticmethod
    def forward(ctx, x, b):
        return x + b

    @staticmethod
    def backward(ctx, dy):
        return dy, dy                           # b (H,) gets a (B, H) gradient


class WrongShape(tr.Function):
    @staticmethod
    def forward(ctx, x):
        return 3 * x

    @staticmethod
    def backward(ctx, dy):
        return 3 * dy[:1]


class NaNBackward(Tanh):
    @staticmethod
    def backward(ctx, dy):
        return dy * np.nan


def _unrolled_with_wrong_step():
    tr.manual_seed(0)
    cell = nn.RNNCell(2, 3)
    xs = tr.randn(4, 2, 2)

    def run(xs):
        h = tr.zeros(2, 3)
        for t in range(4):
            h = (SignError.apply if t == 2 else tr.tanh)(xs[t] @ cell.weight_ih.T + h @ cell.weight_hh.T)
        return h
    return tr.locate(run, [xs], module=cell)


def _wrong_weight_gradient():
    tr.manual_seed(0)
    cell = nn.RNNCell(2, 3)
    return tr.locate(lambda x: SignError.apply(cell.weight_ih) @ x.T, [tr.randn(4, 2)],
                     module=cell)


MISTAKES = [
    Mistake("returns .numpy()", "`gradcheck(lambda x: MyOp.apply(x).numpy(), [x])`",
            lambda: _said(lambda: tr.gradcheck(lambda x: SignError.apply(x).numpy(), [_x(3)])),
            "fn returned a numpy.ndarray, not a Tensor"),
    Mistake("returns a float", "fn returns `float(loss)`",
            lambda: _said(lambda: tr.gradcheck(
                lambda x: float(Tanh.apply(x).sum().numpy()), [_x(3)])),
            "fn returned a builtins.float, not a Tensor"),
    Mistake("returns a dict", "fn returns `{'y': y}`",
            lambda: _said(lambda: tr.gradcheck(lambda x: {"y": Tanh.apply(x)}, [_x(3)])),
            "fn returned a builtins.dict, not a Tensor"),
    Mistake("cut graph", "fn returns `y.detach()`",
            lambda: _said(lambda: tr.gradcheck(lambda x: Tanh.apply(x).detach(), [_x(3)])),
            "no output of fn depends on a checked input"),
    Mistake("inputs not in a list", "`gradcheck(fn, x)` instead of `gradcheck(fn, [x])`",
            lambda: _said(lambda: tr.gradcheck(tr.tanh, _x(3))),
            "inputs must be a list or tuple of the function's arguments"),
    Mistake("nothing to check", "inputs without `requires_grad=True`",
            lambda: _said(lambda: tr.gradcheck(tr.tanh, [np.ones(3)])),
            "no input has requires_grad=True"),
    Mistake("sign error", "backward returns `-dy * (1 - y*y)`",
            _gradcheck_says(SignError.apply, _x(3)),
            "is wrong at index"),
    Mistake("0.05% off", "backward 0.05% too large",
            _gradcheck_says(SlightlyOff.apply, _x(3)),
            "is wrong at index"),
    Mistake("every failing input", "both inputs' gradients wrong",
            _gradcheck_says(BothWrong.apply, _x(3), _x(3, seed=1)),
            "gradient of input 1"),
    Mistake("in-place forward", "forward does `x *= 2`",
            _gradcheck_says(ScalesInPlace.apply, _x(3)),
            "modified input 0 (3 of 3 elements changed) in place"),
    Mistake("None gradient", "backward returns `None` for an input that needs one",
            _gradcheck_says(ForgetsAnInput.apply, _x(3), _x(3, seed=1)),
            "backward returned None for input 1"),
    Mistake("float32 inside", "forward computes in a float32 buffer",
            _gradcheck_says(Float32Inside.apply, _x(3)),
            "Hint (precision)"),
    Mistake("kink", "relu checked at 0",
            lambda: _said(lambda: tr.gradcheck(
                Relu.apply, [tr.tensor([0.0, 1.0, -1.0], requires_grad=True)])),
            "Hint (kink)"),
    Mistake("NaN", "backward returns NaN",
            _gradcheck_says(NaNBackward.apply, _x(3)),
            "is non-finite at index"),
    Mistake("wrong-shaped gradient", "backward returns `dy[:1]`",
            _gradcheck_says(WrongShape.apply, _x(3)),
            "backward failed with RuntimeError"),
    Mistake("no batch sum", "bias gradient not summed, inside `exact_grad_shapes()`",
            lambda: _said(lambda: _exactly(lambda: tr.gradcheck(NoBatchSum.apply,
                                                                 [_x(4, 3), _x(3)]))),
            "inside exact_grad_shapes() the engine does not reduce broadcast gradients"),
    Mistake("float32 in the CS231n helper", "`eval_numerical_gradient_array` on float32",
            lambda: _said(lambda: eval_numerical_gradient_array(
                np.tanh, np.ones(3, dtype=np.float32), np.ones(3))),
            "x is float32, not float64"),
    Mistake("locate: which step", "one wrong op in step 3 of an unrolled loop",
            lambda: str(_unrolled_with_wrong_step()), "time step 3 of 4"),
    Mistake("locate: which line", "the same: the line of your code that recorded it",
            lambda: str(_unrolled_with_wrong_step()), "recorded at"),
    Mistake("locate: which parameter", "a wrong op on a layer's weight",
            lambda: str(_wrong_weight_gradient()), "input 0 (= weight_ih)"),
]


def _exactly(call):
    with exact_grad_shapes():
        return call()


def markdown_table() -> str:
    """The docs' table: one row per mistake, with the words the checker says."""
    rows = ["| mistake | the checker's words |", "|---|---|"]
    rows += [f"| {m.what} | `{m.words}` |" for m in MISTAKES]
    return "\n".join(rows) + "\n"
