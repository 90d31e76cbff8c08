"""Per-channel sums, and per-channel elementwise ops, over channels-last data: the work of
BatchNorm and of a bias.

Channels-last data is a matrix a (N, n_C) with one column per channel, and these sums
run down its columns. NumPy reduces ``a.sum(axis=0)`` row by row, an inner loop of n_C
values; with few channels (16 or 32, the early layers of a CNN) that loop is too short
to be fast. Viewing k consecutive rows as one row of k·n_C values, the same memory,
lets the inner loop run over about ``SUM_ROW`` values; the k partial sums per channel are
then added up (rows left over when k does not divide N are summed as they are). With
16 channels that is several times faster; from a few hundred channels on, the same.

Elementwise ops with a per-channel vector (``a − μ``, ``a ⊙ γ``) are slow for another
reason: NumPy runs a broadcast operation through its buffered iterator (buffers of
``np.getbufsize()`` = 8,192 values) unless a row is longer than half a buffer, and the
buffered path is the slow one (measured: the threshold moves with ``np.setbufsize``).
:func:`per_channel` therefore runs them on rows of just over half a buffer against the
vector tiled k times, which NumPy runs at about the speed of ``a − 1.5``.
``python benchmarks/batchnorm.py`` times BatchNorm, which is built on these.

==========  ==================  ===========================================
function    computes            shapes
==========  ==================  ===========================================
column_sum  Σ_i a[i, c]         a (N, n_C) → (n_C,)
column_dot  Σ_i a[i, c]·b[i, c]  a, b (N, n_C) → (n_C,)
per_channel op(a[i, c], v[c])   a (N, n_C), v (n_C,) → (N, n_C)
add_bias    Z[…, c] += b[c]      Z (m, …, n_C), b (n_C,), in place
==========  ==================  ===========================================
"""
from __future__ import annotations

import numpy as np

from ..backend import get_array_module

__all__ = ["column_sum", "column_dot", "per_channel", "add_bias"]

#: About how many values the inner loop of a column sum / column dot should run over.
SUM_ROW = 2048
DOT_ROW = 1024


def _rows_per_row(a, row: int) -> int:
    """k: how many rows of ``a`` to view as one row of at least ``row`` values; 1 where
    that would not help (small, strided or device arrays)."""
    N, n_C = a.shape
    k = -(-row // max(n_C, 1))
    # Small arrays: the few microseconds of regrouping cost more than the short loops.
    if (k == 1 or N < 4 * k or type(a) is not np.ndarray
            or not a.flags.c_contiguous):
        return 1
    return k


def _wide(a, k: int):
    """The first N − N mod k rows of a (N, n_C) as wide rows of k·n_C values, and the rest."""
    q = a.shape[0] // k * k
    return a[:q].reshape(-1, k * a.shape[1]), a[q:]


def column_sum(a):
    """Σ_i a[i, c] for a (N, n_C): the per-channel sum, as ``a.sum(axis=0)``."""
    k = _rows_per_row(a, SUM_ROW)
    if k == 1:
        return a.sum(axis=0)
    wide, rest = _wide(a, k)
    s = wide.sum(axis=0).reshape(k, -1).sum(axis=0)
    return s + rest.sum(axis=0) if len(rest) else s


def column_dot(a, b):
    """Σ_i a[i, c]·b[i, c] for a, b (N, n_C): per-channel dot products, in one pass."""
    xp = get_array_module(a)
    k = min(_rows_per_row(a, DOT_ROW), _rows_per_row(b, DOT_ROW))
    if k == 1:
        return xp.einsum("ij,ij->j", a, b)
    (wa, ra), (wb, rb) = _wide(a, k), _wide(b, k)
    s = xp.einsum("ij,ij->j", wa, wb).reshape(k, -1).sum(axis=0)
    return s + xp.einsum("ij,ij->j", ra, rb) if len(ra) else s


def per_channel(op, a, v, out=None):
    """``op(a, v, out=out)`` for a (N, n_C) and a per-channel vector v (n_C,), a NumPy
    ufunc such as ``np.subtract``, on rows longer than half NumPy's buffer (see the
    module's docstring). Returns out (a new array when None; ``out=a`` works in place)."""
    if out is None:
        xp = np if type(a) is np.ndarray else get_array_module(a)
        out = xp.empty(a.shape, xp.result_type(a, v))
    row = np.getbufsize() // 2 + 1
    k = min(_rows_per_row(a, row), _rows_per_row(out, row))
    if k == 1:
        return op(a, v, out=out)
    (wa, ra), (wo, ro) = _wide(a, k), _wide(out, k)
    op(wa, np.tile(v, k), out=wo)
    if len(ra):
        op(ra, v, out=ro)
    return out


def add_bias(Z, b):
    """``Z += b`` in place, b along the last axis of Z (the channels), as :func:`per_channel`
    does it where Z is contiguous (a reshape of it is then a view that can take the sum)."""
    if not Z.flags.c_contiguous:
        Z += b
        return Z
    Z2 = Z.reshape(-1, Z.shape[-1])
    per_channel(get_array_module(Z).add, Z2, b, out=Z2)
    return Z
