"""A char-LM checkpoint as PyTorch modules' weights, and back.

tinyrnn's :class:`~tinyrnn.nn.CharLM` already uses PyTorch's names. Its
weights are, for a model of V characters, E input features (E = V for the
one-hot input of the command line), L layers of H units and G gates (1 for
RNN, 3 for GRU, 4 for LSTM)::

    embedding.weight     (V, E)     nn.Embedding(V, E); the V x V identity when one-hot
    rnn.weight_ih_l{k}   (G*H, E if k == 0 else H)    nn.RNN / nn.GRU / nn.LSTM
    rnn.weight_hh_l{k}   (G*H, H)                     (E, H, num_layers=L)
    rnn.bias_ih_l{k}     (G*H,)    rnn.bias_hh_l{k} (G*H,)      (when bias=True)
    decoder.weight       (V, H)     nn.Linear(H, V)
    decoder.bias         (V,)

In a ``python -m tinyrnn train`` checkpoint each name carries the prefix
``param/``. A file's metadata (strings) says what the weights cannot:

    "vocab"    the characters, in id order (sorted by code point, as
               ``sorted(set(text))`` gives them); required on import unless
               ``--vocab-from TEXT`` is given
    "config"   optional JSON, CharLM's config: ``{"nonlinearity": "relu"}`` for
               an ``nn.RNN(nonlinearity="relu")``, ``"dropout"``; sizes and the
               cell are read from the shapes and must agree with it
    "format"   "tinyrnn.charlm" (written by export; not needed on import)

A file without ``embedding.weight`` is a model fed one-hot vectors.
"""
from __future__ import annotations

import json
import os

import numpy as np

from .. import store
from ..errors import DataError
from ..model import CharLM
from ..textfile import load_text
from ..vocab import CharVocab
from .safetensors_file import BridgeError, open_safetensors, read_header, read_tensors, write

__all__ = ["TORCH_CELLS", "FORMAT", "load_charlm", "save_charlm", "charlm_checkpoint",
           "torch_shapes", "torch_state_dict", "charlm_state_dict", "check_torch_cell",
           "infer_config", "write_safetensors",
           "export_safetensors", "model_from_safetensors",
           "checkpoint_from_safetensors", "import_safetensors"]

FORMAT = "tinyrnn.charlm"
GATES = {"rnn": 1, "gru": 3, "lstm": 4}          # PyTorch's nn.RNN, nn.GRU, nn.LSTM
TORCH_CELLS = tuple(GATES)
SIZES = ("vocab_size", "hidden_size", "num_layers", "cell")


# ---- the run layer's checkpoint, in two functions (re-point them if it changes) ----
def load_charlm(path: str, vocab_from: str | None = None):
    """``(model, vocab)`` from a char-LM checkpoint (read as ``sample`` reads it)
    or, for a name ending in ``.safetensors``, from such a file."""
    if os.fspath(path).endswith(".safetensors"):
        return model_from_safetensors(path, vocab_from)
    model, vocab, _ = store.load_model(path)
    return model, vocab


def save_charlm(path: str, model: CharLM, vocab: CharVocab) -> None:
    """Write ``model`` as a char-LM checkpoint (atomically): ``sample`` reads it,
    ``train --finetune-from`` starts a new run from it."""
    store.save_model(path, model, vocab)


def charlm_checkpoint(model: CharLM, vocab: CharVocab) -> tuple[dict, dict]:
    """``(arrays, meta)`` of the model-only checkpoint :func:`save_charlm` writes."""
    return store.model_checkpoint(model, vocab)


# ---- names and shapes ---------------------------------------------------------------
def torch_shapes(config: dict) -> dict[str, tuple[int, ...]]:
    """name -> shape of every weight of a CharLM ``config`` (PyTorch's names, above)."""
    V, H, L = config["vocab_size"], config["hidden_size"], config["num_layers"]
    E = config.get("embedding_dim") or V
    G = GATES[str(config["cell"]).lower()]
    shapes = {"embedding.weight": (V, E)}
    for k in range(L):
        shapes[f"rnn.weight_ih_l{k}"] = (G * H, E if k == 0 else H)
        shapes[f"rnn.weight_hh_l{k}"] = (G * H, H)
        if config.get("bias", True):
            shapes[f"rnn.bias_ih_l{k}"] = (G * H,)
            shapes[f"rnn.bias_hh_l{k}"] = (G * H,)
    shapes.update({"decoder.weight": (V, H), "decoder.bias": (V,)})
    return shapes


def check_torch_cell(config: dict, what: str) -> None:
    """Only models PyTorch has a module for: RNN, LSTM, GRU, without layer norm."""
    cell = str(config.get("cell")).lower()
    if cell not in GATES or config.get("layer_norm"):
        kind = f"{cell} with layer norm" if cell in GATES else cell
        raise BridgeError(f"{what} is a {kind} model; PyTorch has modules for rnn, lstm "
                          "and gru without layer norm only, so only those cross the bridge")


def infer_config(shapes: dict[str, tuple], declared: dict, where: str) -> dict:
    """A CharLM config from the weights' shapes (the cell from the gate count).

    ``declared`` (the file's "config" metadata) adds what shapes cannot say
    (nonlinearity, dropout) and must agree with them on sizes and cell.
    """
    def shape(name, ndim):
        if name not in shapes:
            raise BridgeError(f"{where} has no tensor {name!r}; expected PyTorch's names "
                              "embedding.weight, rnn.weight_ih_l0, ..., decoder.weight")
        if len(shapes[name]) != ndim:
            raise BridgeError(f"{where}: {name!r} has shape {shapes[name]}; expected "
                              f"{ndim} dimensions")
        return shapes[name]

    V, H = shape("decoder.weight", 2)
    GH, H_hh = shape("rnn.weight_hh_l0", 2)
    gates = {G: cell for cell, G in GATES.items()}
    if H < 1 or V < 1 or H_hh != H or GH % H or GH // H not in gates:
        raise BridgeError(f"{where}: rnn.weight_hh_l0 {(GH, H_hh)} and decoder.weight "
                          f"{(V, H)} fit no RNN / GRU / LSTM (expected (G*H, H) and (V, H) "
                          "with G = 1, 3 or 4 gates)")
    E = shape("embedding.weight", 2)[1] if "embedding.weight" in shapes else V
    layers = sum(k.startswith("rnn.weight_ih_l") for k in shapes)
    if layers < 1:
        raise BridgeError(f"{where} has no tensor 'rnn.weight_ih_l0'")
    config = {"vocab_size": V, "hidden_size": H, "num_layers": layers,
              "cell": gates[GH // H], "dropout": 0.0, "embedding_dim": None if E == V else E}
    said = dict(declared)
    if isinstance(said.get("cell"), str):
        said["cell"] = said["cell"].lower()
    facts = {**{k: config[k] for k in SIZES}, "bias": "rnn.bias_ih_l0" in shapes}
    clash = [f"{k} {said[k]!r} (the tensors say {facts[k]!r})" for k in facts
             if k in said and said[k] != facts[k]]
    if clash:
        raise BridgeError(f"{where}: its config metadata disagrees with its tensors: "
                          + "; ".join(clash))
    if not facts["bias"]:
        config["bias"] = False
    config.update({k: v for k, v in said.items() if k not in facts and k != "embedding_dim"})
    check_torch_cell(config, where)
    return config


def _check_names(entries: dict, expected: dict, where: str) -> None:
    """Exactly the expected tensors, each of the expected shape (or one line)."""
    missing = [k for k in expected if k not in entries and k != "embedding.weight"]
    unexpected = [k for k in entries if k not in expected]
    wrong = [f"{k} {entries[k].shape} (expected {expected[k]})" for k in expected
             if k in entries and entries[k].shape != expected[k]]
    problems = ([f"missing {', '.join(missing[:5])}"] if missing else []) \
        + ([f"unexpected {', '.join(unexpected[:5])}"] if unexpected else []) \
        + ([f"misshaped {'; '.join(wrong[:3])}"] if wrong else [])
    if problems:
        raise BridgeError(f"{where} does not hold a char model's weights: "
                          + " | ".join(problems))


# ---- export and import --------------------------------------------------------------
def torch_state_dict(model: CharLM) -> dict[str, np.ndarray]:
    """``model``'s weights under PyTorch's names, shaped as :func:`torch_shapes` says.

    A one-hot CharLM has no input table (:class:`~tinyrnn.charlm.model.OneHot`);
    PyTorch's twin is an ``nn.Embedding(V, V)`` holding the identity, made here.
    """
    tensors = {k: np.asarray(v) for k, v in model.state_dict().items()}
    if model.embedding_dim is None:
        tensors["embedding.weight"] = np.eye(model.vocab_size, dtype=np.float32)
    return tensors


def charlm_state_dict(tensors: dict, config: dict) -> dict:
    """The reverse of :func:`torch_state_dict`: a one-hot model's identity left out."""
    if config.get("embedding_dim") is None:
        return {k: v for k, v in tensors.items() if k != "embedding.weight"}
    return dict(tensors)


def write_safetensors(path: str, model: CharLM, vocab: CharVocab) -> None:
    """Write ``model``'s weights under PyTorch's names, config and vocab as metadata."""
    config = model.config()
    check_torch_cell(config, "the model")
    tensors = torch_state_dict(model)
    write(path, tensors, {"format": FORMAT, "vocab": vocab.chars,
                          "config": json.dumps(config, sort_keys=True)})


def export_safetensors(checkpoint_path: str, out: str) -> dict:
    """Write a char-LM checkpoint's weights under PyTorch's names to ``out``.

    Returns the model's config. Raises BridgeError for a model PyTorch has no
    modules for (RWA, fast weights, layer norm).
    """
    model, vocab = load_charlm(checkpoint_path)
    check_torch_cell(model.config(), f"checkpoint {checkpoint_path!r}")
    write_safetensors(out, model, vocab)
    return model.config()


def _vocabulary(metadata: dict, vocab_from: str | None, where: str) -> CharVocab:
    """The file's "vocab" metadata or the distinct characters of ``vocab_from``."""
    stored = metadata.get("vocab")
    if stored is None and vocab_from is None:
        raise BridgeError(f"{where} has no 'vocab' metadata: give --vocab-from TEXT (the "
                          "text it was trained on) or save it with "
                          'metadata={"vocab": "".join(sorted(set(text)))}')
    try:
        vocab = CharVocab(stored) if stored is not None else None
        if vocab is not None and vocab.chars != stored:
            raise BridgeError(f"{where}: its 'vocab' metadata is not sorted unique "
                              "characters (ids are positions in sorted(set(text)))")
        if vocab_from is not None:
            other = CharVocab(load_text(vocab_from))
            if vocab is not None and other != vocab:
                raise BridgeError(f"{where}: its 'vocab' metadata differs from the "
                                  f"characters of --vocab-from {vocab_from!r}")
            vocab = other
    except DataError as e:
        raise BridgeError(str(e)) from None
    return vocab


def _config_and_vocab(metadata: dict, entries: dict, vocab_from: str | None, where: str
                      ) -> tuple[dict, CharVocab]:
    """The model's config (from the shapes and the 'config' metadata) and its
    vocabulary, with every name and shape checked: nothing is read yet."""
    try:
        declared = json.loads(metadata.get("config", "{}"))
    except (ValueError, RecursionError):
        declared = None
    if not isinstance(declared, dict):
        raise BridgeError(f"{where}: its 'config' metadata is not a JSON object")
    config = infer_config({k: e.shape for k, e in entries.items()}, declared, where)
    _check_names(entries, torch_shapes(config), where)
    vocab = _vocabulary(metadata, vocab_from, where)
    if len(vocab) != config["vocab_size"]:
        raise BridgeError(f"{where}: the model predicts {config['vocab_size']} characters "
                          f"but the vocabulary has {len(vocab)}")
    return config, vocab


def model_from_safetensors(path: str, vocab_from: str | None = None
                           ) -> tuple[CharLM, CharVocab]:
    """``(model, vocab)`` of a safetensors file written by export or by PyTorch.

    The header is checked (:func:`~.safetensors_file.read_header`), then the
    names and shapes against the config the shapes imply, before any tensor
    is read; the model is rebuilt and loaded strictly. float64 weights are
    stored as float32, the trainer's dtype.
    """
    where = f"safetensors file {os.fspath(path)!r}"
    with open_safetensors(path) as f:                      # opened once
        metadata, entries = read_header(path, f)
        config, vocab = _config_and_vocab(metadata, entries, vocab_from, where)
        tensors = read_tensors(path, entries, f)
    if config["embedding_dim"] is None and "embedding.weight" in tensors:
        if store.is_identity(tensors["embedding.weight"]):
            del tensors["embedding.weight"]               # one-hot: no table needed
        else:
            config["embedding_dim"] = config["vocab_size"]    # a trained V x V table
    try:
        model = CharLM.from_config(config)
        model.load_state_dict(tensors)
    except (ValueError, TypeError, DataError) as e:
        raise BridgeError(f"{where}: {e}") from None
    return model.eval(), vocab


def checkpoint_from_safetensors(path: str, vocab_from: str | None = None
                                ) -> tuple[dict, dict]:
    """``(arrays, meta)`` of a char-LM checkpoint (step 0) of a safetensors file's model."""
    return charlm_checkpoint(*model_from_safetensors(path, vocab_from))


def import_safetensors(path: str, out: str, vocab_from: str | None = None) -> dict:
    """Write the char-LM checkpoint of a safetensors file to ``out``; returns its config."""
    model, vocab = model_from_safetensors(path, vocab_from)
    save_charlm(out, model, vocab)
    return model.config()
