"""The convolution assignment's functions, with the assignment's exact signatures.

=================================================  ====================================
``zero_pad(X, pad)``                               X_pad ``(m, n_H + 2p, n_W + 2p, n_C)``
``conv_single_step(a_slice_prev, W, b)``           Z, a float
``conv_forward(A_prev, W, b, hparameters)``        ``(Z, cache)``
``conv_backward(dZ, cache)``                       ``(dA_prev, dW, db)``
``pool_forward(A_prev, hparameters, mode)``        ``(A, cache)``
``create_mask_from_window(x)``                     mask, True at the max of x
``distribute_value(dz, shape)``                    dz / (n_H·n_W) in every cell
``pool_backward(dA, cache, mode)``                 dA_prev
=================================================  ====================================

Shapes are the course's: ``A_prev`` ``(m, n_H_prev, n_W_prev, n_C_prev)``, ``W`` ``(f, f,
n_C_prev, n_C)``, ``b`` ``(1, 1, 1, n_C)``; ``hparameters`` is ``{"stride": s, "pad": p}``
for convolution and ``{"f": f, "stride": s}`` for pooling (which has no padding);
``mode`` is ``"max"`` or ``"average"``. Arrays go in and come out as float64 NumPy arrays;
the caches are the assignment's, ``(A_prev, W, b, hparameters)`` with the *unpadded*
``A_prev``, and ``(A_prev, hparameters)``.

These functions do no arithmetic of their own: each wraps a framework op
(:func:`minicnn.functional.conv2d`, ``max_pool2d``, ``avg_pool2d``, ``max_pool1d``,
``avg_pool1d``, ``zero_pad``), and every backward runs the op forward on tensors that
require gradients and calls ``backward(dZ)``: what you compare your assignment with is what
trains the networks. The assignment's own loops are in :mod:`minicnn.course.loops`.

One difference from the notebook: when a pooling window holds several equal maxima, the
gradient goes to the first one only (row-major order), as ``max_pool2d`` does; the
notebook's ``x == np.max(x)`` would mark all of them.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from .. import functional as F
from ..autograd import Tensor, no_grad

__all__ = ["zero_pad", "conv_single_step", "conv_forward", "conv_backward", "pool_forward",
           "create_mask_from_window", "distribute_value", "pool_backward"]


# -------------------------------------------------------------------- helpers
def _float64(x, name, fn, ndim=None):
    """``x`` as a float64 NumPy array, with a clear error for the wrong number of axes."""
    a = np.asarray(x, dtype=np.float64)
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{fn}: {name} must have {ndim} axes, got shape {a.shape}")
    return a


def _leaf(a, requires_grad=False):
    """A CPU tensor on ``a`` (the course works on NumPy arrays, whatever the default device)."""
    return Tensor(a, requires_grad=requires_grad, device="cpu")


def _hparameter(hparameters, key, fn):
    try:
        value = hparameters[key]
    except (KeyError, TypeError):
        raise ValueError(f"{fn}: hparameters must be a dict with the key {key!r}, "
                         f"got {hparameters!r}") from None
    return int(value)


def _conv_inputs(A_prev, W, b, fn):
    A_prev = _float64(A_prev, "A_prev (m, n_H_prev, n_W_prev, n_C_prev)", fn, 4)
    W = _float64(W, "W (f, f, n_C_prev, n_C)", fn, 4)
    b = _float64(b, "b (1, 1, 1, n_C)", fn)
    if W.shape[2] != A_prev.shape[3]:
        raise ValueError(f"{fn}: W {W.shape} expects n_C_prev = {W.shape[2]} channels, "
                         f"A_prev {A_prev.shape} has {A_prev.shape[3]}")
    if b.size != W.shape[3]:
        raise ValueError(f"{fn}: b must hold one bias per filter, shape (1, 1, 1, {W.shape[3]}), "
                         f"got shape {b.shape}")
    return A_prev, W, b


def _pool_op(mode, fn):
    if mode == "max":
        return F.max_pool2d
    if mode == "average":
        return F.avg_pool2d
    raise ValueError(f"{fn}: mode must be 'max' or 'average', got {mode!r}")


# ---------------------------------------------------------------- convolution
def zero_pad(X, pad):
    """Pad the height and width of every image of ``X`` ``(m, n_H, n_W, n_C)`` with ``pad``
    zeros on each side: ``(m, n_H + 2·pad, n_W + 2·pad, n_C)``."""
    X = _float64(X, "X (m, n_H, n_W, n_C)", "zero_pad", 4)
    return F.zero_pad(_leaf(X), pad).numpy()


def conv_single_step(a_slice_prev, W, b):
    """One filter applied to one window: Z = Σ a_slice_prev ⊙ W + b (a float).

    ``a_slice_prev`` and ``W`` ``(f, f, n_C_prev)``, ``b`` ``(1, 1, 1)``. Computed as a
    conv2d of a one-window image with a one-filter kernel.
    """
    a = _float64(a_slice_prev, "a_slice_prev (f, f, n_C_prev)", "conv_single_step", 3)
    W = _float64(W, "W (f, f, n_C_prev)", "conv_single_step", 3)
    b = _float64(b, "b (1, 1, 1)", "conv_single_step")
    if a.shape != W.shape or b.size != 1:
        raise ValueError(f"conv_single_step: a_slice_prev {a.shape} and W {W.shape} must have "
                         f"the same shape and b one value, got b of shape {b.shape}")
    with no_grad():
        Z = F.conv2d(_leaf(a[None]), _leaf(W[..., None]), _leaf(b.reshape(1)))
    return np.float64(Z.item())


def conv_forward(A_prev, W, b, hparameters):
    """Z = A_prev * W + b (the course's convolution: cross-correlation, zero padding).

    Z[i, h, w, c] = Σ_{a, b', k} A_prev_pad[i, h·s + a, w·s + b', k] · W[a, b', k, c] + b[c],
    ``(m, n_H_prev, n_W_prev, n_C_prev)`` → ``(m, n_H, n_W, n_C)``,
    n_H = ⌊(n_H_prev + 2·pad − f) / stride⌋ + 1, with ``hparameters = {"stride", "pad"}``.

    Returns ``(Z, cache)``, ``cache = (A_prev, W, b, hparameters)`` (A_prev unpadded).
    """
    stride = _hparameter(hparameters, "stride", "conv_forward")
    pad = _hparameter(hparameters, "pad", "conv_forward")
    A, Wa, ba = _conv_inputs(A_prev, W, b, "conv_forward")
    with no_grad():
        Z = F.conv2d(_leaf(A), _leaf(Wa), _leaf(ba.reshape(-1)), stride=stride, padding=pad)
    cache = (A_prev, W, b, hparameters)
    return Z.numpy(), cache


def conv_backward(dZ, cache):
    """The gradients of the cost with respect to A_prev, W and b, given dZ = ∂J/∂Z.

    dA_prev = conv-transpose of dZ with W (each dZ[i, h, w, c] sends W[..., c]·dZ back
    to its window), dW[..., c] = Σ windows · dZ[..., c], db[c] = Σ dZ[..., c].
    Runs ``conv2d`` forward on tensors that require gradients, then ``backward(dZ)``.

    Returns ``(dA_prev, dW, db)`` with the shapes of ``A_prev``, ``W`` and ``b``.
    """
    try:
        A_prev, W, b, hparameters = cache
    except (TypeError, ValueError):
        raise ValueError("conv_backward: cache must be (A_prev, W, b, hparameters), as "
                         "returned by conv_forward") from None
    stride = _hparameter(hparameters, "stride", "conv_backward")
    pad = _hparameter(hparameters, "pad", "conv_backward")
    A, Wa, ba = _conv_inputs(A_prev, W, b, "conv_backward")
    dZ = _float64(dZ, "dZ (m, n_H, n_W, n_C)", "conv_backward", 4)
    A_t, W_t, b_t = _leaf(A, True), _leaf(Wa, True), _leaf(ba.reshape(-1), True)
    Z = F.conv2d(A_t, W_t, b_t, stride=stride, padding=pad)
    if dZ.shape != Z.shape:
        raise ValueError(f"conv_backward: dZ must have the shape of Z, {Z.shape}, "
                         f"got {dZ.shape}")
    Z.backward(dZ)
    dA_prev = backend.to_numpy(A_t.grad)
    dW = backend.to_numpy(W_t.grad)
    db = backend.to_numpy(b_t.grad).reshape(ba.shape)
    return dA_prev, dW, db


# -------------------------------------------------------------------- pooling
def pool_forward(A_prev, hparameters, mode="max"):
    """Max or average pooling of f×f windows with stride s, no padding.

    A[i, h, w, c] = max (or mean) of A_prev[i, h·s : h·s + f, w·s : w·s + f, c],
    ``(m, n_H_prev, n_W_prev, n_C)`` → ``(m, n_H, n_W, n_C)``, n_H = ⌊(n_H_prev − f) / s⌋ + 1,
    with ``hparameters = {"f": f, "stride": s}`` and ``mode`` "max" or "average".

    Returns ``(A, cache)``, ``cache = (A_prev, hparameters)``.
    """
    op = _pool_op(mode, "pool_forward")
    f = _hparameter(hparameters, "f", "pool_forward")
    stride = _hparameter(hparameters, "stride", "pool_forward")
    A_in = _float64(A_prev, "A_prev (m, n_H_prev, n_W_prev, n_C_prev)", "pool_forward", 4)
    with no_grad():
        A = op(_leaf(A_in), f, stride)
    cache = (A_prev, hparameters)
    return A.numpy(), cache


def create_mask_from_window(x):
    """A boolean array of x's shape, True at the maximum of x (the first one, if tied).

    It is the gradient of max(x) with respect to x: 1 at the arg-max, 0 elsewhere, computed
    by max-pooling the whole window and running its backward.
    """
    x = _float64(x, "x", "create_mask_from_window")
    if x.size == 0:
        raise ValueError("create_mask_from_window: x is empty, a window needs at least one cell")
    window = _leaf(x.reshape(1, x.size, 1), requires_grad=True)
    F.max_pool1d(window, x.size).backward(np.ones((1, 1, 1)))
    return window.grad.reshape(x.shape) == 1


def distribute_value(dz, shape):
    """An array of ``shape`` (n_H, n_W) holding dz / (n_H·n_W) in every cell.

    It is the gradient of mean(window) scaled by dz, computed by average-pooling a window of
    that shape and running its backward with dz.
    """
    shape = tuple(int(n) for n in np.atleast_1d(shape))
    n = int(np.prod(shape))
    if n < 1:
        raise ValueError(f"distribute_value: shape must be positive sizes (n_H, n_W), "
                         f"got {shape}")
    window = _leaf(np.zeros((1, n, 1)), requires_grad=True)
    F.avg_pool1d(window, n).backward(np.full((1, 1, 1), float(dz)))
    return window.grad.reshape(shape)


def pool_backward(dA, cache, mode="max"):
    """The gradient of the cost with respect to the pooling input, given dA = ∂J/∂A.

    ``"max"``: dA[i, h, w, c] goes to the maximum of its window (the first, if tied);
    ``"average"``: it is shared equally, dA / f², by the window's cells; summed where
    windows overlap. Runs the pooling op forward, then ``backward(dA)``.

    Returns dA_prev, the shape of ``A_prev``.
    """
    op = _pool_op(mode, "pool_backward")
    try:
        A_prev, hparameters = cache
    except (TypeError, ValueError):
        raise ValueError("pool_backward: cache must be (A_prev, hparameters), as returned by "
                         "pool_forward") from None
    f = _hparameter(hparameters, "f", "pool_backward")
    stride = _hparameter(hparameters, "stride", "pool_backward")
    A_in = _float64(A_prev, "A_prev (m, n_H_prev, n_W_prev, n_C_prev)", "pool_backward", 4)
    dA = _float64(dA, "dA (m, n_H, n_W, n_C)", "pool_backward", 4)
    x = _leaf(A_in, requires_grad=True)
    A = op(x, f, stride)
    if dA.shape != A.shape:
        raise ValueError(f"pool_backward: dA must have the shape of A, {A.shape}, "
                         f"got {dA.shape}")
    A.backward(dA)
    return backend.to_numpy(x.grad)
