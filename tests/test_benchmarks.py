"""The benchmarks run (no timing is asserted: speed is measured by running
them on a quiet machine, see benchmarks/README.md), and the operation counts
of the fused kernels, which do not depend on the machine, stay within the
speed target: <= 6 kernel launches per time step per layer."""
from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import bench_ops  # noqa: E402

import tinyrnn as tr  # noqa: E402
from tinyrnn.utils import threads  # noqa: E402


@pytest.mark.parametrize("cell, launches", [("rnn", (2, 2)), ("lstm", (3, 3)),
                                            ("gru", (3, 2))])
def test_fused_layers_launch_at_most_six_kernels_per_step(cell, launches):
    counts = bench_ops.per_step(cell, T=3, B=2, H=3, V=5)
    (ops_f, launches_f, copies_f), (ops_b, launches_b, copies_b) = \
        counts["forward"], counts["backward"]
    assert (launches_f, launches_b) == launches
    assert launches_f + launches_b <= 6
    assert ops_f >= launches_f and ops_b >= launches_b
    assert copies_f == copies_b == 0                 # no layout copies in the time loops


def test_counting_leaves_the_strict_backend_as_it_was():
    backend = tr.get_backend("strict")
    xp, array_type = backend.xp, type(backend.zeros((1,)))
    iadd = array_type.__iadd__
    bench_ops.per_step("rnn", T=2, B=1, H=2, V=3)
    assert backend.xp is xp and array_type.__iadd__ is iadd
    assert "into" not in vars(backend) and "pointwise" not in vars(backend)


def test_the_char_lm_race_runs(tmp_path, capsys):
    import race_char_lm
    text = tmp_path / "t.txt"
    text.write_text("the quick brown fox jumps over the lazy dog.\n" * 300, encoding="utf-8")
    results = race_char_lm.main(["--smoke", "--data", str(text)])
    out = capsys.readouterr().out
    assert "tinyrnn" in out and len(results["tinyrnn"]["times"]) == 3
    vocab = len(set(text.read_text()))
    for name, result in results.items():
        # 3 steps of Adam from a random start: still about log(V) nats per char
        assert math.isfinite(result["val"]) and abs(result["val"] - math.log(vocab)) < 1.0, name


def test_bench_threads_and_bench_step_auto_run_their_tuners(capsys, monkeypatch):
    import bench_step
    import bench_threads
    bench_threads.main(["--configs", "tiny", "--repeats", "1", "--steps", "1"])
    out = capsys.readouterr().out
    probes = "[(6, " if threads.cores() > 1 else "[]"     # one core: nothing to choose
    assert "auto (ThreadTuner)" in out and f"tuner's probes (step, choice): {probes}" in out
    monkeypatch.setattr(bench_step, "THREADS", "auto")
    bench_step.main(["--configs", "tiny", "--repeats", "1", "--malloc", "default",
                     "--contenders", "floor,tinyrnn fused"])
    out = capsys.readouterr().out
    assert "tinyrnn fused: ThreadTuner chose" in out and "handed back" in out


def test_the_gradient_check_benchmarks_run(capsys):
    import bench_gradcheck
    import bench_tolerance
    found = bench_tolerance.main(["--quick"])
    assert found["runs"] == 40 and found["false_full"] == found["false_fast"] == 0
    timed = bench_gradcheck.main(["--repeats", "1", "--input", "2", "--hidden", "2",
                                  "--no-torch"])
    assert timed["parameters"] == 48 and len(timed["tinyrnn"]) == 1
    assert "tinyrnn.gradcheck_module (full)" in capsys.readouterr().out


def test_bench_data_runs(capsys):
    import bench_data
    rows = bench_data.main(["--chars", "5000", "--repeats", "1"])
    assert set(rows) == {"default_corpus", "CharVocab.encode", "NGramModel(9).fit + nll of 10%",
                         "refuse a 3.6 TiB header"}
    assert "x floor" in capsys.readouterr().out
