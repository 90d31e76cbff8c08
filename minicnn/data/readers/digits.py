"""scikit-learn's 8×8 handwritten digits: the built-in default dataset.

1,797 images of the digits 0–9, 8×8 pixels with values 0–16 (UCI "Optical Recognition of
Handwritten Digits"), shipped inside scikit-learn, so they need no download.
"""
from __future__ import annotations

import numpy as np

from ._common import TrainTest, add_channel_axis, need

__all__ = ["load_digits"]


def load_digits(test_size=None, seed=0, raw=False):
    """The digits as ``(X, y)``, or a :class:`TrainTest` split when ``test_size`` is given.

    ==========  ============================================================
    returns     shape, dtype
    ==========  ============================================================
    ``X``       ``(1797, 8, 8, 1)`` float32 in [0, 1] (pixel / 16); uint8 0–16 if ``raw``
    ``y``       ``(1797,)`` int64, the digit 0–9
    ==========  ============================================================

    ``test_size``: a fraction (e.g. 0.2) or a count of test examples, chosen by a
    permutation from ``numpy.random.default_rng(seed)``, so the split is the same on
    every machine and every run.
    """
    datasets = need("sklearn.datasets")
    bunch = datasets.load_digits()
    images = add_channel_axis(bunch.images.astype(np.uint8))
    X = images if raw else images.astype(np.float32) / np.float32(16)
    y = bunch.target.astype(np.int64)
    if test_size is None:
        return X, y
    m = len(y)
    n_test = int(round(test_size * m)) if isinstance(test_size, float) else int(test_size)
    if not 0 < n_test < m:
        raise ValueError(f"load_digits: test_size must give between 1 and {m - 1} test "
                         f"examples, got {test_size!r}")
    order = np.random.default_rng(seed).permutation(m)
    test, train = order[:n_test], order[n_test:]
    return TrainTest(X[train], y[train], X[test], y[test], list(range(10)))
