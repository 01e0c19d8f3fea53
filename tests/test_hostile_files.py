"""Hostile files: special files, decompression bombs, NaN weights, crafted safetensors.

Every case ends in a correct result or one line naming the file, within
seconds. Anything that could block (a named pipe) runs under ``signal.alarm``
so that a regression fails the test instead of hanging the suite.
"""
from __future__ import annotations

import json
import os
import signal
import struct
import tracemalloc
import zipfile

import numpy as np
import pytest

from tinyrnn.charlm import CharLM, CharVocab
from tinyrnn.charlm.bridge import BridgeError, model_from_safetensors, write_safetensors
from tinyrnn.charlm.cli import main
from tinyrnn.charlm.errors import DataError, ModelFileError
from tinyrnn.charlm.store import load_model, read_checkpoint, save_model
from tinyrnn.charlm.textfile import load_ids, load_text
from tinyrnn.utils import checkpoint
from tinyrnn.utils.files import open_regular

from npz_craft import npy_header

needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")


@pytest.fixture
def deadline():
    """Fail (not hang) when the test body blocks for more than 20 seconds."""
    def expire(signum, frame):
        raise TimeoutError("blocked: the code under test waited on a special file")
    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "pipe"
    os.mkfifo(path)
    return str(path)


@pytest.fixture
def model_file(tmp_path):
    path = str(tmp_path / "m.npz")
    save_model(path, CharLM(3, 4, 1, cell="lstm"), CharVocab("abc"))
    return path


def one_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0], err
    return err[0]


# ---- 1. special files ------------------------------------------------------------------
@needs_fifo
@pytest.mark.parametrize("reader", [
    lambda p: load_text(p), lambda p: load_ids(p, max_chars=1000),
    lambda p: checkpoint.load(p), lambda p: read_checkpoint(p),
    lambda p: model_from_safetensors(p),
], ids=["load_text", "load_ids", "checkpoint.load", "read_checkpoint", "safetensors"])
def test_a_named_pipe_is_refused_without_blocking(reader, fifo, deadline):
    with pytest.raises((DataError, ModelFileError, BridgeError, ValueError),
                       match=r"'.*pipe' is a named pipe \(FIFO\), expected a regular file"):
        reader(fifo)


@needs_fifo
@pytest.mark.parametrize("argv", [
    ["train", "{fifo}", "--max-chars", "1000"],
    ["train", "--finetune-from", "{fifo}"],
    ["train", "--finetune-from", "{fifo_st}"],
    ["import", "{fifo_st}", "{out}"],
    ["sample", "{fifo}"],
    ["export", "{fifo}", "{out_st}"],
], ids=["train", "finetune-npz", "finetune-safetensors", "import", "sample", "export"])
def test_the_command_line_refuses_a_named_pipe_in_one_line(argv, tmp_path, fifo, deadline,
                                                           capsys):
    fifo_st = str(tmp_path / "pipe.safetensors")
    os.mkfifo(fifo_st)
    names = dict(fifo=fifo, fifo_st=fifo_st, out=str(tmp_path / "o.npz"),
                 out_st=str(tmp_path / "o.safetensors"))
    argv = [a.format(**names) for a in argv] + (
        ["--checkpoint-dir", str(tmp_path / "ck")] if argv[0] == "train" else [])
    assert main(argv) == 1
    assert "is a named pipe (FIFO), expected a regular file" in one_line(capsys)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
@pytest.mark.parametrize("reader", [load_text, read_checkpoint, model_from_safetensors],
                         ids=["text", "checkpoint", "safetensors"])
def test_a_device_is_refused_as_a_device(reader, deadline):
    with pytest.raises((DataError, ModelFileError, BridgeError),
                       match=r"'/dev/zero' is a character device, expected a regular file"):
        reader("/dev/zero")


@pytest.mark.parametrize("reader", [load_text, read_checkpoint, model_from_safetensors],
                         ids=["text", "checkpoint", "safetensors"])
def test_a_symlink_loop_is_named_as_one(reader, tmp_path):
    loop = tmp_path / "loop"
    os.symlink(loop, loop)
    with pytest.raises((DataError, ModelFileError, BridgeError),
                       match=r"'.*loop' is a loop of symbolic links, expected a regular file"):
        reader(str(loop))


def test_open_regular_opens_a_regular_file_once_through_a_symlink(tmp_path):
    target = tmp_path / "t.txt"
    target.write_bytes(b"abc")
    os.symlink(target, tmp_path / "link")
    with open_regular(tmp_path / "link", "data file") as f:
        assert f.read() == b"abc"


@needs_fifo
def test_resuming_a_run_whose_text_became_a_pipe_says_so(tmp_path, capsys, deadline):
    text = tmp_path / "t.txt"
    text.write_text("hello world, " * 200, encoding="utf-8")
    folder = tmp_path / "ck"
    assert main(["train", str(text), "--rnn-size", "4", "--num-layers", "1",
                 "--batch-size", "2", "--seq-length", "8", "--max-steps", "2",
                 "--sample-length", "0", "--threads", "1",
                 "--checkpoint-dir", str(folder)]) == 0
    capsys.readouterr()
    text.unlink()
    os.mkfifo(text)
    assert main(["train", "--init-from", str(folder)]) == 1
    line = one_line(capsys)
    assert f"the run's text {str(text)!r} is a named pipe (FIFO)" in line
    assert "does not exist" not in line


# ---- 2. a small file that would cost gigabytes ------------------------------------------
@pytest.fixture
def bomb(tmp_path, model_file):
    """A model checkpoint plus a deflated all-zero optim/ member of 64 MiB (~64 kB)."""
    path = str(tmp_path / "bomb.npz")
    with zipfile.ZipFile(model_file) as zin, zipfile.ZipFile(
            path, "w", compression=zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info))
        with zout.open("optim/m.0.npy", "w", force_zip64=True) as entry:
            entry.write(npy_header("<f4", (2**24,)))
            for _ in range(64):
                entry.write(bytes(2**20))
    assert os.path.getsize(path) < 2**20
    return path


def test_sampling_and_export_never_read_what_they_do_not_need(bomb):
    tracemalloc.start()
    try:
        model, vocab, _ = load_model(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert vocab.chars == "abc"
    assert peak < 8 * 2**20, f"{peak:,} bytes: the optim/ member was decompressed"


def test_resuming_refuses_optimizer_arrays_beyond_what_the_model_needs(bomb):
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError, match=r"its optim/\* arrays declare 67,108,864 "
                                                 r"bytes, more than the [\d,]+ its model"):
            read_checkpoint(bomb, resumable=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20


def test_only_reads_the_members_asked_for(tmp_path, model_file):
    """A damaged member outside ``only`` is never opened: the load succeeds."""
    path = str(tmp_path / "damaged.npz")
    with zipfile.ZipFile(model_file) as zin, zipfile.ZipFile(path, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info))
        zout.writestr("history/step.npy", b"\x93NUMPY garbage that is no header")
    arrays, _ = checkpoint.load(path, only=("param/*",))
    assert arrays and all(k.startswith("param/") for k in arrays)
    with pytest.raises(checkpoint.CheckpointError, match="member 'history/step' is .npy"):
        checkpoint.load(path)


# ---- 5 and 7. non-finite weights ----------------------------------------------------------
def test_a_checkpoint_with_nan_weights_is_refused_naming_the_member(tmp_path, model_file):
    arrays, meta = checkpoint.load(model_file)
    arrays["param/decoder.bias"] = arrays["param/decoder.bias"].copy()
    arrays["param/decoder.bias"][1] = np.inf
    checkpoint.save(tmp_path / "inf.npz", arrays, meta)
    with pytest.raises(ModelFileError, match=r"member 'param/decoder.bias' holds NaN or "
                                             r"infinite values; expected finite numbers"):
        load_model(str(tmp_path / "inf.npz"))


@pytest.fixture
def safetensors_file(tmp_path):
    pytest.importorskip("safetensors")
    path = str(tmp_path / "m.safetensors")
    write_safetensors(path, CharLM(3, 4, 1, cell="gru"), CharVocab("abc"))
    return path


def _rewrite(path: str, change) -> None:
    """Apply ``change(header: dict, data: bytearray)`` to a safetensors file in place."""
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header, data = json.loads(raw[8:8 + n]), bytearray(raw[8 + n:])
    change(header, data)
    encoded = json.dumps(header).encode("utf-8")
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)) + encoded + bytes(data))


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_import_refuses_non_finite_weights_naming_the_tensor(safetensors_file, tmp_path,
                                                             value, capsys):
    def poison(header, data):
        begin = header["decoder.weight"]["data_offsets"][0]
        data[begin:begin + 4] = struct.pack("<f", value)
    _rewrite(safetensors_file, poison)
    assert main(["import", safetensors_file, str(tmp_path / "out.npz")]) == 1
    assert "tensor 'decoder.weight' holds NaN or infinite values" in one_line(capsys)
    assert not (tmp_path / "out.npz").exists()


@pytest.mark.parametrize("dtype", [{"a": 1}, ["F32"], None, 32])
def test_a_dtype_that_is_no_string_is_one_line(safetensors_file, dtype):
    def change(header, data):
        header["decoder.bias"]["dtype"] = dtype
    _rewrite(safetensors_file, change)
    with pytest.raises(BridgeError, match=r"tensor 'decoder.bias' has dtype .*; expected "
                                          r"one of F32, F64"):
        model_from_safetensors(safetensors_file)


def test_a_lone_surrogate_in_the_vocabulary_is_one_line(safetensors_file):
    def change(header, data):
        header["__metadata__"]["vocab"] = "ab\ud800"
    with open(safetensors_file, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    change(header, None)
    encoded = json.dumps(header).encode("utf-8")          # "\ud800" as a JSON escape
    with open(safetensors_file, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)) + encoded + raw[8 + n:])
    with pytest.raises(BridgeError, match=r"'\\ud800' is a lone UTF-16 surrogate"):
        model_from_safetensors(safetensors_file)


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts /proc/self/fd")
def test_a_path_swapped_after_its_check_is_refused_and_closed(tmp_path, monkeypatch):
    """Between the stat and the open a regular file may become something else:
    the open descriptor is checked again, and closed when it is refused."""
    from tinyrnn.utils import files
    monkeypatch.setattr(files, "check_regular", lambda *args: 0)    # the swap won the race
    open_before = len(os.listdir("/proc/self/fd"))
    for _ in range(3):
        with pytest.raises(ValueError, match="is a directory, expected a regular file"):
            open_regular(tmp_path, "data file")
    assert len(os.listdir("/proc/self/fd")) == open_before


def test_check_regular_returns_the_files_size(tmp_path):
    from tinyrnn.utils.files import check_regular
    path = tmp_path / "t.txt"
    path.write_bytes(b"12345")
    assert check_regular(path, "data file") == 5


def test_file_kind_names_every_kind_of_file():
    import stat
    from tinyrnn.utils.files import file_kind
    assert file_kind(stat.S_IFREG) == "a regular file"
    assert file_kind(stat.S_IFDIR) == "a directory"
