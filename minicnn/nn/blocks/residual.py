"""Residual blocks: a[l+2] = g(z[l+2] + a[l]), the skip connection of ResNets.

A residual block learns what to *add* to its input, so an extra block can always
fall back to the identity (z = 0) and a deeper network does no worse than a shallow
one; the shortcut also gives the gradient a path that skips every layer of the block:
∂J/∂a[l] = ∂J/∂a[l+2] ⊙ g'(·) · (∂z[l+2]/∂a[l] + I).

=======================  ===================================================  ==============
block                    main path                                            shortcut
=======================  ===================================================  ==============
``BasicBlock``           3×3 (stride s) → BN → ReLU → 3×3 → BN                identity, or
                                                                              1×1/s + BN
``Bottleneck``           1×1 → BN → ReLU → f×f (stride s) → BN → ReLU →       the same
                         1×1 → BN
``IdentityBlock``        the course's bottleneck, input and output shapes     identity
                         equal
``ConvolutionalBlock``   the course's bottleneck, stride s on the first 1×1   1×1/s + BN
=======================  ===================================================  ==============

All end with ``relu(main + shortcut)``. ResNet-18/34 stack ``BasicBlock``; ResNet-50
and deeper stack ``Bottleneck`` (its 1×1 convs shrink and restore the channels so the
expensive f×f conv runs on a quarter of them).

The course's two blocks are the Keras ResNet-50 of the assignment: conv biases (zero),
BatchNorm with ε = 1e-3 and Keras's momentum 0.99 (0.01 in PyTorch's convention),
``"same"`` padding, Glorot-uniform kernels, and the stride on the first 1×1 conv.
torchvision's ``Bottleneck`` ("ResNet v1.5") puts the stride on the 3×3 conv instead,
has no conv biases, ε = 1e-5, and symmetric padding.
"""
from __future__ import annotations

from ... import functional as F
from ..module import Module, Sequential
from .common import block_padding

__all__ = ["BasicBlock", "Bottleneck", "IdentityBlock", "ConvolutionalBlock"]


def _projection(in_channels, out_channels, stride, bias, eps, momentum, init):
    """The shortcut's 1×1 conv (stride s) + BN, used when the main path changes shape.
    Named ``downsample`` in the blocks, as in torchvision."""
    from .. import BatchNorm2d, Conv2d
    return Sequential(Conv2d(in_channels, out_channels, 1, stride=stride, bias=bias,
                             init=init),
                      BatchNorm2d(out_channels, eps=eps, momentum=momentum))


class BasicBlock(Module):
    """Two 3×3 convs and a shortcut (ResNet-18/34).

    ============  ======================================  ==============================
    a_prev        ``(m, n_H, n_W, in_channels)``
    conv1         W ``(3, 3, in_channels, out_channels)``  stride s
    conv2         W ``(3, 3, out_channels, out_channels)``
    downsample    W ``(1, 1, in_channels, out_channels)``  only if s ≠ 1 or channels change
    a             ``(m, ceil(n_H/s), ceil(n_W/s), out_channels)``
    ============  ======================================  ==============================

    ``zero_init_residual`` starts γ of the last BN at 0, so the block starts as the
    identity (Goyal et al. 2017), which helps a deep ResNet train from scratch.
    """

    expansion = 1

    def __init__(self, in_channels, out_channels, stride=1, padding="symmetric", eps=1e-5,
                 momentum=0.1, init="he_normal", zero_init_residual=False):
        super().__init__()
        from .. import BatchNorm2d, Conv2d
        p = block_padding(3, padding)
        self.conv1 = Conv2d(in_channels, out_channels, 3, stride=stride, padding=p,
                            bias=False, init=init)
        self.bn1 = BatchNorm2d(out_channels, eps=eps, momentum=momentum)
        self.conv2 = Conv2d(out_channels, out_channels, 3, padding=p, bias=False, init=init)
        self.bn2 = BatchNorm2d(out_channels, eps=eps, momentum=momentum)
        if zero_init_residual:
            self.bn2.gamma.data[...] = 0
        self.downsample = (_projection(in_channels, out_channels, stride, False, eps,
                                       momentum, init)
                           if stride != 1 or in_channels != out_channels else None)
        self.in_channels, self.out_channels, self.stride = in_channels, out_channels, stride

    def forward(self, a_prev):
        shortcut = a_prev if self.downsample is None else self.downsample(a_prev)
        z = F.relu(self.bn1(self.conv1(a_prev)))
        z = self.bn2(self.conv2(z))
        return F.relu(z + shortcut)

    def extra_repr(self):
        return f"{self.in_channels} → {self.out_channels}, stride={self.stride}"


class Bottleneck(Module):
    """1×1 (F1) → f×f (F2) → 1×1 (F3), plus the shortcut (ResNet-50 and deeper).

    ============  =======================================  ===============================
    a_prev        ``(m, n_H, n_W, in_channels)``
    conv1         W ``(1, 1, in_channels, F1)``             stride s if ``stride_on="conv1"``
    conv2         W ``(f, f, F1, F2)``                      stride s if ``stride_on="conv2"``
    conv3         W ``(1, 1, F2, F3)``
    downsample    W ``(1, 1, in_channels, F3)``, stride s   when ``projection``
    a             ``(m, ceil(n_H/s), ceil(n_W/s), F3)``
    ============  =======================================  ===============================

    ``projection=None`` adds the 1×1 shortcut exactly when the shapes differ
    (s ≠ 1 or in_channels ≠ F3). ``filters`` is the course's ``[F1, F2, F3]``;
    torchvision's ``Bottleneck(inplanes, planes)`` is ``filters=(planes, planes, 4·planes)``.
    """

    expansion = 4

    def __init__(self, in_channels, filters, f=3, stride=1, stride_on="conv2",
                 projection=None, padding="symmetric", bias=False, eps=1e-5, momentum=0.1,
                 init="he_normal", zero_init_residual=False):
        super().__init__()
        from .. import BatchNorm2d, Conv2d
        if len(filters) != 3:
            raise ValueError(f"{type(self).__name__}: filters must be [F1, F2, F3], got "
                             f"{filters!r}")
        if stride_on not in ("conv1", "conv2"):
            raise ValueError(f"{type(self).__name__}: stride_on must be 'conv1' or 'conv2', "
                             f"got {stride_on!r}")
        F1, F2, F3 = (int(n) for n in filters)
        s1, s2 = (stride, 1) if stride_on == "conv1" else (1, stride)
        if projection is None:
            projection = stride != 1 or in_channels != F3
        if not projection and (stride != 1 or in_channels != F3):
            raise ValueError(
                f"{type(self).__name__}: without a projection the shortcut adds the input "
                f"to the output, so the shapes must agree: got {in_channels} input channels "
                f"and F3 = {F3}, stride {stride}; use ConvolutionalBlock (or projection=True)")
        self.conv1 = Conv2d(in_channels, F1, 1, stride=s1, bias=bias, init=init)
        self.bn1 = BatchNorm2d(F1, eps=eps, momentum=momentum)
        self.conv2 = Conv2d(F1, F2, f, stride=s2, padding=block_padding(f, padding),
                            bias=bias, init=init)
        self.bn2 = BatchNorm2d(F2, eps=eps, momentum=momentum)
        self.conv3 = Conv2d(F2, F3, 1, bias=bias, init=init)
        self.bn3 = BatchNorm2d(F3, eps=eps, momentum=momentum)
        if zero_init_residual:
            self.bn3.gamma.data[...] = 0
        self.downsample = (_projection(in_channels, F3, stride, bias, eps, momentum, init)
                           if projection else None)
        self.in_channels, self.filters, self.f, self.stride = in_channels, (F1, F2, F3), f, stride
        self.out_channels = F3

    def forward(self, a_prev):
        shortcut = a_prev if self.downsample is None else self.downsample(a_prev)
        z = F.relu(self.bn1(self.conv1(a_prev)))
        z = F.relu(self.bn2(self.conv2(z)))
        z = self.bn3(self.conv3(z))
        return F.relu(z + shortcut)

    def extra_repr(self):
        return (f"{self.in_channels} → {list(self.filters)}, f={self.f}, "
                f"stride={self.stride}")


class IdentityBlock(Bottleneck):
    """The course's identity block: the bottleneck whose shortcut is the input itself.

    ``IdentityBlock(n_C, f, [F1, F2, F3])`` needs F3 = n_C. Keras semantics, as in the
    assignment: conv biases, BN ε = 1e-3 (momentum 0.99 in Keras's convention),
    ``"same"`` padding for the f×f conv, Glorot-uniform kernels (``init``).
    """

    def __init__(self, n_C, f, filters, eps=1e-3, momentum=0.01, init="glorot_uniform"):
        super().__init__(n_C, filters, f=f, stride=1, stride_on="conv1", projection=False,
                         padding="same", bias=True, eps=eps, momentum=momentum, init=init)


class ConvolutionalBlock(Bottleneck):
    """The course's convolutional block: the bottleneck with a 1×1/s conv + BN shortcut.

    ``ConvolutionalBlock(n_C_prev, f, [F1, F2, F3], s)``: the first 1×1 conv and the
    shortcut have stride s, so the block halves n_H and n_W for s = 2 and changes the
    channels to F3. Same Keras semantics as :class:`IdentityBlock`.
    """

    def __init__(self, n_C_prev, f, filters, s=2, eps=1e-3, momentum=0.01,
                 init="glorot_uniform"):
        super().__init__(n_C_prev, filters, f=f, stride=s, stride_on="conv1",
                         projection=True, padding="same", bias=True, eps=eps,
                         momentum=momentum, init=init)
