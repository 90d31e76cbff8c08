"""The residual-networks assignment: ``identity_block``, ``convolutional_block``, ``ResNet50``.

The signatures are the assignment's; the blocks are minicnn's
(:class:`minicnn.nn.blocks.IdentityBlock`, :class:`~minicnn.nn.blocks.ConvolutionalBlock`)
with the assignment's Keras semantics, so a learner can compare numbers with their own:

* every call builds fresh layers (as the Keras functions do): conv biases start at zero,
  BatchNorm at γ = 1, β = 0, moving mean 0, moving variance 1, ε = 1e-3;
* ``training=True`` normalises with the batch mean and the biased batch variance;
  ``training=False`` with the moving statistics, i.e. x / √(1 + ε) for a fresh layer;
* "same" padding puts an odd extra row/column at the bottom/right (f = 2 in the tests);
* ``initializer`` maps a kernel shape ``(f, f, n_C_prev, n_C)`` to an array (Keras's
  ``initializer(seed=0)`` object is replaced by the function it stands for); the default
  is Glorot uniform from minicnn's seeded generator (:func:`minicnn.manual_seed`).

Inputs and outputs are NumPy arrays ``(m, n_H, n_W, n_C)`` (float32, as Keras casts them).

Example (the assignment's test, with a constant initialiser)::

    X = np.concatenate([np.full((1, 4, 4, 3), v) for v in (-1, 1, 3)]).astype(np.float32)
    A = identity_block(X, f=2, filters=[4, 4, 3], training=False,
                       initializer=lambda shape: np.ones(shape))
    A[:, (0, -1)].mean(axis=3)[1, 0]      # [192.71236, 192.71236, 192.71236, 96.85618]
"""
from __future__ import annotations

import numpy as np

from ..autograd import Tensor, no_grad
from ..models.keras_course import CourseResNet50
from ..nn.blocks import ConvolutionalBlock, IdentityBlock

__all__ = ["identity_block", "convolutional_block", "ResNet50"]


def _input(X, fn):
    X = np.asarray(X.numpy() if hasattr(X, "numpy") else X)
    if X.ndim != 4:
        raise ValueError(f"{fn}: X must be (m, n_H, n_W, n_C_prev), got shape {X.shape}")
    return X.astype(np.float32, copy=False)


def _filters(filters, fn):
    if len(filters) != 3:
        raise ValueError(f"{fn}: filters must be [F1, F2, F3], got {filters!r}")
    return [int(F) for F in filters]


def _kernel_init(initializer, fn):
    if initializer is None:
        return "glorot_uniform"
    if not callable(initializer):
        raise TypeError(f"{fn}: initializer must be a callable shape -> array (e.g. "
                        f"lambda shape: np.ones(shape)), got {initializer!r}")
    return initializer


def _run(block, X, training):
    block.train(bool(training))
    with no_grad():
        return block(Tensor(X)).numpy()


def identity_block(X, f, filters, training=True, initializer=None):
    """The identity block: three convs (1×1, f×f "same", 1×1) with BN, ReLU after the first
    two, then ``relu(main + X)``.

    X : ``(m, n_H, n_W, n_C_prev)``; f : the middle conv's size; filters : ``[F1, F2, F3]``
    with F3 = n_C_prev (the shortcut is X itself). Returns ``(m, n_H, n_W, F3)``.
    """
    X = _input(X, "identity_block")
    F1, F2, F3 = _filters(filters, "identity_block")
    if F3 != X.shape[-1]:
        raise ValueError(f"identity_block: filters[2] = {F3} must equal the input's channels "
                         f"n_C_prev = {X.shape[-1]}, since the shortcut adds X unchanged; "
                         "use convolutional_block to change the number of channels")
    block = IdentityBlock(X.shape[-1], f, [F1, F2, F3],
                          init=_kernel_init(initializer, "identity_block"))
    return _run(block, X, training)


def convolutional_block(X, f, filters, s=2, training=True, initializer=None):
    """The convolutional block: 1×1 conv with stride s, f×f "same" conv, 1×1 conv (BN after
    each, ReLU after the first two); the shortcut is a 1×1 conv with stride s and BN;
    returns ``relu(main + shortcut)``, shape ``(m, ceil(n_H/s), ceil(n_W/s), F3)``.
    """
    X = _input(X, "convolutional_block")
    F1, F2, F3 = _filters(filters, "convolutional_block")
    block = ConvolutionalBlock(X.shape[-1], f, [F1, F2, F3], s=s,
                               init=_kernel_init(initializer, "convolutional_block"))
    return _run(block, X, training)


def ResNet50(input_shape=(64, 64, 3), classes=6):
    """The assignment's ResNet-50: a :class:`minicnn.models.CourseResNet50` (a Module whose
    forward returns softmax probabilities; 23,600,006 parameters counted as Keras does)."""
    return CourseResNet50(input_shape, classes)
