"""Resizing ops: zero-padding of the spatial axes, and 2-D upsampling (nearest, bilinear).

=============  ===========================  =====================================
op             input                        output
=============  ===========================  =====================================
zero_pad       ``(m, n_H, n_W, n_C)``        ``(m, n_H + p_top + p_bottom,``
               (any number of spatial axes)  ``n_W + p_left + p_right, n_C)``
upsample2d     ``(m, n_H, n_W, n_C)``        ``(m, s_H·n_H, s_W·n_W, n_C)``
=============  ===========================  =====================================
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function, as_tensor
from ..backend import get_array_module
from .math import pad as _pad

__all__ = ["zero_pad", "upsample2d"]


# ------------------------------------------------------------------ zero_pad
def zero_pad(x, pad):
    """Surround the spatial axes of ``x`` with zeros; the example and channel axes are left alone.

    ``pad`` is an int (every side of every spatial axis), one int per spatial axis (both
    sides), or one ``(before, after)`` pair per spatial axis, e.g. ``((top, bottom), (left,
    right))`` as Keras's ``ZeroPadding2D``.

    Forward:  X_pad[i, p_top + h, p_left + w, c] = X[i, h, w, c], and 0 in the border.
    Backward: ∂J/∂X = dX_pad with the border cut off, dX_pad[:, p_top : p_top + n_H,
    p_left : p_left + n_W, :].

    Shapes: ``(m, n_H, n_W, n_C)`` → ``(m, n_H + p_top + p_bottom, n_W + p_left + p_right,
    n_C)``; 1-D ``(m, n_L, n_C)`` and 3-D ``(m, n_D, n_H, n_W, n_C)`` likewise.
    """
    x = as_tensor(x)
    d = x.ndim - 2
    if d < 1:
        raise ValueError(f"zero_pad: x must be channels-last (m, spatial..., n_C) with at least "
                         f"one spatial axis, got shape {x.shape}")
    expected = (f"an int ≥ 0, {d} ints or {d} (before, after) pairs for the spatial axes of "
                f"a tensor of shape {x.shape}")
    if isinstance(pad, (int, np.integer)) and not isinstance(pad, bool):
        pairs = ((int(pad), int(pad)),) * d
    else:
        try:
            items = tuple(pad)
            pairs = tuple((int(p), int(p)) if isinstance(p, (int, np.integer))
                          else tuple(int(q) for q in p) for p in items)
        except (TypeError, ValueError):
            raise ValueError(f"zero_pad: pad must be {expected}, got {pad!r}") from None
        if len(pairs) != d or any(len(p) != 2 for p in pairs):
            raise ValueError(f"zero_pad: pad must be {expected}, got {pad!r}")
    if any(p < 0 for pair in pairs for p in pair):
        raise ValueError(f"zero_pad: pad must be {expected}, got {pad!r} (negative)")
    return _pad(x, ((0, 0),) + pairs + ((0, 0),), 0.0)


# ---------------------------------------------------------------- upsampling
class UpsampleNearest(Function):
    """Nearest-neighbour upsampling by integer factors (s_H, s_W): each cell becomes a block.

    Forward:  A[i, h, w, c] = A_prev[i, ⌊h / s_H⌋, ⌊w / s_W⌋, c].
    Backward: each input cell fed a whole s_H×s_W block, so its gradient is the block's sum:
              ∂J/∂A_prev[i, h, w, c] = Σ_{a < s_H, b < s_W} dA[i, h·s_H + a, w·s_W + b, c].

    ``(m, n_H, n_W, n_C)`` → ``(m, s_H·n_H, s_W·n_W, n_C)``.
    """

    def __init__(self, scale):
        self.s_H, self.s_W = scale

    def forward(self, a_prev):
        xp = get_array_module(a_prev)
        m, n_H, n_W, n_C = self.x_shape = a_prev.shape
        blocks = xp.broadcast_to(a_prev[:, :, None, :, None, :],
                                 (m, n_H, self.s_H, n_W, self.s_W, n_C))
        return blocks.reshape(m, n_H * self.s_H, n_W * self.s_W, n_C)

    def backward(self, dA):
        m, n_H, n_W, n_C = self.x_shape
        return dA.reshape(m, n_H, self.s_H, n_W, self.s_W, n_C).sum(axis=(2, 4))


def _interpolation_matrix(n, s, dtype):
    """M (s·n, n) with A = M @ A_prev along one axis: linear interpolation at half-pixel centres.

    Output cell o sits at input coordinate x = (o + ½) / s − ½, clamped to [0, n − 1]; it takes
    (1 − λ)·A_prev[⌊x⌋] + λ·A_prev[⌊x⌋ + 1], λ = x − ⌊x⌋ (the last cell is repeated at the
    edge). This is PyTorch's ``align_corners=False`` and Keras's ``UpSampling2D`` bilinear.
    """
    x = np.clip((np.arange(n * s) + 0.5) / s - 0.5, 0, n - 1)
    lo = np.floor(x).astype(int)
    hi = np.minimum(lo + 1, n - 1)
    lam = x - lo
    M = np.zeros((n * s, n))
    rows = np.arange(n * s)
    M[rows, lo] += 1 - lam
    M[rows, hi] += lam
    return M.astype(dtype)


class UpsampleBilinear(Function):
    """Bilinear upsampling by integer factors (s_H, s_W), half-pixel centres.

    Bilinear interpolation is linear and separable: one interpolation matrix per axis,
    M_H ``(s_H·n_H, n_H)`` and M_W ``(s_W·n_W, n_W)`` (see ``_interpolation_matrix``), so

    Forward:  A[i, :, :, c] = M_H · A_prev[i, :, :, c] · M_Wᵀ
    Backward: ∂J/∂A_prev[i, :, :, c] = M_Hᵀ · dA[i, :, :, c] · M_W     (the transposed maps)

    Both are two batched matmuls (along H, then along W). The matrices are dense, so the cost
    is O(n_H·s_H·n_H) per column: fine for feature maps, wasteful for very large images.
    ``(m, n_H, n_W, n_C)`` → ``(m, s_H·n_H, s_W·n_W, n_C)``.
    """

    def __init__(self, scale):
        self.s_H, self.s_W = scale

    def forward(self, a_prev):
        xp = get_array_module(a_prev)
        m, n_H, n_W, n_C = self.x_shape = a_prev.shape
        dtype = a_prev.dtype if np.issubdtype(a_prev.dtype, np.floating) else np.float64
        self.M_H = xp.asarray(_interpolation_matrix(n_H, self.s_H, dtype))
        self.M_W = xp.asarray(_interpolation_matrix(n_W, self.s_W, dtype))
        # Along H: (s_H·n_H, n_H) @ (m, n_H, n_W·n_C); along W: (s_W·n_W, n_W) @ (m, ·, n_W, n_C).
        rows = (self.M_H @ a_prev.reshape(m, n_H, n_W * n_C)).reshape(m, -1, n_W, n_C)
        return self.M_W @ rows

    def backward(self, dA):
        xp = get_array_module(dA)
        m, n_H, n_W, n_C = self.x_shape
        d_rows = xp.swapaxes(self.M_W, 0, 1) @ dA                   # (m, s_H·n_H, n_W, n_C)
        d_rows = d_rows.reshape(m, -1, n_W * n_C)
        return (xp.swapaxes(self.M_H, 0, 1) @ d_rows).reshape(m, n_H, n_W, n_C)


def upsample2d(x, scale, mode="nearest"):
    """Upsample ``x`` ``(m, n_H, n_W, n_C)`` → ``(m, s_H·n_H, s_W·n_W, n_C)`` by integer factors.

    ``scale`` is an int or ``(s_H, s_W)``. ``mode``:

    - ``"nearest"``: A[i, h, w, c] = x[i, ⌊h/s_H⌋, ⌊w/s_W⌋, c]; backward: the sum of dA over
      each s_H×s_W block (:class:`UpsampleNearest`).
    - ``"bilinear"``: linear interpolation at half-pixel centres, edges repeated (PyTorch
      ``align_corners=False``, Keras ``UpSampling2D(interpolation="bilinear")``); backward:
      the transposed interpolation (:class:`UpsampleBilinear`).
    """
    x = as_tensor(x)
    if x.ndim != 4:
        raise ValueError(f"upsample2d: x must be 4-D channels-last (m, n_H, n_W, n_C), "
                         f"got shape {x.shape}")
    pair = (scale, scale) if isinstance(scale, (int, np.integer)) else tuple(scale)
    if (len(pair) != 2 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                  and v >= 1 for v in pair)):
        raise ValueError(f"upsample2d: scale must be a positive int or a pair (s_H, s_W) of "
                         f"positive ints, got {scale!r}")
    pair = (int(pair[0]), int(pair[1]))
    if mode == "nearest":
        return UpsampleNearest(pair)(x)
    if mode == "bilinear":
        return UpsampleBilinear(pair)(x)
    raise ValueError(f"upsample2d: mode must be 'nearest' or 'bilinear', got {mode!r}")
