"""`python -m tinyrnn sample`: the new strategies, numbers out of range named in one
line, errors that name their real cause, and output streamed as it is made."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import tinyrnn as tr
from tinyrnn.charlm import CharLM, CharVocab, save_model
from tinyrnn.charlm.cli import main

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> str:
    tr.manual_seed(0)
    path = str(tmp_path_factory.mktemp("ckpt") / "tiny.npz")
    save_model(path, CharLM(5, hidden_size=8, num_layers=1), CharVocab("ab \nc"))
    return path


def run(argv, capsys) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("flags", [["--top-k", "2"], ["--top-p", "0.7"], ["--beam", "3"],
                                   ["--top-k", "3", "--top-p", "0.9", "--temperature", "0.7"]])
def test_each_strategy_prints_prime_plus_length_and_repeats_with_the_seed(checkpoint, capsys,
                                                                          flags):
    argv = ["sample", checkpoint, "--length", "60", "--prime", "ab", "--seed", "4", *flags]
    code, first, _ = run(argv, capsys)
    assert code == 0 and first.startswith("ab") and len(first) == 2 + 60 + 1
    assert run(argv, capsys)[1] == first


@pytest.mark.parametrize("flags, named", [
    (["--temperature", "inf"], "--temperature must be a finite number; got inf"),
    (["--temperature", "nan"], "--temperature must be a number > 0; got nan"),
    (["--temperature", "0"], "--temperature must be a number > 0; got 0"),
    (["--seed", "-1"], "--seed must be an int >= 0; got -1"),
    (["--top-k", "0"], "--top-k must be an int >= 1; got 0"),
    (["--top-p", "1.5"], r"--top-p must be a number in (0, 1]; got 1.5"),
    (["--top-p", "nan"], r"--top-p must be a number in (0, 1]; got nan"),
    (["--beam", "0"], "--beam must be an int >= 1; got 0"),
    (["--beam", "2", "--argmax"], "--beam prints the most probable continuation; it does "
                                  "not combine with --argmax, --top-k or --top-p"),
    (["--beam", "2", "--length", "100001"], "--length must be <= 100000 with --beam"),
    (["--length", "-3"], "--length must be an int >= 0; got -3"),
])
def test_numbers_out_of_range_are_one_line_naming_the_option(checkpoint, capsys, flags, named):
    code, out, err = run(["sample", checkpoint, *flags], capsys)
    assert code == 2 and out == ""
    assert named in err and err.count("\n") == 1


def test_prime_errors_still_name_the_prime(checkpoint, capsys):
    code, _, err = run(["sample", checkpoint, "--prime", "xyz"], capsys)
    assert code == 2 and err.startswith("python -m tinyrnn sample: error: --prime: ")
    assert "'x', 'y', 'z'" in err


def test_nan_weights_are_named_as_such_with_exit_code_1(tmp_path, capsys):
    tr.manual_seed(0)
    model = CharLM(5, hidden_size=8, num_layers=1)
    model.decoder.weight.data[0, 0] = np.nan
    path = str(tmp_path / "nan.npz")
    save_model(path, model, CharVocab("ab \nc"))
    for flags in ([], ["--argmax"], ["--beam", "2"]):
        code, out, err = run(["sample", path, "--length", "20", *flags], capsys)
        assert code == 1 and "--prime" not in err and err.count("\n") == 1
        assert "holds NaN or infinite values" in err and "param/decoder.weight" in err


def test_output_streams_and_ctrl_c_keeps_what_was_printed(checkpoint):
    """A sample of 10**8 characters prints as it goes; Ctrl-C ends it with 130
    and says how much was printed (the characters are on stdout already)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "tinyrnn", "sample", checkpoint,
                             "--length", str(10 ** 8)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    try:
        first = proc.stdout.read1(1)            # blocks until the first flush
        assert first
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    shown = len((first + rest).decode())
    assert proc.returncode == 130
    assert "interrupted after" in err.decode() and "nothing was written" not in err.decode()
    assert f"{shown:,} characters" in err.decode()
