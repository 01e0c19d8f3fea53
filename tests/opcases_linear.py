"""Gradient-check cases for ``tinyrnn.ops.linear`` (y = x W^T + b as one op):
leading axes of every rank, with and without a bias, and an input that needs
no gradient (the first layer of a network)."""
from __future__ import annotations

from opcase import OpCase, randn

from tinyrnn.ops import linear
from tinyrnn.ops.linalg import Linear

CASES = [
    OpCase(Linear, "linear_2d_bias", linear, lambda: [randn(4, 3), randn(2, 3), randn(2)]),
    OpCase(Linear, "linear_time_batch", linear,
           lambda: [randn(3, 2, 4), randn(5, 4), randn(5)]),
    OpCase(Linear, "linear_1d_input", linear, lambda: [randn(3), randn(2, 3), randn(2)]),
    OpCase(Linear, "linear_no_bias", lambda x, w: linear(x, w),
           lambda: [randn(2, 3, 3), randn(4, 3)]),
    OpCase(Linear, "linear_const_input", linear,
           lambda: [randn(3, 2, requires_grad=False), randn(3, 2), randn(3)]),
]
