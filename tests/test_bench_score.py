"""benchmarks/bench_score.py runs and prints its table (a tiny text and model)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_score.py"


def test_bench_score_prints_speeds_and_peaks(capsys):
    spec = importlib.util.spec_from_file_location("bench_score", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--mb", "0.002", "--hidden", "4", "--layers", "1"]) == 0
    row = capsys.readouterr().out.splitlines()[-1].split("|")
    assert float(row[0]) == 0.002 and len(row) == 6
    assert all(float(cell.replace(",", "")) > 0 for cell in row[1:])
