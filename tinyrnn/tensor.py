"""``Tensor``: an array of some backend, plus what autograd needs to know.

A tensor holds ``data`` (a NumPy, CuPy or strict-device array), ``grad``
(a Tensor, filled by ``backward``), ``requires_grad``, and -- when an op
made it while recording -- the graph node that made it. Operators and
methods are thin: each calls one op of :mod:`tinyrnn.ops`, where the
forward and backward formulas live.
"""
from __future__ import annotations

import math

import numpy as np

from .backend import Backend, dtype_name, get_backend, host_dtype

__all__ = ["Tensor", "tensor", "zeros", "ones", "full", "randn", "rand", "arange",
           "zeros_like", "ones_like"]


class Tensor:
    """An n-dimensional array that can record how it was computed.

    Create tensors with :func:`tinyrnn.tensor` or the factories
    (``zeros``, ``randn``, ...) rather than calling ``Tensor`` directly.
    """

    __slots__ = ("data", "grad", "requires_grad", "backend", "_node", "_out_index",
                 "_version", "_retain", "__weakref__")
    __array_priority__ = 1000          # numpy_array + tensor -> Tensor.__radd__

    def __init__(self, data, requires_grad: bool = False, dtype=None, backend=None):
        if isinstance(data, Tensor):
            if backend is None:
                backend = data.backend
            data = data.data if get_backend(backend) is data.backend else data.numpy()
        backend = get_backend(backend)
        if _is_array_of(backend, data):
            if dtype is not None:
                data = backend.xp.astype(data, backend.dtype(dtype))
        else:
            data = backend.asarray(_host_array(data, dtype))
        self.data = data
        self.backend = backend
        self.grad = None
        self._node = None
        self._out_index = 0
        self._version = 0
        self._retain = False
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def from_array(cls, data, backend=None) -> "Tensor":
        """Wrap an array that already lives on ``backend`` (the default backend
        when None): no copy, no checks, no graph, ``requires_grad`` off.

        For arrays a layer or an optimizer computed itself (zero states,
        clipped gradients); :func:`tinyrnn.tensor` is the way in for user data.
        """
        return cls._make(data, get_backend(backend), False)

    @classmethod
    def _make(cls, data, backend: Backend, requires_grad: bool) -> "Tensor":
        """Wrap an op's output array (no checks: the hot path of every op)."""
        t = object.__new__(cls)
        t.data, t.backend, t.requires_grad = data, backend, requires_grad
        t.grad = t._node = None
        t._out_index = t._version = 0
        t._retain = False
        return t

    # ---- basic facts ------------------------------------------------------
    shape = property(lambda self: tuple(self.data.shape), doc="Tuple of axis lengths.")
    ndim = property(lambda self: self.data.ndim, doc="Number of axes.")
    dtype = property(lambda self: self.data.dtype, doc="The backend's dtype object.")
    size = property(lambda self: math.prod(self.data.shape), doc="Number of elements.")
    is_leaf = property(lambda self: self._node is None,
                       doc="True for tensors no recorded op produced (inputs, weights).")

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __repr__(self) -> str:
        body = np.array2string(self.numpy(), separator=", ", prefix="tensor(")
        extra = ", requires_grad=True" if self.requires_grad else ""
        where = "" if self.backend.name == "numpy" else f", backend={self.backend.name!r}"
        return f"tensor({body}, dtype={dtype_name(self.dtype)}{where}{extra})"

    def requires_grad_(self, flag: bool = True) -> "Tensor":
        if flag and not self.backend.is_floating(self.data):
            raise TypeError(f"requires_grad needs a floating-point tensor; this one is "
                            f"{dtype_name(self.dtype)} with shape {self.shape}")
        self.requires_grad = flag
        return self

    def retain_grad(self) -> "Tensor":
        """Keep this intermediate tensor's gradient in ``.grad`` after backward."""
        self._retain = True
        return self

    # ---- autograd ---------------------------------------------------------
    def backward(self, grad=None, retain_graph: bool = False) -> None:
        """Backpropagate from this tensor; see :func:`tinyrnn.autograd.backward`."""
        _autograd.backward(self, grad, retain_graph)

    def _accumulate(self, g) -> None:
        if g.dtype != self.data.dtype:
            g = self.backend.xp.astype(g, self.data.dtype)
        self.grad = Tensor._make(g, self.backend, False) if self.grad is None else \
            Tensor._make(self.grad.data + g, self.backend, False)

    def detach(self) -> "Tensor":
        """The same data, cut from the graph (truncated BPTT carries state this way)."""
        return Tensor._make(self.data, self.backend, False)

    # ---- conversion -------------------------------------------------------
    def numpy(self) -> np.ndarray:
        """A NumPy copy on the host (downloads from a GPU)."""
        return self.backend.to_numpy(self.data)

    def item(self):
        """The single element as a Python number."""
        if self.size != 1:
            raise ValueError(f"item: only a single-element tensor converts to a Python "
                             f"number; this one has shape {self.shape}")
        value = self.numpy().reshape(())
        return value.item()

    def tolist(self):
        return self.numpy().tolist()

    def to(self, backend) -> "Tensor":
        """A copy on another backend (``"numpy"``, ``"cupy"``, ``"strict"``)."""
        backend = get_backend(backend)
        if backend is self.backend:
            return self
        out = Tensor._make(backend.asarray(self.numpy()), backend, False)
        return out.requires_grad_(self.requires_grad)

    def astype(self, dtype) -> "Tensor":
        """A copy converted to ``dtype`` (not differentiable across the cast)."""
        data = self.backend.xp.astype(self.data, self.backend.dtype(dtype))
        return Tensor._make(data, self.backend, False)

    def float(self) -> "Tensor":
        return self.astype("float32")

    def double(self) -> "Tensor":
        return self.astype("float64")

    # ---- in place (bumps the version counter autograd checks) -------------
    def assign_(self, data) -> "Tensor":
        """Replace ``data`` by another array of this tensor's backend and shape, in place.

        The version counter goes up, so a graph that saved the old values
        refuses to run backward with the new ones (see
        :mod:`tinyrnn.autograd`). Initialisers, ``load_state_dict`` and the
        optimizers update parameters this way.
        """
        if tuple(data.shape) != self.shape:
            raise ValueError(f"assign_: new data of shape {tuple(data.shape)} for a tensor "
                             f"of shape {self.shape}")
        self.data = data
        self._version += 1
        return self

    def zero_(self) -> "Tensor":
        self.data[...] = 0
        return self.assign_(self.data)

    def fill_(self, value) -> "Tensor":
        self.data[...] = value
        return self.assign_(self.data)

    def copy_(self, other) -> "Tensor":
        src = other.data if isinstance(other, Tensor) else self.backend.asarray(other)
        if tuple(src.shape) != self.shape:
            raise ValueError(f"copy_: source shape {tuple(src.shape)} does not match "
                             f"destination shape {self.shape}")
        self.data[...] = src
        return self.assign_(self.data)

    def add_(self, other, alpha: float = 1.0) -> "Tensor":
        other = other.data if isinstance(other, Tensor) else other
        self.data += other if alpha == 1.0 else alpha * other
        return self.assign_(self.data)

    def mul_(self, other) -> "Tensor":
        self.data *= other.data if isinstance(other, Tensor) else other
        return self.assign_(self.data)

    def __setitem__(self, key, value) -> None:
        if self.requires_grad and _autograd.is_grad_enabled():
            raise RuntimeError("setitem: cannot assign into a tensor that requires grad "
                               "while recording; use tinyrnn.no_grad() or build a new tensor "
                               "(tinyrnn.where, tinyrnn.concat)")
        value = value.data if isinstance(value, Tensor) else value
        self.data[key] = value
        self.assign_(self.data)

    # ---- operators --------------------------------------------------------
    def __add__(self, other): return _ops.add(self, other)
    def __radd__(self, other): return _ops.add(other, self)
    def __sub__(self, other): return _ops.sub(self, other)
    def __rsub__(self, other): return _ops.sub(other, self)
    def __mul__(self, other): return _ops.mul(self, other)
    def __rmul__(self, other): return _ops.mul(other, self)
    def __truediv__(self, other): return _ops.div(self, other)
    def __rtruediv__(self, other): return _ops.div(other, self)
    def __pow__(self, other): return _ops.pow(self, other)
    def __rpow__(self, other): return _ops.pow(other, self)
    def __matmul__(self, other): return _ops.matmul(self, other)
    def __rmatmul__(self, other): return _ops.matmul(other, self)
    def __neg__(self): return _ops.neg(self)
    def __pos__(self): return self
    def __getitem__(self, key): return _ops.getitem(self, key)

    # comparisons give boolean tensors and are not differentiable
    def _compare(self, other, op):
        other = _ops.arithmetic.as_tensor_like(other, self)
        other = other.data if isinstance(other, Tensor) else other
        return Tensor._make(op(self.data, other), self.backend, False)

    def __lt__(self, other): return self._compare(other, lambda a, b: a < b)
    def __le__(self, other): return self._compare(other, lambda a, b: a <= b)
    def __gt__(self, other): return self._compare(other, lambda a, b: a > b)
    def __ge__(self, other): return self._compare(other, lambda a, b: a >= b)
    __hash__ = object.__hash__

    def __bool__(self) -> bool:
        if self.size != 1:
            raise ValueError(f"the truth value of a tensor of shape {self.shape} is "
                             "ambiguous; use .any() / .all() style reductions")
        return bool(self.item())

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    # ---- methods that call ops --------------------------------------------
    T = property(lambda self: _ops.permute(self, tuple(reversed(range(self.ndim)))),
                 doc="All axes reversed (the matrix transpose for 2-D).")

    def sum(self, axis=None, keepdims=False): return _ops.sum(self, axis, keepdims)
    def mean(self, axis=None, keepdims=False): return _ops.mean(self, axis, keepdims)
    def max(self, axis=None, keepdims=False): return _ops.max(self, axis, keepdims)
    def min(self, axis=None, keepdims=False): return _ops.min(self, axis, keepdims)
    def logsumexp(self, axis=None, keepdims=False): return _ops.logsumexp(self, axis, keepdims)
    def exp(self): return _ops.exp(self)
    def log(self): return _ops.log(self)
    def sqrt(self): return _ops.sqrt(self)
    def tanh(self): return _ops.tanh(self)
    def sigmoid(self): return _ops.sigmoid(self)
    def relu(self): return _ops.relu(self)
    def clip(self, min=None, max=None): return _ops.clip(self, min, max)
    def softmax(self, axis=-1): return _ops.softmax(self, axis)
    def log_softmax(self, axis=-1): return _ops.log_softmax(self, axis)
    def reshape(self, *shape): return _ops.reshape(self, _shape_arg(shape))
    def permute(self, *axes): return _ops.permute(self, _shape_arg(axes))
    def transpose(self, dim0=-2, dim1=-1): return _ops.transpose(self, dim0, dim1)
    def broadcast_to(self, *shape): return _ops.broadcast_to(self, _shape_arg(shape))
    def matmul(self, other): return _ops.matmul(self, other)
    def split(self, split_size_or_sections, axis=0):
        return _ops.split(self, split_size_or_sections, axis)

    def argmax(self, axis=None, keepdims=False) -> "Tensor":
        """Index of the largest value (not differentiable)."""
        return Tensor._make(self.backend.xp.argmax(self.data, axis=axis, keepdims=keepdims),
                            self.backend, False)


def _shape_arg(args):
    """Accept both ``t.reshape(2, 3)`` and ``t.reshape((2, 3))``."""
    return tuple(args[0]) if len(args) == 1 and isinstance(args[0], (tuple, list)) else args


def _is_array_of(backend: Backend, data) -> bool:
    """Is ``data`` already an array of ``backend`` (no upload needed)?"""
    if backend.name == "numpy":
        return isinstance(data, np.ndarray)
    if backend.name == "strict":
        return type(data).__module__.startswith("array_api_strict")
    return type(data).__module__.startswith("cupy")


def _host_array(data, dtype):
    """Python data to a NumPy array; Python floats become float32 (the default)."""
    if isinstance(data, Tensor):
        data = data.numpy()
    if dtype is not None:
        try:
            dtype = host_dtype(dtype)
        except TypeError:
            raise TypeError(f"tensor: unknown dtype {dtype!r}; expected a name such as "
                            "'float32', 'float64', 'int64' or 'bool'") from None
        return np.asarray(data, dtype=dtype)
    try:
        arr = np.asarray(data)
    except ValueError as err:                  # ragged nested lists
        raise ValueError(f"tensor: cannot make a tensor from this data: {err}") from None
    if arr.dtype.kind not in "biuf":           # bool, int, unsigned, float
        raise TypeError(f"tensor: cannot make a tensor from {type(data).__name__} data "
                        f"(NumPy dtype {arr.dtype}); expected numbers or booleans")
    if arr.dtype == np.float64 and not isinstance(data, (np.ndarray, np.generic)):
        arr = arr.astype(np.float32)           # Python literals default to float32
    return arr


def tensor(data, dtype=None, requires_grad: bool = False, backend=None) -> Tensor:
    """Make a tensor from Python data, a NumPy array or another tensor.

    Python floats default to float32; NumPy arrays and NumPy scalars keep
    their dtype unless ``dtype`` says otherwise. ``backend`` names where it lives (the default
    backend when ``None``).
    """
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, backend=backend)


def _factory(make):
    def factory(*shape, dtype="float32", requires_grad=False, backend=None):
        be = get_backend(backend)
        t = Tensor._make(make(be, _shape_arg(shape), dtype), be, False)
        return t.requires_grad_(requires_grad) if requires_grad else t
    return factory


zeros = _factory(lambda be, shape, dtype: be.zeros(shape, dtype))
ones = _factory(lambda be, shape, dtype: be.ones(shape, dtype))
randn = _factory(lambda be, shape, dtype: be.randn(shape, dtype))
rand = _factory(lambda be, shape, dtype: be.rand(shape, dtype))
zeros.__doc__ = "A tensor of zeros: ``zeros(2, 3)`` or ``zeros((2, 3))``."
ones.__doc__ = "A tensor of ones."
randn.__doc__ = "Standard normal samples from the seeded host generator (see manual_seed)."
rand.__doc__ = "Uniform samples in [0, 1) from the seeded host generator."


def full(shape, value, dtype="float32", requires_grad=False, backend=None) -> Tensor:
    be = get_backend(backend)
    return Tensor._make(be.full(tuple(shape), value, dtype), be, False) \
        .requires_grad_(requires_grad)


def arange(*args, dtype="int64", backend=None) -> Tensor:
    be = get_backend(backend)
    return Tensor._make(be.arange(*args, dtype=dtype), be, False)


def zeros_like(t: Tensor) -> Tensor:
    return Tensor._make(t.backend.xp.zeros_like(t.data), t.backend, False)


def ones_like(t: Tensor) -> Tensor:
    return Tensor._make(t.backend.xp.ones_like(t.data), t.backend, False)


from . import autograd as _autograd  # noqa: E402
from . import ops as _ops  # noqa: E402
