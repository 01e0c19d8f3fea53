"""Tests for tinyrnn.utils.checkpoint: round trip, atomic writes, every bad file."""
import json
import os
import re
import subprocess
import sys
import tracemalloc
import zipfile

import numpy as np
import pytest

from npz_craft import meta_npy, npy, npy_header, write_npz
from tinyrnn.utils import archive as archive_module, checkpoint
from tinyrnn.utils.checkpoint import META_KEY, CheckpointError, atomic_open, load, save

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _arrays(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "embedding.weight": rng.standard_normal((7, 3)).astype(np.float32),
        "lstm.weight_hh_l0": rng.standard_normal((16, 4)),          # float64
        "optim/step": np.array(12, dtype=np.int64),                 # 0-d
        "rng_state": rng.integers(0, 2**63, size=4, dtype=np.uint64),
        "mask": rng.random(5) > 0.5,
        "empty": np.zeros((0, 3), dtype=np.float32),
        "transposed": rng.standard_normal((3, 5)).astype(np.float32).T,  # not C-contiguous
    }


META = {"step": 12, "config": {"model": "lstm", "rnn_size": 128, "lr": 2e-3},
        "vocab": {"type": "char", "chars": "\n é☃\"\\"}, "losses": [4.2, 3.1]}


def _listing(directory):
    return sorted(os.listdir(directory))


def test_round_trip(tmp_path):
    path = tmp_path / "ckpt" / "deep" / "latest.npz"            # parents created
    arrays = _arrays()
    save(path, arrays, META)
    loaded, meta = load(path)
    assert meta == META
    assert loaded.keys() == arrays.keys()
    for key, value in arrays.items():
        assert loaded[key].dtype == value.dtype and loaded[key].shape == value.shape
        assert np.array_equal(loaded[key], value), key
    # an ordinary npz: plain NumPy reads it with pickle disabled
    with np.load(path, allow_pickle=False) as npz:
        assert json.loads(str(npz[META_KEY]))["meta"] == META
    assert _listing(path.parent) == ["latest.npz"]


def test_path_used_as_given_and_compressed(tmp_path):
    path = tmp_path / "model.ckpt"
    save(str(path), {"w": np.ones(1000, np.float32)}, {}, compress=True)
    assert _listing(tmp_path) == ["model.ckpt"]                 # no ".npz" appended
    assert path.stat().st_size < 1000
    assert np.array_equal(load(path)[0]["w"], np.ones(1000, np.float32))
    assert load(path)[1] == {}


def test_overwrite_replaces(tmp_path):
    path = tmp_path / "c.npz"
    save(path, _arrays(0), {"step": 1})
    save(path, {"x": np.arange(3)}, {"step": 2})
    arrays, meta = load(path)
    assert meta == {"step": 2} and list(arrays) == ["x"]
    assert _listing(tmp_path) == ["c.npz"]


class Boom(Exception):
    pass


def test_interrupted_write_keeps_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "latest.npz"
    save(path, _arrays(0), {"step": 1})
    before = path.read_bytes()

    real_write_array = np.lib.format.write_array
    written = []

    def crash_on_third_entry(fp, array, **kwargs):
        written.append(array.shape)
        if len(written) == 3:
            fp.write(b"half an array")                          # a partial entry ...
            raise Boom("disk on fire")                          # ... then a crash
        return real_write_array(fp, array, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", crash_on_third_entry)
    with pytest.raises(Boom):
        save(path, _arrays(1), {"step": 2})
    assert len(written) == 3                                    # it did crash mid-write
    monkeypatch.undo()

    assert path.read_bytes() == before
    arrays, meta = load(path)
    assert meta == {"step": 1}
    assert np.array_equal(arrays["lstm.weight_hh_l0"], _arrays(0)["lstm.weight_hh_l0"])
    assert _listing(tmp_path) == ["latest.npz"]                 # no temporary file left


@pytest.mark.parametrize("exc", [OSError("No space left on device"), KeyboardInterrupt()])
def test_failure_at_fsync_leaves_no_trace(tmp_path, monkeypatch, exc):
    path = tmp_path / "latest.npz"
    save(path, {"w": np.zeros(3)}, {"step": 1})

    def failing_fsync(fd):
        raise exc

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(type(exc)):
        save(path, {"w": np.ones(3)}, {"step": 2})
    monkeypatch.undo()
    assert load(path)[1] == {"step": 1}
    assert _listing(tmp_path) == ["latest.npz"]


def test_interrupted_first_write_creates_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(Boom()))
    with pytest.raises(Boom):
        save(tmp_path / "new.npz", {"w": np.zeros(3)}, {})
    assert _listing(tmp_path) == []


def test_atomic_open_text(tmp_path):
    path = tmp_path / "log.json"
    with atomic_open(path, "w", encoding="utf-8") as f:
        json.dump({"loss": [1.0]}, f)
    with pytest.raises(Boom):
        with atomic_open(path, "w", encoding="utf-8") as f:
            f.write("{broken")
            raise Boom()
    assert json.loads(path.read_text()) == {"loss": [1.0]}
    assert _listing(tmp_path) == ["log.json"]


# ---- bad files -----------------------------------------------------------------
def _error(path):
    with pytest.raises(CheckpointError) as info:
        load(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    return message


@pytest.mark.parametrize("keep", [0.5, 0.9, 0.99, 30])
def test_truncated_file(tmp_path, keep):
    path = tmp_path / "c.npz"
    save(path, _arrays(), META)
    data = path.read_bytes()
    n = keep if isinstance(keep, int) else int(len(data) * keep)
    path.write_bytes(data[:n])
    assert "truncated or corrupted" in _error(path)


def test_corrupted_bytes_inside_an_entry(tmp_path):
    path = tmp_path / "c.npz"
    save(path, {"w": np.zeros(1000)}, {})
    data = bytearray(path.read_bytes())
    data[2000] ^= 0xFF                                          # inside w's data
    path.write_bytes(bytes(data))
    assert "corrupted" in _error(path)


def test_random_bytes(tmp_path):
    path = tmp_path / "random.npz"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    assert "not an .npz/zip file" in _error(path)


def test_pickled_object_refused(tmp_path):
    path = tmp_path / "evil.npz"
    header = json.dumps({"format": checkpoint.FORMAT, "version": checkpoint.VERSION,
                         "meta": {}})
    with open(path, "wb") as f:
        np.savez(f, allow_pickle=True, w=np.ones(2),
                 payload=np.array([{"a": 1}, None], dtype=object),
                 **{META_KEY: np.array(header)})
    message = _error(path)
    assert "'payload'" in message and "pickled Python object" in message


def test_plain_npz_without_meta(tmp_path):
    path = tmp_path / "plain.npz"
    np.savez(path, w=np.ones(2))
    assert "not a tinyrnn checkpoint" in _error(path)


@pytest.mark.parametrize("header, expected", [
    ("{not json", "not valid JSON"),
    (json.dumps({"format": "other", "version": 1, "meta": {}}), "not a tinyrnn checkpoint"),
    (json.dumps({"format": checkpoint.FORMAT, "version": 99, "meta": {}}),
     "format version 99; this tinyrnn reads version 1"),
    (json.dumps({"format": checkpoint.FORMAT, "version": 1, "meta": [1]}), "expected a JSON object"),
])
def test_bad_meta(tmp_path, header, expected):
    path = tmp_path / "c.npz"
    with open(path, "wb") as f:
        np.savez(f, w=np.ones(2), **{META_KEY: np.array(header)})
    assert expected in _error(path)


def test_missing_empty_and_directory(tmp_path):
    assert "does not exist" in _error(tmp_path / "nope.npz")
    (tmp_path / "empty.npz").write_bytes(b"")
    assert "is empty" in _error(tmp_path / "empty.npz")
    assert "is a directory" in _error(tmp_path)


@pytest.mark.parametrize("arrays, meta, expected", [
    ({"w": np.array([object()], dtype=object)}, {}, "dtype object"),
    ({META_KEY: np.ones(1)}, {}, "reserved"),
    ({1: np.ones(1)}, {}, "non-empty strings"),
    ({"w": np.ones(1)}, {"bad": object()}, "not JSON-serialisable"),
    ([np.ones(1)], {}, "must be a dict"),
])
def test_save_rejects_bad_input_and_writes_nothing(tmp_path, arrays, meta, expected):
    path = tmp_path / "c.npz"
    with pytest.raises(CheckpointError, match=expected):
        save(path, arrays, meta)
    assert _listing(tmp_path) == []


# ---- hostile files: checked before anything is allocated ------------------------
HUGE = (100_000, 100_000, 100)                                  # 3.6 TiB of float32


def _refused_cheaply(path, **kwargs) -> str:
    """load refuses ``path`` in one line without allocating, changing nothing (how
    fast: benchmarks/bench_data.py)."""
    before = path.read_bytes()
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError) as info:
            load(path, **kwargs)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    assert peak < 50 * 2**20, peak
    assert path.read_bytes() == before
    return message


@pytest.mark.parametrize("shape", [HUGE, (2, 2**30)])           # 3.6 TiB; 8 GiB
def test_header_promising_more_than_the_member_holds(tmp_path, shape):
    path = tmp_path / "crafted.npz"
    write_npz(path, {"w": npy_header("<f4", shape) + b"\x00" * 16})
    message = _refused_cheaply(path)
    assert f"member 'w' declares shape {shape} float32" in message
    assert "holds 16 bytes of data" in message


def test_header_promising_less_than_the_member_holds(tmp_path):
    path = tmp_path / "c.npz"
    write_npz(path, {"w": npy_header("<f4", (2,)) + b"\x00" * 12})
    assert "declares shape (2,) float32 (8 bytes) but holds 12 bytes" in _refused_cheaply(path)


def test_directory_sizes_checked_against_the_file(tmp_path):
    path = tmp_path / "c.npz"
    write_npz(path, {"w": npy(np.zeros(100))})
    data = bytearray(path.read_bytes())
    directory = data.rindex(b"PK\x01\x02w.npy"[:4])             # the last member's entry
    data[directory + 24:directory + 28] = (10**9).to_bytes(4, "little")   # file size
    path.write_bytes(bytes(data))
    assert "member 'w.npy'" in _refused_cheaply(path)


def test_a_deflated_member_cannot_claim_more_than_deflate_makes(tmp_path):
    path = tmp_path / "c.npz"
    write_npz(path, {"w": npy(np.zeros(100))}, compression=zipfile.ZIP_DEFLATED)
    data = bytearray(path.read_bytes())
    directory = data.rindex(b"PK\x01\x02")
    data[directory + 24:directory + 28] = (4 * 10**9).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    assert "more than deflate can produce" in _refused_cheaply(path)


def test_total_size_cap(tmp_path):
    path = tmp_path / "c.npz"
    save(path, {"a": np.zeros(1000), "b": np.zeros(1000)}, {})
    message = _refused_cheaply(path, max_bytes=10_000)       # 16,000 data + headers
    assert re.search(r"members take 16,\d{3} bytes unpacked, more than the limit of "
                     r"10,000 \(load's max_bytes\)", message), message
    assert load(path, max_bytes=20_000)[0]["a"].shape == (1000,)


@pytest.mark.parametrize("descr, expected", [
    ("|O", "pickled Python object"),
    ("<M8[s]", "dtype '<M8[s]'"),
    ("|V8", "dtype '|V8'"),
    ([("a", "<f4"), ("b", "<i4")], "dtype '|V8'"),
    ("<U3", "dtype '<U3'"),
])
def test_dtypes_outside_the_allow_list(tmp_path, descr, expected):
    path = tmp_path / "c.npz"
    write_npz(path, {"w": npy_header(descr, (1,)) + b"\x00" * 12})
    message = _refused_cheaply(path)
    assert "member 'w'" in message and expected in message


def test_unreadable_headers(tmp_path):
    path = tmp_path / "c.npz"
    write_npz(path, {"w": b"\x93NUMPY\x03\x00" + npy(np.zeros(2))[8:]})
    assert "format version (3, 0)" in _refused_cheaply(path)
    write_npz(path, {"w": npy(np.zeros(2)).replace(b"'shape'", b"'shapf'")})
    assert "member 'w' has an unreadable .npy header" in _refused_cheaply(path)
    write_npz(path, {"w": b"\x93NUMPY\x01\x00\xff\xff" + b" " * 70_000})
    assert "member 'w' has an unreadable .npy header" in _refused_cheaply(path)


def test_fortran_order_and_version_2_headers_load(tmp_path):
    path = tmp_path / "c.npz"
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    write_npz(path, {"f": npy(np.asfortranarray(a)),
                     "v2": npy_header("<f4", (2, 3), version=(2, 0)) + a.tobytes()})
    arrays, _ = load(path)
    assert np.array_equal(arrays["f"], a) and np.array_equal(arrays["v2"], a)


def test_names_compression_and_counts(tmp_path, monkeypatch):
    path = tmp_path / "c.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(META_KEY + ".npy", meta_npy())
        archive.writestr("w.npy", npy(np.zeros(2)))
        with pytest.warns(UserWarning, match="Duplicate"):
            archive.writestr("w.npy", npy(np.ones(2)))
    assert "member 'w.npy' appears twice" in _refused_cheaply(path)
    write_npz(path, {"w": npy(np.zeros(2))}, compression=zipfile.ZIP_BZIP2)
    assert "compression method 12" in _refused_cheaply(path)
    write_npz(path, {"a\nb": npy(np.zeros(2))})
    assert "printable" in _refused_cheaply(path)
    write_npz(path, {f"w{i}": npy(np.zeros(1)) for i in range(5)})
    monkeypatch.setattr(archive_module, "MAX_MEMBERS", 5)
    assert "6 members, more than the 5" in _refused_cheaply(path)
    monkeypatch.setattr(archive_module, "MAX_MEMBERS", 6)
    monkeypatch.setattr(archive_module, "MAX_META_BYTES", 100)
    assert "'__meta__' is 360 bytes, more than the 100" in _refused_cheaply(path)


SPEC = {"embedding.weight": (np.float32, (7, 3)), "lstm.*": (np.float64, (16, None)),
        "optim/step": (None, ()), "rng_state": ("uint64", None), "mask": (bool, (5,)),
        "empty": (np.float32, (0, 3)), "transposed": (np.float32, (5, 3))}


def test_expected_names_dtypes_and_shapes(tmp_path):
    path = tmp_path / "c.npz"
    save(path, _arrays(), META)
    arrays, meta = load(path, expected=SPEC)
    assert arrays.keys() == _arrays().keys() and meta == META
    seen = []
    load(path, expected=lambda m, headers: seen.append((m, headers)) or SPEC)
    assert seen[0][0] == META and seen[0][1]["embedding.weight"].shape == (7, 3)
    for change, needle in [
        ({"embedding.weight": (np.float32, (3, 7))},
         "member 'embedding.weight' has shape (7, 3) float32, its config implies "
         "shape (3, 7) float32"),
        ({"mask": (np.uint8, (5,))}, "implies shape (5,) uint8"),
        ({"lstm.*": (np.float64, (16, 5))}, "'lstm.weight_hh_l0'"),
        ({"missing": (None, None)}, "lacks 'missing', which its config requires"),
    ]:
        assert needle in _refused_cheaply(path, expected={**SPEC, **change})
    assert "member 'mask' is not part of" in _refused_cheaply(
        path, expected={k: v for k, v in SPEC.items() if k != "mask"})

    def bad_config(meta, headers):
        raise ValueError("its config says rnn_size -1")
    assert "is inconsistent: its config says rnn_size -1" in \
        _refused_cheaply(path, expected=bad_config)


def test_cli_refuses_a_crafted_checkpoint_in_one_line(tmp_path):
    """The real command line, in a fresh process and folder."""
    path = tmp_path / "crafted.npz"
    write_npz(path, {"param/decoder.weight": npy_header("<f4", HUGE) + b"\x00" * 16})
    before = sorted(os.listdir(tmp_path)), path.read_bytes()
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    result = subprocess.run([sys.executable, "-m", "tinyrnn", "sample", "crafted.npz"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120,
                            env=env)
    assert result.returncode == 1 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "crafted.npz" in lines[0] and "'param/decoder.weight'" in lines[0]
    assert "declares shape (100000, 100000, 100) float32" in lines[0]
    assert (sorted(os.listdir(tmp_path)), path.read_bytes()) == before
