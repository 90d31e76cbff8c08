"""MNIST and Fashion-MNIST from their idx files.

The idx format (LeCun's): a 4-byte magic number ``0 0 t d``, where t is the element type
(0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64) and d the
number of dimensions; then d big-endian uint32 sizes; then the elements, big-endian,
row-major. Files may be gzip-compressed (``.gz``); both are read.

A directory holds four files, ``{kind}-images-idx3-ubyte[.gz]`` and
``{kind}-labels-idx1-ubyte[.gz]`` for kind "train" (60,000) and "t10k" (10,000). On
Debian and Ubuntu, ``apt-get install dataset-fashion-mnist`` puts Fashion-MNIST's in
``/usr/share/datasets/fashion-mnist/``.
"""
from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from ._common import add_channel_axis, missing, to_float

__all__ = ["read_idx", "load_mnist", "load_fashion_mnist", "FASHION_MNIST_DIR",
           "FASHION_MNIST_CLASSES"]

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                         "Shirt", "Sneaker", "Bag", "Ankle boot"]
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_HOW = ("Fashion-MNIST: `apt-get install dataset-fashion-mnist` (Debian/Ubuntu; files go to "
        f"{FASHION_MNIST_DIR}/) or the files in data/fashion of "
        "https://github.com/zalandoresearch/fashion-mnist; MNIST: the four idx files from "
        "https://yann.lecun.com/exdb/mnist/ (or a mirror). Pass their directory as `path`")


def read_idx(path) -> np.ndarray:
    """The array stored in one idx file (gzip-compressed or not), in native byte order."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":                      # gzip's magic number
        data = gzip.decompress(data)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        raise ValueError(f"read_idx: {os.fspath(path)!r} is not an idx file (magic bytes "
                         f"{data[:4].hex()}, expected 0000 then a type code and a rank)")
    dtype, ndim = np.dtype(_IDX_TYPES[data[2]]), data[3]
    header = 4 + 4 * ndim
    shape = tuple(int(n) for n in np.frombuffer(data[4:header], dtype=">u4"))
    count = int(np.prod(shape))
    if len(data) - header != count * dtype.itemsize:
        raise ValueError(f"read_idx: {os.fspath(path)!r} declares shape {shape} "
                         f"({count * dtype.itemsize} bytes of data) but holds "
                         f"{len(data) - header}: the file is truncated or corrupt")
    array = np.frombuffer(data, dtype=dtype, count=count, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def _find(directory: Path, kind: str, what: str) -> Path:
    rank = 3 if what == "images" else 1
    names = [f"{kind}-{what}-idx{rank}-ubyte", f"{kind}-{what}.idx{rank}-ubyte"]
    for name in names:
        for candidate in (directory / name, directory / (name + ".gz")):
            if candidate.is_file():
                return candidate
    raise missing(directory / (names[0] + ".gz"), f"the MNIST-format {kind} {what} file", _HOW)


def load_mnist(path=FASHION_MNIST_DIR, kind="train", raw=False):
    """``(X, y)`` from the idx files of MNIST or Fashion-MNIST in directory ``path``.

    ``kind``: "train" (60,000 images) or "t10k" / "test" (10,000).

    ==========  ============================================================
    returns     shape, dtype
    ==========  ============================================================
    ``X``       ``(m, 28, 28, 1)`` float32 in [0, 1] (pixel / 255); uint8 if ``raw``
    ``y``       ``(m,)`` int64 class 0–9 (Fashion-MNIST: ``FASHION_MNIST_CLASSES``)
    ==========  ============================================================
    """
    kind = {"test": "t10k"}.get(kind, kind)
    if kind not in ("train", "t10k"):
        raise ValueError(f"load_mnist: kind must be 'train' or 't10k' (or 'test'), got {kind!r}")
    directory = Path(path)
    if not directory.is_dir():
        raise missing(directory, "the MNIST-format data directory", _HOW)
    images = read_idx(_find(directory, kind, "images"))
    labels = read_idx(_find(directory, kind, "labels"))
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"load_mnist: in {directory}, images {images.shape} and labels "
                         f"{labels.shape} do not match (expected (m, n_H, n_W) and (m,))")
    X = add_channel_axis(images)
    return (X if raw else to_float(X, 255)), labels.astype(np.int64)


def load_fashion_mnist(kind="train", path=FASHION_MNIST_DIR, raw=False):
    """Fashion-MNIST (Zalando): :func:`load_mnist` with the Debian package's directory."""
    return load_mnist(path, kind, raw)
