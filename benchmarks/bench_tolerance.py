"""How good is the one pass criterion? No false failure, and a 0.05% error caught.

    python benchmarks/bench_tolerance.py [--seeds 5] [--quick]

Runs every case of the op registry (tests/opcases*.py, with each input
frozen in turn: the cases tests/test_ops_gradcheck.py runs) on the NumPy
backend at several seeds -- inputs drawn after ``tinyrnn.manual_seed(seed)``,
the upstream gradient from ``seed`` -- and counts:

* **false failures**: a right backward (tinyrnn's own) that
  ``tinyrnn.gradcheck`` rejects, element-wise and in fast mode;
* **0.05% errors missed**: the analytic gradient scaled by 1.0005 (a
  backward off by 0.05%) that still passes the criterion on every element.
  Cases whose gradient is zero everywhere cannot show such an error and are
  counted apart.

It also prints the largest |analytic - numeric| / tolerance seen for a right
backward: how much head-room the criterion leaves (1.0 would be a failure).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import tinyrnn as tr  # noqa: E402
from tinyrnn.check import ATOL, RTOL, agree, numerical_gradients, rounding_noise  # noqa: E402
from tinyrnn.check.compare import as_outputs  # noqa: E402
from opcase import load_cases  # noqa: E402


def gradients(case, seed: int):
    """(analytic, numeric, noise) of every trainable input, as gradcheck computes them."""
    tr.manual_seed(seed)
    inputs = case.make_inputs()
    rng = np.random.default_rng([seed, 7])
    with tr.no_grad():
        outs = as_outputs(case.fn(*inputs))
    upstream = [rng.standard_normal(o.shape) for o in outs]
    size = sum(float(np.sum(np.abs(o.numpy().astype(np.float64) * u)))
               for o, u in zip(outs, upstream))
    eps = case.check.get("eps", 1e-6)
    numeric = numerical_gradients(case.fn, inputs, upstream, eps)
    copies = [tr.tensor(x.numpy().astype(np.float64), requires_grad=True)
              if isinstance(x, tr.Tensor) and x.requires_grad else x for x in inputs]
    live = [(o, u) for o, u in zip(as_outputs(case.fn(*copies)), upstream) if o.requires_grad]
    for k, (o, u) in enumerate(live):
        o.backward(u, retain_graph=k < len(live) - 1)
    pairs = [(np.zeros(x.shape) if x.grad is None else x.grad.numpy().astype(np.float64), n)
             for x, n in zip(copies, numeric) if n is not None]
    return pairs, rounding_noise(size, eps)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="the first 20 cases, 2 seeds")
    args = parser.parse_args(argv)
    cases = [c for c in load_cases() if not c.check.get("fast")]
    seeds = range(2 if args.quick else args.seeds)
    if args.quick:
        cases = cases[:20]
    start = time.perf_counter()
    runs = false_full = false_fast = missed = flat = 0
    headroom, worst = 0.0, ""
    for seed in seeds:
        for case in cases:
            runs += 1
            for fast in (False, True):
                tr.manual_seed(seed)
                passed = tr.gradcheck(case.fn, case.make_inputs(), seed=seed, fast=fast,
                                      raise_exception=False, **case.check)
                false_fast += fast and not passed
                false_full += not fast and not passed
            pairs, noise = gradients(case, seed)
            if all(np.all(np.abs(n) <= ATOL) for _, n in pairs):
                flat += 1
                continue
            missed += all(np.all(agree(1.0005 * a, n, noise)) for a, n in pairs)
            for a, n in pairs:
                ratio = float(np.max(np.abs(a - n) / (ATOL + noise + RTOL * np.abs(n))))
                if ratio > headroom:
                    headroom, worst = ratio, f"{case.name} seed {seed}"
    seconds = time.perf_counter() - start
    print(f"pass criterion: |a - n| <= {ATOL:g} + rounding noise + {RTOL:g} |n|")
    print(f"{len(cases)} cases x {len(seeds)} seeds = {runs} checks in {seconds:.0f} s")
    print(f"false failures, element-wise:        {false_full} of {runs}")
    print(f"false failures, fast mode:           {false_fast} of {runs}")
    print(f"0.05% errors missed:                 {missed} of {runs - flat} "
          f"({flat} checks have an all-zero gradient)")
    print(f"largest |a - n| / tolerance, right backward: {headroom:.3g} ({worst})")
    return dict(runs=runs, false_full=false_full, false_fast=false_fast, missed=missed,
                flat=flat, headroom=headroom)


if __name__ == "__main__":
    main()
