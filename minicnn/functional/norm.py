"""Batch normalisation and (inverted) dropout.

Both behave differently in training and in evaluation, so both take ``training``.
The layers :class:`minicnn.nn.BatchNorm2d` and :class:`minicnn.nn.Dropout` pass their
module's mode; here it is an explicit argument.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd import Function, Tensor, as_tensor
from ..backend import get_array_module
from ._reduce import column_dot, column_sum, per_channel

__all__ = ["batch_norm", "dropout"]


class BatchNorm(Function):
    """Batch normalisation over every axis but the last (the channel axis, n_C).

    Forward, for each channel c, with the statistics taken over the N = m·n_H·n_W
    values of that channel (all axes but the last)::

        training:  μ = (1/N) Σ x,   σ² = (1/N) Σ (x − μ)²      (biased batch variance)
        eval:      μ = running_mean, σ² = running_var
        x̂ = (x − μ) / √(σ² + ε)
        y = γ x̂ + β

    Backward, with dy = ∂J/∂y::

        ∂J/∂γ = Σ dy ⊙ x̂          ∂J/∂β = Σ dy          (sums over all axes but the last)
        training:  ∂J/∂x = (γ / √(σ² + ε)) ⊙ (dy − mean(dy) − x̂ ⊙ mean(dy ⊙ x̂))
        eval:      ∂J/∂x = (γ / √(σ² + ε)) ⊙ dy          (μ, σ² are constants: a plain scale)

    The training formula is the whole chain rule through μ and σ², which both depend
    on every x of the channel, folded into one line: the two means remove the parts
    of dy that a shift and a rescaling of the batch would have absorbed.

    In training the running statistics are updated in place (PyTorch's convention,
    Keras's ``momentum=0.99`` is ``momentum=0.01`` here)::

        running_mean ← (1 − momentum)·running_mean + momentum·μ
        running_var  ← (1 − momentum)·running_var  + momentum·σ²·N/(N − 1)   (unbiased)

    ================  ======================================================
    x, y, dy, ∂J/∂x   ``(m, n_C)``, ``(m, n_L, n_C)``, ``(m, n_H, n_W, n_C)`` ...
    γ, β, μ, σ²       ``(n_C,)``
    ================  ======================================================
    """

    def __init__(self, running_mean, running_var, training, momentum=0.1, eps=1e-5):
        self.running_mean, self.running_var = running_mean, running_var
        self.training, self.momentum, self.eps = training, momentum, eps

    def forward(self, x, gamma, beta):
        xp = get_array_module(x)
        self.shape = x.shape
        n_C = x.shape[-1]
        n = x.size // n_C                  # N values per channel
        if self.training and n < 2:
            raise ValueError(f"batch_norm: training needs more than one value per channel "
                             f"to estimate a variance, got x of shape {self.shape}; use a "
                             "larger batch or eval mode")
        x = x.reshape(n, n_C)              # every statistic is a column reduction
        if self.training or self.running_mean is None:
            mu = column_sum(x) / n
            xc = per_channel(xp.subtract, x, mu)
            var = column_dot(xc, xc) / n                 # Σ (x − μ)² without a temporary
            self.batch_stats = True
            if self.training and self.running_mean is not None:
                self._update_running(mu, var, n)
        else:
            xc = per_channel(xp.subtract, x, self.running_mean.astype(x.dtype, copy=False))
            var = self.running_var.astype(x.dtype, copy=False)
            self.batch_stats = False
        self.inv_std = 1 / xp.sqrt(var + x.dtype.type(self.eps))
        # y = γ x̂ + β = (x − μ)·(γ/√(σ² + ε)) + β: x̂ itself is never stored
        self.scale = self.inv_std if gamma is None else gamma * self.inv_std
        self.xc = xc                       # x − μ, kept for the backward pass
        y = per_channel(xp.multiply, xc, self.scale)
        if beta is not None:
            per_channel(xp.add, y, beta, out=y)
        return y.reshape(self.shape)

    def _update_running(self, mu, var, n):
        mom = self.momentum
        rm, rv = self.running_mean, self.running_var
        rm *= 1 - mom
        rm += (mom * mu).astype(rm.dtype, copy=False)
        rv *= 1 - mom
        rv += (mom * n / (n - 1) * var).astype(rv.dtype, copy=False)

    def backward(self, dy):
        need_x, need_gamma, need_beta = self.needs_input_grad
        xp = get_array_module(dy)
        xc = self.xc
        dy = dy.reshape(xc.shape)
        n = xc.shape[0]
        full = need_x and self.batch_stats
        dgamma = dbeta = dx = None
        if need_gamma or need_beta or full:
            # ∂J/∂β = Σ dy and ∂J/∂γ = Σ dy ⊙ x̂ = (1/√(σ² + ε)) Σ dy ⊙ (x − μ)
            dbeta = column_sum(dy)
            dgamma = column_dot(dy, xc) * self.inv_std
        if need_x:
            if self.batch_stats:
                # scale·(dy − mean(dy) − x̂·mean(dy ⊙ x̂)) with mean(dy) = ∂J/∂β / N,
                # mean(dy ⊙ x̂) = ∂J/∂γ / N and x̂ = (x − μ)/√(σ² + ε); in place, one array
                dx = per_channel(xp.multiply, xc, -dgamma * self.inv_std / n)
                dx += dy
                per_channel(xp.subtract, dx, dbeta / n, out=dx)
                per_channel(xp.multiply, dx, self.scale, out=dx)
            else:
                dx = per_channel(xp.multiply, dy, self.scale)
            dx = dx.reshape(self.shape)
        return dx, (dgamma if need_gamma else None), (dbeta if need_beta else None)


class Dropout(Function):
    """Inverted dropout: y = x ⊙ mask / (1 − p), mask ~ Bernoulli(1 − p) per element.

    Dividing by the keep probability in training keeps E[y] = x, so evaluation is the
    identity (no rescaling at test time). ∂J/∂x = dy ⊙ mask / (1 − p).

    The mask is drawn on the host from the seeded generator (:func:`minicnn.manual_seed`)
    and then moved to x's device, so CPU and GPU runs drop the same units.
    Shapes: y, dy, ∂J/∂x all have x's shape.
    """

    def __init__(self, p):
        self.p = p

    def forward(self, x):
        keep = backend.get_rng().random(x.shape, dtype=np.float32) >= self.p
        mask = keep.astype(x.dtype)
        mask *= x.dtype.type(1 / (1 - self.p))
        self.mask = backend.to_device(mask, backend.device_of(x))
        return x * self.mask

    def backward(self, dy):
        return dy * self.mask


def _raw(a):
    return a.data if isinstance(a, Tensor) else a


def batch_norm(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    """Normalise ``x`` per channel (last axis); see :class:`BatchNorm` for the formulas.

    ``gamma``/``beta`` may be None (no affine transform). ``running_mean`` and
    ``running_var`` are arrays (or Tensors) of shape ``(n_C,)``, updated in place when
    ``training``; when both are None, batch statistics are used in both modes.
    """
    x = as_tensor(x)
    if x.ndim < 2:
        raise ValueError(f"batch_norm: x must have a batch axis and a channel axis, "
                         f"got shape {x.shape}")
    n_C = x.shape[-1]
    for name, a in (("gamma", gamma), ("beta", beta), ("running_mean", running_mean),
                    ("running_var", running_var)):
        if a is not None and tuple(a.shape) != (n_C,):
            raise ValueError(f"batch_norm: {name} has shape {tuple(a.shape)}, expected "
                             f"({n_C},) for x of shape {x.shape} (channels last)")
    if (running_mean is None) != (running_var is None):
        raise ValueError("batch_norm: give both running_mean and running_var, or neither")
    if not 0 <= momentum <= 1:
        raise ValueError(f"batch_norm: momentum must be in [0, 1], got {momentum}")
    if eps <= 0:
        raise ValueError(f"batch_norm: eps must be positive, got {eps}")
    fn = BatchNorm(_raw(running_mean), _raw(running_var), bool(training), momentum, eps)
    return fn(x, gamma, beta)


def dropout(x, p=0.5, training=True):
    """Inverted dropout with drop probability ``p`` (see :class:`Dropout`); identity when
    not ``training`` or ``p == 0``; all zeros when ``p == 1``."""
    x = as_tensor(x)
    if not 0 <= p <= 1:
        raise ValueError(f"dropout: p is the probability of dropping a unit, expected a "
                         f"value in [0, 1], got {p}")
    if not training or p == 0:
        return x
    if p == 1:
        return x * 0.0
    return Dropout(p)(x)
