"""The course's convolution and pooling, written with explicit loops, one window at a time.

This is the reference: slow, plain NumPy, written to be checked by eye against the lecture.
The tests compare the vectorised ops (:mod:`minicnn.functional`) and the course adapters
(:mod:`minicnn.course.conv`) with these functions.

Notation: ``A_prev`` ``(m, n_H_prev, n_W_prev, n_C_prev)``, ``W`` ``(f, f, n_C_prev, n_C)``,
``b`` ``(1, 1, 1, n_C)``, ``Z`` / ``A`` ``(m, n_H, n_W, n_C)``, with ::

    n_H = ⌊(n_H_prev + 2·pad − f) / stride⌋ + 1          (convolution)
    n_H = ⌊(n_H_prev − f) / stride⌋ + 1                  (pooling: no padding)

Two choices differ from the assignment's notebook, both on purpose:

- ``create_mask_from_window`` marks only the *first* maximum (row-major order). The notebook's
  ``x == np.max(x)`` marks every tied maximum, so a window with two equal maxima would pass
  the gradient twice; the notebook says ties need not be considered. Without ties the two agree.
- ``conv_backward`` crops the padding with ``pad : pad + n_H_prev``, which also works for
  ``pad = 0`` (the notebook's ``pad : -pad`` gives an empty array there).

The second half of the file extends pooling to any number of spatial axes and to padding,
for testing ``max_pool1d/2d/3d`` and ``avg_pool1d/2d/3d``.
"""
from __future__ import annotations

import itertools

import numpy as np

__all__ = ["zero_pad", "conv_single_step", "conv_forward", "conv_backward", "pool_forward",
           "create_mask_from_window", "distribute_value", "pool_backward",
           "pool_forward_nd", "pool_backward_nd"]


# ---------------------------------------------------------------- convolution
def zero_pad(X, pad):
    """Pad the height and width of every image of ``X`` (m, n_H, n_W, n_C) with ``pad`` zeros."""
    return np.pad(X, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="constant",
                  constant_values=(0, 0))


def conv_single_step(a_slice_prev, W, b):
    """One filter on one window: Z = Σ a_slice_prev ⊙ W + b, a float.

    a_slice_prev and W ``(f, f, n_C_prev)``, b ``(1, 1, 1)``.
    """
    s = a_slice_prev * W
    Z = np.sum(s)
    return Z + np.float64(np.asarray(b).item())


def conv_forward(A_prev, W, b, hparameters):
    """Z[i, h, w, c] = conv_single_step(window (h, w) of padded example i, W[..., c], b[..., c]).

    Returns ``(Z, cache)`` with ``cache = (A_prev, W, b, hparameters)``.
    """
    (m, n_H_prev, n_W_prev, n_C_prev) = A_prev.shape
    (f, f, n_C_prev, n_C) = W.shape
    stride = hparameters["stride"]
    pad = hparameters["pad"]
    n_H = (n_H_prev + 2 * pad - f) // stride + 1
    n_W = (n_W_prev + 2 * pad - f) // stride + 1
    Z = np.zeros((m, n_H, n_W, n_C))
    A_prev_pad = zero_pad(A_prev, pad)

    for i in range(m):                              # loop over the examples
        a_prev_pad = A_prev_pad[i]
        for h in range(n_H):                        # vertical position of the output
            vert_start = h * stride
            vert_end = vert_start + f
            for w in range(n_W):                    # horizontal position of the output
                horiz_start = w * stride
                horiz_end = horiz_start + f
                for c in range(n_C):                # one filter per output channel
                    a_slice_prev = a_prev_pad[vert_start:vert_end, horiz_start:horiz_end, :]
                    Z[i, h, w, c] = conv_single_step(a_slice_prev, W[:, :, :, c], b[:, :, :, c])

    cache = (A_prev, W, b, hparameters)
    return Z, cache


def conv_backward(dZ, cache):
    """Backward of :func:`conv_forward`: every output cell Z[i, h, w, c] sends back

        dA_prev_pad[i, window (h, w)] += W[..., c] · dZ[i, h, w, c]
        dW[..., c]                    += a_slice_prev · dZ[i, h, w, c]
        db[..., c]                    += dZ[i, h, w, c]

    Returns ``(dA_prev, dW, db)`` with the shapes of ``A_prev``, ``W`` and ``b``.
    """
    (A_prev, W, b, hparameters) = cache
    (m, n_H_prev, n_W_prev, n_C_prev) = A_prev.shape
    (f, f, n_C_prev, n_C) = W.shape
    stride = hparameters["stride"]
    pad = hparameters["pad"]
    (m, n_H, n_W, n_C) = dZ.shape

    dA_prev = np.zeros(A_prev.shape)
    dW = np.zeros(W.shape)
    db = np.zeros(b.shape)
    A_prev_pad = zero_pad(A_prev, pad)
    dA_prev_pad = zero_pad(dA_prev, pad)

    for i in range(m):
        a_prev_pad = A_prev_pad[i]
        da_prev_pad = dA_prev_pad[i]
        for h in range(n_H):
            for w in range(n_W):
                for c in range(n_C):
                    vert_start = h * stride
                    vert_end = vert_start + f
                    horiz_start = w * stride
                    horiz_end = horiz_start + f
                    a_slice = a_prev_pad[vert_start:vert_end, horiz_start:horiz_end, :]
                    da_prev_pad[vert_start:vert_end, horiz_start:horiz_end, :] += \
                        W[:, :, :, c] * dZ[i, h, w, c]
                    dW[:, :, :, c] += a_slice * dZ[i, h, w, c]
                    db[:, :, :, c] += dZ[i, h, w, c]
        dA_prev[i, :, :, :] = da_prev_pad[pad:pad + n_H_prev, pad:pad + n_W_prev, :]

    return dA_prev, dW, db


# -------------------------------------------------------------------- pooling
def pool_forward(A_prev, hparameters, mode="max"):
    """A[i, h, w, c] = max (or mean) of the f×f window (h, w) of A_prev[i, :, :, c].

    ``hparameters = {"f": f, "stride": stride}``; no padding. Returns ``(A, cache)`` with
    ``cache = (A_prev, hparameters)``.
    """
    (m, n_H_prev, n_W_prev, n_C_prev) = A_prev.shape
    f = hparameters["f"]
    stride = hparameters["stride"]
    n_H = (n_H_prev - f) // stride + 1
    n_W = (n_W_prev - f) // stride + 1
    n_C = n_C_prev
    A = np.zeros((m, n_H, n_W, n_C))

    for i in range(m):
        for h in range(n_H):
            vert_start = h * stride
            vert_end = vert_start + f
            for w in range(n_W):
                horiz_start = w * stride
                horiz_end = horiz_start + f
                for c in range(n_C):
                    a_prev_slice = A_prev[i, vert_start:vert_end, horiz_start:horiz_end, c]
                    if mode == "max":
                        A[i, h, w, c] = np.max(a_prev_slice)
                    elif mode == "average":
                        A[i, h, w, c] = np.mean(a_prev_slice)
                    else:
                        raise ValueError(f"mode must be 'max' or 'average', got {mode!r}")

    cache = (A_prev, hparameters)
    return A, cache


def create_mask_from_window(x):
    """A boolean array of x's shape, True at the maximum of x only.

    With several equal maxima, only the first one (in row-major order) is marked: the max
    passes its gradient to exactly one cell.
    """
    mask = np.zeros(x.shape, dtype=bool)
    mask[np.unravel_index(np.argmax(x), x.shape)] = True     # argmax: the first maximum
    return mask


def distribute_value(dz, shape):
    """An array of ``shape`` (n_H, n_W) whose cells all hold dz / (n_H·n_W): the gradient of
    a mean, shared equally by the cells it averaged."""
    (n_H, n_W) = shape
    average = dz / (n_H * n_W)
    return np.ones(shape) * average


def pool_backward(dA, cache, mode="max"):
    """Backward of :func:`pool_forward`: each dA[i, h, w, c] goes back to its window, to the
    (first) maximum for ``"max"``, shared equally for ``"average"``. Returns dA_prev."""
    (A_prev, hparameters) = cache
    stride = hparameters["stride"]
    f = hparameters["f"]
    (m, n_H, n_W, n_C) = dA.shape
    dA_prev = np.zeros(A_prev.shape)

    for i in range(m):
        a_prev = A_prev[i]
        for h in range(n_H):
            for w in range(n_W):
                for c in range(n_C):
                    vert_start = h * stride
                    vert_end = vert_start + f
                    horiz_start = w * stride
                    horiz_end = horiz_start + f
                    if mode == "max":
                        a_prev_slice = a_prev[vert_start:vert_end, horiz_start:horiz_end, c]
                        mask = create_mask_from_window(a_prev_slice)
                        dA_prev[i, vert_start:vert_end, horiz_start:horiz_end, c] += \
                            mask * dA[i, h, w, c]
                    elif mode == "average":
                        da = dA[i, h, w, c]
                        dA_prev[i, vert_start:vert_end, horiz_start:horiz_end, c] += \
                            distribute_value(da, (f, f))
                    else:
                        raise ValueError(f"mode must be 'max' or 'average', got {mode!r}")

    return dA_prev


# ----------------------------------------- pooling: any number of axes, padding
def _window(pos, f, stride, pad, n_prev):
    """The slices of the real (unpadded) input covered by the window of output ``pos``.

    The window starts at pos·stride − pad_lo in unpadded coordinates; the part of it that
    falls in the padding is simply left out.
    """
    slices = []
    for o, fd, sd, (lo, _), n in zip(pos, f, stride, pad, n_prev):
        start = o * sd - lo
        slices.append(slice(max(start, 0), min(start + fd, n)))
    return tuple(slices)


def _geometry(A_prev, f, stride, pad):
    n_prev = A_prev.shape[1:-1]
    n_out = tuple((n + lo + hi - fd) // sd + 1
                  for n, fd, sd, (lo, hi) in zip(n_prev, f, stride, pad))
    return n_prev, n_out


def pool_forward_nd(A_prev, f, stride, pad, mode="max"):
    """Pooling over 1, 2 or 3 spatial axes, with padding, window by window.

    A_prev ``(m, n_1, ..., n_d, n_C)``; ``f`` and ``stride``: d ints; ``pad``: d ``(lo, hi)``
    pairs. Padding never enters a result: the max, or the mean, is over the window's real
    cells only (max-pooling pads with −∞; average pooling leaves padding out of the divisor).
    """
    m, n_C = A_prev.shape[0], A_prev.shape[-1]
    n_prev, n_out = _geometry(A_prev, f, stride, pad)
    A = np.zeros((m,) + n_out + (n_C,))
    for i in range(m):
        for pos in itertools.product(*(range(n) for n in n_out)):
            window = _window(pos, f, stride, pad, n_prev)
            for c in range(n_C):
                a_prev_slice = A_prev[(i,) + window + (c,)]
                if mode == "max":
                    A[(i,) + pos + (c,)] = np.max(a_prev_slice)
                else:
                    A[(i,) + pos + (c,)] = np.mean(a_prev_slice)
    return A


def pool_backward_nd(dA, A_prev, f, stride, pad, mode="max"):
    """Backward of :func:`pool_forward_nd`: dA[i, pos, c] goes to the first maximum of its
    window (``"max"``) or is shared equally by the window's real cells (``"average"``)."""
    m, n_C = A_prev.shape[0], A_prev.shape[-1]
    n_prev, n_out = _geometry(A_prev, f, stride, pad)
    dA_prev = np.zeros(A_prev.shape)
    for i in range(m):
        for pos in itertools.product(*(range(n) for n in n_out)):
            window = _window(pos, f, stride, pad, n_prev)
            for c in range(n_C):
                index = (i,) + window + (c,)
                da = dA[(i,) + pos + (c,)]
                if mode == "max":
                    dA_prev[index] += create_mask_from_window(A_prev[index]) * da
                else:
                    n_real = A_prev[index].size
                    dA_prev[index] += np.ones(A_prev[index].shape) * (da / n_real)
    return dA_prev
