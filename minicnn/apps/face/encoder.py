"""``FaceEncoder``: a compact ResNet that maps a face to a 128-d unit vector f(x).

    x (m, n_H, n_W, n_C)
    → stem: 3×3 conv (stride 2 for inputs ≥ 64 px) → BN → ReLU
    → 3 stages of ``BasicBlock``s, each halving n_H, n_W and doubling the channels
    → global average pool (or flatten) → Linear → L2-normalise
    f(x) (m, 128), ‖f(x)‖ = 1

With unit-length encodings the squared distance d = ‖f(x₁) − f(x₂)‖² = 2 − 2 cos θ lies
in [0, 4], so a margin α = 0.2 and a threshold τ around 1 mean the same thing whatever
the scale the network would otherwise drift to.

Shape table for the default 32×32×1 input, ``width=16``, ``blocks=(1, 1, 1)``:

===========  ====================  ======================
layer        output                weights
===========  ====================  ======================
stem         (m, 32, 32, 16)       (3, 3, 1, 16)
stage 1      (m, 16, 16, 32)       BasicBlock 16 → 32, s 2
stage 2      (m, 8, 8, 64)         BasicBlock 32 → 64, s 2
stage 3      (m, 4, 4, 128)        BasicBlock 64 → 128, s 2
pool         (m, 128)
fc           (m, 128)              (128, 128)
f(x)         (m, 128), unit rows
===========  ====================  ======================

``encode(images)`` runs it in eval mode without recording a graph, in batches, on
anything :func:`~minicnn.apps.face.images.prepare_images` accepts (paths, arrays), and
returns a NumPy array: the ``encoder_fn`` a :class:`FaceDatabase` wants.
"""
from __future__ import annotations

import numpy as np

from ... import functional as F
from ... import nn
from ...autograd import Tensor, no_grad
from ...nn.blocks import BasicBlock
from .images import prepare_images

__all__ = ["FaceEncoder"]


class FaceEncoder(nn.Module):
    """Compact ResNet face encoder; see the module docstring for the architecture.

    Parameters
    ----------
    input_shape : (n_H, n_W, n_C) the images are resized/converted to.
    width : channels after the stem; the stages have 2·, 4·, 8·width.
    blocks : BasicBlocks per stage (the first of each has stride 2).
    embedding_dim : size of f(x) (128 in the course).
    pool : "avg" (global average: where a feature is on the face is forgotten) or
        "flatten" (the whole last feature map goes to the Linear, as in FaceNet's and
        DeepFace's fully connected heads: position on an aligned face is kept).
    dropout : before the last Linear, in training only.
    neck : a BatchNorm1d on the pooled features before the Linear. Pooled ReLU features
        are all positive, so at initialisation every f(x) points about the same way
        and all distances are near 0; centring them spreads the encodings over the
        sphere from the first step (and keeps batch-hard mining from collapsing).
    flip_test : what ``encode`` does by default: encode each face and its mirror image
        and average (saved with the model, so a database built on it does the same).
    """

    def __init__(self, input_shape=(32, 32, 1), width=16, blocks=(1, 1, 1), embedding_dim=128,
                 pool="avg", dropout=0.0, neck=True, flip_test=False):
        super().__init__()
        n_H, n_W, n_C = (int(v) for v in input_shape)
        if n_C not in (1, 3) or min(n_H, n_W) < 8:
            raise ValueError(f"FaceEncoder: input_shape must be (n_H ≥ 8, n_W ≥ 8, 1 or 3), "
                             f"got {tuple(input_shape)}")
        self.input_shape = (n_H, n_W, n_C)
        if pool not in ("avg", "flatten"):
            raise ValueError(f"FaceEncoder: pool must be 'avg' or 'flatten', got {pool!r}")
        self.config = dict(input_shape=list(self.input_shape), width=int(width),
                           blocks=[int(b) for b in blocks], embedding_dim=int(embedding_dim),
                           pool=pool, dropout=float(dropout), neck=bool(neck),
                           flip_test=bool(flip_test))
        self.flip_test = bool(flip_test)
        stem_stride = 2 if min(n_H, n_W) >= 64 else 1
        self.stem = nn.Sequential(nn.Conv2d(n_C, width, 3, stride=stem_stride, padding=1,
                                            bias=False),
                                  nn.BatchNorm2d(width), nn.ReLU())
        layers, c = [], width
        n_H, n_W = -(-n_H // stem_stride), -(-n_W // stem_stride)
        for n in blocks:
            for i in range(n):
                out = 2 * c if i == 0 else c
                layers.append(BasicBlock(c, out, stride=2 if i == 0 else 1))
                c = out
            n_H, n_W = -(-n_H // 2), -(-n_W // 2)
        self.stages = nn.Sequential(*layers)
        self.pool = nn.GlobalAvgPool2d() if pool == "avg" else nn.Flatten()
        n_features = c if pool == "avg" else c * n_H * n_W
        self.neck = nn.BatchNorm1d(n_features) if neck else nn.Identity()
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fc = nn.Linear(n_features, embedding_dim, init="glorot_uniform")
        self.embedding_dim = int(embedding_dim)

    def forward(self, x):
        a = self.neck(self.pool(self.stages(self.stem(x))))
        return F.l2_normalize(self.fc(self.dropout(a)))

    def prepare(self, images):
        """Paths or arrays → ``(m, n_H, n_W, n_C)`` float32 in [0, 1] for this encoder."""
        n_H, n_W, n_C = self.input_shape
        return prepare_images(images, (n_H, n_W), n_C)

    def encode(self, images, batch_size=128, flip=None):
        """f(x) of each image as a ``(m, embedding_dim)`` NumPy array (eval mode, no graph).

        ``flip``: test-time augmentation, f(x) + f(mirror image of x) normalised to unit
        length (a face and its mirror image are the same person, but with
        ``pool="flatten"`` the network does not see them the same way). On Olivetti it
        did not help (docs/face/margin/report.md). None: the encoder's ``flip_test``."""
        flip = self.flip_test if flip is None else flip
        X = self.prepare(images)
        was_training = self.training
        self.eval()
        try:
            with no_grad():
                device = self.stem[0].W.device
                out = [self(Tensor(X[i:i + batch_size], device=device)).numpy()
                       for i in range(0, len(X), batch_size)]
                if flip:
                    X = X[:, :, ::-1]
                    out = [a + self(Tensor(np.ascontiguousarray(X[i:i + batch_size]),
                                           device=device)).numpy()
                           for a, i in zip(out, range(0, len(X), batch_size))]
                    out = [a / np.linalg.norm(a, axis=1, keepdims=True) for a in out]
        finally:
            self.train(was_training)
        return np.concatenate(out).astype(np.float32)

    # ------------------------------------------------------------------ files
    def save(self, path, **extra):
        """Weights, buffers and the architecture in one ``.npz`` (written atomically)."""
        from pathlib import Path
        from ... import save as _save
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return _save({"config": self.config, "state": self.state_dict(), **extra}, path)

    @classmethod
    def load(cls, path):
        """``(encoder, extra)``: the encoder rebuilt from its saved architecture, and the other
        entries that were saved with it (threshold, training settings ...)."""
        from ... import load as _load
        obj = _load(path)
        if not isinstance(obj, dict) or "config" not in obj or "state" not in obj:
            raise ValueError(f"{path}: not a FaceEncoder file (expected 'config' and 'state' "
                             "entries, as FaceEncoder.save writes)")
        cfg = dict(obj["config"])
        model = cls(**cfg)
        model.load_state_dict(obj["state"])
        model.eval()
        return model, {k: v for k, v in obj.items() if k not in ("config", "state")}
