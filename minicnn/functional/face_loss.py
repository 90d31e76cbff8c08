"""Losses that teach a network a face encoding f(x): similar faces close, different far.

The encoding is a vector f(x) ∈ ℝ^d (d = 128 in the course), L2-normalised, and the
distance between two faces is the *squared* Euclidean distance

    d(x₁, x₂) = ‖f(x₁) − f(x₂)‖²          (between 0 and 4 for unit vectors)

What is here, from the bottom up:

=============================  =====================================================
``l2_normalize``               f ← f / ‖f‖  (the encoder's last step)
``pairwise_sq_distances``      D_ij = ‖a_i − b_j‖² for all pairs, one matmul
``triplet_loss``               L = max(‖A − P‖² − ‖A − N‖² + α, 0), J = Σ L
``mine_triplets``              which (anchor, positive, negative) to train on, picked
                               from D: batch-all, batch-hard, semi-hard, random
``batch_triplet_loss``         D → mining → the hinge on the chosen triplets
``contrastive_loss``           pairs: y·d² + (1 − y)·max(margin − d, 0)²
``siamese_logits``             the binary head ŷ = σ(Σ_k w_k |f_ik − f_jk| + b) (or χ²)
``siamese_loss``               logistic loss of that head on same/different pairs
``cosine_logits``              c_ij = cos θ_ij between f_i and class weight w_j
``margin_logits``              z = s·ψ(c): CosFace (c − m) or ArcFace cos(θ + m) on
                               the true class, s·c on the others
``margin_softmax_loss``        softmax cross-entropy of those logits over the
                               training identities (a classifier on the sphere)
=============================  =====================================================

Sub-gradient convention at a hinge's kink: where the hinge's argument is exactly 0
(L = max(z, 0) with z = 0) the gradient is 0, as for ReLU. A finite difference
there sees the average of the two one-sided slopes, so gradient checks are done
at points away from the kink and the kink itself is tested on its own.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function, Tensor, as_tensor, no_grad
from ..backend import get_array_module, get_rng, to_numpy
from .activation import relu
from .math import abs as _abs, getitem, matmul

__all__ = ["l2_normalize", "pairwise_sq_distances", "triplet_loss", "MINING_STRATEGIES",
           "mine_triplets", "batch_all_triplets", "batch_hard_triplets", "semi_hard_triplets",
           "random_triplets", "batch_triplet_loss", "contrastive_loss", "pair_features",
           "siamese_logits", "siamese_loss", "MARGIN_KINDS", "cosine_logits",
           "margin_logits", "margin_softmax_loss"]

_REDUCTIONS = ("sum", "mean", "none")


def _reduce(L, reduction, name):
    if reduction == "sum":
        return L.sum()
    if reduction == "mean":
        return L.mean()
    if reduction == "none":
        return L
    raise ValueError(f"{name}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _check_same_shape(name, **arrays):
    shapes = {k: tuple(v.shape) for k, v in arrays.items()}
    if len(set(shapes.values())) != 1:
        got = ", ".join(f"{k} {s}" for k, s in shapes.items())
        raise ValueError(f"{name}: inputs must have the same shape (m, d), got {got}")
    if next(iter(shapes.values())) == ():
        raise ValueError(f"{name}: inputs must be encodings of shape (m, d) or (d,), got scalars")


# ------------------------------------------------------------ normalisation
class L2Normalize(Function):
    """y = x / max(‖x‖, ε) along ``axis`` (each encoding becomes a unit vector).

    Backward: with n = ‖x‖ and y = x / n,

        ∂J/∂x = (dy − y · Σ_k dy_k y_k) / n

    i.e. dy with its component along y removed (moving along y does not change a unit
    vector), scaled by 1/n. Where n < ε, y = x / ε and ∂J/∂x = dy / ε.

    =====  ==========================
    x      ``(m, d)`` (any shape)
    y      same as x
    =====  ==========================
    """

    def __init__(self, axis=-1, eps=1e-12):
        self.axis, self.eps = axis, eps

    def forward(self, x):
        xp = get_array_module(x)
        n = xp.sqrt((x * x).sum(axis=self.axis, keepdims=True))
        self.small = n < self.eps
        self.n = xp.maximum(n, x.dtype.type(self.eps))
        self.y = x / self.n
        return self.y

    def backward(self, dy):
        xp = get_array_module(dy)
        along = (dy * self.y).sum(axis=self.axis, keepdims=True)
        return xp.where(self.small, dy, dy - self.y * along) / self.n


def l2_normalize(x, axis=-1, eps=1e-12):
    """``x / ‖x‖`` along ``axis`` (the last step of a face encoder)."""
    return L2Normalize(axis, eps)(as_tensor(x))


# ---------------------------------------------------------------- distances
class PairwiseSqDistances(Function):
    """D_ij = ‖a_i − b_j‖² = ‖a_i‖² − 2 a_i·b_j + ‖b_j‖², clamped at 0.

    One matrix product instead of m·n vector differences; rounding can make the
    expansion slightly negative when a_i ≈ b_j, hence the clamp. With ``B`` left out
    (``None``), D is the distance matrix of A with itself and its diagonal is exactly 0.

    Backward, with G = ∂J/∂D (zero where the clamp was active):

        ∂J/∂A = 2 (diag(G 1) A − G B)        ∂J/∂B = 2 (diag(Gᵀ 1) B − Gᵀ A)

    (row i of ∂J/∂A is Σ_j G_ij · 2(a_i − b_j)). Without B both terms land on A.

    =====  ==========
    A      ``(m, d)``
    B      ``(n, d)``
    D      ``(m, n)``
    =====  ==========
    """

    def forward(self, A, B):
        xp = get_array_module(A)
        self.self_mode = B is None
        B = A if B is None else B
        self.A, self.B = A, B
        D = (A * A).sum(axis=1)[:, None] - 2 * (A @ B.T) + (B * B).sum(axis=1)[None, :]
        self.mask = D > 0
        if self.self_mode:
            xp.fill_diagonal(self.mask, False)    # ‖a_i − a_i‖² is 0 whatever A is
        return D * self.mask

    def backward(self, G):
        G = G * self.mask
        A, B = self.A, self.B
        if self.self_mode:
            S = G + G.T
            return 2 * (S.sum(axis=1)[:, None] * A - S @ A), None
        dA = 2 * (G.sum(axis=1)[:, None] * A - G @ B) if self.needs_input_grad[0] else None
        dB = 2 * (G.sum(axis=0)[:, None] * B - G.T @ A) if self.needs_input_grad[1] else None
        return dA, dB


def pairwise_sq_distances(A, B=None):
    """All squared distances ``D[i, j] = ‖A[i] − B[j]‖²`` (``B`` defaults to ``A``)."""
    A = as_tensor(A)
    B = None if B is None else as_tensor(B)
    if A.ndim != 2 or (B is not None and (B.ndim != 2 or B.shape[1] != A.shape[1])):
        raise ValueError(f"pairwise_sq_distances: A must be (m, d) and B (n, d), got A "
                         f"{A.shape}" + ("" if B is None else f" and B {B.shape}"))
    return PairwiseSqDistances()(A, B)


# -------------------------------------------------------------- triplet loss
class TripletLoss(Function):
    """L = max(‖a − p‖² − ‖a − n‖² + α, 0) for each triplet (anchor, positive, negative).

    The loss is zero once the negative is farther from the anchor than the positive
    by at least the margin α. Backward, with h = dL · [z > 0] where z is the hinge's
    argument (0 at and past the margin: the sub-gradient 0 is taken at z = 0):

        ∂J/∂a = 2h (n − p)      ∂J/∂p = −2h (a − p)      ∂J/∂n = 2h (a − n)

    ==========  ==========================
    a, p, n     ``(m, d)`` (or ``(d,)``)
    L           ``(m,)``   (or ``()``)
    ==========  ==========================
    """

    def __init__(self, alpha=0.2):
        self.alpha = alpha

    def forward(self, a, p, n):
        self.a_p, self.a_n = a - p, a - n
        d_ap = (self.a_p * self.a_p).sum(axis=-1)
        d_an = (self.a_n * self.a_n).sum(axis=-1)
        z = d_ap - d_an + a.dtype.type(self.alpha)
        self.active = z > 0
        return z * self.active

    def backward(self, dL):
        h = (2 * dL * self.active)[..., None]
        da = h * (self.a_p - self.a_n) if self.needs_input_grad[0] else None   # n − p
        dp = -h * self.a_p if self.needs_input_grad[1] else None
        dn = h * self.a_n if self.needs_input_grad[2] else None
        return da, dp, dn


def triplet_loss(anchor, positive, negative, alpha=0.2, reduction="sum"):
    """J = Σ_i max(‖f(A_i) − f(P_i)‖² − ‖f(A_i) − f(N_i)‖² + α, 0) over the batch.

    ``reduction``: "sum" (the course's J), "mean", or "none" (one loss per triplet).
    """
    a, p, n = as_tensor(anchor), as_tensor(positive), as_tensor(negative)
    _check_same_shape("triplet_loss", anchor=a, positive=p, negative=n)
    return _reduce(TripletLoss(alpha)(a, p, n), reduction, "triplet_loss")


# -------------------------------------------------------------------- mining
def _label_masks(labels, xp):
    labels = xp.asarray(labels).reshape(-1)
    same = labels[:, None] == labels[None, :]
    eye = xp.eye(len(labels), dtype=bool)
    return same & ~eye, ~same          # (anchor, positive) pairs, (anchor, negative) pairs


def batch_all_triplets(labels, D=None):
    """Every valid triplet of the batch: label[a] = label[p], a ≠ p, label[n] ≠ label[a].

    With m = P·K (P people, K photos each) that is m(K − 1)(m − K) triplets, most of
    them easy (zero loss) once training is under way. ``D`` is not used (accepted so
    all strategies share one signature). Returns index arrays ``(a, p, n)``.
    """
    xp = get_array_module(labels) if D is None else get_array_module(D)
    pos, neg = _label_masks(labels, xp)
    valid = pos[:, :, None] & neg[:, None, :]
    a, p, n = xp.nonzero(valid)
    return a, p, n


def batch_hard_triplets(labels, D):
    """For each anchor: its farthest positive and its nearest negative (Hermans et al.).

    One triplet per anchor that has at least one positive and one negative. FaceNet
    warns that the hardest negatives can make training collapse early on (every f(x)
    the same point, the loss stuck at α); an encoder whose encodings start spread over
    the sphere avoids it (see ``FaceEncoder``'s ``neck``).
    """
    xp = get_array_module(D)
    pos, neg = _label_masks(labels, xp)
    ok = pos.any(axis=1) & neg.any(axis=1)
    p = xp.where(pos, D, -xp.inf).argmax(axis=1)
    n = xp.where(neg, D, xp.inf).argmin(axis=1)
    a = xp.nonzero(ok)[0]
    return a, p[a], n[a]


def semi_hard_triplets(labels, D, alpha=0.2):
    """For each (anchor, positive) pair: the nearest negative that is farther than the
    positive, d(a, n) > d(a, p) (FaceNet's "semi-hard" negatives; the ones with
    d(a, n) < d(a, p) + α have a positive loss, d(a, p) ≈ d(a, n) being the hard
    triplets the lectures ask for). When no negative is farther than the positive,
    the farthest negative is taken instead (the least violating one), as in
    TensorFlow Addons' ``TripletSemiHardLoss``.

    ``alpha`` is accepted for a common signature; the choice does not depend on it.
    """
    xp = get_array_module(D)
    pos, neg = _label_masks(labels, xp)
    a, p = xp.nonzero(pos)
    d_ap = D[a, p][:, None]                         # (n_pairs, 1)
    d_an = D[a]                                     # (n_pairs, m)
    farther = neg[a] & (d_an > d_ap)
    n_semi = xp.where(farther, d_an, xp.inf).argmin(axis=1)
    n_far = xp.where(neg[a], d_an, -xp.inf).argmax(axis=1)
    has_neg = neg[a].any(axis=1)
    n = xp.where(farther.any(axis=1), n_semi, n_far)
    return a[has_neg], p[has_neg], n[has_neg]


def random_triplets(labels, D=None, rng=None):
    """For each anchor: a positive and a negative drawn at random, ignoring the
    encodings ("offline" triplets, the baseline the mining strategies must beat).
    ``rng`` is a ``numpy.random.Generator`` (default: the seeded host generator);
    the draw happens on the host, the indices are returned on D's device."""
    rng = get_rng() if rng is None else rng
    xp = np if D is None else get_array_module(D)
    pos, neg = _label_masks(to_numpy(labels), np)
    ok = pos.any(axis=1) & neg.any(axis=1)
    # a uniform choice among the True entries of each row: the argmax of noise on them
    p = np.where(pos, rng.random(pos.shape), -1).argmax(axis=1)
    n = np.where(neg, rng.random(neg.shape), -1).argmax(axis=1)
    a = np.nonzero(ok)[0]
    return xp.asarray(a), xp.asarray(p[a]), xp.asarray(n[a])


MINING_STRATEGIES = ("batch_all", "batch_hard", "semi_hard", "random")


def mine_triplets(labels, D, mining="semi_hard", alpha=0.2, rng=None):
    """Index arrays ``(a, p, n)`` of the triplets to train on, chosen from the distance
    matrix ``D`` (a raw array, or a Tensor whose values are used) of one batch."""
    D = D.data if isinstance(D, Tensor) else D
    xp = get_array_module(D)
    labels = labels.data if isinstance(labels, Tensor) else labels
    labels = xp.asarray(labels).reshape(-1)
    if D.ndim != 2 or D.shape != (len(labels), len(labels)):
        raise ValueError(f"mine_triplets: D must be (m, m) with m = len(labels) = "
                         f"{len(labels)}, got {tuple(D.shape)}")
    if mining == "batch_all":
        return batch_all_triplets(labels, D)
    if mining == "batch_hard":
        return batch_hard_triplets(labels, D)
    if mining == "semi_hard":
        return semi_hard_triplets(labels, D, alpha)
    if mining == "random":
        return random_triplets(labels, D, rng)
    raise ValueError(f"mine_triplets: mining must be one of {MINING_STRATEGIES}, got {mining!r}")


def batch_triplet_loss(encodings, labels, alpha=0.2, mining="semi_hard", reduction="mean",
                       rng=None):
    """Triplet loss of one batch of encodings with the triplets mined inside it.

    1. D = pairwise_sq_distances(f) — differentiable, (m, m);
    2. under ``no_grad``, pick triplets (a, p, n) from D's values (``mine_triplets``);
    3. L_t = max(D[a_t, p_t] − D[a_t, n_t] + α, 0) for each chosen triplet t.

    ``reduction``: "mean" over the chosen triplets, "mean_active" over those with
    L_t > 0 (the usual choice for batch-all, where most triplets are easy), "sum",
    or "none". With no valid triplet (one person in the batch) the loss is 0.
    Returns ``(loss, info)`` with ``info`` counting triplets and active ones.
    """
    f = as_tensor(encodings)
    if f.ndim != 2:
        raise ValueError(f"batch_triplet_loss: encodings must be (m, d), got {f.shape}")
    D = pairwise_sq_distances(f)
    with no_grad():
        a, p, n = mine_triplets(labels, D.data, mining, alpha, rng)
    if len(a) == 0:
        return (D * 0.0).sum(), {"triplets": 0, "active": 0}
    L = relu(getitem(D, (a, p)) - getitem(D, (a, n)) + alpha)
    active = int((L.data > 0).sum())
    info = {"triplets": int(len(a)), "active": active}
    if reduction == "mean_active":
        return L.sum() * (1.0 / max(active, 1)), info
    return _reduce(L, reduction, "batch_triplet_loss"), info


# --------------------------------------------------------------- contrastive
class ContrastiveLoss(Function):
    """L = y·d² + (1 − y)·max(margin − d, 0)², with d = ‖x₁ − x₂‖ (Hadsell et al. 2006).

    y = 1 for a same-person pair (pulled together), 0 for a different pair (pushed
    apart until d ≥ margin). Backward, with δ = x₁ − x₂ and h = max(margin − d, 0):

        ∂J/∂x₁ = 2 dL · δ · (y − (1 − y)·h / d)        ∂J/∂x₂ = −∂J/∂x₁

    At d = 0 a different pair has no direction to be pushed in: h / d is taken as 0
    there. y is a label: it receives no gradient.

    ========  ==============
    x₁, x₂    ``(m, d)``
    y         ``(m,)`` in {0, 1}
    L         ``(m,)``
    ========  ==============
    """

    def __init__(self, margin=1.0):
        self.margin = margin

    def forward(self, x1, x2, y):
        xp = get_array_module(x1)
        self.delta = x1 - x2
        D = (self.delta * self.delta).sum(axis=-1)
        d = xp.sqrt(D)
        h = xp.maximum(x1.dtype.type(self.margin) - d, 0)
        self.y = y.astype(x1.dtype)
        safe_d = xp.where(d > 0, d, 1)
        self.coef = self.y - (1 - self.y) * xp.where(d > 0, h / safe_d, 0)
        return self.y * D + (1 - self.y) * h * h

    def backward(self, dL):
        g = (2 * dL * self.coef)[..., None] * self.delta
        return (g if self.needs_input_grad[0] else None,
                -g if self.needs_input_grad[1] else None, None)


def contrastive_loss(x1, x2, y, margin=1.0, reduction="mean"):
    """Contrastive loss of pairs of encodings; ``y`` is 1 (same person) or 0 (different)."""
    x1, x2 = as_tensor(x1), as_tensor(x2)
    _check_same_shape("contrastive_loss", x1=x1, x2=x2)
    y = y.data if isinstance(y, Tensor) else y
    xp = get_array_module(x1.data)
    y = xp.asarray(y)
    if tuple(y.shape) != x1.shape[:-1]:
        raise ValueError(f"contrastive_loss: y must have shape {x1.shape[:-1]} (one 0/1 label "
                         f"per pair), got {tuple(y.shape)}")
    return _reduce(ContrastiveLoss(margin)(x1, x2, Tensor(y)), reduction, "contrastive_loss")


# ------------------------------------------------------------ Siamese head
PAIR_FEATURES = ("abs", "chi2")


def pair_features(f1, f2, kind="abs", eps=1e-6):
    """The features the binary head weighs, one per encoding component k:

    - "abs":  |f₁ₖ − f₂ₖ|                              (the lecture's first form)
    - "chi2": (f₁ₖ − f₂ₖ)² / (|f₁ₖ| + |f₂ₖ| + ε)       (the χ² form, from DeepFace)

    DeepFace's features are non-negative, so its χ² denominator is f₁ₖ + f₂ₖ; an
    L2-normalised encoding has signed components, hence |f₁ₖ| + |f₂ₖ|.
    Both are compositions of differentiable ops: their gradients come for free.
    """
    f1, f2 = as_tensor(f1), as_tensor(f2)
    _check_same_shape("pair_features", f1=f1, f2=f2)
    delta = f1 - f2
    if kind == "abs":
        return _abs(delta)
    if kind == "chi2":
        if not eps > 0:
            raise ValueError(f"pair_features: eps must be > 0 for kind='chi2' (it keeps "
                             f"0 / 0 away when both components are 0), got {eps!r}")
        return delta * delta / (_abs(f1) + _abs(f2) + eps)
    raise ValueError(f"pair_features: kind must be one of {PAIR_FEATURES}, got {kind!r}")


def siamese_logits(f1, f2, w, b, kind="abs"):
    """z = Σ_k w_k φ(f₁, f₂)_k + b, the logit of ŷ = σ(z) = P(same person).

    =======  ==========
    f1, f2   ``(m, d)``
    w        ``(d,)``
    b        ``()`` or ``(1,)``
    z        ``(m,)``
    =======  ==========
    """
    phi = pair_features(f1, f2, kind)
    w = as_tensor(w)
    if w.shape != (phi.shape[-1],):
        raise ValueError(f"siamese_logits: w must have shape ({phi.shape[-1]},), got {w.shape}")
    z = matmul(phi, w)
    return z + as_tensor(b).reshape(())


def siamese_loss(f1, f2, y, w, b, kind="abs", reduction="mean"):
    """Logistic loss −[y log ŷ + (1 − y) log(1 − ŷ)] of the Siamese head on pairs."""
    from .loss import binary_cross_entropy_with_logits
    z = siamese_logits(f1, f2, w, b, kind)
    y = y.data if isinstance(y, Tensor) else y
    y = get_array_module(z.data).asarray(y).astype(z.dtype)
    return binary_cross_entropy_with_logits(z, y, reduction=reduction)


# ---------------------------------------------------- margin softmax (CosFace / ArcFace)
MARGIN_KINDS = ("softmax", "cosface", "arcface")


def cosine_logits(f, W):
    """c_ij = cos θ_ij = f_i · w_j / (‖f_i‖ ‖w_j‖): how well encoding i points along the
    weight vector w_j of training identity j. A composition of ``l2_normalize`` and
    ``matmul``, so its gradient comes for free.

    ======  ==========================
    f       ``(m, d)`` encodings
    W       ``(d, C)``, one column per identity
    c       ``(m, C)``, in [−1, 1]
    ======  ==========================
    """
    f, W = as_tensor(f), as_tensor(W)
    if f.ndim != 2 or W.ndim != 2 or W.shape[0] != f.shape[1]:
        raise ValueError(f"cosine_logits: f must be (m, d) and W (d, C), got f {f.shape} and "
                         f"W {W.shape}")
    return matmul(l2_normalize(f, axis=1), l2_normalize(W, axis=0))


class MarginLogits(Function):
    """Logits of a classifier on the sphere, with a margin on the true class (CosFace,
    Wang et al. 2018; ArcFace, Deng et al. 2019).

    From the cosines c_ij and the labels y_i, with t_ij = [j = y_i]:

        z_ij = s · c_ij                  j ≠ y_i
        z_ij = s · ψ(c_ij)               j = y_i

    =============  =======================================  ==========================
    ``kind``       ψ(c)                                     ψ'(c)
    =============  =======================================  ==========================
    "cosface"      c − m                                    1
    "arcface"      cos(θ + m), θ = arccos c                 cos m + sin m · c / sin θ
                   (c + cos m − 1 where θ + m > π)          (1 there)
    "softmax"      c (no margin: NormFace)                  1
    =============  =======================================  ==========================

    The true class must beat every other by the margin before the loss lets go of it,
    so the encodings of one person are pulled into a tight cap around w_y and the caps
    pushed apart. Past θ + m = π, cos(θ + m) would rise again as θ grows (a wrong
    direction to learn in), so there ArcFace continues along the line of slope 1
    through ψ = −1 at θ = π − m, c + cos m − 1: no jump (InsightFace's c − m sin m
    there jumps down by about m²/2). In ψ', sin θ is
    kept ≥ 1e-6 so that it stays finite at c = ±1.

    Backward: ∂J/∂c_ij = s · dz_ij · (ψ'(c_ij) if j = y_i else 1). The labels get no
    gradient.

    ======  ==================================
    c       ``(m, C)`` cosines in [−1, 1]
    y       ``(m,)`` integer labels in [0, C)
    z       ``(m, C)``
    ======  ==================================
    """

    def __init__(self, s=16.0, m=0.2, kind="cosface"):
        self.s, self.m, self.kind = s, m, kind

    def forward(self, c, y):
        xp = get_array_module(c)
        one = c.dtype.type
        self.t = (y[:, None] == xp.arange(c.shape[1])[None, :])
        c_y = c[self.t]
        if self.kind == "cosface":
            psi, dpsi = c_y - one(self.m), xp.ones_like(c_y)
        elif self.kind == "arcface":
            cos_m, sin_m = np.cos(self.m), np.sin(self.m)
            sin_t = xp.sqrt(xp.maximum(1 - c_y * c_y, one(0)))
            past = c_y < one(np.cos(np.pi - self.m))           # θ + m > π
            psi = xp.where(past, c_y + one(cos_m - 1), c_y * one(cos_m) - sin_t * one(sin_m))
            dpsi = xp.where(past, one(1),
                            one(cos_m) + one(sin_m) * c_y / xp.maximum(sin_t, one(1e-6)))
        else:
            psi, dpsi = c_y, xp.ones_like(c_y)
        self.dpsi = dpsi
        z = c.copy()
        z[self.t] = psi
        return z * one(self.s)

    def backward(self, dz):
        dc = dz * dz.dtype.type(self.s)
        dc[self.t] = dc[self.t] * self.dpsi
        return dc, None


def margin_logits(cos, y, s=16.0, m=0.2, kind="cosface"):
    """z = s·ψ(c) on the true class, s·c elsewhere; see :class:`MarginLogits`."""
    cos = as_tensor(cos)
    if kind not in MARGIN_KINDS:
        raise ValueError(f"margin_logits: kind must be one of {MARGIN_KINDS}, got {kind!r}")
    if not s > 0:
        raise ValueError(f"margin_logits: the scale s must be > 0, got {s!r}")
    if kind == "arcface" and not 0 <= m < np.pi / 2:
        raise ValueError(f"margin_logits: an ArcFace margin is an angle in [0, π/2), got {m!r}")
    y = y.data if isinstance(y, Tensor) else y
    xp = get_array_module(cos.data)
    y = xp.asarray(y)
    if cos.ndim != 2 or tuple(y.shape) != (cos.shape[0],):
        raise ValueError(f"margin_logits: cos must be (m, C) and y (m,), got cos {cos.shape} "
                         f"and y {tuple(y.shape)}")
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"margin_logits: y must be integer class indices, got dtype {y.dtype}")
    if y.size and (int(y.min()) < 0 or int(y.max()) >= cos.shape[1]):
        raise ValueError(f"margin_logits: labels must be in [0, {cos.shape[1] - 1}], got "
                         f"[{int(y.min())}, {int(y.max())}]")
    return MarginLogits(s, m, kind)(cos, Tensor(y))


def margin_softmax_loss(f, W, y, s=16.0, m=0.2, kind="cosface", reduction="mean"):
    """Cross-entropy of the margin logits: J = −(1/m) Σ_i log softmax(z_i)_{y_i}, with
    z = margin_logits(cosine_logits(f, W), y, s, m, kind). ``W`` ``(d, C)`` holds one
    learned direction per training identity; ``y`` ``(m,)`` the identity of each
    encoding, in [0, C)."""
    from .loss import cross_entropy
    z = margin_logits(cosine_logits(f, W), y, s, m, kind)
    return cross_entropy(z, y, reduction=reduction)
