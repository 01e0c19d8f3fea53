"""Which package files one training step of ``examples/char_rnn.py`` runs through.

    python tools/reading_path.py              # the readable path (--no-fused)
    python tools/reading_path.py --fused      # the default, fused kernels

A reader following the example from its text to the optimizer's update opens
these files, in this order. The step is the example's own: ids -> CharLM
(embedding, a 2-layer LSTM, decoder) -> cross-entropy -> backward -> clipping
-> Adam -> detach. Every function of ``tinyrnn`` that runs is recorded (with
``sys.setprofile``) with its length in lines; the text pipeline that feeds the
step (vocabulary, batching) is listed first. ``tests/test_layout.py`` keeps the
list from growing unnoticed.
"""
from __future__ import annotations

import argparse
import inspect
import os
import sys

import tinyrnn

PACKAGE = os.path.dirname(os.path.abspath(tinyrnn.__file__))


def record(run) -> dict:
    """{file relative to tinyrnn/: {function qualname: lines}} of the package
    functions ``run()`` calls, files and functions in the order first called."""
    seen: dict = {}

    def profile(frame, event, arg):
        code = frame.f_code
        if event != "call" or not code.co_filename.startswith(PACKAGE):
            return
        functions = seen.setdefault(os.path.relpath(code.co_filename, PACKAGE), {})
        if code.co_qualname not in functions and "<" not in code.co_name:
            try:
                functions[code.co_qualname] = len(inspect.getsourcelines(code)[0])
            except OSError:
                functions[code.co_qualname] = 0
    sys.setprofile(profile)
    try:
        run()
    finally:
        sys.setprofile(None)
    return seen


def char_rnn_step(fused: bool, text: str = "hello world, " * 40) -> dict:
    """The files :func:`record` sees for examples/char_rnn.py's text pipeline
    and one training step (a small model, so that it takes milliseconds)."""
    from tinyrnn.charlm import CharVocab, batchify, bptt_batches
    from tinyrnn.nn import detach_state
    from tinyrnn.charlm.model import CharLM
    from tinyrnn.nn.utils import clip_grad_norm_
    from tinyrnn.optim import Adam

    tinyrnn.manual_seed(0)
    model = CharLM(len(set(text)), hidden_size=8, num_layers=2, cell="lstm", fused=fused)
    optimizer = Adam(model.parameters(), lr=2e-3)
    batches = {}

    def text_to_batch():
        vocab = CharVocab(text)
        batches["x"], batches["y"] = next(bptt_batches(batchify(vocab.encode(text), 4), 5))

    def step():
        logits, state = model(tinyrnn.tensor(batches["x"]), None)
        loss = tinyrnn.cross_entropy(logits, tinyrnn.tensor(batches["y"]))
        optimizer.zero_grad()
        loss.backward()
        clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
        detach_state(state)

    path = record(text_to_batch)
    for file, functions in record(step).items():
        path.setdefault(file, {}).update(functions)
    return path


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fused", action="store_true",
                        help="follow the fused kernels instead of the composed cells")
    args = parser.parse_args(argv)
    path = char_rnn_step(args.fused)
    total = 0
    for file, functions in path.items():
        lines = sum(functions.values())
        total += lines
        print(f"{file:22s} {lines:4d}  {', '.join(functions)}")
    print(f"{len(path)} files, {total} lines of the functions that ran "
          f"({'fused' if args.fused else 'composed'} cells)")


if __name__ == "__main__":
    main()
