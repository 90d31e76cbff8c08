"""``DataLoader``: iterate over a dataset in (shuffled) mini-batches on the device.

::

    loader = DataLoader(TensorDataset(X, y), batch_size=64, shuffle=True, seed=0)
    for epoch in range(n_epochs):
        for X_batch, y_batch in loader:     # Tensors on minicnn.get_device()
            ...

Each pass (epoch) visits every example once, in a new random order when ``shuffle``.
The orders come from the loader's own ``numpy.random.Generator``: seeded by ``seed``,
or, when ``seed`` is None, from a seed drawn from minicnn's host generator when the
loader is built, so a program that starts with ``minicnn.manual_seed(s)`` sees the same
batches every run.

========================  ===================================================================
batch                     shape
========================  ===================================================================
images ``X_batch``        ``(batch_size, n_H, n_W, n_C)``, float32 (floating data is cast to
                          ``dtype``, float32 by default, so a float64 array can't silently
                          upcast a float32 network)
labels ``y_batch``        ``(batch_size,)``, the dataset's integer dtype (int64 from the readers)
last batch                ``m mod batch_size`` examples, or dropped when ``drop_last``
========================  ===================================================================

``state_dict()`` / ``load_state_dict()`` save and restore the generator and the position
inside the current epoch, so a run resumed from a checkpoint sees the same batches as one
that never stopped.
"""
from __future__ import annotations

import copy
import math
import numbers

import numpy as np

from .. import backend
from ..autograd import Tensor
from .dataset import as_generator, fetch_batch

__all__ = ["DataLoader"]


class DataLoader:
    """``DataLoader(dataset, batch_size=32, shuffle=False, drop_last=False, collate_fn=None,
    seed=None, device=None, dtype=float32)``.

    - ``collate_fn(list_of_examples) -> batch``: replaces the default stacking (and
      the dataset's fast ``get_batch``); arrays in what it returns still become Tensors.
    - ``device``: where batches go; None means ``minicnn.get_device()`` at each epoch.
    """

    def __init__(self, dataset, batch_size=32, shuffle=False, drop_last=False,
                 collate_fn=None, seed=None, device=None, dtype=np.float32):
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) \
                or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"DataLoader: collate_fn must be callable, got {collate_fn!r}")
        self.dataset, self.batch_size = dataset, int(batch_size)
        self.shuffle, self.drop_last, self.collate_fn = bool(shuffle), bool(drop_last), collate_fn
        self.device = None if device is None else backend.normalize_device(device)
        self.dtype = dtype
        self.rng = as_generator(seed) if self.shuffle else None
        self._in_epoch = False
        self._epoch_start = None     # generator state before this epoch's permutation
        self._batches_done = 0
        self._skip = 0               # batches to skip in the next epoch (after a resume)

    def __len__(self):
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self):
        n, bs = len(self.dataset), self.batch_size
        self._in_epoch = True
        if self.shuffle:
            self._epoch_start = copy.deepcopy(self.rng.bit_generator.state)
            order = self.rng.permutation(n)
        else:
            order = np.arange(n)
        device = self.device or backend.get_device()
        first, self._skip = self._skip, 0
        for b in range(first, len(self)):
            indices = order[b * bs:(b + 1) * bs]
            if self.collate_fn is None:
                batch = fetch_batch(self.dataset, indices)
            else:
                batch = self.collate_fn([self.dataset[int(i)] for i in indices])
            self._batches_done = b + 1
            yield self._to_tensors(batch, device)
        self._in_epoch, self._batches_done = False, 0

    def _to_tensors(self, batch, device):
        if isinstance(batch, tuple):
            return tuple(self._to_tensors(x, device) for x in batch)
        if isinstance(batch, dict):
            return {k: self._to_tensors(v, device) for k, v in batch.items()}
        if isinstance(batch, Tensor):
            return batch.to(device)
        if isinstance(batch, np.ndarray):
            if self.dtype is not None and np.issubdtype(batch.dtype, np.floating):
                batch = batch.astype(self.dtype, copy=False)
            return Tensor(batch, device=device)
        return batch

    # ------------------------------------------------------------ resuming
    def state_dict(self) -> dict:
        """Where the loader is: its generator's state and the batches done this epoch."""
        mid_epoch = self._in_epoch
        if self.rng is None:
            rng = None
        elif mid_epoch:
            rng = copy.deepcopy(self._epoch_start)
        else:
            rng = copy.deepcopy(self.rng.bit_generator.state)
        return {"rng": rng, "batches_done": self._batches_done if mid_epoch else 0}

    def load_state_dict(self, state: dict) -> None:
        """Continue from ``state``: the next epoch redraws the saved epoch's order and
        skips the batches already done."""
        if state.get("rng") is not None:
            if self.rng is None:
                raise ValueError("DataLoader.load_state_dict: the state is from a shuffling "
                                 "loader, this one has shuffle=False")
            self.rng.bit_generator.state = state["rng"]
        self._skip = int(state.get("batches_done", 0))
        self._in_epoch, self._batches_done = False, 0

    def __repr__(self):
        return (f"DataLoader({type(self.dataset).__name__} of {len(self.dataset)}, "
                f"batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"drop_last={self.drop_last})")
