"""Helpers shared by the layers: new parameters, int-or-tuple arguments, input checks."""
from __future__ import annotations

import numpy as np

from .. import functional as F
from ..autograd import as_tensor
from . import init as _init
from .module import Parameter


def new_parameter(init, shape, dtype=np.float32) -> Parameter:
    """A float32 Parameter drawn by ``init`` on the host, on the default device."""
    return Parameter(_init.initial_value(init, shape, dtype))


def like_weights(x, W):
    """``x`` as a tensor in the dtype of the layer's weights ``W`` (a differentiable cast).

    A float64 NumPy batch (or uint8 pixels) fed to a float32 model would otherwise make
    every activation after it float64 by NumPy's promotion rules: twice the memory and
    time, silently. Keras casts inputs to the layer's dtype in the same way; a model made
    float64 with ``model.double()`` (for gradient checks) keeps float64 inputs as they are.
    """
    x = as_tensor(x)
    return x if x.dtype == W.dtype else F.astype(x, W.dtype)


def ntuple(value, n, name):
    """``3 → (3, 3)``; a tuple of length n is checked and kept."""
    if isinstance(value, (int, np.integer)):
        return (int(value),) * n
    value = tuple(value)
    if len(value) != n or not all(isinstance(v, (int, np.integer)) for v in value):
        raise ValueError(f"{name}: got {value!r}, expected an int or a tuple of {n} ints")
    return tuple(int(v) for v in value)


def positive(value, name, layer):
    if not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{layer}: {name} must be a positive integer, got {value!r}")
    return int(value)


def fmt_shape(shape) -> str:
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def check_input(layer: str, x, layout: tuple, n_C=None):
    """Raise a ValueError that says what ``layer`` expected when ``x`` does not fit.

    ``layout`` names the axes in course notation, e.g. ``("m", "n_H", "n_W", "n_C")``;
    ``n_C`` is the number of channels the layer needs in the last axis (None: any).
    The most common mistakes get their own hint: a channels-first (NCHW) array, a
    missing batch axis.
    """
    shape = tuple(x.shape)
    expected = fmt_shape(layout[:-1] + ((n_C,) if n_C is not None else layout[-1:]))
    nd = len(layout)
    if len(shape) != nd:
        if len(shape) == nd - 1 and (n_C is None or (shape and shape[-1] == n_C)):
            hint = "x has no batch axis; add one with x[None] (a batch of one)"
        else:
            hint = f"a {nd}-D input is needed"
        raise ValueError(f"{layer} expected {expected}, got {fmt_shape(shape)}: {hint}")
    if n_C is not None and shape[-1] != n_C:
        if nd >= 3 and shape[1] == n_C:
            perm = (0,) + tuple(range(2, nd)) + (1,)
            hint = (f"minicnn is channels-last (the channels go in the last axis); convert "
                    f"a channels-first array with x.transpose{perm}")
        else:
            hint = f"the last axis holds the channels and must be {n_C}"
        raise ValueError(f"{layer} expected {expected}, got {fmt_shape(shape)}: {hint}")
