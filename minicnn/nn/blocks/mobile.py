"""Blocks of the mobile networks: depthwise-separable conv, inverted residual, SE, MBConv.

Depthwise-separable convolution (MobileNet v1)
----------------------------------------------
A standard f×f conv from n_C_prev to n_C channels on an n_H × n_W output costs
n_H·n_W·f²·n_C_prev·n_C multiplications. Split it in two:

* depthwise: one f×f filter per input channel (``groups = n_C_prev``),
  n_H·n_W·f²·n_C_prev;
* pointwise: a 1×1 conv that mixes the channels, n_H·n_W·n_C_prev·n_C.

The ratio of the costs is (f² + n_C) / (f²·n_C) = **1/n_C + 1/f²**: for f = 3 and
n_C = 64 about 0.127, eight times fewer multiplications.

Inverted residual (MobileNet v2)
--------------------------------
expand (1×1, n_C_prev → t·n_C_prev, ReLU6) → depthwise f×f (stride s, ReLU6) →
project (1×1, → n_C, *linear*: no activation, so the narrow output keeps its
information) and, when s = 1 and n_C_prev = n_C, add the input. The skip joins the
narrow ends (the "bottlenecks"), the opposite of ResNet's bottleneck, hence "inverted".

Squeeze-and-excitation and MBConv (EfficientNet)
------------------------------------------------
SE reweights the channels by what the whole image contains: s = σ(W₂ g(W₁ mean_hw(a))),
a ← a ⊙ s. MBConv is the inverted residual with SE after the depthwise conv, Swish
activations and stochastic depth on the residual branch.
"""
from __future__ import annotations

from ... import functional as F
from ..module import Module, Sequential
from .common import ConvBNAct, StochasticDepth, make_activation

__all__ = ["DepthwiseSeparableConv", "InvertedResidual", "SqueezeExcitation", "MBConv",
           "make_divisible"]


def make_divisible(v, divisor=8, min_value=None):
    """Round a channel count to a multiple of ``divisor``, never more than 10 % down
    (the rule MobileNet v2 and EfficientNet use after multiplying by a width factor)."""
    min_value = divisor if min_value is None else min_value
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return int(new_v)


class DepthwiseSeparableConv(Module):
    """Depthwise f×f (stride s) → BN → act → pointwise 1×1 → BN → act (MobileNet v1).

    ==========  ==================================  ===========================================
    a_prev      ``(m, n_H, n_W, n_C_prev)``
    depthwise   W ``(f, f, 1, n_C_prev)``            one f×f filter per channel (groups=n_C_prev)
    pointwise   W ``(1, 1, n_C_prev, n_C)``
    a           ``(m, ceil(n_H/s), ceil(n_W/s), n_C)``
    ==========  ==================================  ===========================================

    :meth:`cost_ratio` is its cost against a standard f×f conv, 1/n_C + 1/f²;
    :func:`minicnn.nn.summary` prints it on the block's row.
    """

    def __init__(self, in_channels, out_channels, stride=1, f=3, act="relu",
                 padding="symmetric", eps=1e-5, momentum=0.1, init="he_normal"):
        super().__init__()
        self.depthwise = ConvBNAct(in_channels, in_channels, f, stride, groups=in_channels,
                                   act=act, padding=padding, eps=eps, momentum=momentum,
                                   init=init)
        self.pointwise = ConvBNAct(in_channels, out_channels, 1, act=act, padding=padding,
                                   eps=eps, momentum=momentum, init=init)
        self.in_channels, self.out_channels, self.f, self.stride = (in_channels, out_channels,
                                                                     f, stride)

    def forward(self, a_prev):
        return self.pointwise(self.depthwise(a_prev))

    def cost_ratio(self) -> float:
        """Multiplications against a standard f×f conv with the same shapes: 1/n_C + 1/f²."""
        return 1.0 / self.out_channels + 1.0 / self.f ** 2

    def summary_notes(self, x_shape, y_shape) -> dict:
        """The extra column :func:`minicnn.nn.summary` shows on this block's row."""
        n_C, f = self.out_channels, self.f
        return {"cost vs conv": f"1/{n_C} + 1/{f * f} = {self.cost_ratio():.3f}"}

    def extra_repr(self):
        return f"{self.in_channels} → {self.out_channels}, f={self.f}, stride={self.stride}"


class InvertedResidual(Module):
    """MobileNet v2's block: expand 1×1 → depthwise f×f → linear 1×1 projection (+ skip).

    ==========  ====================================  ======================================
    a_prev      ``(m, n_H, n_W, n_C_prev)``
    expand      W ``(1, 1, n_C_prev, t·n_C_prev)``     left out when t = 1
    depthwise   W ``(f, f, 1, t·n_C_prev)``            stride s
    project     W ``(1, 1, t·n_C_prev, n_C)``          BN, no activation
    a           ``(m, ceil(n_H/s), ceil(n_W/s), n_C)``  + a_prev when s = 1 and n_C_prev = n_C
    ==========  ====================================  ======================================

    ``conv`` is a ``Sequential`` laid out as torchvision's (``conv.0`` expand,
    ``conv.1`` depthwise, ``conv.2`` project conv, ``conv.3`` its BN; one fewer when t = 1).
    """

    def __init__(self, in_channels, out_channels, stride=1, expand_ratio=6, f=3,
                 act="relu6", padding="symmetric", eps=1e-5, momentum=0.1, init="he_normal"):
        super().__init__()
        from .. import BatchNorm2d, Conv2d
        if stride not in (1, 2):
            raise ValueError(f"InvertedResidual: stride must be 1 or 2, got {stride}")
        hidden = int(round(in_channels * expand_ratio))
        kw = dict(padding=padding, eps=eps, momentum=momentum, init=init)
        layers = []
        if expand_ratio != 1:
            layers.append(ConvBNAct(in_channels, hidden, 1, act=act, **kw))
        layers += [ConvBNAct(hidden, hidden, f, stride, groups=hidden, act=act, **kw),
                   Conv2d(hidden, out_channels, 1, bias=False, init=init),
                   BatchNorm2d(out_channels, eps=eps, momentum=momentum)]
        self.conv = Sequential(*layers)
        self.use_res_connect = stride == 1 and in_channels == out_channels
        self.in_channels, self.out_channels = in_channels, out_channels
        self.stride, self.expand_ratio = stride, expand_ratio

    def forward(self, a_prev):
        z = self.conv(a_prev)
        return z + a_prev if self.use_res_connect else z

    def extra_repr(self):
        return (f"{self.in_channels} → {self.out_channels}, t={self.expand_ratio}, "
                f"stride={self.stride}" + (", skip" if self.use_res_connect else ""))


class SqueezeExcitation(Module):
    """Channel attention: a ⊙ σ(fc2(g(fc1(mean_hw(a))))).

    ==========  ================================  ========================================
    a_prev      ``(m, n_H, n_W, n_C)``
    squeeze     ``(m, 1, 1, n_C)``                 global average over n_H, n_W
    fc1         W ``(1, 1, n_C, n_C_sq)``, b       a 1×1 conv on a 1×1 map is a dense layer
    fc2         W ``(1, 1, n_C_sq, n_C)``, b
    a           ``(m, n_H, n_W, n_C)``             every channel scaled by its gate in (0, 1)
    ==========  ================================  ========================================
    """

    def __init__(self, channels, squeeze_channels, act="swish", init="he_normal"):
        super().__init__()
        from .. import Conv2d
        self.fc1 = Conv2d(channels, squeeze_channels, 1, init=init)
        self.fc2 = Conv2d(squeeze_channels, channels, 1, init=init)
        self.act = make_activation(act)
        self.channels, self.squeeze_channels = channels, squeeze_channels

    def forward(self, a_prev):
        s = F.global_avg_pool2d(a_prev, keepdims=True)
        s = self.fc1(s)
        s = self.act(s) if self.act is not None else s
        s = F.sigmoid(self.fc2(s))
        return a_prev * s

    def extra_repr(self):
        return f"{self.channels} → {self.squeeze_channels} → {self.channels}"


class MBConv(Module):
    """EfficientNet's mobile inverted bottleneck: expand → depthwise → SE → project (+ skip).

    ==========  ====================================  ======================================
    a_prev      ``(m, n_H, n_W, n_C_prev)``
    block.0     expand 1×1 to t·n_C_prev, BN, act      left out when t = 1
    block.1     depthwise f×f, stride s, BN, act
    block.2     SqueezeExcitation, n_C_sq = max(1, int(n_C_prev·se_ratio))   if se_ratio
    block.3     project 1×1 to n_C, BN (linear)
    a           ``(m, ceil(n_H/s), ceil(n_W/s), n_C)``  + a_prev (through stochastic depth)
                                                        when s = 1 and n_C_prev = n_C
    ==========  ====================================  ======================================

    EfficientNet-B*: act = Swish, se_ratio = 0.25. EfficientNet-Lite: ReLU6, no SE.
    """

    def __init__(self, in_channels, out_channels, f=3, stride=1, expand_ratio=6,
                 se_ratio=0.25, act="swish", drop_path=0.0, padding="symmetric", eps=1e-3,
                 momentum=0.01, init="he_normal"):
        super().__init__()
        hidden = in_channels * expand_ratio
        kw = dict(padding=padding, eps=eps, momentum=momentum, init=init)
        layers = []
        if expand_ratio != 1:
            layers.append(ConvBNAct(in_channels, hidden, 1, act=act, **kw))
        layers.append(ConvBNAct(hidden, hidden, f, stride, groups=hidden, act=act, **kw))
        if se_ratio:
            layers.append(SqueezeExcitation(hidden, max(1, int(in_channels * se_ratio)),
                                            act=act, init=init))
        layers.append(ConvBNAct(hidden, out_channels, 1, act=None, **kw))
        self.block = Sequential(*layers)
        self.use_res_connect = stride == 1 and in_channels == out_channels
        self.stochastic_depth = StochasticDepth(drop_path if self.use_res_connect else 0.0)
        self.in_channels, self.out_channels, self.f = in_channels, out_channels, f
        self.stride, self.expand_ratio, self.se_ratio = stride, expand_ratio, se_ratio

    def forward(self, a_prev):
        z = self.block(a_prev)
        return self.stochastic_depth(z) + a_prev if self.use_res_connect else z

    def extra_repr(self):
        return (f"{self.in_channels} → {self.out_channels}, f={self.f}, t={self.expand_ratio}, "
                f"stride={self.stride}" + (f", se={self.se_ratio}" if self.se_ratio else ""))
