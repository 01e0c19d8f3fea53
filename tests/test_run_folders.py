"""Runs a user can trust: run folders, resuming, locking, overwriting,
and messages that say what happened. The real command line in scratch folders."""
from __future__ import annotations

import io
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from filelock import FileLock

from tinyrnn.utils import checkpoint
from tinyrnn.charlm.cli import main
from tinyrnn.charlm import store
from tinyrnn.charlm.train import console
from tinyrnn.charlm.options import TrainConfig, resolve_config
from tinyrnn.charlm.errors import Diverged, TrainError
from tinyrnn.charlm.train.loop import Trainer

ROOT = Path(__file__).resolve().parent.parent
TEXT = "".join(f"def f{i % 7}(x):\n    return x * {i % 5} + {i % 3}\n" for i in range(40))
TINY = ["--rnn-size", "8", "--num-layers", "1", "--batch-size", "4", "--seq-length", "8",
        "--eval-every", "2", "--sample-length", "0", "--seed", "3"]


def cli(*args, cwd) -> subprocess.CompletedProcess:
    """``python -m tinyrnn ARGS`` run in ``cwd`` with this checkout's tinyrnn."""
    return subprocess.run([sys.executable, "-m", "tinyrnn", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=180,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def one_line(done: subprocess.CompletedProcess, code: int, *needles: str) -> str:
    assert done.returncode == code, (done.returncode, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def step_of(path) -> int:
    return checkpoint.load(path)[1]["step"]


@pytest.fixture
def text(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


# ---- 1. a moved run is resumed where it is ---------------------------------------------
def test_a_moved_run_is_resumed_where_it_is(tmp_path, text):
    assert cli("train", text, *TINY, "--max-steps", "2", "--checkpoint-dir", "run1",
               cwd=tmp_path).returncode == 0
    os.rename(tmp_path / "run1", tmp_path / "run2")
    done = cli("train", "--init-from", "run2/latest.npz", "--max-steps", "4", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "run1").exists()
    assert step_of(tmp_path / "run2" / "latest.npz") == 4


# ---- 2. the text is found again by its absolute path, and checked by content ----------------
def test_resuming_from_elsewhere_finds_the_text_and_notices_a_change(tmp_path, text):
    (tmp_path / "elsewhere").mkdir()
    assert cli("train", "notes.txt", *TINY, "--max-steps", "2", "--checkpoint-dir", "ck",
               cwd=tmp_path).returncode == 0
    ckpt = tmp_path / "ck" / "latest.npz"
    assert checkpoint.load(ckpt)[1]["train"]["data"] == str(text)        # absolute
    done = cli("train", "--init-from", ckpt, "--max-steps", "4", cwd=tmp_path / "elsewhere")
    assert done.returncode == 0, done.stderr
    assert step_of(ckpt) == 4

    text.write_text(TEXT.replace("return", "yield "), encoding="utf-8")   # edited since
    line = one_line(cli("train", "--init-from", ckpt, "--max-steps", "6", cwd=tmp_path), 1,
                    str(text), "is not the text that run trained on", "--finetune-from")
    assert "1,280 chars" in line
    text.unlink()
    one_line(cli("train", "--init-from", ckpt, "--max-steps", "6", cwd=tmp_path), 1,
             f"the run trained on {str(text)!r}, which does not exist", "as DATA")
    assert step_of(ckpt) == 4


# ---- 3. another text: refused for --init-from, a fresh run with --finetune-from ----------------
def test_another_text_needs_finetune_from_which_starts_a_fresh_run(tmp_path, text):
    other = tmp_path / "other.txt"
    other.write_text(TEXT[::-1], encoding="utf-8")           # same characters, other text
    assert cli("train", text, *TINY, "--max-steps", "4", "--checkpoint-dir", "ck",
               cwd=tmp_path).returncode == 0
    before = (tmp_path / "ck" / "latest.npz").read_bytes()
    one_line(cli("train", other, "--init-from", "ck", "--max-steps", "6", cwd=tmp_path), 1,
             "resuming needs the same text", "--finetune-from")
    assert (tmp_path / "ck" / "latest.npz").read_bytes() == before

    done = cli("train", other, *TINY, "--finetune-from", "ck/latest.npz", "--max-steps", "2",
               "--checkpoint-dir", "tuned", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "resuming" not in done.stdout and "starting from the weights of" in done.stdout
    assert "a 1-layer lstm of 8 units at step 4" in done.stdout
    arrays, meta = checkpoint.load(tmp_path / "tuned" / "best.npz")
    assert meta["step"] == 2 and list(arrays["history/step"]) == [1, 2]
    assert meta["data"]["path"] == str(other)
    log = (tmp_path / "tuned" / "log.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in log[1:]] == ["1", "2"]


# ---- 4. a run locks its folder from the start --------------------------------------------
def test_a_second_run_into_a_folder_in_use_is_refused(tmp_path, text):
    folder = tmp_path / "ck"
    folder.mkdir()
    with FileLock(str(folder / ".lock")):           # another run holds it
        one_line(cli("train", text, *TINY, "--max-steps", "2", "--checkpoint-dir", folder,
                     cwd=tmp_path), 1, f"--checkpoint-dir {str(folder)!r} is in use")
    assert os.listdir(folder) == [".lock"]


def test_the_lock_is_taken_before_the_first_checkpoint(tmp_path, text):
    cfg = dict(data=str(text), rnn_size=8, num_layers=1, batch_size=4, seq_length=8,
               max_steps=2, checkpoint_dir=str(tmp_path / "ck"))
    first = Trainer(TrainConfig(**cfg))                 # set up, nothing saved yet
    assert not (tmp_path / "ck" / "latest.npz").exists()
    with pytest.raises(TrainError, match="is in use"):
        Trainer(TrainConfig(**cfg))
    assert first.run() == 0                             # ... which releases it
    again, start = resolve_config({"init_from": str(tmp_path / "ck"), "max_steps": 3})
    assert Trainer(again, start).run() == 0


# ---- 5. --overwrite clears the old run; --val-frac 0 has no best.npz ------------------------
def test_overwrite_clears_the_old_runs_files(tmp_path, text):
    assert cli("train", text, *TINY, "--max-steps", "2", "--checkpoint-dir", "ow",
               cwd=tmp_path).returncode == 0
    assert (tmp_path / "ow" / "best.npz").exists()
    done = cli("train", text, *TINY, "--max-steps", "2", "--checkpoint-dir", "ow",
               "--overwrite", "--val-frac", "0", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "no best.npz: --val-frac 0" in done.stdout
    assert sorted(os.listdir(tmp_path / "ow")) == [".lock", "latest.npz", "log.csv",
                                                   "loss.png"]
    assert checkpoint.load(tmp_path / "ow" / "latest.npz")[1]["train"]["val_frac"] == 0
    one_line(cli("sample", "ow/best.npz", cwd=tmp_path), 1, "--val-frac 0",
             "ow/latest.npz")


# ---- 6. messages that state what happened -----------------------------------------------------
def test_option_errors_name_the_flags_and_exit_2(tmp_path, text, capsys):
    one_line(cli("train", text, "--max-time", "0", cwd=tmp_path), 2,
             "--max-time must be > 0, got 0.0")
    for args, needles in (
            (["--train-frac", "0.9", "--val-frac", "0.5"], ["--train-frac 0.9",
                                                            "--val-frac 0.5"]),
            (["--rnn-size", "0"], ["--rnn-size must be >= 1"]),
            (["--rnn-size", "big"], ["argument --rnn-size", "'big'"])):   # argparse's own
        assert main(["train", str(text), *args, "--checkpoint-dir",
                     str(tmp_path / "ck")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and all(n in err[0] for n in needles), err
    assert not (tmp_path / "ck").exists()


def tiny_config(text, folder, **options) -> TrainConfig:
    return TrainConfig(**{**dict(data=str(text), rnn_size=8, num_layers=1, batch_size=4,
                                 seq_length=8, eval_every=2, sample_length=0, max_steps=10,
                                 checkpoint_dir=str(folder)), **options})


def test_ctrl_c_during_validation_saves_the_step_it_says(tmp_path, text, monkeypatch):
    real = Trainer.evaluate

    def ctrl_c_inside(self):
        if self.step == 2:
            os.kill(os.getpid(), signal.SIGINT)
        return real(self)

    monkeypatch.setattr(Trainer, "evaluate", ctrl_c_inside)
    out = io.StringIO()
    assert Trainer(tiny_config(text, tmp_path), out=out).run() == 130
    said = out.getvalue()
    assert "Ctrl-C: finishing this evaluation" in said and "step 3" not in said
    assert said.rstrip().endswith(f"saved step 2 in {tmp_path}")
    assert step_of(tmp_path / "latest.npz") == 2


def test_a_second_ctrl_c_during_the_save_says_nothing_was_saved(tmp_path, text, capsys,
                                                                monkeypatch):
    def two_ctrl_cs(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(store, "save_run", two_ctrl_cs)
    code = main(["train", str(text), *TINY, "--max-steps", "4", "--checkpoint-dir",
                 str(tmp_path / "ck")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 130 and len(err) == 1
    assert "interrupted at once during validation or saving; nothing was saved" in err[0]
    assert not (tmp_path / "ck" / "latest.npz").exists()


def test_divergence_points_to_a_checkpoint_with_a_finite_validation_loss(
        tmp_path, text, monkeypatch):
    real = Trainer.evaluate
    monkeypatch.setattr(Trainer, "evaluate",
                        lambda self: real(self) if self.step <= 2 else math.inf)
    with pytest.raises(Diverged) as info:
        Trainer(tiny_config(text, tmp_path)).run()
    message = str(info.value)
    assert "diverged at step 4" in message and "the validation loss is inf" in message
    assert f"{tmp_path / 'latest.npz'} (step 2)" in message
    arrays, meta = checkpoint.load(tmp_path / "latest.npz")
    assert meta["step"] == 2 and math.isfinite(arrays["history/val_loss"][1])


# ---- 7. progress when the output is not a terminal ------------------------------------------
def test_plain_progress_lines_when_not_on_a_terminal(tmp_path, text, monkeypatch):
    monkeypatch.setattr(console, "PROGRESS_EVERY", 0.0)
    out = io.StringIO()
    Trainer(tiny_config(text, tmp_path, eval_every=100, max_steps=3), out=out).run()
    lines = [line for line in out.getvalue().splitlines() if line.startswith("step ")]
    assert [line.split(" (")[0] for line in lines[:3]] == ["step 1/3", "step 2/3", "step 3/3"]
    assert "left (until the last step)" in lines[0]
    out = io.StringIO()
    Trainer(tiny_config(text, tmp_path / "t", eval_every=100, max_steps=10 ** 6,
                        max_time=1.0), out=out).run()
    first = next(line for line in out.getvalue().splitlines() if line.startswith("step 1/"))
    total = int(first.split("/")[1].split()[0])
    assert total < 10 ** 6 and "(until --max-time)" in first
