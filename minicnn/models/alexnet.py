"""AlexNet (Krizhevsky, Sutskever, Hinton 2012), as the course draws it.

==========  ==============================  ==================  ============
layer       what                            output (227×227)    parameters
==========  ==============================  ==================  ============
conv1       11×11, stride 4, 96, ReLU       (m, 55, 55, 96)     34,944
pool1       3×3 max, stride 2               (m, 27, 27, 96)
conv2       5×5 same, 256, ReLU             (m, 27, 27, 256)    614,656
pool2       3×3 max, stride 2               (m, 13, 13, 256)
conv3       3×3 same, 384, ReLU             (m, 13, 13, 384)    885,120
conv4       3×3 same, 384, ReLU             (m, 13, 13, 384)    1,327,488
conv5       3×3 same, 256, ReLU             (m, 13, 13, 256)    884,992
pool5       3×3 max, stride 2               (m, 6, 6, 256)      → 9,216 values
fc6, fc7    dense 4096, ReLU, dropout 0.5                       37,752,832 + 16,781,312
fc8         dense num_classes                                   4,097,000
==========  ==============================  ==================  ============

62,378,344 parameters for 1000 classes ("about 60 million"). The paper split the
convolutions over two GPUs (groups = 2 for conv2, conv4, conv5) and used local
response normalisation after conv1 and conv2; the course's single-tower version,
built here, has neither. torchvision's AlexNet is a later variant (64-192-384-256-256
filters, 61.1 M parameters).
"""
from __future__ import annotations

from .. import nn
from ._common import check_input_shape, spatial_after

__all__ = ["AlexNet", "alexnet"]


class AlexNet(nn.Module):
    """``features`` (five convs, three max-pools, flattened) then ``classifier``."""

    def __init__(self, num_classes=1000, input_shape=(227, 227, 3), dropout=0.5):
        super().__init__()
        n_H, n_W, n_C = check_input_shape(input_shape, "AlexNet", min_size=67)
        self.features = nn.Sequential(
            nn.Conv2d(n_C, 96, 11, stride=4), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Conv2d(96, 256, 5, padding="same"), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Conv2d(256, 384, 3, padding="same"), nn.ReLU(),
            nn.Conv2d(384, 384, 3, padding="same"), nn.ReLU(),
            nn.Conv2d(384, 256, 3, padding="same"), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Flatten())
        h, w = n_H, n_W
        for f, s in ((11, 4), (3, 2), (3, 2), (3, 2)):
            h, w = spatial_after(h, f, s, 0), spatial_after(w, f, s, 0)
        self.classifier = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(256 * h * w, 4096), nn.ReLU(),
            nn.Dropout(dropout), nn.Linear(4096, 4096), nn.ReLU(),
            nn.Linear(4096, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))


def alexnet(num_classes=1000, input_shape=(227, 227, 3), **kwargs):
    """AlexNet as in the course (62,378,344 parameters for 1000 classes)."""
    return AlexNet(num_classes, input_shape, **kwargs)
