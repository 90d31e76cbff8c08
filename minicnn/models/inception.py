"""GoogLeNet, the Inception network (Szegedy et al. 2014), with its auxiliary classifiers.

=============  =====================================================  ===================
stage          layers                                                 output (224×224)
=============  =====================================================  ===================
stem           7×7/2 conv 64, 3×3/2 max-pool, 1×1 conv 64,            (m, 28, 28, 192)
               3×3 conv 192, 3×3/2 max-pool
inception3     3a (→256), 3b (→480), 3×3/2 max-pool                   (m, 14, 14, 480)
inception4     4a (→512) ▸aux1, 4b, 4c, 4d (→528) ▸aux2, 4e (→832),   (m, 7, 7, 832)
               3×3/2 max-pool
inception5     5a (→832), 5b (→1024)                                  (m, 7, 7, 1024)
head           global average pool, dropout 0.4, dense num_classes    (m, num_classes)
=============  =====================================================  ===================

The auxiliary classifiers ("side branches" in the course) read the outputs of 4a and 4d:
5×5/3 average pool → 1×1 conv 128 → dense 1024 → ReLU → dropout 0.7 → dense num_classes.
They push a useful gradient into the middle of the network and regularise it; the paper
adds their losses with weight 0.3 during training and throws them away afterwards.
So in training mode with ``aux_logits=True`` the model returns ``(logits, aux1, aux2)``
(:meth:`GoogLeNet.loss` combines them) and in evaluation mode the logits alone.

Every conv is conv → BN → ReLU as in torchvision's GoogLeNet (the original had no BN);
the 5×5 branch really is 5×5 here (torchvision's is 3×3, a slip it kept for its weights).
"""
from __future__ import annotations

from .. import functional as F
from .. import nn
from ..nn.blocks import ConvBNAct, InceptionModule
from ._common import check_input_shape, spatial_after

__all__ = ["GoogLeNet", "InceptionAux", "googlenet", "INCEPTION_CONFIG"]

# name: (ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj), in order
INCEPTION_CONFIG = {
    "3a": (64, 96, 128, 16, 32, 32), "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64), "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64), "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128), "5b": (384, 192, 384, 48, 128, 128),
}


def _conv(n_in, n_out, f, stride=1):
    return ConvBNAct(n_in, n_out, f, stride, act="relu", eps=1e-3)


class InceptionAux(nn.Module):
    """An auxiliary classifier: avg-pool 5×5/3 → 1×1 conv 128 → dense 1024 → dense K.

    ``n_side`` is the side of the feature map it reads (14 for a 224×224 image), which
    fixes the first dense layer's input: 128·n'² with n' = floor((n_side − 5)/3) + 1.
    """

    def __init__(self, in_channels, num_classes, n_side, dropout=0.7):
        super().__init__()
        self.pool_f = min(5, n_side)
        n_out = spatial_after(n_side, self.pool_f, 3, 0)
        self.pool = nn.AvgPool2d(self.pool_f, 3)
        self.conv = _conv(in_channels, 128, 1)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(128 * n_out * n_out, 1024)
        self.dropout = nn.Dropout(dropout)
        self.fc2 = nn.Linear(1024, num_classes)

    def forward(self, a):
        a = self.flatten(self.conv(self.pool(a)))
        return self.fc2(self.dropout(F.relu(self.fc1(a))))


class GoogLeNet(nn.Module):
    """GoogLeNet; see the module docstring. ``forward_features`` gives the pooled
    1024 features that ``fc`` reads."""

    def __init__(self, num_classes=1000, input_shape=(224, 224, 3), aux_logits=True,
                 dropout=0.4, aux_dropout=0.7):
        super().__init__()
        n_H, n_W, n_C = check_input_shape(input_shape, "GoogLeNet", min_size=32)
        self.conv1 = _conv(n_C, 64, 7, stride=2)
        self.maxpool1 = nn.MaxPool2d(3, 2, padding=1)
        self.conv2 = _conv(64, 64, 1)
        self.conv3 = _conv(64, 192, 3)
        self.maxpool2 = nn.MaxPool2d(3, 2, padding=1)
        n_in = 192
        for name, cfg in INCEPTION_CONFIG.items():
            block = InceptionModule(n_in, *cfg, eps=1e-3)
            setattr(self, f"inception{name}", block)
            n_in = block.out_channels
        self.maxpool3 = nn.MaxPool2d(3, 2, padding=1)
        self.maxpool4 = nn.MaxPool2d(3, 2, padding=1)
        side = min(n_H, n_W)                         # the side the aux branches see
        for f, s, p in ((7, 2, 3), (3, 2, 1), (3, 2, 1), (3, 2, 1)):
            side = spatial_after(side, f, s, p)
        self.aux_logits = aux_logits
        if aux_logits:
            self.aux1 = InceptionAux(512, num_classes, side, aux_dropout)
            self.aux2 = InceptionAux(528, num_classes, side, aux_dropout)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(1024, num_classes)
        self.num_features = 1024

    def _trunk(self, x):
        a = self.maxpool1(self.conv1(x))
        a = self.maxpool2(self.conv3(self.conv2(a)))
        a = self.maxpool3(self.inception3b(self.inception3a(a)))
        a = self.inception4a(a)
        aux1 = self.aux1(a) if self.aux_logits and self.training else None
        a = self.inception4d(self.inception4c(self.inception4b(a)))
        aux2 = self.aux2(a) if self.aux_logits and self.training else None
        a = self.maxpool4(self.inception4e(a))
        a = self.inception5b(self.inception5a(a))
        return F.global_avg_pool2d(a), aux1, aux2

    def forward_features(self, x):
        return self._trunk(x)[0]

    def forward(self, x):
        features, aux1, aux2 = self._trunk(x)
        logits = self.fc(self.dropout(features))
        if aux1 is not None:
            return logits, aux1, aux2
        return logits

    @staticmethod
    def loss(outputs, y, aux_weight=0.3):
        """J = CE(logits) + aux_weight·(CE(aux1) + CE(aux2)) in training (the paper's 0.3);
        plain CE(logits) when ``outputs`` is the logits alone."""
        if isinstance(outputs, tuple):
            logits, aux1, aux2 = outputs
            return (F.cross_entropy(logits, y)
                    + aux_weight * (F.cross_entropy(aux1, y) + F.cross_entropy(aux2, y)))
        return F.cross_entropy(outputs, y)


def googlenet(num_classes=1000, input_shape=(224, 224, 3), aux_logits=True, **kwargs):
    """GoogLeNet (Inception v1) with its two auxiliary classifiers (used in training)."""
    return GoogLeNet(num_classes, input_shape, aux_logits=aux_logits, **kwargs)
