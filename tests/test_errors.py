"""Bad input gets a clear error that names the op, the shapes or dtypes, and
what was expected -- on every backend (the ``backend`` fixture)."""
from __future__ import annotations

import re

import numpy as np
import pytest

import tinyrnn as tr


def raises(exc, message: str):
    """pytest.raises matching ``message`` literally (shapes have parentheses)."""
    return pytest.raises(exc, match=re.escape(message))


# ---- shapes -----------------------------------------------------------------------
def test_matmul_shapes_that_do_not_align(backend):
    with raises(ValueError, "matmul: shapes (32, 64) and (128, 256) do not align (64 != 128)"):
        tr.randn(32, 64) @ tr.randn(128, 256)


@pytest.mark.parametrize("sa, sb, message", [
    ((3,), (4,), "matmul: shapes (3,) and (4,) do not align (3 != 4)"),
    ((3,), (4, 2), "matmul: shapes (3,) and (4, 2) do not align (3 != 4)"),
    ((2, 3), (2,), "matmul: shapes (2, 3) and (2,) do not align (3 != 2)"),
    ((2, 2, 3), (3, 3, 4), "matmul: batch axes of shapes (2, 2, 3) and (3, 3, 4) "
                           "do not broadcast"),
    ((), (3,), "matmul: needs at least 1-D operands; got shapes () and (3,)"),
])
def test_matmul_other_shape_errors(backend, sa, sb, message):
    with raises(ValueError, message):
        tr.matmul(tr.randn(*sa), tr.randn(*sb))


@pytest.mark.parametrize("name, op", [
    ("add", lambda a, b: a + b), ("sub", lambda a, b: a - b), ("mul", lambda a, b: a * b),
    ("div", lambda a, b: a / b), ("pow", lambda a, b: a ** b),
    ("maximum", tr.maximum), ("minimum", tr.minimum),
])
def test_binary_ops_name_shapes_that_do_not_broadcast(backend, name, op):
    with raises(ValueError, f"{name}: shapes (2, 3) and (4, 3) cannot be broadcast "
                            "together (axis -2: 2 vs 4)"):
        op(tr.randn(2, 3), tr.randn(4, 3))


def test_broadcast_to_a_smaller_shape(backend):
    with raises(ValueError, "broadcast_to: cannot broadcast shape (2, 3) to (3,)"):
        tr.broadcast_to(tr.randn(2, 3), (3,))
    with raises(ValueError, "broadcast_to: shapes (2, 3) and (3, 3) cannot be broadcast"):
        tr.randn(2, 3).broadcast_to(3, 3)


@pytest.mark.parametrize("shape", [(4, 2), (4, -1), (-1, -1), (7,)])
def test_reshape_to_a_wrong_size(backend, shape):
    with raises(ValueError, f"reshape: cannot reshape a tensor of shape (2, 3) (6 elements) "
                            f"into {shape}"):
        tr.randn(2, 3).reshape(*shape)


def test_concat_and_stack_shapes(backend):
    with raises(ValueError, "concat: shapes (2, 3) and (2, 4) differ outside axis 0"):
        tr.concat([tr.randn(2, 3), tr.randn(2, 4)])
    with raises(ValueError, "concat: shapes (2, 3) and (3,) differ outside axis 0"):
        tr.concat([tr.randn(2, 3), tr.randn(3)])
    with raises(ValueError, "concat: axis 2 is out of range for tensors of shape (2, 3)"):
        tr.concat([tr.randn(2, 3), tr.randn(2, 3)], axis=2)
    with raises(ValueError, "stack: all tensors need the same shape; got (2, 3) and (3, 2)"):
        tr.stack([tr.randn(2, 3), tr.randn(3, 2)])
    with raises(ValueError, "stack: axis 3 is out of range"):
        tr.stack([tr.randn(2, 3), tr.randn(2, 3)], axis=3)
    with raises(ValueError, "concat: needs at least one tensor"):
        tr.concat([])
    with raises(TypeError, "stack: expects a sequence of Tensors"):
        tr.stack([tr.randn(2), np.zeros(2)])


def test_split_sizes(backend):
    with raises(ValueError, "split: sizes [1, 1] add up to 2, not the axis length 3 of "
                            "shape (3, 2)"):
        tr.split(tr.randn(3, 2), [1, 1])
    with raises(ValueError, "split: size must be positive; got 0"):
        tr.split(tr.randn(3, 2), 0)
    with raises(ValueError, "split: axis 2 is out of range for shape (3, 2)"):
        tr.split(tr.randn(3, 2), 1, axis=2)


def test_layer_norm_parameter_shapes(backend):
    with raises(ValueError, "layer_norm: gain has shape (4,); expected (3,) for input of "
                            "shape (2, 3)"):
        tr.layer_norm(tr.randn(2, 3), tr.randn(4))
    with raises(ValueError, "layer_norm: bias has shape (1, 3); expected (3,)"):
        tr.layer_norm(tr.randn(2, 3), None, tr.randn(1, 3))


def test_permute_and_transpose(backend):
    with raises(ValueError, "permute: (0, 0) is not a permutation of the 2 axes of a "
                            "tensor of shape (2, 3)"):
        tr.randn(2, 3).permute(0, 0)
    with raises(ValueError, "transpose: needs at least 2 axes; got shape (3,)"):
        tr.randn(3).transpose()


@pytest.mark.parametrize("name, call", [
    ("sum", lambda x: x.sum(axis=2)), ("mean", lambda x: x.mean(axis=(0, -3))),
    ("max", lambda x: x.max(axis=5)), ("min", lambda x: x.min(axis=-3)),
    ("logsumexp", lambda x: x.logsumexp(axis=2)), ("softmax", lambda x: x.softmax(axis=2)),
    ("log_softmax", lambda x: tr.log_softmax(x, axis=-3)),
])
def test_axis_out_of_range(backend, name, call):
    with pytest.raises(ValueError, match=rf"{name}: axis -?\d is out of range for a tensor "
                                         r"with 2 axes"):
        call(tr.randn(2, 3))


def test_max_of_an_empty_axis(backend):
    with raises(ValueError, "max: cannot reduce an empty axis of shape (0, 3)"):
        tr.zeros(0, 3).max(axis=0)


# ---- backward -----------------------------------------------------------------------
def test_backward_from_a_non_scalar_needs_a_gradient(backend):
    y = tr.randn(2, 3, requires_grad=True).exp()
    with raises(RuntimeError, "backward: a gradient can be created implicitly only for a "
                              "single-element output (a loss); got shape (2, 3)"):
        y.backward()


def test_backward_with_a_gradient_of_the_wrong_shape(backend):
    y = tr.randn(2, 3, requires_grad=True).exp()
    with raises(RuntimeError, "backward: grad has shape (3,) but the tensor has shape (2, 3)"):
        y.backward(np.ones(3))


def test_backward_without_a_graph(backend):
    with raises(RuntimeError, "backward: this tensor does not require grad"):
        tr.randn(2).sum().backward()
    with tr.no_grad():
        y = tr.randn(2, requires_grad=True).sum()
    with raises(RuntimeError, "set requires_grad=True"):
        y.backward()


def test_backward_gradient_from_another_backend():
    y = tr.randn(2, requires_grad=True, backend="numpy") * 2.0
    with pytest.raises(tr.BackendError, match="grad lives on backend 'strict'"):
        y.backward(tr.ones(2, backend="strict"))


def test_a_backward_returning_a_wrong_shape_is_caught(backend):
    class TransposesByMistake(tr.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1.0

        @staticmethod
        def backward(ctx, dy):
            return ctx.xp.reshape(dy, (3, 2))     # silently reshaping would be wrong

    x = tr.randn(2, 3, requires_grad=True)
    with raises(RuntimeError, "transposesbymistake: backward returned a gradient of shape "
                              "(3, 2) for an input of shape (2, 3)"):
        TransposesByMistake.apply(x).sum().backward()


def test_a_backward_returning_too_few_gradients_is_caught(backend):
    class ForgetsOneInput(tr.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a * b

        @staticmethod
        def backward(ctx, dy):
            return dy

    a, b = tr.randn(3, requires_grad=True), tr.randn(3, requires_grad=True)
    with raises(RuntimeError, "forgetsoneinput: backward returned 1 gradient(s) for 2 input(s)"):
        ForgetsOneInput.apply(a, b).sum().backward()


# ---- integer indices out of range (checked on every backend) ------------------------
@pytest.mark.parametrize("key, message", [
    (5, "getitem: index 5 is out of bounds for axis 0 with size 3"),
    ((0, -5), "getitem: index -5 is out of bounds for axis 1 with size 4"),
    ([0, 3], "take (axis 0): index 3 is out of range for an axis of size 3 "
             "(expected -3 <= index < 3)"),
    ((slice(None), [0, 4]), "take (axis 1): index 4 is out of range for an axis of size 4"),
    ([-4], "take (axis 0): index -4 is out of range for an axis of size 3"),
])
def test_getitem_out_of_range(backend, key, message):
    x = tr.randn(3, 4, requires_grad=True)
    with raises(IndexError, message):
        x[key]


def test_take_out_of_range_and_bad_indices(backend):
    x = tr.randn(2, 3)
    with raises(IndexError, "take (axis 1): index 3 is out of range for an axis of size 3"):
        tr.take(x, tr.tensor([[0, 3]]), axis=1)
    with raises(ValueError, "take: axis 2 is out of range for shape (2, 3)"):
        tr.take(x, [0], axis=2)
    with pytest.raises(TypeError, match=r"take \(axis 0\): indices must be integers; got "
                                        r".*float32"):
        x[tr.tensor([0.0])]


@pytest.mark.parametrize("ids, bad", [([0, 7], 7), ([[1, 5]], 5), ([2, -1], -1)])
def test_embedding_ids_out_of_range(backend, ids, bad):
    with raises(IndexError, f"embedding (axis 0): index {bad} is out of range for an axis "
                            "of size 5 (expected 0 <= index < 5)"):
        tr.embedding(tr.tensor(ids), tr.randn(5, 3, requires_grad=True))


@pytest.mark.parametrize("targets, bad", [([0, 3], 3), ([-2, 1], -2)])
def test_cross_entropy_targets_out_of_range(backend, targets, bad):
    with raises(IndexError, f"cross_entropy (targets, ignore_index=-100): index {bad} is "
                            "out of range for an axis of size 3 (expected 0 <= index < 3)"):
        tr.cross_entropy(tr.randn(2, 3, requires_grad=True), tr.tensor(targets))


def test_cross_entropy_bad_targets(backend):
    logits = tr.randn(2, 3)
    with raises(ValueError, "cross_entropy: targets of shape (3,) do not match logits of "
                            "shape (2, 3) (expected (2,))"):
        tr.cross_entropy(logits, tr.tensor([0, 1, 2]))
    with pytest.raises(TypeError, match="cross_entropy: targets must be integer class ids; "
                                        "got .*float32"):
        tr.cross_entropy(logits, tr.tensor([0.0, 1.0]))


def test_boolean_mask_of_the_wrong_shape(backend):
    with raises(IndexError, "getitem: boolean mask of shape (3,) does not match axes 0..0 of "
                            "shape (2, 3)"):
        tr.randn(2, 3)[tr.tensor([True, False, True])]


def test_unsupported_index(backend):
    with raises(IndexError, "getitem: unsupported index"):
        tr.randn(2, 3)[[0, 1], [0, 1]]


# ---- dtypes and tensor creation --------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda: tr.tensor([1, 2], requires_grad=True),
    lambda: tr.arange(3).requires_grad_(),
    lambda: tr.zeros(2, dtype="int64", requires_grad=True),
])
def test_requires_grad_on_an_integer_tensor(backend, make):
    with raises(TypeError, "requires_grad needs a floating-point tensor; this one is int64"):
        make()


def test_requires_grad_on_a_bool_tensor(backend):
    with raises(TypeError, "requires_grad needs a floating-point tensor; this one is bool"):
        tr.tensor([True, False]).requires_grad_()


@pytest.mark.parametrize("make", [
    lambda: tr.tensor([1.0], dtype="float33"),
    lambda: tr.zeros(2, dtype="flaot32"),
    lambda: tr.randn(2).astype("half-float"),
])
def test_unknown_dtype_name(backend, make):
    with pytest.raises(TypeError, match=r"unknown dtype '[\w-]+'; expected a name such as "
                                        r"'float32', 'float64', 'int64' or 'bool'"):
        make()


@pytest.mark.parametrize("data, message", [
    ("abc", "tensor: cannot make a tensor from str data"),
    (None, "tensor: cannot make a tensor from NoneType data"),
    ({"a": 1}, "tensor: cannot make a tensor from dict data"),
])
def test_tensor_from_non_numbers(backend, data, message):
    with raises(TypeError, message):
        tr.tensor(data)


def test_tensor_from_ragged_lists(backend):
    with raises(ValueError, "tensor: cannot make a tensor from this data"):
        tr.tensor([[1.0, 2.0], [3.0]])


# ---- options ---------------------------------------------------------------------------
def test_clip_bounds(backend):
    x = tr.randn(3)
    with raises(ValueError, "clip: min (1) is larger than max (0)"):
        tr.clip(x, 1, 0)
    with raises(ValueError, "clip: give at least one of min and max"):
        x.clip()
    with raises(TypeError, "clip: min must be a number or None; got Tensor"):
        tr.clip(x, tr.tensor(0.0))


def test_bad_reduction_option(backend):
    with raises(ValueError, "cross_entropy: reduction must be 'mean', 'sum' or 'none'; "
                            "got 'avg'"):
        tr.cross_entropy(tr.randn(2, 3), tr.tensor([0, 1]), reduction="avg")


@pytest.mark.parametrize("p", [1.0, -0.1, 1.5])
def test_dropout_probability(backend, p):
    with raises(ValueError, f"dropout: p must be in [0, 1); got {p}"):
        tr.dropout(tr.randn(3), p)


def test_where_needs_a_boolean_condition(backend):
    with pytest.raises(TypeError, match="where: cond must be boolean; got .*float32"):
        tr.where(tr.randn(3), tr.randn(3), 0.0)


def test_embedding_weight_must_be_2d(backend):
    with raises(ValueError, "embedding: weight must be 2-D (vocab, dim); got (3,)"):
        tr.embedding(tr.tensor([1]), tr.randn(3))


def test_item_and_truth_value_of_many_elements(backend):
    x = tr.randn(2, 3)
    with raises(ValueError, "item: only a single-element tensor converts to a Python "
                            "number; this one has shape (2, 3)"):
        x.item()
    with raises(ValueError, "the truth value of a tensor of shape (2, 3) is ambiguous"):
        bool(x)


def test_setitem_while_recording(backend):
    with raises(RuntimeError, "setitem: cannot assign into a tensor that requires grad"):
        tr.randn(3, requires_grad=True)[0] = 1.0
