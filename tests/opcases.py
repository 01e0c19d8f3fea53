"""Gradient-check cases for the core ops (tinyrnn/ops/*.py).

One ``OpCase`` per interesting situation of each op: broadcasting wherever
the op broadcasts, Python-number constants, 0-d and 1-d edge shapes, every
indexing form. See ``tests/opcase.py`` for how cases work and how to add
your own in a file ``tests/opcases_<topic>.py``.
"""
from __future__ import annotations

import numpy as np

import tinyrnn as tr
from opcase import OpCase, randn, positive, away_from, grid, const, ints, mask
from tinyrnn.ops.arithmetic import Add, Sub, Mul, Div, Neg, Pow, Maximum, Minimum, Where
from tinyrnn.ops.unary import Exp, Log, Sqrt, Tanh, Sigmoid, Relu, Clip
from tinyrnn.ops.reduce import Sum, Mean, Max, Min, LogSumExp
from tinyrnn.ops.linalg import MatMul
from tinyrnn.ops.shape import (Reshape, Permute, BroadcastTo, GetItem, Take, Concat,
                               Stack, Split)
from tinyrnn.ops.softmax import Softmax, LogSoftmax, CrossEntropy
from tinyrnn.ops.normalization import LayerNorm
from tinyrnn.ops.dropout import Dropout


def _tied_pair():
    """a and b equal at half the positions: ``maximum`` must split dy 50/50 there,
    which is exactly what the central difference sees at a tie."""
    a = randn(2, 3)
    b = a.numpy().copy()
    b[:, 1:] += np.array([0.3, -0.4])
    return [a, tr.tensor(b, dtype="float64", requires_grad=True)]


def _dropout(x):
    tr.manual_seed(7)                    # the same mask on every evaluation
    return tr.dropout(x, p=0.3)


BINARY = [  # (op class, function) pairs that broadcast like NumPy
    (Add, lambda a, b: a + b), (Sub, lambda a, b: a - b),
    (Mul, lambda a, b: a * b), (Div, lambda a, b: a / b),
]

CASES = []
for cls, f in BINARY:
    name = cls.__name__.lower()
    rhs = positive if cls is Div else randn          # divide by numbers away from 0
    CASES += [
        OpCase(cls, f"{name}_same_shape", f, lambda rhs=rhs: [randn(2, 3), rhs(2, 3)]),
        OpCase(cls, f"{name}_col_row", f, lambda rhs=rhs: [randn(3, 1), rhs(1, 3)]),
        OpCase(cls, f"{name}_leading_axis", f, lambda rhs=rhs: [randn(3), rhs(2, 3)]),
        OpCase(cls, f"{name}_leading_axis_rev", f, lambda rhs=rhs: [randn(2, 3), rhs(3)]),
        OpCase(cls, f"{name}_0d_tensor", f, lambda rhs=rhs: [randn(), rhs(2, 3)]),
        OpCase(cls, f"{name}_3d_broadcast", f, lambda rhs=rhs: [randn(2, 1, 3), rhs(4, 1)]),
        OpCase(cls, f"{name}_scalar_right", lambda a, f=f: f(a, 1.7), lambda: [randn(2, 3)]),
        OpCase(cls, f"{name}_scalar_left", lambda a, f=f: f(1.7, a),
               lambda rhs=rhs: [rhs(2, 3)]),
        OpCase(cls, f"{name}_numpy_scalar", lambda a, f=f: f(a, np.float64(1.3)),
               lambda: [randn(2, 3)]),
        OpCase(cls, f"{name}_const_tensor", f,
               lambda rhs=rhs: [randn(2, 3), rhs(3, requires_grad=False)]),
        OpCase(cls, f"{name}_same_tensor_twice", lambda a, f=f: f(a, a),
               lambda rhs=rhs: [rhs(2, 3)]),
    ]

CASES += [
    # ---- neg, pow -----------------------------------------------------------
    OpCase(Neg, "neg_operator", lambda x: -x, lambda: [randn(2, 3)]),
    OpCase(Neg, "neg_function_0d", tr.neg, lambda: [randn()]),
    OpCase(Pow, "pow_square", lambda x: x ** 2, lambda: [randn(2, 3)]),
    OpCase(Pow, "pow_cube_negative_base", lambda x: x ** 3, lambda: [randn(2, 3)]),
    OpCase(Pow, "pow_fractional", lambda x: x ** 0.5, lambda: [positive(2, 3)]),
    OpCase(Pow, "pow_negative_exponent", lambda x: x ** -1.5, lambda: [positive(2, 3)]),
    OpCase(Pow, "pow_tensor_exponent_broadcast", lambda a, b: a ** b,
           lambda: [positive(3, 1), randn(1, 3)]),
    OpCase(Pow, "pow_scalar_base", lambda b: 2.0 ** b, lambda: [randn(2, 3)]),
    OpCase(Pow, "pow_const_tensor_exponent", lambda a, b: tr.pow(a, b),
           lambda: [positive(2, 3), randn(3, requires_grad=False)]),
    # ---- maximum, minimum, where --------------------------------------------
    OpCase(Maximum, "maximum_col_row", tr.maximum,
           lambda: [grid(3, 1), grid(1, 3, offset=0.1)]),
    OpCase(Maximum, "maximum_leading_axis", tr.maximum,
           lambda: [grid(3), grid(2, 3, offset=0.1)]),
    OpCase(Maximum, "maximum_scalar", lambda a: tr.maximum(a, 0.1), lambda: [grid(2, 3)]),
    OpCase(Maximum, "maximum_ties_split_evenly", tr.maximum, _tied_pair),
    OpCase(Minimum, "minimum_col_row", tr.minimum,
           lambda: [grid(3, 1), grid(1, 3, offset=0.1)]),
    OpCase(Minimum, "minimum_scalar_left", lambda a: tr.minimum(0.1, a),
           lambda: [grid(2, 3)]),
    OpCase(Minimum, "minimum_ties_split_evenly", tr.minimum, _tied_pair),
    OpCase(Where, "where_same_shape", tr.where,
           lambda: [mask([[True, False, True], [False, False, True]]),
                    randn(2, 3), randn(2, 3)]),
    OpCase(Where, "where_broadcast", tr.where,
           lambda: [mask([[True], [False], [True]]), randn(1, 4), randn(3, 4)]),
    OpCase(Where, "where_scalar_branch", lambda c, a: tr.where(c, a, 0.0),
           lambda: [mask([True, False, True]), randn(2, 3)]),
    OpCase(Where, "where_from_comparison", lambda a, b: tr.where(a > 0, a, b),
           lambda: [away_from(2, 3), randn(2, 3)]),
    # ---- element-wise functions --------------------------------------------
    OpCase(Exp, "exp", tr.exp, lambda: [randn(2, 3)]),
    OpCase(Log, "log", tr.log, lambda: [positive(2, 3, low=0.2, high=3.0)]),
    OpCase(Sqrt, "sqrt", tr.sqrt, lambda: [positive(2, 3, low=0.2, high=3.0)]),
    OpCase(Tanh, "tanh", tr.tanh, lambda: [randn(2, 3, scale=2.0)]),
    OpCase(Sigmoid, "sigmoid", tr.sigmoid, lambda: [randn(2, 3, scale=3.0)]),
    OpCase(Sigmoid, "sigmoid_large_inputs", tr.sigmoid,
           lambda: [tr.tensor([-40.0, -12.0, -0.3, 0.0, 0.3, 12.0, 40.0], dtype="float64",
                              requires_grad=True)]),
    OpCase(Relu, "relu", tr.relu, lambda: [away_from(3, 4)]),
    OpCase(Relu, "relu_method", lambda x: x.relu(), lambda: [away_from(2, 3)]),
    OpCase(Clip, "clip_both", lambda x: tr.clip(x, -0.5, 0.5),
           lambda: [away_from(3, 4, points=(-0.5, 0.5))]),
    OpCase(Clip, "clip_min_only", lambda x: x.clip(min=0.2),
           lambda: [away_from(3, 4, points=(0.2,))]),
    OpCase(Clip, "clip_max_only", lambda x: tr.clip(x, max=-0.1),
           lambda: [away_from(3, 4, points=(-0.1,))]),
    # ---- reductions ---------------------------------------------------------
    OpCase(Sum, "sum_all", tr.sum, lambda: [randn(2, 3, 2)]),
    OpCase(Sum, "sum_axis", lambda x: x.sum(axis=1), lambda: [randn(2, 3, 2)]),
    OpCase(Sum, "sum_axes_keepdims", lambda x: x.sum(axis=(0, 2), keepdims=True),
           lambda: [randn(2, 3, 2)]),
    OpCase(Sum, "sum_negative_axis", lambda x: x.sum(axis=-1), lambda: [randn(2, 3)]),
    OpCase(Sum, "sum_0d", tr.sum, lambda: [randn()]),
    OpCase(Mean, "mean_all", tr.mean, lambda: [randn(2, 3, 2)]),
    OpCase(Mean, "mean_axis_keepdims", lambda x: x.mean(axis=0, keepdims=True),
           lambda: [randn(2, 3, 2)]),
    OpCase(Mean, "mean_axes", lambda x: x.mean(axis=(-1, 0)), lambda: [randn(2, 3, 2)]),
    OpCase(Max, "max_all", tr.max, lambda: [grid(2, 3, 2)]),
    OpCase(Max, "max_axis", lambda x: x.max(axis=1), lambda: [grid(2, 3, 2)]),
    OpCase(Max, "max_axes_keepdims", lambda x: x.max(axis=(0, 2), keepdims=True),
           lambda: [grid(2, 3, 2)]),
    OpCase(Min, "min_all", tr.min, lambda: [grid(2, 3)]),
    OpCase(Min, "min_axis_keepdims", lambda x: x.min(axis=-1, keepdims=True),
           lambda: [grid(2, 3, 2)]),
    OpCase(LogSumExp, "logsumexp_last_axis", lambda x: tr.logsumexp(x, axis=-1),
           lambda: [randn(3, 4)]),
    OpCase(LogSumExp, "logsumexp_all", tr.logsumexp, lambda: [randn(2, 3)]),
    OpCase(LogSumExp, "logsumexp_axis0_keepdims",
           lambda x: x.logsumexp(axis=0, keepdims=True), lambda: [randn(3, 4)]),
    OpCase(LogSumExp, "logsumexp_large_values", lambda x: tr.logsumexp(x, axis=1),
           lambda: [randn(2, 3, scale=3.0, shift=500.0)]),
    # ---- matmul -------------------------------------------------------------
    OpCase(MatMul, "matmul_2d", lambda a, b: a @ b, lambda: [randn(2, 3), randn(3, 4)]),
    OpCase(MatMul, "matmul_vec_mat", tr.matmul, lambda: [randn(3), randn(3, 4)]),
    OpCase(MatMul, "matmul_mat_vec", tr.matmul, lambda: [randn(2, 3), randn(3)]),
    OpCase(MatMul, "matmul_dot", tr.matmul, lambda: [randn(3), randn(3)]),
    OpCase(MatMul, "matmul_batched", tr.matmul, lambda: [randn(2, 2, 3), randn(2, 3, 2)]),
    OpCase(MatMul, "matmul_batched_shared_rhs", tr.matmul,
           lambda: [randn(2, 2, 3), randn(3, 4)]),
    OpCase(MatMul, "matmul_batch_broadcast", tr.matmul,
           lambda: [randn(2, 1, 2, 3), randn(3, 3, 2)]),
    OpCase(MatMul, "matmul_batched_vec", tr.matmul, lambda: [randn(2, 2, 3), randn(3)]),
    OpCase(MatMul, "matmul_vec_batched", tr.matmul, lambda: [randn(3), randn(2, 3, 2)]),
    OpCase(MatMul, "matmul_const_lhs", tr.matmul,
           lambda: [randn(2, 3, requires_grad=False), randn(3, 2)]),
    # ---- shapes ---------------------------------------------------------------
    OpCase(Reshape, "reshape", lambda x: x.reshape(3, 2), lambda: [randn(2, 3)]),
    OpCase(Reshape, "reshape_infer", lambda x: x.reshape(-1), lambda: [randn(2, 3, 2)]),
    OpCase(Reshape, "reshape_add_axes", lambda x: tr.reshape(x, (2, 1, 3)),
           lambda: [randn(6)]),
    OpCase(Reshape, "reshape_0d", lambda x: x.reshape(1, 1), lambda: [randn()]),
    OpCase(Permute, "permute_3d", lambda x: x.permute(2, 0, 1), lambda: [randn(2, 3, 4)]),
    OpCase(Permute, "transpose", lambda x: x.transpose(0, 2), lambda: [randn(2, 3, 2)]),
    OpCase(Permute, "T_2d", lambda x: x.T, lambda: [randn(2, 3)]),
    OpCase(BroadcastTo, "broadcast_to_lead_and_ones",
           lambda x: tr.broadcast_to(x, (2, 3, 4)), lambda: [randn(3, 1)]),
    OpCase(BroadcastTo, "broadcast_to_row", lambda x: x.broadcast_to(3, 4),
           lambda: [randn(4)]),
    OpCase(BroadcastTo, "broadcast_to_0d", lambda x: x.broadcast_to(2, 2),
           lambda: [randn()]),
    # ---- basic indexing ------------------------------------------------------
    OpCase(GetItem, "getitem_int", lambda x: x[1], lambda: [randn(3, 4)]),
    OpCase(GetItem, "getitem_negative_int", lambda x: x[-1, 2], lambda: [randn(3, 4)]),
    OpCase(GetItem, "getitem_slice", lambda x: x[1:3], lambda: [randn(4, 2)]),
    OpCase(GetItem, "getitem_step", lambda x: x[::2, 1:], lambda: [randn(5, 3)]),
    OpCase(GetItem, "getitem_reverse", lambda x: x[::-1], lambda: [randn(4)]),
    OpCase(GetItem, "getitem_none", lambda x: x[:, None, 1], lambda: [randn(3, 4)]),
    OpCase(GetItem, "getitem_ellipsis", lambda x: x[..., 0], lambda: [randn(2, 3, 2)]),
    OpCase(GetItem, "getitem_ellipsis_mixed", lambda x: x[1, ..., None, 1:],
           lambda: [randn(2, 3, 3)]),
    # ---- gathers: integer arrays, embedding, boolean masks --------------------
    OpCase(Take, "getitem_int_list_repeats", lambda x: x[[0, 2, 0, 0]],
           lambda: [randn(3, 2)]),
    OpCase(Take, "getitem_int_array_axis1", lambda x, i: x[:, i],
           lambda: [randn(2, 3), ints([1, 1, 0])]),
    OpCase(Take, "getitem_int_array_2d", lambda x, i: x[i],
           lambda: [randn(3, 2), ints([[0, 2], [2, 2]])]),
    OpCase(Take, "getitem_negative_indices", lambda x: x[[-1, 0, -1]],
           lambda: [randn(3, 2)]),
    OpCase(Take, "take_axis1", lambda x, i: tr.take(x, i, axis=1),
           lambda: [randn(2, 3, 2), ints([2, 0, 2])]),
    OpCase(Take, "take_last_axis", lambda x, i: tr.take(x, i, axis=-1),
           lambda: [randn(2, 3), ints([[0, 0], [1, 2]])]),
    OpCase(Take, "embedding_repeats", lambda i, w: tr.embedding(i, w),
           lambda: [ints([[1, 3, 1], [0, 1, 3]]), randn(4, 3)]),
    OpCase(Take, "getitem_bool_mask_2d", lambda x, m: x[m],
           lambda: [randn(2, 3, 2), mask([[True, False, True], [False, True, True]])]),
    OpCase(Take, "getitem_bool_mask_axis1", lambda x, m: x[:, m],
           lambda: [randn(2, 4), mask([False, True, True, False])]),
    OpCase(Take, "getitem_bool_list", lambda x: x[[True, False, True]],
           lambda: [randn(3, 2)]),
    # ---- joining and cutting -------------------------------------------------
    OpCase(Concat, "concat_axis0_with_const", lambda a, b, c: tr.concat([a, b, c]),
           lambda: [randn(2, 3), randn(1, 3), randn(1, 3, requires_grad=False)]),
    OpCase(Concat, "concat_axis1", lambda a, b: tr.concat([a, b], axis=1),
           lambda: [randn(2, 1), randn(2, 3)]),
    OpCase(Concat, "concat_negative_axis", lambda a, b: tr.concat([a, b], axis=-1),
           lambda: [randn(2, 2, 1), randn(2, 2, 2)]),
    OpCase(Concat, "concat_same_tensor", lambda a: tr.concat([a, a], axis=0),
           lambda: [randn(2, 2)]),
    OpCase(Stack, "stack_axis0", lambda a, b, c: tr.stack([a, b, c]),
           lambda: [randn(2, 3), randn(2, 3), randn(2, 3, requires_grad=False)]),
    OpCase(Stack, "stack_axis1", lambda a, b: tr.stack([a, b], axis=1),
           lambda: [randn(2, 3), randn(2, 3)]),
    OpCase(Stack, "stack_last_axis", lambda a, b: tr.stack([a, b], axis=-1),
           lambda: [randn(3), randn(3)]),
    OpCase(Split, "split_equal_sizes", lambda x: tr.split(x, 2),
           lambda: [randn(5, 2)]),
    OpCase(Split, "split_sections_axis1", lambda x: x.split([1, 3], axis=1),
           lambda: [randn(2, 4)]),
    OpCase(Split, "split_some_outputs_unused", lambda x: tr.split(x, [1, 2, 1], axis=-1)[1],
           lambda: [randn(2, 4)]),
    OpCase(Split, "split_pieces_reused", lambda x: (lambda p: p[0] * p[2] + p[0])(
        tr.split(x, 1, axis=0)), lambda: [randn(3, 2)]),
    # ---- neural-network ops --------------------------------------------------
    OpCase(Softmax, "softmax_last_axis", tr.softmax, lambda: [randn(3, 4)]),
    OpCase(Softmax, "softmax_axis0", lambda x: x.softmax(axis=0), lambda: [randn(3, 4)]),
    OpCase(Softmax, "softmax_3d_middle_axis", lambda x: tr.softmax(x, axis=1),
           lambda: [randn(2, 3, 2, scale=3.0)]),
    OpCase(LogSoftmax, "log_softmax_last_axis", tr.log_softmax, lambda: [randn(3, 4)]),
    OpCase(LogSoftmax, "log_softmax_axis0", lambda x: x.log_softmax(axis=0),
           lambda: [randn(3, 4)]),
    OpCase(LogSoftmax, "log_softmax_large_logits", tr.log_softmax,
           lambda: [randn(2, 4, scale=50.0, shift=300.0)]),
    OpCase(CrossEntropy, "cross_entropy_mean", tr.cross_entropy,
           lambda: [randn(4, 5), ints([0, 3, 4, 3])]),
    OpCase(CrossEntropy, "cross_entropy_sum",
           lambda z, t: tr.cross_entropy(z, t, reduction="sum"),
           lambda: [randn(4, 5), ints([1, 1, 2, 0])]),
    OpCase(CrossEntropy, "cross_entropy_none",
           lambda z, t: tr.cross_entropy(z, t, reduction="none"),
           lambda: [randn(4, 3), ints([2, 0, 1, 2])]),
    OpCase(CrossEntropy, "cross_entropy_sequence_TBC", tr.cross_entropy,
           lambda: [randn(3, 2, 4), ints([[0, 3], [2, 2], [1, 0]])]),
    OpCase(CrossEntropy, "cross_entropy_ignore_index_mean", tr.cross_entropy,
           lambda: [randn(4, 3), ints([2, -100, 1, -100])]),
    OpCase(CrossEntropy, "cross_entropy_ignore_index_custom_none",
           lambda z, t: tr.cross_entropy(z, t, reduction="none", ignore_index=0),
           lambda: [randn(4, 3), ints([2, 0, 1, 0])]),
    OpCase(CrossEntropy, "cross_entropy_large_logits", tr.cross_entropy,
           lambda: [randn(3, 4, scale=100.0), ints([0, 1, 3])]),
    OpCase(LayerNorm, "layer_norm_gain_bias", tr.layer_norm,
           lambda: [randn(2, 3, 4), randn(4, shift=1.0), randn(4)]),
    OpCase(LayerNorm, "layer_norm_plain", tr.layer_norm, lambda: [randn(3, 5)]),
    OpCase(LayerNorm, "layer_norm_gain_only", lambda x, g: tr.layer_norm(x, g),
           lambda: [randn(3, 4), randn(4)]),
    OpCase(LayerNorm, "layer_norm_bias_only", lambda x, b: tr.layer_norm(x, None, b),
           lambda: [randn(3, 4), randn(4)]),
    OpCase(LayerNorm, "layer_norm_const_params", tr.layer_norm,
           lambda: [randn(2, 4), randn(4, requires_grad=False),
                    randn(4, requires_grad=False)]),
    OpCase(Dropout, "dropout_reseeded", _dropout, lambda: [randn(4, 5)]),
    # ---- composites: graphs with fan-out and several ops --------------------
    OpCase((Mul, Tanh, Add), "composite_diamond",
           lambda x, w: (lambda h: h * h + h)(tr.tanh(x @ w)),
           lambda: [randn(2, 3), randn(3, 2)]),
    OpCase((Sigmoid, Mul, Sum), "composite_gate",
           lambda x, w, b: (tr.sigmoid(x @ w + b) * x).sum(axis=0),
           lambda: [randn(2, 3), randn(3, 3), randn(3)]),
]

# ---- ties: max / min split dy among tied extremes ------------------------------
# Exactly two elements share an extreme (never three): the central difference
# at a pair tie is 1/2, the share backward gives each, so a wrong split shows.
def _tied(values):
    return tr.tensor(np.asarray(values, dtype=np.float64), dtype="float64", requires_grad=True)


_PAIRS_ALONG_AXIS1 = [[[1.0, -0.5], [1.0, 0.7], [0.2, 0.7]],      # both columns tie at the max
                      [[-0.3, 0.4], [0.9, -1.2], [-0.3, 0.1]]]    # min ties in column 0

CASES += [
    OpCase(Max, "max_all_tied_pair", tr.max,
           lambda: [_tied([[0.5, 2.0, -1.0], [2.0, 0.3, 1.1]])]),
    OpCase(Max, "max_axis_tied_and_untied", lambda x: x.max(axis=1),
           lambda: [_tied(_PAIRS_ALONG_AXIS1)]),
    OpCase(Min, "min_all_tied_pair", tr.min,
           lambda: [_tied([[0.4, -1.1, 0.9], [-1.1, 0.6, 2.0]])]),
    OpCase(Min, "min_axis_tied_and_untied", lambda x: x.min(axis=1, keepdims=True),
           lambda: [_tied(_PAIRS_ALONG_AXIS1)]),
    OpCase(Min, "min_last_axis_tied_row", lambda x: x.min(axis=-1),
           lambda: [_tied([[0.3, -0.8, -0.8], [1.5, 0.2, 0.6]])]),
    OpCase(Where, "where_scalar_first_branch", lambda c, b: tr.where(c, 0.5, b),
           lambda: [mask([[True, False, True], [False, False, True]]), randn(2, 3)]),
]
