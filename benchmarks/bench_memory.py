"""Memory per character of text, and the cost of hostile inputs, for the CLI.

    python benchmarks/bench_memory.py                 # 100 MB text; --max-chars on 1 GB
    python benchmarks/bench_memory.py --mb 20 --skip-gb   # quicker
    python benchmarks/bench_memory.py --full-validation   # + one full validation's time

Each case runs ``python -m tinyrnn ...`` in a fresh subprocess and reads its
peak resident memory (VmHWM on Linux, else ``ru_maxrss``: NumPy's buffers and
the interpreter alike) and its wall time. The texts are generated into a
temporary folder (deleted afterwards), deterministic for a seed:

* ``baseline``: 1 step on a 200 kB text: the interpreter, NumPy, tinyrnn, the
  model; what is left is what the text costs.
* ``text``: 1 step on an N MB text (``--mb``, default 100), validating on
  its first 10,000 validation characters (``--val-max-chars``): peak memory
  per character above the baseline, and the wall time to the first step.
* ``full validation`` (with ``--full-validation``): the same with the whole
  validation split (5% of the text), to show what one evaluation costs.
* ``--max-chars 100000`` on a 1 GB text, and a 2 GB file of NUL bytes
  (sparse, no disk used): both must read only a bounded prefix.
* a crafted checkpoint whose header declares a 3.6 TiB array: ``sample``
  must refuse it quickly, with little memory.

Memory is not noisy; the wall times are, on a shared machine.
"""
from __future__ import annotations

import argparse
import io
import itertools
import os
import subprocess
import sys
import tempfile
import time
import zipfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORDS = ("def", "return", "self", "import", "class", "for", "in", "if", "else", "x",
         "y", "value", "(", ")", ":", "=", "+", "[", "]", "naïve", "café", "#")


def write_text(path: str, megabytes: float, seed: int = 0) -> int:
    """A code-like UTF-8 text of about ``megabytes`` MB; returns its size in bytes.

    Random lines of WORDS, in blocks of ~0.6 MB; past 64 blocks they repeat
    (generating is the slow part, and memory does not depend on the content).
    """
    rng = np.random.default_rng(seed)
    words = np.array(WORDS)
    written, target, blocks = 0, int(megabytes * 2**20), []
    with open(path, "wb") as f:
        for k in itertools.count():
            if written >= target:
                break
            if k < 64:
                n = rng.integers(2, 9, size=20_000)
                lines = np.split(rng.choice(words, size=int(n.sum())), np.cumsum(n)[:-1])
                blocks.append("".join(" ".join(line) + "\n" for line in lines).encode())
            f.write(blocks[k % 64])
            written += len(blocks[k % 64])
    return os.path.getsize(path)


# The child's peak resident memory. Linux keeps ru_maxrss across fork + exec
# (it would report at least the parent's peak), so read the high-water mark of
# the process's own memory map, VmHWM, where there is one.
PEAK_KIB = ("next((int(l.split()[1]) for l in open('/proc/self/status') "
            "if l.startswith('VmHWM')), 0) if sys.platform == 'linux' else "
            "__import__('resource').getrusage(__import__('resource').RUSAGE_SELF).ru_maxrss")


def run(args: list[str], cwd: str) -> tuple[float, float, int, str]:
    """``python -m tinyrnn ARGS``: (peak RSS in MiB, wall seconds, exit code, last line)."""
    env = {**os.environ, "PYTHONPATH": ROOT, "TQDM_DISABLE": "1"}
    code = ("import runpy, sys; sys.argv = ['tinyrnn'] + sys.argv[1:]\n"
            "try:\n    runpy.run_module('tinyrnn', run_name='__main__')\n"
            "except SystemExit as e:\n    status = e.code\nelse:\n    status = 0\n"
            f"print('maxrss_kib', {PEAK_KIB}, file=sys.stderr)\nsys.exit(status)\n")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=env,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - start
    lines = done.stderr.strip().splitlines()
    rss = float(lines[-1].split()[1]) / 1024 if lines and lines[-1].startswith("maxrss_kib") \
        else float("nan")
    message = [l for l in lines[:-1] + done.stdout.strip().splitlines() if l.strip()]
    return rss, seconds, done.returncode, message[-1] if message else ""


TRAIN = ["train", "--max-steps", "1", "--sample-length", "0", "--overwrite"]


def crafted_checkpoint(path: str) -> None:
    """A checkpoint whose decoder weight claims shape (100000, 100000, 100) float32."""
    f = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        f, {"descr": "<f4", "fortran_order": False, "shape": (100_000, 100_000, 100)})
    meta = io.BytesIO()
    np.lib.format.write_array(meta, np.array('{"format": "tinyrnn-checkpoint", "version": '
                                             '1, "meta": {"kind": "tinyrnn.charlm"}}'))
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("__meta__.npy", meta.getvalue())
        archive.writestr("param/decoder.weight.npy", f.getvalue() + b"\0" * 16)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mb", type=float, default=100, help="size of the text (default 100)")
    p.add_argument("--skip-gb", action="store_true", help="skip the 1 GB / 2 GB files")
    p.add_argument("--full-validation", action="store_true",
                   help="also time one validation over the whole 5%% split")
    args = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        small, big = os.path.join(tmp, "small.txt"), os.path.join(tmp, "big.txt")
        write_text(small, 0.2)
        size = write_text(big, args.mb)
        with open(big, encoding="utf-8") as f:
            chars = sum(len(block) for block in iter(lambda: f.read(2**24), ""))
        ck = os.path.join(tmp, "ck")
        base, _, code, _ = run([*TRAIN, small, "--checkpoint-dir", ck], tmp)
        rows.append(("baseline: 1 step on 0.2 MB", base, None, code, ""))
        rss, sec, code, line = run([*TRAIN, big, "--val-max-chars", "10000",
                                    "--checkpoint-dir", ck], tmp)
        per_char = (rss - base) * 2**20 / chars
        rows.append((f"1 step on {size / 1e6:.0f} MB ({chars:,} chars)", rss, sec, code,
                     f"{per_char:.2f} bytes/char above the baseline"))
        if args.full_validation:
            rss, sec, code, line = run([*TRAIN, big, "--checkpoint-dir", ck], tmp)
            rows.append(("the same, validating on the whole 5% split", rss, sec, code,
                         line[:90]))
        if not args.skip_gb:
            huge = os.path.join(tmp, "huge.txt")
            write_text(huge, 1024, seed=1)
            rss, sec, code, _ = run([*TRAIN, huge, "--max-chars", "100000",
                                     "--checkpoint-dir", ck], tmp)
            rows.append(("--max-chars 100000 on 1 GB", rss, sec, code, ""))
            os.remove(huge)
            zeros = os.path.join(tmp, "zeros.bin")
            with open(zeros, "wb") as f:
                f.truncate(2 * 2**30)
            rss, sec, code, line = run([*TRAIN, zeros, "--checkpoint-dir", ck], tmp)
            rows.append(("2 GB of NUL bytes", rss, sec, code, line[-60:]))
        crafted = os.path.join(tmp, "crafted.npz")
        crafted_checkpoint(crafted)
        rss, sec, code, line = run(["sample", crafted], tmp)
        rows.append(("sample a 3.6 TiB crafted header", rss, sec, code, line[-70:]))
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, "
          f"load {os.getloadavg()[0]:.1f}; peak RSS of each `python -m tinyrnn` process")
    print(f"{'case':44s} {'peak MiB':>9s} {'wall s':>7s} {'exit':>4s}  note")
    for name, rss, sec, code, note in rows:
        wall = "" if sec is None else f"{sec:.1f}"
        print(f"{name:44s} {rss:9.0f} {wall:>7s} {code:4d}  {note}")


if __name__ == "__main__":
    main()
