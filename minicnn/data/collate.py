"""``default_collate``: stack a list of examples into one batch.

=====================================  ========================================
each example is                        the batch is
=====================================  ========================================
an array of shape s                    an array of shape ``(m,) + s`` (stacked)
a Python int / float / bool            an int64 / float32 / bool array ``(m,)``
a tuple or list of fields              a tuple: each field collated
a dict                                 a dict: each value collated
a string                               a list of the m strings
=====================================  ========================================
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import backend

__all__ = ["default_collate"]


def default_collate(samples):
    """One batch from the list ``samples`` (see the table above)."""
    if not samples:
        raise ValueError("default_collate: got an empty list of examples")
    first = samples[0]
    if isinstance(first, (tuple, list)):
        if any(len(s) != len(first) for s in samples):
            raise ValueError(f"default_collate: examples have different numbers of fields "
                             f"({sorted({len(s) for s in samples})})")
        return tuple(default_collate([s[i] for s in samples]) for i in range(len(first)))
    if isinstance(first, dict):
        return {k: default_collate([s[k] for s in samples]) for k in first}
    if isinstance(first, str):
        return list(samples)
    if isinstance(first, bool):
        return np.array(samples, dtype=bool)
    if isinstance(first, numbers.Integral) and not isinstance(first, np.generic):
        return np.array(samples, dtype=np.int64)
    if isinstance(first, float):
        return np.array(samples, dtype=np.float32)
    arrays = [np.asarray(backend.to_numpy(getattr(s, "data", s))) for s in samples]
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise ValueError(f"default_collate: examples have different shapes {sorted(shapes)}; "
                         "resize them to one size (e.g. load_image_folder(size=...)) or pass "
                         "a collate_fn")
    return np.stack(arrays)
