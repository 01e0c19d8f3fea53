"""The engine adds a value's gradient contributions in place only into sums it
allocated itself during the current backward call; these tests try to catch it
writing into an array someone else can see."""
from __future__ import annotations

import numpy as np

import tinyrnn as tr


def test_a_weight_used_at_many_steps_gets_the_sum(backend):
    w = tr.tensor(np.linspace(-1, 1, 6).reshape(2, 3), dtype="float64", requires_grad=True)
    xs = [tr.tensor(np.full((4, 2), k + 1.0), dtype="float64") for k in range(5)]
    sum(((x @ w) ** 2).sum() for x in xs).backward()
    expected = sum(2 * x.numpy().T @ (x.numpy() @ w.numpy()) for x in xs)
    np.testing.assert_allclose(w.grad.numpy(), expected, rtol=1e-12)


def test_a_grad_held_from_an_earlier_backward_is_not_modified(backend):
    w = tr.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    (w * w + w * 3.0 + w).sum().backward()           # three contributions: a sum, then in place
    held = w.grad
    before = held.numpy().copy()
    (w * w + w * 3.0 + w).sum().backward()
    np.testing.assert_array_equal(held.numpy(), before)
    np.testing.assert_allclose(w.grad.numpy(), 2 * before)


def test_one_gradient_handed_to_two_inputs_stays_intact(backend):
    # Add hands the same upstream array to both inputs; a and b then collect
    # more contributions, which must not leak from one into the other.
    a = tr.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    b = tr.tensor([3.0, 5.0], dtype="float64", requires_grad=True)
    y = (a + b) * 2.0 + a * a + a * 4.0 + b * b + b * 6.0
    y.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), 2 + 2 * a.numpy() + 4)
    np.testing.assert_allclose(b.grad.numpy(), 2 + 2 * b.numpy() + 6)


def test_an_intermediate_used_many_times_and_retained(backend):
    x = tr.tensor([0.5, -1.0], dtype="float64", requires_grad=True)
    h = (x * 2.0).retain_grad()
    y = h * h + h * 3.0 + h.exp() + h
    y.sum().backward()
    hv = 2 * x.numpy()
    dh = 2 * hv + 3 + np.exp(hv) + 1
    np.testing.assert_allclose(h.grad.numpy(), dh, rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), 2 * dh, rtol=1e-12)


def test_a_leaf_gradient_of_another_dtype_is_cast_then_summed(backend):
    w = tr.tensor([1.0, 2.0], requires_grad=True)                  # float32
    x = tr.tensor([3.0, 4.0], dtype="float64")
    (w * x + w * x + w * x).sum().backward()                       # float64 contributions
    assert w.grad.dtype == w.dtype
    np.testing.assert_allclose(w.grad.numpy(), 3 * x.numpy())


def test_backward_replays_the_forward_pass_backwards(backend):
    """A node fed only by a leaf (W.T at every step of an RNN) runs right after
    the step that used it, so its gradient does not wait in memory for the
    whole sequence (a depth-ordered walk would run all of them last)."""
    order = []

    class Tag(tr.Function):
        @staticmethod
        def forward(ctx, x, name=""):
            ctx.name = name
            return x

        @staticmethod
        def backward(ctx, dy):
            order.append(ctx.name)
            return dy

    w = tr.tensor([0.5, 2.0], dtype="float64", requires_grad=True)
    h = tr.tensor([1.0, 1.0], dtype="float64")
    for t in range(3):
        h = Tag.apply(h * Tag.apply(w, name=f"w{t}"), name=f"h{t}")
    h.sum().backward()
    assert order == ["h2", "w2", "h1", "w1", "h0", "w0"]
    np.testing.assert_allclose(w.grad.numpy(), 3 * w.numpy() ** 2)
