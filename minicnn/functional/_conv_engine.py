"""The convolution engine on raw arrays: im2col + GEMM, and the depthwise multiply-add.

:mod:`minicnn.functional.conv` holds the differentiable ops and their formulas;
this file holds the loops that make them fast. Three functions cover every
convolution and its gradients:

=======================  ==================================  ==========================
function                 computes                            used for
=======================  ==================================  ==========================
``conv_gemm``            Z = im2col(x) @ W,                  conv forward, conv dW,
                         dW = im2col(x)ᵀ @ dZ                conv_transpose backward
``conv_transpose_gemm``  dx = col2im(dZ @ Wᵀ)                conv dX, conv_transpose
                                                             forward
``depthwise_*``          Σ over kernel offsets of            groups = n_C_prev
                         shifted x ⊙ W[offset]: one einsum
                         over the windows view (no copy)
=======================  ==================================  ==========================

The GEMMs run a block of rows at a time (see :class:`~.im2col.Windows`): the
block's columns are copied into a reused buffer, so the extra memory is one block,
not the whole column matrix. With ``groups`` > 1 each group is its own GEMM on a
strided slice of the same block.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from ..backend import get_array_module
from . import _workspace
from ._reduce import add_bias, column_sum
from ._workspace import parallel_map, workspace
from .im2col import Geometry, Windows, interior, pad_into, row_blocks, window_view


def grouped_weight(W, groups: int):
    """W (*f, n_C_prev // groups, n_C) as (groups, prod(f)·n_C_prev // groups, n_C // groups)."""
    F, Cg, n_C = math.prod(W.shape[:-2]), W.shape[-2], W.shape[-1]
    return W.reshape(F, Cg, groups, n_C // groups).transpose(2, 0, 1, 3) \
            .reshape(groups, F * Cg, n_C // groups)


def _ungrouped_weight(Wg, W_shape):
    """The inverse of :func:`grouped_weight`."""
    groups, FCg, Ng = Wg.shape
    Cg = W_shape[-2]
    return Wg.reshape(groups, FCg // Cg, Cg, Ng).transpose(1, 2, 0, 3).reshape(W_shape)


def conv_gemm(x, W, g: Geometry, groups: int = 1, want_Z: bool = True, dZ=None):
    """Z = im2col(x) @ W (if ``want_Z``) and dW = im2col(x)ᵀ @ dZ (if ``dZ`` is given).

    x (m, *n_in, n_C_prev), W (*f, n_C_prev // groups, n_C), dZ and Z (m, *n_out, n_C).
    Both products share one im2col per block. Returns (Z or None, dW or None).
    """
    xp = get_array_module(x)
    m, n_C = x.shape[0], W.shape[-1]
    Ng = n_C // groups
    Wg = grouped_weight(W, groups)                      # (groups, K, Ng)
    win = Windows.of(x, g, groups)
    Z = xp.empty((m,) + g.n_out + (n_C,), x.dtype) if want_Z else None
    dWg = xp.zeros(Wg.shape, x.dtype) if dZ is not None else None
    for block in win.blocks():
        cols = win.take(block).reshape(-1, groups, Wg.shape[1])     # (rows, groups, K)
        for j in range(groups):
            if Z is not None:
                xp.matmul(cols[:, j], Wg[j], out=Z[block].reshape(-1, groups, Ng)[:, j])
            if dWg is not None:
                dWg[j] += cols[:, j].T @ dZ[block].reshape(-1, groups, Ng)[:, j]
    return Z, (None if dWg is None else _ungrouped_weight(dWg, W.shape))


def _full_padding(g: Geometry):
    """Padding that turns the transpose of a stride-1 conv into a plain conv, or None.

    The adjoint of Z[o] = Σ_k x[o + k·d − p_b] W[k] is dx[n] = Σ_k dZ[n + p_b − k·d] W[k]ᵀ;
    with k' = f − 1 − k that is a correlation of dZ, padded by d(f − 1) − p_b before
    and n − n' + p_b after, with the kernel flipped in space.
    """
    if any(s != 1 for s in g.s):
        return None
    pads = tuple((d * (f - 1) - pb, n - n_out + pb)
                 for n, n_out, f, d, (pb, _) in zip(g.n_in, g.n_out, g.f, g.d, g.pads))
    return pads if all(p >= 0 for pair in pads for p in pair) else None


def flipped_transposed_weight(W, groups: int):
    """The kernel of the adjoint conv: W flipped in space, its channel axes swapped per group.

    W (*f, Cg, groups·Ng) → Wt (*f, Ng, groups·Cg) with Wt[k', n, j·Cg + c] = W[f−1−k', c, j·Ng + n].
    """
    nd = W.ndim - 2
    f, Cg, Ng = W.shape[:-2], W.shape[-2], W.shape[-1] // groups
    flipped = W[(slice(None, None, -1),) * nd].reshape(f + (Cg, groups, Ng))
    return flipped.transpose(tuple(range(nd)) + (nd + 2, nd + 1, nd)).reshape(f + (Ng, groups * Cg))


#: col2im reads offset-major columns when a group has at most this many input channels.
BY_OFFSET_MAX_CHANNELS = 32


def conv_transpose_gemm(dZ, W, g: Geometry, x_shape, groups: int = 1):
    """dx = col2im(dZ @ Wᵀ): the adjoint of ``conv_gemm``'s Z = im2col(x) @ W.

    dZ (m, *n_out, n_C) → dx ``x_shape`` = (m, *n_in, n_C_prev). With stride 1 it is
    usually faster as a plain conv of the padded dZ with the flipped kernel (a copy and
    a GEMM, no accumulation); otherwise a GEMM into columns and col2im's strided adds,
    block by block.
    """
    xp = get_array_module(dZ)
    full = _full_padding(g)
    # The plain conv copies prod(f)·n_C values per input pixel; col2im's GEMM writes and its
    # adds update prod(f)·n_C_prev per output pixel, at about half the speed of a copy.
    copy_per_pixel, add_per_pixel = dZ.shape[-1], x_shape[-1]
    if full is not None and (math.prod(g.n_in) * copy_per_pixel
                             <= 2 * math.prod(g.n_out) * add_per_pixel):
        g_full = Geometry(g.n_out, g.f, g.s, g.d, full, g.n_in)
        return conv_gemm(dZ, flipped_transposed_weight(W, groups), g_full, groups)[0]
    Ng = W.shape[-1] // groups
    Wg = grouped_weight(W, groups)                      # (groups, K, Ng)
    win = Windows.zeros(x_shape, dZ.dtype, xp, g, groups)
    if xp is np and x_shape[-1] // groups <= BY_OFFSET_MAX_CHANNELS:
        return _col2im_by_offset(dZ, Wg, g, x_shape, groups, win)
    for block in win.blocks():
        rows = dZ[block]
        dcols = workspace("cols", rows.shape[:-1] + (groups,) + g.f + (x_shape[-1] // groups,),
                          dZ.dtype, xp)
        dcols_g = dcols.reshape(-1, groups, Wg.shape[1])
        rows = rows.reshape(-1, groups, Ng)
        for j in range(groups):
            xp.matmul(rows[:, j], Wg[j].T, out=dcols_g[:, j])
        win.add(block, dcols)
    return win.result()


def _col2im_by_offset(dZ, Wg, g: Geometry, x_shape, groups: int, win):
    """``conv_transpose_gemm``'s GEMM and col2im with the columns offset-major: for each
    kernel offset k, dcols[k] = dZ @ W[k]ᵀ (rows, n_C_prev) is one of a batch of GEMMs,
    so col2im's adds read contiguous rows (see :meth:`Windows.add_by_offset`).

    In the usual layout each add reads runs of n_C_prev // groups values, which NumPy
    walks slowly when they are short: LeNet's second conv (6 channels) spends most of its
    backward there (``python benchmarks/train.py``, LeNet-5 rows). From 64 channels on the
    batch of small GEMMs costs what the longer runs save, so those keep one GEMM per block."""
    F, Cg, Ng = math.prod(g.f), x_shape[-1] // groups, Wg.shape[-1]
    # W_k[j, k] = W[k]ᵀ of group j: (groups, F, Ng, Cg)
    W_k = np.ascontiguousarray(Wg.reshape(groups, F, Cg, Ng).transpose(0, 1, 3, 2))
    for block in win.blocks():
        rows = dZ[block]
        n_rows = math.prod(rows.shape[:-1])
        dcols = workspace("cols", (F, n_rows, groups, Cg), dZ.dtype, np)
        rows = rows.reshape(n_rows, groups, Ng)
        for j in range(groups):
            np.matmul(rows[None, :, j], W_k[j], out=dcols[:, :, j])
        win.add_by_offset(block, dcols)
    return win.result()


# ------------------------------------------------------------------ depthwise
def _offsets(g: Geometry):
    return list(itertools.product(*map(range, g.f)))


def _depthwise_blocks(xp, shape, g: Geometry, n_C: int, itemsize: int):
    """Blocks of whole examples (so that threads write disjoint parts of dx)."""
    if xp is not np:
        return [(slice(None),)]
    return row_blocks(shape[0], g.n_out, n_C * itemsize, _workspace.ELEMENTWISE_BLOCK_BYTES,
                      split_rows=False)


def _rows(a):
    """(…, n_W', n_C) as (…, n_W'·n_C) when that is a view (stride 1 along n_W'), else None.

    Multiplying by a per-channel vector tiled to n_W'·n_C then runs one long loop per row
    instead of one short loop of n_C per pixel.
    """
    if a.strides[-2] == a.shape[-1] * a.strides[-1]:
        return a.reshape(a.shape[:-2] + (a.shape[-2] * a.shape[-1],))
    return None


def _mul_into(out, xs, w, w_rows, tmp):
    """``out += xs ⊙ w`` (``tmp`` given) or ``out = xs ⊙ w``, w broadcast along the channels."""
    xp = get_array_module(out)
    o, a, t = _rows(out), _rows(xs), None if tmp is None else _rows(tmp)
    if o is None or a is None or (tmp is not None and t is None):
        o, a, t, w_rows = out, xs, tmp, w
    if t is None:
        xp.multiply(a, w_rows, out=o)
    else:
        xp.multiply(a, w_rows, out=t)
        xp.add(o, t, out=o)


def _letters(nd: int):
    """einsum letters for the windows view: rows (m, *n_out) and kernel offsets (*f)."""
    return "mpqr"[:nd + 1], "uvw"[:nd]


def _row_windows(win, g: Geometry):
    """The windows view (mb, *n_out, *f, C) with its last output axis and C merged into one
    axis of rows (mb, *n_out[:-1], *f, n_out[-1]·C), when the stride along the last axis
    is 1 (output w + 1 then starts C values after output w); else None.

    einsum's inner loop then runs along a whole row (n_W'·C values) instead of the C
    values of one pixel, about twice as fast.
    """
    st, C, nd = win.strides, win.shape[-1], g.nd
    if g.s[-1] != 1 or st[-1] != win.itemsize or st[nd] != C * win.itemsize:
        return None
    shape = win.shape[:nd] + g.f + (g.n_out[-1] * C,)
    strides = st[:nd] + st[nd + 1:2 * nd + 1] + (st[-1],)
    return get_array_module(win).lib.stride_tricks.as_strided(win, shape, strides)


def _depthwise_block(x, W, g: Geometry, Z, b=None):
    """The work of :func:`depthwise_forward` on one block of examples, as a function."""
    xp = get_array_module(x)
    C, mult = x.shape[-1], W.shape[-1] // x.shape[-1]
    rows, kern = _letters(g.nd)
    if mult == 1:
        spec, Wk = f"{rows}{kern}c,{kern}c->{rows}c", W.reshape(g.f + (C,))
    else:
        spec, Wk = f"{rows}{kern}c,{kern}cj->{rows}cj", W.reshape(g.f + (C, mult))
    by_rows = mult == 1 and xp is np and g.s[-1] == 1       # see _row_windows
    if by_rows:
        row_spec = f"{rows[:-1]}{kern}l,{kern}l->{rows[:-1]}l"
        W_rows = xp.tile(Wk, g.n_out[-1])               # (*f, n_W'·C): W repeated per pixel

    def run(block):
        win = window_view(pad_into(x[block], g.pads, "pad"), g)       # (mb, *n_out, *f, C)
        Zb = Z[block]
        win_rows = _row_windows(win, g) if by_rows else None
        if win_rows is not None:
            xp.einsum(row_spec, win_rows, W_rows, out=Zb.reshape(win_rows.shape[:g.nd] + (-1,)))
        elif xp is np:
            xp.einsum(spec, win, Wk, out=Zb.reshape(Zb.shape[:-1] + Wk.shape[g.nd:]))
        else:                                   # CuPy's einsum has no out=
            Zb[...] = xp.einsum(spec, win, Wk).reshape(Zb.shape)
        if b is not None:
            add_bias(Zb, b)
    return run


def depthwise_forward(x, W, g: Geometry, b=None):
    """Z[…, c·k + j] = Σ_offsets x_pad[window + offset, c] · W[offset, 0, c·k + j] + b[c·k + j]

    with k = n_C / n_C_prev (b optional). One einsum per block of examples over the
    windows view of the padded block (no im2col copy, no GEMM): NumPy's
    sum-of-products loop multiplies and adds in one pass per kernel offset, where a
    multiply and an add would take two. Blocks of examples run on parallel threads
    (each pads its own examples, and adds the bias while its block of Z is in cache).
    """
    xp = get_array_module(x)
    Z = xp.empty((x.shape[0],) + g.n_out + (W.shape[-1],), x.dtype)
    parallel_map(_depthwise_block(x, W, g, Z, b),
                 _depthwise_blocks(xp, x.shape, g, W.shape[-1], x.dtype.itemsize))
    return Z


def depthwise_backward(x, W, dZ, g: Geometry, need_dx: bool, need_dW: bool,
                       need_db: bool = False):
    """The gradients of :func:`depthwise_forward`: (dx, dW, db), each None unless needed.

    With stride 1, dx is a depthwise conv of the padded dZ with the flipped kernel; it,
    the block's part of dW and of db = Σ dZ are computed in one pass over blocks of
    examples on the threads, while the block of dZ is in the cache. With strides, dx is
    a strided add per kernel offset (:func:`_depthwise_dx`), a pass of its own.
    """
    xp = get_array_module(dZ)
    C, mult, nd = x.shape[-1], W.shape[-1] // x.shape[-1], g.nd
    full = _full_padding(g) if need_dx and mult == 1 else None
    dx = _depthwise_dx(dZ, W, g, x.shape) if need_dx and full is None else None
    if full is not None:
        dx = xp.empty(x.shape, dZ.dtype)
        dx_block = _depthwise_block(dZ, flipped_transposed_weight(W, C),
                                    Geometry(g.n_out, g.f, g.s, g.d, full, g.n_in), dx)
    rows, kern = _letters(nd)

    def run(block):
        if full is not None:
            dx_block(block)
        dZb = dZ[block]
        dW = db = None
        if need_dW:          # dW[offset, c, j] = Σ_rows x_pad[window + offset, c] dZ[…, c, j]
            win = window_view(pad_into(x[block], g.pads, "pad"), g)  # (mb, *n_out, *f, C)
            win_rows = _row_windows(win, g) if mult == 1 and xp is np else None
            if win_rows is not None:     # per pixel of the last axis, then summed over it
                dW = xp.einsum(f"{rows[:-1]}{kern}l,{rows[:-1]}l->{kern}l", win_rows,
                               dZb.reshape(win_rows.shape[:nd] + (-1,)))
                dW = dW.reshape(g.f + (g.n_out[-1], C, 1)).sum(axis=nd)
            else:
                dW = xp.einsum(f"{rows}{kern}c,{rows}cj->{kern}cj", win,
                               dZb.reshape(dZb.shape[:-1] + (C, mult)))
        if need_db:
            db = column_sum(dZb.reshape(-1, dZb.shape[-1]))
        return dW, db
    if full is None and not (need_dW or need_db):
        return dx, None, None
    parts = parallel_map(run, _depthwise_blocks(xp, x.shape, g, W.shape[-1], x.dtype.itemsize))
    if not parts:                               # an empty batch: no block, zero gradients
        parts = [(xp.zeros(W.shape, dZ.dtype), xp.zeros(W.shape[-1], dZ.dtype))]
    dW = _sum_in_order([p[0] for p in parts]).reshape(W.shape) if need_dW else None
    db = _sum_in_order([p[1] for p in parts]) if need_db else None
    return dx, dW, db


def _sum_in_order(parts):
    """The blocks' parts added in block order, whichever thread ran them: reproducible."""
    return sum(parts[1:], parts[0])


def _depthwise_dx(dZ, W, g: Geometry, x_shape):
    """dx_pad[window + offset, c] += Σ_j dZ[…, c·k + j] W[offset, 0, c·k + j]: a strided add
    per kernel offset (for one offset the windows don't overlap), as col2im does."""
    xp = get_array_module(dZ)
    C, n_C = x_shape[-1], W.shape[-1]
    mult, nd = n_C // C, g.nd
    Wk = W.reshape(-1, C, mult)
    W_rows = xp.tile(Wk[:, :, 0], (1, g.n_out[-1])) if mult == 1 else None
    dx = xp.empty(x_shape, dZ.dtype)
    inner = (slice(None),) * (nd + 1)

    def run(block):
        dZb = dZ[block]
        canvas = dx[block]                       # dx_pad of the block, accumulated
        if g.has_padding:
            canvas = workspace("col2im", (canvas.shape[0],) + g.n_padded + (C,), dZ.dtype, xp)
        canvas[...] = 0
        win = window_view(canvas, g)
        tmp = workspace("depthwise", dZb.shape, dZ.dtype, xp) if mult == 1 else None
        for i, k in enumerate(_offsets(g)):
            target = win[inner + k]
            if mult == 1:
                _mul_into(tmp, dZb, Wk[i, :, 0], W_rows[i], None)
                xp.add(target, tmp, out=target)
            else:
                target += (dZb.reshape(dZb.shape[:-1] + (C, mult)) * Wk[i]).sum(axis=-1)
        if g.has_padding:
            dx[block] = canvas[interior(g.pads, canvas.shape[:1] + g.n_in + (C,))]
    parallel_map(run, _depthwise_blocks(xp, x_shape, g, n_C, dZ.dtype.itemsize))
    return dx
