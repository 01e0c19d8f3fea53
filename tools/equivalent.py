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

_SEQ = r"^(RNN|LSTM|GRU)Sequence\.backward$"

EQUIVALENT = [
    (r".", r"astype\((?P<mask>.+), [\w.]+\)  ->  (?P=mask)$",
     "a bool mask used without the cast: NumPy multiplies it as 0 / 1 (the Array API "
     "refuses bool * float, hence the cast; the strict backend in the suite checks it)"),
    (r".", r"^-1  ->  -2  in \S*reshape\(",
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
    (r"^LSTMSequence\.backward$", r"^n\[1\]  ->  n\[\d\]  in sequence_grads\(",
     "sequence_grads never reads needs[1]: h0's gradient comes from the time loop"),
    (r"^sequence_grads$", r"^needs\[5\]  ->  needs\[\d\]  in needs\[5\] and needs\[4\]",
     "both branches give the same db_hh (a copy of db_ih, or the same sum computed "
     "again); the condition only picks the cheaper one"),
    (r"^sequence_grads$", r"^copy\(ctx, db_ih\)  ->  db_ih$",
     "db_hh then shares memory with db_ih: the same numbers (the copy is there so that an "
     "in-place update of one .grad cannot change the other)"),
    (_SEQ, r"if (not )?may_overwrite_saved\(ctx\)",
     "where the gate gradients are written (over the saved activations, or in a new "
     "buffer) changes memory, not numbers, in one backward pass"),
    (r"^may_overwrite_saved$", r".",
     "memory only in one backward pass (see above); reusing a retained graph is "
     "tests/test_fused.py's business"),
    (_SEQ, r"^copy\(ctx, d[hc]_n\)  ->  d[hc]_n$",
     "the time loop then accumulates into the incoming gradient of h_n / c_n in place, an "
     "array nothing reads again: memory, not numbers"),
]


def reason_for(mutant) -> str | None:
    """The reason ``mutant`` is a known equivalent, or None."""
    for target, change, reason in EQUIVALENT:
        if re.search(target, mutant.target) and re.search(change, mutant.change):
            return reason
    return None
