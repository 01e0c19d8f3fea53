"""Per-op overhead of the engine: what one recorded op costs beyond its NumPy work.

    python benchmarks/bench_overhead.py [--repeats N]

Three measures, each the median over repeats (microseconds):

* forward: one ``tanh`` on a (1, 100) float32 tensor that requires grad
  (Function.apply: unwrap, run, record the node, wrap the output), next to
  the bare ``np.tanh`` it calls;
* chain: forward + backward through 1000 ``tanh`` ops, per op;
* composed tiny step: one training step of the composed RNN at the tiny
  configuration (H=100, B=1, T=25, V=65), divided by the number of graph
  nodes it records.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import tinyrnn as tr  # noqa: E402
from contenders import make_data, tinyrnn_model, tinyrnn_train_step  # noqa: E402


def median_us(fn, number: int, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - t0) / number * 1e6)
    return statistics.median(times)


def count_nodes(loss) -> int:
    seen, stack = set(), [loss._node]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        stack.extend(x._node for x in node.inputs if isinstance(x, tr.Tensor))
    return len(seen)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    print(f"load average {', '.join(f'{v:.2f}' for v in os.getloadavg())}")

    x = tr.randn(1, 100, requires_grad=True)
    raw = x.data
    bare = median_us(lambda: np.tanh(raw), 2000, args.repeats)
    fwd = median_us(lambda: x.tanh(), 2000, args.repeats)
    print(f"forward tanh (1, 100): {fwd:6.2f} us per op   (np.tanh alone {bare:.2f} us)")

    def chain():
        y = x
        for _ in range(1000):
            y = y.tanh()
        y.sum().backward()
        x.grad = None
    per = median_us(chain, 1, args.repeats) / 1000
    print(f"forward + backward, chain of 1000 tanh: {per:6.2f} us per op")

    cfg = dict(cell="rnn", H=100, B=1, T=25, V=65, layers=1)
    data = make_data(cfg)
    rnn, head, opt = tinyrnn_model(cfg, fused=False)
    xs, ys = tr.tensor(data["x"]), tr.tensor(data["y"])
    out, _ = rnn(xs)
    nodes = count_nodes(tr.cross_entropy(head(out), ys))
    step_us = median_us(lambda: tinyrnn_train_step(rnn, head, opt, xs, ys), 5, args.repeats)
    print(f"composed tiny step: {step_us / 1e3:.2f} ms, {nodes} nodes, "
          f"{step_us / nodes:6.2f} us per node")


if __name__ == "__main__":
    main()
