"""Weight initialisers: He, Glorot, zeros, ones, constant, normal, uniform.

Every initialiser is a function ``shape -> numpy array`` (float32 unless ``dtype`` says
otherwise) drawing from the one seeded host generator (:func:`minicnn.manual_seed`), so
a seeded model starts from the same weights on CPU and GPU. A layer moves the array to
its device. Layers take ``init=`` as a name below or as any such callable.

Fans, for a kernel in minicnn's layout (the input-channel axis is second to last)::

    Linear          W (n_in, n_out)                  fan_in = n_in,  fan_out = n_out
    Conv2d          W (f_H, f_W, n_C_prev, n_C)      fan_in = f_H·f_W·n_C_prev
                                                     fan_out = f_H·f_W·n_C
    Conv1d / 3d     likewise with f_L / f_D·f_H·f_W

=====================  ====================================  =============================
name                   draws from                            reference
=====================  ====================================  =============================
``"he_normal"``        N(0, 2/fan_in)                        He et al. 2015 (for ReLU)
``"he_uniform"``       U(−√(6/fan_in), √(6/fan_in))
``"glorot_normal"``    N(0, 2/(fan_in + fan_out))            Glorot & Bengio 2010 (tanh)
``"glorot_uniform"``   U(−√(6/(fan_in+fan_out)), +…)         Keras's default
``"zeros"``/``"ones"``  0 / 1
=====================  ====================================  =============================

``he_normal`` is the course's ``np.random.randn(...) * np.sqrt(2 / n_prev)`` (PyTorch's
``kaiming_normal_``); Keras's ``he_normal`` draws from a truncated normal instead.
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend

__all__ = ["fans", "he_normal", "he_uniform", "glorot_normal", "glorot_uniform", "zeros",
           "ones", "constant", "normal", "uniform", "get_initializer", "INITIALIZERS"]


def fans(shape) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of ``shape``; see the module docstring."""
    shape = tuple(int(n) for n in shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2])
    return receptive * shape[-2], receptive * shape[-1]


def _cast(a, dtype):
    return np.asarray(a, dtype=dtype)


def he_normal(shape, dtype=np.float32):
    """N(0, σ²) with σ = √(2 / fan_in): keeps the variance of ReLU activations constant."""
    std = math.sqrt(2.0 / fans(shape)[0])
    return _cast(backend.get_rng().standard_normal(shape) * std, dtype)


def he_uniform(shape, dtype=np.float32):
    """U(−limit, limit) with limit = √(6 / fan_in) (the same variance as ``he_normal``)."""
    limit = math.sqrt(6.0 / fans(shape)[0])
    return _cast(backend.get_rng().uniform(-limit, limit, shape), dtype)


def glorot_normal(shape, dtype=np.float32):
    """N(0, σ²) with σ = √(2 / (fan_in + fan_out)), also called Xavier normal."""
    fan_in, fan_out = fans(shape)
    std = math.sqrt(2.0 / (fan_in + fan_out))
    return _cast(backend.get_rng().standard_normal(shape) * std, dtype)


def glorot_uniform(shape, dtype=np.float32):
    """U(−limit, limit) with limit = √(6 / (fan_in + fan_out)), also called Xavier uniform."""
    fan_in, fan_out = fans(shape)
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return _cast(backend.get_rng().uniform(-limit, limit, shape), dtype)


def zeros(shape, dtype=np.float32):
    return np.zeros(shape, dtype=dtype)


def ones(shape, dtype=np.float32):
    return np.ones(shape, dtype=dtype)


def constant(shape, value, dtype=np.float32):
    """Every entry equal to ``value``. As an ``init=`` argument:
    ``init=lambda shape: nn.init.constant(shape, 0.1)``."""
    return np.full(shape, value, dtype=dtype)


def normal(shape, std=0.01, mean=0.0, dtype=np.float32):
    """N(mean, std²): the course's first "random initialisation" (``randn * 0.01``)."""
    return _cast(backend.get_rng().normal(mean, std, shape), dtype)


def uniform(shape, low=-0.05, high=0.05, dtype=np.float32):
    """U(low, high) (Keras's ``RandomUniform`` defaults)."""
    return _cast(backend.get_rng().uniform(low, high, shape), dtype)


INITIALIZERS = {
    "he_normal": he_normal, "he_uniform": he_uniform,
    "glorot_normal": glorot_normal, "glorot_uniform": glorot_uniform,
    "kaiming_normal": he_normal, "kaiming_uniform": he_uniform,
    "xavier_normal": glorot_normal, "xavier_uniform": glorot_uniform,
    "zeros": zeros, "ones": ones, "normal": normal, "uniform": uniform,
}


def get_initializer(init):
    """The function behind ``init``: a name from :data:`INITIALIZERS` or a callable."""
    if callable(init):
        return init
    if isinstance(init, str) and init.lower() in INITIALIZERS:
        return INITIALIZERS[init.lower()]
    raise ValueError(f"init: got {init!r}, expected one of {sorted(INITIALIZERS)} or a "
                     "callable shape -> array")


def initial_value(init, shape, dtype=np.float32):
    """Run ``init`` for ``shape`` and check what came back: a host array of that shape."""
    fn = get_initializer(init)
    shape = tuple(int(n) for n in shape)
    a = fn(shape)
    a = backend.to_numpy(getattr(a, "data", a))
    if tuple(np.shape(a)) != shape:
        raise ValueError(f"init: {getattr(fn, '__name__', fn)!r} returned shape "
                         f"{tuple(np.shape(a))}, expected {shape}")
    return np.asarray(a, dtype=dtype)
