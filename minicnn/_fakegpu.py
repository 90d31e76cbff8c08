"""A CPU stand-in for CuPy, used by the tests to exercise the ``"cuda"`` code paths.

Its ``ndarray`` wraps a NumPy array but acts like memory on another device:

- ``numpy.asarray(a)`` raises ``TypeError`` (CuPy: "Implicit conversion to a NumPy
  array is not allowed"); ``a.get()`` is the explicit copy to the host;
- mixing it with a ``numpy.ndarray`` in an operation raises ``TypeError``;
- module functions (``fake.zeros``, ``fake.matmul`` ...) and NumPy functions applied
  to its arrays return its arrays, as CuPy's do through ``__array_function__``.

It is a test tool, not a backend: every call is NumPy underneath.
"""
from __future__ import annotations

import numbers
import sys
import types

import numpy as np


def _unwrap(obj, what):
    """Replace fake arrays by their NumPy contents; refuse host arrays, as CuPy does."""
    if isinstance(obj, ndarray):
        return obj._a
    if isinstance(obj, np.ndarray):
        raise TypeError(f"Unsupported type {type(obj)} in {what}: a host (numpy) array "
                        "cannot be mixed with a device array; move it with minicnn.to_device")
    if isinstance(obj, (list, tuple)):
        return type(obj)(_unwrap(o, what) for o in obj)
    if isinstance(obj, dict):
        return {k: _unwrap(v, what) for k, v in obj.items()}
    return obj


def _wrap(obj):
    if isinstance(obj, np.ndarray):
        return ndarray(obj)
    if isinstance(obj, np.generic):     # CuPy reductions give 0-d device arrays, not scalars
        return ndarray(np.asarray(obj))
    if isinstance(obj, tuple):
        return tuple(_wrap(o) for o in obj)
    if isinstance(obj, list):
        return [_wrap(o) for o in obj]
    return obj


class ndarray(np.lib.mixins.NDArrayOperatorsMixin):
    """An array "on the fake device"."""

    __slots__ = ("_a",)

    def __init__(self, a):
        self._a = a

    # CuPy refuses implicit conversion to the host.
    def __array__(self, *args, **kwargs):
        raise TypeError("Implicit conversion to a NumPy array is not allowed. "
                        "Please use `.get()` to construct a NumPy array explicitly.")

    def get(self):
        return self._a.copy()

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        inputs = _unwrap(inputs, ufunc.__name__)
        kwargs = _unwrap(kwargs, ufunc.__name__)
        return _wrap(getattr(ufunc, method)(*inputs, **kwargs))

    def __array_function__(self, func, types_, args, kwargs):
        args = _unwrap(args, func.__name__)
        kwargs = _unwrap(kwargs, func.__name__)
        return _wrap(func(*args, **kwargs))

    def __getattr__(self, name):
        if name.startswith("__"):       # no __array_interface__ & co: no back door to NumPy
            raise AttributeError(name)
        attr = getattr(self._a, name)
        if callable(attr):
            def method(*args, **kwargs):
                return _wrap(attr(*_unwrap(args, name), **_unwrap(kwargs, name)))
            return method
        return _wrap(attr)

    def __getitem__(self, key):
        return _wrap(self._a[_unwrap(key, "indexing")])

    def __setitem__(self, key, value):
        # CuPy accepts host arrays on the right of an assignment (it copies them over).
        if isinstance(value, ndarray):
            value = value._a
        self._a[_unwrap(key, "indexing")] = value

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        return (_wrap(x) for x in self._a)

    def __bool__(self):
        return bool(self._a)

    def __float__(self):
        return float(self._a)

    def __int__(self):
        return int(self._a)

    def __index__(self):
        return self._a.__index__()

    def __repr__(self):
        return "fakegpu." + repr(self._a)

    @property
    def T(self):
        return ndarray(self._a.T)

    @property
    def shape(self):
        return self._a.shape

    @property
    def dtype(self):
        return self._a.dtype

    @property
    def ndim(self):
        return self._a.ndim

    @property
    def size(self):
        return self._a.size

    @property
    def strides(self):
        return self._a.strides

    @property
    def nbytes(self):
        return self._a.nbytes


def asarray(a, dtype=None):
    if isinstance(a, ndarray):
        return a if dtype is None or a.dtype == dtype else ndarray(a._a.astype(dtype))
    return ndarray(np.array(a, dtype=dtype))


def array(a, dtype=None, copy=True):
    if isinstance(a, ndarray):
        a = a._a
    return ndarray(np.array(a, dtype=dtype, copy=copy))


def asnumpy(a):
    return a.get() if isinstance(a, ndarray) else np.asarray(a)


class _Namespace(types.ModuleType):
    """Module-level functions: NumPy's, with fake arrays in and out."""

    def __getattr__(self, name):
        target = getattr(self._np, name)
        if isinstance(target, types.ModuleType):
            sub = _Namespace(f"{self.__name__}.{name}")
            sub._np = target
            setattr(self, name, sub)
            return sub
        if isinstance(target, type) or not callable(target):
            return target            # dtypes, constants, newaxis ...
        if isinstance(target, np.ufunc):
            return target            # dispatches through __array_ufunc__

        def fn(*args, **kwargs):
            return _wrap(target(*_unwrap(args, name), **_unwrap(kwargs, name)))
        fn.__name__ = name
        setattr(self, name, fn)
        return fn


_this = sys.modules[__name__]
_ns = _Namespace("minicnn._fakegpu.np")
_ns._np = np
_DIRECT = {"ndarray", "asarray", "array", "asnumpy", "get", "_unwrap", "_wrap"}


def __getattr__(name):  # module-level fallback: everything else comes from NumPy
    if name.startswith("__"):
        raise AttributeError(name)
    return getattr(_ns, name)


# Scalars and dtypes behave as in NumPy, so `xp.float32` and `xp.newaxis` work.
float32, float64, int64, int32, bool_, newaxis = (np.float32, np.float64, np.int64,
                                                  np.int32, np.bool_, np.newaxis)
inf, nan, pi = np.inf, np.nan, np.pi
Number = numbers.Number
