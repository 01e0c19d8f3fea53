"""Mutation testing of the application (text, vocabulary, batches, checkpoints,
training loop, sampling, bridge) against the tests that run it.

    python tools/mutate_app.py                      # every mutant of tools/app_targets.py
    python tools/mutate_app.py --only vocab sample  # targets whose name contains these
    python tools/mutate_app.py --quick              # 6 sampled mutants, seed 0 (the CI test)
    python tools/mutate_app.py --markdown           # the per-module table for the README
    python tools/mutate_app.py --shard 0/2          # every second mutant (run 1/2 beside it)
    python tools/mutate_app.py --replay run.log     # again, the survivors a run printed
    python tools/mutate_app.py --replay run.log --tests tests/test_data.py   # ... against these

What it does
------------
1. **Targets.** ``tools/app_targets.py`` lists the functions to mutate, module by
   module, with the test files that may run them.
2. **Mutants.** ``tools/mutants.py`` makes one mutated copy of each function per
   small mistake (swapped operator, off-by-one constant, negated condition,
   dropped statement, swapped arguments, ...). Changes inside the message of a
   ``raise`` are left out: they alter wording, which no test should pin
   character by character.
3. **Reach.** All the listed test files run once, in this process, with every
   target wrapped by a spy: a test *reaches* a target when the spy saw a call
   during it. Tests that fail with the original code are set aside (and named).
4. **Verdict.** Each mutant is compiled into its module (the original is put back
   after) and the tests reaching it run, fastest first, until one fails: then it
   is **killed**, once that test is seen to pass again with the original code (a
   flaky test kills nothing). A mutant no test fails **survived**, unless
   ``tools/equivalent.py`` explains why it cannot change behaviour
   (**equivalent**). A test running over ``TIMEOUT_S`` (a hang) fails.

``--quick`` skips step 3: each sampled mutant runs its target's test files in the
table's order, and known equivalents are not run. Prints every survivor and
equivalent mutant with its change, then the table module | mutants | killed |
survived | equivalent. Exits 1 when a mutant survived.
"""
from __future__ import annotations

import __future__
import argparse
import ast
import functools
import importlib
import inspect
import os
import random
import signal
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

import pytest                                               # noqa: E402

from app_targets import REBUILT, TARGETS                             # noqa: E402
from equivalent import reason_for                           # noqa: E402
from mutants import Mutant, mutants                         # noqa: E402
from mutate import diff, format_markdown, format_table, source_def  # noqa: E402

TIMEOUT_S = 120          # a test running longer under a mutant hangs: it fails
QUICK_SAMPLE = 6


# ---- 1. targets ------------------------------------------------------------------
class AppTarget:
    """One function of the application: module-level or a method (also a property,
    a staticmethod or a classmethod)."""

    def __init__(self, area: str, module: str, qualname: str, test_files: list[str]):
        self.area, self.test_files = area, test_files
        self.module = importlib.import_module(module)
        self.short = module.removeprefix("tinyrnn.")
        self.name = f"{self.short}:{qualname}"
        owner_name, _, self.attr = qualname.rpartition(".")
        self.owner = getattr(self.module, owner_name) if owner_name else None
        space = vars(self.owner) if self.owner else vars(self.module)
        self.raw = space[self.attr]                  # as stored: maybe a descriptor
        self.func = self.raw.fget if isinstance(self.raw, property) else \
            getattr(self.raw, "__func__", self.raw)
        self._homes = None
        self.rebuilt = module in REBUILT
        if self.rebuilt:
            self.original = self._module_code(self.node())

    def node(self) -> ast.FunctionDef:
        return source_def(self.func, self.owner, self.attr)

    def _module_code(self, function: ast.FunctionDef):
        """The module's source, its classes left out and ``function`` in place of
        the def of that name: run in the module's namespace, it rebuilds every
        table from that function (the classes already there stay the same objects)."""
        path = inspect.getsourcefile(self.func)
        tree = ast.parse(Path(path).read_text())
        tree.body = [function if isinstance(n, ast.FunctionDef) and n.name == self.attr else n
                     for n in tree.body if not isinstance(n, ast.ClassDef)]
        return compile(tree, path, "exec", dont_inherit=True)

    def mutants(self) -> list[Mutant]:
        """Every mutant, less those changing only a raised error's message."""
        node = self.node()
        wording = {line for r in ast.walk(node) if isinstance(r, ast.Raise) and r.exc
                   for line in range(r.exc.lineno, r.exc.end_lineno + 1)}
        return [m for m in mutants(self.name, node) if m.line not in wording]

    def compile(self, mutant: Mutant):
        if self.rebuilt:
            return self._module_code(mutant.tree)
        code = compile(ast.Module([mutant.tree], []), inspect.getsourcefile(self.func),
                       "exec", flags=__future__.annotations.compiler_flag, dont_inherit=True)
        space = {}
        exec(code, vars(self.module), space)              # noqa: S102 -- our own code
        return space[self.attr]

    def put(self, func) -> None:
        """Make ``func`` the code every caller of the target runs."""
        if self.rebuilt:                          # func: the module's code, with the mutant
            space = vars(self.module)
            before = dict(space)
            exec(func, space)                               # noqa: S102 -- our own code
            rebound = {id(before[k]): (before[k], v) for k, v in space.items()
                       if k in before and v is not before[k] and callable(v)}
            for m in list(sys.modules.values()):    # `from .schema import check_meta` too
                home = getattr(m, "__dict__", None)
                if home is None or home is space:
                    continue
                for k, v in list(home.items()):
                    old, new = rebound.get(id(v), (None, None))
                    if old is v:
                        home[k] = new
            return
        if self.owner is not None:
            kind = type(self.raw)
            setattr(self.owner, self.attr, func if kind is type(self.func) else kind(func))
            return
        if self._homes is None:        # every module namespace binding it (tests too)
            self._homes = [(vars(m), k) for m in list(sys.modules.values())
                           if m is not None and hasattr(m, "__dict__")
                           for k, v in list(vars(m).items()) if v is self.func]
        for home, key in self._homes:
            home[key] = func

    def restore(self) -> None:
        self.put(self.original if self.rebuilt else self.func)


def load_targets(only=None) -> list[AppTarget]:
    return [AppTarget(area, module, name, files) for area, module, names, files in TARGETS
            for name in names
            if not only or any(o in f"{module.removeprefix('tinyrnn.')}:{name}" for o in only)]


def _spy(func, target, hits):
    @functools.wraps(func)
    def spied(*args, **kwargs):
        hits.add(target)
        return func(*args, **kwargs)
    return spied


class _Hang(Exception):
    pass


def _alarm(*_):
    raise _Hang(f"ran over {TIMEOUT_S} s")


# ---- 2. the session: runs inside pytest, after collection ------------------------------
class MutationSession:
    """A pytest plugin that takes over the test loop: the reach run, then the mutants."""

    def __init__(self, targets, work, quick, out):
        self.targets, self.work, self.quick, self.out = targets, work, quick, out
        self.table = defaultdict(lambda: defaultdict(int))
        self.failed = None
        self.survivors, self.done, self.stop = 0, 0, False

    def pytest_runtest_logreport(self, report):
        if report.failed and self.failed is None:
            self.failed = f"{report.nodeid} ({report.when})"

    def run(self, item) -> str | None:
        """The first failure running ``item`` (None: it passed)."""
        self.failed = None
        signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(TIMEOUT_S)
        try:
            item.ihook.pytest_runtest_protocol(item=item, nextitem=None)
        except _Hang as err:
            self.failed = f"{item.nodeid} ({err})"
        finally:
            signal.alarm(0)
        return self.failed

    def pytest_runtestloop(self, session):
        items = session.items
        reach, seconds = self.reach(items) if not self.quick else ({}, {})
        signal.signal(signal.SIGTERM, self.stop_after_this_mutant)
        for target, mutant in self.work:
            if self.stop:
                self.say(f"stopped (SIGTERM) after {self.done} of {len(self.work)} mutants")
                break
            if self.quick:
                files = [str(ROOT / f) for f in target.test_files]
                tests = sorted((i for i in items if str(i.path) in files),
                               key=lambda i: files.index(str(i.path)))
            elif target.rebuilt:
                files = {str(ROOT / f) for f in target.test_files}
                tests = sorted((i for i in items if str(i.path) in files and i.nodeid in seconds),
                               key=lambda i: seconds[i.nodeid])
            else:
                tests = sorted((i for i in items if target in reach.get(i.nodeid, ())),
                               key=lambda i: seconds[i.nodeid])
            verdict, why = self.verdict(target, mutant, tests)
            self.table[target.short][verdict] += 1
            self.done += 1
            if verdict == "killed":
                self.say(f"[killed] {mutant}\n    by {why}")
            else:
                self.say(f"[{verdict}] {mutant}\n    {why}\n    "
                         + diff(target, mutant).replace("\n", "\n    "))
        return True

    def stop_after_this_mutant(self, *_):
        """SIGTERM: finish the mutant running, then print the table of those run.
        The work is in a seeded random order, so the mutants run are a fair sample."""
        self.stop = True

    def reach(self, items) -> tuple[dict, dict]:
        """{test: the targets it calls}, {test: seconds}; failing tests left out."""
        hits, reach, seconds = set(), {}, {}
        spied = [t for t in self.targets if not t.rebuilt]
        for target in spied:
            target.put(_spy(target.func, target, hits))
        try:
            for item in items:
                hits.clear()
                start = time.perf_counter()
                failed = self.run(item)
                if failed:
                    self.say(f"set aside: {failed} fails with the original code")
                    continue
                reach[item.nodeid], seconds[item.nodeid] = set(hits), \
                    time.perf_counter() - start
        finally:
            for target in spied:
                target.restore()
        covered = {t for found in reach.values() for t in found}
        for target in spied:
            if target not in covered:
                self.say(f"no test reaches {target.name}")
        return reach, seconds

    def verdict(self, target, mutant, tests) -> tuple[str, str]:
        reason = reason_for(mutant)
        if self.quick and reason:
            return "equivalent", reason
        try:
            func = target.compile(mutant)
        except SyntaxError as err:
            return "killed", f"does not compile: {err}"
        for item in tests:
            try:
                target.put(func)
            except Exception as err:     # a rebuilt module whose tables fail to build
                target.restore()
                return "killed", f"the module fails to load: {type(err).__name__}: {err}"
            try:
                failed = self.run(item)
            finally:
                target.restore()
            if failed and not self.run(item):              # and it passes without the mutant
                return "killed", failed
        if reason:
            return "equivalent", reason
        self.survivors += 1
        return "survived", f"{len(tests)} tests reach it; none fails"

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)


# ---- 3. the command line ----------------------------------------------------------
def survivors_in(logs) -> set[str]:
    """The first line of each mutant (``target line N: change``) the runs that
    printed ``logs`` (paths) called survived."""
    return {line.split("] ", 1)[1] for log in logs
            for line in Path(log).read_text().splitlines() if line.startswith("[survived] ")}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="*", help="targets whose module:name contains these")
    parser.add_argument("--sample", type=int, help="run N mutants drawn at random")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the mutants' order and of --sample (default 0)")
    parser.add_argument("--quick", action="store_true",
                        help=f"--sample {QUICK_SAMPLE}, no reach run (see the module's help)")
    parser.add_argument("--shard", metavar="K/N", help="run only mutants K, K+N, K+2N, ... "
                        "of the shuffled order (0 <= K < N), e.g. 0/2 and 1/2 side by side")
    parser.add_argument("--skip", type=int, default=0, metavar="N",
                        help="leave out the first N mutants of that order (to go on "
                             "with a run that stopped after N)")
    parser.add_argument("--replay", metavar="LOG", nargs="+",
                        help="run only the mutants these earlier runs' output calls survived")
    parser.add_argument("--tests", nargs="+", metavar="FILE",
                        help="run these test files instead of the table's (with --replay: "
                             "see whether new tests kill an earlier run's survivors)")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--list", action="store_true", help="count the mutants and stop")
    args = parser.parse_args(argv)
    if args.quick and args.sample is None:
        args.sample = QUICK_SAMPLE
    start = time.perf_counter()
    targets = load_targets(args.only)
    work = [(t, m) for t in targets for m in t.mutants()]
    if args.list:
        for t in targets:
            print(f"{t.name:<48} {sum(1 for w in work if w[0] is t):>4}")
        print(f"{len(work)} mutants")
        return 0
    if args.replay:
        wanted = survivors_in(args.replay)
        work = [(t, m) for t, m in work if str(m).split("\n")[0] in wanted]
    random.Random(args.seed).shuffle(work)          # a stopped run leaves a fair sample
    if args.sample is not None:
        work = work[:args.sample]
    if args.shard:
        k, n = (int(x) for x in args.shard.split("/"))
        if not 0 <= k < n:
            parser.error(f"--shard: expected K/N with 0 <= K < N, got {args.shard!r}")
        work = work[k::n]
    work = work[args.skip:]
    chosen = {t for t, _ in work}
    for target in chosen if args.tests else ():
        target.test_files = args.tests
    files = sorted({str(ROOT / f) for t in chosen for f in t.test_files})
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w")       # pytest captures fd 1
    session = MutationSession(sorted(chosen, key=lambda t: t.name), work, args.quick, out)
    code = pytest.main([*files, "-p", "no:cacheprovider", "-p", "no:terminal",
                        "--rootdir", str(ROOT), "-W", "ignore"], plugins=[session])
    if code in (pytest.ExitCode.INTERNAL_ERROR, pytest.ExitCode.USAGE_ERROR,
                pytest.ExitCode.INTERRUPTED):
        print(f"pytest stopped: {code!r}", file=out)
        return 2
    print(format_table(session.table), file=out)
    if args.markdown:
        print(format_markdown(session.table, columns=2), file=out)
    print(f"{len(work)} mutants in {time.perf_counter() - start:.0f} s", file=out)
    out.flush()
    return 1 if session.survivors else 0


if __name__ == "__main__":
    sys.exit(main())
