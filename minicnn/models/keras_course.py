"""The course's Keras-built models, reproduced layer for layer.

``course_resnet50`` is the ResNet-50 of the residual-networks assignment:

==============  ===========================================================  =============
stage           layers                                                       output
==============  ===========================================================  =============
input                                                                        (m, 64, 64, 3)
stage 1         zero-pad 3, 7×7/2 conv 64, BN, ReLU, 3×3/2 max-pool          (m, 15, 15, 64)
stage 2         conv block [64, 64, 256] s=1, 2 identity blocks              (m, 15, 15, 256)
stage 3         conv block [128, 128, 512] s=2, 3 identity blocks            (m, 8, 8, 512)
stage 4         conv block [256, 256, 1024] s=2, 5 identity blocks           (m, 4, 4, 1024)
stage 5         conv block [512, 512, 2048] s=2, 2 identity blocks           (m, 2, 2, 2048)
head            2×2 average pool, flatten, dense ``classes``, softmax        (m, 6)
==============  ===========================================================  =============

with the assignment's Keras semantics: conv biases, Glorot-uniform kernels, BatchNorm
with ε = 1e-3 and momentum 0.99 (Keras's convention; 0.01 in minicnn's), the stride of
a convolutional block on its first 1×1 conv, "same" padding for the f×f convs.
Keras counts 23,600,006 parameters (BatchNorm's moving mean and variance included, as
``count_parameters(model, buffers=True)`` does).

``mobilenet_v2_base`` is ``tf.keras.applications.MobileNetV2(include_top=False)``, the base
of the course's transfer-learning assignment (2,257,984 parameters, Keras's count):
ReLU6, BN ε = 1e-3 and momentum 0.999, no conv biases, Keras's padding (the odd extra
row/column of a stride-2 conv at the bottom/right, which is ``"same"``).
:func:`keras_mobilenet_v2_names` maps Keras's layer names (``Conv1``, ``block_3_expand``,
…) onto its modules, for :func:`minicnn.io.convert.load_into` with ``layout="keras"``.
"""
from __future__ import annotations

from .. import functional as F
from .. import nn
from ..nn.blocks import ConvolutionalBlock, IdentityBlock
from ._common import check_input_shape, spatial_after
from .mobilenet import V2_SETTINGS, MobileNetV2

__all__ = ["CourseResNet50", "course_resnet50", "mobilenet_v2_base",
           "keras_mobilenet_v2_names", "RESNET50_STAGES"]

# (filters, stride of the conv block, identity blocks after it)
RESNET50_STAGES = [([64, 64, 256], 1, 2), ([128, 128, 512], 2, 3),
                   ([256, 256, 1024], 2, 5), ([512, 512, 2048], 2, 2)]


def side_before_pool(n):
    """n_H (or n_W) before the 2×2 average pool: zero-pad 3, 7×7/2 conv, 3×3/2 max-pool,
    then each stage's strided 1×1 convolution."""
    n = spatial_after(spatial_after(n + 6, 7, 2, 0), 3, 2, 0)
    for _, s, _ in RESNET50_STAGES:
        n = spatial_after(n, 1, s, 0)
    return n


#: The smallest n_H, n_W that leaves the 2×2 average pool a 2×2 input (37: 32 would not).
MIN_SIDE = next(n for n in range(1, 256) if side_before_pool(n) >= 2)


class CourseResNet50(nn.Module):
    """The assignment's ``ResNet50(input_shape=(64, 64, 3), classes=6)``.

    ``forward`` returns class probabilities (softmax), as the Keras model does; with
    ``softmax=False`` it returns the logits, which is what ``cross_entropy`` wants for
    training (the same model: the softmax has no parameters).
    """

    def __init__(self, input_shape=(64, 64, 3), classes=6, softmax=True,
                 init="glorot_uniform"):
        super().__init__()
        n_H, n_W, n_C = check_input_shape(input_shape, "ResNet50", min_size=MIN_SIDE)
        self.zero_pad = nn.ZeroPad2d(3)
        self.conv1 = nn.Conv2d(n_C, 64, 7, stride=2, init=init)
        self.bn_conv1 = nn.BatchNorm2d(64, eps=1e-3, momentum=0.01)
        self.max_pool = nn.MaxPool2d(3, 2)
        n_prev = 64
        for k, (filters, s, n_id) in enumerate(RESNET50_STAGES, start=2):
            blocks = [ConvolutionalBlock(n_prev, 3, filters, s=s, init=init)]
            blocks += [IdentityBlock(filters[2], 3, filters, init=init) for _ in range(n_id)]
            setattr(self, f"stage{k}", nn.Sequential(*blocks))
            n_prev = filters[2]
        side = [side_before_pool(n) for n in (n_H, n_W)]
        self.avg_pool = nn.AvgPool2d(2, 2)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(n_prev * (side[0] // 2) * (side[1] // 2), classes, init=init)
        self.softmax = softmax
        self.input_shape = (n_H, n_W, n_C)

    def forward(self, x):
        a = self.max_pool(F.relu(self.bn_conv1(self.conv1(self.zero_pad(x)))))
        for k in range(2, 6):
            a = getattr(self, f"stage{k}")(a)
        z = self.fc(self.flatten(self.avg_pool(a)))
        return F.softmax(z, axis=-1) if self.softmax else z


def course_resnet50(input_shape=(64, 64, 3), classes=6, **kwargs):
    """The course's Keras ResNet-50 (23,600,006 parameters with BN statistics)."""
    return CourseResNet50(input_shape, classes, **kwargs)


def mobilenet_v2_base(input_shape=(160, 160, 3), alpha=1.0):
    """Keras's MobileNetV2 without its top: image ``(m, n_H, n_W, 3)`` → feature map
    ``(m, n_H/32, n_W/32, 1280)`` (a ``Sequential``: ``0`` the stem, ``1`` … ``17`` the
    inverted residual blocks, ``18`` the 1×1 conv to 1280)."""
    net = MobileNetV2(1, input_shape, width_mult=alpha, padding="same", eps=1e-3,
                      momentum=0.001)
    return net.features


def keras_mobilenet_v2_names():
    """Keras MobileNetV2 layer name → module path in :func:`mobilenet_v2_base`.

    Keras names the stem ``Conv1``/``bn_Conv1``, the first block ``expanded_conv_*``, the
    others ``block_{i}_expand``, ``block_{i}_depthwise``, ``block_{i}_project`` with
    ``_BN`` for their BatchNorms, and the last conv ``Conv_1``/``Conv_1_bn``.
    """
    names = {"Conv1": "0.0", "bn_Conv1": "0.1",
             "expanded_conv_depthwise": "1.conv.0.0", "expanded_conv_depthwise_BN": "1.conv.0.1",
             "expanded_conv_project": "1.conv.1", "expanded_conv_project_BN": "1.conv.2"}
    n_blocks = sum(n for _, _, n, _ in V2_SETTINGS)
    for i in range(1, n_blocks):
        p = f"{i + 1}.conv"
        names.update({f"block_{i}_expand": f"{p}.0.0", f"block_{i}_expand_BN": f"{p}.0.1",
                      f"block_{i}_depthwise": f"{p}.1.0", f"block_{i}_depthwise_BN": f"{p}.1.1",
                      f"block_{i}_project": f"{p}.2", f"block_{i}_project_BN": f"{p}.3"})
    names.update({"Conv_1": f"{n_blocks + 1}.0", "Conv_1_bn": f"{n_blocks + 1}.1"})
    return names
