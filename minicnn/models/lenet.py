"""LeNet-5 (LeCun et al. 1998), the network the course's classic-networks lecture opens with.

==========  ===========================  ======================  ==========
layer       what                         output (32×32 input)    parameters
==========  ===========================  ======================  ==========
C1          5×5 conv, 6 filters          (m, 28, 28, 6)          156
S2          2×2 average pool, stride 2   (m, 14, 14, 6)          0
C3          5×5 conv, 16 filters         (m, 10, 10, 16)         2,416
S4          2×2 average pool, stride 2   (m, 5, 5, 16)           0
C5          5×5 conv, 120 filters        (m, 1, 1, 120)          48,120
F6          dense 84                     (m, 84)                 10,164
output      dense num_classes            (m, 10)                 850
==========  ===========================  ======================  ==========

61,706 parameters for 10 classes. tanh activations and average pooling as in the paper
(``activation="relu"``, ``pool="max"`` give the modern variant). C3 here connects every
S2 map to every C3 filter; the paper wired each C3 filter to a subset of the S2 maps
(1,516 weights instead of 2,416) to break symmetry on 1998 hardware. The output is
logits: softmax and the loss go together in ``cross_entropy`` (the paper used RBF units).

A 28×28 image (MNIST, Fashion-MNIST) gets 2 pixels of zero padding in C1, so that it
reaches C5 as 5×5, as the 32×32 images of the paper did (their digits were padded too).
"""
from __future__ import annotations

from .. import nn
from ._common import check_input_shape, spatial_after

__all__ = ["LeNet5", "lenet5"]


class LeNet5(nn.Module):
    """LeNet-5: ``features`` (C1 … C5, flattened) then ``classifier`` (F6, output)."""

    def __init__(self, num_classes=10, input_shape=(32, 32, 1), activation="tanh",
                 pool="avg"):
        super().__init__()
        n_H, n_W, n_C = check_input_shape(input_shape, "LeNet5", min_size=28)
        if activation not in ("tanh", "relu", "sigmoid"):
            raise ValueError(f"LeNet5: activation must be 'tanh', 'relu' or 'sigmoid', got "
                             f"{activation!r}")
        if pool not in ("avg", "max"):
            raise ValueError(f"LeNet5: pool must be 'avg' or 'max', got {pool!r}")
        act = {"tanh": nn.Tanh, "relu": nn.ReLU, "sigmoid": nn.Sigmoid}[activation]
        Pool = nn.AvgPool2d if pool == "avg" else nn.MaxPool2d
        p = max(0, (32 - min(n_H, n_W)) // 2)        # 28×28 → padded to 32×32 in C1
        self.features = nn.Sequential(
            nn.Conv2d(n_C, 6, 5, padding=p, init="glorot_uniform"), act(), Pool(2, 2),
            nn.Conv2d(6, 16, 5, init="glorot_uniform"), act(), Pool(2, 2),
            nn.Conv2d(16, 120, 5, init="glorot_uniform"), act(),
            nn.Flatten())
        h, w = n_H, n_W
        for f, s, pad in ((5, 1, p), (2, 2, 0), (5, 1, 0), (2, 2, 0), (5, 1, 0)):
            h, w = spatial_after(h, f, s, pad), spatial_after(w, f, s, pad)
        self.classifier = nn.Sequential(nn.Linear(120 * h * w, 84, init="glorot_uniform"),
                                        act(), nn.Linear(84, num_classes,
                                                         init="glorot_uniform"))

    def forward(self, x):
        return self.classifier(self.features(x))


def lenet5(num_classes=10, input_shape=(32, 32, 1), **kwargs):
    """LeNet-5; see :class:`LeNet5` (61,706 parameters for 32×32×1 and 10 classes)."""
    return LeNet5(num_classes, input_shape, **kwargs)
