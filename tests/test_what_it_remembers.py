"""examples/what_it_remembers.py --smoke: five cells trained, looked at and tabulated."""
from __future__ import annotations

import importlib.util
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "what_it_remembers.py"


def test_smoke_draws_every_cell_and_the_table(tmp_path):
    spec = importlib.util.spec_from_file_location("what_it_remembers", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--smoke", "--out", str(tmp_path)]) == 0
    for cell in module.CELLS:
        for kind in ("connectivity", "guesses"):
            assert (tmp_path / f"{kind}_{cell}.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "memory_by_distance.png").exists()
    table = (tmp_path / "results.md").read_text()
    assert all(f"| {name} |" in table for name in module.NAMES.values())
