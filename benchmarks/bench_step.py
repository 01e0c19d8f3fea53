"""Time one char-level training step: tinyrnn (fused and composed) against a
hand-written NumPy reference, the matrix-multiply floor and PyTorch.

    python benchmarks/bench_step.py                       # tiny, small, gru
    python benchmarks/bench_step.py --configs all --repeats 15
    python benchmarks/bench_step.py --memory              # peak memory at medium

One step = one-hot input -> recurrent layer(s) over T steps -> linear ->
softmax cross-entropy over V -> backward through time -> SGD update, float32
(see contenders.py). The contenders run INTERLEAVED: every repeat times each
of them once, in rotating order, so a burst of load on a shared machine hits
all of them alike and the ratios hold even when the medians move. A repeat
runs enough steps to last ~50 ms; the table shows the median over repeats.
"""
from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
import time
import tracemalloc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def _threads_from_argv():
    """--threads N must reach OpenBLAS before NumPy is imported (--threads auto:
    each tinyrnn contender runs through its own ``tinyrnn.ThreadTuner``)."""
    for k, arg in enumerate(sys.argv):
        n = arg.split("=", 1)[1] if arg.startswith("--threads=") else \
            sys.argv[k + 1] if arg == "--threads" and k + 1 < len(sys.argv) else None
        if n == "auto":
            return n
        if n:
            for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
                os.environ[var] = n
            return int(n)
    return None


THREADS = _threads_from_argv()

import numpy as np  # noqa: E402

import contenders  # noqa: E402
import tinyrnn as tr  # noqa: E402
from contenders import (CONTENDERS, make_data, numpy_step, tinyrnn_model,  # noqa: E402
                        tinyrnn_train_step, torch_available)
from numpy_reference import CharModel  # noqa: E402
from tinyrnn import nn  # noqa: E402
from tinyrnn.utils.malloc import keep_freed_memory  # noqa: E402
from tinyrnn.utils.threads import ThreadTuner, cores, set_num_threads  # noqa: E402

CONFIGS = {
    "tiny": dict(cell="rnn", H=100, B=1, T=25, V=65, layers=1),
    "small": dict(cell="lstm", H=128, B=32, T=64, V=65, layers=1),
    "medium": dict(cell="lstm", H=512, B=32, T=100, V=96, layers=1),
    "medium2": dict(cell="lstm", H=512, B=32, T=100, V=96, layers=2),
    "gru": dict(cell="gru", H=256, B=32, T=64, V=65, layers=1),
}
DEFAULT = "tiny,small,gru"
TORCH = "torch nn.LSTM/GRU/RNN"
# the speed targets (default threads): the most a contender may take, as a
# multiple of another (the first round's, on one thread, are in benchmarks/README.md)
TARGETS = {
    "tiny": [("tinyrnn fused", "floor", 2.0), ("tinyrnn fused", TORCH, 0.2)],
    "small": [("tinyrnn fused", TORCH, 1.0)],
    "medium": [("tinyrnn fused", TORCH, 1.0), ("tinyrnn composed", "tinyrnn fused", 2.5)],
    "medium2": [("tinyrnn fused", TORCH, 1.0)],
    "gru": [("tinyrnn fused", TORCH, 1.0)],
}


def time_config(name: str, cfg: dict, repeats: int, names: list, budget_s: float = 0.05):
    """Median seconds per step for each contender, timed round-robin.

    With ``--threads auto`` each tinyrnn contender runs its steps through its
    own ``ThreadTuner`` (as the command line's training loop does: its probes
    and re-probes are part of the time), the floor and the NumPy reference
    with every core; the tuners' choices are printed.
    """
    data = make_data(cfg)
    steps = {n: CONTENDERS[n](cfg, data) for n in names}
    before = {n: (lambda: None) for n in names}          # run untimed before each repeat
    tuners = {}
    if THREADS == "auto":
        for n in names:
            if n.startswith("tinyrnn"):
                tuner = tuners[n] = ThreadTuner()
                steps[n] = (lambda t, s: lambda: t.run(s))(tuner, steps[n])
                before[n] = tuner.resume
                while tuner.probing:                     # the first probe is warm-up
                    steps[n]()
            elif not n.startswith("torch"):
                before[n] = lambda: set_num_threads(cores())
    inner = {}
    for n, step in steps.items():              # warm up, then size a repeat to ~budget_s
        before[n]()
        step()
        t0 = time.perf_counter()
        step()
        inner[n] = max(1, int(budget_s / max(time.perf_counter() - t0, 1e-6)))
    times = {n: [] for n in names}
    for r in range(repeats):
        order = names[r % len(names):] + names[:r % len(names)]
        for n in order:
            step, k = steps[n], inner[n]
            before[n]()
            gc.collect()
            t0 = time.perf_counter()
            for _ in range(k):
                step()
            times[n].append((time.perf_counter() - t0) / k)
    for n, tuner in tuners.items():
        print(f"  {n}: ThreadTuner chose {tuner.threads} thread(s); probes "
              f"(step, choice): {tuner.history}")
    return {n: statistics.median(v) for n, v in times.items()}


def print_table(name: str, cfg: dict, med: dict) -> list:
    chars = cfg["T"] * cfg["B"]
    floor = med.get("floor")
    print(f"\n{name}: {cfg['cell'].upper()} H={cfg['H']} B={cfg['B']} T={cfg['T']} "
          f"V={cfg['V']} layers={cfg['layers']}")
    print(f"  {'contender':24s} {'ms/step':>9s} {'chars/s':>10s} {'x floor':>8s}")
    for n, s in med.items():
        ratio = f"{s / floor:8.2f}" if floor else ""
        print(f"  {n:24s} {s * 1e3:9.3f} {chars / s:10,.0f} {ratio}")
    verdicts = []
    for a, b, limit in TARGETS.get(name, []):
        if a in med and b in med:
            ratio = med[a] / med[b]
            ok = "meets" if ratio <= limit else "MISSES"
            verdicts.append(f"{name}: {a} / {b} = {ratio:.2f} ({ok} target <= {limit})")
            print("  " + verdicts[-1])
    return verdicts


# ---- memory -----------------------------------------------------------------------
def peak_bytes(fn) -> int:
    """Peak traced bytes above what was allocated before ``fn()`` (tracemalloc
    sees NumPy's array buffers)."""
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    fn()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak


def memory_report(cfg_name: str, tbptt_name: str, chunks=(1, 4, 16)):
    cfg = CONFIGS[cfg_name]
    data = make_data(cfg)
    print(f"\npeak memory of one training step above the model and data, {cfg_name} "
          f"({cfg['cell'].upper()} H={cfg['H']} B={cfg['B']} T={cfg['T']} V={cfg['V']} "
          f"layers={cfg['layers']}), tracemalloc:")
    steps = {"numpy (CS231n)": numpy_step(cfg, data)}
    for fused in (True, False):
        rnn, head, opt = tinyrnn_model(cfg, fused)
        x, y = tr.tensor(data["x"]), tr.tensor(data["y"])
        steps[f"tinyrnn {'fused' if fused else 'composed'}"] = \
            (lambda r, h, o: lambda: tinyrnn_train_step(r, h, o, x, y))(rnn, head, opt)
    peaks = {}
    for n, step in steps.items():
        step()                                  # warm: optimiser state, caches
        peaks[n] = peak_bytes(step)
    ref = peaks["numpy (CS231n)"]
    for n, b in peaks.items():
        print(f"  {n:24s} {b / 2**20:9.1f} MiB   {b / ref:5.2f} x numpy")
    verdict = (f"memory {cfg_name}: tinyrnn fused / numpy = "
               f"{peaks['tinyrnn fused'] / ref:.2f} (target <= 1.3)")
    print("  " + verdict)

    cfg = CONFIGS[tbptt_name]
    print(f"\ntruncated BPTT on {tbptt_name}: peak memory while training over a text of "
          f"n chunks of T={cfg['T']} (state carried, detached between chunks):")
    print(f"  {'chunks':>6s} {'chars':>9s} {'fused MiB':>10s} {'composed MiB':>13s}")
    for n in chunks:
        row = []
        for fused in (True, False):
            rnn, head, opt = tinyrnn_model(cfg, fused)
            chunk_data = [make_data(cfg, seed=k) for k in range(n)]

            def run():
                state = None
                for d in chunk_data:
                    state = nn.detach_state(tinyrnn_train_step(
                        rnn, head, opt, tr.tensor(d["x"]), tr.tensor(d["y"]), state))
            row.append(peak_bytes(run) / 2**20)
        print(f"  {n:6d} {n * cfg['T'] * cfg['B']:9d} {row[0]:10.1f} {row[1]:13.1f}")
    return [verdict]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", default=DEFAULT,
                        help=f"comma-separated names from {', '.join(CONFIGS)}, or 'all' "
                             f"(default {DEFAULT})")
    parser.add_argument("--repeats", type=int, default=9, help="timed rounds per contender")
    parser.add_argument("--contenders", default="all",
                        help=f"comma-separated names from {list(CONTENDERS)}")
    parser.add_argument("--threads", default=None,
                        help="BLAS and PyTorch threads (default: all cores); auto: each "
                             "tinyrnn contender through a tinyrnn.ThreadTuner as with "
                             "--threads auto, the rest with all cores, PyTorch its own default")
    parser.add_argument("--malloc", default="keep", choices=["keep", "default"],
                        help="keep: tinyrnn.utils.malloc.keep_freed_memory() for the whole process, "
                             "every contender, as python -m tinyrnn train does (default); "
                             "default: the C library's own setting")
    parser.add_argument("--backend", default="numpy", choices=["numpy", "cupy"],
                        help="where tinyrnn and the floor run (cupy: on a GPU; the NumPy "
                             "reference and PyTorch stay on the CPU)")
    parser.add_argument("--memory", action="store_true",
                        help="report peak memory instead of time (medium, and "
                             "truncated BPTT on small)")
    parser.add_argument("--memory-config", default="medium")
    parser.add_argument("--tbptt-config", default="small")
    args = parser.parse_args(argv)

    kept = args.malloc == "keep" and keep_freed_memory()
    print(f"tinyrnn {tr.__version__}, numpy {np.__version__}, python "
          f"{platform.python_version()}, {os.cpu_count()} cpus, BLAS threads "
          f"{os.environ.get('OPENBLAS_NUM_THREADS', 'default')}, "
          f"{time.strftime('%Y-%m-%d %H:%M')}; load average "
          f"{', '.join(f'{v:.2f}' for v in os.getloadavg())}; freed memory "
          f"{'kept (tinyrnn.utils.malloc)' if kept else 'handed back as the C library does'}")
    contenders.BACKEND = args.backend
    try:
        tr.get_backend(args.backend)
    except tr.BackendError as err:
        parser.error(str(err))
    if args.backend != "numpy":
        print(f"tinyrnn and the floor on {args.backend}; the NumPy reference and PyTorch "
              "on the CPU")
    if args.memory:
        if args.backend != "numpy":
            parser.error("--memory measures host memory with tracemalloc: numpy backend only")
        memory_report(args.memory_config, args.tbptt_config)
        return
    names = list(CONTENDERS) if args.contenders == "all" else args.contenders.split(",")
    if not torch_available():
        names = [n for n in names if not n.startswith("torch")]
        print("(PyTorch is not installed: its rows are skipped)")
    else:
        import torch
        if THREADS and THREADS != "auto":
            torch.set_num_threads(THREADS)
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    configs = list(CONFIGS) if args.configs == "all" else args.configs.split(",")
    verdicts = []
    for name in configs:
        if name not in CONFIGS:
            parser.error(f"unknown config {name!r}; choose from {', '.join(CONFIGS)}")
        cfg = CONFIGS[name]
        med = time_config(name, cfg, args.repeats, names)
        verdicts += print_table(name, CONFIGS[name], med)
    print(f"\nload average after: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
