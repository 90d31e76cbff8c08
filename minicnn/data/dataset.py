"""``Dataset``, ``TensorDataset``, ``Subset`` and ``random_split``.

A dataset is anything with ``len(ds)`` and ``ds[i]`` giving one example, usually a tuple
``(x, y)`` of NumPy arrays/numbers. Datasets stay on the host (NumPy); the
:class:`~minicnn.data.DataLoader` batches examples and moves each batch to the device.

A dataset may also define ``get_batch(indices)``, returning the whole batch at once
(a tuple of stacked arrays). ``TensorDataset`` and ``Subset`` do: one fancy-indexing
per array instead of ``batch_size`` Python calls, which matters for small images.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .. import backend
from .collate import default_collate

__all__ = ["Dataset", "TensorDataset", "Subset", "random_split", "fetch_batch", "as_generator"]


class Dataset:
    """Base class: define ``__len__`` and ``__getitem__(i)``."""

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def __getitem__(self, i):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")


class TensorDataset(Dataset):
    """Examples are rows of equally long arrays: ``ds[i] == (X[i], y[i])``.

    ``TensorDataset(X, y, transform=None)``: ``X`` e.g. ``(m, n_H, n_W, n_C)`` images,
    ``y`` ``(m,)`` labels. Tensors are accepted and kept as host NumPy arrays.
    ``transform`` (e.g. a :class:`~minicnn.data.transforms.Compose` of augmentations) is
    applied to the first array's rows each time they are read: one image, or a whole
    batch at once in ``get_batch``.
    """

    def __init__(self, *arrays, transform=None):
        if not arrays:
            raise ValueError("TensorDataset: needs at least one array")
        arrays = tuple(np.asarray(backend.to_numpy(getattr(a, "data", a))) for a in arrays)
        m = len(arrays[0]) if arrays[0].ndim else None
        for i, a in enumerate(arrays):
            if a.ndim == 0 or len(a) != m:
                shapes = ", ".join(str(b.shape) for b in arrays)
                raise ValueError(f"TensorDataset: every array needs the same first dimension "
                                 f"(the number of examples m); got shapes {shapes} "
                                 f"(array {i} differs)")
        self.arrays, self.transform = arrays, transform

    def __len__(self):
        return len(self.arrays[0])

    def __getitem__(self, i):
        return self.get_batch(i)

    def get_batch(self, indices):
        """Rows ``indices`` (an int or an index array) of every array, transformed."""
        out = [a[indices] for a in self.arrays]
        if self.transform is not None:
            out[0] = self.transform(out[0])
        return tuple(out)


class Subset(Dataset):
    """The examples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64)

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, i):
        return self.dataset[int(self.indices[i])]

    def get_batch(self, indices):
        return fetch_batch(self.dataset, self.indices[indices])


def fetch_batch(dataset, indices):
    """Examples ``indices`` of ``dataset`` as one batch: ``dataset.get_batch`` when it has
    one, else the examples one by one, stacked by :func:`default_collate`."""
    get_batch = getattr(dataset, "get_batch", None)
    if get_batch is not None:
        return get_batch(indices)
    return default_collate([dataset[int(i)] for i in indices])


def as_generator(seed_or_rng, name="seed") -> np.random.Generator:
    """A ``numpy.random.Generator`` from a seed, a Generator (used as is) or None.

    None draws a seed from minicnn's host generator, so after ``minicnn.manual_seed(s)``
    the same program makes the same random choices.
    """
    if isinstance(seed_or_rng, np.random.Generator):
        return seed_or_rng
    if seed_or_rng is None:
        return np.random.default_rng(int(backend.get_rng().integers(2 ** 63)))
    if isinstance(seed_or_rng, numbers.Integral) and seed_or_rng >= 0:
        return np.random.default_rng(int(seed_or_rng))
    raise TypeError(f"{name}: got {seed_or_rng!r}, expected a non-negative int, a "
                    "numpy.random.Generator or None")


def random_split(dataset, lengths, seed=None):
    """Split ``dataset`` into non-overlapping random ``Subset``s of the given lengths.

    ``lengths`` are counts summing to ``len(dataset)``, or fractions summing to 1 (any
    remainder of the rounding goes to the first subsets, one example each).
    ``seed``: an int, a Generator, or None (drawn from minicnn's host generator).
    """
    n = len(dataset)
    lengths = list(lengths)
    if lengths and all(isinstance(x, float) for x in lengths) and math.isclose(sum(lengths), 1):
        counts = [int(math.floor(n * f)) for f in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    if (not lengths or any(not isinstance(x, numbers.Integral) or x < 0 for x in lengths)
            or sum(lengths) != n):
        raise ValueError(f"random_split: lengths must be non-negative ints summing to "
                         f"len(dataset) = {n}, or fractions summing to 1; got {lengths}")
    order = as_generator(seed).permutation(n)
    bounds = np.cumsum([0] + lengths)
    return [Subset(dataset, order[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
