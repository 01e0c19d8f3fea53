"""``tools/mutate.py``: mutation testing of every backward against the registry.

The quick sampled mode runs here and must find no survivor; the other tests
show the tool's parts can fail: a blind spot of the registry is reported as
a survivor by the oracle, a NaN gradient counts as a kill, and the targets
include the helpers only backward code calls.
"""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import mutate  # noqa: E402
from mutants import Mutant, mutants  # noqa: E402


@pytest.fixture(scope="module")
def targets():
    return {t.name: t for t in mutate.discover()}


@pytest.fixture(scope="module")
def runner(targets):
    return mutate.Runner(list(targets.values()))


def _mutant(target, change):
    found = [m for m in mutants(target.name, target.node(), target.inputs) if m.change == change]
    assert len(found) == 1, [m.change for m in mutants(target.name, target.node(), target.inputs)]
    return found[0]


def test_quick_mode_finds_no_survivor():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, str(ROOT / "tools" / "mutate.py"), "--quick"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    total = next(line for line in run.stdout.splitlines() if line.startswith("total"))
    mutants_, killed, survived, equivalent = map(int, total.split()[1:])
    assert mutants_ == 40 and survived == 0 and killed >= 30, run.stdout[-2000:]


def test_targets_are_every_backward_and_the_backward_only_helpers(targets):
    assert {"Where.backward", "MatMul.backward", "Linear.backward", "LSTMSequence.backward",
            "sequence_grads", "_extreme_backward", "_pick_larger"} <= set(targets)
    assert "copy" not in targets and "with_out" not in targets       # forward uses them too
    assert {op.__name__ for op in targets["sequence_grads"].ops} == {
        "RNNSequence", "LSTMSequence", "GRUSequence"}


def test_a_blind_spot_of_the_registry_survives_and_the_oracle_says_so(targets, runner):
    """Where computing db by a's requires_grad (the issue's example): cases
    with both branches trainable pass it; their frozen variants kill it."""
    where = targets["Where.backward"]
    wrong = _mutant(where, "ctx.needs_input_grad[2]  ->  ctx.needs_input_grad[1]")
    full = runner.cases
    try:                                           # the where cases, without frozen variants
        runner.cases = [c for c in runner.plain if c.name in ("where_same_shape",
                                                              "where_broadcast")]
        verdict, why = mutate.run_mutant(runner, where, wrong)
        assert verdict == "survived" and "trainable inputs [2]" in why, why
    finally:
        runner.cases = full
    assert mutate.run_mutant(runner, where, wrong)[0] == "killed"


def test_a_nan_gradient_is_a_kill(targets, runner):
    tanh = targets["Tanh.backward"]
    tree = ast.parse("def backward(ctx, dy):\n    return dy * float('nan')").body[0]
    verdict, why = mutate.run_mutant(runner, tanh, Mutant(tanh.name, "nan", 0, tree))
    assert verdict == "killed" and "non-finite" in why
    assert tanh.owner.backward is tanh.func                 # the original is back


def test_an_equivalent_mutant_is_recognised_and_explained(targets, runner):
    """maximum's backward looks only at the sign of (a - b) * sign: sign 2.0 is sign 1.0."""
    maximum = targets["Maximum.backward"]
    harmless = _mutant(maximum, "1.0  ->  2.0  in _pick_larger(ctx, dy, sign=1.0)")
    verdict, why = mutate.run_mutant(runner, maximum, harmless)
    assert verdict == "equivalent" and "sign" in why, why


def test_mutants_cover_the_kinds_of_mistake(targets):
    changes = [m.change for m in mutants("Mul.backward", targets["Mul.backward"].node(), 2)]
    assert "dy * b  ->  dy / b" in changes                       # operator
    assert "dy * b  ->  dy" in changes                           # dropped term
    assert "return (da, db)  ->  return (db, da)" in changes     # swapped gradients
    assert "ctx.needs_input_grad[0]  ->  ctx.needs_input_grad[1]" in changes
    assert not any(m.tree.decorator_list for m in mutants("Mul.backward",
                                                           targets["Mul.backward"].node(), 2))
