"""``tools/mutate_app.py``: mutation testing of the application against its tests.

The quick sampled mode runs here and must find no survivor; the other tests
show the tool's parts work: every target in the table exists and has
mutants, a changed error message is not a mutant, and a mutant put in place
is what every caller runs until the original is restored.
"""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import mutate_app  # noqa: E402

import tinyrnn.charlm as charlm  # noqa: E402
from tinyrnn.charlm import CharVocab  # noqa: E402
from tinyrnn.charlm import data  # noqa: E402


def test_quick_mode_finds_no_survivor():
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    run = subprocess.run([sys.executable, str(ROOT / "tools" / "mutate_app.py"), "--quick"],
                         capture_output=True, text=True, env=env, timeout=300, cwd=ROOT)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    total = next(line for line in run.stdout.splitlines() if line.startswith("total"))
    mutants_, killed, survived, equivalent = map(int, total.split()[1:])
    assert mutants_ == mutate_app.QUICK_SAMPLE and survived == 0, run.stdout[-2000:]
    assert killed >= mutate_app.QUICK_SAMPLE - 2, run.stdout[-2000:]


def test_every_target_in_the_table_exists_and_has_mutants():
    targets = mutate_app.load_targets()
    assert {t.area for t in targets} == {"text pipeline", "vocabulary", "batching",
                                         "checkpoint schema and loading", "training loop",
                                         "sampling", "bridge"}
    for target in targets:
        assert target.mutants(), target.name
        for path in target.test_files:
            assert (ROOT / path).is_file(), (target.name, path)


def test_a_raised_message_is_not_mutated_but_its_condition_is():
    (split,) = mutate_app.load_targets(["charlm.data:split_ids"])
    node = split.node()
    wording = {line for r in ast.walk(node) if isinstance(r, ast.Raise)
               for line in range(r.exc.lineno, r.exc.end_lineno + 1)}
    found = split.mutants()
    assert wording and not any(m.line in wording for m in found)
    assert any(m.change.startswith("0  ->  1  in 0 < train_frac <= 1") for m in found)


def test_a_put_mutant_is_what_every_caller_runs_until_restored():
    (batchify,) = mutate_app.load_targets(["charlm.data:batchify"])
    (decode,) = mutate_app.load_targets(["charlm.vocab:CharVocab.decode"])
    ids = np.arange(12)
    original = data.batchify(ids, 3)
    batchify.put(lambda ids, batch_size, *rest: "mutant")
    decode.put(lambda self, ids: "mutant")
    try:
        assert data.batchify(ids, 3) == "mutant" and charlm.batchify(ids, 3) == "mutant"
        assert CharVocab("ab").decode([0]) == "mutant"
    finally:
        batchify.restore()
        decode.restore()
    assert np.array_equal(charlm.batchify(ids, 3), original)
    assert CharVocab("ab").decode([0, 1]) == "ab"


def test_replay_picks_out_the_survivors_a_run_printed(tmp_path):
    (split,) = mutate_app.load_targets(["charlm.data:split_ids"])
    first, second = split.mutants()[:2]
    log = tmp_path / "run.log"
    log.write_text(f"[killed] {first}\n    by some test\n[survived] {second}\n"
                   "    3 tests reach it; none fails\n")
    assert mutate_app.survivors_in([log]) == {str(second).split("\n")[0]}
