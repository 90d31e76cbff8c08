"""What the readers share: the train/test tuple, missing-file errors, optional imports."""
from __future__ import annotations

import os
from typing import NamedTuple, Optional

import numpy as np


class TrainTest(NamedTuple):
    """A dataset that comes split: ``X_train, y_train, X_test, y_test, classes = ...``."""
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    classes: Optional[list] = None


class Labelled(NamedTuple):
    """One split of a labelled dataset: ``X, y, classes = ...``."""
    X: np.ndarray
    y: np.ndarray
    classes: Optional[list] = None


def missing(path, what: str, how: str) -> FileNotFoundError:
    """The error for an absent data file: where we looked, and how to get it."""
    return FileNotFoundError(f"{what} not found at {os.fspath(path)!r}. {how} "
                             "(minicnn never downloads data.)")


def need(module: str, extra: str = "data"):
    """Import an optional dependency or say how to install it."""
    import importlib
    try:
        return importlib.import_module(module)
    except ImportError as e:
        top = module.split(".")[0]
        pip_name = {"PIL": "Pillow", "sklearn": "scikit-learn"}.get(top, top)
        raise ImportError(f"this reader needs {pip_name}: pip install {pip_name} "
                          f"(or pip install 'minicnn[{extra}]')") from e


def to_float(images: np.ndarray, scale: float) -> np.ndarray:
    """uint8 pixels to float32 in [0, 1]."""
    return images.astype(np.float32) / np.float32(scale)


def add_channel_axis(images: np.ndarray) -> np.ndarray:
    """(m, n_H, n_W) grey images to (m, n_H, n_W, 1): minicnn is channels-last throughout."""
    return images[..., None] if images.ndim == 3 else images
