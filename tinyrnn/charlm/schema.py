"""The char-LM checkpoint's metadata, field by field: a type and a range for each.

A checkpoint's JSON meta comes from strangers as often as from tinyrnn.
:func:`check_meta` runs on every load and resume (:mod:`.store` calls it)
and refuses, in one line naming the field, the value and what is allowed,
any field that is missing, of the wrong type, out of range, or unknown::

    checkpoint 'x.npz': metadata field 'model.inner_steps' is 1000000000;
    expected an integer in [1, 100]

The run's options (``train``) are checked against their own table,
:data:`tinyrnn.charlm.options.OPTIONS`, when a run is resumed; here only
their container is. The limits below are also what ``train`` accepts.
"""
from __future__ import annotations

import math
import re
from typing import Callable

from .model import MAX_VOCAB

__all__ = ["MAX_HIDDEN", "MAX_LAYERS", "MAX_INNER_STEPS", "MAX_COUNT", "MAX_STATE_DEPTH",
           "MetaError", "check_meta", "integer", "number", "Field"]

MAX_HIDDEN = 16_384          # units per layer (and embedding_dim)
MAX_LAYERS = 64              # recurrent layers
MAX_INNER_STEPS = 100        # a fast-weights cell's inner loop, per time step
MAX_COUNT = 2**53            # steps, epochs, characters: exact in a float64 log
MAX_STATE_DEPTH = 8          # nesting of the carried state's structure
MAX_ITEMS = 10_000           # entries of a list or object in the meta


class MetaError(ValueError):
    """A metadata field that is missing, of the wrong type or out of range."""


class Field:
    """A check (``value -> None`` if fine, else what is expected) and whether it is required."""

    def __init__(self, check: Callable, required: bool = True):
        self.check, self.required = check, required


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def integer(low: int, high: int) -> Callable:
    """A whole number (not a bool, not 16.0) in [low, high]."""
    def check(v):
        return None if _is_int(v) and low <= v <= high else \
            f"an integer in [{low:,}, {high:,}]"
    return check


def number(low: float, high: float, low_open: bool = False) -> Callable:
    """A finite number (int or float, not a bool) in [low, high] (or (low, high])."""
    def check(v):
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) \
            and (low < v if low_open else low <= v) and v <= high
        return None if ok else f"a finite number in {'(' if low_open else '['}{low}, {high}]"
    return check


def boolean(v):
    return None if isinstance(v, bool) else "true or false"


def optional(check: Callable) -> Callable:
    return lambda v: None if v is None else (check(v) and f"null or {check(v)}")


def one_of(*choices) -> Callable:
    return lambda v: None if isinstance(v, str) and v in choices else \
        f"one of {', '.join(repr(c) for c in choices)}"


def text(max_len: int = 4096, pattern: str | None = None) -> Callable:
    def check(v):
        ok = isinstance(v, str) and len(v) <= max_len and v.isprintable() and (
            pattern is None or re.fullmatch(pattern, v) is not None)
        return None if ok else f"printable text of at most {max_len} characters" + (
            f" matching {pattern}" if pattern else "")
    return check


def record(fields: dict[str, Field]) -> Callable:
    """An object with exactly these fields (the optional ones may be left out)."""
    def check(v, where: str = ""):
        if not isinstance(v, dict):
            return "an object"
        for key in v:
            if key not in fields:
                raise MetaError(f"metadata field {where + str(key)!r} is unknown; expected "
                                f"only {', '.join(fields)}")
        for key, field in fields.items():
            name = where + key
            if key not in v:
                if field.required:
                    raise MetaError(f"metadata field {name!r} is missing")
                continue
            value = v[key]
            if getattr(field.check, "is_record", False):
                problem = field.check(value, name + ".")
            else:
                problem = field.check(value)
            if problem:
                raise MetaError(f"metadata field {name!r} is {_show(value)}; "
                                f"expected {problem}")
        return None
    check.is_record = True
    return check


def _show(value) -> str:
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def any_object(v):
    return None if isinstance(v, dict) and len(v) <= MAX_ITEMS else \
        f"an object of at most {MAX_ITEMS:,} entries"


def _state_structure(v, depth: int = 0):
    """None, a leaf index, or ``{"list" | "tuple": [...]}`` nested at most MAX_STATE_DEPTH."""
    expected = (f"null, a state index, or {{'list' | 'tuple': [...]}} nested at most "
                f"{MAX_STATE_DEPTH} deep")
    if v is None or (_is_int(v) and 0 <= v < MAX_ITEMS):
        return None
    if depth >= MAX_STATE_DEPTH or not isinstance(v, dict) or len(v) != 1:
        return expected
    (kind, items), = v.items()
    if kind not in ("list", "tuple") or not isinstance(items, list) or len(items) > MAX_ITEMS:
        return expected
    return next((p for p in (_state_structure(x, depth + 1) for x in items) if p), None)


def _scalars(v):
    """The optimizer's numbers: ``{"lr": 0.002, "step.0": 10, ...}``, each finite."""
    ok = isinstance(v, dict) and len(v) <= MAX_ITEMS and all(
        isinstance(k, str) and re.fullmatch(r"[a-z_0-9]{1,40}(\.\d{1,5})?", k)
        and number(-1e300, 1e300)(x) is None for k, x in v.items())
    return None if ok else "an object of optimizer names to finite numbers"


def _rng_state(v):
    """NumPy's PCG64 state, as ``Generator.bit_generator.state`` gives it."""
    big = integer(0, 2**128 - 1)
    ok = (isinstance(v, dict) and set(v) == {"bit_generator", "state", "has_uint32",
                                            "uinteger"}
          and v["bit_generator"] == "PCG64" and isinstance(v["state"], dict)
          and set(v["state"]) == {"state", "inc"}
          and all(big(x) is None for x in v["state"].values())
          and integer(0, 1)(v["has_uint32"]) is None
          and integer(0, 2**32 - 1)(v["uinteger"]) is None)
    return None if ok else "NumPy's PCG64 generator state"


SIZE = integer(1, MAX_HIDDEN)

MODEL = record({
    "vocab_size": Field(integer(1, MAX_VOCAB)),
    "hidden_size": Field(SIZE),
    "num_layers": Field(integer(1, MAX_LAYERS)),
    "cell": Field(text(40)),                       # make_cell names it, or refuses it
    "dropout": Field(number(0, 1)),
    "embedding_dim": Field(optional(SIZE)),
    "bias": Field(boolean, required=False),
    "layer_norm": Field(boolean, required=False),
    "nonlinearity": Field(one_of("tanh", "relu"), required=False),
    "forget_bias": Field(optional(number(-1e3, 1e3)), required=False),
    "lam": Field(number(0, 1), required=False),
    "eta": Field(number(0, 1e3), required=False),
    "inner_steps": Field(integer(1, MAX_INNER_STEPS), required=False),
    "fast_weights": Field(boolean, required=False),
})

VOCAB = record({"type": Field(one_of("char")),
                "chars": Field(lambda v: None if isinstance(v, str)
                               and 1 <= len(v) <= MAX_VOCAB
                               else f"text of 1 to {MAX_VOCAB:,} characters")})


def file_path(v):
    ok = isinstance(v, str) and 0 < len(v) <= 4096 and "\0" not in v
    return None if ok else "a file path of at most 4096 characters"


DATA = record({"path": Field(optional(file_path)),
               "sha256": Field(optional(text(64, "[0-9a-f]{64}"))),
               "chars": Field(integer(0, MAX_COUNT))})

COUNT = integer(0, MAX_COUNT)

# Every field a checkpoint's meta may hold. A model's checkpoint has the
# first block; a training run's has the second too.
META = record({
    "kind": Field(one_of("tinyrnn.charlm")),
    "model": Field(MODEL),
    "vocab": Field(VOCAB),
    "val_nll": Field(optional(number(0, 1e300)), required=False),   # examples' scores
    "train": Field(any_object, required=False),     # checked by the options table
    "data": Field(DATA, required=False),
    "step": Field(COUNT, required=False),
    "epoch": Field(COUNT, required=False),
    "position": Field(COUNT, required=False),
    "best_val": Field(optional(number(0, 1e300)), required=False),
    "rng_state": Field(_rng_state, required=False),
    "state_structure": Field(_state_structure, required=False),
    "optimizer_scalars": Field(_scalars, required=False),
})
RUN_FIELDS = ("train", "data", "step", "epoch", "position", "rng_state",
              "state_structure", "optimizer_scalars")


def check_meta(meta: dict, resumable: bool = False) -> None:
    """Every field of a char-LM checkpoint's meta against :data:`META`; MetaError if not.

    ``resumable`` also requires the fields of a training run (:data:`RUN_FIELDS`)
    and that they agree: epoch and position at most the step.
    """
    META(meta)
    if not resumable:
        return
    missing = [k for k in RUN_FIELDS if k not in meta]
    if missing:
        raise MetaError(f"metadata field {missing[0]!r} is missing (a training run's "
                        "checkpoint holds " + ", ".join(RUN_FIELDS) + ")")
    for key in ("epoch", "position"):
        if meta[key] > meta["step"]:
            raise MetaError(f"metadata field {key!r} is {meta[key]:,}, more than the step "
                            f"{meta['step']:,}; expected at most the step")
