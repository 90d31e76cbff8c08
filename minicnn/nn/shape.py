"""Layers that move values around without parameters: ``Flatten``, ``ZeroPad2d``,
``Upsample``, ``Identity``."""
from __future__ import annotations

import math

from .. import functional as F
from ..autograd import as_tensor
from ._util import check_input
from .module import Module

__all__ = ["Flatten", "ZeroPad2d", "Upsample", "Identity"]

_NHWC = ("m", "n_H", "n_W", "n_C")


class Flatten(Module):
    """(m, n_H, n_W, n_C) → (m, n_H·n_W·n_C), the axes from ``start_axis`` merged.

    The order is channels-last (row by row, channels innermost), as Keras's Flatten;
    a PyTorch model flattens (n_C, n_H, n_W), so its first Linear's rows differ.
    """

    def __init__(self, start_axis=1):
        super().__init__()
        self.start_axis = start_axis

    def forward(self, x):
        return F.flatten(as_tensor(x), self.start_axis)

    def flops(self, x_shape, y_shape):
        return 0

    def extra_repr(self):
        return "" if self.start_axis == 1 else f"start_axis={self.start_axis}"


def _pad_amounts(padding):
    """int p, (p_H, p_W) or ((top, bottom), (left, right)), as Keras's ZeroPadding2D."""
    err = ValueError(f"ZeroPad2d: padding must be an int, (p_H, p_W) or ((top, bottom), "
                     f"(left, right)) of non-negative ints, got {padding!r}")
    if isinstance(padding, int):
        pads = ((padding, padding), (padding, padding))
    elif len(padding) == 2 and all(isinstance(p, int) for p in padding):
        pads = ((padding[0],) * 2, (padding[1],) * 2)
    elif len(padding) == 2 and all(len(p) == 2 for p in padding):
        pads = tuple(tuple(p) for p in padding)
    else:
        raise err
    if not all(isinstance(v, int) and v >= 0 for p in pads for v in p):
        raise err
    return pads


class ZeroPad2d(Module):
    """Surround each image with zeros: (m, n_H, n_W, n_C) → (m, n_H + top + bottom,
    n_W + left + right, n_C). The course's ``zero_pad(X, pad)`` as a layer; the
    gradient is the inner part of dy."""

    def __init__(self, padding):
        super().__init__()
        self.pads = _pad_amounts(padding)
        self.padding = padding

    def forward(self, x):
        check_input("ZeroPad2d", x, _NHWC)
        return F.zero_pad(x, self.pads)

    def flops(self, x_shape, y_shape):
        return 0

    def extra_repr(self):
        return f"padding={self.padding}"


class Upsample(Module):
    """Enlarge each image by ``scale`` (an int or (s_H, s_W)): (m, n_H, n_W, n_C) →
    (m, s_H·n_H, s_W·n_W, n_C). ``mode="nearest"`` repeats each pixel (Keras's
    UpSampling2D, used by YOLO and U-Net variants); see
    :func:`minicnn.functional.upsample2d` for the other modes."""

    def __init__(self, scale=2, mode="nearest"):
        super().__init__()
        self.scale, self.mode = scale, mode

    def forward(self, x):
        check_input("Upsample", x, _NHWC)
        return F.upsample2d(x, self.scale, mode=self.mode)

    def flops(self, x_shape, y_shape):
        """Nearest copies (0); interpolation is a weighted sum of 4 neighbours (8)."""
        return 0 if self.mode == "nearest" else 8 * math.prod(y_shape[1:])

    def extra_repr(self):
        return f"scale={self.scale}, mode={self.mode!r}"


class Identity(Module):
    """y = x (a placeholder, e.g. for a shortcut that needs no projection)."""

    def forward(self, x):
        return x

    def flops(self, x_shape, y_shape):
        return 0
