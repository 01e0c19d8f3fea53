"""tinyrnn.utils.malloc: freed memory kept for the next step on Linux/glibc, a
no-op elsewhere, and the command line's training sets it."""
from __future__ import annotations

import ctypes.util
import sys

import pytest

from tinyrnn.utils import malloc
from tinyrnn.charlm.cli import main


def test_a_no_op_where_there_is_no_glibc(monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    assert malloc.keep_freed_memory() is False
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: "/no/such/libc.so")
    assert malloc.keep_freed_memory() is False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_glibc_takes_the_setting():
    import platform
    if platform.libc_ver()[0] != "glibc":
        pytest.skip("not glibc")
    assert malloc.keep_freed_memory() is True


def test_training_keeps_freed_memory(tmp_path, capsys, monkeypatch):
    import tinyrnn.charlm.train.loop as loop
    calls = []
    monkeypatch.setattr(loop, "keep_freed_memory", lambda: calls.append(1) or True)
    (tmp_path / "t.txt").write_text("hello world, hello tinyrnn\n" * 40, encoding="utf-8")
    assert main(["train", str(tmp_path / "t.txt"), "--rnn-size", "4", "--num-layers", "1",
                 "--batch-size", "4", "--seq-length", "8", "--max-steps", "1",
                 "--sample-length", "0", "--threads", "1",
                 "--checkpoint-dir", str(tmp_path / "ck")]) == 0, capsys.readouterr().err
    assert calls == [1]
