"""Fuzzing the checkpoint loader (hypothesis, derandomized): damaged and edited
copies of a real char-LM checkpoint.

Every case must end in exactly one of two ways:

* a ``CheckpointError`` of one line naming the file, or
* a correct load: each array is what its (possibly edited) header declares,
  filled with the member's own data bytes, and the metadata is the original,

within two seconds, with under 50 MB allocated (tracemalloc sees NumPy's
allocations), and without changing the file or its folder.
"""
import functools
import io
import os
import tempfile
import tracemalloc
import warnings
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from npz_craft import npy_header
from tinyrnn.utils.checkpoint import CheckpointError, load
from tinyrnn.charlm.options import TrainConfig
from tinyrnn.charlm.train.loop import Trainer
from tinyrnn.charlm.store import expected_arrays

FUZZ = settings(derandomize=True, max_examples=40, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


@functools.cache
def real_checkpoint() -> bytes:
    """latest.npz of a 2-step run of a tiny 1-layer LSTM (a real checkpoint)."""
    with tempfile.TemporaryDirectory() as folder:
        text = os.path.join(folder, "input.txt")
        with open(text, "w", encoding="utf-8") as f:
            f.write("def f(x):\n    return x + 1\n" * 20)
        cfg = TrainConfig(data=text, rnn_size=4, num_layers=1, batch_size=2,
                          seq_length=4, max_steps=2, eval_every=2, sample_length=0,
                          checkpoint_dir=os.path.join(folder, "ck"))
        assert Trainer(cfg, out=io.StringIO()).run() == 0
        with open(os.path.join(folder, "ck", "latest.npz"), "rb") as f:
            return f.read()


def members(data: bytes) -> dict[str, bytes]:
    """Member name -> its uncompressed bytes."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def rezip(items: list[tuple[str, bytes]]) -> bytes:
    """A valid zip of ``(name, bytes)`` pairs (names may repeat)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)          # "Duplicate name"
        for name, blob in items:
            archive.writestr(name, blob)
    return out.getvalue()


def split_npy(blob: bytes) -> tuple[dict, bytes]:
    """A .npy member's header fields and its data bytes."""
    f = io.BytesIO(blob)
    version = np.lib.format.read_magic(f)
    read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
            else np.lib.format.read_array_header_2_0)
    shape, fortran, dtype = read(f)
    return {"descr": dtype, "shape": shape, "fortran": fortran}, blob[f.tell():]


def check_outcome(path, expected) -> None:
    """Load ``path``: one-line CheckpointError, or arrays true to their headers."""
    before = (path.read_bytes(), sorted(os.listdir(path.parent)))
    tracemalloc.start()
    try:
        arrays, meta = load(path, expected=expected)
    except CheckpointError as e:
        message, arrays = str(e), None
        assert str(path) in message and "\n" not in message, message
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < 50 * 2**20, peak
    assert (path.read_bytes(), sorted(os.listdir(path.parent))) == before
    if arrays is None:
        return
    stored = members(before[0])
    assert arrays.keys() == {n[:-4] for n in stored} - {"__meta__"}
    assert meta["kind"] == "tinyrnn.charlm"
    for key, array in arrays.items():
        header, data = split_npy(stored[key + ".npy"])
        assert array.dtype == header["descr"] and array.shape == header["shape"], key
        assert array.tobytes(order="F" if header["fortran"] else "C") == data, key


EXPECTATIONS = {"plain": None, "char-LM": expected_arrays}


@pytest.mark.parametrize("expected", EXPECTATIONS)
@FUZZ
@given(keep=st.floats(0, 1, exclude_max=True))
def test_truncated(tmp_path, expected, keep):
    path = tmp_path / "latest.npz"
    data = real_checkpoint()
    path.write_bytes(data[:int(len(data) * keep)])
    check_outcome(path, EXPECTATIONS[expected])


@pytest.mark.parametrize("expected", EXPECTATIONS)
@FUZZ
@given(flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(1, 255)),
                      min_size=1, max_size=8))
def test_byte_flips(tmp_path, expected, flips):
    data = bytearray(real_checkpoint())
    for where, mask in flips:
        data[int(where * len(data))] ^= mask
    path = tmp_path / "latest.npz"
    path.write_bytes(bytes(data))
    check_outcome(path, EXPECTATIONS[expected])


NAMES = st.one_of(st.sampled_from(["param/decoder.weight.npy", "__meta__.npy", "x.npy",
                                   "optim/m.0.npy", "state/0.npy", "history/step.npy",
                                   "../../etc/passwd.npy", "param/x", ".npy"]),
                  st.text(min_size=1, max_size=12).map(lambda s: s + ".npy"))


@FUZZ
@given(name=NAMES, blob=st.one_of(st.binary(max_size=300),
                                  st.sampled_from([b"", b"\x93NUMPY\x01\x00"])),
       position=st.floats(0, 1))
def test_inserted_member(tmp_path, name, blob, position):
    items = list(members(real_checkpoint()).items())
    items.insert(int(position * len(items)), (name, blob))
    path = tmp_path / "latest.npz"
    path.write_bytes(rezip(items))
    check_outcome(path, expected_arrays)


@FUZZ
@given(index=st.floats(0, 1, exclude_max=True), name=NAMES)
def test_renamed_member(tmp_path, index, name):
    items = list(members(real_checkpoint()).items())
    i = int(index * len(items))
    items[i] = (name, items[i][1])
    path = tmp_path / "latest.npz"
    path.write_bytes(rezip(items))
    check_outcome(path, expected_arrays)


DIMS = st.one_of(st.integers(0, 40), st.sampled_from([10**5, 2**31, 2**40, 2**62]))
DESCRS = st.sampled_from(["<f4", "<f8", ">f4", "<i4", "|u1", "|b1", "<c8", "|O", "<U3",
                          "|V4", "<M8[s]", "<m8[s]"])


@pytest.mark.parametrize("expected", EXPECTATIONS)
@FUZZ
@given(index=st.floats(0, 1, exclude_max=True), shape=st.none() | st.lists(DIMS, max_size=3),
       descr=st.none() | DESCRS, fortran=st.none() | st.booleans(),
       version=st.sampled_from([(1, 0), (2, 0)]))
def test_edited_header(tmp_path, expected, index, shape, descr, fortran, version):
    items = list(members(real_checkpoint()).items())
    i = int(index * len(items))
    name, blob = items[i]
    header, data = split_npy(blob)
    edited = npy_header(header["descr"].str if descr is None else descr,
                        header["shape"] if shape is None else tuple(shape),
                        header["fortran"] if fortran is None else fortran, version)
    items[i] = (name, edited + data)
    path = tmp_path / "latest.npz"
    path.write_bytes(rezip(items))
    check_outcome(path, EXPECTATIONS[expected])


def test_the_original_loads(tmp_path):
    path = tmp_path / "latest.npz"
    path.write_bytes(real_checkpoint())
    check_outcome(path, expected_arrays)
    arrays, _ = load(path, expected=expected_arrays)
    assert "param/decoder.weight" in arrays and "history/step" in arrays
