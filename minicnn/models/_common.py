"""Helpers the model files share: checking ``input_shape``, counting parameters."""
from __future__ import annotations

import numpy as np

__all__ = ["InputTooSmall", "check_input_shape", "count_parameters", "spatial_after"]


class InputTooSmall(ValueError):
    """A model's ``input_shape`` is smaller than its downsampling allows; ``min_size`` is
    the smallest n_H and n_W it takes (``minicnn train`` resizes the images to it)."""

    def __init__(self, message, min_size):
        super().__init__(message)
        self.min_size = min_size


def check_input_shape(input_shape, model, min_size=1):
    """``(n_H, n_W, n_C)`` as three positive ints, at least ``min_size`` pixels high and wide;
    otherwise a ValueError that names the model and says what it expected."""
    try:
        n_H, n_W, n_C = (int(n) for n in input_shape)
        ok = all(int(n) == n for n in input_shape)
    except (TypeError, ValueError):
        ok = False
    if not ok or min(n_H, n_W, n_C) < 1:
        raise ValueError(f"{model}: input_shape must be one image's (n_H, n_W, n_C), channels "
                         f"last and without the batch axis, e.g. (224, 224, 3); got "
                         f"{input_shape!r}")
    if min(n_H, n_W) < min_size:
        raise InputTooSmall(f"{model}: input_shape {tuple(input_shape)} is too small: this "
                            f"network needs images of at least {min_size}×{min_size} (its "
                            "strides and pools would leave nothing)", min_size)
    return n_H, n_W, n_C


def spatial_after(n, f, s, p):
    """n_out = floor((n + 2p − f) / s) + 1, the course's formula for one axis."""
    return (n + 2 * p - f) // s + 1


def count_parameters(model, trainable_only=False, buffers=False) -> int:
    """Number of parameters (elements). ``buffers=True`` adds the floating-point buffers
    (BatchNorm's running mean and variance), which is what Keras's "Total params"
    counts; PyTorch's ``sum(p.numel())`` counts parameters only."""
    n = sum(p.size for p in model.parameters() if p.requires_grad or not trainable_only)
    if buffers:
        n += sum(b.size for b in model.buffers() if np.issubdtype(b.dtype, np.floating))
    return int(n)
