"""The Inception module (GoogLeNet): let the network choose its filter size.

Four branches look at the same input and their outputs are stacked on the channel axis::

    branch1:  1×1 conv                                   → ch1x1
    branch2:  1×1 conv (reduce to ch3x3red) → 3×3 conv   → ch3x3
    branch3:  1×1 conv (reduce to ch5x5red) → 5×5 conv   → ch5x5
    branch4:  3×3 max-pool, stride 1        → 1×1 conv   → pool_proj
    a = concatenate([branch1, branch2, branch3, branch4], axis=-1)

Every branch keeps n_H × n_W ("same" padding, stride 1), so they can be concatenated.
The 1×1 "bottleneck" convs before the 3×3 and 5×5 cut the cost: a 5×5 conv from 192
to 32 channels on 28×28 costs 28²·5²·192·32 ≈ 120M multiplications; reducing to 16
channels first costs 28²·192·16 + 28²·5²·16·32 ≈ 12.4M, ten times less.

=========  ===========================================================================
a_prev     ``(m, n_H, n_W, in_channels)``
a          ``(m, n_H, n_W, ch1x1 + ch3x3 + ch5x5 + pool_proj)``
=========  ===========================================================================

Backward: the gradient of the concatenation is split back along the channels, and
the input receives the sum of the four branches' gradients.
"""
from __future__ import annotations

from ... import functional as F
from ..module import Module, Sequential
from .common import ConvBNAct

__all__ = ["InceptionModule"]


class InceptionModule(Module):
    """``InceptionModule(in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj)``.

    Each conv is followed by ReLU; with ``batch_norm`` (default) by BN then ReLU, as in
    torchvision's GoogLeNet (the 2014 paper had no BN, which came a year later).
    """

    def __init__(self, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj,
                 batch_norm=True, eps=1e-3, init="he_normal"):
        super().__init__()
        from .. import MaxPool2d

        def conv(n_in, n_out, f):
            return ConvBNAct(n_in, n_out, f, act="relu", padding="symmetric",
                             batch_norm=batch_norm, eps=eps, init=init)

        self.branch1 = conv(in_channels, ch1x1, 1)
        self.branch2 = Sequential(conv(in_channels, ch3x3red, 1), conv(ch3x3red, ch3x3, 3))
        self.branch3 = Sequential(conv(in_channels, ch5x5red, 1), conv(ch5x5red, ch5x5, 5))
        self.branch4 = Sequential(MaxPool2d(3, stride=1, padding=1),
                                  conv(in_channels, pool_proj, 1))
        self.in_channels = in_channels
        self.out_channels = ch1x1 + ch3x3 + ch5x5 + pool_proj

    def forward(self, a_prev):
        branches = (self.branch1, self.branch2, self.branch3, self.branch4)
        return F.concatenate([b(a_prev) for b in branches], axis=-1)

    def extra_repr(self):
        return f"{self.in_channels} → {self.out_channels}"
