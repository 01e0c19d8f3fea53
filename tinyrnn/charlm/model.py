"""``CharLM``: the character-level language model of char-rnn.

    ids (T, B) --Embedding--> (T, B, E) --recurrent layers--> (T, B, H)
        --Dropout--> --Linear--> logits (T, B, V)

trained to predict character t+1 from characters 0..t with
``cross_entropy(logits, targets)``. With ``embedding_dim=None`` the input is
one-hot, as in char-rnn and min-char-rnn: :class:`OneHot` makes the (T, B, V)
vectors from the ids directly, with no V x V identity table and nothing to
train, so memory grows with V (times T*B and the G*H input weights), never
with V squared. A model predicts at most :data:`MAX_VOCAB` characters.
"""
from __future__ import annotations

from .. import ops
from ..ops.shape import check_indices
from ..tensor import Tensor
from ..nn.checks import check_dropout, check_positive_int
from ..nn.layers import Embedding, Linear
from ..nn.module import Module
from ..nn.recurrent import Recurrent
from ..nn.registry import make_cell
from ..nn.state import detach_state

__all__ = ["CharLM", "OneHot", "MAX_VOCAB"]

# Distinct characters a model may predict. Its logits are (T, B, V) floats and
# its decoder V x H weights: 65,536 characters with char-rnn's T = B = 50 are
# 655 MB of logits per step already (a Chinese or Japanese text has ~3,000-10,000).
MAX_VOCAB = 65_536


class OneHot(Module):
    """ids (any shape, ints in [0, V)) -> one-hot float32 vectors (*ids.shape, V).

    ``y[..., v] = 1 if ids[...] == v else 0``: the rows of the V x V identity
    that an identity embedding would gather, made by one comparison with
    ``arange(V)`` instead, so the identity never exists. Nothing is learned
    and no gradient flows to integer ids, so this is no op of the graph: the
    result is a constant tensor.
    """

    def __init__(self, num_classes: int, backend=None):
        check_positive_int("OneHot", "num_classes", num_classes)
        self.num_classes, self.backend = num_classes, backend

    def forward(self, ids, dtype="float32") -> Tensor:
        if not isinstance(ids, Tensor):
            ids = Tensor(ids, backend=self.backend)
        backend = ids.backend
        xp = backend.xp
        indices = check_indices(backend, ids.data, self.num_classes, "one-hot input",
                                negative=False)
        hot = xp.reshape(indices, indices.shape + (1,)) == backend.arange(self.num_classes)
        return Tensor(xp.astype(hot, backend.dtype(dtype)), backend=backend)

    def extra_repr(self) -> str:
        return f"{self.num_classes}"


class CharLM(Module):
    """Embedding -> a stack of recurrent cells -> Linear, over characters.

    Parameters
    ----------
    vocab_size : V, the number of distinct characters.
    hidden_size : H, units per recurrent layer (char-rnn's ``rnn_size``, 128).
    num_layers : recurrent layers (char-rnn: 2).
    cell : a :func:`~tinyrnn.nn.make_cell` name: "rnn", "lstm", "gru", "rwa",
        "fw", "RNN-LN-FW", "RNN-LN", "CONTROL", "GRU-LN".
    dropout : dropout between the recurrent layers and before the decoder
        (char-rnn's places), active in training mode only.
    embedding_dim : E; None means one-hot inputs (E = V, made by :class:`OneHot`).
    fused : run plain RNN / LSTM / GRU layers through their fused sequence
        kernels (fast; the default); False runs the readable cells step by step
        (:class:`~tinyrnn.nn.LSTMCell` ...), e.g. to follow the computation
        line by line. Both give the same numbers and take the same weights, so
        this is a way of running, not part of :meth:`config`.
    backend : where the parameters live (the default backend when None).
    **cell_options : passed to every cell (e.g. ``forget_bias=1.0`` for LSTM,
        ``nonlinearity="relu"``, ``layer_norm=True``); must be JSON-able so that
        :meth:`config` can go into a checkpoint.

    ``forward(ids (T, B) int, state=None) -> (logits (T, B, V), state)``, where
    ``state`` holds one cell state per layer; carry it (after
    ``detach_state``) into the next chunk for truncated BPTT.
    """

    def __init__(self, vocab_size: int, hidden_size: int = 128, num_layers: int = 2,
                 cell: str = "lstm", dropout: float = 0.0, embedding_dim: int | None = None,
                 fused: bool = True, backend=None, **cell_options):
        for name, value in (("vocab_size", vocab_size), ("hidden_size", hidden_size),
                            ("num_layers", num_layers)):
            check_positive_int("CharLM", name, value)
        if embedding_dim is not None:
            check_positive_int("CharLM", "embedding_dim", embedding_dim)
        check_dropout("CharLM", dropout)
        self.vocab_size, self.hidden_size, self.num_layers = vocab_size, hidden_size, num_layers
        self.cell, self.dropout, self.embedding_dim = cell, float(dropout), embedding_dim
        if vocab_size > MAX_VOCAB:
            raise ValueError(f"CharLM: vocab_size {vocab_size:,} is more than the "
                             f"{MAX_VOCAB:,} distinct characters a model may predict")
        self.cell_options = dict(cell_options)
        E = vocab_size if embedding_dim is None else embedding_dim
        self.embedding = OneHot(vocab_size, backend=backend) if embedding_dim is None \
            else Embedding(vocab_size, E, backend=backend)
        cells = [make_cell(cell, E if k == 0 else hidden_size, hidden_size, backend=backend,
                           **cell_options) for k in range(num_layers)]
        self.rnn = Recurrent(cells, dropout=dropout, fused=fused)
        self.decoder = Linear(hidden_size, vocab_size, backend=backend)

    def initial_state(self, batch_size: int) -> list:
        return self.rnn.initial_state(batch_size)

    def forward(self, ids, state=None):
        """ids (T, B) integer -> (logits (T, B, V), state: one cell state per layer)."""
        if not isinstance(ids, Tensor):
            ids = Tensor(ids, backend=self.decoder.weight.backend)
        if ids.ndim != 2:
            raise ValueError(f"CharLM: ids of shape {ids.shape}; expected (time, batch) "
                             "integer character ids")
        x = self.embedding(ids) if self.embedding_dim is not None else \
            self.embedding(ids, dtype=self.decoder.weight.data.dtype)   # (T, B, E)
        out, state = self.rnn(x, state)                          # (T, B, H)
        out = ops.dropout(out, self.dropout, self.training)
        return self.decoder(out), state                          # (T, B, V)

    detach_state = staticmethod(detach_state)

    def config(self) -> dict:
        """The constructor's arguments as a JSON-able dict (stored in checkpoints)."""
        return {"vocab_size": self.vocab_size, "hidden_size": self.hidden_size,
                "num_layers": self.num_layers, "cell": self.cell, "dropout": self.dropout,
                "embedding_dim": self.embedding_dim, **self.cell_options}

    @classmethod
    def from_config(cls, config: dict, backend=None) -> "CharLM":
        """A new model built from :meth:`config`'s dict (weights not included)."""
        if not isinstance(config, dict) or "vocab_size" not in config:
            raise ValueError(f"CharLM.from_config: expected a dict from CharLM.config() "
                             f"with at least 'vocab_size'; got {str(config)[:80]}")
        return cls(**config, backend=backend)

    def extra_repr(self) -> str:
        return (f"vocab_size={self.vocab_size}, cell={self.cell!r}, "
                f"hidden_size={self.hidden_size}, num_layers={self.num_layers}")
