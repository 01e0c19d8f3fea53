"""The full gradient check of a ~47k-parameter LSTM: tinyrnn against PyTorch.

    python benchmarks/bench_gradcheck.py [--repeats 3] [--input 24 --hidden 96 --steps 3 --batch 2]

Both check the same LSTM layer (input 24, hidden 96: 46,848 parameters, the
same float64 weights) on the same (T, B, input) sequence, every parameter and
input element by central differences, and both say it is right:

* tinyrnn: ``tinyrnn.gradcheck_module(lstm, fn, [x])`` (element-wise; fast
  mode is timed too, as a footnote);
* PyTorch: ``torch.autograd.gradcheck`` of ``functional_call(lstm, params, x)``
  with the parameters as inputs (its default, element-wise mode; it also
  builds the analytic Jacobian one output element at a time).

Prints the median wall time of each over ``--repeats`` runs, side by side,
and tinyrnn / PyTorch. Both run on one thread (BLAS and PyTorch's intra-op
pool), so the comparison is of the checks, not of thread pools. Run it on a
quiet machine; no timing is asserted anywhere.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from threadpoolctl import threadpool_limits

import tinyrnn as tr
from tinyrnn import nn


def tinyrnn_check(args, fast=False):
    tr.manual_seed(0)
    lstm = nn.LSTM(args.input, args.hidden).double()
    x = tr.randn(args.steps, args.batch, args.input, dtype="float64", requires_grad=True)
    assert tr.gradcheck_module(lstm, lambda v: lstm(v)[0], [x], fast=fast)
    return lstm, x


def torch_check(lstm, x):
    import torch
    from torch.func import functional_call
    cell = lstm.cells[0]
    layer = torch.nn.LSTM(cell.input_size, cell.hidden_size, dtype=torch.float64)
    names = [name for name, _ in layer.named_parameters()]
    ours = dict(lstm.named_parameters())
    values = [torch.tensor(ours[name].numpy(), dtype=torch.float64,
                           requires_grad=True) for name in names]
    xt = torch.tensor(x.numpy(), dtype=torch.float64, requires_grad=True)

    def fn(v, *params):
        return functional_call(layer, dict(zip(names, params)), (v,))[0]
    assert torch.autograd.gradcheck(fn, (xt, *values))


def timed(call, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return times


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--input", type=int, default=24)
    parser.add_argument("--hidden", type=int, default=96)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--no-torch", action="store_true", help="time tinyrnn only")
    args = parser.parse_args(argv)
    try:
        import torch
    except ImportError:
        torch = None
    torch = None if args.no_torch else torch
    torch_threads = torch.get_num_threads() if torch else None
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            if torch:
                torch.set_num_threads(1)
            lstm, x = tinyrnn_check(args, fast=True)
            size = sum(p.size for p in lstm.parameters())
            ours = timed(lambda: tinyrnn_check(args), args.repeats)
            fast = timed(lambda: tinyrnn_check(args, fast=True), args.repeats)
            theirs = timed(lambda: torch_check(lstm, x), args.repeats) if torch else []
    finally:
        if torch:
            torch.set_num_threads(torch_threads)
    print(f"LSTM({args.input}, {args.hidden}): {size:,} parameters, x {tuple(x.shape)}, "
          f"float64; median of {args.repeats}")
    print(f"{'tinyrnn.gradcheck_module (full)':<36} {statistics.median(ours):8.2f} s")
    if theirs:
        print(f"{'torch.autograd.gradcheck (full)':<36} {statistics.median(theirs):8.2f} s")
        print(f"{'tinyrnn / torch':<36} {statistics.median(ours) / statistics.median(theirs):8.2f}")
    print(f"{'tinyrnn fast mode (8 directions)':<36} {statistics.median(fast):8.2f} s")
    return dict(parameters=size, tinyrnn=ours, torch=theirs, fast=fast)


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
