"""``Dropout``: inverted dropout in training, the identity in evaluation."""
from __future__ import annotations

from .. import functional as F
from .module import Module

__all__ = ["Dropout"]


class Dropout(Module):
    """Zero each value with probability ``p`` and scale the survivors by 1/(1 − p) in
    training (so evaluation needs no rescaling); identity after ``eval()``. The mask
    comes from the seeded host generator. Shapes: y has x's shape."""

    def __init__(self, p=0.5):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"Dropout: p is the probability of dropping a unit, expected a "
                             f"value in [0, 1], got {p}")
        self.p = p

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

    def flops(self, x_shape, y_shape):
        return 0      # nothing at inference time

    def extra_repr(self):
        return f"p={self.p}"
