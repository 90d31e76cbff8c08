"""Batch normalisation layers: ``BatchNorm1d``, ``BatchNorm2d``, ``BatchNorm3d``.

Each normalises every channel (the last axis) with its batch statistics in training
and with running statistics in evaluation, then scales by γ and shifts by β; the
formulas are in :class:`minicnn.functional.norm.BatchNorm`.

=============  =================================  ==============================
layer          x, y                               parameters and buffers
=============  =================================  ==============================
BatchNorm1d    ``(m, n_C)`` or ``(m, n_L, n_C)``  γ = ``gamma`` (n_C,) ones,
BatchNorm2d    ``(m, n_H, n_W, n_C)``             β = ``beta`` (n_C,) zeros,
BatchNorm3d    ``(m, n_D, n_H, n_W, n_C)``        ``running_mean`` zeros,
                                                  ``running_var`` ones (buffers)
=============  =================================  ==============================

``momentum`` follows PyTorch: running ← (1 − momentum)·running + momentum·batch. A Keras
``BatchNormalization(momentum=0.99, epsilon=1e-3)`` is ``BatchNorm2d(n_C, eps=1e-3,
momentum=0.01)`` here.
"""
from __future__ import annotations

import numpy as np

from .. import functional as F
from ._util import check_input, like_weights, new_parameter, positive
from .module import Module

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d"]


class _BatchNorm(Module):
    layouts = (("m", "n_H", "n_W", "n_C"),)

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True):
        super().__init__()
        name = type(self).__name__
        self.num_features = positive(num_features, "num_features", name)
        if eps <= 0:
            raise ValueError(f"{name}: eps must be positive, got {eps}")
        if not 0 <= momentum <= 1:
            raise ValueError(f"{name}: momentum must be in [0, 1] (PyTorch convention: the "
                             f"weight of the new batch; Keras's 0.99 is 0.01 here), got "
                             f"{momentum}")
        self.eps, self.momentum = float(eps), float(momentum)
        n = self.num_features
        self.gamma = new_parameter("ones", (n,)) if affine else None
        self.beta = new_parameter("zeros", (n,)) if affine else None
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(n, np.float32))
            self.register_buffer("running_var", np.ones(n, np.float32))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)

    def forward(self, x):
        layout = next((lay for lay in self.layouts if len(lay) == x.ndim), self.layouts[-1])
        check_input(type(self).__name__, x, layout, self.num_features)
        rm, rv = self.running_mean, self.running_var
        ref = self.gamma if self.gamma is not None else rm
        if ref is not None:
            x = like_weights(x, ref)
        return F.batch_norm(x, self.gamma, self.beta, None if rm is None else rm.data,
                            None if rv is None else rv.data, self.training,
                            momentum=self.momentum, eps=self.eps)

    def flops(self, x_shape, y_shape):
        """2 per value: in evaluation BatchNorm is one scale and one shift per element."""
        return 2 * int(np.prod(x_shape[1:]))

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps:g}, momentum={self.momentum:g}"


class BatchNorm1d(_BatchNorm):
    """BatchNorm over (m, n_C) (after a Linear) or (m, n_L, n_C) (after a Conv1d)."""
    layouts = (("m", "n_C"), ("m", "n_L", "n_C"))


class BatchNorm2d(_BatchNorm):
    """BatchNorm over (m, n_H, n_W, n_C): statistics per channel over m·n_H·n_W values."""
    layouts = (("m", "n_H", "n_W", "n_C"),)


class BatchNorm3d(_BatchNorm):
    """BatchNorm over (m, n_D, n_H, n_W, n_C)."""
    layouts = (("m", "n_D", "n_H", "n_W", "n_C"),)
