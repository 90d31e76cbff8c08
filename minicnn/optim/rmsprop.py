"""RMSprop: divide each step by a running root-mean-square of recent gradients.

With learning rate α, smoothing constant ρ (``alpha``, 0.99 by default as in PyTorch),
ε, weight decay λ and momentum μ, one step on W with gradient dW is::

    dW ← dW + λ W                         (if λ ≠ 0)
    s  ← ρ s + (1 − ρ) dW²                (s starts at 0)
    g  ← ρ g + (1 − ρ) dW                 (centered only; g starts at 0)
    r  ← √(s − g²) + ε   if centered,  else  r ← √s + ε
    b  ← μ b + dW / r,   W ← W − α b       (if μ > 0; b starts at 0)
    W  ← W − α dW / r                     (if μ = 0)

ε is added outside the square root (PyTorch's convention; Keras puts it inside).

=================  =========================  ===========
state              meaning                    shape
=================  =========================  ===========
``step``           number of updates done     int
``square_avg``     s, mean of dW²             same as W
``grad_avg``       g, mean of dW (centered)   same as W
``momentum_buffer``  b (momentum > 0)         same as W
=================  =========================  ===========
"""
from __future__ import annotations

from ..backend import get_array_module
from .optimizer import Optimizer
from .sgd import _check_nonneg

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """``RMSprop(params, lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False)``."""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False):
        _check_nonneg("RMSprop", lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                      momentum=momentum)
        if not alpha <= 1:
            raise ValueError(f"RMSprop: alpha must be in [0, 1], got {alpha!r}")
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=bool(centered)))

    def update(self, p, dW, state, group):
        xp = get_array_module(p.data)
        lr, rho, eps = float(group["lr"]), float(group["alpha"]), float(group["eps"])
        wd, mu = float(group["weight_decay"]), float(group["momentum"])
        if not state:
            state["step"] = 0
            state["square_avg"] = xp.zeros_like(p.data)
            if mu > 0:
                state["momentum_buffer"] = xp.zeros_like(p.data)
            if group["centered"]:
                state["grad_avg"] = xp.zeros_like(p.data)
        state["step"] += 1
        if wd != 0:
            dW = dW + wd * p.data
        s = state["square_avg"]
        s *= rho
        s += (1 - rho) * dW * dW
        if group["centered"]:
            g = state["grad_avg"]
            g *= rho
            g += (1 - rho) * dW
            r = xp.sqrt(s - g * g) + eps
        else:
            r = xp.sqrt(s) + eps
        if mu > 0:
            b = state["momentum_buffer"]
            b *= mu
            b += dW / r
            p.data -= lr * b
        else:
            p.data -= lr * dW / r
