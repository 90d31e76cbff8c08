"""Gradient clipping: rescale gradients whose global norm is too large.

``clip_grad_norm_`` treats all the gradients as one long vector g and, if its norm
‖g‖ exceeds ``max_norm``, multiplies every gradient by ``max_norm / (‖g‖ + 1e-6)``, so the
step keeps its direction but not its size (exploding gradients in deep or recurrent
networks). Call it between ``backward()`` and ``optimizer.step()``.
"""
from __future__ import annotations

import math

from ..autograd import Tensor
from ..backend import get_array_module

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _grads(params):
    params = [params] if isinstance(params, Tensor) else list(params)
    return [p for p in params if p.grad is not None]


def clip_grad_norm_(params, max_norm: float, norm_type: float = 2.0) -> float:
    """Scale the gradients of ``params`` in place so their total norm is at most ``max_norm``.

    ‖g‖_p = (Σ_params Σ_i |g_i|^p)^(1/p) over every parameter's gradient together
    (``norm_type=math.inf``: the largest |g_i|). Returns the norm before clipping, a float.
    """
    max_norm, norm_type = float(max_norm), float(norm_type)
    if max_norm < 0:
        raise ValueError(f"clip_grad_norm_: max_norm must be >= 0, got {max_norm}")
    if norm_type <= 0:
        raise ValueError(f"clip_grad_norm_: norm_type must be > 0, got {norm_type}")
    params = _grads(params)
    if not params:
        return 0.0
    if math.isinf(norm_type):
        total = max(float(get_array_module(p.grad).abs(p.grad).max()) for p in params)
    else:
        # Sum in float64 so many float32 gradients don't lose digits.
        total = sum(float((get_array_module(p.grad).abs(p.grad).astype("float64")
                           ** norm_type).sum()) for p in params) ** (1 / norm_type)
    coef = max_norm / (total + 1e-6)
    if coef < 1:
        for p in params:
            p.grad *= coef
    return total


def clip_grad_value_(params, clip_value: float) -> None:
    """Clip every gradient element to ``[-clip_value, clip_value]`` in place."""
    clip_value = float(clip_value)
    if clip_value < 0:
        raise ValueError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value}")
    for p in _grads(params):
        get_array_module(p.grad).clip(p.grad, -clip_value, clip_value, out=p.grad)
