"""tinyrnn chooses BLAS threads itself (tinyrnn.utils.threads, --threads): the
setting applies, is restored, and bad values get a one-line error."""
from __future__ import annotations

import numpy as np
import pytest

import tinyrnn as tr
from tinyrnn.utils import threads
from tinyrnn.charlm.cli import main
from tinyrnn.charlm.options import TrainConfig, check_config
from tinyrnn.charlm.errors import OptionError

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
    with threads.num_threads(1):
        assert threads.blas_threads() == 1
        with threads.num_threads(2):
            assert threads.blas_threads() == 2
        assert threads.blas_threads() == 1
    assert threads.blas_threads() == before


def test_set_num_threads_stays_set():
    threads.set_num_threads(1)
    assert threads.blas_threads() == 1
    threads.set_num_threads(2)
    assert threads.blas_threads() == 2


@pytest.mark.parametrize("bad", [0, -1, "two", 1.5, None, "auto"])
def test_bad_counts_get_one_line(bad):
    with pytest.raises(ValueError) as err:
        threads.set_num_threads(bad)
    assert str(err.value).startswith("threads: ") and "\n" not in str(err.value)


class FakeMachine:
    """A fake clock and BLAS: a step with n threads costs ``cost(n, step)`` seconds."""

    def __init__(self, cost):
        self.now, self.cost, self.threads, self.used, self.sets = 0.0, cost, None, [], 0

    def clock(self):
        return self.now

    def set_threads(self, n):
        self.threads, self.sets = n, self.sets + 1

    def step(self):
        self.now += self.cost(self.threads, len(self.used))
        self.used.append(self.threads)

    def train(self, tuner, steps):
        for _ in range(steps):
            tuner.run(self.step)
        return self.now


def tuner_on(machine, **kwargs):
    return threads.ThreadTuner([1, 2], clock=machine.clock, set_threads=machine.set_threads,
                               **kwargs)


def test_tuner_picks_two_threads_on_a_quiet_machine_after_an_interleaved_probe():
    m = FakeMachine(lambda n, t: {1: 1.0, 2: 0.6}[n])
    tuner = tuner_on(m)
    m.train(tuner, 50)
    assert m.used[:6] == [1, 2, 1, 2, 1, 2]           # interleaved, one thread first
    assert m.used[6:] == [2] * 44 and tuner.threads == 2
    assert tuner.history == [(6, 2)] and m.sets == 6  # set only when the count changes


def test_tuner_keeps_one_thread_on_a_busy_machine_within_the_issues_limit():
    # two BLAS threads 15x slower, as seen on a busy 2-core machine
    m = FakeMachine(lambda n, t: {1: 1.0, 2: 15.0}[n])
    tuner = tuner_on(m)
    total = m.train(tuner, 1500)
    assert m.used[:6] == [1, 2, 1, 2, 1, 1]           # two threads dropped after two steps
    assert m.used.count(2) <= 10                      # two steps per probe, probes back off
    assert total <= 1.1 * 1500                        # target: <= 1.2x the best count


def test_tuner_falls_back_to_one_thread_when_the_machine_gets_busy():
    busy_from = 300
    m = FakeMachine(lambda n, t: ({1: 1.0, 2: 0.6} if t < busy_from else {1: 1.4, 2: 9.0})[n])
    tuner = tuner_on(m)
    m.train(tuner, 1000)
    assert m.used[busy_from - 10:busy_from] == [2] * 10
    switched = busy_from + m.used[busy_from:].index(1)
    assert switched <= busy_from + 3                  # the drift check's window
    assert m.used[busy_from + 10:].count(2) <= 4
    assert tuner.threads == 1


def test_tuner_finds_the_second_core_again_when_the_machine_gets_quiet():
    quiet_from = 400
    m = FakeMachine(lambda n, t: ({1: 1.4, 2: 9.0} if t < quiet_from else {1: 1.0, 2: 0.6})[n])
    tuner = tuner_on(m, every=100, max_every=400)
    m.train(tuner, 1400)
    assert tuner.threads == 2 and m.used[-100:] == [2] * 100
    assert quiet_from + m.used[quiet_from:].index(2) <= quiet_from + 400


def test_a_lucky_probe_on_a_busy_machine_is_taken_back_and_costs_little():
    # the first probe's 2-thread steps happen to be fast; afterwards they are 3x
    lucky = {1, 3, 5}
    m = FakeMachine(lambda n, t: 1.0 if n == 1 else 0.9 if t in lucky else 3.0)
    tuner = tuner_on(m)
    total = m.train(tuner, 1500)
    assert m.used[6:9] == [2, 2, 2] and m.used[9] == 1     # the drift check, 3 steps on
    assert tuner.threads == 1
    assert total <= 1.1 * 1500


def test_more_threads_must_win_by_the_margin():
    m = FakeMachine(lambda n, t: {1: 1.0, 2: 0.97}[n])
    tuner = tuner_on(m)
    m.train(tuner, 20)
    assert tuner.threads == 1
    m = FakeMachine(lambda n, t: {1: 1.0, 2: 0.9}[n])
    tuner = tuner_on(m)
    m.train(tuner, 20)
    assert tuner.threads == 2


def test_tuner_takes_fewer_threads_on_a_tie_and_a_fixed_count_never_probes():
    m = FakeMachine(lambda n, t: 1.0)
    tuner = tuner_on(m)
    m.train(tuner, 20)
    assert tuner.threads == 1 and m.used[6:] == [1] * 14
    m = FakeMachine(lambda n, t: {1: 1.0, 3: 0.1}[n])
    fixed = threads.ThreadTuner.from_setting("3", clock=m.clock, set_threads=m.set_threads)
    m.train(fixed, 500)
    assert m.used == [3] * 500 and m.sets == 1 and not fixed.history
    assert fixed.describe() == "3 BLAS threads"
    with pytest.raises(ValueError, match=r"^threads: must be 'auto' or a whole number"):
        threads.ThreadTuner.from_setting("0")


def test_the_thread_count_changes_no_result():
    """A fused LSTM layer's output and gradients with 1 and 2 BLAS threads
    (sizes where OpenBLAS splits its products) agree to float32 roundoff: each
    element within 1e-5 of its array's largest magnitude (a BLAS kernel may sum
    a product in another order with more threads)."""
    results = []
    for n in (1, 2):
        tr.manual_seed(0)
        layer = tr.nn.LSTM(64, 256)
        x = tr.randn(20, 64, 64, requires_grad=True)
        with threads.num_threads(n):
            out, _ = layer(x)
            (out * out).sum().backward()
        results.append([out.numpy(), x.grad.numpy()] + [p.grad.numpy()
                                                        for p in layer.parameters()])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5 * np.abs(b).max())


def test_the_option_is_checked_with_its_flag():
    check_config(TrainConfig(threads="auto"))
    check_config(TrainConfig(threads="3"))
    check_config(TrainConfig(threads=2))
    for bad in ("0", "many", -2):
        with pytest.raises(OptionError, match=r"^--threads must be 'auto' or a whole number"):
            check_config(TrainConfig(threads=bad))


@pytest.fixture
def step_threads(monkeypatch):
    """The BLAS thread count each training step of the CLI ran under, in order."""
    import tinyrnn.charlm.train.loop as loop
    seen = []
    real_step = loop.Trainer.train_step

    def spy(self, *args):
        seen.append(threads.blas_threads())
        return real_step(self, *args)
    monkeypatch.setattr(loop.Trainer, "train_step", spy)
    return seen


def train_tiny(tmp_path, steps: int, *options) -> int:
    (tmp_path / "t.txt").write_text("hello world, hello tinyrnn\n" * 40, encoding="utf-8")
    return main(["train", str(tmp_path / "t.txt"), "--rnn-size", "4", "--num-layers", "1",
                 "--batch-size", "4", "--seq-length", "8", "--max-steps", str(steps),
                 "--sample-length", "0", "--checkpoint-dir", str(tmp_path / "ck"), *options])


def test_training_runs_under_the_chosen_count(tmp_path, capsys, step_threads):
    seen = step_threads
    before = threads.blas_threads()
    code = train_tiny(tmp_path, 2, "--threads", "1")
    assert code == 0, capsys.readouterr().err
    assert seen == [1, 1]
    assert "1 BLAS thread" in capsys.readouterr().out
    assert threads.blas_threads() == before


def test_training_with_auto_probes_both_counts_and_restores_the_setting(tmp_path, capsys,
                                                                       monkeypatch,
                                                                       step_threads):
    seen = step_threads
    monkeypatch.setattr(threads, "cores", lambda: 2)
    before = threads.blas_threads()
    code = train_tiny(tmp_path, 8)
    assert code == 0, capsys.readouterr().err
    assert seen[:6] == [1, 2, 1, 2, 1, 2] and seen[6] == seen[7]
    assert "BLAS threads timed while training (1 or 2)" in capsys.readouterr().out
    assert threads.blas_threads() == before


def test_the_command_lines_refuse_a_bad_count(tmp_path, capsys):
    (tmp_path / "t.txt").write_text("hello\n" * 40, encoding="utf-8")
    assert main(["train", str(tmp_path / "t.txt"), "--threads", "0",
                 "--checkpoint-dir", str(tmp_path / "ck")]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "python -m tinyrnn train: error: --threads must be 'auto' or a whole number in "
        "[1, 1024], "
        "got '0'"]
    assert not (tmp_path / "ck").exists()
    assert main(["sample", str(tmp_path / "none.npz"), "--threads", "x"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "python -m tinyrnn sample: error: --threads must be 'auto' or a whole number in "
        "[1, 1024], "
        "got 'x'"]
