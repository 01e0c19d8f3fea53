"""The metadata schema's limits, value by value: what is at a limit loads, what is
one past it is refused, naming the field.

``tests/test_hostile_meta.py`` shows that hostile values are refused through
the loader; here every bounded field is walked along its edges on a real
training run's metadata, so that a limit moved by one, a dropped check or an
``and`` written for an ``or`` fails a test.
"""
from __future__ import annotations

import copy
import math
from types import SimpleNamespace

import numpy as np
import pytest

from tinyrnn.charlm.model import MAX_VOCAB
from tinyrnn.charlm.schema import (MAX_COUNT, MAX_HIDDEN, MAX_INNER_STEPS, MAX_LAYERS,
                                   MAX_STATE_DEPTH, MetaError, check_meta)
from tinyrnn.charlm.errors import ModelFileError
from tinyrnn.charlm.store import expected_arrays, read_checkpoint
from tinyrnn.utils import checkpoint

from tiny_run import two_step_run

NAN, INF = math.nan, math.inf


@pytest.fixture(scope="module")
def run_file(tmp_path_factory):
    """The latest.npz of a two-step training run."""
    folder = two_step_run(tmp_path_factory.mktemp("run"),
                          "a small text, written twice over. " * 30)
    return folder / "latest.npz"


@pytest.fixture(scope="module")
def meta(run_file) -> dict:
    """The run's metadata (every field a training run writes)."""
    return checkpoint.load(run_file)[1]


def changed(meta: dict, keys: tuple, value) -> dict:
    """A copy of ``meta`` with ``meta[k1][k2]... = value`` (a missing leaf is added)."""
    out = copy.deepcopy(meta)
    target = out
    for key in keys[:-1]:
        target = target[key]
    target[keys[-1]] = value
    return out


def nested(depth: int):
    """A state structure of ``depth`` nested lists around one leaf index."""
    v = 0
    for _ in range(depth):
        v = {"list": [v]}
    return v


# field, values at or inside its limits, values just outside them (or of another type)
LIMITS = [
    (("step",), [0, MAX_COUNT], [-1, MAX_COUNT + 1, 2.0, True, "2"]),
    (("epoch",), [0, MAX_COUNT], [-1, MAX_COUNT + 1]),
    (("position",), [0, MAX_COUNT], [-1, MAX_COUNT + 1]),
    (("model", "vocab_size"), [1, MAX_VOCAB], [0, MAX_VOCAB + 1, 3.0]),
    (("model", "hidden_size"), [1, MAX_HIDDEN], [0, MAX_HIDDEN + 1, 16.0, False]),
    (("model", "num_layers"), [1, MAX_LAYERS], [0, MAX_LAYERS + 1]),
    (("model", "dropout"), [0, 0.5, 1], [-1e-9, 1 + 1e-9, NAN, INF, True, "0"]),
    (("model", "embedding_dim"), [None, 1, MAX_HIDDEN], [0, MAX_HIDDEN + 1]),
    (("model", "inner_steps"), [1, MAX_INNER_STEPS], [0, MAX_INNER_STEPS + 1]),
    (("model", "lam"), [0, 1], [-1e-9, 1 + 1e-9]),
    (("model", "eta"), [0, 1e3], [-1e-9, 1e3 + 1e-6]),
    (("model", "forget_bias"), [None, -1e3, 1e3], [-1e3 - 1e-6, 1e3 + 1e-6, "1"]),
    (("model", "nonlinearity"), ["tanh", "relu"], ["sigmoid", 1]),
    (("model", "bias"), [True, False], [1, 0, "true", None]),
    (("model", "cell"), ["lstm", "x" * 40], ["x" * 41, "ls\ntm", 3]),
    (("vocab", "type"), ["char"], ["word", None]),
    (("vocab", "chars"), ["a", "x" * MAX_VOCAB], ["", "x" * (MAX_VOCAB + 1), 3]),
    (("data", "chars"), [0, MAX_COUNT], [-1, MAX_COUNT + 1]),
    (("data", "path"), [None, "t.txt", "p" * 4096], ["", "p" * 4097, "a\0b", 3]),
    (("data", "sha256"), [None, "0" * 64], ["0" * 63, "0" * 65, "G" * 64]),
    (("best_val",), [None, 0, 1e300], [-1e-9, 1.1e300, NAN, INF]),
    (("val_nll",), [None, 0, 1e300], [-1e-9, INF]),
    (("train",), [{}, {str(k): 0 for k in range(10_000)}],
     [[], "x", {str(k): 0 for k in range(10_001)}]),
    (("rng_state", "bit_generator"), ["PCG64"], ["MT19937"]),
    (("rng_state", "has_uint32"), [0, 1], [-1, 2, True]),
    (("rng_state", "uinteger"), [0, 2**32 - 1], [-1, 2**32, 1.0]),
    (("rng_state", "state", "state"), [0, 2**128 - 1], [-1, 2**128]),
    (("rng_state", "state", "inc"), [0, 2**128 - 1], [-1, 2**128, "1"]),
    (("state_structure",),
     [None, 0, 9_999, {"list": []}, {"tuple": [0, None, {"list": [1, 2]}]},
      nested(MAX_STATE_DEPTH)],
     [-1, 10_000, True, "0", {"dict": [0]}, {"list": 0}, {"list": [0], "tuple": [1]},
      {"list": [-1]}, {"list": list(range(10_001))}, nested(MAX_STATE_DEPTH + 1)]),
    (("optimizer_scalars",),
     [{}, {"lr": 0.002, "step.0": 10, "beta_2.12345": -1e300},
      {f"m.{k}": 0.0 for k in range(10_000)}],
     [{"lr": NAN}, {"lr": INF}, {"LR": 1}, {"lr": 1e301}, {"lr": True}, {"lr": "1"},
      {"step.123456": 1}, {"": 1}, {"x" * 41: 1}, [1], {f"m.{k}": 0.0 for k in range(10_001)}]),
]


def field_name(keys: tuple) -> str:
    """How a refusal names the field: the first two keys, dotted (the rest of a
    field is one value, such as the generator's state)."""
    return ".".join(keys[:2]) if keys[0] in ("model", "vocab", "data") else keys[0]


@pytest.mark.parametrize("keys, ok, refused", LIMITS, ids=lambda v: ".".join(v)
                         if isinstance(v, tuple) else "")
def test_each_limit_is_where_the_schema_says(meta, keys, ok, refused):
    # the counters' order (epoch, position <= step) is the next tests' business
    resumable = keys[0] not in ("step", "epoch", "position")
    for value in ok:
        check_meta(changed(meta, keys, value), resumable=resumable)
    for value in refused:
        with pytest.raises(MetaError) as caught:
            check_meta(changed(meta, keys, value), resumable=resumable)
        message = str(caught.value)
        assert f"metadata field {field_name(keys)!r}" in message, (value, message)
        assert "expected" in message and len(message.splitlines()) == 1


@pytest.mark.parametrize("keys", [("rng_state",), ("rng_state", "state")])
def test_the_generator_state_has_exactly_its_keys(meta, keys):
    target = meta
    for key in keys:
        target = target[key]
    for extra in (dict(target, surprise=1), {k: v for k, v in list(target.items())[1:]}):
        with pytest.raises(MetaError, match="metadata field 'rng_state'"):
            check_meta(changed(meta, keys, extra), resumable=True)
    with pytest.raises(MetaError, match="metadata field 'rng_state'"):
        check_meta(changed(meta, keys, list(target.values())), resumable=True)


def test_a_real_generator_state_is_accepted(meta):
    state = np.random.default_rng(12345).bit_generator.state
    check_meta(changed(meta, ("rng_state",), state), resumable=True)


@pytest.mark.parametrize("key", ["step", "epoch", "position", "rng_state", "train", "data",
                                 "state_structure", "optimizer_scalars"])
def test_a_resumed_run_needs_every_run_field_and_a_model_none(meta, key):
    without = {k: v for k, v in meta.items() if k != key}
    with pytest.raises(MetaError, match=f"'{key}' is missing"):
        check_meta(without, resumable=True)
    model_only = {k: meta[k] for k in ("kind", "model", "vocab")}
    check_meta(model_only)
    with pytest.raises(MetaError, match="is missing"):
        check_meta(model_only, resumable=True)


@pytest.mark.parametrize("key", ["epoch", "position"])
def test_epoch_and_position_may_equal_the_step_not_pass_it(meta, key):
    check_meta({**meta, key: meta["step"]}, resumable=True)
    with pytest.raises(MetaError, match=f"'{key}' is .*more than the step"):
        check_meta({**meta, key: meta["step"] + 1}, resumable=True)
    check_meta({**meta, key: meta["step"] + 1})       # a model's load does not ask


@pytest.mark.parametrize("key", ["kind", "model", "vocab"])
def test_a_model_needs_its_kind_model_and_vocab(meta, key):
    with pytest.raises(MetaError, match=f"'{key}' is missing"):
        check_meta({k: v for k, v in meta.items() if k != key})
    with pytest.raises(MetaError, match=f"metadata field '{key}'"):
        check_meta({**meta, key: "x"})


def test_unknown_fields_are_named_at_every_level(meta):
    for keys in [("surprise",), ("model", "surprise"), ("vocab", "surprise"),
                 ("data", "surprise")]:
        with pytest.raises(MetaError, match=f"'{'.'.join(keys)}' is unknown"):
            check_meta(changed(meta, keys, 1), resumable=True)


def test_loading_a_run_to_resume_checks_the_run_fields_too(run_file, tmp_path):
    """Loading for sampling checks the model's fields; loading to resume also the
    run's: its counters in order and every run field there."""
    arrays, meta = checkpoint.load(run_file)
    path = str(tmp_path / "latest.npz")
    checkpoint.save(path, arrays, {**meta, "position": meta["step"] + 1})
    read_checkpoint(path)
    with pytest.raises(ModelFileError, match=r"'position' is .*more than the step"):
        read_checkpoint(path, resumable=True)
    checkpoint.save(path, arrays, {k: v for k, v in meta.items() if k != "rng_state"})
    read_checkpoint(path)
    with pytest.raises(ModelFileError, match="'rng_state' is missing"):
        read_checkpoint(path, resumable=True)


@pytest.mark.parametrize("batch, fits", [(10**6, True), (10**6 + 1, False), (0, False),
                                         ("7", False), (None, False)])
def test_the_carried_state_budget_trusts_a_batch_size_up_to_a_million(run_file, batch,
                                                                      fits):
    """A run's state may take 8 L 4 B (H^2 + H) bytes for the batch size B its options
    claim, if B is an integer in [1, 10^6]; any other claim (or none) counts as B = 1:
    640 bytes here (L = 1, H = 4)."""
    arrays, meta = checkpoint.load(run_file)
    if batch is None:
        del meta["train"]["batch_size"]
    else:
        meta["train"]["batch_size"] = batch
    stored = {k: a for k, a in arrays.items() if not k.startswith("state/")}
    for nbytes in (640, 10**8):                 # headers: what B = 1 allows, and 100 MB
        stored["state/0"] = SimpleNamespace(nbytes=nbytes)
        if fits or nbytes == 640:
            expected_arrays(meta, stored)
        else:
            with pytest.raises(ValueError, match=r"its state/\* arrays declare 100,000,000 "
                                                 r"bytes, more than the 640"):
                expected_arrays(meta, stored)
    stored["state/0"] = SimpleNamespace(nbytes=641)
    if not fits:
        with pytest.raises(ValueError, match=r"its state/\* arrays declare 641 bytes"):
            expected_arrays(meta, stored)


@pytest.mark.parametrize("claim", [{"num_layers": 64, "hidden_size": 8},
                                   {"num_layers": 16, "hidden_size": 5},
                                   {"hidden_size": 16}, {"hidden_size": 26},
                                   {"vocab_size": 60_000}])
def test_a_claimed_model_bigger_than_the_stored_weights_is_refused_before_it_is_built(
        run_file, claim):
    """4 (L H^2 + V H) bytes is the least any such model stores: a file holding
    less is refused from its header, before a model of that size is made. The
    run stores 1,812 bytes (V = 17, H = 4); the first two claims need more only
    through their L H^2 term (4 V H alone is 544 and 1,768 bytes)."""
    arrays, meta = checkpoint.load(run_file)
    meta["model"].update(claim)
    params = {k: a for k, a in arrays.items() if k.startswith("param/")}
    with pytest.raises(ValueError, match="its config describes at least"):
        expected_arrays(meta, params)


def test_a_log_column_may_hold_one_float64_per_step_made(run_file):
    arrays, meta = checkpoint.load(run_file)
    params = {k: a for k, a in arrays.items() if k.startswith("param/")}
    step = meta["step"]
    expected_arrays(meta, {**params, "history/step": SimpleNamespace(nbytes=8 * step)})
    with pytest.raises(ValueError, match=r"its history/\* arrays declare 24 bytes, more "
                                         r"than the 16"):
        expected_arrays(meta, {**params, "history/step": SimpleNamespace(nbytes=8 * step + 8)})


def test_optimizer_arrays_may_take_two_buffers_per_weight_and_64_bytes(run_file):
    """Adam's m and v per parameter, plus 64 bytes of slack for scalars."""
    from tinyrnn.charlm.store import OPTIMIZER_BUFFERS
    arrays, meta = checkpoint.load(run_file)
    params = {k: a for k, a in arrays.items() if k.startswith("param/")}
    budget = OPTIMIZER_BUFFERS * sum(a.nbytes for a in params.values()) + 64
    expected_arrays(meta, {**params, "optim/m.0": SimpleNamespace(nbytes=budget)})
    with pytest.raises(ValueError, match=r"its optim/\* arrays declare"):
        expected_arrays(meta, {**params, "optim/m.0": SimpleNamespace(nbytes=budget + 1)})


def test_a_refusal_shows_a_closed_interval_as_closed(meta):
    with pytest.raises(MetaError, match=r"expected a finite number in \[0, 1\]"):
        check_meta(changed(meta, ("model", "dropout"), 2.0))
