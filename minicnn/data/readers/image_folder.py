"""A folder of images, one sub-folder per class, read with Pillow::

    root/
      cat/  001.png  002.jpg ...
      dog/  a.png ...

Classes are the sub-folder names in sorted order, so label i is ``classes[i]``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ._common import Labelled, missing, need, to_float

__all__ = ["load_image_folder", "IMAGE_EXTENSIONS"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm",
                    ".pgm")


def load_image_folder(path, size=None, mode="RGB", raw=False) -> Labelled:
    """``X, y, classes`` from ``path``/<class>/<image files>.

    ``size``: (n_H, n_W) or an int to resize every image to (bilinear); without it all the
    images must already share one size. ``mode``: a Pillow mode, "RGB" (n_C = 3) or "L"
    (grey, n_C = 1).

    ``X``: ``(m, n_H, n_W, n_C)`` float32 in [0, 1] (uint8 if ``raw``); ``y``: ``(m,)`` int64;
    ``classes``: the sub-folder names. Files are read in sorted order.
    """
    root = Path(path)
    if not root.is_dir():
        raise missing(root, "the image folder", "Make a directory with one sub-folder of "
                      "images per class and pass its path")
    Image = need("PIL.Image")
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not classes:
        raise ValueError(f"load_image_folder: {root} has no class sub-folders; expected "
                         "root/<class name>/<image files>")
    if isinstance(size, int):
        size = (size, size)
    images, labels, first = [], [], None
    for label, name in enumerate(classes):
        for file in sorted((root / name).iterdir()):
            if file.suffix.lower() not in IMAGE_EXTENSIONS:
                continue
            with Image.open(file) as img:
                img = img.convert(mode)
                if size is not None and img.size != (size[1], size[0]):
                    img = img.resize((size[1], size[0]), Image.BILINEAR)   # Pillow: (W, H)
                a = np.asarray(img, dtype=np.uint8)
            a = a[..., None] if a.ndim == 2 else a
            if first is None:
                first = (file, a.shape)
            elif a.shape != first[1]:
                raise ValueError(f"load_image_folder: {file} is {a.shape[:2]} (n_H, n_W) but "
                                 f"{first[0]} is {first[1][:2]}; pass size=(n_H, n_W) to "
                                 "resize them all")
            images.append(a)
            labels.append(label)
    if not images:
        raise ValueError(f"load_image_folder: no image files ({', '.join(IMAGE_EXTENSIONS)}) "
                         f"in the sub-folders of {root}")
    X = np.stack(images)
    return Labelled(X if raw else to_float(X, 255), np.asarray(labels, dtype=np.int64), classes)
