"""Pooling: max and average pooling in 1-D, 2-D and 3-D, and global pooling.

Shapes (channels-last; pooling acts on each channel separately, so n_C = n_C_prev):

=====  ==========================  ==========================
op     A_prev (input)              A (output)
=====  ==========================  ==========================
1-D    ``(m, n_L_prev, n_C)``      ``(m, n_L, n_C)``
2-D    ``(m, n_H_prev, n_W_prev,   ``(m, n_H, n_W, n_C)``
       n_C)``
3-D    ``(m, n_D_prev, n_H_prev,   ``(m, n_D, n_H, n_W, n_C)``
       n_W_prev, n_C)``
=====  ==========================  ==========================

Output size, per spatial axis, with window f, stride s and p_lo / p_hi padding on each side::

    n_H = ⌊(n_H_prev + p_lo + p_hi − f) / s⌋ + 1     (the course, p = 0: ⌊(n_H_prev − f) / s⌋ + 1)

``stride`` defaults to the window (non-overlapping windows, as in the course's 2×2/2).
``padding`` is an int, one int per axis, one ``(lo, hi)`` pair per axis, ``"valid"`` (none)
or ``"same"`` (Keras: n_H = ⌈n_H_prev / s⌉, any odd extra row/column at the bottom/right).
Padding never takes part in a result:

- max pooling pads with −∞, so a padded cell never wins;
- average pooling divides by the number of *real* (non-padded) cells in each window, not by
  f_H·f_W (PyTorch calls this ``count_include_pad=False``; Keras and TensorFlow do the same).

Each side's padding must be smaller than the window, so that every window holds a real cell.

How it is computed, without a loop over pixels: for each offset (i, j) inside the window (f_H·f_W
of them) the strided view ::

    a_prev_pad[:, i : i + s_H·(n_H − 1) + 1 : s_H,  j : j + s_W·(n_W − 1) + 1 : s_W, :]

holds, for every output position at once, the cell at offset (i, j) of its window. The forward
reduces these f_H·f_W views (running max, or sum); the backward sends the gradient back through
the same views, adding where windows overlap (assigning where they tile the input exactly once).
It is im2col without building the matrix.
"""
from __future__ import annotations

import itertools

import numpy as np

from ..autograd import Function, as_tensor, is_grad_enabled
from ..backend import get_array_module
from . import _workspace
from ._workspace import parallel_map

__all__ = ["max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d",
           "global_avg_pool2d", "global_max_pool2d"]

_LAYOUT = {1: "(m, n_L, n_C)", 2: "(m, n_H, n_W, n_C)", 3: "(m, n_D, n_H, n_W, n_C)"}


# ------------------------------------------------------------------ geometry
def _ints(value, d, name, op):
    """``value`` as a tuple of ``d`` positive ints (an int means the same on every axis)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (int(value),) * d
    try:
        value = tuple(value)
    except TypeError:
        value = None
    if (value is None or len(value) != d
            or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1
                       for v in value)):
        raise ValueError(f"{op}: {name} must be a positive int or a tuple of {d} positive ints, "
                         f"got {value!r}")
    return tuple(int(v) for v in value)


def _padding(padding, n_prev, f, s, op):
    """Per-axis ``(p_lo, p_hi)`` pairs from an int, per-axis ints, pairs, "valid" or "same"."""
    d = len(n_prev)
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * d
        if padding == "same":
            # Keras/TensorFlow: n_out = ⌈n_prev / s⌉, the odd extra cell goes at the end.
            pads = []
            for n, fd, sd in zip(n_prev, f, s):
                total = max((-(-n // sd) - 1) * sd + fd - n, 0)
                pads.append((total // 2, total - total // 2))
            return tuple(pads)
        raise ValueError(f"{op}: padding must be an int, a tuple, 'valid' or 'same', "
                         f"got {padding!r}")
    if isinstance(padding, (int, np.integer)) and not isinstance(padding, bool):
        pads = ((int(padding), int(padding)),) * d
    else:
        try:
            items = tuple(padding)
        except TypeError:
            items = ()
        if len(items) != d:
            raise ValueError(f"{op}: padding must be an int, {d} ints, {d} (lo, hi) pairs, "
                             f"'valid' or 'same', got {padding!r}")
        pads = tuple((int(p), int(p)) if isinstance(p, (int, np.integer)) else tuple(map(int, p))
                     for p in items)
        if any(len(p) != 2 for p in pads):
            raise ValueError(f"{op}: padding pairs must be (lo, hi), got {padding!r}")
    for (lo, hi), fd in zip(pads, f):
        if lo < 0 or hi < 0 or lo >= fd or hi >= fd:
            raise ValueError(f"{op}: padding {padding!r} must be ≥ 0 and smaller than the window "
                             f"{f} on each side, so that every window holds a real cell")
    return pads


def _geometry(x, d, kernel_size, stride, padding, op):
    """Check ``x`` and the hyper-parameters; return window f, stride s, pads, output sizes."""
    x = as_tensor(x)
    if x.ndim != d + 2:
        raise ValueError(f"{op}: x must be {d + 2}-D channels-last {_LAYOUT[d]}, "
                         f"got shape {x.shape}")
    n_prev = x.shape[1:-1]
    f = _ints(kernel_size, d, "kernel_size", op)
    s = f if stride is None else _ints(stride, d, "stride", op)
    pads = _padding(padding, n_prev, f, s, op)
    for n, fd, (lo, hi) in zip(n_prev, f, pads):
        if n + lo + hi < fd:
            raise ValueError(f"{op}: input {x.shape} is smaller than the window {f} "
                             f"(with padding {pads}) along a spatial axis")
    n_out = tuple((n + lo + hi - fd) // sd + 1 for n, fd, sd, (lo, hi) in zip(n_prev, f, s, pads))
    return x, f, s, pads, n_out


def _window_views(f, s, n_out):
    """One index per offset inside the window, in row-major order: the strided view of the
    padded input that holds, for every output position, the cell at that offset."""
    views = []
    for offset in itertools.product(*(range(fd) for fd in f)):
        spatial = tuple(slice(k, k + sd * (no - 1) + 1, sd) for k, sd, no in zip(offset, s, n_out))
        views.append((slice(None),) + spatial + (slice(None),))
    return views


def _pad(a, pads, fill):
    """``a`` with ``pads`` ((lo, hi) per spatial axis) of ``fill`` around its spatial axes."""
    if not any(lo or hi for lo, hi in pads):
        return a
    width = [(0, 0)] + list(pads) + [(0, 0)]
    return get_array_module(a).pad(a, width, constant_values=fill)


def _crop(a_pad, pads, n_prev):
    """The inverse of :func:`_pad`: the interior of ``a_pad``, of spatial sizes ``n_prev``."""
    inner = tuple(slice(lo, lo + n) for (lo, _), n in zip(pads, n_prev))
    return a_pad[(slice(None),) + inner + (slice(None),)]


class _Pool(Function):
    """What max and average pooling share: geometry, and the split of the batch into blocks.

    On the CPU the batch is cut into blocks of about ``ELEMENTWISE_BLOCK_BYTES`` of output:
    a block stays in the cache while its f_H·f_W views are read, and two blocks run at once
    on two threads (NumPy releases the GIL inside its loops). Blocks write disjoint examples.
    On a GPU the whole batch is one block.
    """

    def __init__(self, f, s, pads, n_out):
        self.f, self.s, self.pads, self.n_out = f, s, pads, n_out

    def _setup(self, a_prev):
        """Shapes for forward and backward; which examples each block handles."""
        xp = get_array_module(a_prev)
        m, n_C = a_prev.shape[0], a_prev.shape[-1]
        self.x_shape = a_prev.shape
        self.out_shape = (m,) + self.n_out + (n_C,)
        self.padded = any(lo or hi for lo, hi in self.pads)
        self.n_pad = tuple(n + lo + hi for n, (lo, hi) in zip(a_prev.shape[1:-1], self.pads))
        # The windows tile the padded input when every cell lies in exactly one window.
        self.tiles = all(sd == fd and n == no * fd
                         for sd, fd, n, no in zip(self.s, self.f, self.n_pad, self.n_out))
        self.views = _window_views(self.f, self.s, self.n_out)
        if xp is not np:
            self.batch_blocks = [slice(None)]
        else:
            per_example = a_prev.dtype.itemsize * int(np.prod(self.out_shape[1:]))
            mb = max(1, _workspace.ELEMENTWISE_BLOCK_BYTES // max(per_example, 1))
            self.batch_blocks = [slice(i, i + mb) for i in range(0, m, mb)]
        return xp

    def _scatter(self, dA, piece):
        """dA_prev from the pieces ``piece(k, blk)`` of dA, one per window offset k: piece k
        goes back through view k, assigned (``out=``) where the windows tile the input, added
        where they overlap; then the padding is cut off."""
        xp = get_array_module(dA)
        dA_prev = xp.empty(self.x_shape, dtype=dA.dtype)

        def run(blk):
            if self.padded:
                m_b = dA_prev[blk].shape[0]
                da_pad = xp.zeros((m_b,) + self.n_pad + self.x_shape[-1:], dtype=dA.dtype)
            else:
                da_pad = dA_prev[blk]                   # write straight into the result
                if not self.tiles:
                    da_pad[...] = 0
            for k, view in enumerate(self.views):
                if self.tiles:
                    piece(k, blk, out=da_pad[view])
                else:
                    da_pad[view] += piece(k, blk)       # overlapping windows accumulate
            if self.padded:
                dA_prev[blk] = _crop(da_pad, self.pads, self.x_shape[1:-1])

        parallel_map(run, self.batch_blocks)
        return dA_prev


def _as_index(mask, idx_t):
    """A boolean mask as 0/1 of the index type; for uint8 a free re-interpretation of the
    bytes (a cast would cost a pass over the data)."""
    return mask.view(np.uint8) if idx_t is np.uint8 else mask.astype(idx_t)


class MaxPool(_Pool):
    """Max pooling over 1, 2 or 3 spatial axes (see the module docstring for shapes and sizes).

    Forward, for output cell (i, h, w, c) and its window of input cells::

        A[i, h, w, c] = max_{0 ≤ a < f_H, 0 ≤ b < f_W} a_prev_pad[i, h·s_H + a, w·s_W + b, c]

    Backward: the max depends on one cell only, the arg-max (a*, b*) of the window, so::

        ∂J/∂a_prev[i, h·s_H + a*, w·s_W + b*, c] += dA[i, h, w, c],    0 elsewhere

    summed where windows overlap. Ties go to the *first* maximum in row-major window order
    (the course's ``create_mask_from_window`` with a tie rule; PyTorch does the same). Only
    the arg-max offset k = a·f_W + b is saved for the backward (one small integer per output
    cell), and only when a gradient is wanted.
    """

    def forward(self, a_prev):
        xp = self._setup(a_prev)
        is_float = np.issubdtype(a_prev.dtype, np.floating)
        lowest = -np.inf if is_float else np.iinfo(a_prev.dtype).min
        want_grad = is_grad_enabled() and self.needs_input_grad[0]
        idx_t = np.uint8 if len(self.views) <= 256 else np.int32
        A = xp.empty(self.out_shape, dtype=a_prev.dtype)
        self.argmax = xp.zeros(self.out_shape, dtype=idx_t) if want_grad else None

        def run(blk):
            a_pad = _pad(a_prev[blk], self.pads, lowest)
            A_b, cell = A[blk], xp.empty(A[blk].shape, dtype=A.dtype)
            A_b[...] = a_pad[self.views[0]]
            for k in range(1, len(self.views)):
                # Ops on a strided view run ~3× slower than on a contiguous array: copy it once.
                cell[...] = a_pad[self.views[k]]
                if want_grad:
                    # Strictly greater: an equal cell later in the window never takes over
                    # (first max). k exceeds every offset seen so far, so max() writes k
                    # exactly where cell k wins.
                    am = self.argmax[blk]
                    xp.maximum(am, _as_index(cell > A_b, idx_t) * idx_t(k), out=am)
                xp.maximum(A_b, cell, out=A_b)

        parallel_map(run, self.batch_blocks)
        return A

    def backward(self, dA):
        def routed(k, blk, out=None):           # dA where the arg-max is offset k, else 0
            return get_array_module(dA).multiply(dA[blk], self.argmax[blk] == k, out=out)
        return self._scatter(dA, routed)


class AvgPool(_Pool):
    """Average pooling over 1, 2 or 3 spatial axes (see the module docstring for shapes).

    Forward, with N[h, w] the number of real (non-padded) cells in the window of (h, w)::

        A[i, h, w, c] = (1 / N[h, w]) · Σ_{a < f_H, b < f_W} a_prev_pad[i, h·s_H + a, w·s_W + b, c]

    N = f_H·f_W without padding. Backward: each cell of the window receives an equal share
    (the course's ``distribute_value``), summed where windows overlap::

        ∂J/∂a_prev[i, h·s_H + a, w·s_W + b, c] += dA[i, h, w, c] / N[h, w]

    Padded cells are zero in the sum and are cut off the gradient.
    """

    def forward(self, a_prev):
        xp = self._setup(a_prev)
        self.scale = self._inverse_counts(a_prev, xp)
        dtype = np.result_type(a_prev.dtype, self.scale.dtype)
        A = xp.empty(self.out_shape, dtype=dtype)

        def run(blk):
            a_pad = _pad(a_prev[blk], self.pads, 0)
            total, cell = A[blk], xp.empty(A[blk].shape, dtype=dtype)
            total[...] = a_pad[self.views[0]]
            for view in self.views[1:]:
                cell[...] = a_pad[view]             # contiguous copy: faster sums (see MaxPool)
                xp.add(total, cell, out=total)
            xp.multiply(total, self.scale, out=total)

        parallel_map(run, self.batch_blocks)
        return A

    def _inverse_counts(self, a_prev, xp):
        """1 / N: a scalar without padding, else an array (1, n_H, n_W, 1) of 1 / N[h, w].
        N is separable: N[h, w] = N_H[h] · N_W[w], the real cells along each axis."""
        dtype = np.dtype(a_prev.dtype if np.issubdtype(a_prev.dtype, np.floating) else np.float64)
        if not self.padded:
            return dtype.type(1.0 / np.prod(self.f))
        N = np.ones((1,) * (len(self.f) + 2))
        for axis, (n, fd, sd, no, (lo, _)) in enumerate(
                zip(a_prev.shape[1:-1], self.f, self.s, self.n_out, self.pads), start=1):
            start = np.arange(no) * sd - lo
            n_real = np.minimum(start + fd, n) - np.maximum(start, 0)
            N = N * n_real.reshape([-1 if a == axis else 1 for a in range(N.ndim)])
        return xp.asarray((1.0 / N).astype(dtype))

    def backward(self, dA):
        share = dA * self.scale                     # every cell of a window gets dA / N

        def shared(k, blk, out=None):
            if out is None:
                return share[blk]
            out[...] = share[blk]
            return out
        return self._scatter(dA, shared)


def _pool(cls, op, d, x, kernel_size, stride, padding):
    x, f, s, pads, n_out = _geometry(x, d, kernel_size, stride, padding, op)
    return cls(f, s, pads, n_out)(x)


# ------------------------------------------------------------------ wrappers
def max_pool1d(x, kernel_size, stride=None, padding=0):
    """Max pooling of ``x`` ``(m, n_L_prev, n_C)`` → ``(m, n_L, n_C)``.

    A[i, l, c] = max_{a < f} x_pad[i, l·s + a, c];  n_L = ⌊(n_L_prev + 2p − f) / s⌋ + 1.
    Backward: dA[i, l, c] goes to the window's first arg-max. Padding is −∞. See :class:`MaxPool`.
    """
    return _pool(MaxPool, "max_pool1d", 1, x, kernel_size, stride, padding)


def max_pool2d(x, kernel_size, stride=None, padding=0):
    """Max pooling of ``x`` ``(m, n_H_prev, n_W_prev, n_C)`` → ``(m, n_H, n_W, n_C)``.

    A[i, h, w, c] = max_{a < f_H, b < f_W} x_pad[i, h·s_H + a, w·s_W + b, c];
    n_H = ⌊(n_H_prev + 2p − f_H) / s_H⌋ + 1 (same for W); ``stride`` defaults to the window.
    Backward: dA[i, h, w, c] goes to the window's arg-max (ties: the first in row-major order),
    summed where windows overlap. Padding is −∞. See :class:`MaxPool`.
    """
    return _pool(MaxPool, "max_pool2d", 2, x, kernel_size, stride, padding)


def max_pool3d(x, kernel_size, stride=None, padding=0):
    """Max pooling of ``x`` ``(m, n_D_prev, n_H_prev, n_W_prev, n_C)`` → ``(m, n_D, n_H, n_W,
    n_C)``.

    A[i, d, h, w, c] = max over the f_D×f_H×f_W window; sizes as in :func:`max_pool2d`, per axis.
    Backward: to the first arg-max of each window. See :class:`MaxPool`.
    """
    return _pool(MaxPool, "max_pool3d", 3, x, kernel_size, stride, padding)


def avg_pool1d(x, kernel_size, stride=None, padding=0):
    """Average pooling of ``x`` ``(m, n_L_prev, n_C)`` → ``(m, n_L, n_C)``.

    A[i, l, c] = (1/N[l]) Σ_{a < f} x_pad[i, l·s + a, c], N[l] = real cells in the window
    (padding is left out of the divisor). Backward: dA/N to each real cell. See :class:`AvgPool`.
    """
    return _pool(AvgPool, "avg_pool1d", 1, x, kernel_size, stride, padding)


def avg_pool2d(x, kernel_size, stride=None, padding=0):
    """Average pooling of ``x`` ``(m, n_H_prev, n_W_prev, n_C)`` → ``(m, n_H, n_W, n_C)``.

    A[i, h, w, c] = (1/N[h, w]) Σ_{a < f_H, b < f_W} x_pad[i, h·s_H + a, w·s_W + b, c], with
    N[h, w] the number of real (non-padded) cells in the window: f_H·f_W without padding;
    padding is *excluded* from the divisor (PyTorch's ``count_include_pad=False``).
    n_H = ⌊(n_H_prev + 2p − f_H) / s_H⌋ + 1. Backward: dA[i, h, w, c] / N[h, w] to every cell
    of the window, summed where windows overlap. See :class:`AvgPool`.
    """
    return _pool(AvgPool, "avg_pool2d", 2, x, kernel_size, stride, padding)


def avg_pool3d(x, kernel_size, stride=None, padding=0):
    """Average pooling of ``x`` ``(m, n_D_prev, n_H_prev, n_W_prev, n_C)`` → ``(m, n_D, n_H,
    n_W, n_C)``.

    The mean of the real cells of each f_D×f_H×f_W window (padding excluded from the divisor).
    Backward: an equal share to each real cell. See :class:`AvgPool`.
    """
    return _pool(AvgPool, "avg_pool3d", 3, x, kernel_size, stride, padding)


# ------------------------------------------------------------ global pooling
class GlobalAvgPool(Function):
    """The mean over all spatial positions, per example and channel.

    A[i, c] = (1 / (n_H·n_W)) Σ_{h, w} a_prev[i, h, w, c];
    ∂J/∂a_prev[i, h, w, c] = dA[i, c] / (n_H·n_W).

    ``(m, n_H, n_W, n_C)`` → ``(m, n_C)``, or ``(m, 1, 1, n_C)`` with ``keepdims``.
    """

    def __init__(self, keepdims=False):
        self.keepdims = keepdims

    def forward(self, a_prev):
        self.x_shape = a_prev.shape
        self.axes = tuple(range(1, a_prev.ndim - 1))
        return a_prev.mean(axis=self.axes, keepdims=self.keepdims)

    def backward(self, dA):
        xp = get_array_module(dA)
        n = int(np.prod(self.x_shape[1:-1]))
        keep = (self.x_shape[0],) + (1,) * len(self.axes) + (self.x_shape[-1],)
        return xp.broadcast_to(dA.reshape(keep) * (1.0 / n), self.x_shape)


class GlobalMaxPool(Function):
    """The maximum over all spatial positions, per example and channel.

    A[i, c] = max_{h, w} a_prev[i, h, w, c];  ∂J/∂a_prev[i, h, w, c] = dA[i, c] at the first
    arg-max (row-major order), 0 elsewhere.

    ``(m, n_H, n_W, n_C)`` → ``(m, n_C)``, or ``(m, 1, 1, n_C)`` with ``keepdims``.
    """

    def __init__(self, keepdims=False):
        self.keepdims = keepdims

    def forward(self, a_prev):
        m, n_C = a_prev.shape[0], a_prev.shape[-1]
        self.x_shape = a_prev.shape
        flat = a_prev.reshape(m, -1, n_C)
        self.argmax = flat.argmax(axis=1)          # argmax returns the first maximum
        A = flat.max(axis=1)
        return A.reshape((m,) + (1,) * (a_prev.ndim - 2) + (n_C,)) if self.keepdims else A

    def backward(self, dA):
        xp = get_array_module(dA)
        m, n_C = self.x_shape[0], self.x_shape[-1]
        positions = xp.arange(int(np.prod(self.x_shape[1:-1]))).reshape(1, -1, 1)
        mask = positions == self.argmax[:, None, :]
        return (mask * dA.reshape(m, 1, n_C)).reshape(self.x_shape)


def _global(cls, op, x, keepdims):
    x = as_tensor(x)
    if x.ndim != 4:
        raise ValueError(f"{op}: x must be 4-D channels-last (m, n_H, n_W, n_C), "
                         f"got shape {x.shape}")
    return cls(keepdims)(x)


def global_avg_pool2d(x, keepdims=False):
    """A[i, c] = mean over (h, w) of x[i, h, w, c]: ``(m, n_H, n_W, n_C)`` → ``(m, n_C)``
    (``(m, 1, 1, n_C)`` with ``keepdims``). Backward: dA / (n_H·n_W) to every position.
    See :class:`GlobalAvgPool`."""
    return _global(GlobalAvgPool, "global_avg_pool2d", x, keepdims)


def global_max_pool2d(x, keepdims=False):
    """A[i, c] = max over (h, w) of x[i, h, w, c]: ``(m, n_H, n_W, n_C)`` → ``(m, n_C)``
    (``(m, 1, 1, n_C)`` with ``keepdims``). Backward: dA to the first arg-max.
    See :class:`GlobalMaxPool`."""
    return _global(GlobalMaxPool, "global_max_pool2d", x, keepdims)
