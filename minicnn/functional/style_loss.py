"""The costs of neural style transfer: content, Gram matrix, style, total variation.

Generate an image G with the content of C and the style of S by minimising over G's pixels

    J(G) = α·J_content(C, G) + β·J_style(S, G)     (+ γ·TV(G), optional smoothing)

where the activations ``a`` of a pretrained network at chosen layers stand for the
images. Notation (course): one layer's activation has shape ``(n_H, n_W, n_C)``
(optionally with a leading batch axis ``m``, usually 1), ``M = n_H·n_W`` positions.

=====================  ==========================  ===============================
function               inputs                      output
=====================  ==========================  ===============================
``content_cost``       a_C, a_G ``(m?, n_H, n_W, n_C)``      scalar
``unroll``             a ``(m?, n_H, n_W, n_C)``   A ``(m?, n_C, n_H·n_W)``
``gram_matrix``        A ``(m?, n_C, n_L)``        G ``(m?, n_C, n_C)``
``style_gram``         a ``(m?, n_H, n_W, n_C)``   G / (n_H·n_W) ``(m?, n_C, n_C)``
``layer_style_cost``   a_S, a_G (sizes may differ) scalar
``style_cost``         lists of activations        scalar Σ_l λ_l·J_style^[l]
``total_variation``    G ``(m?, n_H, n_W, n_C)``   scalar
``total_cost``         J_content, J_style          α·J_content + β·J_style
=====================  ==========================  ===============================

All take and return Tensors (NumPy arrays and numbers are accepted) and are
differentiable in every tensor input. The Gram matrix and the content, layer-style and
total-variation costs are ``Function`` classes whose backward formulas are written out
below; the others are compositions of them.
"""
from __future__ import annotations

import numbers

from ..autograd import Function, Tensor, as_tensor
from ..backend import get_array_module
from . import math as _m

__all__ = ["content_cost", "unroll", "gram_matrix", "style_gram", "layer_style_cost",
           "style_cost", "total_variation", "total_cost"]


def _check_activation(name, a):
    if a.ndim not in (3, 4):
        raise ValueError(f"{name}: expected an activation of shape (n_H, n_W, n_C) or "
                         f"(m, n_H, n_W, n_C), got shape {a.shape}")


# ---------------------------------------------------------------- content
class ContentCost(Function):
    """J_content = c · Σ (a_C − a_G)²  over every element.

    ``c = 1 / (4·n_H·n_W·n_C)`` with ``norm="course"`` (the programming assignment's
    normalisation) or ``c = ½`` with ``norm="lecture"`` (the lectures' ½‖a_C − a_G‖²).

    Backward (dJ = ∂L/∂J, a scalar):
        ∂J/∂a_G = −2c·(a_C − a_G)·dJ,   ∂J/∂a_C = +2c·(a_C − a_G)·dJ

    ===========  =====================================
    a_C, a_G     ``(m?, n_H, n_W, n_C)``, same shape
    J_content    ``()``
    ===========  =====================================
    """

    def __init__(self, c):
        self.c = c

    def forward(self, a_C, a_G):
        xp = get_array_module(a_C, a_G)
        self.diff = a_C - a_G
        return xp.asarray(self.c * xp.sum(self.diff * self.diff), dtype=self.diff.dtype)

    def backward(self, dJ):
        d = (2 * self.c) * dJ * self.diff
        return (d if self.needs_input_grad[0] else None,
                -d if self.needs_input_grad[1] else None)


def content_cost(a_C, a_G, norm="course"):
    """Content cost between the activations of C and G at one layer (see ``ContentCost``).

    ``norm="course"``: 1/(4·n_H·n_W·n_C)·Σ(a_C − a_G)², the assignment's value;
    ``norm="lecture"``: ½·Σ(a_C − a_G)², the lectures' ½‖a^[l](C) − a^[l](G)‖².
    With a batch axis the sum runs over it too (n_H, n_W, n_C are the last three axes).
    """
    a_C, a_G = as_tensor(a_C), as_tensor(a_G)
    _check_activation("content_cost: a_C", a_C)
    if a_C.shape != a_G.shape:
        raise ValueError(f"content_cost: a_C has shape {a_C.shape} but a_G has shape "
                         f"{a_G.shape}; both must be the same layer's activations of images "
                         "of the same size")
    n_H, n_W, n_C = a_G.shape[-3:]
    if norm == "course":
        c = 1.0 / (4 * n_H * n_W * n_C)
    elif norm == "lecture":
        c = 0.5
    else:
        raise ValueError(f"content_cost: norm={norm!r}, expected 'course' or 'lecture'")
    return ContentCost(c)(a_C, a_G)


# ------------------------------------------------------------------ Gram
def unroll(a):
    """Unroll an activation ``(m?, n_H, n_W, n_C)`` into A ``(m?, n_C, n_H·n_W)``.

    Row c of A holds channel c at every position. Channels-last memory stores a
    position's n_C values next to each other, so the faithful reshape is to
    ``(n_H·n_W, n_C)`` (one row per position) followed by a transpose; see ``gram_matrix``.
    """
    a = as_tensor(a)
    _check_activation("unroll: a", a)
    *m, n_H, n_W, n_C = a.shape
    return _m.transpose(_m.reshape(a, *m, n_H * n_W, n_C), *range(len(m)), len(m) + 1, len(m))


class Gram(Function):
    """G = A·Aᵀ: G[c, c'] = Σ_k A[c, k]·A[c', k], how much channels c and c' fire together.

    Backward: G depends on A twice, so ∂J/∂A = (dG + dGᵀ)·A.

    ====  ==========================================================
    A     ``(m?, n_C, n_L)``, one row per channel (``n_L = n_H·n_W``)
    G     ``(m?, n_C, n_C)``, symmetric
    ====  ==========================================================
    """

    def forward(self, A):
        xp = get_array_module(A)
        self.A = A
        return A @ xp.swapaxes(A, -1, -2)

    def backward(self, dG):
        xp = get_array_module(dG)
        return (dG + xp.swapaxes(dG, -1, -2)) @ self.A


def gram_matrix(A):
    """Gram matrix G_A = A·Aᵀ of an unrolled activation A ``(n_C, n_H·n_W)`` (or batched).

    Why unroll as ``(n_H·n_W, n_C)`` and then transpose, and not reshape straight to
    ``(n_C, n_H·n_W)``: an activation ``(n_H, n_W, n_C)`` is channels-last, so in memory
    the n_C values of one position come first, then the next position's. A reshape
    keeps that order and only cuts it into rows: to ``(n_H·n_W, n_C)`` each row is one
    position and each column one channel, as wanted; straight to ``(n_C, n_H·n_W)``
    each "row" would be a run of n_H·n_W consecutive values mixing all channels
    over a few positions, and the product would be a meaningless matrix of the right
    shape. Use ``unroll(a)`` (reshape then transpose) to get A from an activation.
    """
    A = as_tensor(A)
    if A.ndim < 2:
        raise ValueError(f"gram_matrix: expected A of shape (n_C, n_H*n_W), got shape {A.shape}")
    return Gram()(A)


def style_gram(a):
    """The Gram matrix of an activation divided by its number of positions, G / (n_H·n_W).

    This is what style cost compares: with it, images of different sizes have
    comparable styles (the Gram of a bigger image is a sum over more positions).
    """
    a = as_tensor(a)
    _check_activation("style_gram: a", a)
    n_H, n_W = a.shape[-3:-1]
    return gram_matrix(unroll(a)) / float(n_H * n_W)


class LayerStyleCost(Function):
    """J_style^[l] = 1/(2·n_H·n_W·n_C)² · Σ_{c,c'} (G_S − G_G)²  — the course's formula,

    computed from the per-position Grams Ĝ = G/(n_H·n_W), which gives the same number:

        J = 1/(4·n_C²) · Σ (Ĝ_S − Ĝ_G)²,   Ĝ_G = U_Gᵀ·U_G / M_G,   M_G = n_H·n_W

    and stays meaningful when S and G have different sizes (each Gram is divided by
    its own M). Inputs are Ĝ_S (the style image's, usually computed once) and a_G.

    where U_G is a_G reshaped to ``(M_G, n_C)``, one row per position (U_G = Aᵀ for the
    unrolled A of ``gram_matrix``, so U_Gᵀ·U_G = A·Aᵀ). Backward, with D = Ĝ_S − Ĝ_G
    and dJ = ∂L/∂J:

        ∂J/∂Ĝ_S = D / (2·n_C²) · dJ
        ∂J/∂U_G = −U_G · D / (n_C²·M_G) · dJ       (reshaped back to a_G's shape)

    (from ∂J/∂Ĝ_G = −D/(2n_C²) and the Gram rule ∂/∂A = (dG + dGᵀ)·A with D symmetric).

    ======  =============================================
    Ĝ_S     ``(m?, n_C, n_C)``
    a_G     ``(m?, n_H, n_W, n_C)``
    J       ``()`` (summed over the batch when m > 1)
    ======  =============================================
    """

    def forward(self, G_S, a_G):
        xp = get_array_module(G_S, a_G)
        *m, n_H, n_W, n_C = a_G.shape
        self.shape, self.M, self.n_C = a_G.shape, n_H * n_W, n_C
        self.U = a_G.reshape(*m, self.M, n_C)              # rows = positions, cols = channels
        G_G = (xp.swapaxes(self.U, -1, -2) @ self.U) / self.M
        self.D = G_S - G_G
        return xp.asarray(xp.sum(self.D * self.D) / (4 * n_C * n_C), dtype=a_G.dtype)

    def backward(self, dJ):
        dG_S = self.D * (dJ / (2 * self.n_C ** 2)) if self.needs_input_grad[0] else None
        da_G = None
        if self.needs_input_grad[1]:
            da_G = (self.U @ self.D) * (-dJ / (self.n_C ** 2 * self.M))
            da_G = da_G.reshape(da_G.shape[:-2] + self.shape[-3:])
        return dG_S, da_G


def layer_style_cost(a_S, a_G, gram_S=None):
    """Style cost of one layer: 1/(2·n_H·n_W·n_C)²·‖G_S − G_G‖²_F (see ``LayerStyleCost``).

    ``a_S`` and ``a_G`` are the layer's activations ``(m?, n_H, n_W, n_C)`` for S and G;
    their spatial sizes may differ (each Gram is then divided by its own n_H·n_W; when
    they agree this is exactly the course's formula). ``gram_S`` = ``style_gram(a_S)``
    may be given instead of ``a_S`` so that a loop computes it once.
    """
    a_G = as_tensor(a_G)
    _check_activation("layer_style_cost: a_G", a_G)
    if gram_S is None:
        if a_S is None:
            raise ValueError("layer_style_cost: give a_S (an activation) or gram_S")
        a_S = as_tensor(a_S)
        _check_activation("layer_style_cost: a_S", a_S)
        gram_S = style_gram(a_S)
    gram_S = as_tensor(gram_S)
    n_C = a_G.shape[-1]
    if gram_S.shape[-2:] != (n_C, n_C):
        raise ValueError(f"layer_style_cost: a_G has n_C = {n_C} channels but the style "
                         f"Gram has shape {gram_S.shape}; a_S and a_G must come from the same "
                         "layer")
    return LayerStyleCost()(gram_S, a_G)


def _named_weights(weights, n, names=None):
    """``weights`` as a list of n floats: floats, (name, weight) pairs or a dict."""
    if isinstance(weights, dict):
        weights = list(weights.items())
    weights = list(weights)
    pairs = weights and not isinstance(weights[0], numbers.Number) and \
        not hasattr(weights[0], "shape")
    if names is not None:
        if not pairs:
            raise ValueError("style_cost: outputs are dicts keyed by layer name, so weights "
                             "must name the layers: a dict or a list of (layer_name, weight)")
        missing = [k for k, _ in weights if k not in names]
        if missing:
            raise KeyError(f"style_cost: no output for style layer(s) {missing}; outputs have "
                           f"{sorted(names)}")
        return [k for k, _ in weights], [float(w) for _, w in weights]
    values = [float(w) for _, w in weights] if pairs else [float(w) for w in weights]
    if len(values) != n:
        raise ValueError(f"style_cost: {n} outputs but {len(values)} layer weights; give one "
                         "weight λ_l per style layer, in the same order")
    return None, values


def style_cost(outputs_S, outputs_G, weights):
    """J_style = Σ_l λ_l · J_style^[l](a_S^[l], a_G^[l]) over the style layers.

    ``outputs_S``, ``outputs_G``: lists of activations in the same order (with
    ``weights`` a list of λ_l or of ``(layer_name, λ_l)`` pairs), or dicts
    ``{layer_name: activation}`` (with ``weights`` a dict or list of pairs).
    """
    if isinstance(outputs_S, dict) != isinstance(outputs_G, dict):
        raise TypeError("style_cost: outputs_S and outputs_G must both be lists or both dicts")
    if isinstance(outputs_S, dict):
        keys, lambdas = _named_weights(weights, None, set(outputs_S) & set(outputs_G))
        pairs = [(outputs_S[k], outputs_G[k]) for k in keys]
    else:
        if len(outputs_S) != len(outputs_G):
            raise ValueError(f"style_cost: {len(outputs_S)} style outputs but "
                             f"{len(outputs_G)} generated outputs; they must match layer by layer")
        _, lambdas = _named_weights(weights, len(outputs_S))
        pairs = list(zip(outputs_S, outputs_G))
    J = None
    for lam, (a_S, a_G) in zip(lambdas, pairs):
        term = lam * layer_style_cost(a_S, a_G)
        J = term if J is None else J + term
    if J is None:
        raise ValueError("style_cost: no style layers given")
    return J


# ------------------------------------------------------------ smoothness
class TotalVariation(Function):
    """TV(G) = Σ |G[i+1, j] − G[i, j]|^p + Σ |G[i, j+1] − G[i, j]|^p  over rows, columns, channels.

    p = 1 is ``tf.image.total_variation`` (anisotropic TV); p = 2 the squared,
    smooth version. It penalises neighbouring pixels that differ: the noise that
    optimising pixels against a network tends to leave.

    Backward, with Δ_h = G[1:, :] − G[:-1, :] and g_h = p·|Δ_h|^(p−1)·sign(Δ_h)·dJ
    (likewise along the width): ∂J/∂G[1:, :] += g_h, ∂J/∂G[:-1, :] −= g_h.

    ===  ===========================
    G    ``(m?, n_H, n_W, n_C)``
    J    ``()``
    ===  ===========================
    """

    def __init__(self, p):
        self.p = p

    def forward(self, G):
        xp = get_array_module(G)
        self.shape = G.shape
        self.d_h = G[..., 1:, :, :] - G[..., :-1, :, :]
        self.d_w = G[..., :, 1:, :] - G[..., :, :-1, :]
        if self.p == 1:
            J = xp.sum(xp.abs(self.d_h)) + xp.sum(xp.abs(self.d_w))
        else:
            J = xp.sum(self.d_h * self.d_h) + xp.sum(self.d_w * self.d_w)
        return xp.asarray(J, dtype=G.dtype)

    def backward(self, dJ):
        xp = get_array_module(dJ)
        if self.p == 1:
            g_h, g_w = xp.sign(self.d_h) * dJ, xp.sign(self.d_w) * dJ
        else:
            g_h, g_w = self.d_h * (2 * dJ), self.d_w * (2 * dJ)
        dG = xp.zeros(self.shape, dtype=g_h.dtype)
        dG[..., 1:, :, :] += g_h
        dG[..., :-1, :, :] -= g_h
        dG[..., :, 1:, :] += g_w
        dG[..., :, :-1, :] -= g_w
        return dG


def total_variation(G, p=1):
    """Total variation of an image ``(m?, n_H, n_W, n_C)``: the sum of |differences|^p
    between vertically and horizontally neighbouring pixels (see ``TotalVariation``)."""
    G = as_tensor(G)
    _check_activation("total_variation: G", G)
    if p not in (1, 2):
        raise ValueError(f"total_variation: p={p!r}, expected 1 (absolute) or 2 (squared)")
    return TotalVariation(p)(G)


def total_cost(J_content, J_style, alpha=10, beta=40):
    """J(G) = α·J_content + β·J_style (the course's α = 10, β = 40 by default).

    Tensors in, Tensor out (differentiable); plain numbers in, a number out.
    """
    if isinstance(J_content, Tensor) or isinstance(J_style, Tensor):
        return alpha * as_tensor(J_content) + beta * as_tensor(J_style)
    return alpha * J_content + beta * J_style
