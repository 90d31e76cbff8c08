"""Pieces every block uses: conv → BN → activation, activations by name, stochastic depth.

Padding, two conventions
------------------------
A block's ``padding`` says where the zeros go around an f×f window:

==================  ================================================  ==================
``"symmetric"``     p = (f − 1) // 2 on every side                   PyTorch, torchvision
``"same"``          n_out = ceil(n_in / s); an odd extra row/column  Keras, TensorFlow
                    goes at the bottom/right
==================  ================================================  ==================

For an odd f both give the same output size, but with stride 2 on an even input the
window grid is shifted by one pixel. Weights trained in one convention give (slightly)
wrong answers in the other, so models that load PyTorch weights use ``"symmetric"`` and
the Keras-built course models use ``"same"``.
"""
from __future__ import annotations

import math

from ... import backend
from ... import functional as F
from ...autograd import as_tensor
from ..module import Module, Sequential

__all__ = ["ConvBNAct", "Swish", "StochasticDepth", "make_activation", "block_padding"]

PADDINGS = ("symmetric", "same")


def block_padding(f, padding):
    """The ``padding=`` argument of a conv with kernel f under a block's convention."""
    if padding == "same":
        return "same"
    if padding == "symmetric":
        return (f - 1) // 2
    raise ValueError(f"padding: got {padding!r}, expected one of {PADDINGS}")


class Swish(Module):
    """a = z·σ(z), also called SiLU (EfficientNet). da/dz = σ(z)(1 + z(1 − σ(z)))."""

    def forward(self, z):
        return z * F.sigmoid(z)

    def flops(self, x_shape, y_shape):
        """Counted as one operation per value, like the other activations."""
        return math.prod(y_shape[1:])


def make_activation(name):
    """A fresh activation module from its name: relu, relu6, swish (silu), sigmoid, tanh;
    None (or "linear") gives no activation and returns None."""
    from .. import ReLU, ReLU6, Sigmoid, Tanh      # the layers are defined before the blocks
    if name is None or name == "linear":
        return None
    table = {"relu": ReLU, "relu6": ReLU6, "swish": Swish, "silu": Swish,
             "sigmoid": Sigmoid, "tanh": Tanh}
    if name not in table:
        raise ValueError(f"activation: got {name!r}, expected one of {sorted(table)} or None")
    return table[name]()


class ConvBNAct(Sequential):
    """conv → BatchNorm → activation, the unit every modern CNN is built from.

    It is a ``Sequential`` whose children are ``0`` (the conv, W ``(f, f, n_C_prev/groups,
    n_C)``), ``1`` (the BatchNorm) and ``2`` (the activation, if any), the layout of
    torchvision's ``Conv2dNormActivation``, so PyTorch state dicts map onto it key for key.
    The conv has no bias by default: the BatchNorm's β that follows makes it redundant.
    With ``batch_norm=False`` it is conv (with bias) → activation.

    ``(m, n_H, n_W, n_C_prev)`` → ``(m, n_H', n_W', n_C)`` with
    n_H' = floor((n_H + 2p − f) / s) + 1 (``"same"``: ceil(n_H / s)).
    """

    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1, groups=1,
                 act="relu", padding="symmetric", bias=None, batch_norm=True, eps=1e-5,
                 momentum=0.1, init="he_normal"):
        from .. import BatchNorm2d, Conv2d
        bias = (not batch_norm) if bias is None else bias
        layers = [Conv2d(in_channels, out_channels, kernel_size, stride=stride,
                         padding=block_padding(kernel_size, padding), groups=groups,
                         bias=bias, init=init)]
        if batch_norm:
            layers.append(BatchNorm2d(out_channels, eps=eps, momentum=momentum))
        a = make_activation(act)
        if a is not None:
            layers.append(a)
        super().__init__(*layers)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride = kernel_size, stride


class StochasticDepth(Module):
    """Drop a residual branch for whole examples: y = x·mask/(1 − p), mask ~ Bernoulli(1 − p)
    per example, in training only (Huang et al. 2016; EfficientNet's "drop connect").

    The mask is drawn on the host from the seeded generator and moved to x's device.
    Backward: dx = dy·mask/(1 − p). Shapes: ``(m, ...)`` → the same.
    """

    def __init__(self, p=0.0):
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"StochasticDepth: p is a drop probability in [0, 1), got {p}")
        self.p = float(p)

    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        x = as_tensor(x)
        keep = backend.get_rng().random((x.shape[0],) + (1,) * (x.ndim - 1)) >= self.p
        mask = backend.to_device((keep / (1 - self.p)).astype(x.dtype), x.device)
        return x * mask

    def flops(self, x_shape, y_shape):
        return 0

    def extra_repr(self):
        return f"p={self.p}"
