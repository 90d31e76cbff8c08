"""Transforms and data augmentation on NumPy images, channels-last.

Every transform takes one image ``(n_H, n_W, n_C)`` or a batch ``(m, n_H, n_W, n_C)``
and returns the same kind. Random ones draw, for a batch, one independent choice per
image, from their own generator (``rng=`` a seed or a ``numpy.random.Generator``) or,
when ``rng`` is None, from minicnn's host generator (``minicnn.manual_seed``).

==========================  ==================================================================
transform                   what it does to each image x
==========================  ==================================================================
``ToFloat(scale=255)``      uint8 → float32 x / scale
``Normalize(mean, std)``    (x − μ_c) / σ_c per channel c (``Normalize.fit(X)`` computes μ, σ)
``RandomHorizontalFlip(p)``  mirror left–right with probability p
``RandomCrop(size, padding)``  pad by p on each side, cut a random size window
``ColorShift(shift)``       add a random offset ~ U(−shift, shift) to each channel
``PCAColorAugmentation``    add Σ_i α_i λ_i p_i to every pixel, α_i ~ N(0, std) (AlexNet)
``RandomRotation(degrees)``  rotate by a random angle in [−degrees, degrees], bilinear
``Compose([t1, t2, ...])``  t1, then t2, ...
==========================  ==================================================================

Flips and crops keep the dtype; the others return float32 (float64 stays float64).
They are meant for training data only: evaluate on un-augmented images.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from .dataset import as_generator

__all__ = ["Transform", "Compose", "ToFloat", "Normalize", "RandomHorizontalFlip", "RandomCrop",
           "RandomErasing", "ColorShift", "PCAColorAugmentation", "RandomRotation", "rotate",
           "zoom", "bilinear_sample"]


def _float(x):
    return x if x.dtype in (np.float32, np.float64) else x.astype(np.float32)


class Transform:
    """Base class: ``apply(batch)`` on ``(m, n_H, n_W, n_C)``; single images are made a
    batch of one and back."""

    def __call__(self, x):
        x = np.asarray(x)
        if x.ndim == 3:
            return self.apply(x[None])[0]
        if x.ndim == 4:
            return self.apply(x)
        raise ValueError(f"{type(self).__name__}: expected an image (n_H, n_W, n_C) or a batch "
                         f"(m, n_H, n_W, n_C), got shape {x.shape}")

    def apply(self, batch):
        raise NotImplementedError

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"


class RandomTransform(Transform):
    """A transform that draws random numbers from ``rng`` (or the host generator)."""

    def __init__(self, rng=None):
        self._rng = None if rng is None else as_generator(rng, "rng")

    @property
    def rng(self) -> np.random.Generator:
        return self._rng if self._rng is not None else backend.get_rng()


class Compose(Transform):
    """Apply ``transforms`` in order."""

    def __init__(self, transforms):
        self.transforms = list(transforms)
        for t in self.transforms:
            if not callable(t):
                raise TypeError(f"Compose: {t!r} is not callable")

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x

    def apply(self, batch):
        return self(batch)


class ToFloat(Transform):
    """Integer pixels to float32 in [0, 1]: ``x / scale`` (255 for uint8)."""

    def __init__(self, scale=255.0):
        self.scale = float(scale)

    def apply(self, batch):
        return batch.astype(np.float32) / np.float32(self.scale)


class Normalize(Transform):
    """``(x − mean) / std`` per channel; ``mean``, ``std`` are numbers or ``(n_C,)`` arrays."""

    def __init__(self, mean, std):
        self.mean = np.asarray(mean, dtype=np.float32)
        self.std = np.asarray(std, dtype=np.float32)
        if np.any(self.std <= 0):
            raise ValueError(f"Normalize: std must be > 0, got {self.std}")

    @classmethod
    def fit(cls, X):
        """μ_c and σ_c of each channel over every pixel of every image in ``X``."""
        X = np.asarray(X)
        axes = tuple(range(X.ndim - 1))            # accumulate in float64, without a copy
        mean, std = X.mean(axis=axes, dtype=np.float64), X.std(axis=axes, dtype=np.float64)
        return cls(mean, np.maximum(std, 1e-8))

    def apply(self, batch):
        batch = _float(batch)
        n_C = batch.shape[-1]
        if self.mean.size not in (1, n_C) or self.std.size not in (1, n_C):
            raise ValueError(f"Normalize: mean {self.mean.shape} / std {self.std.shape} do not "
                             f"match n_C = {n_C} channels")
        return (batch - self.mean.astype(batch.dtype)) / self.std.astype(batch.dtype)


class RandomHorizontalFlip(RandomTransform):
    """Mirror each image left–right (along n_W) with probability ``p``."""

    def __init__(self, p=0.5, rng=None):
        super().__init__(rng)
        if not 0 <= p <= 1:
            raise ValueError(f"RandomHorizontalFlip: p must be in [0, 1], got {p}")
        self.p = p

    def apply(self, batch):
        flip = self.rng.random(len(batch)) < self.p
        out = batch.copy()
        out[flip] = batch[flip, :, ::-1]
        return out


class RandomCrop(RandomTransform):
    """Pad each image by ``padding`` on every side, then cut a random ``size`` window.

    ``size``: int or (h, w), None for the input's size (then it is a random shift by up to
    ``padding`` pixels, the CIFAR recipe ``RandomCrop(32, padding=4)``). ``padding_mode``:
    "constant" (``fill``), "edge" or "reflect", as in ``numpy.pad``.
    """

    def __init__(self, size=None, padding=0, fill=0, padding_mode="constant", rng=None):
        super().__init__(rng)
        self.size = (size, size) if isinstance(size, int) else size
        self.padding = (padding, padding) if isinstance(padding, int) else tuple(padding)
        if min(self.padding) < 0:
            raise ValueError(f"RandomCrop: padding must be >= 0, got {padding}")
        self.fill, self.padding_mode = fill, padding_mode

    def apply(self, batch):
        m, n_H, n_W, _ = batch.shape
        p_H, p_W = self.padding
        h, w = self.size or (n_H, n_W)
        if h > n_H + 2 * p_H or w > n_W + 2 * p_W:
            raise ValueError(f"RandomCrop: size ({h}, {w}) is larger than the padded image "
                             f"({n_H + 2 * p_H}, {n_W + 2 * p_W})")
        pad = ((0, 0), (p_H, p_H), (p_W, p_W), (0, 0))
        kw = {"constant_values": self.fill} if self.padding_mode == "constant" else {}
        padded = np.pad(batch, pad, mode=self.padding_mode, **kw) if p_H or p_W else batch
        top = self.rng.integers(0, n_H + 2 * p_H - h + 1, size=m)
        left = self.rng.integers(0, n_W + 2 * p_W - w + 1, size=m)
        rows = (top[:, None] + np.arange(h))[:, :, None]       # (m, h, 1)
        cols = (left[:, None] + np.arange(w))[:, None, :]      # (m, 1, w)
        return padded[np.arange(m)[:, None, None], rows, cols]


class RandomErasing(RandomTransform):
    """With probability ``p``, blank a random rectangle of each image (Zhong et al., 2017).

    The rectangle covers a fraction of the image drawn from U(``scale``) with an aspect
    ratio h/w drawn log-uniformly from ``ratio``, and is filled with ``value`` (a number,
    or "random" for uniform noise in [0, 1)). A network that must recognise a picture
    with any part of it missing cannot lean on one small region: a regulariser for
    small datasets (faces, person re-identification).
    """

    def __init__(self, p=0.5, scale=(0.02, 0.2), ratio=(0.3, 3.3), value=0.0, rng=None):
        super().__init__(rng)
        if not 0 <= p <= 1:
            raise ValueError(f"RandomErasing: p must be in [0, 1], got {p}")
        if not 0 < scale[0] <= scale[1] <= 1:
            raise ValueError(f"RandomErasing: scale must be (lo, hi) with 0 < lo ≤ hi ≤ 1, "
                             f"got {scale}")
        if not 0 < ratio[0] <= ratio[1]:
            raise ValueError(f"RandomErasing: ratio must be (lo, hi) with 0 < lo ≤ hi, got "
                             f"{ratio}")
        if value != "random" and not isinstance(value, (int, float)):
            raise ValueError(f"RandomErasing: value must be a number or 'random', got {value!r}")
        self.p, self.scale, self.ratio, self.value = p, tuple(scale), tuple(ratio), value

    def apply(self, batch):
        out = _float(batch).copy()
        m, n_H, n_W, n_C = out.shape
        rng = self.rng
        for i in np.nonzero(rng.random(m) < self.p)[0]:
            area = rng.uniform(*self.scale) * n_H * n_W
            aspect = np.exp(rng.uniform(np.log(self.ratio[0]), np.log(self.ratio[1])))
            h = int(min(n_H, max(1, round(np.sqrt(area * aspect)))))
            w = int(min(n_W, max(1, round(np.sqrt(area / aspect)))))
            top, left = rng.integers(0, n_H - h + 1), rng.integers(0, n_W - w + 1)
            fill = rng.random((h, w, n_C)) if self.value == "random" else self.value
            out[i, top:top + h, left:left + w] = fill
        return out


class ColorShift(RandomTransform):
    """Add an offset drawn from U(−shift, shift) to each channel of each image (in the
    images' own units: 0.1 is 10% of the range of [0, 1] images). ``clip``: an optional
    (low, high) range to clip the result to."""

    def __init__(self, shift=0.1, clip=None, rng=None):
        super().__init__(rng)
        self.shift, self.clip = float(shift), clip

    def apply(self, batch):
        batch = _float(batch)
        m, n_C = len(batch), batch.shape[-1]
        offset = self.rng.uniform(-self.shift, self.shift, size=(m, 1, 1, n_C))
        out = batch + offset.astype(batch.dtype)
        return out if self.clip is None else np.clip(out, *self.clip).astype(batch.dtype)


class PCAColorAugmentation(RandomTransform):
    """AlexNet's colour augmentation (Krizhevsky et al., 2012, section 4.1).

    :meth:`fit` finds the principal components of the RGB values over a dataset:
    the eigenvalues λ_i and eigenvectors p_i of the 3×3 covariance of all its pixels. Each
    image then gets the same colour added to every pixel::

        x ← x + [p_1 p_2 p_3] [α_1 λ_1, α_2 λ_2, α_3 λ_3]ᵀ,   α_i ~ N(0, std²), std = 0.1

    so intensity and colour of the lighting change along the directions natural images vary
    in, while the object stays the same. ``eigvals`` (3,) and ``eigvecs`` (3, 3, columns
    p_i) may be given instead of fitting.
    """

    def __init__(self, std=0.1, eigvals=None, eigvecs=None, rng=None):
        super().__init__(rng)
        self.std = float(std)
        self.eigvals = None if eigvals is None else np.asarray(eigvals, dtype=np.float64)
        self.eigvecs = None if eigvecs is None else np.asarray(eigvecs, dtype=np.float64)

    def fit(self, X):
        """Principal components of the colours of ``X`` (m, n_H, n_W, n_C). Returns self."""
        X = np.asarray(X)
        pixels = X.reshape(-1, X.shape[-1]).astype(np.float64)
        cov = np.cov(pixels, rowvar=False)
        self.eigvals, self.eigvecs = np.linalg.eigh(np.atleast_2d(cov))
        return self

    def apply(self, batch):
        if self.eigvals is None:
            raise RuntimeError("PCAColorAugmentation: call .fit(X_train) first (or pass "
                               "eigvals and eigvecs)")
        n_C = batch.shape[-1]
        if self.eigvals.shape != (n_C,):
            raise ValueError(f"PCAColorAugmentation: fitted on {len(self.eigvals)} channels, "
                             f"got images with n_C = {n_C}")
        batch = _float(batch)
        alpha = self.rng.normal(0.0, self.std, size=(len(batch), n_C))
        delta = (alpha * self.eigvals) @ self.eigvecs.T           # (m, n_C): Σ α_i λ_i p_i
        return batch + delta[:, None, None, :].astype(batch.dtype)


class RandomRotation(RandomTransform):
    """Rotate each image counter-clockwise by an angle drawn from U(−degrees, degrees),
    about its centre, with bilinear interpolation; corners that come from outside the
    image get ``fill``. See :func:`rotate`."""

    def __init__(self, degrees=10.0, fill=0.0, rng=None):
        super().__init__(rng)
        self.degrees, self.fill = float(degrees), fill

    def apply(self, batch):
        angles = self.rng.uniform(-self.degrees, self.degrees, size=len(batch))
        return rotate(batch, angles, fill=self.fill)


def rotate(images, angles, fill=0.0):
    """Rotate ``images`` (m, n_H, n_W, n_C) counter-clockwise by ``angles`` (m,) degrees.

    Each output pixel (row i, column j), measured from the centre c = ((n_H−1)/2, (n_W−1)/2)
    as x = j − c_x, y = i − c_y (y grows downwards), takes its value from the source point
    found by rotating back::

        x_s = x cos θ − y sin θ + c_x,    y_s = x sin θ + y cos θ + c_y

    read by bilinear interpolation between the four pixels around (y_s, x_s): with
    y₀ = ⌊y_s⌋, x₀ = ⌊x_s⌋, a = y_s − y₀, b = x_s − x₀,
    value = (1−a)(1−b) I[y₀, x₀] + (1−a) b I[y₀, x₀+1] + a (1−b) I[y₀+1, x₀] + a b I[y₀+1, x₀+1],
    where a pixel outside the image counts as ``fill``. θ = 90° gives ``np.rot90``.
    """
    images = _float(np.asarray(images))
    m, n_H, n_W, _ = images.shape
    theta = np.deg2rad(np.broadcast_to(np.asarray(angles, dtype=np.float64), (m,)))
    cos, sin = np.cos(theta)[:, None, None], np.sin(theta)[:, None, None]
    c_y, c_x = (n_H - 1) / 2, (n_W - 1) / 2
    y, x = np.meshgrid(np.arange(n_H) - c_y, np.arange(n_W) - c_x, indexing="ij")
    x_s = x * cos - y * sin + c_x                                   # (m, n_H, n_W)
    y_s = x * sin + y * cos + c_y
    # Snap coordinates that are integers up to rounding (cos 90° = 6e-17), so exact
    # quarter turns copy pixels instead of blending in a neighbour with weight 1e-16.
    x_s = np.where(np.abs(x_s - np.round(x_s)) < 1e-9, np.round(x_s), x_s)
    y_s = np.where(np.abs(y_s - np.round(y_s)) < 1e-9, np.round(y_s), y_s)
    return bilinear_sample(images, y_s, x_s, fill)


def zoom(images, scales):
    """Scale each image of ``images`` (m, n_H, n_W, n_C) about its centre by ``scales``
    (m,): > 1 blows a smaller window up to the full size, < 1 shrinks the picture, with
    the edge pixels repeated around it. The output pixel at (y, x) from the centre c
    reads the source point c + (y, x) / scale (clamped to the image) by bilinear
    interpolation (see :func:`bilinear_sample`)."""
    images = _float(np.asarray(images))
    m, n_H, n_W, _ = images.shape
    scale = np.broadcast_to(np.asarray(scales, dtype=np.float64), (m,))[:, None, None]
    c_y, c_x = (n_H - 1) / 2, (n_W - 1) / 2
    y, x = np.meshgrid(np.arange(n_H) - c_y, np.arange(n_W) - c_x, indexing="ij")
    y_s = np.clip(y / scale + c_y, 0, n_H - 1)                      # (m, n_H, n_W)
    x_s = np.clip(x / scale + c_x, 0, n_W - 1)
    return bilinear_sample(images, y_s, x_s)


def bilinear_sample(images, y_s, x_s, fill=0.0):
    """``images`` (m, n_H, n_W, n_C) read at the points (``y_s``, ``x_s``), each
    (m, n_H', n_W'), by bilinear interpolation: with y₀ = ⌊y_s⌋, x₀ = ⌊x_s⌋,
    a = y_s − y₀, b = x_s − x₀,
    value = (1−a)(1−b) I[y₀, x₀] + (1−a) b I[y₀, x₀+1] + a (1−b) I[y₀+1, x₀] + a b I[y₀+1, x₀+1],
    where a pixel outside the image counts as ``fill``."""
    m, n_H, n_W, _ = images.shape
    y0, x0 = np.floor(y_s).astype(np.int64), np.floor(x_s).astype(np.int64)
    a, b = (y_s - y0)[..., None], (x_s - x0)[..., None]
    batch_index = np.arange(m)[:, None, None]

    def pixel(yy, xx):
        inside = ((yy >= 0) & (yy < n_H) & (xx >= 0) & (xx < n_W))[..., None]
        values = images[batch_index, np.clip(yy, 0, n_H - 1), np.clip(xx, 0, n_W - 1)]
        return np.where(inside, values, fill)

    out = ((1 - a) * (1 - b) * pixel(y0, x0) + (1 - a) * b * pixel(y0, x0 + 1)
           + a * (1 - b) * pixel(y0 + 1, x0) + a * b * pixel(y0 + 1, x0 + 1))
    return out.astype(images.dtype)
