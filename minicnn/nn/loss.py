"""Loss modules: ``loss_fn = nn.CrossEntropyLoss(); J = loss_fn(logits, y)``, wrapping the
functions of :mod:`minicnn.functional.loss` (which has the formulas)."""
from __future__ import annotations

from .. import functional as F
from .module import Module

__all__ = ["CrossEntropyLoss", "BCEWithLogitsLoss", "MSELoss", "L1Loss"]


class _Loss(Module):
    def __init__(self, reduction="mean"):
        super().__init__()
        self.reduction = reduction

    def extra_repr(self):
        return f"reduction={self.reduction!r}"


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy from logits (m, K) and integer labels (m,) or one-hot (m, K)."""

    def __init__(self, reduction="mean", label_smoothing=0.0):
        super().__init__(reduction)
        self.label_smoothing = label_smoothing

    def forward(self, logits, y):
        return F.cross_entropy(logits, y, reduction=self.reduction,
                               label_smoothing=self.label_smoothing)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy of sigmoid(logits) against targets in [0, 1], from logits."""

    def forward(self, logits, y):
        return F.binary_cross_entropy_with_logits(logits, y, reduction=self.reduction)


class MSELoss(_Loss):
    """Mean squared error."""

    def forward(self, a, y):
        return F.mse_loss(a, y, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error."""

    def forward(self, a, y):
        return F.l1_loss(a, y, reduction=self.reduction)
