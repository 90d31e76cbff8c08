"""Getting face images into the shape the encoder expects: ``(m, n_H, n_W, n_C)`` float32
in [0, 1], grey (n_C = 1) or RGB (n_C = 3).

Accepted inputs, one image or many:

==========================  =================================================
a path (str or Path)        read with Pillow, converted, resized
``(n_H, n_W)`` array        one grey image
``(n_H, n_W, C)``, C ∈ 1,3,4  one image, channels last
``(m, n_H, n_W)`` array     m grey images (C not in 1, 3, 4: e.g. Olivetti's 64)
``(m, n_H, n_W, C)`` array  m images
a list of any of these      stacked
==========================  =================================================

uint8 arrays are divided by 255; float arrays are taken to be in [0, 1] already (as
``load_olivetti`` gives them). Colour becomes grey with Pillow's luma weights
L = 0.299 R + 0.587 G + 0.114 B; a different size is resized bilinearly (Pillow
smooths when it shrinks, so downscaling does not alias).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["load_image", "prepare_images"]

_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def load_image(path, size=None, n_C=1):
    """One image file as an ``(n_H, n_W, n_C)`` float32 array in [0, 1]."""
    from PIL import Image
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image {str(path)!r} does not exist")
    try:
        with Image.open(path) as img:
            img = img.convert("L" if n_C == 1 else "RGB")
            if size is not None and img.size != (size[1], size[0]):
                img = img.resize((size[1], size[0]), Image.BILINEAR)
            x = np.asarray(img, dtype=np.float32) / 255
    except OSError as e:
        raise ValueError(f"cannot read image {str(path)!r}: {e}") from e
    return x[..., None] if x.ndim == 2 else x


def _resize(x, size):
    """(n_H, n_W, n_C) float → (size[0], size[1], n_C), channel by channel in Pillow's 'F'."""
    from PIL import Image
    if x.shape[:2] == tuple(size):
        return x
    chans = [np.asarray(Image.fromarray(np.ascontiguousarray(x[..., c]))
                        .resize((size[1], size[0]), Image.BILINEAR)) for c in range(x.shape[2])]
    return np.stack(chans, axis=-1)


def _channels(x, n_C):
    if x.shape[-1] == 4:
        x = x[..., :3]                        # drop alpha
    if x.shape[-1] == n_C:
        return x
    if n_C == 1:
        return (x @ _LUMA)[..., None]
    return np.repeat(x, n_C, axis=-1)         # grey → RGB


def _as_batch(a):
    """An array as ``(m, n_H, n_W, C)`` following the table in the module docstring."""
    if a.ndim == 2:
        return a[None, :, :, None]
    if a.ndim == 3:
        return a[None] if a.shape[-1] in (1, 3, 4) else a[..., None]
    if a.ndim == 4:
        return a
    raise ValueError(f"images: got an array of shape {a.shape}; expected (n_H, n_W), "
                     "(n_H, n_W, C), (m, n_H, n_W) or (m, n_H, n_W, C)")


def prepare_images(images, size=None, n_C=1):
    """Any of the accepted inputs → ``(m, size[0], size[1], n_C)`` float32 in [0, 1]."""
    if n_C not in (1, 3):
        raise ValueError(f"n_C: got {n_C}, expected 1 (grey) or 3 (RGB)")
    if isinstance(images, (str, Path)):
        return load_image(images, size, n_C)[None]
    if isinstance(images, (list, tuple)):
        if not images:
            raise ValueError("images: got an empty list")
        return np.concatenate([prepare_images(im, size, n_C) for im in images])
    a = np.asarray(images)
    if a.dtype == np.uint8:
        a = a.astype(np.float32) / 255
    elif np.issubdtype(a.dtype, np.floating):
        a = a.astype(np.float32, copy=False)
    else:
        raise ValueError(f"images: got dtype {a.dtype}; expected uint8 (0..255) or float "
                         "(0..1) pixels")
    batch = _as_batch(a)
    batch = np.stack([_channels(x, n_C) for x in batch]) if batch.shape[-1] != n_C else batch
    if size is not None and batch.shape[1:3] != tuple(size):
        batch = np.stack([_resize(x, size) for x in batch])
    return np.ascontiguousarray(batch, dtype=np.float32)
