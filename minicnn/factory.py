"""Tensor constructors. Random ones draw on the host from the seeded generator
(:func:`minicnn.manual_seed`) and then move, so CPU and GPU runs see the same numbers."""
from __future__ import annotations

import numpy as np

from . import backend
from .autograd import DEFAULT_DTYPE, Tensor

__all__ = ["zeros", "ones", "full", "randn", "rand", "arange", "zeros_like", "ones_like"]


def _shape(shape):
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape


def _make(array, dtype, device, requires_grad):
    return Tensor(array.astype(dtype or DEFAULT_DTYPE, copy=False), requires_grad=requires_grad,
                  device=backend.normalize_device(device))


def zeros(*shape, dtype=None, device=None, requires_grad=False):
    return _make(np.zeros(_shape(shape)), dtype, device, requires_grad)


def ones(*shape, dtype=None, device=None, requires_grad=False):
    return _make(np.ones(_shape(shape)), dtype, device, requires_grad)


def full(shape, value, dtype=None, device=None, requires_grad=False):
    return _make(np.full(shape, value), dtype, device, requires_grad)


def randn(*shape, dtype=None, device=None, requires_grad=False):
    """Standard normal samples from the seeded host generator."""
    return _make(backend.get_rng().standard_normal(_shape(shape)), dtype, device, requires_grad)


def rand(*shape, dtype=None, device=None, requires_grad=False):
    """Uniform samples in [0, 1) from the seeded host generator."""
    return _make(backend.get_rng().random(_shape(shape)), dtype, device, requires_grad)


def arange(*args, dtype=None, device=None):
    a = np.arange(*args)
    return Tensor(a if dtype is None else a.astype(dtype), device=backend.normalize_device(device))


def zeros_like(t, dtype=None, requires_grad=False):
    return zeros(t.shape, dtype=dtype or t.dtype, device=t.device, requires_grad=requires_grad)


def ones_like(t, dtype=None, requires_grad=False):
    return ones(t.shape, dtype=dtype or t.dtype, device=t.device, requires_grad=requires_grad)
