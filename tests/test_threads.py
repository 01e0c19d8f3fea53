"""tinyrnn chooses BLAS threads itself (tinyrnn.threads, --threads): the
setting applies, is restored, and bad values get a one-line error."""
from __future__ import annotations

import pytest

import tinyrnn as tr
from tinyrnn import threads
from tinyrnn.__main__ import main
from tinyrnn.run.config import TrainConfig, check_config
from tinyrnn.run.console import OptionError

threadpoolctl = pytest.importorskip("threadpoolctl")
if threads.blas_threads() is None:
    pytest.skip("threadpoolctl finds no BLAS library in this NumPy", allow_module_level=True)


@pytest.fixture(autouse=True)
def restore_blas():
    """Whatever a test sets, the next one starts from the same thread count."""
    with threadpoolctl.threadpool_limits(limits=threads.blas_threads(), user_api="blas"):
        yield


def test_num_threads_applies_inside_and_restores_after():
    before = threads.blas_threads()
    with tr.num_threads(1):
        assert threads.blas_threads() == 1
        with tr.num_threads(2):
            assert threads.blas_threads() == 2
        assert threads.blas_threads() == 1
    assert threads.blas_threads() == before


def test_set_num_threads_stays_set():
    tr.set_num_threads(1)
    assert threads.blas_threads() == 1
    tr.set_num_threads(2)
    assert threads.blas_threads() == 2


@pytest.mark.parametrize("bad", [0, -1, "two", 1.5, None, "auto"])
def test_bad_counts_get_one_line(bad):
    with pytest.raises(ValueError) as err:
        tr.set_num_threads(bad)
    assert str(err.value).startswith("threads: ") and "\n" not in str(err.value)


def test_auto_is_one_thread_at_char_rnn_size_and_on_a_busy_machine():
    assert threads.auto_threads(batch=50, hidden=128, gates=4, cores=2, load=0.0) == 1
    assert threads.auto_threads(batch=1, hidden=100, gates=1, cores=16, load=0.0) == 1
    assert threads.auto_threads(batch=32, hidden=512, gates=4, cores=2, load=0.0) == 1
    big = dict(batch=32, hidden=1024, gates=4)
    assert threads.auto_threads(**big, cores=2, load=0.0) == 2
    assert threads.auto_threads(**big, cores=2, load=1.0) == 1
    assert threads.auto_threads(**big, cores=8, load=14.0) == 1
    assert threads.auto_threads(**big, cores=8, load=2.2) == 6


def test_the_option_is_checked_with_its_flag():
    check_config(TrainConfig(threads="auto"))
    check_config(TrainConfig(threads="3"))
    check_config(TrainConfig(threads=2))
    for bad in ("0", "many", -2):
        with pytest.raises(OptionError, match=r"^--threads must be 'auto' or a whole number"):
            check_config(TrainConfig(threads=bad))


def test_training_runs_under_the_chosen_count(tmp_path, capsys, monkeypatch):
    import tinyrnn.run.loop as loop
    seen = []
    real_step = loop.Trainer.train_step

    def spy(self, *args):
        seen.append(threads.blas_threads())
        return real_step(self, *args)
    monkeypatch.setattr(loop.Trainer, "train_step", spy)
    before = threads.blas_threads()
    (tmp_path / "t.txt").write_text("hello world, hello tinyrnn\n" * 40, encoding="utf-8")
    code = main(["train", str(tmp_path / "t.txt"), "--rnn-size", "4", "--num-layers", "1",
                 "--batch-size", "4", "--seq-length", "8", "--max-steps", "2",
                 "--sample-length", "0", "--threads", "1",
                 "--checkpoint-dir", str(tmp_path / "ck")])
    assert code == 0, capsys.readouterr().err
    assert seen == [1, 1]
    assert "1 BLAS thread" in capsys.readouterr().out
    assert threads.blas_threads() == before


def test_the_command_lines_refuse_a_bad_count(tmp_path, capsys):
    (tmp_path / "t.txt").write_text("hello\n" * 40, encoding="utf-8")
    assert main(["train", str(tmp_path / "t.txt"), "--threads", "0",
                 "--checkpoint-dir", str(tmp_path / "ck")]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "python -m tinyrnn train: error: --threads must be 'auto' or a whole number >= 1, "
        "got '0'"]
    assert not (tmp_path / "ck").exists()
    assert main(["sample", str(tmp_path / "none.npz"), "--threads", "x"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "python -m tinyrnn sample: error: --threads must be 'auto' or a whole number >= 1, "
        "got 'x'"]
