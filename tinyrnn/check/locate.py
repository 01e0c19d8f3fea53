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

If every node passes but gradcheck of the whole still fails, no single op
is to blame: the graph is cut somewhere (a ``.detach()``, ``.numpy()``, a
tensor rebuilt from raw data), or ``fn`` is not deterministic.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Sequence

from ..autograd import enable_grad, recorded_nodes
from ..backend import get_rng_state, set_rng_state
from .compare import Mismatch, as_outputs, first_mismatch
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
    input_shapes, output_shapes : what the op saw and made (None for a non-tensor input).
    index : the worst element of that input's gradient (None in fast mode).
    analytic, numeric : the two values there.
    detail : the node's gradcheck message.
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

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        if self.ok:
            return (f"locate: all {self.nodes} recorded ops have a backward that agrees with "
                    "their forward. If gradcheck of the whole function fails, the graph is "
                    "cut somewhere (.detach(), .numpy(), a tensor rebuilt from data) or fn "
                    "is not deterministic.")
        shapes = ", ".join("const" if s is None else str(s) for s in self.input_shapes)
        where = "" if self.index is None else f" at index {self.index}"
        return (f"locate: {self.op}'s backward is wrong -- node {self.node} of {self.nodes} "
                f"in recording order ({self.from_output} back from the output), inputs of shapes "
                f"[{shapes}], outputs {list(self.output_shapes)}; the gradient of its input "
                f"{self.input} is off{where}: analytic {self.analytic:.8g}, numeric "
                f"{self.numeric:.8g}. {self.failing} of {self.nodes} ops fail their own "
                f"check.\n  {self.detail}")

    __repr__ = __str__


def locate(fn: Callable, inputs: Sequence, module=None, eps: float = 1e-6, atol: float = ATOL,
           rtol: float = RTOL, seed: int = 0, fast: bool = False,
           directions: int = DEFAULT_DIRECTIONS, raise_exception: bool = False) -> Located:
    """Check the backward of every op ``fn(*inputs)`` records, each on the arrays it saw.

    Parameters
    ----------
    fn, inputs : as for :func:`tinyrnn.gradcheck` (floating tensors are cast
        to float64 copies).
    module : the :class:`tinyrnn.nn.Module` whose parameters ``fn`` uses, if
        any: they are cast to float64 for the run and put back after (see
        :func:`~tinyrnn.check.float64_parameters`). Something must
        require grad -- an input or a parameter -- or nothing is recorded.
    eps, atol, rtol, seed, fast, directions : as for gradcheck, applied to
        each node. ``fast=True`` checks each node's inputs along random
        directions instead of element by element (for big layers).
    raise_exception : raise :class:`GradcheckError` with the report when a
        node fails (default: return it).

    Returns a :class:`Located`: true when all nodes pass; print it to read
    the report. Ops that draw random numbers (dropout) are replayed with the
    same generator state every time, and the state is restored afterwards.
    Ops evaluated right at a kink (relu at 0, ties in max) may be reported,
    as in gradcheck.
    """
    inputs = [float64_copy(x) for x in inputs]
    settings = dict(eps=eps, atol=atol, rtol=rtol, seed=seed, fast=fast, directions=directions)
    state = get_rng_state()
    try:
        with float64_parameters(module), enable_grad():
            nodes = recorded_nodes(*as_outputs(fn(*inputs)))
            failures = [(number, node, found) for number, node in enumerate(nodes, 1)
                        for found in [_check_node(node, settings)] if found is not None]
    finally:
        set_rng_state(state)
    if not nodes:
        raise ValueError("locate: fn recorded no graph; give an input with requires_grad=True "
                         "or the module whose parameters fn uses (module=)")
    if not failures:
        return Located(True, len(nodes))
    number, node, found = failures[0]
    checked = [i for i, need in enumerate(node.needs_input_grad) if need]
    result = Located(
        False, len(nodes), len(failures), op=node.fn.__name__, node=number,
        from_output=len(nodes) - number + 1, input=checked[found.leaf],
        input_shapes=tuple(x.shape if isinstance(x, Tensor) else None for x in node.inputs),
        output_shapes=tuple(shape for shape, _ in node.out_meta), index=found.index,
        analytic=found.analytic, numeric=found.numeric, detail=found.message)
    if raise_exception:
        raise GradcheckError(str(result))
    return result


def _check_node(node, settings) -> Optional[Mismatch]:
    """gradcheck of one recorded node: its op on float64 copies of its inputs."""
    args = [float64_copy(x) for x in node.inputs]
    checked = [i for i, need in enumerate(node.needs_input_grad) if need]
    start = get_rng_state()

    def replay():
        set_rng_state(start)            # dropout draws the same mask every time
        return node.fn.apply(*args, **node.options)
    return first_mismatch(replay, [args[i] for i in checked],
                          [f"input {i}" for i in checked], **settings)
