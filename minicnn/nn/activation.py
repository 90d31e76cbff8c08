"""Activation layers: thin modules around :mod:`minicnn.functional.activation`, so that
activations can sit in a ``Sequential``. Shapes: y has x's shape."""
from __future__ import annotations

import math

from .. import functional as F
from .module import Module

__all__ = ["ReLU", "ReLU6", "LeakyReLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax"]


class _Activation(Module):
    def flops(self, x_shape, y_shape):
        """Counted as one operation per value."""
        return math.prod(y_shape[1:])


class ReLU(_Activation):
    """a = max(0, z)."""

    def forward(self, z):
        return F.relu(z)


class ReLU6(_Activation):
    """a = min(max(0, z), 6) (MobileNet)."""

    def forward(self, z):
        return F.relu6(z)


class LeakyReLU(_Activation):
    """a = z if z > 0 else α·z (YOLO uses α = 0.1)."""

    def __init__(self, alpha=0.01):
        super().__init__()
        self.alpha = alpha

    def forward(self, z):
        return F.leaky_relu(z, self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}"


class Sigmoid(_Activation):
    """a = 1 / (1 + e^(−z))."""

    def forward(self, z):
        return F.sigmoid(z)


class Tanh(_Activation):
    """a = tanh(z)."""

    def forward(self, z):
        return F.tanh(z)


class Softmax(_Activation):
    """a = e^z / Σ e^z along ``axis`` (the class axis, last by default)."""

    def __init__(self, axis=-1):
        super().__init__()
        self.axis = axis

    def forward(self, z):
        return F.softmax(z, axis=self.axis)

    def extra_repr(self):
        return f"axis={self.axis}"


class LogSoftmax(Softmax):
    """a = z − ln Σ e^z along ``axis`` (stable)."""

    def forward(self, z):
        return F.log_softmax(z, axis=self.axis)
