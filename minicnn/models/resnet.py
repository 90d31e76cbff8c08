"""ResNet-18/34/50/101/152 (He et al. 2015) and the small ResNets for 28–32 pixel images.

Layout (torchvision's, so a torchvision state dict maps key for key after the OIHW → HWIO
conversion)::

    conv1 (7×7/2) → bn1 → relu → maxpool (3×3/2)          the "ImageNet" stem
    layer1 … layer4: stages of BasicBlock / Bottleneck     stride 1, 2, 2, 2
    global average pool → fc (Linear)                      logits, no softmax

==========  ==================  ===================  =============  ==================
model       block               blocks per stage     parameters     (1000 classes)
==========  ==================  ===================  =============  ==================
ResNet-18   BasicBlock          2, 2, 2, 2           11,689,512
ResNet-34   BasicBlock          3, 4, 6, 3           21,797,672
ResNet-50   Bottleneck          3, 4, 6, 3           25,557,032
ResNet-101  Bottleneck          3, 4, 23, 3          44,549,160
ResNet-152  Bottleneck          3, 8, 36, 3          60,192,808
==========  ==================  ===================  =============  ==================

Small images. On a 28×28 or 32×32 image the ImageNet stem leaves 7×7 or 8×8 after two
downsamplings before the first block, so ``stem="auto"`` (the default) uses the "small"
stem instead when n_H or n_W is below 64: one 3×3/1 conv and no max-pool, as in the
CIFAR ResNets of the paper (section 4.2). ``cifar_resnet(depth)`` builds those
(depth = 6n + 2: three stages of n basic blocks, 16-32-64 channels; ResNet-20 has
0.27 M parameters). ``fashion_resnet`` is a smaller one for 28×28 images that trains on
Fashion-MNIST in minutes on two CPU cores (``scripts/train_fashion_resnet.py``).
"""
from __future__ import annotations

from .. import functional as F
from .. import nn
from ..nn.blocks import BasicBlock, Bottleneck
from ._common import check_input_shape

__all__ = ["ResNet", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
           "cifar_resnet", "resnet20", "fashion_resnet"]

STEMS = ("auto", "imagenet", "small", "small_pool")


class ResNet(nn.Module):
    """A ResNet: stem, stages of residual blocks, global average pool, linear classifier.

    Parameters
    ----------
    block : ``BasicBlock`` or ``Bottleneck``.
    layers : blocks per stage, e.g. ``(3, 4, 6, 3)``.
    widths : channels of each stage (a Bottleneck stage outputs 4× that).
    num_classes : outputs of ``fc`` (logits).
    input_shape : one image ``(n_H, n_W, n_C)``; n_C sets conv1's input channels, and
        n_H, n_W choose the stem when ``stem="auto"``.
    stem : ``"imagenet"`` (7×7/2 conv + 3×3/2 max-pool), ``"small"`` (3×3/1 conv),
        ``"small_pool"`` (3×3/1 conv + 2×2/2 max-pool), or ``"auto"`` (small below 64
        pixels).
    zero_init_residual : start each block's last BN γ at 0 (the block starts as the
        identity), which helps training from scratch.
    dropout : dropout before ``fc`` (0: none, as in the paper).

    ``forward(x)`` gives the logits ``(m, num_classes)``; ``forward_features(x)`` the
    pooled features ``(m, num_features)`` that ``fc`` reads (for transfer learning).
    """

    def __init__(self, block, layers, num_classes=1000, input_shape=(224, 224, 3),
                 widths=(64, 128, 256, 512), stem="auto", zero_init_residual=False,
                 dropout=0.0):
        super().__init__()
        n_H, n_W, n_C = check_input_shape(input_shape, "ResNet")
        if block not in (BasicBlock, Bottleneck):
            raise ValueError(f"ResNet: block must be BasicBlock or Bottleneck, got {block!r}")
        if len(layers) != len(widths) or not layers:
            raise ValueError(f"ResNet: layers {tuple(layers)} and widths {tuple(widths)} must "
                             "have one entry per stage")
        if stem not in STEMS:
            raise ValueError(f"ResNet: stem must be one of {STEMS}, got {stem!r}")
        if stem == "auto":
            stem = "imagenet" if min(n_H, n_W) >= 64 else "small"
        w0 = widths[0]
        if stem == "imagenet":
            self.conv1 = nn.Conv2d(n_C, w0, 7, stride=2, padding=3, bias=False)
            self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        else:
            self.conv1 = nn.Conv2d(n_C, w0, 3, stride=1, padding=1, bias=False)
            self.maxpool = nn.MaxPool2d(2, 2) if stem == "small_pool" else nn.Identity()
        self.bn1 = nn.BatchNorm2d(w0)
        self.relu = nn.ReLU()
        n_in = w0
        for i, (n_blocks, width) in enumerate(zip(layers, widths)):
            blocks = []
            for j in range(n_blocks):
                stride = 2 if (i > 0 and j == 0) else 1
                if block is BasicBlock:
                    b = BasicBlock(n_in, width, stride, zero_init_residual=zero_init_residual)
                else:
                    b = Bottleneck(n_in, (width, width, 4 * width), stride=stride,
                                   zero_init_residual=zero_init_residual)
                blocks.append(b)
                n_in = b.out_channels
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
        self.n_stages = len(layers)
        self.num_features = n_in
        self.dropout = nn.Dropout(dropout) if dropout else nn.Identity()
        self.fc = nn.Linear(n_in, num_classes)
        self.stem, self.input_shape = stem, (n_H, n_W, n_C)

    def forward_features(self, x):
        """Stem and stages, then the global average pool: ``(m, num_features)``."""
        a = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for i in range(self.n_stages):
            a = getattr(self, f"layer{i + 1}")(a)
        return F.global_avg_pool2d(a)

    def forward(self, x):
        return self.fc(self.dropout(self.forward_features(x)))


def resnet18(num_classes=1000, input_shape=(224, 224, 3), **kwargs):
    """ResNet-18: BasicBlock × (2, 2, 2, 2); 11,689,512 parameters for 1000 classes."""
    return ResNet(BasicBlock, (2, 2, 2, 2), num_classes, input_shape, **kwargs)


def resnet34(num_classes=1000, input_shape=(224, 224, 3), **kwargs):
    """ResNet-34: BasicBlock × (3, 4, 6, 3); 21,797,672 parameters for 1000 classes."""
    return ResNet(BasicBlock, (3, 4, 6, 3), num_classes, input_shape, **kwargs)


def resnet50(num_classes=1000, input_shape=(224, 224, 3), **kwargs):
    """ResNet-50: Bottleneck × (3, 4, 6, 3), stride on the 3×3 conv (torchvision's "v1.5");
    25,557,032 parameters for 1000 classes (no conv biases)."""
    return ResNet(Bottleneck, (3, 4, 6, 3), num_classes, input_shape, **kwargs)


def resnet101(num_classes=1000, input_shape=(224, 224, 3), **kwargs):
    """ResNet-101: Bottleneck × (3, 4, 23, 3)."""
    return ResNet(Bottleneck, (3, 4, 23, 3), num_classes, input_shape, **kwargs)


def resnet152(num_classes=1000, input_shape=(224, 224, 3), **kwargs):
    """ResNet-152: Bottleneck × (3, 8, 36, 3)."""
    return ResNet(Bottleneck, (3, 8, 36, 3), num_classes, input_shape, **kwargs)


def cifar_resnet(depth=20, num_classes=10, input_shape=(32, 32, 3), widths=(16, 32, 64),
                 **kwargs):
    """The paper's ResNets for small images: depth = 6n + 2 (20, 32, 44, 56, 110).

    3×3 conv to 16 channels, then three stages of n BasicBlocks with 16, 32, 64 channels
    (strides 1, 2, 2), global average pool, ``fc``. The shortcut that changes shape is a
    1×1 projection (the paper's option B).
    """
    if (depth - 2) % 6 or depth < 8:
        raise ValueError(f"cifar_resnet: depth must be 6n + 2 (8, 14, 20, 32, ...), got {depth}")
    n = (depth - 2) // 6
    kwargs.setdefault("stem", "small")
    return ResNet(BasicBlock, (n,) * len(widths), num_classes, input_shape, widths=widths,
                  **kwargs)


def resnet20(num_classes=10, input_shape=(32, 32, 3), **kwargs):
    """ResNet-20 of the paper's CIFAR-10 experiments (0.27 M parameters)."""
    return cifar_resnet(20, num_classes, input_shape, **kwargs)


def fashion_resnet(num_classes=10, input_shape=(28, 28, 1), widths=(32, 64), layers=(1, 2),
                   **kwargs):
    """A small ResNet for 28×28 images (Fashion-MNIST), cheap enough for a NumPy CPU run.

    ==========  ===========================================  ==================
    stage       layers                                       output
    ==========  ===========================================  ==================
    stem        3×3 conv 32, BN, ReLU, 2×2 max-pool          (m, 14, 14, 32)
    layer1      BasicBlock 32                                (m, 14, 14, 32)
    layer2      BasicBlock 64 (stride 2), BasicBlock 64      (m, 7, 7, 64)
    head        global average pool, dense ``num_classes``   (m, 10)
    ==========  ===========================================  ==================

    151,274 parameters and 10.3 M multiply-adds per 28×28 image. The early max-pool puts
    the residual blocks at 14×14 and 7×7, where every 3×3 conv is a GEMM with 32 to 64
    output channels: a quarter of the cost of working at 28×28.
    """
    kwargs.setdefault("stem", "small_pool")
    return ResNet(BasicBlock, layers, num_classes, input_shape, widths=widths, **kwargs)
