"""The neural-style-transfer assignment's functions, with the course's signatures.

NumPy arrays (or Tensors) in, a Python float out (``gram_matrix``: a NumPy array),
computed by :mod:`minicnn.functional.style_loss`, which holds the formulas and their
gradients. Activations are ``(1, n_H, n_W, n_C)`` as the assignment's VGG gives them.

==============================  ===================================================
course function                 minicnn
==============================  ===================================================
``compute_content_cost``        ``F.content_cost(a_C, a_G)`` (norm "course")
``gram_matrix``                 ``F.gram_matrix(A)``, A ``(n_C, n_H·n_W)``
``compute_layer_style_cost``    ``F.layer_style_cost(a_S, a_G)``
``compute_style_cost``          ``F.style_cost(outputs_S, outputs_G, weights)``
``total_cost``                  ``F.total_cost(J_content, J_style, alpha, beta)``
==============================  ===================================================
"""
from __future__ import annotations

import numpy as np

from ..autograd import Tensor, no_grad
from ..functional import style_loss as _S

__all__ = ["compute_content_cost", "gram_matrix", "compute_layer_style_cost",
           "compute_style_cost", "total_cost"]


def _activation(a, name):
    """``a`` as a 4-D tensor ``(m, n_H, n_W, n_C)``; extra leading axes of size 1 folded."""
    a = a if isinstance(a, Tensor) else Tensor(np.asarray(a))
    if a.ndim < 3:
        raise ValueError(f"{name}: expected an activation of shape (1, n_H, n_W, n_C), got "
                         f"shape {a.shape}")
    n_H, n_W, n_C = a.shape[-3:]
    return a.reshape(-1, n_H, n_W, n_C) if a.ndim != 4 else a


def compute_content_cost(a_C, a_G):
    """J_content(C, G) = 1/(4·n_H·n_W·n_C) · Σ (a_C − a_G)².

    a_C, a_G -- activations of the content layer for C and G, shape (1, n_H, n_W, n_C).
    Returns J_content as a float.
    """
    with no_grad():
        return float(_S.content_cost(_activation(a_C, "a_C"), _activation(a_G, "a_G")).item())


def gram_matrix(A):
    """G_A = A·Aᵀ for A of shape (n_C, n_H·n_W) (the unrolled activation); returns (n_C, n_C).

    Unroll an activation ``a`` (1, n_H, n_W, n_C) into A by reshaping to (n_H·n_W, n_C)
    and transposing: see ``minicnn.functional.gram_matrix`` for why a direct reshape to
    (n_C, n_H·n_W) gives the wrong matrix.
    """
    A = A if isinstance(A, Tensor) else Tensor(np.asarray(A))
    with no_grad():
        return _S.gram_matrix(A).numpy()


def compute_layer_style_cost(a_S, a_G):
    """J_style^[l](S, G) = 1/(2·n_H·n_W·n_C)² · Σ_{i,j} (G_S[i, j] − G_G[i, j])².

    a_S, a_G -- activations of one layer for S and G, shape (1, n_H, n_W, n_C).
    Returns J_style_layer as a float.
    """
    with no_grad():
        return float(_S.layer_style_cost(_activation(a_S, "a_S"),
                                         _activation(a_G, "a_G")).item())


def compute_style_cost(style_outputs, generated_outputs, style_layers):
    """J_style(S, G) = Σ_l λ_l · J_style^[l](S, G) over the style layers.

    style_outputs, generated_outputs -- lists of activations (1, n_H, n_W, n_C), one per
        style layer, in the order of style_layers. As in the assignment, the lists may
        carry one more element at the end (the content layer's activation, which its model
        outputs last): it is left out.
    style_layers -- list of (layer_name, coefficient λ_l) (the assignment's STYLE_LAYERS).
    Returns J_style as a float.
    """
    n = len(style_layers)
    outs_S, outs_G = list(style_outputs), list(generated_outputs)
    for name, outs in (("style_outputs", outs_S), ("generated_outputs", outs_G)):
        if len(outs) not in (n, n + 1):
            raise ValueError(f"compute_style_cost: {name} has {len(outs)} activations, expected "
                             f"{n} (one per style layer) or {n + 1} (with the content layer last)")
    outs_S = [_activation(a, "style_outputs") for a in outs_S[:n]]
    outs_G = [_activation(a, "generated_outputs") for a in outs_G[:n]]
    with no_grad():
        return float(_S.style_cost(outs_S, outs_G, style_layers).item())


def total_cost(J_content, J_style, alpha=10, beta=40):
    """J(G) = α·J_content(C, G) + β·J_style(S, G); returns a float."""
    J = _S.total_cost(J_content, J_style, alpha, beta)
    return float(J.item() if isinstance(J, Tensor) else J)
