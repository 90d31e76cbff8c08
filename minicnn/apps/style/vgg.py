"""A VGG feature extractor: the activations of chosen layers in one forward pass.

VGG-16 and VGG-19 (Simonyan & Zisserman 2014) are five blocks of 3×3 "same"
convolutions, each followed by ReLU, with a 2×2 pooling (stride 2) between blocks:

=======  ==============================  =========  ======================
block    layers (VGG-16 / VGG-19)        n_C        n_H × n_W (input 256)
=======  ==============================  =========  ======================
1        conv1_1 conv1_2                 64         256 × 256
2        pool1, conv2_1 conv2_2          128        128 × 128
3        pool2, conv3_1 … conv3_3 / _4   256        64 × 64
4        pool3, conv4_1 … conv4_3 / _4   512        32 × 32
5        pool4, conv5_1 … conv5_3 / _4   512        16 × 16
=======  ==============================  =========  ======================

A layer name means that layer's output *after its ReLU* (as Keras's ``block4_conv2``
and the activations of Gatys et al.); ``pool1``…``pool5`` are the pooling outputs.
The forward pass stops at the deepest layer asked for, so conv5_2 … are never computed
for the default layers.

The extractor is frozen (``requires_grad=False`` on every weight): style transfer
differentiates with respect to the pixels only, and frozen convolutions skip their
weight-gradient GEMMs. Input: RGB images ``(m, n_H, n_W, 3)`` in [0, 1]; the weights'
preprocessing (:class:`~minicnn.apps.style.weights.Preprocess`) is applied inside.
"""
from __future__ import annotations

import numpy as np

from ... import functional as F
from ... import nn
from .weights import VGG_BLOCKS, PREPROCESS, VGGWeights, conv_names, load_vgg_weights

__all__ = ["VGGFeatures", "layer_names", "load_vgg_features"]

WIDTHS = (64, 128, 256, 512, 512)


def layer_names(arch="vgg19"):
    """Every layer an extractor of ``arch`` can return, in forward order."""
    names = []
    for b, n in enumerate(VGG_BLOCKS[arch], 1):
        names += [f"conv{b}_{i}" for i in range(1, n + 1)] + [f"pool{b}"]
    return names


class VGGFeatures(nn.Module):
    """VGG-16/19 convolutional trunk returning ``{layer: activation}`` for chosen layers.

    Parameters
    ----------
    arch : "vgg16" or "vgg19".
    pool : "max" (as trained) or "avg" (Gatys et al. found average pooling gives
        smoother images; the weights are the same).
    widths : channels of the five blocks; smaller than (64, 128, 256, 512, 512) only for
        tests and experiments with random weights.
    preprocess : a :class:`Preprocess` or its name ("caffe", "hed", "torch", "none").

    Weights start random (He); :func:`load_vgg_features` or :meth:`from_weights` load
    pretrained ones.
    """

    def __init__(self, arch="vgg19", pool="max", widths=WIDTHS, preprocess="caffe"):
        super().__init__()
        if arch not in VGG_BLOCKS:
            raise ValueError(f"VGGFeatures: arch must be 'vgg16' or 'vgg19', got {arch!r}")
        if pool not in ("max", "avg"):
            raise ValueError(f"VGGFeatures: pool must be 'max' or 'avg', got {pool!r}")
        if len(widths) != 5:
            raise ValueError(f"VGGFeatures: widths must give 5 block widths, got {widths!r}")
        self.arch, self.pool, self.widths = arch, pool, tuple(int(w) for w in widths)
        self.names = layer_names(arch)
        n_prev = 3
        for b, (n, width) in enumerate(zip(VGG_BLOCKS[arch], self.widths), 1):
            for i in range(1, n + 1):
                setattr(self, f"conv{b}_{i}", nn.Conv2d(n_prev, width, 3, padding=1))
                n_prev = width
        self.set_preprocess(preprocess)
        self.freeze()

    def set_preprocess(self, preprocess):
        pre = PREPROCESS[preprocess] if isinstance(preprocess, str) else preprocess
        self.preprocess = pre
        a, c = pre.affine()
        self.register_buffer("input_scale", a)
        self.register_buffer("input_shift", c)

    # ------------------------------------------------------------ forward
    def forward(self, x, layers):
        """``{name: activation}`` for each name in ``layers`` (an iterable of names).

        x: ``(m, n_H, n_W, 3)`` RGB in [0, 1] (a Tensor, possibly requiring grad).
        """
        layers = [layers] if isinstance(layers, str) else list(layers)
        unknown = [n for n in layers if n not in self.names]
        if unknown:
            raise KeyError(f"VGGFeatures({self.arch}): unknown layer(s) {unknown}; the layers "
                           f"are {self.names}")
        if x.ndim != 4 or x.shape[-1] != 3:
            raise ValueError(f"VGGFeatures: expected images (m, n_H, n_W, 3), got shape "
                             f"{tuple(x.shape)}")
        last = max(self.names.index(n) for n in layers)
        n_pools = sum(n.startswith("pool") for n in self.names[:last])
        if min(x.shape[1:3]) < 2 ** n_pools:
            raise ValueError(f"VGGFeatures: an image of {x.shape[1]}×{x.shape[2]} is too small "
                             f"for layer {self.names[last]}, which is after {n_pools} 2×2 "
                             f"poolings: it needs at least {2 ** n_pools} pixels per side")
        wanted = set(layers)
        out = {}
        a = x * self.input_scale + self.input_shift
        pool = F.max_pool2d if self.pool == "max" else F.avg_pool2d
        for name in self.names[:last + 1]:
            if name.startswith("conv"):
                a = F.relu(getattr(self, name)(a))
            else:
                a = pool(a, 2)
            if name in wanted:
                out[name] = a
        return out

    # ------------------------------------------------------------ weights
    @classmethod
    def from_weights(cls, weights: VGGWeights, pool="max"):
        """An extractor holding ``weights`` (from :func:`load_vgg_weights`)."""
        model = cls(weights.arch, pool=pool, widths=weights.widths,
                    preprocess=weights.preprocess)
        for name, (W, b) in weights.convs.items():
            conv = getattr(model, name)
            conv.W.data = W.astype(np.float32, copy=True)
            conv.b.data = b.astype(np.float32, copy=True)
        return model

    @classmethod
    def from_vgg(cls, vgg, pool="max", preprocess="caffe"):
        """An extractor with the convolutions of a :class:`minicnn.models.VGG` (VGG-16 or
        VGG-19 without batch norm), e.g. one loaded from torchvision's state dict."""
        convs = [m for m in vgg.features if isinstance(m, nn.Conv2d)]
        arch = {13: "vgg16", 16: "vgg19"}.get(len(convs))
        if arch is None or any(isinstance(m, nn.BatchNorm2d) for m in vgg.features):
            raise ValueError(f"VGGFeatures.from_vgg: expected VGG-16 or VGG-19 without batch "
                             f"norm, got {len(convs)} convolutions")
        weights = VGGWeights(arch, dict(zip(conv_names(arch), ((c.W.numpy(), c.b.numpy())
                                                                for c in convs))),
                             PREPROCESS[preprocess] if isinstance(preprocess, str)
                             else preprocess, type(vgg).__name__)
        return cls.from_weights(weights, pool=pool)

    def vgg_weights(self):
        """This extractor's weights as :class:`VGGWeights` (host arrays)."""
        convs = {n: (getattr(self, n).W.numpy(), getattr(self, n).b.numpy())
                 for n in conv_names(self.arch)}
        return VGGWeights(self.arch, convs, self.preprocess, "VGGFeatures")

    def extra_repr(self):
        return f"arch={self.arch!r}, pool={self.pool!r}, preprocess={self.preprocess.name!r}"


def load_vgg_features(path=None, pool="max", preprocess="auto", device="cpu"):
    """``VGGFeatures`` with pretrained weights from ``path`` (None: the default weights,
    see :func:`~minicnn.apps.style.weights.find_default_weights`), on ``device``."""
    model = VGGFeatures.from_weights(load_vgg_weights(path, preprocess), pool=pool)
    return model.to(device)
