"""``tinyrnn.gradcheck`` itself: it must reject wrong backwards, say where they
are wrong, and accept right ones -- in full and in fast (directional) mode.

The deliberately wrong ops below subclass tinyrnn's Functions; they register
in ``Function.registry`` too, which is why the coverage test only counts
classes defined in tinyrnn's own modules.
"""
from __future__ import annotations

import re

import numpy as np
import pytest

import tinyrnn as tr
from tinyrnn.autograd import Function
from tinyrnn.check import (GradcheckError, eval_numerical_gradient,
                               eval_numerical_gradient_array, numerical_gradients, rel_error)
from tinyrnn.ops.linalg import MatMul
from tinyrnn.ops.shape import Split
from tinyrnn.ops.unary import Tanh

from opcase import randn
from test_ops_gradcheck import missing_cases


class TanhForgetsDerivative(Tanh):
    """Wrong: dx = dy (forgets the factor 1 - y**2)."""

    @staticmethod
    def backward(ctx, dy):
        return dy


class MatMulTransposedGrad(MatMul):
    """Wrong: da = dy @ b (not b^T), db = (a^T dy)^T. Right shapes for square b."""

    @staticmethod
    def backward(ctx, dy):
        xp = ctx.xp
        a, b = ctx.saved
        return xp.matmul(dy, b), xp.matrix_transpose(xp.matmul(xp.matrix_transpose(a), dy))


class ReverseForgetsToReverse(Function):
    """y = x reversed along axis 0. Wrong: dx = dy, not reversed back.

    With an all-ones upstream gradient dy is symmetric and this passes; only a
    random upstream gradient exposes it.
    """

    @staticmethod
    def forward(ctx, x):
        return x[::-1, ...]

    @staticmethod
    def backward(ctx, dy):
        return dy


class SplitGradsSwapped(Split):
    """Wrong: joins the pieces' gradients in reverse order."""

    @staticmethod
    def backward(ctx, *dys):
        return ctx.xp.concat(dys[::-1], axis=ctx.axis)


WRONG = {
    "tanh": (lambda x: TanhForgetsDerivative.apply(x), lambda: [randn(2, 3)], 0),
    "matmul_lhs": (lambda a, b: MatMulTransposedGrad.apply(a, b),
                   lambda: [randn(2, 3), randn(3, 3, requires_grad=False)], 0),
    # Regression: gradcheck once drew its upstream gradient from default_rng(0),
    # equal to a = randn(2, 3) after manual_seed(0); then a^T u was symmetric
    # and this transposed db passed.
    "matmul_rhs": (lambda a, b: MatMulTransposedGrad.apply(a, b),
                   lambda: [randn(2, 3, requires_grad=False), randn(3, 3)], 1),
    "reverse": (lambda x: ReverseForgetsToReverse.apply(x), lambda: [randn(4, 2)], 0),
    "split": (lambda x: SplitGradsSwapped.apply(x, sizes=(2, 2)),
              lambda: [randn(4, 3)], 0),
}
RIGHT = {
    "tanh": lambda x: Tanh.apply(x),
    "matmul_lhs": lambda a, b: MatMul.apply(a, b),
    "matmul_rhs": lambda a, b: MatMul.apply(a, b),
    "reverse": lambda x: x[::-1],
    "split": lambda x: tr.split(x, 2),
}


@pytest.mark.parametrize("name", sorted(WRONG))
def test_wrong_backward_is_rejected_naming_input_and_index(name, backend):
    fn, make_inputs, bad_input = WRONG[name]
    inputs = make_inputs()
    with pytest.raises(GradcheckError) as info:
        tr.gradcheck(fn, inputs)
    message = str(info.value)
    shape = re.escape(str(inputs[bad_input].shape))
    assert re.search(rf"input {bad_input} \(shape {shape}\) is wrong at index \(\d+(, \d+)*\)",
                     message), message
    assert re.search(r"analytic -?[\d.e+-]+, numeric -?[\d.e+-]+", message), message


@pytest.mark.parametrize("name", sorted(WRONG))
def test_wrong_backward_is_rejected_in_fast_mode(name, backend):
    fn, make_inputs, bad_input = WRONG[name]
    with pytest.raises(GradcheckError, match=rf"fast.*input {bad_input}\b"):
        tr.gradcheck(fn, make_inputs(), fast=True)


@pytest.mark.parametrize("name", sorted(RIGHT))
@pytest.mark.parametrize("fast", [False, True])
def test_right_backward_is_accepted(name, fast, backend):
    _, make_inputs, _ = WRONG[name]
    assert tr.gradcheck(RIGHT[name], make_inputs(), fast=fast) is True


def test_raise_exception_false_returns_false(backend):
    fn, make_inputs, _ = WRONG["tanh"]
    assert tr.gradcheck(fn, make_inputs(), raise_exception=False) is False
    assert tr.gradcheck(fn, make_inputs(), fast=True, raise_exception=False) is False


def test_all_ones_upstream_would_hide_the_reversal_mistake(backend):
    """Why gradcheck draws a random upstream gradient: with ones, the wrong
    reverse backward gives exactly the right gradient."""
    x = randn(4, 2)
    ReverseForgetsToReverse.apply(x).sum().backward()
    wrong_with_ones = x.grad.numpy()
    x.grad = None
    x[::-1].sum().backward()
    np.testing.assert_array_equal(wrong_with_ones, x.grad.numpy())
    with pytest.raises(GradcheckError):
        tr.gradcheck(lambda t: ReverseForgetsToReverse.apply(t), [x])


def test_long_graph_fast_mode_finds_one_wrong_op(backend):
    """A 40-step recurrence: fast mode checks it with two forwards per input
    and still notices one wrong op inside."""
    xs, w = randn(40, 3), randn(3, 3, scale=0.5)

    def rnn(xs, w, act):
        h = tr.zeros(3, dtype="float64")
        for t in range(xs.shape[0]):
            h = act(h @ w + xs[t])
        return h

    assert tr.gradcheck(lambda a, b: rnn(a, b, tr.tanh), [xs, w], fast=True)
    with pytest.raises(GradcheckError, match="input"):
        tr.gradcheck(lambda a, b: rnn(a, b, TanhForgetsDerivative.apply), [xs, w], fast=True)


def test_inputs_are_left_untouched(backend):
    """gradcheck works on float64 copies: the caller's float32 tensors keep
    their dtype, values and (empty) grad."""
    x = tr.randn(2, 3, requires_grad=True)
    before = x.numpy().copy()
    assert tr.gradcheck(tr.tanh, [x])
    assert x.dtype == tr.randn(1).dtype and x.grad is None
    np.testing.assert_array_equal(x.numpy(), before)


def test_float32_inputs_are_checked_in_float64(backend):
    """With eps=1e-6 a float32 check would be rounding noise; cast, it passes."""
    x = tr.randn(3, 4, requires_grad=True)
    w = tr.randn(4, 2, requires_grad=True)
    assert tr.gradcheck(lambda a, b: tr.softmax(a @ b), [x, w])


def test_constants_are_not_checked(backend):
    x, c = randn(3), randn(3, requires_grad=False)
    up = [np.ones(3)]
    grads = numerical_gradients(lambda a, b, k: a * b * k, [x, c, 2.0], up)
    assert grads[1] is None and grads[2] is None
    np.testing.assert_allclose(grads[0], 2.0 * c.numpy(), rtol=1e-7)


def test_gradcheck_is_one_call_and_its_module_is_check():
    assert tr.gradcheck is tr.check.gradcheck and tr.check.gradcheck(tr.exp, [randn(2)]) is True


# ---- the CS231n-style helpers for coursework on plain NumPy ---------------------
def test_rel_error():
    assert rel_error(1.0, 1.0) == 0.0
    assert rel_error([1.0, 2.0], [1.0, 2.0 + 2e-7]) == pytest.approx(5e-8, rel=1e-3)
    assert rel_error(0.0, 0.0) == 0.0                 # the 1e-8 floor, no 0 / 0
    assert rel_error([1.0], [-1.0]) == 1.0


def test_eval_numerical_gradient_array_matches_tanh_derivative():
    rng = np.random.default_rng(231)
    x, df = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    x_before = x.copy()
    numeric = eval_numerical_gradient_array(np.tanh, x, df)
    assert rel_error(numeric, df * (1 - np.tanh(x) ** 2)) < 1e-8
    np.testing.assert_array_equal(x, x_before)        # restored after nudging


def test_eval_numerical_gradient_of_a_scalar_function():
    x = np.random.default_rng(0).standard_normal(5)
    assert rel_error(eval_numerical_gradient(lambda v: np.sum(v ** 3), x), 3 * x ** 2) < 1e-8


# ---- the coverage test would catch a new op ---------------------------------------
def test_coverage_check_names_an_op_without_a_case():
    new_op = type("Cube", (Function,), {"__module__": "tinyrnn.ops.imaginary",
                                        "forward": staticmethod(lambda ctx, x: x ** 3),
                                        "backward": staticmethod(lambda ctx, dy: dy)})
    try:
        assert "tinyrnn.ops.imaginary.Cube" in missing_cases([])
    finally:
        Function.registry.remove(new_op)


class _TwoLayers(tr.nn.Module):
    """A nested module: its parameters are named inner.weight, inner.bias, scale."""

    def __init__(self):
        self.inner = tr.nn.Linear(3, 2)
        self.scale = tr.nn.Parameter(tr.randn(2))

    def forward(self, x, tanh=tr.tanh):
        return tanh(self.inner(x)) * self.scale


def test_gradcheck_module_checks_nested_parameters_and_puts_them_back():
    from tinyrnn.check import gradcheck_module
    model = _TwoLayers()
    before = [p for p in model.parameters()]
    x = tr.randn(4, 3, requires_grad=True)
    assert gradcheck_module(model, model, [x])
    assert [p for p in model.parameters()] == before            # the originals are back
    assert all(p.dtype == before[0].dtype for p in model.parameters())
    x_const = tr.randn(4, 3)                                       # only parameters checked
    with pytest.raises(GradcheckError, match="input 1 "):        # inputs: x, inner.weight, ...
        gradcheck_module(model, lambda x: model(x, TanhForgetsDerivative.apply), [x_const])
    assert [p for p in model.parameters()] == before


# ---- non-finite gradients never pass -------------------------------------------
class TanhNonFinite(Tanh):
    """Wrong: dx = dy * BAD (NaN or inf) -- a comparison with NaN is False, so a
    plain ``error > tol`` test would let it through."""

    BAD = float("nan")

    @classmethod
    def backward(cls, ctx, dy):
        return dy * cls.BAD


class TanhInfinite(TanhNonFinite):
    BAD = float("inf")


class SqrtPastZero(Function):
    """sqrt(x), NaN for x < 0; backward (finite everywhere) is fine elsewhere.
    At x = 1e-7 the numeric derivative steps below 0: a non-finite *numeric* gradient."""

    @staticmethod
    def forward(ctx, x):
        xp = ctx.xp
        y = xp.where(x >= 0, xp.sqrt(xp.abs(x)), xp.nan)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, dy):
        (y,) = ctx.saved
        return dy * 0.5 / ctx.xp.maximum(y, 1e-3)


@pytest.mark.parametrize("op", [TanhNonFinite, TanhInfinite], ids=["nan", "inf"])
@pytest.mark.parametrize("fast", [False, True], ids=["full", "fast"])
def test_non_finite_analytic_gradient_is_rejected(op, fast, backend):
    x = randn(2, 3)
    with pytest.raises(GradcheckError,
                       match=r"input 0 \(shape \(2, 3\)\) is non-finite at index \(0, 0\)"):
        tr.gradcheck(lambda t: op.apply(t), [x], fast=fast)
    assert tr.gradcheck(lambda t: op.apply(t), [x], fast=fast, raise_exception=False) is False


@pytest.mark.parametrize("fast", [False, True], ids=["full", "fast"])
def test_non_finite_numeric_gradient_is_rejected(fast, backend):
    x = tr.tensor(np.array([1.0, 1e-7, 2.0]), dtype="float64", requires_grad=True)
    expected = r"input 0 .*non-finite at index \(1,\)" if not fast else \
        r"input 0 .*is non-finite: analytic .*, numeric nan"
    with pytest.raises(GradcheckError, match=expected):
        tr.gradcheck(lambda t: SqrtPastZero.apply(t), [x], fast=fast)
    assert tr.gradcheck(lambda t: SqrtPastZero.apply(t), [x], fast=fast,
                        raise_exception=False) is False


@pytest.mark.parametrize("op", [TanhNonFinite, TanhInfinite], ids=["nan", "inf"])
@pytest.mark.parametrize("fast", [False, True], ids=["full", "fast"])
def test_gradcheck_module_rejects_non_finite_gradients(op, fast):
    from tinyrnn.check import gradcheck_module
    model = _TwoLayers()
    x = tr.randn(4, 3)
    with pytest.raises(GradcheckError, match=r"input 1 = inner\.weight .*non-finite at index"):
        gradcheck_module(model, lambda x: model(x, op.apply), [x], fast=fast)
    assert gradcheck_module(model, lambda x: model(x, op.apply), [x], fast=fast,
                            raise_exception=False) is False


def test_rel_error_of_non_finite_values_never_looks_small():
    """inf, so that both ``err < tol`` and ``err > tol`` read as a failure."""
    nan, inf = float("nan"), float("inf")
    for a, b in [(nan, 1.0), ([1.0, nan], [1.0, 1.0]), (nan, nan), (inf, inf), (1.0, -inf)]:
        err = rel_error(a, b)
        assert err == inf and not err < 1e-7 and err > 1e-7
    x, df = np.array([1.0, -1.0]), np.ones(2)
    numeric = eval_numerical_gradient_array(lambda v: np.where(v > 0, v, np.nan), x, df)
    assert rel_error(numeric, [1.0, 0.0]) == inf


# ---- fast mode: several directions ------------------------------------------------
class TanhTenthPercentHigh(Tanh):
    """Wrong by a factor: dx = dy * (1 - y**2) * FACTOR."""

    FACTOR = 1.001

    @classmethod
    def backward(cls, ctx, dy):
        (y,) = ctx.saved
        return dy * (1 - y * y) * cls.FACTOR


class TanhFiftiethPercentLow(TanhTenthPercentHigh):
    FACTOR = 0.9998


def _recurrence(xs, w, bad_step=None, bad_op=None):
    """h_t = tanh(h_{t-1} W + x_t), one step's tanh replaced by ``bad_op``."""
    h = tr.zeros(w.shape[0], dtype="float64")
    for t in range(xs.shape[0]):
        h = (bad_op.apply if t == bad_step else tr.tanh)(h @ w + xs[t])
    return h


@pytest.mark.parametrize("bad_op", [TanhTenthPercentHigh, TanhFiftiethPercentLow])
def test_fast_mode_default_directions_catch_a_small_error_in_one_step_of_200(bad_op):
    """A 0.02-0.1% error in the backward of step 192 of a 200-step recurrence: one
    random direction lets it pass for most seeds, the default directions for none."""
    xs, w = randn(200, 3), randn(3, 3, scale=0.5)
    wrong = lambda a, b: _recurrence(a, b, bad_step=192, bad_op=bad_op)       # noqa: E731
    seeds = range(5)
    one = [tr.gradcheck(wrong, [xs, w], fast=True, seed=s, directions=1,
                        raise_exception=False) for s in seeds]
    assert sum(one) >= 2, one                   # why one direction is not enough
    default = [tr.gradcheck(wrong, [xs, w], fast=True, seed=s, raise_exception=False)
               for s in seeds]
    assert not any(default), default
    assert all(tr.gradcheck(_recurrence, [xs, w], fast=True, seed=s) for s in seeds)


def test_fast_mode_names_the_failing_direction_and_checks_directions():
    from tinyrnn.check import DEFAULT_DIRECTIONS
    with pytest.raises(GradcheckError, match=rf"direction \d+ of {DEFAULT_DIRECTIONS}"):
        tr.gradcheck(lambda t: TanhForgetsDerivative.apply(t), [randn(3)], fast=True)
    with pytest.raises(GradcheckError, match=r"direction \d+ of 3\b"):
        tr.gradcheck(lambda t: TanhForgetsDerivative.apply(t), [randn(3)], fast=True,
                     directions=3)
    for bad in (0, -1, 2.5):
        with pytest.raises(ValueError, match="directions must be a positive integer"):
            tr.gradcheck(tr.tanh, [randn(3)], fast=True, directions=bad)


@pytest.mark.parametrize("fast", [False, True])
def test_a_wrong_sum_backward_is_caught_by_a_check_of_sum(monkeypatch, fast):
    # The checker hands u to backward itself: a loss built from tinyrnn's own
    # Sum would flip a negated Sum.backward's gradient twice and pass it.
    from tinyrnn.ops.reduce import Sum
    right = Sum.backward
    monkeypatch.setattr(Sum, "backward", lambda ctx, dy: -right(ctx, dy))
    x = tr.randn(3, 4, requires_grad=True)
    assert not tr.gradcheck(lambda x: x.sum(axis=1), [x], fast=fast, raise_exception=False)
    monkeypatch.setattr(Sum, "backward", right)
    assert tr.gradcheck(lambda x: x.sum(axis=1), [x], fast=fast)
