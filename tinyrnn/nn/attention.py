"""Additive attention (Bahdanau, Cho & Bengio 2015): a decoder reads a
weighted average of the encoder's states, with weights it computes itself.

At each decoder step the query q (the decoder's state) scores every encoder
position s with a one-hidden-layer network,

    e_s = w . tanh(W_q q + W_k k_s)          (the "additive" score)
    alpha = softmax over s of e              (the attention weights, sum to 1)
    context = sum_s alpha_s v_s              (what the decoder reads)

and the context enters the decoder's next step. Keys and values are usually
the same encoder outputs. Everything is composed from engine ops (linear,
tanh, sum, softmax, where), so the backward comes from them; the projection
W_k k_s does not depend on the decoder, so a decoder computes it once per
source sequence (:meth:`AdditiveAttention.project_keys`) and passes it to
every step.

Shapes are time-major like tinyrnn's recurrent layers: keys (S, B, K),
values (S, B, V), query (B, Q), mask (S, B) boolean (True = a real
position), alpha (S, B), context (B, V).
"""
from __future__ import annotations

import math

from .. import ops
from . import init
from .layers import empty_parameter
from .module import Module

__all__ = ["AdditiveAttention", "additive_attention"]

# A masked position's score: exp(-1e9 - max) is exactly 0 in float32 and float64,
# and, unlike -inf, a row with every position masked gives no nan (-inf - -inf).
MASKED_SCORE = -1e9


def additive_attention(query, keys, values, weight_query, weight_key, score_weight,
                       mask=None, projected_keys=None):
    """One attention read: ``(context (B, V), alpha (S, B))``.

    query (B, Q), keys (S, B, K), values (S, B, V); weight_query (A, Q),
    weight_key (A, K), score_weight (A,); mask (S, B) boolean or None.
    ``projected_keys`` (S, B, A), if given, is ``keys @ weight_key.T`` computed
    earlier (then ``keys`` is not read).
    """
    if query.ndim != 2 or values.ndim != 3 or (keys is not None and keys.ndim != 3):
        raise ValueError(f"additive_attention: expected query (B, Q), keys and values (S, B, *); "
                         f"got query {query.shape}, keys {None if keys is None else keys.shape}, "
                         f"values {values.shape}")
    pk = projected_keys if projected_keys is not None else ops.linear(keys, weight_key)
    pq = ops.linear(query, weight_query)                      # (B, A)
    u = ops.tanh(pk + pq)                                     # (S, B, A): pq broadcast over s
    scores = ops.sum(u * score_weight, axis=-1)               # (S, B)
    if mask is not None:
        scores = ops.where(mask, scores, MASKED_SCORE)
    alpha = ops.softmax(scores, axis=0)                       # over the source positions
    S, B = alpha.shape
    context = ops.sum(ops.reshape(alpha, (S, B, 1)) * values, axis=0)     # (B, V)
    return context, alpha


class AdditiveAttention(Module):
    """Bahdanau's additive attention as a layer.

    ``AdditiveAttention(query_size, key_size, attention_size)``: parameters
    weight_query (A, Q), weight_key (A, K) and score_weight (A,), all
    U(-k, k) with k = 1 / sqrt(fan in) (A's for the score vector).

    ``context, alpha = attn(query, keys, values=None, mask=None, projected_keys=None)``
    with the shapes of :func:`additive_attention`; values default to the keys.
    """

    def __init__(self, query_size: int, key_size: int, attention_size: int, backend=None):
        self.query_size, self.key_size, self.attention_size = query_size, key_size, attention_size
        for name, shape, fan_in in [("weight_query", (attention_size, query_size), query_size),
                                    ("weight_key", (attention_size, key_size), key_size),
                                    ("score_weight", (attention_size,), attention_size)]:
            k = 1.0 / math.sqrt(fan_in)
            setattr(self, name, init.uniform_(empty_parameter(*shape, backend=backend), -k, k))

    def project_keys(self, keys):
        """keys (S, B, K) -> W_k k_s for every position (S, B, A); compute once per source."""
        return ops.linear(keys, self.weight_key)

    def forward(self, query, keys, values=None, mask=None, projected_keys=None):
        values = keys if values is None else values
        return additive_attention(query, keys, values, self.weight_query, self.weight_key,
                                  self.score_weight, mask=mask, projected_keys=projected_keys)

    def extra_repr(self) -> str:
        return f"{self.query_size}, {self.key_size}, {self.attention_size}"
