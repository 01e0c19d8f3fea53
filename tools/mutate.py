"""Mutation testing of every hand-written backward against the gradient-check registry.

    python tools/mutate.py                       # every mutant (a few minutes)
    python tools/mutate.py --ops Where MatMul    # only these targets
    python tools/mutate.py --quick               # 40 sampled mutants, seed 0 (the CI test)
    python tools/mutate.py --sample 100 --seed 3

What it does
------------
1. **Targets.** Imports every module of tinyrnn, collects the ``Function``
   subclasses (recursively, from ``Function.__subclasses__()``) that define a
   ``backward``, and the module-level helpers only backward code calls (by AST:
   reachable from some backward, from no forward; e.g. ``sequence_grads``).
2. **Mutants.** ``tools/mutants.py`` makes one mutated copy of a target's
   ``def`` per small mistake (swapped operator, dropped term, swapped returned
   gradients, changed constant / axis / ``needs_input_grad`` index, ...).
3. **Registry.** Each mutant is compiled into the target's module namespace
   in memory (the original is put back after) and the registry cases whose
   recorded graph reaches the op (``tests/opcases*.py`` with every input frozen
   in turn, as ``tests/test_ops_gradcheck.py`` runs them) are gradient-checked
   on NumPy in float64, full then fast mode. A failed check, an exception, a
   non-finite gradient or a timeout (a hang) **kills** it.
4. **Oracle.** A mutant the registry lets through is checked again,
   independently: the same cases with other random data (seeds 1, 2), data
   rounded to multiples of 0.5 (ties, exact zeros) and scaled by 3
   (saturation, inactive units), and every trainability pattern (all inputs,
   each alone frozen, each alone trainable), keeping only the trials where the
   *original* backward passes. A mutant that fails one of them **survived**
   (a blind spot of the registry: add a case); one that passes all of them is
   **equivalent**, and ``tools/equivalent.py`` says why (or "unexplained").

Prints each survivor and equivalent mutant with its change, then the table
op | mutants | killed | survived | equivalent. Exits 1 when a mutant survived or an
equivalent one has no reason.
"""
from __future__ import annotations

import __future__
import argparse
import ast
import importlib
import inspect
import pkgutil
import random
import signal
import sys
import textwrap
import time
import types
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(Path(__file__).resolve().parent)]

import tinyrnn as tr                                       # noqa: E402
from tinyrnn.autograd import Function                     # noqa: E402
from opcase import load_cases, recorded_nodes             # noqa: E402
from mutants import Mutant, mutants                       # noqa: E402
from equivalent import reason_for                         # noqa: E402
from oracle import analytic, inputs_of, trials, upstream_of  # noqa: E402

TIMEOUT_S = 120      # a mutant whose registry run takes longer hangs: killed


# ---- 1. targets -------------------------------------------------------------------
class Target:
    """A function to mutate: ``Op.backward`` or a backward-only helper."""

    def __init__(self, name, func, owner=None, inputs=None):
        self.name, self.func, self.owner, self.inputs = name, func, owner, inputs
        self.module = sys.modules[func.__module__]
        self.ops = {owner} if owner is not None else set()   # ops whose backward reaches it

    def node(self) -> ast.FunctionDef:
        return source_def(self.func, self.owner, self.func.__name__)

    def compile(self, mutant: Mutant):
        """The mutant as a function whose globals are the target module's."""
        code = compile(ast.Module([mutant.tree], []), inspect.getsourcefile(self.func), "exec",
                       flags=__future__.annotations.compiler_flag, dont_inherit=True)
        space = {}
        exec(code, self.module.__dict__, space)                # noqa: S102 -- our own code
        return space[self.func.__name__]

    def put(self, func) -> None:
        """Make ``func`` the code every caller of the target runs."""
        if self.owner is not None:
            setattr(self.owner, "backward", staticmethod(func))
            return
        if not hasattr(self, "_homes"):      # every module namespace that binds the helper
            self._homes = [(m.__dict__, k) for m in list(sys.modules.values())
                           if m is not None and m.__name__.startswith("tinyrnn")
                           for k, v in list(vars(m).items()) if v is self.func]
        for home, key in self._homes:
            home[key] = func


def source_def(func, owner, name: str) -> ast.FunctionDef:
    """The ``def name`` in ``func``'s source file: in class ``owner``, or at module level."""
    tree = ast.parse(Path(inspect.getsourcefile(func)).read_text())
    scope = tree.body
    if owner is not None:
        scope = next(n for n in scope if isinstance(n, ast.ClassDef)
                     and n.name == owner.__name__).body
    return next(n for n in scope if isinstance(n, ast.FunctionDef) and n.name == name)


def _import_tinyrnn():
    for info in pkgutil.walk_packages(tr.__path__, prefix="tinyrnn."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _callees(func) -> set:
    """Module-level tinyrnn functions ``func`` calls or hands on by name (as to
    ``Backend.pointwise(fn)``), transitively."""
    found, todo = set(), [func]
    while todo:
        f = todo.pop()
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(f)))
        except (OSError, TypeError, SyntaxError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                g = f.__globals__.get(node.id)
                if isinstance(g, types.FunctionType) and g.__module__.startswith("tinyrnn") \
                        and g not in found:
                    found.add(g)
                    todo.append(g)
    return found


def discover() -> list[Target]:
    _import_tinyrnn()
    ops = sorted({c for c in _subclasses(Function) if c.__module__.startswith("tinyrnn")
                  and "backward" in c.__dict__}, key=lambda c: c.__name__)
    targets, helpers, forward_side = [], {}, set()
    for op in ops:
        params = inspect.signature(op.forward).parameters.values()
        positional = [p for p in params if p.kind == p.POSITIONAL_OR_KEYWORD]
        variadic = any(p.kind == p.VAR_POSITIONAL for p in params)
        targets.append(Target(f"{op.__name__}.backward", op.__dict__["backward"].__func__, op,
                              None if variadic else len(positional) - 1))
        forward_side |= _callees(op.forward)
        for helper in _callees(op.__dict__["backward"].__func__):
            helpers.setdefault(helper, set()).add(op)
    for helper, users in sorted(helpers.items(), key=lambda kv: kv[0].__name__):
        if helper not in forward_side:
            t = Target(helper.__name__, helper)
            t.ops = users
            targets.append(t)
    return targets


# ---- 2. running cases -------------------------------------------------------------
def check(case) -> str | None:
    """Why the registry case fails with the backward code installed now (None: it
    passes): a non-finite gradient, a failed gradcheck (full, then fast), an error."""
    inputs = inputs_of(case)
    if not any(isinstance(x, tr.Tensor) and x.requires_grad for x in inputs):
        return None
    try:
        grads = analytic(case.fn, inputs, upstream_of(case.fn, inputs, 0))
        if not all(np.all(np.isfinite(g)) for g in grads if g is not None):
            return "non-finite gradient"
        for fast in (False, True):
            if not tr.gradcheck(case.fn, inputs, **{**case.check, "fast": fast},
                                raise_exception=False):
                return "gradcheck" + (" (fast)" if fast else "")
    except Exception as err:                                  # noqa: BLE001 -- a kill
        return f"{type(err).__name__}: {err}"[:120]
    return None


def _backward_calls(cases, ops) -> dict:
    """{case name: the ops whose backward a gradcheck of the case runs}, found by
    spying on every backward during one fast gradcheck of each case. This
    includes the ops of gradcheck's own loss, sum(f(x) * u): their backward
    runs in every case."""
    hits, reach = set(), {}
    originals = {op: op.__dict__["backward"] for op in ops}

    def spy(op, backward):
        def spied(ctx, *grads):
            hits.add(op)
            return backward(ctx, *grads)
        return staticmethod(spied)
    for op in ops:
        setattr(op, "backward", spy(op, originals[op].__func__))
    try:
        for case in cases:
            hits.clear()
            tr.gradcheck(case.fn, inputs_of(case), **{**case.check, "fast": True})
            reach[case.name] = set(hits)
    finally:
        for op, backward in originals.items():
            setattr(op, "backward", backward)
    return reach


class Runner:
    """Runs mutants; remembers which case reaches which op, and the oracle's trials."""

    def __init__(self, targets):
        self.cases = load_cases()
        self.plain = load_cases(vary_trainability=False)
        self.reach = _backward_calls(self.cases, {t.owner for t in targets if t.owner})
        self.graph_reach = {}           # the ops in the case's own graph (the oracle's reach)
        for case in self.plain:
            tr.manual_seed(0)
            self.graph_reach[case.name] = {n.fn for n in recorded_nodes(
                case.fn(*case.make_inputs()))}
        self.trials = {}

    @staticmethod
    def cases_for(target, cases, reach):
        hits = [c for c in cases if reach[c.name] & target.ops]
        return sorted(hits, key=lambda c: not (set(c.ops) & target.ops))   # direct ones first

    def killed_by_registry(self, target) -> str | None:
        for case in self.cases_for(target, self.cases, self.reach):
            why = check(case)
            if why:
                return f"{case.name}: {why}"
        return None

    def oracle(self, target, mutant_func) -> str | None:
        """The first trial the installed mutant fails and the original passes."""
        cases = self.cases_for(target, self.plain, self.graph_reach)
        for case in cases:
            if case.name not in self.trials:
                with _original(target, mutant_func):
                    self.trials[case.name] = self._trials_of(case)
        for trial in (t for case in cases for t in self.trials[case.name]):
            if trial.original_ok:
                why = trial.failure()
                if why:
                    return f"{trial}: {why}"
        return None

    @staticmethod
    def _trials_of(case):
        """The case's trials, each with the original backward's verdict; an oracle
        the original fails everywhere would call every mutant equivalent: refused."""
        found = trials(case)
        for trial in found:
            trial.original_ok = trial.failure() is None
        if not any(t.original_ok for t in found):
            raise RuntimeError(f"oracle: the original backward fails every trial of "
                               f"{case.name}: {found[0].failure()}")
        return found


class _original:
    """Context: the original code back in place (inside a mutant's run)."""

    def __init__(self, target, mutant_func):
        self.target, self.mutant_func = target, mutant_func

    def __enter__(self):
        self.target.put(self.target.func)

    def __exit__(self, *exc):
        self.target.put(self.mutant_func)


def _timeout(*_):
    raise TimeoutError(f"mutant ran over {TIMEOUT_S} s")


def run_mutant(runner, target, mutant, known_only=False):
    """'killed' | 'equivalent' | 'survived', and a one-line why."""
    func = target.compile(mutant)
    target.put(func)
    signal.signal(signal.SIGALRM, _timeout)
    signal.alarm(TIMEOUT_S)
    try:
        why = runner.killed_by_registry(target)
        signal.alarm(0)
        if why:
            return "killed", why
        reason = reason_for(mutant)
        if known_only and reason:
            return "equivalent", reason
        failed = runner.oracle(target, func)
        if failed:
            return "survived", f"registry passes; the oracle fails: {failed}"
        return "equivalent", reason or "UNEXPLAINED: add a reason to tools/equivalent.py"
    except TimeoutError as err:
        return "killed", str(err)
    finally:
        signal.alarm(0)
        target.put(target.func)


def diff(target, mutant) -> str:
    """The changed lines, original against mutant (both as ``ast.unparse`` writes them)."""
    import difflib
    original = target.node()
    original.decorator_list = []
    lines = difflib.unified_diff(ast.unparse(original).splitlines(),
                                 ast.unparse(mutant.tree).splitlines(), lineterm="", n=1)
    return "\n".join(list(lines)[2:])


# ---- 3. the command line ----------------------------------------------------------
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ops", nargs="*", help="only targets whose name starts with these "
                        "(e.g. Where MatMul sequence_grads)")
    parser.add_argument("--sample", type=int, help="run N mutants drawn at random")
    parser.add_argument("--seed", type=int, default=0, help="seed of --sample (default 0)")
    parser.add_argument("--quick", action="store_true", help="--sample 40 --seed 0; "
                        "registry survivors listed in tools/equivalent.py are not re-checked")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every mutant")
    parser.add_argument("--markdown", action="store_true",
                        help="print the table as Markdown too (for the README)")
    args = parser.parse_args(argv)
    if args.quick and args.sample is None:
        args.sample = 40
    start = time.perf_counter()
    tr.set_default_backend("numpy")
    warnings.simplefilter("ignore")
    np.seterr(all="ignore")
    every = discover()
    targets = [t for t in every if not args.ops or
               any(t.name.startswith(o) for o in args.ops)]
    work = [(t, m) for t in targets for m in mutants(t.name, t.node(), t.inputs)]
    if args.sample is not None:
        work = random.Random(args.seed).sample(work, min(args.sample, len(work)))
    runner = Runner(every)
    table = defaultdict(lambda: defaultdict(int))
    unexplained = 0
    for target, mutant in work:
        verdict, why = run_mutant(runner, target, mutant, known_only=args.quick)
        table[target.name][verdict] += 1
        unexplained += why.startswith("UNEXPLAINED")
        if verdict != "killed" or args.verbose:
            print(f"[{verdict}] {mutant}\n    {why}")
            if verdict != "killed":
                print("    " + diff(target, mutant).replace("\n", "\n    "))
    print(format_table(table))
    if args.markdown:
        print(format_markdown(table))
    print(f"{len(work)} mutants in {time.perf_counter() - start:.0f} s")
    if unexplained:
        print(f"{unexplained} equivalent mutants have no reason in tools/equivalent.py")
    return 1 if unexplained or any(row["survived"] for row in table.values()) else 0


def format_table(table) -> str:
    lines = [f"{'target':<24} {'mutants':>7} {'killed':>7} {'survived':>8} {'equivalent':>10}"]
    total = defaultdict(int)
    for name in sorted(table):
        row = table[name]
        n = sum(row.values())
        for k in ("killed", "survived", "equivalent"):
            total[k] += row[k]
        lines.append(f"{name:<24} {n:>7} {row['killed']:>7} {row['survived']:>8} "
                     f"{row['equivalent']:>10}")
    n = sum(total.values())
    real = total["killed"] + total["survived"]
    lines.append(f"{'total':<24} {n:>7} {total['killed']:>7} {total['survived']:>8} "
                 f"{total['equivalent']:>10}")
    if real:
        lines.append(f"score: {total['killed']} of {real} non-equivalent mutants killed "
                     f"({100 * total['killed'] / real:.1f}%)")
    return "\n".join(lines)


def format_markdown(table, columns: int = 3) -> str:
    """The table as Markdown, ``columns`` targets side by side: killed / survived / equivalent."""
    cells = [f"`{name}` | {table[name]['killed']} / {table[name]['survived']} / "
             f"{table[name]['equivalent']}" for name in sorted(table)]
    cells += [" | "] * (-len(cells) % columns)
    lines = ["| " + " | ".join(["target | k / s / e"] * columns) + " |",
             "|" + "---|" * (2 * columns)]
    for row in range(0, len(cells), columns):
        lines.append("| " + " | ".join(cells[row:row + columns]) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
