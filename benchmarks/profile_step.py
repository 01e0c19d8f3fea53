"""Where one training step's time and calls go: cProfile of the fused path.

    python benchmarks/profile_step.py                   # char-rnn's size, 1 BLAS thread
    python benchmarks/profile_step.py --config small --steps 20 --top 15

Runs ``--steps`` training steps of tinyrnn's fused layers (as
``bench_step.py`` times them: one-hot input, layer(s), linear, cross-entropy,
backward, SGD) under cProfile and prints the functions with the most own
time, with their call counts. Call counts are exact and do not depend on the
machine's load; the time fractions do (say the load when you quote them).
Also reports the bytes each fused helper allocates beyond its result
(tracemalloc): a layout copy would show up there.
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tracemalloc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tinyrnn as tr  # noqa: E402
from tinyrnn.utils.threads import num_threads  # noqa: E402
from contenders import make_data, tinyrnn_model, tinyrnn_train_step  # noqa: E402

CONFIGS = {
    "charrnn": dict(cell="lstm", H=128, B=50, T=50, V=65, layers=2),
    "small": dict(cell="lstm", H=128, B=32, T=64, V=65, layers=1),
    "gru": dict(cell="gru", H=256, B=32, T=64, V=65, layers=1),
    "tiny": dict(cell="rnn", H=100, B=1, T=25, V=65, layers=1),
}


def profile(cfg: dict, steps: int, top: int) -> None:
    data = make_data(cfg)
    rnn, head, opt = tinyrnn_model(cfg, fused=True)
    x, y = tr.tensor(data["x"]), tr.tensor(data["y"])
    tinyrnn_train_step(rnn, head, opt, x, y)               # warm up
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(steps):
        tinyrnn_train_step(rnn, head, opt, x, y)
    profiler.disable()
    stats = pstats.Stats(profiler)
    total = stats.total_tt
    rows = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[:top]
    print(f"  {'own time':>8s} {'calls/step':>10s}  function")
    for (path, line, name), (_, ncalls, tottime, _, _) in rows:
        where = f"{os.path.basename(path)}:{line}" if line else path
        print(f"  {tottime / total:8.1%} {ncalls / steps:10.1f}  {name} ({where})")


def extra_allocations(cfg: dict) -> None:
    """Bytes allocated inside the fused helpers beyond their own results, per call."""
    from tinyrnn.ops.fused import common
    data = make_data(cfg)
    rnn, head, opt = tinyrnn_model(cfg, fused=True)
    x, y = tr.tensor(data["x"]), tr.tensor(data["y"])
    tinyrnn_train_step(rnn, head, opt, x, y)
    seen = {}
    originals = {name: getattr(common, name) for name in ("per_gate", "gate_projection",
                                                          "input_projection")}

    def traced(name, fn):
        def run(*args, **kwargs):
            before = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            result = fn(*args, **kwargs)
            peak = tracemalloc.get_traced_memory()[1] - before
            seen.setdefault(name, []).append(peak - result.nbytes)
            return result
        return run
    for name, fn in originals.items():
        setattr(common, name, traced(name, fn))
    import tinyrnn.ops.fused.gru as gru_module
    import tinyrnn.ops.fused.lstm as lstm_module
    import tinyrnn.ops.fused.rnn as rnn_module
    modules = (lstm_module, gru_module, rnn_module)
    saved = [(m, n, getattr(m, n)) for m in modules for n in originals if hasattr(m, n)]
    for m, n, _ in saved:
        setattr(m, n, getattr(common, n))
    tracemalloc.start()
    try:
        tinyrnn_train_step(rnn, head, opt, x, y)
    finally:
        tracemalloc.stop()
        for name, fn in originals.items():
            setattr(common, name, fn)
        for m, n, fn in saved:
            setattr(m, n, fn)
    for name, extra in seen.items():
        print(f"  {name:18s} {len(extra)} calls, at most {max(extra) / 2**10:8.1f} KiB "
              "allocated beyond its result")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="charrnn", choices=list(CONFIGS))
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    args = parser.parse_args(argv)
    cfg = CONFIGS[args.config]
    print(f"{args.config}: {cfg}, {args.steps} steps, {args.threads} BLAS thread(s), "
          f"load average {os.getloadavg()[0]:.2f}")
    with num_threads(args.threads):
        profile(cfg, args.steps, args.top)
        extra_allocations(cfg)


if __name__ == "__main__":
    main()
