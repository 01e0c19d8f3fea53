"""Tests for tinyrnn.checkpoint: round trip, atomic writes, every bad file."""
import json
import os

import numpy as np
import pytest

from tinyrnn import checkpoint
from tinyrnn.checkpoint import META_KEY, CheckpointError, atomic_open, load, save


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
