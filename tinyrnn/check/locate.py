"""``locate``: *which* op of a failing computation has the wrong backward?

:func:`tinyrnn.gradcheck` says whether the gradient of a whole function is
right. When it is not, ``tinyrnn.locate(fn, inputs)`` finds the
culprit: it runs ``fn`` once, recording the graph, and then checks every
node on its own -- the node's op is applied again to float64 copies of the
very arrays it saw, and its backward is compared with central differences
under a random upstream gradient, exactly as gradcheck does for a single op.
A node that fails this check has a wrong backward (or a forward that is not
a function of its inputs); the first one in recording order is reported
with its name, its position in the graph, the shapes it saw and the worst
element.

The report speaks the student's language where it can: the failing input's
name (a module's parameter, or a key of ``inputs`` given as a dict), the line
of the user's code that recorded the op, and -- when that line recorded the
same op several times, as the body of an unrolled loop does -- which time
step it was. A forward that modified its input in place, or a backward that
crashed or returned a wrong-shaped gradient, is reported like a wrong one.

If every node passes but gradcheck of the whole still fails, no single op
is to blame: the graph is cut somewhere (a ``.detach()``, ``.numpy()``, a
tensor rebuilt from raw data), or ``fn`` is not deterministic.
"""
from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from ..autograd import Function, enable_grad, recorded_nodes
from ..backend import get_rng_state, set_rng_state
from .compare import Mismatch, as_outputs, first_mismatch, refuse_outputs
from .numeric import (ATOL, DEFAULT_DIRECTIONS, RTOL, GradcheckError, float64_copy,
                      float64_parameters)
from ..tensor import Tensor

__all__ = ["locate", "Located"]


@dataclass(frozen=True, repr=False)
class Located:
    """What :func:`locate` found; true when every node's backward is right.

    Attributes
    ----------
    ok : no node failed its check.
    nodes : how many ops were recorded behind the outputs.
    failing : how many of them failed.
    op : the class name of the first failing op (in recording order), else None.
    node : its position in recording order, 1 = the first op ``fn`` ran.
    from_output : its position counted back from the output, 1 = the last op.
    input : which of the op's inputs has the wrong gradient.
    input_name : what that input is called (a parameter's or a named input's
        name, or the op that computed it), else "".
    input_shapes, output_shapes : what the op saw and made (None for a non-tensor input).
    index : the worst element of that input's gradient (None in fast mode).
    analytic, numeric : the two values there.
    source : "file:line: code" of the user's line that recorded the op, else "".
    step, steps : the op is the ``step``-th of ``steps`` ops of its kind that
        line recorded (a loop's time step, counted from 1); None when once.
    detail : the node's gradcheck message (what went wrong, with hints).
    """

    ok: bool
    nodes: int
    failing: int = 0
    op: Optional[str] = None
    node: Optional[int] = None
    from_output: Optional[int] = None
    input: Optional[int] = None
    input_shapes: tuple = ()
    output_shapes: tuple = ()
    index: Optional[tuple] = None
    analytic: Optional[float] = None
    numeric: Optional[float] = None
    detail: str = ""
    input_name: str = ""
    source: str = ""
    step: Optional[int] = None
    steps: Optional[int] = None

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        if self.ok:
            return (f"locate: all {self.nodes} recorded ops have a backward that agrees with "
                    "their forward. If gradcheck of the whole function fails, the graph is "
                    "cut somewhere (.detach(), .numpy(), a tensor rebuilt from data) or fn "
                    "is not deterministic.")
        if self.op is None:
            return self.detail
        shapes = ", ".join("const" if s is None else str(s) for s in self.input_shapes)
        where = "" if self.index is None else f" at index {self.index}"
        name = f" ({self.input_name})" if self.input_name else ""
        step = "" if self.step is None else f", time step {self.step} of {self.steps}"
        line = f"\n  recorded at {self.source}" if self.source else ""
        if np.isfinite(self.analytic):
            what = (f"the gradient of its input {self.input}{name} is off{where}: analytic "
                    f"{self.analytic:.8g}, numeric {self.numeric:.8g}")
        else:
            what = f"its input {self.input}{name} cannot be checked"
        verdict = ("forward modified its input in place" if "in place" in self.detail
                   else "backward is wrong")
        return (f"locate: {self.op}'s {verdict} -- node {self.node} of {self.nodes} "
                f"in recording order ({self.from_output} back from the output{step}), inputs "
                f"of shapes [{shapes}], outputs {list(self.output_shapes)}; {what}. "
                f"{self.failing} of {self.nodes} ops fail their own check.{line}\n"
                f"  {self.detail}")

    __repr__ = __str__


def locate(fn: Callable, inputs, module=None, eps: float = 1e-6, atol: float = ATOL,
           rtol: float = RTOL, seed: int = 0, fast: bool = False,
           directions: int = DEFAULT_DIRECTIONS, raise_exception: bool = False) -> Located:
    """Check the backward of every op ``fn(*inputs)`` records, each on the arrays it saw.

    Parameters
    ----------
    fn, inputs : as for :func:`tinyrnn.gradcheck` (floating tensors are cast
        to float64 copies). ``inputs`` may be a dict {name: value}: ``fn`` is
        then called with them as keyword arguments and reports use the names.
    module : the :class:`tinyrnn.nn.Module` whose parameters ``fn`` uses, if
        any: they are cast to float64 for the run and put back after (see
        :func:`~tinyrnn.check.float64_parameters`); reports name them.
        Something must require grad -- an input or a parameter -- or nothing
        is recorded.
    eps, atol, rtol, seed, fast, directions : as for gradcheck, applied to
        each node. ``fast=True`` checks each node's inputs along random
        directions instead of element by element (for big layers).
    raise_exception : raise :class:`GradcheckError` with the report when a
        node fails (default: return it).

    Returns a :class:`Located`: true when all nodes pass; print it to read
    the report. Ops that draw random numbers (dropout) are replayed with the
    same generator state every time, and the state is restored afterwards.
    Ops evaluated right at a kink (relu at 0, ties in max) may be reported,
    as in gradcheck, with a kink hint.
    """
    names = list(inputs) if isinstance(inputs, dict) else None
    values = [float64_copy(x) for x in (inputs.values() if names else inputs)]
    call = (lambda: fn(**dict(zip(names, values)))) if names else (lambda: fn(*values))
    labels = names or [f"input {i}" for i in range(len(values))]
    settings = dict(eps=eps, atol=atol, rtol=rtol, seed=seed, fast=fast, directions=directions)
    state = get_rng_state()
    before = [np.array(x.numpy(), copy=True) if isinstance(x, Tensor) else None for x in values]
    try:
        with float64_parameters(module) as named, enable_grad():
            with _recording_sources() as where:
                out = call()
            refuse_outputs(out, "locate")
            nodes = recorded_nodes(*as_outputs(out))
            changed = [label for label, x, old in zip(labels, values, before)
                       if old is not None and not np.array_equal(x.numpy(), old, equal_nan=True)]
            leaf_names = {id(x): label for label, x in zip(labels, values) if isinstance(x, Tensor)}
            leaf_names.update({id(p): name for name, p in named})
            failures = [] if changed else [
                (number, node, found) for number, node in enumerate(nodes, 1)
                for found in [_check_node(node, settings)] if found is not None]
    finally:
        set_rng_state(state)
    if changed:
        return _report(Located(False, len(nodes), detail=(
            f"locate: fn's forward modified {', '.join(changed)} in place: an op must not "
            "write into its inputs (x *= 2, x[...] = ...); compute a new array instead "
            "(x = x * 2).")), raise_exception)
    if not nodes:
        raise ValueError("locate: fn recorded no graph; give an input with requires_grad=True "
                         "or the module whose parameters fn uses (module=)")
    if not failures:
        return Located(True, len(nodes))
    number, node, found = failures[0]
    checked = [i for i, need in enumerate(node.needs_input_grad) if need]
    position = checked[found.leaf]
    source, step, steps = _where(node, where)
    return _report(Located(
        False, len(nodes), len(failures), op=node.fn.__name__, node=number,
        from_output=len(nodes) - number + 1, input=position,
        input_shapes=tuple(x.shape if isinstance(x, Tensor) else None for x in node.inputs),
        output_shapes=tuple(shape for shape, _ in node.out_meta), index=found.index,
        analytic=found.analytic, numeric=found.numeric, detail=found.message,
        input_name=_input_name(node.inputs[position], leaf_names), source=source,
        step=step, steps=steps), raise_exception)


def _report(result: Located, raise_exception: bool) -> Located:
    if raise_exception:
        raise GradcheckError(str(result))
    return result


def _input_name(x, leaf_names: dict) -> str:
    """A parameter's or named input's name; for a computed tensor, the op that made it
    and the named tensors it read ("computed by Transpose of weight_hh")."""
    if id(x) in leaf_names:
        return f"= {leaf_names[id(x)]}"
    node = getattr(x, "_node", None)
    if node is None:
        return ""
    sources = [leaf_names[id(t)] for t in (node.inputs or ()) if id(t) in leaf_names]
    return f"computed by {node.fn.__name__}" + (f" of {', '.join(sources)}" if sources else "")


_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@contextlib.contextmanager
def _recording_sources():
    """Within the block, remember for every recorded node the user's line that
    recorded it -- the first frame outside tinyrnn -- and which execution of
    that line it was. Yields ({node sequence number: (file, line, run)},
    {(file, line): runs}). Function.apply is wrapped for the block only.

    A line runs again (the next step of a loop) when a frame records from a
    different line than last time, or from the same line at an earlier
    bytecode offset than last time (the loop went round).
    """
    where, runs, last = {}, {}, {}
    original = Function.__dict__["apply"]

    def apply(cls, *inputs, **kwargs):
        out = original.__func__(cls, *inputs, **kwargs)
        first = out[0] if isinstance(out, tuple) else out
        node = getattr(first, "_node", None)
        frame = sys._getframe(1)
        while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE):
            frame = frame.f_back
        if node is not None and frame is not None:
            here = (frame.f_code.co_filename, frame.f_lineno)
            previous = last.get(id(frame))
            if previous is None or previous[0] != here or frame.f_lasti < previous[1]:
                runs[here] = runs.get(here, 0) + 1
            last[id(frame)] = (here, frame.f_lasti)
            where[node.seq] = (*here, runs[here])
        return out
    Function.apply = classmethod(apply)
    try:
        yield where, runs
    finally:
        Function.apply = original


def _where(node, recorded) -> tuple:
    """("file:line: code", step, steps) of a node; step is the run of its line, when it ran
    more than once."""
    where, runs = recorded
    if node.seq not in where:
        return "", None, None
    import linecache
    filename, line, run = where[node.seq]
    total = runs[(filename, line)]
    source = f"{filename}:{line}: {linecache.getline(filename, line).strip()}"
    return (source, run, total) if total > 1 else (source, None, None)


def _check_node(node, settings) -> Optional[Mismatch]:
    """gradcheck of one recorded node: its op on float64 copies of its inputs."""
    args = [float64_copy(x) for x in node.inputs]
    checked = [i for i, need in enumerate(node.needs_input_grad) if need]
    start = get_rng_state()

    def replay():
        set_rng_state(start)            # dropout draws the same mask every time
        return node.fn.apply(*args, **node.options)
    watch = [(f"input {i}", x) for i, x in enumerate(args)
             if i not in checked and isinstance(x, (Tensor, np.ndarray))]
    return first_mismatch(replay, [args[i] for i in checked],
                          [f"input {i}" for i in checked], watch=watch, who="locate", **settings)
