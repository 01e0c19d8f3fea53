"""Lost work and litter: SIGTERM, the temporary files of a killed save, a full disk."""
from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tinyrnn.charlm import store
from tinyrnn.charlm.errors import EXIT_CODES, TrainError
from tinyrnn.charlm.options import TrainConfig
from tinyrnn.charlm.store import read_checkpoint
from tinyrnn.charlm.train import Trainer
from tinyrnn.charlm.train.folder import RunFolder

ROOT = Path(__file__).resolve().parent.parent


def small_text() -> str:
    return "the quick brown fox jumps over the lazy dog. " * 40


def config(tmp_path, **options) -> TrainConfig:
    text = tmp_path / "t.txt"
    if not text.exists():
        text.write_text(small_text(), encoding="utf-8")
    base = dict(data=str(text), rnn_size=4, num_layers=1, batch_size=2, seq_length=8,
                eval_every=2, sample_length=0, threads=1, checkpoint_dir=str(tmp_path / "ck"))
    return TrainConfig(**{**base, **options})


@pytest.mark.skipif(not hasattr(signal, "SIGTERM") or os.name != "posix",
                    reason="needs POSIX signals")
def test_sigterm_saves_and_stops_like_a_first_ctrl_c(tmp_path):
    text = tmp_path / "t.txt"
    text.write_text(small_text(), encoding="utf-8")
    folder = tmp_path / "ck"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TQDM_DISABLE": "1"}
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "tinyrnn", "train", str(text), "--rnn-size", "4",
         "--num-layers", "1", "--batch-size", "2", "--seq-length", "8",
         "--max-epochs", "100000", "--eval-every", "1000000", "--sample-length", "0",
         "--threads", "1", "--checkpoint-dir", str(folder)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        first = process.stdout.readline()           # printed once training has started
        assert first.startswith("training a"), first
        time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == EXIT_CODES["terminated"] == 143, out
    assert "SIGTERM: finishing this step, then saving and stopping" in out
    assert "Traceback" not in out
    arrays, meta = read_checkpoint(str(folder / "latest.npz"), resumable=True)
    assert meta["step"] > 0 and f"saved step {meta['step']} in" in out


def test_a_new_run_removes_the_temporary_files_of_a_killed_save_by_name(tmp_path):
    folder = tmp_path / "ck"
    folder.mkdir()
    stale = [".latest.npz.k3j_x9a2.tmp", ".best.npz.abcdefgh.tmp", ".log.csv.12345678.tmp"]
    kept = [".notes.txt.abcdefgh.tmp", ".latest.npz.TOOLONG123.tmp", "mine.tmp",
            "latest.npz.abcdefgh.tmp"]
    for name in stale + kept:
        (folder / name).write_bytes(b"x" * 100)
    (folder / ".loss.png.abcdefgh.tmp").mkdir()       # not a file: left alone
    trainer = Trainer(config(tmp_path, max_steps=2))
    assert sorted(trainer.folder.removed) == sorted(stale)
    trainer.run()
    left = set(os.listdir(folder))
    assert not left & set(stale)
    assert set(kept) | {".loss.png.abcdefgh.tmp"} <= left


def test_a_folder_another_run_holds_is_not_swept(tmp_path):
    folder = tmp_path / "ck"
    holder = RunFolder(str(folder))
    try:
        (folder / ".latest.npz.abcdefgh.tmp").write_bytes(b"being written")
        with pytest.raises(TrainError, match="is in use"):
            RunFolder(str(folder))
        assert (folder / ".latest.npz.abcdefgh.tmp").exists()
    finally:
        holder.release()


def test_a_full_disk_names_the_file_and_says_earlier_checkpoints_are_intact(tmp_path,
                                                                          monkeypatch):
    trainer = Trainer(config(tmp_path, max_steps=4))
    real_save, calls = store.save_run, []

    def save_until_full(path, *args, **kwargs):
        calls.append(path)
        if len(calls) > 2:          # step 2 saves best.npz and latest.npz; then it is full
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)
        real_save(path, *args, **kwargs)
    monkeypatch.setattr(store, "save_run", save_until_full)
    with pytest.raises(TrainError) as caught:
        trainer.run()
    message = str(caught.value)
    latest = os.path.join(str(tmp_path / "ck"), "latest.npz")
    assert message.startswith(f"cannot write {calls[2]!r}: No space left on device; ")
    assert len(message.splitlines()) == 1
    assert message.endswith(f"the checkpoints saved before are intact (the last is "
                            f"{latest}, step 2)")
    _, meta = read_checkpoint(latest, resumable=True)   # and it is
    assert meta["step"] == 2
