"""The reverse-mode engine: ``Function``, the graph it records, and ``backward``.

Every op is a subclass of :class:`Function` with two static methods side by
side::

    class Tanh(Function):
        @staticmethod
        def forward(ctx, x):            # raw arrays in, raw arrays out
            y = ctx.xp.tanh(x)
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, dy):          # one upstream gradient per output
            (y,) = ctx.saved
            return dy * (1 - y * y)     # one gradient per input

``Tanh.apply(t)`` unwraps tensors, runs ``forward`` and -- when some input
requires grad and grad mode is on -- records a node of the graph: the inputs,
what ``forward`` saved, and a *sequence number* counting the nodes in the order
they were made.

``backward`` walks the graph without recursion: a heap hands out the newest
node first. Every node consuming a node's outputs was made after it, so a
node runs only after all of them have added their contributions -- the
forward pass replayed backwards, as on a tape. A 10,000-step BPTT graph is
just a longer heap walk, and the time is linear in the number of nodes
(times a log). (Numbering by depth -- one more than the deepest input --
would also be a valid order, but it runs a node fed only by leaves, such as
``W.T`` at every step of an RNN, after everything else: all T per-step
gradients of ``W.T`` would wait in memory to the very end.)

Broadcasting is handled once, here: a gradient an op returns for a broadcast
input is reduced with :func:`sum_to` (sum the leading axes broadcasting added,
and the axes where the input had size 1) and its shape is asserted. No op
repeats that logic -- except inside :func:`exact_grad_shapes`, where the
reduction is left to each backward, for teaching it.
"""
from __future__ import annotations

import contextlib
import heapq
import itertools
import weakref

from .backend import BackendError

__all__ = ["Function", "no_grad", "enable_grad", "is_grad_enabled", "sum_to", "backward",
           "recorded_nodes", "exact_grad_shapes"]

_grad_enabled = True
_exact_grad_shapes = False           # see exact_grad_shapes()
_node_count = itertools.count(1)     # sequence numbers of recorded nodes


def is_grad_enabled() -> bool:
    return _grad_enabled


class _GradMode(contextlib.ContextDecorator):
    def __init__(self, enabled: bool):
        self.enabled = enabled

    def __enter__(self):
        global _grad_enabled
        self.prev, _grad_enabled = _grad_enabled, self.enabled

    def __exit__(self, *exc):
        global _grad_enabled
        _grad_enabled = self.prev
        return False


def no_grad():
    """Context manager and decorator: ops inside record no graph.

    >>> with tinyrnn.no_grad():
    ...     y = model(x)          # no graph kept, no memory spent on it
    """
    return _GradMode(False)


def enable_grad():
    """Turn graph recording back on inside a ``no_grad`` block."""
    return _GradMode(True)


@contextlib.contextmanager
def exact_grad_shapes():
    """Inside this block the engine reduces no broadcast gradient: every gradient a
    ``backward`` returns must have exactly its input's shape.

    Normally a ``Function`` may return, for an input that was broadcast, the
    gradient of the broadcast result, and the engine sums it down with
    :func:`sum_to`. Here that sum is the student's job: a gradient of shape
    (B, H) for a bias of shape (H,) is refused with one error naming the op,
    the input, the gradient's shape and the input's. (Only a shape that
    differs is inspected, so the block costs nothing per op.)

    >>> with tinyrnn.autograd.exact_grad_shapes():
    ...     MyAdd.apply(x, bias).backward(u)     # MyAdd.backward must sum over the batch
    """
    global _exact_grad_shapes
    previous, _exact_grad_shapes = _exact_grad_shapes, True
    try:
        yield
    finally:
        _exact_grad_shapes = previous


def _refuse_shape(node, position: int, grad, shape: tuple) -> None:
    """The error of a wrong-shaped gradient for input ``position`` inside exact_grad_shapes()."""
    raise RuntimeError(f"{node.fn.__name__.lower()}: backward returned a gradient of shape "
                       f"{tuple(grad.shape)} for its input {position} of shape {tuple(shape)}; "
                       "inside exact_grad_shapes() the engine does not reduce broadcast "
                       "gradients: sum over the axes that broadcasting added or stretched")


def sum_to(xp, grad, shape: tuple, op: str = "sum_to"):
    """Reduce ``grad`` to ``shape`` by summing the axes broadcasting created.

    Broadcasting copies an input along (a) new leading axes and (b) axes
    where the input had size 1. By the multivariable chain rule each copy's
    gradient adds up, so we sum exactly those axes. A gradient whose shape
    ``shape`` does not broadcast to is a bug in ``op``'s backward: an error.
    """
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    if lead < 0 or any(n != 1 and g != n for n, g in zip(shape, grad.shape[lead:])):
        raise RuntimeError(f"{op}: backward returned a gradient of shape "
                           f"{tuple(grad.shape)} for an input of shape {tuple(shape)}; "
                           "it must have the input's shape (or one it broadcasts to)")
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1)
    if axes:
        grad = xp.sum(grad, axis=axes, keepdims=True)
    return xp.reshape(grad, shape)


class Context:
    """What ``forward`` leaves for ``backward``; also the node of the graph.

    Ops may set any attribute on it (``ctx.axis = axis``). The engine uses:
    ``inputs`` (the input tensors and constants), ``options`` (the keyword
    arguments of ``apply``), ``saved`` (arrays kept by
    ``save_for_backward``), ``needs_input_grad`` (one bool per input),
    ``seq`` (its sequence number), ``outputs`` (weak references) and ``out_grads``.
    During backward, ``retain_graph`` tells whether the saved arrays must
    survive it (the fused kernels overwrite theirs when they need not).
    """

    def __init__(self, fn, backend):
        self.fn = fn
        self.backend = backend
        self.xp = backend.xp if backend is not None else None
        self.saved = ()

    def save_for_backward(self, *arrays):
        self.saved = arrays


class Function:
    """Base class of every op. Subclasses write ``forward`` and ``backward``.

    ``forward(ctx, *arrays, **options)`` computes on raw backend arrays;
    ``backward(ctx, *grads)`` gets one upstream gradient per output and
    returns one gradient (or ``None``) per input. ``registry`` lists every
    subclass, so the test-suite can insist each has a gradient check.
    """

    registry: list[type] = []

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        Function.registry.append(cls)

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs, **kwargs):
        """Run the op on tensors (and constants) and record it for backward."""
        # One pass over the inputs gathers everything the node needs (this is
        # the hot path of every op: a tiny RNN step runs it hundreds of times).
        backend = None
        arrays, needs, versions = [], [], []
        for x in inputs:
            if isinstance(x, Tensor):
                if backend is None:
                    backend = x.backend
                elif x.backend is not backend:
                    raise BackendError(f"{cls.__name__.lower()}: inputs live on different "
                                       f"backends ({backend.name} and {x.backend.name}); "
                                       "move them with .to(backend) first")
                arrays.append(x.data)
                needs.append(x.requires_grad)
                versions.append(x._version)
            else:
                arrays.append(x)
                needs.append(False)
                versions.append(0)
        if backend is None:
            raise TypeError(f"{cls.__name__.lower()}: expected at least one Tensor input")
        ctx = Context(cls, backend)
        out = cls.forward(ctx, *arrays, **kwargs)
        record = _grad_enabled and any(needs)
        multiple = isinstance(out, tuple)
        outs = tuple([Tensor._make(o, backend, record) for o in out]) if multiple else \
            (Tensor._make(out, backend, record),)
        if record:
            ctx.inputs = inputs
            ctx.options = kwargs            # with inputs: enough to replay the op
            ctx.needs_input_grad = tuple(needs)
            ctx.versions = tuple(versions)
            ctx.seq = next(_node_count)
            ctx.outputs = tuple([weakref.ref(o) for o in outs])
            ctx.out_meta = tuple([(tuple(o.data.shape), o.data.dtype) for o in outs])
            ctx.out_grads = [None] * len(outs)
            ctx.queued = False
            ctx.freed = False
            for k, o in enumerate(outs):
                o._node, o._out_index = ctx, k
        return outs if multiple else outs[0]


def _check_versions(ctx) -> None:
    """Refuse to backpropagate when an array saved for backward was modified in place."""
    for x, version in zip(ctx.inputs, ctx.versions):
        if isinstance(x, Tensor) and x._version != version and any(
                s is x.data for s in ctx.saved):
            raise RuntimeError(
                f"{ctx.fn.__name__.lower()}: an input of shape {x.shape} saved for backward "
                f"was modified in place (version {version} -> {x._version}); "
                "modify a copy instead, or recompute the forward pass")
    for ref in ctx.outputs:
        o = ref()
        if o is not None and o._version != 0 and any(s is o.data for s in ctx.saved):
            raise RuntimeError(
                f"{ctx.fn.__name__.lower()}: its output of shape {o.shape}, saved for "
                f"backward, was modified in place (version 0 -> {o._version})")


def _check_gradient_count(ctx, grads_in) -> None:
    """backward returns one gradient per input; trailing ones may be left out
    only when those inputs need no gradient (options, index arrays)."""
    n = len(ctx.inputs)
    if len(grads_in) > n or any(ctx.needs_input_grad[len(grads_in):]):
        raise RuntimeError(f"{ctx.fn.__name__.lower()}: backward returned {len(grads_in)} "
                           f"gradient(s) for {n} input(s); return one (or None) per input")


_FREED_MESSAGE = ("backward: part of this graph was already freed by an earlier "
                  "backward(). Pass retain_graph=True to the first call to backward "
                  "through it twice; in truncated BPTT, detach the carried state "
                  "(h = h.detach()) between chunks")


def _sum(total, g, fresh: dict):
    """total + g, the gradient of a value used more than once.

    A sum the engine allocated during this backward call (listed in ``fresh``)
    is referenced by nothing else, so further contributions are added into it
    in place: a weight used at each of T steps then costs one gradient-sized
    array, not T of them (at medium, each is 4 MB and a fresh one costs page
    faults). Every other array -- an op may hand one gradient to several
    inputs, a user may hold last call's ``.grad`` -- is never written.
    """
    if fresh.get(id(total)) is total and total.dtype == g.dtype:
        total += g
        return total
    total = total + g
    fresh[id(total)] = total
    return total


def backward(root, grad=None, retain_graph: bool = False) -> None:
    """Accumulate d(root)/d(leaf) into ``leaf.grad`` for every leaf that requires grad.

    ``grad`` is the upstream gradient (same shape as ``root``); it may be
    omitted only when ``root`` holds a single element (a loss).
    """
    if not root.requires_grad:
        raise RuntimeError("backward: this tensor does not require grad and has no graph; "
                           "set requires_grad=True on the inputs you want gradients for")
    xp = root.backend.xp
    if grad is None:
        if root.size != 1:
            raise RuntimeError(f"backward: a gradient can be created implicitly only for a "
                               f"single-element output (a loss); got shape {root.shape}. "
                               "Reduce it (e.g. .sum()) or pass grad= of the same shape")
        grad = xp.ones_like(root.data)
    else:
        if isinstance(grad, Tensor):
            if grad.backend is not root.backend:
                raise BackendError(f"backward: grad lives on backend {grad.backend.name!r} "
                                   f"but the tensor on {root.backend.name!r}; move it "
                                   "with .to() first")
            grad = grad.data
        else:
            grad = root.backend.asarray(grad)
        if grad.dtype != root.dtype:
            grad = xp.astype(grad, root.dtype)
        if tuple(grad.shape) != root.shape:
            raise RuntimeError(f"backward: grad has shape {tuple(grad.shape)} but the "
                               f"tensor has shape {root.shape}")
    node = root._node
    if node is None:                    # a leaf: its gradient is grad itself
        root._accumulate(grad)
        return
    if node.freed:
        raise RuntimeError(_FREED_MESSAGE)
    node.out_grads[root._out_index] = grad
    heap = [(-node.seq, node)]                   # newest node first
    node.queued = True
    fresh = {}                          # sums this call allocated: see _sum
    while heap:
        node = heapq.heappop(heap)[1]
        node.queued = False
        _check_versions(node)
        grads_out = []
        for k, g in enumerate(node.out_grads):
            out = node.outputs[k]()
            if g is None:               # an output nobody used
                shape, dtype = node.out_meta[k]
                g = xp.zeros(shape, dtype=dtype, device=node.backend.device)
            else:
                fresh.pop(id(g), None)  # handed on now: never written in place again
                if out is not None and out._retain:
                    out._accumulate(g)
            grads_out.append(g)
        node.out_grads = [None] * len(grads_out)
        node.retain_graph = retain_graph   # False: backward may reuse its saved buffers
        grads_in = node.fn.backward(node, *grads_out)
        if not isinstance(grads_in, tuple):
            grads_in = (grads_in,)
        if len(grads_in) != len(node.inputs):
            _check_gradient_count(node, grads_in)
        for position, (x, g, needed) in enumerate(zip(node.inputs, grads_in,
                                                      node.needs_input_grad)):
            if not needed or g is None:
                continue
            if g.shape != x.data.shape:
                if _exact_grad_shapes:
                    _refuse_shape(node, position, g, x.data.shape)
                g = sum_to(xp, g, x.data.shape, node.fn.__name__.lower())
            if x._node is None:                          # a leaf: into x.grad
                if g.dtype != x.data.dtype:
                    g = xp.astype(g, x.data.dtype)
                x.grad = Tensor._make(g if x.grad is None else _sum(x.grad.data, g, fresh),
                                      x.backend, False)
                continue
            parent = x._node
            if parent.freed:
                raise RuntimeError(_FREED_MESSAGE)
            k = x._out_index
            prev = parent.out_grads[k]
            parent.out_grads[k] = g if prev is None else _sum(prev, g, fresh)
            if not parent.queued:
                parent.queued = True
                heapq.heappush(heap, (-parent.seq, parent))
        if not retain_graph:
            node.inputs = node.saved = None
            node.freed = True


def recorded_nodes(*outputs) -> list:
    """Every node of the graph behind ``outputs`` (tensors), in the order they
    were recorded (by sequence number: the forward pass as run)."""
    found = {}
    stack = [t._node for t in outputs if isinstance(t, Tensor) and t._node is not None]
    while stack:
        node = stack.pop()
        if node.seq in found:
            continue
        found[node.seq] = node
        if node.freed:
            raise RuntimeError(_FREED_MESSAGE)
        stack.extend(x._node for x in node.inputs
                     if isinstance(x, Tensor) and x._node is not None)
    return [found[seq] for seq in sorted(found)]


from .tensor import Tensor  # noqa: E402  (tensor.py needs Function defined first)
