"""MobileNet v1 (Howard et al. 2017) and MobileNet v2 (Sandler et al. 2018).

MobileNet v1: a 3×3/2 conv, then 13 depthwise-separable convs, global average pool,
dense. Two knobs trade accuracy for cost:

* the width multiplier α thins every layer to int(α·n_C) channels; cost and
  parameters fall roughly as α²;
* the resolution multiplier ρ shrinks the input image to ρ·224; cost falls as ρ²,
  the parameters do not change (the global pool removes the spatial size).

================  ====================  ==============
model             α, input              parameters
================  ====================  ==============
MobileNet v1      1.0, 224              4,231,976
MobileNet v2      1.0, 224              3,504,872
================  ====================  ==============

(1000 classes.) MobileNet v2 is a 3×3/2 conv to 32 channels, 17 inverted residual
blocks (table below, t the expansion factor, c the output channels, n the repeats,
s the first block's stride), a 1×1 conv to 1280 channels, global average pool,
dropout 0.2, dense. Its layout (``features.0`` … ``features.18``, ``classifier``) is
torchvision's, so its state dict maps by name.
"""
from __future__ import annotations

from .. import functional as F
from .. import nn
from ..nn.blocks import ConvBNAct, DepthwiseSeparableConv, InvertedResidual, make_divisible
from ._common import check_input_shape

__all__ = ["MobileNetV1", "MobileNetV2", "mobilenet_v1", "mobilenet_v2",
           "V1_BLOCKS", "V2_SETTINGS"]

# MobileNet v1: (n_C, stride) of the 13 depthwise-separable blocks
V1_BLOCKS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
             (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1)]

# MobileNet v2: t (expansion), c (channels), n (repeats), s (stride of the first)
V2_SETTINGS = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
               (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]


def _scaled_input(input_shape, rho, model):
    n_H, n_W, n_C = check_input_shape(input_shape, model, min_size=32)
    if rho <= 0:
        raise ValueError(f"{model}: the resolution multiplier rho must be positive, got {rho}")
    n_H, n_W = int(round(n_H * rho)), int(round(n_W * rho))
    if min(n_H, n_W) < 32:
        raise ValueError(f"{model}: rho={rho} makes the input {n_H}×{n_W}, below the 32×32 "
                         "that five stride-2 layers need")
    return n_H, n_W, n_C


class MobileNetV1(nn.Module):
    """MobileNet v1 with width multiplier ``alpha`` and resolution multiplier ``rho``.

    ``input_shape`` is the full-resolution image; the network is meant to be fed images
    of ``self.input_shape`` = (ρ·n_H, ρ·n_W, n_C). Activations are ReLU as in the paper
    (Keras uses ReLU6: ``act="relu6"``); padding is ``"same"`` as in Keras.
    """

    def __init__(self, num_classes=1000, input_shape=(224, 224, 3), alpha=1.0, rho=1.0,
                 dropout=1e-3, act="relu"):
        super().__init__()
        if alpha <= 0:
            raise ValueError(f"MobileNetV1: the width multiplier alpha must be positive, got "
                             f"{alpha}")
        self.input_shape = _scaled_input(input_shape, rho, "MobileNetV1")
        self.alpha, self.rho = alpha, rho
        n_in = int(32 * alpha)
        layers = [ConvBNAct(self.input_shape[2], n_in, 3, 2, act=act, padding="same")]
        for n_C, s in V1_BLOCKS:
            n_out = int(n_C * alpha)
            layers.append(DepthwiseSeparableConv(n_in, n_out, s, act=act, padding="same"))
            n_in = n_out
        self.features = nn.Sequential(*layers)
        self.num_features = n_in
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(n_in, num_classes))

    def forward_features(self, x):
        return F.global_avg_pool2d(self.features(x))

    def forward(self, x):
        return self.classifier(self.forward_features(x))


class MobileNetV2(nn.Module):
    """MobileNet v2 (torchvision's layout). ``width_mult`` scales every layer's channels
    (rounded to multiples of 8); the last conv keeps 1280 channels unless width_mult > 1."""

    def __init__(self, num_classes=1000, input_shape=(224, 224, 3), width_mult=1.0,
                 dropout=0.2, padding="symmetric", eps=1e-5, momentum=0.1):
        super().__init__()
        n_H, n_W, n_C = check_input_shape(input_shape, "MobileNetV2", min_size=32)
        n_in = make_divisible(32 * width_mult)
        last = make_divisible(1280 * max(1.0, width_mult))
        kw = dict(padding=padding, eps=eps, momentum=momentum)
        layers = [ConvBNAct(n_C, n_in, 3, 2, act="relu6", **kw)]
        for t, c, n, s in V2_SETTINGS:
            n_out = make_divisible(c * width_mult)
            for i in range(n):
                layers.append(InvertedResidual(n_in, n_out, s if i == 0 else 1, t, **kw))
                n_in = n_out
        layers.append(ConvBNAct(n_in, last, 1, act="relu6", **kw))
        self.features = nn.Sequential(*layers)
        self.num_features = last
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(last, num_classes))
        self.input_shape = (n_H, n_W, n_C)

    def forward_features(self, x):
        return F.global_avg_pool2d(self.features(x))

    def forward(self, x):
        return self.classifier(self.forward_features(x))


def mobilenet_v1(num_classes=1000, input_shape=(224, 224, 3), alpha=1.0, rho=1.0, **kwargs):
    """MobileNet v1 (4,231,976 parameters for α = 1 and 1000 classes)."""
    return MobileNetV1(num_classes, input_shape, alpha=alpha, rho=rho, **kwargs)


def mobilenet_v2(num_classes=1000, input_shape=(224, 224, 3), width_mult=1.0, **kwargs):
    """MobileNet v2 (3,504,872 parameters for width 1 and 1000 classes)."""
    return MobileNetV2(num_classes, input_shape, width_mult=width_mult, **kwargs)
