"""Record what a recurrent network does, as numbers: the recording side of
looking inside a network (:mod:`.draw` draws the results; it imports this
module, never the other way round).

After Karpathy, Johnson & Fei-Fei 2015 ("Visualizing and Understanding
Recurrent Networks"), Ostmeyer & Cowell 2017 and Pascanu et al. 2013:

* :func:`trace` runs a model step by step and records, per layer and time
  step, the output h and whatever each cell reports from inside through its
  ``step_with_internals`` (the LSTM's cell c and gates i, f, o; the GRU's
  gates r, z; the RWA's log-weights a) -- nothing here knows the cell types;
* :func:`unit_values` picks the activations to colour a text with, and
  :func:`rank_units` finds the units that follow a per-character signal such
  as :func:`inside_string`, :func:`line_position`, :func:`indent_depth`;
* :func:`gate_saturation`: how often each gate unit is left-saturated (< 0.1)
  or right-saturated (> 0.9);
* :func:`bptt_gradient_norms`: ||dL/dh_t|| against t through
  backpropagation through time (vanishing and exploding gradients), with
  and without clipping inside BPTT.

Everything returns NumPy arrays (or lists of (unit, r) pairs).
"""
from __future__ import annotations

import numpy as np

from .. import ops
from ..autograd import no_grad
from ..nn.recurrent import Recurrent
from ..nn.state import flatten_state, unflatten_state
from ..tensor import Tensor

__all__ = ["trace", "unit_values", "rank_units", "inside_string", "line_position",
           "indent_depth", "gate_saturation", "gate_names", "bptt_gradient_norms", "as_array"]


def as_array(values, name: str, fn: str, ndim: int | tuple = 1) -> np.ndarray:
    """``values`` as a float64 NumPy array of the expected rank, or a clear error
    naming the function ``fn`` and the argument ``name``."""
    if isinstance(values, Tensor):
        values = values.numpy()
    a = np.asarray(values, dtype=np.float64)
    ndims = (ndim,) if isinstance(ndim, int) else ndim
    if a.ndim not in ndims:
        raise ValueError(f"{fn}: {name} has shape {a.shape}; expected "
                         f"{' or '.join(f'{d}-D' for d in ndims)}")
    return a


# ---------------------------------------------------------------------------
# Looking inside a model: record states and gates step by step
# ---------------------------------------------------------------------------
def _stack_of(model) -> tuple:
    """(the Recurrent stack, the embedding or None) of a CharLM-like model or a stack."""
    if isinstance(getattr(model, "rnn", None), Recurrent):
        return model.rnn, getattr(model, "embedding", None)
    if isinstance(model, Recurrent):
        return model, None
    raise TypeError(f"trace: expected a CharLM-like model (with .rnn, a Recurrent stack) "
                    f"or a Recurrent stack such as nn.LSTM; got {type(model).__name__}")


def trace(model, inputs, state=None) -> list[dict[str, np.ndarray]]:
    """Run ``model`` over ``inputs`` one step at a time and record what happens inside.

    Parameters
    ----------
    model : a CharLM (``inputs`` are ids (T, B) or (T,)) or a Recurrent stack
        such as ``nn.LSTM`` (``inputs`` are features (T, B, I)).
    inputs : array or Tensor, see above.
    state : the stack's initial states (one per layer), or None for zeros.

    Returns
    -------
    One dict per layer (bottom first) of NumPy arrays (T, B, H): ``"h"`` the
    output, and every value the layer's cell reports from inside
    (``Cell.step_with_internals``): for an LSTM ``"c"`` (the cell, before tanh)
    and the gates ``"i"``, ``"f"``, ``"o"``; for a GRU ``"r"`` and ``"z"``; for
    an RWA ``"a"``, the log-weights. (B is 1 for 1-D ids.)

    The model runs in eval mode (no dropout) under ``no_grad``, through its
    readable cells (never the fused kernels). The values come from the cells'
    own step, so nothing here repeats the cell equations, and a new cell (or a
    subclass of one) is traced as it is.
    """
    rnn, embedding = _stack_of(model)
    backend = next(iter(rnn.parameters())).backend
    if not isinstance(inputs, Tensor):
        inputs = Tensor(np.asarray(inputs), backend=backend)
    if embedding is not None and inputs.ndim == 1:
        inputs = inputs.reshape(inputs.shape[0], 1)
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            x = embedding(inputs) if embedding is not None else inputs
            _, _, layers = rnn.forward_with_internals(x, state)
    finally:
        model.train(was_training)
    return [{name: v.numpy() for name, v in layer.items()} for layer in layers]


def unit_values(records: list[dict], layer: int = -1, kind: str | None = None
                ) -> np.ndarray:
    """The activations to colour text with, (T, H) for the first sequence of the batch.

    ``kind`` "cell" is tanh(c) (LSTM only; Karpathy et al.'s choice; for a
    layer-normalised LSTM this is tanh of the raw cell, not of LN(c)), "h" the
    output; None picks tanh(c) when there is a cell, else h.
    """
    rec = records[layer]
    if kind is None:
        kind = "cell" if "c" in rec else "h"
    if kind == "cell":
        if "c" not in rec:
            raise ValueError("unit_values: kind='cell' needs an LSTM layer (it has c); "
                             f"this layer recorded {sorted(rec)}")
        return np.tanh(rec["c"][:, 0])
    if kind == "h":
        return rec["h"][:, 0]
    raise ValueError(f"unit_values: kind must be 'cell', 'h' or None; got {kind!r}")


# ---------------------------------------------------------------------------
# Which units follow a signal?
# ---------------------------------------------------------------------------
def rank_units(activations, signal, top: int | None = None) -> list[tuple[int, float]]:
    """Rank units by how well their activation follows a per-character ``signal``.

    Parameters
    ----------
    activations : (N, H) array, one row per character (e.g. from :func:`unit_values`).
    signal : (N,) array (e.g. :func:`inside_string` of the text), or a
        predicate: booleans work too.
    top : keep the best ``top`` units (all when None).

    Returns
    -------
    [(unit, r), ...] sorted by |r| descending, r the Pearson correlation between
    the unit's activation and the signal (0 for a constant unit or signal). A
    negative r is as good as a positive one: the unit tracks the signal with
    the opposite sign.
    """
    a = as_array(activations, "activations", "rank_units", 2)
    s = as_array(signal, "signal", "rank_units")
    if len(s) != len(a):
        raise ValueError(f"rank_units: signal has {len(s)} values, activations "
                         f"{len(a)} rows; expected one value per row (character)")
    a_c, s_c = a - a.mean(axis=0), s - s.mean()
    denom = np.sqrt((a_c ** 2).sum(axis=0) * (s_c ** 2).sum())
    varies = (np.ptp(a, axis=0) > 0) & (np.ptp(s) > 0)    # exactly constant: r = 0
    r = np.divide(s_c @ a_c, denom, out=np.zeros(a.shape[1]), where=varies & (denom > 0))
    order = np.argsort(-np.abs(r), kind="stable")[:top]
    return [(int(u), float(r[u])) for u in order]


def inside_string(text: str) -> np.ndarray:
    """1.0 for each character read while inside a Python string literal, else 0.0.

    The value at i is the state *after* reading character i (the opening quote
    is inside, the closing quote outside). Handles ' " and triple quotes,
    backslash escapes, and ``#`` comments (quotes there open nothing). A
    newline ends a single-quoted string (an unterminated literal).
    """
    out = np.zeros(len(text))
    i, quote, comment = 0, None, False
    while i < len(text):
        ch = text[i]
        if comment:
            comment = ch != "\n"
        elif quote is None:
            if ch == "#":
                comment = True
            elif ch in "'\"":
                quote = ch * 3 if text.startswith(ch * 3, i) else ch
                out[i:i + len(quote)] = 1.0
                i += len(quote)
                continue
        else:
            if ch == "\\":
                out[i:i + 2] = 1.0
                i += 2
                continue
            if text.startswith(quote, i):
                i += len(quote)         # the closing quote: outside again (0)
                quote = None
                continue
            if ch == "\n" and len(quote) == 1:
                quote = None
            else:
                out[i] = 1.0
        i += 1
    return out


def line_position(text: str) -> np.ndarray:
    """The column after reading each character: 1 for a line's first character,
    2 for its second ...; 0 after a newline (a line-length counter's target)."""
    out = np.zeros(len(text))
    col = 0
    for i, ch in enumerate(text):
        col = 0 if ch == "\n" else col + 1
        out[i] = col
    return out


def indent_depth(text: str) -> np.ndarray:
    """The indentation of the current line (leading spaces; a tab counts 4) for
    each character, as far as it has been read: it grows through the leading
    whitespace and then stays; a newline resets it to 0."""
    out = np.zeros(len(text))
    depth, leading = 0, True
    for i, ch in enumerate(text):
        if ch == "\n":
            depth, leading = 0, True
        elif leading and ch in " \t":
            depth += 4 if ch == "\t" else 1
        else:
            leading = False
        out[i] = depth
    return out


# ---------------------------------------------------------------------------
# Gate saturation (Karpathy, Johnson & Fei-Fei 2015, Fig. 3)
# ---------------------------------------------------------------------------
def gate_saturation(values, low: float = 0.1, high: float = 0.9
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Per gate unit, the fraction of steps left-saturated (< ``low``) and
    right-saturated (> ``high``).

    values : (..., H) gate activations in [0, 1]; all leading axes (time,
    batch) count as steps. Returns ``(left (H,), right (H,))``.
    """
    v = as_array(values, "values", "gate_saturation", (2, 3))
    v = v.reshape(-1, v.shape[-1])
    return (v < low).mean(axis=0), (v > high).mean(axis=0)


def gate_names(record: dict) -> list[str]:
    """The entries of one layer's :func:`trace` record that are gates: values
    that all lie in [0, 1] (sigmoid outputs), other than the layer's output h
    and an LSTM's cell c, in the record's order."""
    gates = []
    for name, values in record.items():
        if name in ("h", "c"):
            continue
        v = np.asarray(values.numpy() if isinstance(values, Tensor) else values)
        if v.size and np.issubdtype(v.dtype, np.number) and v.min() >= 0 and v.max() <= 1:
            gates.append(name)
    return gates


# ---------------------------------------------------------------------------
# Gradients through time (Bengio et al. 1994; Pascanu et al. 2013)
# ---------------------------------------------------------------------------
def _final_loss(h: Tensor, loss_fn, rng) -> Tensor:
    if loss_fn is not None:
        return loss_fn(h)
    v = rng.standard_normal(h.shape[1])
    v = Tensor((v / np.linalg.norm(v)).astype(h.numpy().dtype), backend=h.backend)
    return (h * v).sum()           # dL/dh_T = v (a unit vector) for every sequence


def bptt_gradient_norms(cell, x, state=None, clip: float | None = None, loss_fn=None,
                        seed: int = 0) -> np.ndarray:
    """||dL/dh_t|| for t = 1 .. T, for a loss L on the last step only.

    Parameters
    ----------
    cell : a composed cell (RNNCell, LSTMCell, GRUCell, RWACell ...).
    x : (T, B, I) inputs (array or Tensor).
    state : the initial state (None: the cell's zeros).
    clip : None: one backward through the whole unrolled graph, reading each
        step's gradient with ``retain_grad()``. A number: backpropagate one
        step at a time and rescale every sequence's gradient with respect to
        the state (all its tensors together, e.g. (h, c)) to norm at most
        ``clip`` before passing it on to the step before -- clipping *inside*
        BPTT (as Graves 2013 clips the LSTM's backward pass), so that one
        exploding stretch cannot blow up all the earlier steps. (Clipping the
        parameters' gradient after backward, ``clip_grad_norm_``, changes none
        of these numbers: it acts on the sum over steps.)
    loss_fn : maps h_T (B, H) to a scalar Tensor; default L = sum_b v . h_T[b]
        with a fixed random unit vector v (``seed``), so that ||dL/dh_T|| = 1.

    Returns
    -------
    (T,) float64: the norm of each sequence's dL/dh_t (after clipping, when
    clipping), averaged over the B sequences. For a tanh RNN with small
    recurrent weights it shrinks geometrically going back in time (vanishing
    gradients); with large ones it grows (exploding). The cell's parameter
    gradients are restored to what they were.
    """
    params = list(cell.parameters())
    if not isinstance(x, Tensor):
        x = Tensor(np.asarray(x), backend=params[0].backend)
    if x.ndim != 3:
        raise ValueError(f"bptt_gradient_norms: x has shape {x.shape}; expected "
                         "(time, batch, input_size)")
    if clip is not None and not clip > 0:
        raise ValueError(f"bptt_gradient_norms: clip must be positive or None; got {clip}")
    rng = np.random.default_rng(seed)
    xs = [x_t[0] for x_t in ops.split(x, 1, axis=0)]
    saved = [p.grad for p in params]
    try:
        if clip is None:
            hs = []
            for x_t in xs:
                h, state = cell(x_t, state)
                hs.append(h.retain_grad())
            _final_loss(hs[-1], loss_fn, rng).backward()
        else:
            hs = _clipped_bptt(cell, xs, state, clip, loss_fn, rng)
        return np.array([_row_norms(h.grad).mean() if h.grad is not None else 0.0
                         for h in hs])
    finally:
        for p, g in zip(params, saved):
            p.grad = g


def _row_norms(g: Tensor) -> np.ndarray:
    """The L2 norm of each row (sequence) of a (B, ...) gradient."""
    a = g.numpy().astype(np.float64)
    return np.sqrt((a ** 2).reshape(a.shape[0], -1).sum(axis=1))


def _clipped_bptt(cell, xs, state, clip, loss_fn, rng) -> list:
    """BPTT one step at a time, clipping each sequence's state gradient on the way.

    Each step starts from a detached copy of the state before it, so backward
    through that step stops at the copy and leaves dL/d(state) in its .grad;
    we clip that and push it into the step before with the surrogate loss
    sum(state_out * grad), whose gradient with respect to state_out is grad.
    Returns the per-step outputs h_t, each holding (clipped) dL/dh_t in .grad.
    """
    if state is None:
        state = cell.initial_state(xs[0].shape[0])
    copies, outs, hs = [], [], []
    for x_t in xs:
        tensors, structure = flatten_state(state)
        leaves = [t.detach().requires_grad_(t.backend.is_floating(t.data)) for t in tensors]
        h, state = cell(x_t, unflatten_state(structure, leaves))
        copies.append(leaves)
        outs.append(flatten_state(state)[0])
        hs.append(h.retain_grad())
    _final_loss(hs[-1], loss_fn, rng).backward()
    for t in range(len(xs) - 1, 0, -1):
        grads = _clip_rows([leaf.grad for leaf in copies[t]], clip)
        terms = [(out * g).sum() for out, g in zip(outs[t - 1], grads)
                 if g is not None and out.requires_grad]
        if terms:
            total = terms[0]
            for term in terms[1:]:
                total = total + term
            total.backward()
    return hs


def _clip_rows(grads: list, clip: float) -> list:
    """Scale each row b of all gradients together so that their joint norm is <= clip."""
    present = [g for g in grads if g is not None]
    if not present:
        return grads
    total = np.sqrt(sum(_row_norms(g) ** 2 for g in present))         # (B,)
    scale = np.minimum(1.0, clip / np.maximum(total, 1e-300))
    out = []
    for g in grads:
        if g is None:
            out.append(None)
            continue
        a = g.numpy()
        s = scale.reshape((-1,) + (1,) * (a.ndim - 1)).astype(a.dtype)
        out.append(Tensor(a * s, backend=g.backend))
    return out
