"""VGG-16 and VGG-19 (Simonyan & Zisserman 2014): only 3×3 "same" convs and 2×2 max-pools.

The idea the course stresses: a uniform recipe. Each stage doubles the channels
(64 → 128 → 256 → 512) and each pool halves n_H and n_W, so 224×224×3 becomes 7×7×512,
then two dense layers of 4096 and the classifier.

======  =====================================================  ==============
model   convs per stage (64, 128, 256, 512, 512)               parameters
======  =====================================================  ==============
VGG-16  2, 2, 3, 3, 3                                          138,357,544
VGG-19  2, 2, 4, 4, 4                                          143,667,240
======  =====================================================  ==============

(1000 classes, 224×224 input.) ``features`` and ``classifier`` are laid out as in
torchvision (``features.0`` is the first conv, ``classifier.0`` the first dense layer),
so a torchvision state dict maps by name; its ``classifier.0`` rows follow torch's
(n_C, n_H, n_W) flattening and must be reordered once with
:func:`minicnn.io.convert.nchw_flatten_to_nhwc`. For other input sizes the first dense
layer takes the (n_H/32)·(n_W/32)·512 values the convs leave (torchvision would
average-pool them to 7×7 first).
"""
from __future__ import annotations

from .. import nn
from ._common import check_input_shape

__all__ = ["VGG", "vgg16", "vgg19", "CONFIGS"]

# numbers are conv channels, "M" a 2×2 max-pool
CONFIGS = {
    11: [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    13: [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    16: [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
         512, 512, 512, "M"],
    19: [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
         512, 512, 512, 512, "M"],
}


class VGG(nn.Module):
    """A VGG network from its configuration (a list of channels and "M" for max-pool)."""

    def __init__(self, config, num_classes=1000, input_shape=(224, 224, 3), batch_norm=False,
                 dropout=0.5):
        super().__init__()
        n_H, n_W, n_C = check_input_shape(input_shape, "VGG", min_size=32)
        layers, n_prev = [], n_C
        for v in config:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
                n_H, n_W = n_H // 2, n_W // 2
            else:
                layers.append(nn.Conv2d(n_prev, v, 3, padding=1))
                if batch_norm:
                    layers.append(nn.BatchNorm2d(v))
                layers.append(nn.ReLU())
                n_prev = v
        self.features = nn.Sequential(*layers)
        self.flatten = nn.Flatten()
        self.classifier = nn.Sequential(
            nn.Linear(n_prev * n_H * n_W, 4096), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(4096, num_classes))

    def forward(self, x):
        return self.classifier(self.flatten(self.features(x)))


def vgg16(num_classes=1000, input_shape=(224, 224, 3), **kwargs):
    """VGG-16 (configuration D): 138,357,544 parameters for 224×224 and 1000 classes."""
    return VGG(CONFIGS[16], num_classes, input_shape, **kwargs)


def vgg19(num_classes=1000, input_shape=(224, 224, 3), **kwargs):
    """VGG-19 (configuration E): 143,667,240 parameters for 224×224 and 1000 classes."""
    return VGG(CONFIGS[19], num_classes, input_shape, **kwargs)
