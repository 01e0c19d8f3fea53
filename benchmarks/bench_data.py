"""How fast is the char-LM's data side: the default corpus, the n-gram
baseline, encoding a text, and refusing a hostile checkpoint?

    python benchmarks/bench_data.py [--chars N] [--repeats R]

These were timed assertions in the tests once; the tests now check only
what they compute (and the memory bounds), and the times live here. Each
line prints the best of R runs and the rate per character, beside
``np.frombuffer`` over the same text encoded as UTF-32 (the floor: reading
the code points once, with no Python work per character).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests")]

from tinyrnn.charlm import CharVocab, default_corpus          # noqa: E402
from tinyrnn.charlm.ngram import NGramModel                    # noqa: E402
from tinyrnn.utils.checkpoint import CheckpointError, load     # noqa: E402
from npz_craft import npy_header, write_npz                    # noqa: E402


def best_of(repeats: int, work) -> float:
    """The shortest of ``repeats`` wall-clock times of ``work()``, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def refuse_huge_header(folder: str) -> None:
    """load() on an .npz whose member claims 3.6 TiB but holds 16 bytes."""
    path = os.path.join(folder, "crafted.npz")
    write_npz(path, {"w": npy_header("<f4", (100_000, 100_000, 100)) + b"\x00" * 16})
    try:
        load(path)
    except CheckpointError:
        return
    raise AssertionError("the crafted checkpoint loaded")


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chars", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    n = args.chars
    text = default_corpus(n)
    vocab = CharVocab(text)
    ids = vocab.encode(text)
    raw = text.encode("utf-32-le")
    floor = best_of(args.repeats, lambda: np.frombuffer(raw, dtype="<u4").copy())
    with tempfile.TemporaryDirectory() as folder:
        rows = {
            "default_corpus": best_of(args.repeats, lambda: default_corpus(n)),
            "CharVocab.encode": best_of(args.repeats, lambda: vocab.encode(text)),
            "NGramModel(9).fit + nll of 10%": best_of(args.repeats, lambda: NGramModel(
                9, len(vocab)).fit(ids).mean_nll(ids[: n // 10])),
            "refuse a 3.6 TiB header": best_of(args.repeats,
                                               lambda: refuse_huge_header(folder)),
        }
    print(f"{n:,} characters, best of {args.repeats}; floor (frombuffer) {floor * 1e3:.2f} ms")
    print(f"{'what':<32} {'ms':>9} {'ns/char':>9} {'x floor':>9}")
    for name, seconds in rows.items():
        print(f"{name:<32} {seconds * 1e3:>9.2f} {seconds / n * 1e9:>9.1f} "
              f"{seconds / floor:>9.0f}")
    return rows


if __name__ == "__main__":
    main()
