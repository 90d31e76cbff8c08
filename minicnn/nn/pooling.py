"""Pooling layers: max and average pooling (1-D, 2-D, 3-D) and global pooling.

They have no parameters; each calls :mod:`minicnn.functional.pool`. Channels are
pooled independently, so n_C is unchanged:

=================  ==============================  =============================
layer              x                               y
=================  ==============================  =============================
MaxPool2d(f, s)    ``(m, n_H, n_W, n_C)``          ``(m, n_H', n_W', n_C)``
GlobalAvgPool2d    ``(m, n_H, n_W, n_C)``          ``(m, n_C)`` (``keepdims``:
                                                   ``(m, 1, 1, n_C)``)
=================  ==============================  =============================

n' = ⌊(n + 2p − f)/s⌋ + 1, with the stride s equal to the window f unless given.
"""
from __future__ import annotations

import math

from .. import functional as F
from ._util import check_input, ntuple
from .module import Module

__all__ = ["MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d",
           "GlobalAvgPool2d", "GlobalMaxPool2d"]

_LAYOUTS = {1: ("m", "n_L", "n_C"), 2: ("m", "n_H", "n_W", "n_C"),
            3: ("m", "n_D", "n_H", "n_W", "n_C")}


class _PoolNd(Module):
    n_spatial, kind = 2, "max"

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = ntuple(kernel_size, self.n_spatial, "kernel_size")
        self.stride, self.padding = stride, padding

    def forward(self, x):
        check_input(type(self).__name__, x, _LAYOUTS[self.n_spatial])
        fn = getattr(F, f"{self.kind}_pool{self.n_spatial}d")
        return fn(x, self.kernel_size, stride=self.stride, padding=self.padding)

    def flops(self, x_shape, y_shape):
        """One comparison (max) or addition (average) per window element and output."""
        return math.prod(self.kernel_size) * math.prod(y_shape[1:])

    def extra_repr(self):
        s = f"kernel_size={self.kernel_size}"
        if self.stride is not None:
            s += f", stride={self.stride}"
        return s + (f", padding={self.padding}" if self.padding else "")


class MaxPool1d(_PoolNd):
    """Max over windows of f positions of (m, n_L, n_C)."""
    n_spatial, kind = 1, "max"


class MaxPool2d(_PoolNd):
    """A[i, h, w, c] = max over the f_H × f_W window at (h·s, w·s) of A_prev[i, ·, ·, c].
    The gradient goes to the position that held the maximum."""
    n_spatial, kind = 2, "max"


class MaxPool3d(_PoolNd):
    """Max over f_D × f_H × f_W windows of (m, n_D, n_H, n_W, n_C)."""
    n_spatial, kind = 3, "max"


class AvgPool1d(_PoolNd):
    """Mean over windows of f positions of (m, n_L, n_C)."""
    n_spatial, kind = 1, "avg"


class AvgPool2d(_PoolNd):
    """A[i, h, w, c] = mean over the f_H × f_W window at (h·s, w·s) of A_prev[i, ·, ·, c].
    The gradient is shared equally by the window."""
    n_spatial, kind = 2, "avg"


class AvgPool3d(_PoolNd):
    """Mean over f_D × f_H × f_W windows of (m, n_D, n_H, n_W, n_C)."""
    n_spatial, kind = 3, "avg"


class GlobalAvgPool2d(Module):
    """The mean of each channel over all positions: (m, n_H, n_W, n_C) → (m, n_C)
    (``keepdims=True``: (m, 1, 1, n_C)). ResNet's and MobileNet's last pooling."""

    kind = "avg"

    def __init__(self, keepdims=False):
        super().__init__()
        self.keepdims = keepdims

    def forward(self, x):
        check_input(type(self).__name__, x, _LAYOUTS[2])
        return getattr(F, f"global_{self.kind}_pool2d")(x, keepdims=self.keepdims)

    def flops(self, x_shape, y_shape):
        """One addition (or comparison) per input value."""
        return math.prod(x_shape[1:])

    def extra_repr(self):
        return "keepdims=True" if self.keepdims else ""


class GlobalMaxPool2d(GlobalAvgPool2d):
    """The max of each channel over all positions: (m, n_H, n_W, n_C) → (m, n_C)."""

    kind = "max"
