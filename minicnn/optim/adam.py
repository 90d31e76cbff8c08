"""Adam and AdamW: momentum and RMSprop together, with bias correction.

With learning rate α, β₁, β₂, ε and step count t (1, 2, ...), one Adam step on W with
gradient dW is (the course's formulas; PyTorch computes the same)::

    dW ← dW + λ W                          (Adam's L2 weight decay, if λ ≠ 0)
    v  ← β₁ v + (1 − β₁) dW                (first moment; v starts at 0)
    s  ← β₂ s + (1 − β₂) dW²               (second moment; s starts at 0)
    v̂  = v / (1 − β₁ᵗ),   ŝ = s / (1 − β₂ᵗ)  (bias correction: early averages are too small)
    W  ← W − α v̂ / (√ŝ + ε)

AdamW (Loshchilov & Hutter) *decouples* weight decay from the gradient: instead of adding
λW to dW (which Adam then rescales per coordinate), it shrinks the weights directly before
the Adam step: ``W ← W (1 − α λ)``. With ``amsgrad`` the denominator uses the running
maximum of ŝ's numerator, ``s_max ← max(s_max, s)``.

==================  =============================  ===========
state               meaning                        shape
==================  =============================  ===========
``step``            t, updates done                int
``exp_avg``         v                              same as W
``exp_avg_sq``      s                              same as W
``max_exp_avg_sq``  running max of s (amsgrad)     same as W
==================  =============================  ===========
"""
from __future__ import annotations

import math

from ..backend import get_array_module
from .optimizer import Optimizer
from .sgd import _check_nonneg

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """``Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False)``."""

    decoupled_weight_decay = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False):
        name = type(self).__name__
        _check_nonneg(name, lr=lr, eps=eps, weight_decay=weight_decay)
        if (not isinstance(betas, (tuple, list)) or len(betas) != 2
                or not all(0 <= float(b) < 1 for b in betas)):
            raise ValueError(f"{name}: betas must be two numbers in [0, 1), got {betas!r}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, amsgrad=bool(amsgrad)))

    def update(self, p, dW, state, group):
        xp = get_array_module(p.data)
        lr, eps, wd = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
        beta1, beta2 = (float(b) for b in group["betas"])
        if not state:
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(p.data)
            state["exp_avg_sq"] = xp.zeros_like(p.data)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = xp.zeros_like(p.data)
        state["step"] += 1
        t = state["step"]
        if wd != 0:
            if self.decoupled_weight_decay:
                p.data *= 1 - lr * wd
            else:
                dW = dW + wd * p.data
        v, s = state["exp_avg"], state["exp_avg_sq"]
        v *= beta1
        v += (1 - beta1) * dW
        s *= beta2
        s += (1 - beta2) * dW * dW
        if group["amsgrad"]:
            xp.maximum(state["max_exp_avg_sq"], s, out=state["max_exp_avg_sq"])
            s = state["max_exp_avg_sq"]
        # α v̂ / (√ŝ + ε) with the corrections folded into two scalars, as PyTorch does.
        step_size = lr / (1 - beta1 ** t)
        denom = xp.sqrt(s) / math.sqrt(1 - beta2 ** t) + eps
        p.data -= step_size * v / denom


class AdamW(Adam):
    """``AdamW(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False)``:
    Adam with decoupled weight decay ``W ← W (1 − α λ)``."""

    decoupled_weight_decay = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad)
