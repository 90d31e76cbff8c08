"""The datasets ``minicnn train`` and ``minicnn evaluate`` know by name.

Each gives float32 NHWC images, int64 labels and a train/test split, resized or padded
to the input the model expects (LeNet-5 wants 32×32: digits are upsampled, MNIST is
zero-padded by 2 as in the original paper).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..data import load_digits, load_mnist, load_signs
from ..data.readers import FASHION_MNIST_DIR

__all__ = ["DATASETS", "load_dataset", "fit_to_shape"]

SIGNS_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "signs"

# name -> (natural input shape, number of classes, default data directory)
DATASETS = {
    "digits": ((8, 8, 1), 10, None),
    "mnist": ((28, 28, 1), 10, None),
    "fashion-mnist": ((28, 28, 1), 10, FASHION_MNIST_DIR),
    "signs": ((64, 64, 3), 6, SIGNS_DIR),
}


def load_dataset(name, data_dir=None, seed=0):
    """``(X_train, y_train, X_test, y_test, input_shape, num_classes)`` for ``name``."""
    if name not in DATASETS:
        raise ValueError(f"--dataset: got {name!r}, expected one of {sorted(DATASETS)}")
    shape, k, default_dir = DATASETS[name]
    data_dir = data_dir or default_dir
    if name == "digits":
        X_tr, y_tr, X_te, y_te, _ = load_digits(test_size=0.2, seed=seed)
    elif name in ("mnist", "fashion-mnist"):
        if data_dir is None:
            raise ValueError("--dataset mnist needs --data-dir: the folder with the idx files")
        X_tr, y_tr = load_mnist(data_dir, "train")
        X_te, y_te = load_mnist(data_dir, "t10k")
    else:
        X_tr, y_tr, X_te, y_te = _load_signs(data_dir, seed)
    return X_tr, y_tr, X_te, y_te, shape, k


def _load_signs(data_dir, seed):
    """SIGNS from a directory with both files, or only ``test_signs.h5`` (then split 50/50,
    stratified and seeded, since the training file is not always at hand)."""
    data_dir = Path(data_dir)
    if (data_dir / "train_signs.h5").is_file() or data_dir.is_file():
        d = load_signs(data_dir)
        if hasattr(d, "X_train"):
            return d.X_train, d.y_train, d.X_test, d.y_test
        X, y = d.X, d.y
    else:
        X, y, _ = load_signs(data_dir / "test_signs.h5")
    rng = np.random.default_rng(seed)
    train_idx, test_idx = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        train_idx += list(idx[: len(idx) // 2])
        test_idx += list(idx[len(idx) // 2:])
    return X[train_idx], y[train_idx], X[test_idx], y[test_idx]


def fit_to_shape(X: np.ndarray, shape) -> np.ndarray:
    """Bring images ``(m, h, w, c)`` to ``shape = (H, W, C)``: zero-pad when they are
    smaller by an even margin (MNIST 28 → 32), else resize bilinearly; grey ↔ RGB by
    repeating or averaging channels."""
    H, W, C = shape
    m, h, w, c = X.shape
    if c != C:
        X = np.repeat(X, C, axis=-1) if c == 1 else X.mean(axis=-1, keepdims=True)
    if (h, w) == (H, W):
        return X.astype(np.float32, copy=False)
    if H >= h and W >= w and (H - h) % 2 == 0 and (W - w) % 2 == 0 and H - h <= 8:
        ph, pw = (H - h) // 2, (W - w) // 2
        return np.pad(X, ((0, 0), (ph, ph), (pw, pw), (0, 0))).astype(np.float32)
    return _resize_bilinear(X, H, W)


def _resize_bilinear(X, H, W):
    """Bilinear resampling with aligned pixel centres, vectorised over the batch."""
    m, h, w, c = X.shape
    ys = np.clip((np.arange(H) + 0.5) * h / H - 0.5, 0, h - 1)
    xs = np.clip((np.arange(W) + 0.5) * w / W - 0.5, 0, w - 1)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    wy, wx = (ys - y0)[None, :, None, None], (xs - x0)[None, None, :, None]
    top = X[:, y0][:, :, x0] * (1 - wx) + X[:, y0][:, :, x1] * wx
    bottom = X[:, y1][:, :, x0] * (1 - wx) + X[:, y1][:, :, x1] * wx
    return (top * (1 - wy) + bottom * wy).astype(np.float32)
