"""Known equivalent mutants: changes that cannot alter any gradient the engine uses.

``tools/mutate.py`` calls a mutant *equivalent* when the registry passes it and
so does an independent central-difference check on other data and every
trainability pattern; this table says *why*, one line per class of mistake.
Each entry: (target pattern, change pattern, reason), regular expressions
matched with ``re.search`` against ``Mutant.target`` and ``Mutant.change``
(``before  ->  after`` in source form).
"""
from __future__ import annotations

import re

EQUIVALENT = [
    (r".", r"astype\((?P<mask>.+), [\w.]+\)  ->  (?P=mask)$",
     "a bool mask used without the cast: NumPy multiplies it as 0 / 1 (the Array API "
     "refuses bool * float, hence the cast; the strict backend in the suite checks it)"),
    (r".", r"^-1  ->  -2  in (\S*|.*\)\.)reshape\(",
     "reshape reads any negative size as 'infer this axis': -2 works like -1"),
    (r".", r"\*= -1  ->  \S+ /= -1$", "multiplying by -1 and dividing by -1 are the same"),
    (r"^(MatMul|Linear)\.backward$",
     r"^(xp\.(sum|reshape)\(.*\)  ->  .*|1  ->  0  in a\.ndim == 1|0  ->  -1  in [ab]\.shape\[0\])$",
     "the gradient comes back at the broadcast shape (or is reshaped by an axis that is "
     "the only one): the engine's sum_to sums it down to the input's shape, same numbers"),
    (r"^MatMul\.backward$", r"(dy|a2|b2)\.ndim",
     "the condition only picks one of two ways to compute the same product (one 2-D "
     "product over all rows, or a batched matmul)"),
    (r"^per_gate$", r"  in (dz\.shape\[0\]( == 1)?|dz\[0, \.\.\.\])$",
     "the condition picks the one-gate shortcut or the batched product: same numbers "
     "(and with one gate, dz[-1] is dz[0])"),
    (r"^_join$", r"  in (len\(parts\) == 1|parts\[0\])$",
     "one part joined is the part itself, whichever way"),
    (r"^(Maximum\.backward|_pick_larger)$",
     r"(1\.0  ->  -?2\.0  in _pick_larger|\(a - b\) \* sign  ->  \(a - b\) / sign)",
     "only the sign of (a - b) * sign matters, and sign is +1 or -1"),
    (r"^Minimum\.backward$", r"-1\.0  ->  -2\.0  in _pick_larger",
     "only the sign of (a - b) * sign matters"),
    (r"^Permute\.backward$", r"^0  ->  -?1$",
     "the initial values of the inverse permutation are all overwritten by the loop"),
    (r"^sequence_grads$", r"^copy\(ctx, db_(ih|hh)\)  ->  db_(ih|hh)$",
     "the two bias gradients then share memory: the same numbers (the copy is there so that an "
     "in-place update of one .grad cannot change the other)"),
    (r"^may_overwrite_saved$", r".",
     "where the gate gradients are written (over the saved activations, or a new "
     "buffer): memory, not numbers, in one backward pass; reusing a retained graph is "
     "tests/test_fused.py's business"),
    (r"^LSTMSequence\.backward$", r"^0  ->  -?1  in rec\[0, \.\.\.\]$",
     "the four per-gate recurrent slots are summed into dh_t: dh_n may start in any one"),
    (r"^LSTMSequence\.backward$", r"^0  ->  -?1  in tmp\[0, \.\.\.\]$",
     "tmp is scratch the step function overwrites before reading: any slot serves"),
]


# ---- the application (tools/mutate_app.py) ---------------------------------------
EQUIVALENT += [
    (r"^nn\.utils:clip_grad_norm_$", r"^total > max_norm  ->  total >= max_norm",
     "differs only when the float norm equals max_norm exactly, and there it scales "
     "by max_norm / (max_norm + 1e-6), a change of 1e-6 / max_norm at a point no run meets"),
    (r"^charlm\.store:expected_arrays$", r"^least > stored_bytes  ->  least >= stored_bytes$",
     "a checkpoint of the model always stores more than the bound (the output bias alone "
     "adds 4 V bytes); at equality both versions refuse the file, by the bound or by the "
     "shape check right after"),
    (r"^charlm\.textfile:_read_text$", r"^4  ->  [35]  in max\(chunk_bytes, 4\)$",
     "the smallest read: 3 bytes still hold the 3-byte BOM whole (5 more than hold it), "
     "and the incremental decoder carries a character split between reads over to the next"),
    (r"^charlm\.textfile:_read_text$", r"^chars < max_chars  ->  chars <= max_chars",
     "the loop returns the moment max_chars are reached, so whenever its condition is "
     "read, chars < max_chars and chars <= max_chars agree"),
    (r"^charlm\.textfile:load_ids$", r"^-1  ->  (0|-2)$",
     "the mark of a failed second pass: an empty text is refused by the first pass, so "
     "the count it is compared with is at least 1, and 0 differs from it as -1 does"),
    (r"^charlm\.data:split_ids$", r"^n - n_train  ->  n( \+ n_train)?$",
     "where the two fractions fill the text, the validation slice ids[n_train:n_train + "
     "n_val] ends at the text's end for any n_val >= n - n_train, and the test slice "
     "after it is empty either way"),
    (r"^charlm\.store:expected_arrays$",
     r"^0  ->  -1  in max\(\(h\.nbytes for h in arrays\.values\(\)\), default=0\)$",
     "a file with no history member declares 0 (or -1) bytes of it, under a budget that "
     "is never negative"),
    (r"^charlm\.beam:beam_search$", r"^return \(prime, 0\.0\)  ->  return \(prime, -0\.0\)$",
     "-0.0 == 0.0: the same score to every comparison and every format but a sign"),
    (r"^charlm\.beam:beam_search$", r"^len\(chars\) < length  ->  len\(chars\) <= length$",
     "one more model step after the last character is chosen, whose logits nobody reads: "
     "time, not the result"),
    (r"^charlm\.textfile:load_ids$", r"^1  ->  2  in np\.zeros\(sys\.maxunicode \+ 1",
     "one more slot in the table of code points seen, past the last code point: never set"),
    (r"^charlm\.data:split_ids$", r"^1  ->  2  in (0 < train_frac <= 1|0 <= val_frac < 1)$",
     "a fraction past 1 (the other at least 0) also puts their sum past 1 + 1e-9, which is "
     "refused by the same condition"),
    (r"^charlm\.schema:_is_int$", r"  ->  return -\(isinstance",
     "-True is -1 and -False is 0: the same truth value to every caller, which only tests it"),
    (r"^charlm\.vocab:CharVocab\.__init__$", r"^2  ->  3  in np\.full\(int\(self\._codes\[-1\]\) \+ 2",
     "encode clamps a code point past the last character to the table's last slot, "
     "which says 'unknown': a table one slot longer ends in the same 'unknown'"),
    (r"^utils\.files:open_regular$", r"^if hasattr\(os, 'set_blocking'\):",
     "the descriptor goes back to blocking reads, which a regular file never waits in "
     "either way (and every POSIX Python has os.set_blocking)"),
    (r"^utils\.files:open_regular$", r"  in getattr\(os, 'O_NONBLOCK', 0\)$",
     "the default stands in only where os has no O_NONBLOCK (Windows); on POSIX, where "
     "the suite and the non-blocking open run, the flag itself is read"),
    (r"^charlm\.schema:text$", r"^4096  ->  ",
     "the default length is never used: every text field of the schema names its own"),
]


def reason_for(mutant) -> str | None:
    """The reason ``mutant`` is a known equivalent, or None."""
    for target, change, reason in EQUIVALENT:
        if re.search(target, mutant.target) and re.search(change, mutant.change):
            return reason
    return None
