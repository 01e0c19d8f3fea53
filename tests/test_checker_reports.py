"""The checker's newer reports, beyond the catalogue of tests/checker_mistakes.py:
exact_grad_shapes() in the engine, sparse mode, refusals of gradcheck_module and
locate, and locate's reports of in-place forwards and crashing backwards."""
from __future__ import annotations

import numpy as np
import pytest

import tinyrnn as tr
from tinyrnn import nn
from tinyrnn.autograd import exact_grad_shapes
from tinyrnn.check import GradcheckError, agree
from tinyrnn.ops.unary import Tanh

import checker_mistakes as planted


def _batch_and_bias():
    return (tr.tensor(np.ones((4, 3)), requires_grad=True),
            tr.tensor(np.ones(3), requires_grad=True))


def test_exact_grad_shapes_refuses_an_unreduced_gradient_and_only_inside():
    x, b = _batch_and_bias()
    planted.NoBatchSum.apply(x, b).backward(np.ones((4, 3)))
    assert b.grad.numpy().tolist() == [4.0, 4.0, 4.0]          # the engine sums, as always
    x, b = _batch_and_bias()
    with pytest.raises(RuntimeError, match=r"nobatchsum: backward returned a gradient of shape "
                                           r"\(4, 3\) for its input 1 of shape \(3,\)"):
        with exact_grad_shapes():
            planted.NoBatchSum.apply(x, b).backward(np.ones((4, 3)))
    planted.NoBatchSum.apply(x, b).backward(np.ones((4, 3)))  # the flag is reset after an error
    with exact_grad_shapes():                                   # right shapes pass untouched
        (x * 2.0).sum().backward()


def test_sparse_mode_lists_every_failing_sampled_element_and_passes_a_right_one():
    x = tr.tensor(np.random.default_rng(0).standard_normal((20, 30)), requires_grad=True)
    assert tr.gradcheck(Tanh.apply, [x], sparse=5)
    with pytest.raises(GradcheckError, match=r"wrong at 5 of 5 sampled elements") as err:
        tr.gradcheck(planted.SignError.apply, [x], sparse=5)
    assert str(err.value).count("    index (") == 5


def test_gradcheck_module_and_locate_refuse_outputs_that_are_not_tensors():
    layer = nn.Linear(2, 3)
    x = tr.randn(4, 2)
    with pytest.raises(TypeError, match="fn returned a numpy.ndarray, not a Tensor"):
        tr.gradcheck_module(layer, lambda v: layer(v).numpy(), [x])
    with pytest.raises(TypeError, match="locate: fn returned a numpy.ndarray, not a Tensor"):
        tr.locate(lambda v: layer(v).numpy(), [x], module=layer)


def test_locate_reports_an_in_place_forward_and_a_crashing_backward():
    x = tr.tensor(np.linspace(-1, 1, 6).reshape(2, 3), requires_grad=True)
    found = tr.locate(lambda v: planted.ScalesInPlace.apply(v * 1.0), [x])
    assert not found and "ScalesInPlace's forward modified its input in place" in str(found)
    found = tr.locate(lambda v: planted.WrongShape.apply(v * 1.0), [x])
    assert not found and found.op == "WrongShape" and "backward failed" in str(found)


def test_locate_with_named_inputs_names_them():
    a = tr.tensor(np.linspace(-1, 1, 6).reshape(2, 3), requires_grad=True)
    found = tr.locate(lambda hidden: planted.SignError.apply(hidden), {"hidden": a})
    assert found.input_name == "= hidden" and "(= hidden)" in str(found)


def test_the_pass_criterion_is_tight_but_not_fragile():
    n = np.array([1.0, -2.0, 1e-9, 0.0])
    assert agree(n * (1 + 1e-6), n).all()               # right to 1e-6: passes
    assert not agree(n * (1 + 5e-4), n)[:2].any()        # off by 0.05%: fails
    assert not agree([np.nan, np.inf], [1.0, 1.0]).any()
    assert agree([1.0 + 1e-6], [1.0], noise=1e-5).all()  # inside the rounding floor
