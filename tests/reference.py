"""Explicit-loop references for convolution, written as the course writes them.

Slow and obvious on purpose: one output value at a time for the convolution
(``conv_single_step`` on a window), one input value at a time scattered through
the kernel for the transposed convolution (its definition as the adjoint). Any
number of spatial axes, stride, padding (before, after), dilation and groups.
Everything is computed in float64.
"""
from __future__ import annotations

import itertools

import numpy as np


def _tuple(v, nd):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * nd


def _pairs(pads, nd):
    if isinstance(pads, int):
        return ((pads, pads),) * nd
    return tuple((p, p) if isinstance(p, int) else tuple(p) for p in pads)


def same_pads(n_in, f, s=1, d=1):
    """Keras "same": n_out = ceil(n / s), the odd extra padding after."""
    pads = []
    for n, f_, s_, d_ in zip(n_in, f, _tuple(s, len(f)), _tuple(d, len(f))):
        n_out = -(-n // s_)
        total = max((n_out - 1) * s_ + d_ * (f_ - 1) + 1 - n, 0)
        pads.append((total // 2, total - total // 2))
    return tuple(pads)


def conv_single_step(a_slice, W_c, b_c):
    """The course's step: the sum of a window times a filter, plus the bias."""
    return np.sum(a_slice * W_c) + b_c


def conv(x, W, b=None, stride=1, padding=0, dilation=1, groups=1):
    """Z[i, o…, c] = b[c] + Σ_{k…, c'} x_pad[i, o·s + k·d, j·Cg + c'] W[k…, c', c], j = c // (n_C/g)."""
    x, W = np.asarray(x, np.float64), np.asarray(W, np.float64)
    nd = x.ndim - 2
    f = W.shape[:nd]
    s, d, pads = _tuple(stride, nd), _tuple(dilation, nd), _pairs(padding, nd)
    m, n_C_prev, n_C = x.shape[0], x.shape[-1], W.shape[-1]
    Cg, Ng = n_C_prev // groups, n_C // groups
    x_pad = np.pad(x, ((0, 0),) + pads + ((0, 0),))
    n_out = [(n + pb + pa - d_ * (f_ - 1) - 1) // s_ + 1
             for n, (pb, pa), f_, s_, d_ in zip(x.shape[1:-1], pads, f, s, d)]
    Z = np.zeros([m] + n_out + [n_C])
    for i in range(m):
        for o in itertools.product(*map(range, n_out)):
            window = tuple(slice(o_ * s_, o_ * s_ + d_ * (f_ - 1) + 1, d_)
                           for o_, s_, d_, f_ in zip(o, s, d, f))
            for c in range(n_C):
                j = c // Ng
                a_slice = x_pad[(i,) + window + (slice(j * Cg, (j + 1) * Cg),)]
                b_c = 0.0 if b is None else b[c]
                Z[(i,) + o + (c,)] = conv_single_step(a_slice, W[..., c], b_c)
    return Z


def conv_transpose(y, W, b=None, stride=1, padding=0, output_padding=0, dilation=1, groups=1):
    """The adjoint of :func:`conv`, by its definition: each y[i, o…, c] is scattered
    through W into out_pad[i, o·s + k·d, j·Cg + c'] (then the padding is cut off)."""
    y, W = np.asarray(y, np.float64), np.asarray(W, np.float64)
    nd = y.ndim - 2
    f = W.shape[:nd]
    s, d, pads = _tuple(stride, nd), _tuple(dilation, nd), _pairs(padding, nd)
    op = _tuple(output_padding, nd)
    m, n_C_in = y.shape[0], y.shape[-1]
    Cg_out, Ng_in = W.shape[-2], n_C_in // groups
    n_C_out = Cg_out * groups
    n_full = [(n - 1) * s_ + d_ * (f_ - 1) + 1 + o_
              for n, s_, d_, f_, o_ in zip(y.shape[1:-1], s, d, f, op)]
    out = np.zeros([m] + n_full + [n_C_out])
    for i in range(m):
        for o in itertools.product(*map(range, y.shape[1:-1])):
            for c in range(n_C_in):
                j = c // Ng_in
                for k in itertools.product(*map(range, f)):
                    pos = tuple(o_ * s_ + k_ * d_ for o_, s_, k_, d_ in zip(o, s, k, d))
                    out[(i,) + pos + (slice(j * Cg_out, (j + 1) * Cg_out),)] += \
                        y[(i,) + o + (c,)] * W[k + (slice(None), c)]
    crop = tuple(slice(pb, n - pa) for (pb, pa), n in zip(pads, n_full))
    out = out[(slice(None),) + crop + (slice(None),)]
    return out if b is None else out + b


def im2col(x, f, stride=1, padding=0, dilation=1):
    """cols[i, o…, k…, c] = x_pad[i, o·s + k·d, c], one entry at a time."""
    x = np.asarray(x, np.float64)
    nd = x.ndim - 2
    s, d, pads = _tuple(stride, nd), _tuple(dilation, nd), _pairs(padding, nd)
    x_pad = np.pad(x, ((0, 0),) + pads + ((0, 0),))
    n_out = [(n + pb + pa - d_ * (f_ - 1) - 1) // s_ + 1
             for n, (pb, pa), f_, s_, d_ in zip(x.shape[1:-1], pads, f, s, d)]
    cols = np.zeros([x.shape[0]] + n_out + list(f) + [x.shape[-1]])
    for i in range(x.shape[0]):
        for o in itertools.product(*map(range, n_out)):
            for k in itertools.product(*map(range, f)):
                pos = tuple(o_ * s_ + k_ * d_ for o_, s_, k_, d_ in zip(o, s, k, d))
                cols[(i,) + o + k] = x_pad[(i,) + pos]
    return cols
