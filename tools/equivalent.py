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
]


def reason_for(mutant) -> str | None:
    """The reason ``mutant`` is a known equivalent, or None."""
    for target, change, reason in EQUIVALENT:
        if re.search(target, mutant.target) and re.search(change, mutant.change):
            return reason
    return None
