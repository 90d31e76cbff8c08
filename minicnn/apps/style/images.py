"""Images for style transfer: load, resize, save (Pillow), and the demo images.

An image here is a float32 NumPy array ``(n_H, n_W, 3)``, RGB, values in [0, 1]: the
space in which the pixels are optimised and clipped. Network-specific preprocessing
(BGR, mean subtraction, ×255) happens later, inside the feature extractor.

Sizes: ``size`` is an int (the longer side, aspect ratio kept) or ``(n_H, n_W)``.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["load_image", "resize_image", "save_image", "target_size", "default_content_image",
           "default_style_path", "SKIMAGE_IMAGES"]

ASSETS = Path(__file__).resolve().parents[2] / "data" / "assets"
STARRY_NIGHT = ASSETS / "starry_night_512.jpg"
# Demo photographs that scikit-image ships (CONTENT may name one instead of a file).
SKIMAGE_IMAGES = ("chelsea", "astronaut", "coffee", "rocket", "cat")


def _pil():
    try:
        from PIL import Image
    except ImportError as e:                      # pragma: no cover - Pillow is in [data]
        raise ImportError("style transfer reads and writes images with Pillow: "
                          "pip install Pillow (or pip install 'minicnn[data]')") from e
    return Image


def target_size(shape, size):
    """``(n_H, n_W)`` for an image of ``shape`` resized to ``size`` (None: unchanged)."""
    n_H, n_W = shape[:2]
    if size is None:
        return n_H, n_W
    if isinstance(size, (int, np.integer)):
        if size < 1:
            raise ValueError(f"size must be a positive int or (n_H, n_W), got {size}")
        scale = size / max(n_H, n_W)
        return max(1, round(n_H * scale)), max(1, round(n_W * scale))
    size = tuple(int(s) for s in size)
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"size must be a positive int or (n_H, n_W), got {size}")
    return size


def _to_uint8(img):
    img = np.asarray(img)
    if img.dtype == np.uint8:
        return img
    return (np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def resize_image(img, size):
    """Resize a ``(n_H, n_W, 3)`` image (uint8 or float in [0, 1]) with Lanczos filtering;
    returns float32 in [0, 1]."""
    Image = _pil()
    n_H, n_W = target_size(np.shape(img), size)
    pil = Image.fromarray(_to_uint8(img))
    if pil.size != (n_W, n_H):
        pil = pil.resize((n_W, n_H), Image.LANCZOS)
    return np.asarray(pil, dtype=np.float32) / 255.0


def load_image(source, size=None):
    """An RGB float32 image ``(n_H, n_W, 3)`` in [0, 1] from a path, a scikit-image demo
    name (``"chelsea"``, ``"astronaut"``…), a PIL image or an array; resized to ``size``."""
    Image = _pil()
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists() and str(source) in SKIMAGE_IMAGES:
            arr = _skimage(str(source))
        elif not path.exists():
            raise FileNotFoundError(f"image {str(source)!r} not found (expected an image file "
                                    f"or one of the demo names {SKIMAGE_IMAGES})")
        else:
            with Image.open(path) as im:
                arr = np.asarray(im.convert("RGB"))
    elif isinstance(source, Image.Image):
        arr = np.asarray(source.convert("RGB"))
    else:
        arr = np.asarray(source)
        if arr.ndim == 4 and arr.shape[0] == 1:
            arr = arr[0]
        if arr.ndim == 2:
            arr = np.repeat(arr[..., None], 3, axis=-1)
        if arr.ndim != 3 or arr.shape[-1] not in (3, 4):
            raise ValueError(f"image: expected an array (n_H, n_W, 3), got shape {arr.shape}")
        arr = arr[..., :3]
        if arr.dtype != np.uint8:
            if arr.min() < 0 or arr.max() > 1:
                raise ValueError(f"image: a float image must be in [0, 1], got values in "
                                 f"[{arr.min():.3g}, {arr.max():.3g}]")
            arr = arr.astype(np.float32)
    if size is None:
        return arr.astype(np.float32) / 255.0 if arr.dtype == np.uint8 else arr
    return resize_image(arr, size)


def save_image(img, path):
    """Write a float image in [0, 1] (``(n_H, n_W, 3)`` or ``(1, n_H, n_W, 3)``) as PNG/JPEG
    (by the file extension); values outside [0, 1] are clipped."""
    Image = _pil()
    arr = np.asarray(img.numpy() if hasattr(img, "numpy") else img)
    if arr.ndim == 4 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 3 or arr.shape[-1] != 3:
        raise ValueError(f"save_image: expected an image (n_H, n_W, 3), got shape {arr.shape}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(_to_uint8(arr)).save(path)
    return path


def _skimage(name):
    try:
        from skimage import data
    except ImportError as e:
        raise ImportError(f"the demo image {name!r} comes from scikit-image: pip install "
                          "scikit-image (or give an image file)") from e
    return np.asarray(getattr(data, name)())[..., :3]


def default_content_image(size=None, name="chelsea"):
    """The demo content photo: scikit-image's ``chelsea()`` (a cat) by default."""
    return load_image(name, size)


def default_style_path() -> Path:
    """The shipped style image: Van Gogh's *The Starry Night* (1889, public domain),
    512 px wide, its frame cropped."""
    return STARRY_NIGHT
