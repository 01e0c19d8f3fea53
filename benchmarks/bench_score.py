"""How fast does `python -m tinyrnn score` read a long text, and in how much memory?

A text of --mb megabytes is generated (the default corpus, the Python
standard library's source, repeated), and a char-rnn-sized model (2-layer
LSTM of 128 units, untrained: speed does not depend on the weights) reads it
in one piece, two ways, each in a fresh process:

* ``forward``: the plain forward pass, ``model(ids chunk, state)`` over the
  text in chunks, the state carried, nothing else computed;
* ``score``: :func:`tinyrnn.charlm.score.score_file`, the forward pass plus the
  log-softmax, each character's loss, the unknown-character pass over the file
  and the reading and checking of the UTF-8.

Printed side by side: characters per second, peak resident memory (the
process's ``ru_maxrss``) and the ratios score / forward. Constant memory
shows as the same peak at different --mb.

    python benchmarks/bench_score.py --mb 100         # the full claim: hours at B=1
    python benchmarks/bench_score.py --mb 1 3 --hidden 32 --layers 1   # peaks at two sizes
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def make_text(path: str, megabytes: float) -> None:
    """The default corpus repeated until the file holds ``megabytes`` MB."""
    from tinyrnn.charlm import default_corpus
    corpus = default_corpus(1_000_000).encode("utf-8")
    left = int(megabytes * 1e6)
    with open(path, "wb") as f:
        while left > 0:
            f.write(corpus[:left])
            left -= len(corpus[:left])


def measure(how: str, path: str, chunk: int, hidden: int, layers: int) -> None:
    """In this process: read ``path`` one way; print 'chars seconds peak_bytes'."""
    import tinyrnn as tr
    from tinyrnn.charlm import CharLM, CharVocab, default_corpus
    from tinyrnn.charlm.score import PIECE_BYTES, ModelScorer, score_file
    from tinyrnn.charlm.textfile import text_pieces
    vocab = CharVocab.from_text(default_corpus(1_000_000))
    tr.manual_seed(0)
    model = CharLM(len(vocab), hidden_size=hidden, num_layers=layers, cell="lstm").eval()
    start = time.perf_counter()
    if how == "score":
        chars = score_file(path, [ModelScorer(model, vocab, chunk=chunk)], detail=1).scored
    else:
        state, chars = None, 0
        with tr.no_grad():
            for piece in text_pieces(path, None, PIECE_BYTES):
                ids = vocab.encode(piece)
                for s in range(0, len(ids), chunk):
                    _, state = model(ids[s:s + chunk].reshape(-1, 1), state)
                chars += len(ids)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024      # KiB on Linux
    print(chars, seconds, peak)


def run_one(how: str, path: str, args) -> tuple[int, float, int]:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1", "PYTHONPATH": ROOT}
    out = subprocess.run([sys.executable, __file__, "--measure", how, path,
                          "--chunk", str(args.chunk), "--hidden", str(args.hidden),
                          "--layers", str(args.layers)], capture_output=True, text=True, env=env,
                         check=True).stdout.split()
    return int(out[0]), float(out[1]), int(out[2])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mb", type=float, nargs="+", default=[100.0],
                   help="text sizes in megabytes (default: 100)")
    p.add_argument("--chunk", type=int, default=1024, help="characters per forward call")
    p.add_argument("--hidden", type=int, default=128, help="LSTM units per layer (128)")
    p.add_argument("--layers", type=int, default=2, help="LSTM layers (2)")
    p.add_argument("--measure", nargs=2, metavar=("HOW", "FILE"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.measure:
        measure(*args.measure, args.chunk, args.hidden, args.layers)
        return 0
    print(f"{args.layers}-layer LSTM of {args.hidden} units, one piece (B=1), chunks of "
          f"{args.chunk} characters, one BLAS thread")
    print(f"{'MB':>6} | {'forward chars/s':>15} | {'score chars/s':>13} | {'speed ratio':>11} "
          f"| {'forward peak MB':>15} | {'score peak MB':>13}")
    for mb in args.mb:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "text.txt")
            make_text(path, mb)
            f_chars, f_s, f_peak = run_one("forward", path, args)
            s_chars, s_s, s_peak = run_one("score", path, args)
        print(f"{mb:6g} | {f_chars / f_s:15,.0f} | {s_chars / s_s:13,.0f} | "
              f"{(s_chars / s_s) / (f_chars / f_s):11.2f} | {f_peak / 1e6:15.0f} | "
              f"{s_peak / 1e6:13.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
