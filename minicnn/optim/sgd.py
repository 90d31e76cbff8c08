"""Stochastic gradient descent, with momentum, Nesterov momentum and weight decay.

With learning rate α, momentum μ, dampening τ and weight decay λ, one step on a
parameter W with gradient dW is (PyTorch's rule, which is the course's with τ = 0)::

    dW ← dW + λ W                         (L2 weight decay, if λ ≠ 0)
    v  ← dW                               (first step)
    v  ← μ v + (1 − τ) dW                 (later steps)
    dW ← dW + μ v   if Nesterov,  else  dW ← v
    W  ← W − α dW

Without momentum (μ = 0) it is plain ``W ← W − α dW``. The course writes momentum as
``v = β v + (1 − β) dW``, an average; PyTorch's ``v = μ v + dW`` is the same direction
scaled by 1/(1 − β), which a learning rate α(1 − β) undoes.

===================  ===========  ===========
state                meaning      shape
===================  ===========  ===========
``momentum_buffer``  velocity v   same as W
===================  ===========  ===========
"""
from __future__ import annotations

from .optimizer import Optimizer

__all__ = ["SGD"]


class SGD(Optimizer):
    """``SGD(params, lr, momentum=0, nesterov=False, weight_decay=0, dampening=0)``."""

    def __init__(self, params, lr, momentum=0.0, nesterov=False, weight_decay=0.0,
                 dampening=0.0):
        _check_nonneg("SGD", lr=lr, momentum=momentum, weight_decay=weight_decay,
                      dampening=dampening)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(f"SGD: nesterov=True needs momentum > 0 and dampening = 0, got "
                             f"momentum={momentum}, dampening={dampening}")
        super().__init__(params, dict(lr=lr, momentum=momentum, nesterov=bool(nesterov),
                                      weight_decay=weight_decay, dampening=dampening))

    def update(self, p, dW, state, group):
        lr, mu = float(group["lr"]), float(group["momentum"])
        wd, tau = float(group["weight_decay"]), float(group["dampening"])
        if wd != 0:
            dW = dW + wd * p.data
        if mu != 0:
            v = state.get("momentum_buffer")
            if v is None:
                v = state["momentum_buffer"] = dW.copy()
            else:
                v *= mu
                v += (1 - tau) * dW
            dW = dW + mu * v if group["nesterov"] else v
        p.data -= lr * dW


def _check_nonneg(name, **values):
    """Hyper-parameters must be non-negative numbers: say which one is not."""
    for k, v in values.items():
        try:
            ok = float(v) >= 0
        except (TypeError, ValueError):
            raise TypeError(f"{name}: {k} must be a number, got {v!r}") from None
        if not ok:
            raise ValueError(f"{name}: {k} must be >= 0, got {v!r}")
