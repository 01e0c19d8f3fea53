"""examples/hello_char_rnn.py learns "hello" with every cell, and says so when it does not."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "examples" / "hello_char_rnn.py"


def load_hello():
    spec = importlib.util.spec_from_file_location("hello_char_rnn", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hello = load_hello()


@pytest.mark.parametrize("cell", hello.CELLS)
def test_learns_hello_with_every_cell(cell, capsys):
    assert hello.main(["--cell", cell, "--steps", "80", "--hidden", "8"]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().splitlines()[-1].startswith("From 'h' it writes: hello")
    losses = [float(line.split("loss")[1].split()[0]) for line in out.splitlines()
              if line.strip().startswith("step")]
    assert len(losses) == 5 and losses[-1] < 0.1 < losses[0]
    assert all(b < a for a, b in zip(losses, losses[1:]))        # falling


def test_exits_nonzero_when_it_did_not_learn(capsys):
    assert hello.main(["--steps", "2", "--quiet"]) == 1
    captured = capsys.readouterr()
    assert "Did not learn" in captured.err and "wanted 'hello'" in captured.err


def test_bad_options(capsys):
    with pytest.raises(SystemExit) as err:
        hello.main(["--cell", "transformer"])
    assert err.value.code == 2 and "invalid choice: 'transformer'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        hello.main(["--steps", "0"])
    assert "--steps must be at least 1" in capsys.readouterr().err


def test_the_readme_command_prints_hello():
    done = subprocess.run([sys.executable, str(SCRIPT), "--quiet"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "hello"
