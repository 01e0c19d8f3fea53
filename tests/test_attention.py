"""Additive (Bahdanau) attention: the layer against the equations written out
in NumPy, its gradients against central differences (float64, a random
upstream gradient, unequal sizes so a transposed axis cannot pass), masking,
the precomputed key projection, and bad input."""
import numpy as np
import pytest

import tinyrnn as tr
from tinyrnn import nn

S, B, Q, K, A, V = 5, 3, 4, 6, 7, 2        # positions, batch, query, key, attention, value sizes


def draw(seed=0):
    rng = np.random.default_rng(seed)
    return dict(query=rng.standard_normal((B, Q)), keys=rng.standard_normal((S, B, K)),
                values=rng.standard_normal((S, B, V)), weight_query=rng.standard_normal((A, Q)),
                weight_key=rng.standard_normal((A, K)), score_weight=rng.standard_normal(A))


def reference(query, keys, values, weight_query, weight_key, score_weight, mask=None):
    """The equations one example and one position at a time."""
    context, alpha = np.zeros((B, values.shape[2])), np.zeros((S, B))
    for b in range(B):
        e = np.array([score_weight @ np.tanh(weight_query @ query[b] + weight_key @ keys[s, b])
                      for s in range(S)])
        if mask is not None:
            e = np.where(mask[:, b], e, -np.inf)
        a = np.exp(e - e.max())
        alpha[:, b] = a / a.sum()
        context[b] = sum(alpha[s, b] * values[s, b] for s in range(S))
    return context, alpha


def tensors(arrays, requires_grad=True):
    return {k: tr.tensor(v, requires_grad=requires_grad) for k, v in arrays.items()}


def test_matches_the_equations(backend):
    arrays = draw()
    context, alpha = nn.additive_attention(**tensors(arrays, requires_grad=False))
    want_context, want_alpha = reference(**arrays)
    np.testing.assert_allclose(alpha.numpy(), want_alpha, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(context.numpy(), want_context, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(alpha.numpy().sum(axis=0), np.ones(B), rtol=1e-12)


def test_masked_positions_get_no_weight(backend):
    arrays = draw(1)
    mask = np.ones((S, B), dtype=bool)
    mask[3:, 0] = False                  # example 0 has 3 real positions
    mask[1:, 2] = False                  # example 2 has 1
    context, alpha = nn.additive_attention(**tensors(arrays, requires_grad=False), mask=mask)
    want_context, want_alpha = reference(**arrays, mask=mask)
    assert not alpha.numpy()[~mask].any()                        # exactly zero
    np.testing.assert_allclose(alpha.numpy(), want_alpha, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(context.numpy(), want_context, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(context.numpy()[2], arrays["values"][0, 2], rtol=1e-12)


def test_a_row_with_every_position_masked_is_finite(backend):
    arrays = draw(2)
    mask = np.ones((S, B), dtype=bool)
    mask[:, 1] = False
    ts = tensors(arrays)
    context, alpha = nn.additive_attention(**ts, mask=mask)
    (context * tr.tensor(np.ones((B, V)))).sum().backward()
    assert np.isfinite(alpha.numpy()).all() and np.isfinite(context.numpy()).all()
    assert all(np.isfinite(t.grad.numpy()).all() for t in ts.values())


@pytest.mark.parametrize("masked", [False, True])
def test_gradients_of_every_input_and_weight(backend, masked):
    arrays = draw(3)
    mask = None
    if masked:
        mask = np.ones((S, B), dtype=bool)
        mask[2:, 1] = False
    names = list(arrays)

    def f(*ts):
        return nn.additive_attention(*ts, mask=mask)          # (context, alpha): both checked

    assert tr.gradcheck(f, [tr.tensor(arrays[k], requires_grad=True) for k in names], seed=5)


def test_gradients_through_the_layer_with_projected_keys(backend):
    """The decoder's path: keys projected once, then several steps read them."""
    tr.manual_seed(4)
    layer = nn.AdditiveAttention(Q, K, A).double()
    arrays = draw(4)

    def decode(query, keys, wq, wk, w):
        layer.weight_query, layer.weight_key, layer.score_weight = wq, wk, w
        projected = layer.project_keys(keys)
        q, outs = query, []
        for _ in range(3):                                     # the context feeds the next query
            context, alpha = layer(q, keys, projected_keys=projected)
            outs += [context, alpha]
            q = tr.tanh(q + tr.sum(context, axis=1, keepdims=True))
        return outs

    inputs = [tr.tensor(arrays["query"], requires_grad=True), tr.tensor(arrays["keys"], requires_grad=True),
              *(tr.tensor(arrays[k], requires_grad=True) for k in ("weight_query", "weight_key", "score_weight"))]
    assert tr.gradcheck(decode, inputs, seed=6)


def test_the_layer_reads_its_own_parameters():
    tr.manual_seed(0)
    layer = nn.AdditiveAttention(Q, K, A).double()
    assert {k: v.shape for k, v in layer.state_dict().items()} == {
        "weight_query": (A, Q), "weight_key": (A, K), "score_weight": (A,)}
    assert repr(layer) == f"AdditiveAttention({Q}, {K}, {A})"
    for name, p in layer.named_parameters():                   # U(-k, k), k = 1 / sqrt(fan in)
        k = 1 / np.sqrt({"weight_query": Q, "weight_key": K, "score_weight": A}[name])
        assert np.abs(p.numpy()).max() <= k and np.abs(p.numpy()).max() > k / 2
    arrays = draw(5)
    query, keys = tr.tensor(arrays["query"]), tr.tensor(arrays["keys"])
    context, alpha = layer(query, keys)                         # values default to the keys
    want_context, want_alpha = reference(arrays["query"], arrays["keys"], arrays["keys"],
                                         *(layer.state_dict()[k] for k in
                                           ("weight_query", "weight_key", "score_weight")))
    np.testing.assert_allclose(context.numpy(), want_context, rtol=1e-10, atol=1e-12)
    again, _ = layer(query, keys, projected_keys=layer.project_keys(keys))
    np.testing.assert_allclose(again.numpy(), context.numpy(), rtol=1e-12)
    context.sum().backward()
    assert all(p.grad is not None and np.abs(p.grad.numpy()).sum() > 0 for p in layer.parameters())


def test_bad_shapes_are_refused():
    layer = nn.AdditiveAttention(Q, K, A)
    with pytest.raises(ValueError, match="additive_attention: expected query"):
        layer(tr.randn(1, B, Q), tr.randn(S, B, K))
    with pytest.raises(ValueError, match="additive_attention"):
        layer(tr.randn(B, Q), tr.randn(B, K))
