"""The course's ``.h5`` datasets: SIGNS (hand signs 0–5) and Happy House (smiling or not).

Each file holds one split::

    train_set_x / test_set_x    uint8 (m, 64, 64, 3)   RGB images, channels-last
    train_set_y / test_set_y    int64 (m,)             labels
    list_classes                (n_classes,)           the class labels

===============  ======================  ===========================
dataset          files                   sizes
===============  ======================  ===========================
SIGNS            train_signs.h5          1,080 train, 120 test, 6 classes
                 test_signs.h5
Happy House      train_happy.h5          600 train, 150 test, 2 classes
                 test_happy.h5
===============  ======================  ===========================

The files come with the course's programming assignments (the ``datasets/`` folder of
"Convolutional Neural Networks", weeks 1 and 2, of the Deep Learning Specialization).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ._common import Labelled, TrainTest, missing, need, to_float

__all__ = ["load_h5_dataset", "load_signs", "load_happy_house"]

_HOW = ("It ships with the programming assignments of the deeplearning.ai course "
        "'Convolutional Neural Networks' (Coursera Deep Learning Specialization), in the "
        "assignment's datasets/ folder (SIGNS: week 1, 'Convolution model - Application'; "
        "Happy House: week 1/2 Keras assignments). Copy it there and pass its path")


def load_h5_dataset(path, raw=False) -> Labelled:
    """``X, y, classes`` from one course ``.h5`` file (whichever split it holds).

    ``X``: ``(m, n_H, n_W, n_C)`` float32 in [0, 1] (pixel / 255), uint8 if ``raw``;
    ``y``: ``(m,)`` int64 (the files' ``(1, m)`` row vector is flattened);
    ``classes``: the list of class labels from ``list_classes``.
    """
    path = Path(path)
    if not path.is_file():
        raise missing(path, "the course dataset file", _HOW)
    h5py = need("h5py")
    with h5py.File(path, "r") as f:
        xs = sorted(k for k in f.keys() if k.endswith("_set_x"))
        if len(xs) != 1 or xs[0][:-1] + "y" not in f:
            raise ValueError(f"load_h5_dataset: {path} should hold one '<split>_set_x' and "
                             f"'<split>_set_y' pair, found keys {sorted(f.keys())}")
        images = f[xs[0]][()]
        labels = f[xs[0][:-1] + "y"][()]
        classes = f["list_classes"][()] if "list_classes" in f else np.unique(labels)
    labels = np.asarray(labels).reshape(-1).astype(np.int64)
    if len(labels) != len(images):
        raise ValueError(f"load_h5_dataset: {path} has {len(images)} images but "
                         f"{len(labels)} labels")
    classes = [c.decode() if isinstance(c, bytes) else c.item() for c in np.asarray(classes)]
    X = images if raw else to_float(images, 255)
    return Labelled(X, labels, classes)


def _load_pair(path, train_name, test_name, split, raw, who):
    path = Path(path)
    if path.is_file():
        return load_h5_dataset(path, raw)
    if split not in (None, "train", "test"):
        raise ValueError(f"{who}: split must be None (both), 'train' or 'test', got {split!r}")
    if not path.is_dir():
        raise missing(path, f"the directory with {train_name} and {test_name}", _HOW)
    if split is not None:
        return load_h5_dataset(path / (train_name if split == "train" else test_name), raw)
    train = load_h5_dataset(path / train_name, raw)
    test = load_h5_dataset(path / test_name, raw)
    return TrainTest(train.X, train.y, test.X, test.y, test.classes)


def load_signs(path, split=None, raw=False):
    """The SIGNS dataset (hand signs for 0–5, 64×64 RGB).

    ``path`` is a directory with ``train_signs.h5`` and ``test_signs.h5`` (returns a
    :class:`TrainTest`; with ``split="train"`` or ``"test"`` only that one, as
    ``X, y, classes``) or one ``.h5`` file (returns its ``X, y, classes``).
    """
    return _load_pair(path, "train_signs.h5", "test_signs.h5", split, raw, "load_signs")


def load_happy_house(path, split=None, raw=False):
    """The Happy House dataset (smiling or not, 64×64 RGB): as :func:`load_signs`, with
    ``train_happy.h5`` and ``test_happy.h5``."""
    return _load_pair(path, "train_happy.h5", "test_happy.h5", split, raw, "load_happy_house")
