"""Does ``--threads auto`` (a ``tinyrnn.ThreadTuner``) keep up with the best
fixed thread count, on a quiet machine and on a loaded one?

    python benchmarks/bench_threads.py                        # small and medium, quiet
    python benchmarks/bench_threads.py --load 2               # with 2 busy processes

Three contenders run the same tinyrnn fused training step (bench_step.py's
configs), INTERLEAVED: one BLAS thread, every core, and the tuner (its
first probe is part of the warm-up; its later probes are timed, as they
would be in a training run). ``--load N`` starts N processes that spin on
the CPU for the whole run, a loaded machine (they are
stopped at the end). Before each repeat a contender runs one untimed step,
after a pause of 0.3 s in which the BLAS threads the previous contender
left spinning go to sleep. The table gives the MEAN ms per timed step (the
total, as a training run pays it, probes included: a median would hide
them) and each contender's time over the best fixed count's.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import time

from bench_step import CONFIGS
from contenders import make_data, tinyrnn_step

from tinyrnn.utils.threads import ThreadTuner, cores, num_threads


def spin():
    while True:
        pass


def time_threads(cfg: dict, repeats: int, steps_per_repeat: int) -> dict:
    step = tinyrnn_step(True)(cfg, make_data(cfg))
    tuners = {"1 thread": ThreadTuner([1]), f"{cores()} threads": ThreadTuner([cores()]),
              "auto (ThreadTuner)": ThreadTuner()}
    auto = tuners["auto (ThreadTuner)"]
    while auto.probing:                          # warm-up: the first probe
        auto.run(step)
    times = {n: [] for n in tuners}
    names = list(tuners)
    for r in range(repeats):
        for n in names[r % 3:] + names[:r % 3]:
            tuner = tuners[n]
            tuner.resume()                       # another contender set the threads
            time.sleep(0.3)     # BLAS threads the last contender left spinning go to sleep
            tuner.run(step)                      # untimed: the count takes effect
            t0 = time.perf_counter()
            for _ in range(steps_per_repeat):
                tuner.run(step)
            times[n].append((time.perf_counter() - t0) / steps_per_repeat)
    print(f"  tuner's probes (step, choice): {auto.history}")
    return {n: statistics.fmean(v) for n, v in times.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", default="small,medium")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--steps", type=int, default=10, help="steps per timed repeat")
    parser.add_argument("--load", type=int, default=0, help="busy processes to start")
    args = parser.parse_args(argv)
    burners = [multiprocessing.Process(target=spin, daemon=True) for _ in range(args.load)]
    for b in burners:
        b.start()
    try:
        print(f"{time.strftime('%Y-%m-%d %H:%M')}, {cores()} cores, {args.load} busy "
              f"processes, load average {os.getloadavg()[0]:.2f}")
        for name in args.configs.split(","):
            cfg = CONFIGS[name]
            print(f"{name}: {cfg}")
            with num_threads(1):
                med = time_threads(cfg, args.repeats, args.steps)
            best = min(v for n, v in med.items() if not n.startswith("auto"))
            for n, v in med.items():
                print(f"  {n:20s} {v * 1e3:9.1f} ms  {v / best:5.2f} x the best fixed count")
    finally:
        for b in burners:
            b.terminate()
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
