"""``python -m tinyrnn train`` / ``sample``: the whole pipeline on tiny data, and
every bad input ending in one line on stderr, a non-zero exit and nothing
overwritten."""
import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest

from tinyrnn.utils import checkpoint
from tinyrnn.charlm.cli import build_parser, main

TEXT = "".join(f"def f{i % 7}(x):\n    return x * {i % 5} + {i % 3}\n" for i in range(40))
TINY = ["--rnn-size", "8", "--num-layers", "2", "--batch-size", "4", "--seq-length", "8",
        "--eval-every", "5", "--sample-length", "10", "--seed", "3"]


@pytest.fixture
def data(tmp_path):
    path = tmp_path / "input.txt"
    path.write_text(TEXT, encoding="utf-8")
    return str(path)


@pytest.fixture
def trained(tmp_path, data):
    """A checkpoint directory of a 10-step run."""
    folder = tmp_path / "ck"
    assert main(["train", data, *TINY, "--max-steps", "10", "--checkpoint-dir",
                 str(folder)]) == 0
    return folder


def digest(folder) -> dict:
    """File name -> sha256 of everything in ``folder`` (empty if it does not exist)."""
    if not os.path.isdir(folder):
        return {}
    return {name: hashlib.sha256((folder / name).read_bytes()).hexdigest()
            for name in sorted(os.listdir(folder))}


def one_line_error(capsys, code: int, *needles: str) -> str:
    out, err = capsys.readouterr()
    assert code not in (0, None)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


# ---------------------------------------------------------------------------
# Help
# ---------------------------------------------------------------------------
def test_help_explains_every_option_with_its_default(capsys):
    assert main(["--help"]) == 0
    assert "train" in capsys.readouterr().out
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    for name in ("train", "sample"):
        assert main([name, "--help"]) == 0
        out = capsys.readouterr().out
        for action in commands[name]._actions:
            if action.dest == "help":
                continue
            assert action.help, (name, action.dest)
            if not action.required:
                assert "default" in action.help, (name, action.dest)
            for flag in action.option_strings:
                assert flag in out
    expected = ["--model", "--rnn-size", "--num-layers", "--dropout", "--seq-length",
                "--batch-size", "--optimizer", "--learning-rate", "--lr-decay",
                "--lr-decay-after", "--grad-clip", "--max-epochs", "--max-steps",
                "--train-frac", "--val-frac", "--eval-every", "--checkpoint-dir",
                "--init-from", "--seed", "--backend", "--max-chars", "--sample-length"]
    flags = {f for a in commands["train"]._actions for f in a.option_strings}
    assert set(expected) <= flags


# ---------------------------------------------------------------------------
# The pipeline
# ---------------------------------------------------------------------------
def test_train_then_sample(tmp_path, data, capsys):
    trained = tmp_path / "ck"
    assert main(["train", data, *TINY, "--max-steps", "10", "--checkpoint-dir",
                 str(trained)]) == 0
    assert sorted(os.listdir(trained)) == [".lock", "best.npz", "latest.npz", "log.csv",
                                           "loss.png"]
    out, err = capsys.readouterr()
    assert "step 10 (epoch 0): train loss" in out and "validation loss" in out
    assert "sample:" in out and err == ""       # no progress bar: not a terminal
    ckpt = str(trained / "latest.npz")

    def sample(*args):
        assert main(["sample", ckpt, *args]) == 0
        return capsys.readouterr().out

    a, b = sample("--length", "60", "--seed", "1"), sample("--length", "60", "--seed", "1")
    assert a == b and len(a) == 61 and set(a) <= set(TEXT)
    assert sample("--length", "60", "--seed", "2") != a
    primed = sample("--prime", "def f", "--length", "20", "--argmax")
    assert primed.startswith("def f") and primed == sample("--prime", "def f", "--length",
                                                           "20", "--argmax")
    assert main(["sample", str(trained), "--length", "5", "--temperature", "0.5"]) == 0
    assert len(capsys.readouterr().out) == 6          # a directory means its latest.npz


def test_resume_from_the_command_line_is_exact(tmp_path, data):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert main(["train", data, *TINY, "--max-steps", "20", "--checkpoint-dir",
                 str(straight)]) == 0
    assert main(["train", data, *TINY, "--max-steps", "10", "--checkpoint-dir",
                 str(resumed)]) == 0
    assert main(["train", "--init-from", str(resumed / "latest.npz"),
                 "--max-steps", "20"]) == 0
    a, _ = checkpoint.load(straight / "latest.npz")
    b, _ = checkpoint.load(resumed / "latest.npz")
    for key in a:
        if key not in ("history/chars_per_sec", "history/time_s"):
            assert np.array_equal(a[key], b[key], equal_nan=True), key
    log = [line.split(",")[:4] for line in (straight / "log.csv").read_text().splitlines()]
    assert log == [line.split(",")[:4]
                   for line in (resumed / "log.csv").read_text().splitlines()]


def test_the_default_corpus(tmp_path, capsys):
    """No DATA: the Python standard library's source, here cut to 20,000 chars."""
    assert main(["train", "--max-chars", "20000", *TINY, "--max-steps", "2",
                 "--checkpoint-dir", str(tmp_path)]) == 0
    assert "on the default corpus (Python standard library, 20,000 chars)" in \
        capsys.readouterr().out
    _, meta = checkpoint.load(tmp_path / "latest.npz")
    assert meta["train"]["data"] is None and meta["train"]["max_chars"] == 20000


def test_python_dash_m_runs_as_a_program(tmp_path):
    """The real entry point: exit status and a one-line error, no traceback."""
    missing = tmp_path / "nope.txt"
    result = subprocess.run([sys.executable, "-m", "tinyrnn", "train", str(missing),
                             "--checkpoint-dir", str(tmp_path / "ck")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"python -m tinyrnn train: error: data file {str(missing)!r} does not exist"]
    assert not (tmp_path / "ck").exists()


# ---------------------------------------------------------------------------
# Bad data files: one line, non-zero exit, nothing written
# ---------------------------------------------------------------------------
BAD_FILES = {
    "missing": (None, "does not exist"),
    "empty": (b"", "is empty"),
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "looks binary"),
    "latin-1": ("caf\u00e9 na\u00efve r\u00e9sum\u00e9\n".encode("latin-1") * 50,
                "is not UTF-8"),
    "too short": (b"print('hi')\n", "too short"),
}


@pytest.mark.parametrize("kind", BAD_FILES)
def test_bad_data_file(tmp_path, capsys, kind):
    content, needle = BAD_FILES[kind]
    path = tmp_path / "input.txt"
    if content is not None:
        path.write_bytes(content)
    code = main(["train", str(path), *TINY, "--checkpoint-dir", str(tmp_path / "ck")])
    assert code == 1
    one_line_error(capsys, code, "python -m tinyrnn train: error:", needle)
    assert not (tmp_path / "ck").exists()


def test_unknown_option_values(tmp_path, capsys, data):
    for option, value in (("--model", "transformer"), ("--optimizer", "lbfgs"),
                          ("--backend", "tpu"), ("--rnn-size", "big")):
        code = main(["train", data, option, value, "--checkpoint-dir", str(tmp_path / "ck")])
        assert code == 2
        one_line_error(capsys, code, option, value)
    code = main(["sample", "x.npz", "--length", "many"])
    one_line_error(capsys, code, "--length")
    code = main(["train", data, "--rnn-size", "0", "--checkpoint-dir", str(tmp_path / "ck")])
    one_line_error(capsys, code, "--rnn-size must be >= 1")
    assert not (tmp_path / "ck").exists()


def test_cupy_backend_without_cupy_or_gpu(tmp_path, capsys, data):
    try:
        import cupy
        if cupy.cuda.is_available():
            pytest.skip("CuPy and a GPU are available here")
    except ImportError:
        pass
    code = main(["train", data, *TINY, "--backend", "cupy", "--checkpoint-dir",
                 str(tmp_path / "ck")])
    one_line_error(capsys, code, "--backend cupy", "CuPy")
    assert not (tmp_path / "ck").exists()


# ---------------------------------------------------------------------------
# Bad checkpoints, for --init-from and for sample
# ---------------------------------------------------------------------------
def _write_pickled(path):
    np.savez(path, param=np.array([{"evil": print}], dtype=object))


def _write_foreign(path):          # a valid tinyrnn checkpoint, but not of a char LM
    checkpoint.save(path, {"W": np.zeros(3)}, {"kind": "something else"})


BAD_CHECKPOINTS = {
    "random bytes": (lambda p, good: p.write_bytes(os.urandom(2000)), "not a tinyrnn"),
    "corrupted zip": (lambda p, good: p.write_bytes(good[:30] + b"\x00" * 200 + good[230:]),
                      "corrupted"),
    "truncated": (lambda p, good: p.write_bytes(good[:len(good) // 2]), "truncated"),
    "empty": (lambda p, good: p.write_bytes(b""), "empty"),
    "pickled object": (lambda p, good: _write_pickled(p), "pickle"),
    "foreign": (lambda p, good: _write_foreign(p), "not a tinyrnn char-LM checkpoint"),
    "missing": (lambda p, good: None, "does not exist"),
}


@pytest.mark.parametrize("kind", BAD_CHECKPOINTS)
def test_bad_checkpoint(tmp_path, capsys, trained, kind):
    make, needle = BAD_CHECKPOINTS[kind]
    bad = tmp_path / "bad.npz"
    make(bad, (trained / "latest.npz").read_bytes())
    capsys.readouterr()
    before = digest(trained)
    code = main(["sample", str(bad), "--length", "10"])
    one_line_error(capsys, code, "python -m tinyrnn sample: error:", needle)
    code = main(["train", "--init-from", str(bad), "--checkpoint-dir", str(trained),
                 "--max-steps", "20"])
    one_line_error(capsys, code, "python -m tinyrnn train: error:", needle)
    assert digest(trained) == before


@pytest.mark.parametrize("option", [["--model", "gru"], ["--rnn-size", "16"],
                                    ["--num-layers", "1"]])
def test_init_from_another_model(tmp_path, capsys, data, trained, option):
    before = digest(trained)
    code = main(["train", data, *TINY, *option, "--init-from", str(trained / "latest.npz"),
                 "--checkpoint-dir", str(trained), "--max-steps", "20"])
    one_line_error(capsys, code, "another model", option[0])
    assert digest(trained) == before


def test_finetune_from_with_another_vocabulary(tmp_path, capsys, trained):
    """Training a checkpoint's weights on another text (--finetune-from) needs the
    text's characters in the checkpoint's vocabulary."""
    other = tmp_path / "other.txt"
    other.write_text(TEXT.replace("return", "yield \u00e9"), encoding="utf-8")
    before = digest(trained)
    code = main(["train", str(other), "--finetune-from", str(trained), "--max-steps", "20",
                 "--checkpoint-dir", str(tmp_path / "tuned")])
    one_line_error(capsys, code, "not in the vocabulary", "'\u00e9'", "'y'")
    assert digest(trained) == before and not (tmp_path / "tuned").exists()


def test_checkpoint_arrays_of_another_model(tmp_path, capsys, trained):
    """A checkpoint whose weights do not fit the model its config describes."""
    arrays, meta = checkpoint.load(trained / "latest.npz")
    meta["model"]["hidden_size"] = 16
    checkpoint.save(tmp_path / "odd.npz", arrays, meta)
    code = main(["sample", str(tmp_path / "odd.npz")])
    one_line_error(capsys, code, "inconsistent", "shape")


def test_prime_with_unknown_characters(capsys, trained):
    capsys.readouterr()
    code = main(["sample", str(trained), "--prime", "def \u2603"])
    one_line_error(capsys, code, "--prime", "not in the vocabulary", "'\u2603'")


def test_a_new_run_does_not_overwrite_another_runs_checkpoints(capsys, data, trained):
    before = digest(trained)
    code = main(["train", data, *TINY, "--checkpoint-dir", str(trained)])
    one_line_error(capsys, code, "already holds a run", "--overwrite")
    assert digest(trained) == before


def test_the_example_script_runs(tmp_path):
    """examples/char_rnn.py, the same pipeline written out, on a tiny text for 3 steps."""
    script = os.path.join(os.path.dirname(__file__), "..", "examples", "char_rnn.py")
    (tmp_path / "input.txt").write_text(TEXT * 3, encoding="utf-8")
    result = subprocess.run([sys.executable, script, "input.txt", "3"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "step 3: train loss" in result.stdout and "saved char_rnn.npz" in result.stdout
    arrays, meta = checkpoint.load(tmp_path / "char_rnn.npz")
    assert meta["model"]["hidden_size"] == 128 and "param/decoder.weight" in arrays
