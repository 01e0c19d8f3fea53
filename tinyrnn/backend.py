"""Backends: where arrays live and which namespace computes on them.

A :class:`Backend` is a small record ``(name, xp, device)``. Every op takes
``xp`` from the backend of its inputs and uses only functions that NumPy,
CuPy and the Python Array API standard share (``xp.matmul``, ``xp.tanh``,
``xp.take``, ``xp.concat``, ``xp.permute_dims`` ...). The few things the
standard lacks live here, on the backend, in one place:

* ``scatter_add``  -- the backward of a gather with repeated indices;
* ``randn`` / ``rand`` / ``bernoulli`` -- random numbers, always drawn on the
  host with NumPy's seeded generator and then uploaded, so a seed gives the
  same initial weights on every backend;
* ``asarray`` / ``to_numpy`` -- the only doors between the host and a device;
* ``synchronize`` -- waits for the device (a no-op on the CPU);
* ``into`` -- writes a result into a preallocated array (``out=`` on NumPy
  and CuPy), for the fused recurrent kernels;
* ``pointwise`` -- turns a kernel's element-wise step, written once as a
  function of ``xp``, into one GPU kernel on CuPy (``cupy.fuse``) and into
  the plain function everywhere else.

Three backends exist:

``"numpy"``   the default; ``xp`` is ``numpy`` itself (NumPy >= 2 follows the
              standard's names).
``"cupy"``    a CUDA GPU through CuPy (``pip install "tinyrnn[gpu]"``, or ``".[gpu]"`` in a clone).
``"strict"``  ``array_api_strict`` on its fake non-CPU device ``device1``. It
              is slow and exists only for tests: any silent fall-back to NumPy
              (``np.exp(x)``, ``np.zeros`` mixed in) raises there, which is how
              a machine without a GPU proves the CuPy path has no NumPy leaks.
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

__all__ = ["Backend", "get_backend", "set_default_backend", "default_backend",
           "manual_seed", "BackendError"]


def install_hint(extra: str) -> str:
    """The pip command that installs tinyrnn's optional ``extra`` for *this* copy.

    From a source checkout (a ``setup.cfg`` beside the package) that is
    ``pip install -e ".[extra]"`` run in the checkout; an installed copy
    needs ``pip install "tinyrnn[extra]"`` from the package index.
    """
    root = Path(__file__).resolve().parents[1]
    if (root / "setup.cfg").is_file():
        return f'pip install -e "{root}[{extra}]"'
    return f'pip install "tinyrnn[{extra}]"'


class BackendError(RuntimeError):
    """A backend was asked for that cannot be used here, or two were mixed."""


class Backend:
    """Where arrays live: a name, an array namespace ``xp`` and a device."""

    def __init__(self, name: str, xp, device=None):
        self.name = name
        self.xp = xp
        self.device = device
        self._pointwise = {}

    def __repr__(self) -> str:
        return f"Backend({self.name!r})"

    # ---- moving data between the host and the backend -------------------
    def asarray(self, data, dtype=None):
        """Upload ``data`` (nested lists, scalars, NumPy arrays) to this backend."""
        dtype = None if dtype is None else self.dtype(dtype)
        if self.name == "numpy":
            return np.asarray(data, dtype=dtype)
        return self.xp.asarray(data, dtype=dtype, device=self.device)

    def to_numpy(self, array) -> np.ndarray:
        """Download an array of this backend to a NumPy array on the host."""
        if self.name == "numpy":
            return np.asarray(array)
        if self.name == "cupy":
            return array.get()
        import array_api_strict as xs
        return np.asarray(array.to_device(xs.Device("CPU_DEVICE")))

    # ---- dtypes ------------------------------------------------------------
    def dtype(self, dtype):
        """Turn a dtype name (``"float32"``) or NumPy dtype into this backend's dtype."""
        if isinstance(dtype, str):
            name = dtype
        elif self.name == "strict" and not isinstance(dtype, (type, np.dtype)):
            return dtype                                  # already a strict dtype
        else:
            name = np.dtype(dtype).name
        try:
            return getattr(self.xp, name)
        except AttributeError:
            raise TypeError(f"unknown dtype {dtype!r}; expected a name such as "
                            "'float32', 'float64', 'int64' or 'bool'") from None

    def is_floating(self, array) -> bool:
        return self.xp.isdtype(array.dtype, "real floating")

    # ---- creation ----------------------------------------------------------
    def zeros(self, shape, dtype="float32"):
        return self.xp.zeros(shape, dtype=self.dtype(dtype), device=self.device)

    def ones(self, shape, dtype="float32"):
        return self.xp.ones(shape, dtype=self.dtype(dtype), device=self.device)

    def full(self, shape, value, dtype="float32"):
        return self.xp.full(shape, value, dtype=self.dtype(dtype), device=self.device)

    def arange(self, *args, dtype="int64"):
        return self.xp.arange(*args, dtype=self.dtype(dtype), device=self.device)

    # ---- random numbers (drawn on the host, see module docstring) ----------
    def randn(self, shape, dtype="float32"):
        return self.asarray(_rng.standard_normal(shape), dtype)

    def rand(self, shape, dtype="float32"):
        return self.asarray(_rng.random(shape), dtype)

    def bernoulli(self, shape, p_keep, dtype="float32"):
        """A mask of 0/1 of ``shape``, each 1 with probability ``p_keep``."""
        return self.asarray(_rng.random(shape) < p_keep, dtype)

    # ---- what the Array API standard lacks ---------------------------------
    def scatter_add(self, target, indices, values):
        """``target[indices[k]] += values[k]`` along axis 0, repeats accumulating.

        target (N, *S), indices (K,) int, values (K, *S). Modifies and returns
        ``target``. ``target[indices] += values`` would drop repeats.
        """
        if self.name == "numpy":
            np.add.at(target, indices, values)
            return target
        if self.name == "cupy":
            import cupyx
            cupyx.scatter_add(target, indices, values)
            return target
        # Portable fall-back: a one-hot matrix product (K x N); fine for tests.
        xp = self.xp
        n = target.shape[0]
        onehot = xp.astype(indices[:, None] == xp.arange(n, device=self.device)[None, :],
                           values.dtype)
        flat = xp.reshape(values, (values.shape[0], -1))
        return target + xp.reshape(xp.matmul(xp.matrix_transpose(onehot), flat), target.shape)

    def into(self, out, fn, *args, **kwargs):
        """``out[...] = fn(*args, **kwargs)`` without a temporary array where the backend can.

        ``fn`` is an ``xp`` function that NumPy and CuPy give an ``out=``
        argument (``xp.matmul``, ``xp.tanh``, ``xp.multiply``, ``xp.sum`` ...).
        The standard has no ``out=``, so the strict backend computes and copies.
        The fused recurrent kernels use this to fill preallocated buffers.
        Returns ``out``.
        """
        if self.name == "strict":
            out[...] = fn(*args, **kwargs)
            return out
        return fn(*args, out=out, **kwargs)

    def pointwise(self, fn):
        """``fn(xp, *arrays)`` as ``f(*arrays)``: one fused kernel on CuPy.

        ``fn`` is element-wise work written once as a function of an array
        namespace: it may use operators (``a += b``), and ``xp`` functions
        with ``out=`` (``xp.tanh(a, out=a)``, ``xp.multiply(a, b, out=c)``);
        it writes its results into arrays it was given and returns nothing.
        On CuPy it runs under ``cupy.fuse`` (one kernel launch per call); on
        NumPy it is called as it is with ``xp = numpy``; on the strict
        backend ``xp`` emulates ``out=`` (compute, then copy), so the tests
        there exercise the very code CuPy fuses. Arguments must be arrays of
        one shape (or broadcastable to it) or scalars; no indexing inside.
        The result is cached per ``fn`` (CuPy compiles a kernel once).
        """
        made = self._pointwise.get(fn)
        if made is None:
            made = self._pointwise[fn] = self._make_pointwise(fn)
        return made

    def _make_pointwise(self, fn):
        if self.name == "cupy":
            import cupy

            def fused(*arrays):
                return fn(cupy, *arrays)
            fused.__name__ = fn.__name__
            return cupy.fuse(kernel_name=fn.__name__)(fused)
        xp = self.xp if self.name == "numpy" else _OutNamespace(self)
        return functools.partial(fn, xp)        # no Python frame of its own per call

    def clear_pointwise_cache(self) -> None:
        """Forget the made pointwise functions (after ``xp`` was swapped, e.g. to count)."""
        self._pointwise = {}

    def synchronize(self) -> None:
        """Block until queued device work is done (for honest timings)."""
        if self.name == "cupy":
            import cupy
            cupy.cuda.Device().synchronize()


class _OutNamespace:
    """A namespace whose functions take ``out=`` (as NumPy's and CuPy's do),
    emulated by :meth:`Backend.into` where the standard has none."""

    def __init__(self, backend: Backend):
        self._backend = backend

    def __getattr__(self, name):
        fn, backend = getattr(self._backend.xp, name), self._backend

        def with_out(*args, out=None, **kwargs):
            return fn(*args, **kwargs) if out is None else backend.into(out, fn, *args, **kwargs)
        return with_out


_rng = np.random.default_rng(0)
_backends: dict[str, Backend] = {}
_default = "numpy"


def dtype_name(dtype) -> str:
    """The name of a dtype of any backend: ``"float32"`` for NumPy's, CuPy's and
    array_api_strict's float32 alike (and for the name itself)."""
    if isinstance(dtype, str):
        return dtype
    if isinstance(dtype, (type, np.dtype)):
        return np.dtype(dtype).name
    return str(dtype).rsplit(".", 1)[-1]              # array_api_strict: "...float32"


def host_dtype(dtype) -> np.dtype:
    """NumPy's dtype for a dtype of any backend (NumPy's, CuPy's or array_api_strict's)."""
    return np.dtype(dtype_name(dtype))


def manual_seed(seed: int) -> None:
    """Seed every random draw tinyrnn makes (initial weights, dropout, sampling)."""
    global _rng
    _rng = np.random.default_rng(seed)


def host_rng() -> np.random.Generator:
    """The seeded host generator shared by every backend."""
    return _rng


def get_rng_state() -> dict:
    return _rng.bit_generator.state


def set_rng_state(state: dict) -> None:
    _rng.bit_generator.state = state


def _make(name: str) -> Backend:
    if name == "numpy":
        return Backend("numpy", np, "cpu")
    if name == "cupy":
        try:
            import cupy
        except ImportError:
            raise BackendError(f"backend 'cupy' needs CuPy: {install_hint('gpu')}") from None
        try:
            if not cupy.cuda.is_available():
                raise BackendError("backend 'cupy': CuPy is installed but no CUDA device "
                                   "is available on this machine")
        except BackendError:
            raise
        except Exception as err:   # driver errors surface as CUDA runtime errors
            raise BackendError(f"backend 'cupy': no usable CUDA device ({err})") from None
        try:
            import array_api_compat.cupy as xp   # fills CuPy's few gaps in the standard
        except ImportError:
            xp = cupy
        return Backend("cupy", xp, None)
    if name == "strict":
        try:
            import array_api_strict as xs
        except ImportError:
            raise BackendError("backend 'strict' needs array-api-strict: "
                               f"{install_hint('test')}") from None
        return Backend("strict", xs, xs.Device("device1"))
    raise BackendError(f"unknown backend {name!r}; expected 'numpy', 'cupy' or 'strict'")


def get_backend(name: str | Backend | None = None) -> Backend:
    """The backend called ``name`` (the default backend when ``None``)."""
    if isinstance(name, Backend):
        return name
    name = _default if name is None else name
    if name not in _backends:
        _backends[name] = _make(name)
    return _backends[name]


def set_default_backend(name: str) -> Backend:
    """Make ``name`` the backend new tensors and modules are created on."""
    global _default
    backend = get_backend(name)
    _default = backend.name
    return backend


def default_backend() -> Backend:
    return get_backend(None)
