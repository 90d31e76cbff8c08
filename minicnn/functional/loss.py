"""Loss functions: cross-entropy (from logits), binary cross-entropy (from logits), MSE, L1.

Each loss computes a per-example (or per-element) loss ℓ and then reduces it:

=============  ===============================  ==========================
``reduction``  J                                ∂J/∂ℓ
=============  ===============================  ==========================
``"mean"``     (1/N) Σ ℓ  (a scalar)            1/N
``"sum"``      Σ ℓ        (a scalar)            1
``"none"``     ℓ itself (one value per item)    the upstream gradient
=============  ===============================  ==========================

Cross-entropy and BCE are one fused ``Function`` each: working from logits lets the
forward use the log-sum-exp trick (stable for logits of ±1e4) and makes the backward
the famous one-liner ∂J/∂z = (softmax(z) − y)/m.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd import Function, Tensor, as_tensor
from ..backend import get_array_module

__all__ = ["cross_entropy", "binary_cross_entropy_with_logits", "mse_loss", "l1_loss"]

REDUCTIONS = ("mean", "sum", "none")


class _Loss(Function):
    """Shared reduction: ``_reduce`` in forward, ``_spread`` in backward."""

    def __init__(self, reduction="mean"):
        self.reduction = reduction

    def _reduce(self, loss):
        self.n = loss.size
        if self.reduction == "mean":
            return loss.mean()
        if self.reduction == "sum":
            return loss.sum()
        return loss

    def _spread(self, dJ):
        """∂J/∂ℓ, shaped to broadcast against ℓ."""
        if self.reduction == "mean":
            return dJ / self.n
        return dJ


class CrossEntropy(_Loss):
    """Softmax cross-entropy from logits, with optional label smoothing.

    For each example i with logits z_i (K classes) and target distribution t_i::

        log p_i = z_i − max z_i − ln Σ_k e^(z_ik − max z_i)      (log-softmax, stable)
        ℓ_i = −Σ_k t_ik · log p_ik
        ∂ℓ_i/∂z_i = p_i − t_i          ∂ℓ_i/∂y_i = −(1 − ε)·log p_i

    Integer labels y_i become one-hot rows. Label smoothing ε (as in PyTorch) mixes the
    target with the uniform distribution: t = (1 − ε)·y + ε/K (t = y when ε = 0).

    =============  ==================================================
    logits z       ``(m, K)``, or ``(m, ..., K)`` (e.g. per pixel)
    y              ``(m,)`` / ``(m, ...)`` integer labels in [0, K),
                   or ``(m, K)`` / ``(m, ..., K)`` probabilities
    ℓ              ``(m,)`` / ``(m, ...)``; J is ℓ reduced
    =============  ==================================================
    """

    def __init__(self, reduction="mean", label_smoothing=0.0):
        super().__init__(reduction)
        self.label_smoothing = label_smoothing

    def forward(self, z, y):
        xp = get_array_module(z)
        K = z.shape[-1]
        shifted = z - z.max(axis=-1, keepdims=True)
        log_p = shifted - xp.log(xp.exp(shifted).sum(axis=-1, keepdims=True))
        if y.ndim == z.ndim:
            t = y.astype(z.dtype, copy=False)
        else:   # integer labels: one-hot rows
            t = (y[..., None] == xp.arange(K)).astype(z.dtype)
        eps = self.label_smoothing
        if eps:
            t = t * z.dtype.type(1 - eps) + z.dtype.type(eps / K)
        self.log_p, self.t = log_p, t
        return self._reduce(-(t * log_p).sum(axis=-1))

    def backward(self, dJ):
        xp = get_array_module(dJ)
        g = self._spread(dJ)
        g = g[..., None] if self.reduction == "none" else g
        dz = (xp.exp(self.log_p) - self.t) * g if self.needs_input_grad[0] else None
        dy = -self.log_p * (g * (1 - self.label_smoothing)) if self.needs_input_grad[1] else None
        return dz, dy


class BCEWithLogits(_Loss):
    """Binary cross-entropy from logits z with targets y in [0, 1], elementwise::

        ℓ = −y·ln σ(z) − (1 − y)·ln(1 − σ(z)) = max(z, 0) − z·y + ln(1 + e^(−|z|))
        ∂ℓ/∂z = σ(z) − y          ∂ℓ/∂y = −z

    The right-hand form never exponentiates a positive number, so it is stable for any z.
    Shapes: z, y and ℓ all the same (e.g. ``(m, 1)``).
    """

    def forward(self, z, y):
        xp = get_array_module(z)
        y = y.astype(z.dtype, copy=False)
        self.z, self.y = z, y
        loss = xp.maximum(z, 0) - z * y + xp.log1p(xp.exp(-xp.abs(z)))
        return self._reduce(loss)

    def backward(self, dJ):
        xp = get_array_module(dJ)
        g = self._spread(dJ)
        dz = dy = None
        if self.needs_input_grad[0]:
            e = xp.exp(-xp.abs(self.z))       # σ(z) without overflow, as in activation.sigmoid
            sig = xp.where(self.z >= 0, 1 / (1 + e), e / (1 + e))
            dz = (sig - self.y) * g
        if self.needs_input_grad[1]:
            dy = -self.z * g
        return dz, dy


class MSE(_Loss):
    """ℓ = (a − y)².  ∂ℓ/∂a = 2(a − y),  ∂ℓ/∂y = −2(a − y).  Shapes: a, y, ℓ the same."""

    def forward(self, a, y):
        self.diff = a - y
        return self._reduce(self.diff * self.diff)

    def backward(self, dJ):
        da = 2 * self.diff * self._spread(dJ)
        return (da if self.needs_input_grad[0] else None,
                -da if self.needs_input_grad[1] else None)


class L1(_Loss):
    """ℓ = |a − y|.  ∂ℓ/∂a = sign(a − y) (0 where a = y),  ∂ℓ/∂y = −sign(a − y)."""

    def forward(self, a, y):
        xp = get_array_module(a)
        self.sign = xp.sign(a - y)
        return self._reduce(xp.abs(a - y))

    def backward(self, dJ):
        da = self.sign * self._spread(dJ)
        return (da if self.needs_input_grad[0] else None,
                -da if self.needs_input_grad[1] else None)


# ------------------------------------------------------------------ wrappers
def _check_reduction(name, reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"{name}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _target(y, like: Tensor) -> Tensor:
    """Targets as a tensor on the prediction's device: labels that come from a host-side
    data loader are moved along; a target that requires grad must already be there."""
    y = y if isinstance(y, Tensor) else Tensor(y)
    if y.device != like.device and not y.requires_grad:
        y = Tensor(backend.to_device(y.data, like.device))
    return y


def cross_entropy(logits, y, reduction="mean", label_smoothing=0.0):
    """Softmax cross-entropy from ``logits`` (m, K) and integer labels (m,) or one-hot /
    probabilities (m, K); see :class:`CrossEntropy`. Extra middle axes (per-pixel
    classification) are allowed: logits (m, n_H, n_W, K) with labels (m, n_H, n_W).
    """
    _check_reduction("cross_entropy", reduction)
    logits = as_tensor(logits)
    if logits.ndim < 2:
        raise ValueError(f"cross_entropy: logits must be (m, K) (one row of K class scores "
                         f"per example), got shape {logits.shape}")
    if not 0 <= label_smoothing <= 1:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got "
                         f"{label_smoothing}")
    y = _target(y, logits)
    K = logits.shape[-1]
    if y.shape == logits.shape[:-1]:
        if not np.issubdtype(y.dtype, np.integer):
            raise TypeError(f"cross_entropy: labels of shape {y.shape} must be integers "
                            f"(class indices), got dtype {y.dtype}; for probabilities give "
                            f"shape {logits.shape}")
        if y.size:
            lo, hi = int(y.data.min()), int(y.data.max())
            if lo < 0 or hi >= K:
                bad = lo if lo < 0 else hi
                raise ValueError(f"cross_entropy: label {bad} out of range: logits have "
                                 f"K={K} classes, so labels must be in [0, {K - 1}]")
    elif y.shape == logits.shape:
        if not np.issubdtype(y.dtype, np.floating):
            y = Tensor(y.data.astype(logits.dtype))
    else:
        raise ValueError(f"cross_entropy: y has shape {y.shape}; for logits of shape "
                         f"{logits.shape} expected integer labels of shape "
                         f"{logits.shape[:-1]} or one-hot/probabilities of shape {logits.shape}")
    return CrossEntropy(reduction, label_smoothing)(logits, y)


def _pair(name, a, y):
    a = as_tensor(a)
    y = _target(y, a)
    if y.shape != a.shape:
        raise ValueError(f"{name}: prediction has shape {a.shape} but target has shape "
                         f"{y.shape}; they must match (reshape one, e.g. y.reshape"
                         f"{a.shape}), since broadcasting here silently computes the wrong loss")
    if y.dtype != a.dtype and not y.requires_grad:
        # Targets (labels, images) take the prediction's dtype: a float64 target must
        # not turn a float32 network's loss and gradients into float64.
        y = Tensor(y.data.astype(a.dtype))
    return a, y


def binary_cross_entropy_with_logits(logits, y, reduction="mean"):
    """Binary cross-entropy of ``sigmoid(logits)`` against targets ``y`` in [0, 1] (same
    shape), computed stably from the logits; see :class:`BCEWithLogits`."""
    _check_reduction("binary_cross_entropy_with_logits", reduction)
    return BCEWithLogits(reduction)(*_pair("binary_cross_entropy_with_logits", logits, y))


def mse_loss(a, y, reduction="mean"):
    """Mean squared error between prediction ``a`` and target ``y`` (same shape)."""
    _check_reduction("mse_loss", reduction)
    return MSE(reduction)(*_pair("mse_loss", a, y))


def l1_loss(a, y, reduction="mean"):
    """Mean absolute error between prediction ``a`` and target ``y`` (same shape)."""
    _check_reduction("l1_loss", reduction)
    return L1(reduction)(*_pair("l1_loss", a, y))
