"""``Linear``: the fully connected layer of the course, y = x W + b."""
from __future__ import annotations

import math

from .. import functional as F
from ..autograd import as_tensor
from ._util import fmt_shape, like_weights, new_parameter, positive
from .module import Module

__all__ = ["Linear"]


class Linear(Module):
    """Fully connected layer: y = x W + b, applied to the last axis of x.

    ===========  ==========================  ==========================================
    x            ``(m, n_in)``               or ``(m, ..., n_in)`` (every position alike)
    W            ``(n_in, n_out)``           initialised by ``init`` (He normal)
    b            ``(n_out,)``                zeros (``bias_init``); absent if ``bias=False``
    y            ``(m, n_out)``              or ``(m, ..., n_out)``
    ===========  ==========================  ==========================================

    W is stored ``(in, out)``, so x W reads like the course's row-per-example notation;
    PyTorch stores the transpose (``weight`` is ``(out, in)``).
    """

    def __init__(self, in_features, out_features, bias=True, init="he_normal",
                 bias_init="zeros"):
        super().__init__()
        self.in_features = positive(in_features, "in_features", "Linear")
        self.out_features = positive(out_features, "out_features", "Linear")
        self.W = new_parameter(init, (self.in_features, self.out_features))
        self.b = new_parameter(bias_init, (self.out_features,)) if bias else None

    def forward(self, x):
        x = as_tensor(x)
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            self._bad_input(x)
        x = like_weights(x, self.W)
        lead = x.shape[:-1]
        # (m, ..., n_in) → (m·…, n_in): one 2-D GEMM, whose dW needs no batch reduction.
        x2 = x if x.ndim == 2 else F.reshape(x, (-1, self.in_features))
        y = F.matmul(x2, self.W)
        if self.b is not None:
            y = y + self.b
        return y if x.ndim == 2 else F.reshape(y, lead + (self.out_features,))

    def _bad_input(self, x):
        n = self.in_features
        if x.ndim > 2 and math.prod(x.shape[1:]) == n:
            hint = "flatten the input first, e.g. with nn.Flatten()"
        else:
            hint = f"the last axis must be in_features={n}"
        expected = f"(m, {n})" if x.ndim <= 2 else f"(m, ..., {n})"
        raise ValueError(f"Linear expected {expected}, got {fmt_shape(x.shape)}: {hint}")

    def flops(self, x_shape, y_shape):
        """2·n_in·n_out per output position (multiply and add; the bias add not counted)."""
        return 2 * self.in_features * self.out_features * math.prod(y_shape[1:-1])

    def extra_repr(self):
        return (f"{self.in_features}, {self.out_features}"
                + ("" if self.b is not None else ", bias=False"))
