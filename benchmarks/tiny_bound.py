"""How fast can the `tiny` step be in NumPy at all? The bound behind the tiny targets.

    python benchmarks/tiny_bound.py [--repeats N] [--threads N]

Times, interleaved (see bench_step.py), the `tiny` configuration (vanilla RNN,
H=100, B=1, T=25, V=65) three ways:

* **floor** -- only the matrix products (contenders.floor_step): 2 BLAS calls
  per time step plus a handful;
* **lean numpy** -- the fused kernel's own algorithm written as bare NumPy,
  with no autograd, no checks and no Python objects around the arrays: the
  input projection as one product, per step ``h W^T`` + add + tanh forward and
  add + multiply + product backward (6 calls per time step, the fewest a step
  can make), the weight gradients as single products, a lean softmax
  cross-entropy and the SGD update;
* **tinyrnn fused** -- the same step through tinyrnn (contenders.tinyrnn_step).

At B=1 every NumPy call costs about as much as its arithmetic, so the lean
program's ratio to the floor is what the extra element-wise calls alone cost:
tinyrnn can approach it, not beat it.
"""
from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_step import THREADS  # noqa: E402,F401  (sets BLAS threads before NumPy loads)

import numpy as np  # noqa: E402

from contenders import floor_step, make_data, tinyrnn_step  # noqa: E402

CFG = dict(cell="rnn", H=100, B=1, T=25, V=65, layers=1)
LR = 0.01


def lean_step(cfg, data):
    """One training step of the fused RNN's algorithm in bare NumPy."""
    T, B, V, H = cfg["T"], cfg["B"], cfg["V"], cfg["H"]
    rng = np.random.default_rng(0)
    p = {name: (0.1 * rng.standard_normal(shape)).astype(np.float32) for name, shape in
         [("w_ih", (H, V)), ("w_hh", (H, H)), ("b_ih", (H,)), ("b_hh", (H,)),
          ("w_y", (V, H)), ("b_y", (V,))]}
    x = data["x"].reshape(T * B, V)
    y = data["y"].reshape(-1)
    mm = np.matmul

    def step():
        hs = np.empty((T + 1, B, H), np.float32)
        hs[0] = 0
        hs[1:] = (mm(x, p["w_ih"].T) + (p["b_ih"] + p["b_hh"])).reshape(T, B, H)
        w_hh_t = np.ascontiguousarray(p["w_hh"].T)
        rec = np.empty((B, H), np.float32)
        for t in range(T):                               # forward: 3 calls per step
            a = hs[t + 1]
            mm(hs[t], w_hh_t, out=rec)
            a += rec
            np.tanh(a, out=a)
        out = hs[1:].reshape(T * B, H)
        z = mm(out, p["w_y"].T)
        z += p["b_y"]
        shifted = z - np.max(z, axis=-1, keepdims=True)  # softmax cross-entropy
        e = np.exp(shifted)
        total = np.sum(e, axis=-1, keepdims=True)
        picked = np.take_along_axis(shifted, y[:, None], axis=-1)
        loss = np.sum(np.log(total) - picked) / (T * B)
        dz = e / total
        dz[np.arange(T * B), y] -= 1
        dz *= 1.0 / (T * B)
        grads = {"w_y": mm(dz.T, out), "b_y": np.sum(dz, axis=0)}
        dout = mm(dz, p["w_y"]).reshape(T, B, H)
        da = np.multiply(hs[1:], hs[1:])
        da -= 1
        da *= -1                                         # 1 - h^2
        dh = np.zeros((B, H), np.float32)
        for t in range(T - 1, -1, -1):                   # backward: 3 calls per step
            dh += dout[t]
            da[t] *= dh
            mm(da[t], p["w_hh"], out=dh)
        da = da.reshape(T * B, H)
        grads["w_ih"] = mm(da.T, x)
        grads["w_hh"] = mm(da.T, hs[:-1].reshape(T * B, H))
        grads["b_ih"] = grads["b_hh"] = np.sum(da, axis=0)
        for name, g in grads.items():                    # SGD
            p[name] = p[name] - LR * g
        return loss
    return step


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=25)
    parser.add_argument("--threads", type=int, default=None,
                        help="BLAS threads (read before NumPy loads)")
    args = parser.parse_args(argv)
    data = make_data(CFG)
    steps = {"floor": floor_step(CFG, data), "lean numpy": lean_step(CFG, data),
             "tinyrnn fused": tinyrnn_step(True)(CFG, data)}
    names = list(steps)
    times = {n: [] for n in names}
    for step in steps.values():
        step()
    for r in range(args.repeats):
        for n in names[r % len(names):] + names[:r % len(names)]:
            gc.collect()
            t0 = time.perf_counter()
            for _ in range(50):
                steps[n]()
            times[n].append((time.perf_counter() - t0) / 50)
    med = {n: statistics.median(v) for n, v in times.items()}
    print(f"tiny (RNN H=100 B=1 T=25 V=65), BLAS threads "
          f"{os.environ.get('OPENBLAS_NUM_THREADS', 'default')}, load average "
          f"{', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    for n, s in med.items():
        print(f"  {n:16s} {s * 1e3:7.3f} ms  {s / med['floor']:5.2f} x floor")


if __name__ == "__main__":
    main()
