"""Fuzzing the readers with mutated checkpoints and safetensors files.

Valid files are mutated at random (seeded, so a failure reproduces): a
metadata field replaced by a hostile value, removed or added; a member
dropped, renamed, reshaped, retyped or added; bytes flipped or cut off; a
safetensors header's dtypes, shapes, offsets and metadata changed. Every
mutant must load cleanly or be refused in one line by the command line's
own error types, within a memory bound (and a deadline that only a hang
meets: speed is the benchmarks' business).

Quick in CI (``FUZZ_EXAMPLES`` mutants of each kind); for a longer run::

    TINYRNN_FUZZ_EXAMPLES=2000 TINYRNN_FUZZ_SEED=7 python -m pytest tests/test_hostile_fuzz.py
"""
from __future__ import annotations

import copy
import json
import os
import random
import signal
import struct
import tracemalloc

import numpy as np
import pytest

from tinyrnn.charlm import CharLM, CharVocab
from tinyrnn.charlm.bridge import BridgeError, model_from_safetensors, write_safetensors
from tinyrnn.charlm.errors import DataError, ModelFileError, TrainError
from tinyrnn.charlm.options import resolve_config
from tinyrnn.charlm.store import load_model, save_model
from tinyrnn.charlm.train import Trainer
from tinyrnn.utils import checkpoint

from tiny_run import two_step_run

FUZZ_EXAMPLES = int(os.environ.get("TINYRNN_FUZZ_EXAMPLES", "25"))
SEED = int(os.environ.get("TINYRNN_FUZZ_SEED", "0"))
HANG_SECONDS = 60            # a mutant still loading after this hangs (a loop, a blocking read)
MAX_PEAK_BYTES = 64 * 2**20  # the models here are a few kilobytes
REFUSALS = (ModelFileError, checkpoint.CheckpointError, TrainError, DataError, BridgeError)

HOSTILE = [-1, 0, 1, 2, -5, 2**63, 10**30, 1.5, 16.0, float("nan"), float("inf"),
           -float("inf"), 1e308, "", "x", "\ud800", "F32", "lstm", None, True, False, [],
           [1], [2**40, 3], {}, {"a": 1}, {"list": [0, 99]}]


def hostile(rng: random.Random):
    return copy.deepcopy(rng.choice(HOSTILE))


def paths(tree, prefix=()):
    """Every key path of nested dicts, e.g. ("model", "hidden_size")."""
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield prefix + (key,)
            yield from paths(value, prefix + (key,))


def mutate_meta(meta: dict, rng: random.Random) -> str:
    path = rng.choice(list(paths(meta)))
    parent = meta
    for key in path[:-1]:
        parent = parent[key]
    action = rng.choice(["replace", "replace", "delete", "add"])
    if action == "replace":
        parent[path[-1]] = hostile(rng)
    elif action == "delete":
        del parent[path[-1]]
    else:
        parent["fuzz_" + str(rng.randrange(100))] = hostile(rng)
    return f"meta {action} {'.'.join(map(str, path))}"


def mutate_arrays(arrays: dict, rng: random.Random) -> str:
    key = rng.choice(sorted(arrays))
    action = rng.choice(["drop", "rename", "reshape", "retype", "add", "nan"])
    if action == "drop":
        del arrays[key]
    elif action == "rename":
        arrays[key + rng.choice(["x", "/0", ".9"])] = arrays.pop(key)
    elif action == "reshape":
        shape = tuple(rng.choice([0, 1, 2, 3, 7, 64]) for _ in range(rng.randrange(0, 4)))
        arrays[key] = np.zeros(shape, np.float32)
    elif action == "retype":
        with np.errstate(invalid="ignore"):          # NaN in the log cast to integers
            arrays[key] = arrays[key].astype(rng.choice([np.int8, np.float64, np.complex64,
                                                         np.bool_, np.uint32]))
    elif action == "add":
        prefix = rng.choice(["param/", "optim/", "state/", "history/", "other/"])
        arrays[prefix + "fuzz"] = np.zeros(rng.choice([1, 5, 1000]), np.float64)
    else:
        arrays[key] = np.full(arrays[key].shape, np.nan, arrays[key].dtype) \
            if arrays[key].dtype.kind == "f" else arrays[key]
    return f"arrays {action} {key}"


def mutate_bytes(path: str, rng: random.Random) -> str:
    with open(path, "rb") as f:
        raw = bytearray(f.read())
    if rng.random() < 0.5:
        cut = rng.randrange(len(raw))
        raw = raw[:cut]
        what = f"cut at {cut}"
    else:
        for _ in range(rng.randrange(1, 8)):
            raw[rng.randrange(len(raw))] = rng.randrange(256)
        what = "bytes flipped"
    with open(path, "wb") as f:
        f.write(raw)
    return what


class _Hang(Exception):
    pass


def _hang(*_):
    raise _Hang


def bounded(load, what: str) -> None:
    """``load()`` succeeds or raises one line of REFUSALS, within the memory bound,
    and does not hang."""
    tracemalloc.start()
    previous = signal.signal(signal.SIGALRM, _hang)
    signal.alarm(HANG_SECONDS)
    try:
        load()
    except REFUSALS as e:
        assert len(str(e).splitlines()) == 1 and str(e), f"{what}: {e!r}"
    except _Hang:
        pytest.fail(f"{what}: still loading after {HANG_SECONDS} s: it hangs")
    except Exception as e:      # anything else would be a traceback on the command line
        pytest.fail(f"{what}: {type(e).__name__}: {e}")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < MAX_PEAK_BYTES, f"{what}: peak {peak:,} bytes"


@pytest.fixture(scope="module")
def run_checkpoint(tmp_path_factory):
    folder = two_step_run(tmp_path_factory.mktemp("fuzzrun"),
                          "the quick brown fox jumps over the lazy dog. " * 20, num_layers=2)
    return str(folder / "latest.npz")


def resume(path: str) -> None:
    """What ``train --init-from PATH`` does before its first step."""
    trainer = Trainer(*resolve_config({"init_from": path}))
    trainer.folder.release()


@pytest.mark.parametrize("kind", ["meta", "arrays", "bytes"])
def test_mutated_run_checkpoints_load_or_are_refused_in_one_line(run_checkpoint, tmp_path,
                                                                 kind):
    rng = random.Random(f"{SEED}-{kind}")
    arrays, meta = checkpoint.load(run_checkpoint)
    for i in range(FUZZ_EXAMPLES):
        folder = tmp_path / str(i)
        path = str(folder / "latest.npz")
        mutant_arrays, mutant_meta = dict(arrays), copy.deepcopy(meta)
        what = mutate_meta(mutant_meta, rng) if kind == "meta" else \
            mutate_arrays(mutant_arrays, rng) if kind == "arrays" else "copy"
        checkpoint.save(path, mutant_arrays, mutant_meta, compress=rng.random() < 0.3)
        if kind == "bytes":
            what = mutate_bytes(path, rng)
        what = f"mutant {i} (seed {SEED}): {what}"
        bounded(lambda: load_model(path), what + " [sample]")
        bounded(lambda: resume(path), what + " [resume]")


@pytest.fixture(scope="module")
def fast_weights_checkpoint(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("fuzzfw") / "fw.npz")
    save_model(path, CharLM(5, 4, 1, cell="fw", inner_steps=2), CharVocab("abcde"))
    return path


def test_mutated_fast_weights_models_load_or_are_refused(fast_weights_checkpoint, tmp_path):
    rng = random.Random(f"{SEED}-fw")
    arrays, meta = checkpoint.load(fast_weights_checkpoint)
    for i in range(FUZZ_EXAMPLES):
        mutant_meta = copy.deepcopy(meta)
        what = mutate_meta(mutant_meta, rng)
        path = str(tmp_path / f"{i}.npz")
        checkpoint.save(path, arrays, mutant_meta)
        bounded(lambda: load_model(path), f"mutant {i} (seed {SEED}): {what}")


@pytest.fixture(scope="module")
def safetensors_bytes(tmp_path_factory):
    pytest.importorskip("safetensors")
    path = str(tmp_path_factory.mktemp("fuzzst") / "m.safetensors")
    write_safetensors(path, CharLM(4, 3, 2, cell="lstm"), CharVocab("abcd"))
    with open(path, "rb") as f:
        return f.read()


def mutate_header(header: dict, rng: random.Random) -> str:
    names = [k for k in header if k != "__metadata__"]
    name = rng.choice(names + ["__metadata__"])
    if name == "__metadata__":
        key = rng.choice(["vocab", "config", "format", "fuzz"])
        value = rng.choice([hostile(rng), "ab\ud800d", "dcba", json.dumps({"cell": "gru"}),
                            json.dumps({"hidden_size": 10**9}), "{"])
        header["__metadata__"][key] = value
        return f"metadata {key}"
    field = rng.choice(["dtype", "shape", "data_offsets", "delete", "extra"])
    if field == "delete":
        del header[name]
    elif field == "extra":
        header[name]["fuzz"] = 1
    elif field == "shape":
        header[name]["shape"] = rng.choice([hostile(rng), [10**9, 10**9], [0], [3, 4, 5]])
    elif field == "data_offsets":
        header[name]["data_offsets"] = rng.choice([hostile(rng), [0, 10**12], [5, 2]])
    else:
        header[name]["dtype"] = rng.choice([hostile(rng), "F16", "I64", "f32", ["F32"]])
    return f"tensor {name} {field}"


def test_mutated_safetensors_files_import_or_are_refused(safetensors_bytes, tmp_path):
    rng = random.Random(f"{SEED}-safetensors")
    n = struct.unpack("<Q", safetensors_bytes[:8])[0]
    header, data = json.loads(safetensors_bytes[8:8 + n]), safetensors_bytes[8 + n:]
    for i in range(FUZZ_EXAMPLES):
        mutant = copy.deepcopy(header)
        what = mutate_header(mutant, rng)
        encoded = json.dumps(mutant).encode("utf-8")
        raw = struct.pack("<Q", len(encoded)) + encoded + data
        if rng.random() < 0.2:                      # and its length field or its end
            raw = raw[:rng.randrange(len(raw))] if rng.random() < 0.5 else \
                struct.pack("<Q", rng.choice([0, 2**63, len(raw)])) + raw[8:]
            what += ", then damaged"
        path = str(tmp_path / f"{i}.safetensors")
        with open(path, "wb") as f:
            f.write(raw)
        bounded(lambda: model_from_safetensors(path), f"mutant {i} (seed {SEED}): {what}")
