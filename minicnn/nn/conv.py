"""Convolution layers: ``Conv1d``, ``Conv2d``, ``Conv3d``, ``ConvTranspose2d``,
``DepthwiseConv2d``. Each holds W and b and calls :mod:`minicnn.functional.conv`.

Channels-last throughout (course notation):

=================  ===================================  =====================================
layer              x → y                                W
=================  ===================================  =====================================
Conv1d             (m, n_L, n_C_prev) → (m, n_L', n_C)  (f, n_C_prev/groups, n_C)
Conv2d             (m, n_H, n_W, n_C_prev) → (m, …, n_C)  (f_H, f_W, n_C_prev/groups, n_C)
Conv3d             (m, n_D, n_H, n_W, n_C_prev) → …     (f_D, f_H, f_W, n_C_prev/groups, n_C)
ConvTranspose2d    (m, n_H, n_W, n_C_in) → (m, …, n_C)  (f_H, f_W, n_C, n_C_in)
DepthwiseConv2d    (m, n_H, n_W, n_C) → (m, …, n_C·k)   (f_H, f_W, 1, n_C·k), k = depth_multiplier
=================  ===================================  =====================================

b is ``(n_C,)``. Output size per spatial axis: n' = ⌊(n + 2p − d(f − 1) − 1)/s⌋ + 1,
with ``padding`` an int, a tuple, ``"valid"`` or ``"same"`` (Keras's "same").
"""
from __future__ import annotations

import math

from .. import functional as F
from ._util import check_input, like_weights, new_parameter, ntuple, positive
from .module import Module

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose2d", "DepthwiseConv2d"]

_LAYOUTS = {1: ("m", "n_L", "n_C"), 2: ("m", "n_H", "n_W", "n_C"),
            3: ("m", "n_D", "n_H", "n_W", "n_C")}


class _ConvNd(Module):
    n_spatial = 2

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, init="he_normal", bias_init="zeros"):
        super().__init__()
        name = type(self).__name__
        self.in_channels = positive(in_channels, "in_channels", name)
        self.out_channels = positive(out_channels, "out_channels", name)
        self.groups = positive(groups, "groups", name)
        if self.in_channels % self.groups or self.out_channels % self.groups:
            raise ValueError(f"{name}: in_channels ({in_channels}) and out_channels "
                             f"({out_channels}) must both be divisible by groups ({groups})")
        self.kernel_size = ntuple(kernel_size, self.n_spatial, "kernel_size")
        self.stride, self.padding, self.dilation = stride, padding, dilation
        self.W = new_parameter(init, self.kernel_size + (self.in_channels // self.groups,
                                                         self.out_channels))
        self.b = new_parameter(bias_init, (self.out_channels,)) if bias else None

    def _conv(self):
        return getattr(F, f"conv{self.n_spatial}d")

    def forward(self, x):
        check_input(type(self).__name__, x, _LAYOUTS[self.n_spatial], self.in_channels)
        x = like_weights(x, self.W)
        return self._conv()(x, self.W, self.b, stride=self.stride, padding=self.padding,
                            dilation=self.dilation, groups=self.groups)

    def flops(self, x_shape, y_shape):
        """2·f_H·f_W·(n_C_prev/groups) per output value: each is one dot product over
        the window (multiply and add; the bias add not counted)."""
        window = math.prod(self.kernel_size) * (self.in_channels // self.groups)
        return 2 * window * math.prod(y_shape[1:])

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}, padding={self.padding!r}")
        if self.dilation != 1:
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        return s + ("" if self.b is not None else ", bias=False")


class Conv1d(_ConvNd):
    """1-D convolution over (m, n_L, n_C_prev); W (f, n_C_prev/groups, n_C). See the module
    docstring; :func:`minicnn.functional.conv1d` has the formulas."""
    n_spatial = 1


class Conv2d(_ConvNd):
    """2-D convolution: Z[i, h, w, c] = b[c] + Σ_{f_h, f_w, c'} A_prev[i, h·s + f_h,
    w·s + f_w, c'] · W[f_h, f_w, c', c] (with padding and dilation).

    ``Conv2d(3, 16, 3, padding="same")`` maps (m, n_H, n_W, 3) to (m, n_H, n_W, 16);
    W is (3, 3, 3, 16), He-normal initialised, b (16,) zeros. ``groups=g`` splits the
    channels into g independent convolutions (groups = n_C is depthwise).
    """
    n_spatial = 2


class Conv3d(_ConvNd):
    """3-D convolution over (m, n_D, n_H, n_W, n_C_prev); W (f_D, f_H, f_W, n_C_prev/groups,
    n_C). See :func:`minicnn.functional.conv3d`."""
    n_spatial = 3


class DepthwiseConv2d(Conv2d):
    """Depthwise convolution (MobileNet): each input channel is convolved with its own
    ``depth_multiplier`` filters, with no mixing across channels.

    It is ``Conv2d(n_C, n_C·k, f, groups=n_C)``: W (f_H, f_W, 1, n_C·k), output channel
    c·k + j coming from input channel c (Keras's order, so a Keras depthwise kernel of
    shape (f_H, f_W, n_C, k) loads with a plain reshape). Cost per output value: f_H·f_W
    multiply-adds instead of f_H·f_W·n_C_prev.
    """

    def __init__(self, channels, kernel_size, stride=1, padding=0, depth_multiplier=1,
                 bias=True, init="he_normal", bias_init="zeros", dilation=1):
        channels = positive(channels, "channels", "DepthwiseConv2d")
        k = positive(depth_multiplier, "depth_multiplier", "DepthwiseConv2d")
        super().__init__(channels, channels * k, kernel_size, stride=stride, padding=padding,
                         dilation=dilation, groups=channels, bias=bias, init=init,
                         bias_init=bias_init)
        self.depth_multiplier = k

    def extra_repr(self):
        s = (f"{self.in_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
             f"padding={self.padding!r}")
        if self.depth_multiplier != 1:
            s += f", depth_multiplier={self.depth_multiplier}"
        return s + ("" if self.b is not None else ", bias=False")


class ConvTranspose2d(Module):
    """Transposed convolution ("deconvolution", U-Net's up-convolution): the adjoint of a
    Conv2d that maps out_channels to in_channels, so it upsamples by the stride.

    ============  ==================================================================
    x             ``(m, n_H, n_W, in_channels)``
    W             ``(f_H, f_W, out_channels, in_channels)`` (the adjoint conv's shape,
                  as Keras's Conv2DTranspose stores it)
    b             ``(out_channels,)``
    y             ``(m, n_H', n_W', out_channels)``, n' = (n − 1)s − 2p + d(f − 1)
                  + output_padding + 1
    ============  ==================================================================
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, bias=True, init="he_normal", bias_init="zeros", dilation=1):
        super().__init__()
        name = type(self).__name__
        self.in_channels = positive(in_channels, "in_channels", name)
        self.out_channels = positive(out_channels, "out_channels", name)
        self.kernel_size = ntuple(kernel_size, 2, "kernel_size")
        self.stride, self.padding = stride, padding
        self.output_padding, self.dilation = output_padding, dilation
        self.W = new_parameter(init, self.kernel_size + (self.out_channels, self.in_channels))
        self.b = new_parameter(bias_init, (self.out_channels,)) if bias else None

    def forward(self, x):
        check_input("ConvTranspose2d", x, _LAYOUTS[2], self.in_channels)
        x = like_weights(x, self.W)
        return F.conv_transpose2d(x, self.W, self.b, stride=self.stride, padding=self.padding,
                                  output_padding=self.output_padding, dilation=self.dilation)

    def flops(self, x_shape, y_shape):
        """Each input value is scattered through the f_H·f_W·out_channels kernel weights
        it meets: 2·f_H·f_W·out_channels per input value (as for the adjoint conv)."""
        return 2 * math.prod(self.kernel_size) * self.out_channels * math.prod(x_shape[1:])

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}, padding={self.padding!r}")
        if self.output_padding:
            s += f", output_padding={self.output_padding}"
        return s + ("" if self.b is not None else ", bias=False")
