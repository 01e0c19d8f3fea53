"""The one char-LM checkpoint schema: what a ``.npz`` written by tinyrnn holds.

Every char-LM checkpoint -- from ``python -m tinyrnn train``, the examples or
the lectures -- is a :mod:`tinyrnn.utils.checkpoint` file (arrays + JSON meta,
atomic, no pickle) laid out so::

    arrays                           meta (JSON)
    param/<name>   the weights       kind     "tinyrnn.charlm"
                                     model    CharLM.config(): cell, sizes, dropout
                                     vocab    CharVocab.to_dict()
    -- only in a training run's checkpoint, to resume it exactly --
    optim/<key>    optimizer arrays  train    the run's options (TrainConfig)
    state/<i>      carried state     data     {"path", "sha256", "chars"} of the text
    history/<col>  the log columns   step, epoch, best_val, rng_state,
                                     state_structure, optimizer_scalars

A checkpoint with only the first block samples with ``python -m tinyrnn
sample`` and starts a new run with ``--finetune-from``; one with both blocks
also resumes with ``--init-from``. This module is the only place that knows
these names; it never imports the training loop.
"""
from __future__ import annotations

import math
import os

import numpy as np

from ..backend import BackendError, get_backend
from ..nn.state import flatten_state, unflatten_state
from ..utils import checkpoint
from .errors import DataError, ModelFileError
from .model import CharLM
from .schema import MetaError, check_meta
from .vocab import CharVocab

__all__ = ["KIND", "param_arrays", "load_params", "save_model", "save_run",
           "read_checkpoint", "build_model", "load_model", "describe", "architecture",
           "optimizer_state", "hidden_state", "check_hidden_state", "history", "flatten_state",
           "unflatten_state", "get_backend_or_error", "ModelFileError"]

KIND = "tinyrnn.charlm"


# ---------------------------------------------------------------------------
# Parameters of any module
# ---------------------------------------------------------------------------
def param_arrays(module) -> dict:
    """``{"param/<name>": array}`` of a module's state dict (host NumPy arrays)."""
    return {f"param/{k}": v for k, v in module.state_dict().items()}


LEGACY_ONE_HOT = "param/embedding.weight"  # the V x V identity older one-hot models stored


def is_identity(table: np.ndarray) -> bool:
    """Is a square ``table`` the identity (checked without building one)?"""
    return table.ndim == 2 and table.shape[0] == table.shape[1] \
        and bool(np.all(np.diagonal(table) == 1)) \
        and int(np.count_nonzero(table)) == table.shape[0]


def load_params(module, arrays: dict) -> None:
    """Load the ``param/`` entries of a checkpoint's arrays into ``module``.

    A one-hot model's checkpoint from an older tinyrnn also holds the V x V
    identity it used as its input table; it is checked and left out."""
    params = {k[len("param/"):]: v for k, v in arrays.items() if k.startswith("param/")}
    legacy = LEGACY_ONE_HOT[len("param/"):]
    if legacy in params and getattr(module, "embedding_dim", 0) is None:
        if not is_identity(params[legacy]):
            raise ValueError(f"{LEGACY_ONE_HOT!r} of a one-hot model must be the identity")
        del params[legacy]
    module.load_state_dict(params)


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------
def save_model(path, model: CharLM, vocab: CharVocab, **meta) -> None:
    """A checkpoint of a trained CharLM and its vocabulary, which ``sample`` reads.

    Extra ``meta`` fields of the schema (say, ``val_nll``, a validation loss)
    are stored beside it; a field the schema does not know is refused here, a
    MetaError naming it, rather than written into a file no load would accept.
    """
    checkpoint.save(path, *model_checkpoint(model, vocab, **meta))


def model_checkpoint(model: CharLM, vocab: CharVocab, **meta) -> tuple[dict, dict]:
    """``(arrays, meta)`` of the checkpoint :func:`save_model` writes (its meta
    checked against :mod:`.schema`)."""
    meta = {**meta, "kind": KIND, "model": model.config(), "vocab": vocab.to_dict()}
    check_meta(meta)
    return param_arrays(model), meta


def save_run(path, model: CharLM, vocab: CharVocab, *, optimizer_state: dict, state,
             history: dict, meta: dict) -> None:
    """A training run's checkpoint: the model plus everything to resume it exactly.

    ``meta`` holds the run's JSON fields (train, data, step, epoch, best_val,
    rng_state); the optimizer's arrays, the carried hidden state and the
    history columns become arrays.
    """
    arrays = param_arrays(model)
    scalars = {}                   # the optimizer's numbers go in the JSON meta
    for key, value in optimizer_state.items():
        if isinstance(value, np.ndarray):
            arrays[f"optim/{key}"] = value
        else:
            scalars[key] = value
    leaves, structure = flatten_state(state)
    for i, t in enumerate(leaves):
        arrays[f"state/{i}"] = t.numpy()
    for key, column in history.items():
        arrays[f"history/{key}"] = np.asarray(column, dtype=np.float64)
    checkpoint.save(path, arrays, {**meta, "kind": KIND, "model": model.config(),
                                   "vocab": vocab.to_dict(), "state_structure": structure,
                                   "optimizer_scalars": scalars})


# ---------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------
def _missing_best(path: str) -> str | None:
    """Why ``.../best.npz`` is missing, when its run trained without validation."""
    folder, name = os.path.split(path)
    latest = os.path.join(folder, "latest.npz")
    if name != "best.npz" or not os.path.isfile(latest):
        return None
    try:
        _, meta = checkpoint.load(latest)
    except checkpoint.CheckpointError:
        return None
    if (meta.get("train") or {}).get("val_frac") == 0:
        return (f"checkpoint {path!r} does not exist: that run trained with --val-frac 0 "
                f"(no validation text, so no best model); use {latest!r}")
    return None


MODEL_PARTS = ("param/*",)        # what sampling, export and fine-tuning read
RUN_PARTS = ("param/*", "optim/*", "state/*", "history/*")
OPTIMIZER_BUFFERS = 2             # Adam's m and v: the most any optimizer keeps


def expected_arrays(meta: dict, stored: dict) -> dict:
    """What a char-LM checkpoint must hold, computed from its own config.

    ``checkpoint.load`` calls this after reading the meta and the arrays'
    headers, before any data. The meta is checked field by field first
    (:func:`~.schema.check_meta`), then ``param/*`` must be exactly the
    parameters of the model the config describes, and the rest is bounded by
    what that model needs: ``optim/*`` holds at most :data:`OPTIMIZER_BUFFERS`
    arrays per parameter, each of its shape; ``state/*`` at most one (B, H, H)
    array per layer and state tensor (fast weights' memory, the largest);
    ``history/*`` one float64 per step in each column. So a file's cost is
    proportional to the model it describes, whatever it declares.
    """
    if meta.get("kind") != KIND or not isinstance(meta.get("model"), dict):
        return {"*": (None, None)}           # read_checkpoint refuses it by name
    check_meta(meta)
    config = meta["model"]
    V, H, L = (config[k] for k in ("vocab_size", "hidden_size", "num_layers"))
    E = config.get("embedding_dim") or V
    stored_bytes = sum(h.nbytes for k, h in stored.items() if k.startswith("param/"))
    least = 4 * (L * H * H + V * H)
    if least > stored_bytes:
        raise ValueError(f"its config describes at least {least:,} bytes of parameters, "
                         f"but it stores {stored_bytes:,}")
    model = CharLM.from_config(config)
    params = {f"param/{k}": (p.numpy().dtype, p.shape) for k, p in model.named_parameters()}
    param_bytes = sum(math.prod(shape) * dtype.itemsize for dtype, shape in params.values())
    batch = (meta.get("train") or {}).get("batch_size", 1)
    batch = batch if isinstance(batch, int) and 0 < batch <= 10**6 else 1
    budgets = {"optim/": OPTIMIZER_BUFFERS * param_bytes + 64,
               "state/": 8 * L * 4 * batch * (H * H + H),
               "history/": 8 * meta.get("step", 0)}          # one row per step made
    for prefix, budget in budgets.items():
        arrays = {k: h for k, h in stored.items() if k.startswith(prefix)}
        declared = (max((h.nbytes for h in arrays.values()), default=0)
                    if prefix == "history/" else sum(h.nbytes for h in arrays.values()))
        if declared > budget:
            raise ValueError(f"its {prefix}* arrays declare {declared:,} bytes, more than "
                             f"the {budget:,} its model and step can need")
    if config.get("embedding_dim") is None and LEGACY_ONE_HOT in stored:
        params[LEGACY_ONE_HOT] = (None, (V, V))
    return {**params, "optim/*": (None, None), "state/*": (None, None),
            "history/*": (np.float64, (None,))}


def read_checkpoint(path: str, resumable: bool = False) -> tuple[dict, dict]:
    """Load a char-LM checkpoint: ``(arrays, meta)``, or a ModelFileError naming the file.

    ``path`` may be a directory, meaning its ``latest.npz``. ``resumable``
    asks for a training run's checkpoint (see the module docstring) and
    reads every part; otherwise only the weights (``param/*``) are read, the
    rest of the file stays untouched. The meta is checked field by field
    (:mod:`.schema`). ``meta["path"]`` is set to the file read.
    """
    if os.path.isdir(path):
        path = os.path.join(path, "latest.npz")
    if not os.path.lexists(path) and _missing_best(path):
        raise ModelFileError(_missing_best(path))
    try:
        arrays, meta = checkpoint.load(path, expected=expected_arrays,
                                       only=RUN_PARTS if resumable else MODEL_PARTS)
    except checkpoint.CheckpointError as e:
        raise ModelFileError(str(e)) from None
    if meta.get("kind") != KIND:
        raise ModelFileError(f"checkpoint {path!r} is not a tinyrnn char-LM checkpoint "
                         f"(kind {meta.get('kind')!r})")
    if resumable and not isinstance(meta.get("data"), dict):
        raise ModelFileError(f"checkpoint {path!r} holds a model but no training run to "
                         "resume (or one written by an older tinyrnn); start a new run "
                         f"from its weights with --finetune-from {path}")
    try:
        check_meta(meta, resumable)
    except MetaError as e:
        raise ModelFileError(f"checkpoint {path!r}: {e}") from None
    for key, array in arrays.items():            # the log may hold NaN (no validation)
        if not key.startswith("history/") and array.dtype.kind in "fc" \
                and not np.isfinite(array).all():
            raise ModelFileError(f"checkpoint {path!r}: member {key!r} holds NaN or "
                                 "infinite values; expected finite numbers")
    meta["path"] = path
    return arrays, meta


def build_model(arrays: dict, meta: dict, dropout: float | None = None
                ) -> tuple[CharLM, CharVocab]:
    """The checkpoint's model (optionally with another dropout) and vocabulary."""
    config = dict(meta["model"])
    if dropout is not None:
        config["dropout"] = dropout
    try:
        vocab = CharVocab.from_json(meta["vocab"])
        model = CharLM.from_config(config)
        load_params(model, arrays)
    except (DataError, ValueError, TypeError, KeyError) as e:
        raise ModelFileError(f"checkpoint {meta.get('path')!r} is inconsistent: {e}") from None
    return model, vocab


def get_backend_or_error(name: str):
    try:
        return get_backend(name)
    except BackendError as e:
        raise BackendError(f"--backend {name}: {e}") from None


def load_model(path: str, backend: str = "numpy") -> tuple[CharLM, CharVocab, dict]:
    """Rebuild a trained model from a checkpoint: ``(model, vocab, meta)``.

    The model is in eval mode on ``backend``. Errors are ModelFileErrors naming the file.
    """
    arrays, meta = read_checkpoint(path)
    model, vocab = build_model(arrays, meta)
    model.to(get_backend_or_error(backend))
    return model.eval(), vocab, meta


def architecture(meta: dict) -> dict:
    """The model's shape in the command line's terms: model, rnn_size, num_layers."""
    m = meta["model"]
    return {"model": m.get("cell"), "rnn_size": m.get("hidden_size"),
            "num_layers": m.get("num_layers")}


def describe(meta: dict) -> str:
    """One line on what a checkpoint holds, for messages."""
    a = architecture(meta)
    line = f"a {a['num_layers']}-layer {a['model']} of {a['rnn_size']} units"
    if "step" in meta:
        line += f" at step {meta['step']}"
    best = meta.get("best_val")
    if isinstance(best, (int, float)) and math.isfinite(best):
        line += f" (best validation loss {best:.4f} nats/char)"
    return line


def optimizer_state(arrays: dict, meta: dict) -> dict:
    """The optimizer's state dict as the trainer saved it."""
    state = {k[len("optim/"):]: v for k, v in arrays.items() if k.startswith("optim/")}
    state.update(meta.get("optimizer_scalars", {}))
    return state


def hidden_state(arrays: dict, meta: dict, backend):
    """The carried hidden state (nested lists/tuples of Tensors on ``backend``)."""
    from ..tensor import tensor
    count = sum(k.startswith("state/") for k in arrays)
    leaves = [tensor(arrays[f"state/{i}"], backend=backend) for i in range(count)]
    return unflatten_state(meta.get("state_structure"), leaves)


def check_hidden_state(state, model: CharLM, cfg, path: str) -> None:
    """A resumed carried state must have the structure, shapes and dtypes of the
    state ``model`` starts with at ``cfg.batch_size`` (ModelFileError if not)."""
    if state is None:
        return
    want_leaves, want = flatten_state(model.initial_state(cfg.batch_size))
    got_leaves, got = flatten_state(state)
    shapes = [(t.shape, str(t.numpy().dtype)) for t in got_leaves]
    if got != want or shapes != [(t.shape, str(t.numpy().dtype)) for t in want_leaves]:
        raise ModelFileError(f"checkpoint {path!r} cannot be resumed: its carried state "
                             f"(state/*: {shapes[:4]}) is not the state of its "
                             f"{cfg.num_layers}-layer {cfg.model} at --batch-size "
                             f"{cfg.batch_size}")


def history(arrays: dict, columns: tuple, step: int) -> dict:
    """The log columns saved with the run (``step`` and ``epoch`` as ints).

    They must hold together, or resuming would copy a broken log into every
    later checkpoint: every column present and of one length, at most one row
    per step made, the steps increasing and none after ``step``. ValueError
    (one line) otherwise.
    """
    missing = [k for k in columns if f"history/{k}" not in arrays]
    if missing and len(missing) < len(columns):
        raise ValueError(f"its history lacks the column(s) {', '.join(missing)}")
    h = {k: arrays[f"history/{k}"].tolist() if not missing else [] for k in columns}
    lengths = {k: len(v) for k, v in h.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError("its history columns have unequal lengths ("
                         + ", ".join(f"{k} {n}" for k, n in lengths.items()) + ")")
    steps = np.asarray(h["step"])
    if len(steps) > step or not np.all(np.isfinite(steps)) or np.any(np.diff(steps) <= 0) \
            or (len(steps) and (steps[0] < 1 or steps[-1] > step)):
        raise ValueError(f"its history's step column is not increasing from 1 to at most "
                         f"the checkpoint's step {step}")
    for key in ("step", "epoch"):
        if not np.all(np.isfinite(h[key])):
            raise ValueError(f"its history's {key} column holds NaN or infinite values")
        h[key] = [int(v) for v in h[key]]
    return h
