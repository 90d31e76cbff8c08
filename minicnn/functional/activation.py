"""Activation functions: relu, relu6, leaky_relu, sigmoid, tanh, softmax, log_softmax.

All are elementwise except softmax and log_softmax, which act along ``axis``
(the class axis, last by default). Shapes: output = input.
"""
from __future__ import annotations

from ..autograd import Function, as_tensor
from ..backend import get_array_module

__all__ = ["relu", "relu6", "leaky_relu", "sigmoid", "tanh", "softmax", "log_softmax"]


def _masked(dA, mask):
    """dA ⊙ mask for a boolean mask. NumPy multiplies a float array by a bool array
    through a slow casting loop; casting the mask first and multiplying two float arrays
    takes about two thirds of the time (and the same result)."""
    out = mask.astype(dA.dtype)
    out *= dA
    return out


class ReLU(Function):
    """a = max(0, z).  ∂J/∂z = dA ⊙ [z > 0].

    Computed as clip(z, 0, ∞): NumPy's clip has a vectorised loop that its maximum
    (which must also propagate NaN) lacks; a NaN stays NaN either way.
    """

    def forward(self, z):
        self.mask = z > 0
        return get_array_module(z).clip(z, 0, float("inf"))

    def backward(self, dA):
        return _masked(dA, self.mask)


class ReLU6(Function):
    """a = min(max(0, z), 6) (MobileNet).  ∂J/∂z = dA ⊙ [0 < z < 6]."""

    def forward(self, z):
        self.mask = z > 0
        self.mask &= z < 6
        return get_array_module(z).clip(z, 0, 6)

    def backward(self, dA):
        return _masked(dA, self.mask)


class LeakyReLU(Function):
    """a = z if z > 0 else α·z.  ∂J/∂z = dA ⊙ (1 if z > 0 else α)."""

    def __init__(self, alpha=0.01):
        self.alpha = alpha

    def forward(self, z):
        xp = get_array_module(z)
        self.slope = xp.where(z > 0, z.dtype.type(1), z.dtype.type(self.alpha))
        return z * self.slope

    def backward(self, dA):
        return dA * self.slope


class Sigmoid(Function):
    """a = σ(z) = 1 / (1 + e^(−z)).  ∂J/∂z = dA ⊙ a(1 − a).

    Computed as e^z / (1 + e^z) for z < 0 so that e^(−z) never overflows.
    """

    def forward(self, z):
        xp = get_array_module(z)
        e = xp.exp(-xp.abs(z))                    # in (0, 1]: no overflow
        self.a = xp.where(z >= 0, 1 / (1 + e), e / (1 + e))
        return self.a

    def backward(self, dA):
        return dA * self.a * (1 - self.a)


class Tanh(Function):
    """a = tanh(z).  ∂J/∂z = dA ⊙ (1 − a²)."""

    def forward(self, z):
        self.a = get_array_module(z).tanh(z)
        return self.a

    def backward(self, dA):
        return dA * (1 - self.a * self.a)


class Softmax(Function):
    """a_i = e^(z_i − max z) / Σ_j e^(z_j − max z) along ``axis``.

    ∂J/∂z = a ⊙ (dA − Σ_j dA_j a_j). Subtracting max z changes nothing
    mathematically and keeps every exponent ≤ 0, so inputs of ±1e4 do not overflow.
    """

    def __init__(self, axis=-1):
        self.axis = axis

    def forward(self, z):
        xp = get_array_module(z)
        e = xp.exp(z - z.max(axis=self.axis, keepdims=True))
        self.a = e / e.sum(axis=self.axis, keepdims=True)
        return self.a

    def backward(self, dA):
        return self.a * (dA - (dA * self.a).sum(axis=self.axis, keepdims=True))


class LogSoftmax(Function):
    """y_i = z_i − max z − ln Σ_j e^(z_j − max z) along ``axis``.

    ∂J/∂z = dY − softmax(z) ⊙ Σ_j dY_j. Stable for inputs of ±1e4.
    """

    def __init__(self, axis=-1):
        self.axis = axis

    def forward(self, z):
        xp = get_array_module(z)
        shifted = z - z.max(axis=self.axis, keepdims=True)
        y = shifted - xp.log(xp.exp(shifted).sum(axis=self.axis, keepdims=True))
        self.y = y
        return y

    def backward(self, dY):
        xp = get_array_module(dY)
        return dY - xp.exp(self.y) * dY.sum(axis=self.axis, keepdims=True)


def relu(z):
    return ReLU()(as_tensor(z))


def relu6(z):
    return ReLU6()(as_tensor(z))


def leaky_relu(z, alpha=0.01):
    return LeakyReLU(alpha)(as_tensor(z))


def sigmoid(z):
    return Sigmoid()(as_tensor(z))


def tanh(z):
    return Tanh()(as_tensor(z))


def softmax(z, axis=-1):
    return Softmax(axis)(as_tensor(z))


def log_softmax(z, axis=-1):
    return LogSoftmax(axis)(as_tensor(z))
