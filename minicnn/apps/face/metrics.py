"""How good is a face encoding? ROC curve, AUC, equal-error rate, threshold choice.

Verification is a yes/no question asked with a distance: "same person" when
d(x₁, x₂) ≤ τ. Over a set of labelled pairs (``same`` = 1 for same-person pairs),
each τ gives

    TPR(τ) = P(d ≤ τ | same)          (same-person pairs accepted)
    FPR(τ) = P(d ≤ τ | different)     (different-person pairs wrongly accepted)

Sweeping τ from −∞ to +∞ traces the ROC curve from (0, 0) to (1, 1). Its area, the
AUC, is the probability that a random same-person pair is closer than a random
different-person pair (ties count ½). The equal-error rate is where FPR = 1 − TPR,
the false-accept and false-reject rates meeting.

Everything is NumPy on the host: these are evaluation numbers, not part of a graph.
"""
from __future__ import annotations

import numpy as np

__all__ = ["roc_curve", "auc", "roc_auc", "equal_error_rate", "accuracy_at",
           "best_threshold", "pair_distances", "verification_report"]


def _check_pairs(distances, same):
    d = np.asarray(distances, dtype=np.float64).reshape(-1)
    y = np.asarray(same).reshape(-1)
    if d.shape != y.shape:
        raise ValueError(f"distances and same must have the same length, got {d.shape[0]} "
                         f"distances and {y.shape[0]} labels")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("same must hold 0 (different people) or 1 (same person) only, got "
                         f"values {np.unique(y)[:5].tolist()}")
    y = y.astype(bool)
    if y.all() or not y.any():
        raise ValueError(f"ROC needs both same-person and different-person pairs, got "
                         f"{int(y.sum())} same and {int((~y).sum())} different")
    if not np.isfinite(d).all():
        raise ValueError("distances must be finite")
    return d, y


def roc_curve(distances, same):
    """(fpr, tpr, thresholds) for the rule "same person when d ≤ τ".

    ``thresholds`` are −∞ (accept nothing: the point (0, 0)) and then each distinct
    distance in increasing order; fpr[i], tpr[i] are the rates at thresholds[i].
    Equal to scikit-learn's ``roc_curve(same, −distances, drop_intermediate=False)``
    with thresholds negated.
    """
    d, y = _check_pairs(distances, same)
    order = np.argsort(d, kind="mergesort")
    d, y = d[order], y[order]
    last = np.r_[np.nonzero(np.diff(d))[0], d.size - 1]     # last index of each distinct d
    tp = np.cumsum(y)[last]
    fp = np.cumsum(~y)[last]
    tpr = np.r_[0.0, tp / y.sum()]
    fpr = np.r_[0.0, fp / (~y).sum()]
    return fpr, tpr, np.r_[-np.inf, d[last]]


def auc(x, y):
    """Area under a curve by the trapezoid rule (x increasing)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    return float(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2))


def roc_auc(distances, same):
    """Area under the ROC curve: P(d_same < d_different) + ½ P(equal)."""
    fpr, tpr, _ = roc_curve(distances, same)
    return auc(fpr, tpr)


def equal_error_rate(distances, same):
    """(eer, τ) where the false-accept rate FPR equals the false-reject rate 1 − TPR.

    Between two ROC points the crossing is found by linear interpolation, and τ is
    interpolated between the two thresholds alike (the first point's −∞ taken as the
    smallest distance).
    """
    fpr, tpr, thr = roc_curve(distances, same)
    fnr = 1 - tpr
    gap = fnr - fpr                        # decreasing from 1 (at −∞) to −1 (at the end)
    i = int(np.nonzero(gap <= 0)[0][0])    # first point where false rejects ≤ false accepts
    if i == 0 or gap[i] == 0:
        t = thr[i] if np.isfinite(thr[i]) else thr[1]
        return float(fpr[i]), float(t)
    w = gap[i - 1] / (gap[i - 1] - gap[i])             # in (0, 1]
    eer = fpr[i - 1] + w * (fpr[i] - fpr[i - 1])
    lo = thr[i - 1] if np.isfinite(thr[i - 1]) else thr[i]
    return float(eer), float(lo + w * (thr[i] - lo))


def accuracy_at(distances, same, tau, balanced=False):
    """Fraction of pairs classified right by "same person when d ≤ τ".

    ``balanced``: the mean of the accuracies on same pairs and on different pairs,
    (TPR + TNR) / 2, which is what the plain accuracy would be on a set with as many
    same-person as different-person pairs (all pairs of a set of people are mostly
    different-person pairs).
    """
    d = np.asarray(distances, float).reshape(-1)
    y = np.asarray(same).reshape(-1).astype(bool)
    right = (d <= tau) == y
    if balanced:
        return float((right[y].mean() + right[~y].mean()) / 2)
    return float(np.mean(right))


def best_threshold(distances, same, balanced=False):
    """(τ, accuracy): the threshold with the best verification accuracy on these pairs
    (``balanced``: the best (TPR + TNR) / 2, see :func:`accuracy_at`).

    Every rule "d ≤ τ" is one of the ROC points; accuracy there is
    (TP + TN) / n. The returned τ is placed halfway between the chosen distance and
    the next larger one, so that pairs just past it on new data fall on the side the
    validation pairs did.
    """
    d, y = _check_pairs(distances, same)
    fpr, tpr, thr = roc_curve(d, y)
    n_same, n_diff = y.sum(), (~y).sum()
    acc = (tpr + 1 - fpr) / 2 if balanced else (tpr * n_same + (1 - fpr) * n_diff) / d.size
    i = int(np.argmax(acc))
    if i == 0:
        return float(thr[1] - 1e-6), float(acc[0])
    nxt = d[d > thr[i]]
    tau = (thr[i] + nxt.min()) / 2 if nxt.size else thr[i]
    return float(tau), float(acc[i])


def pair_distances(E, labels, dist_fn=None):
    """All pairs i < j of a set of encodings: (distances, same) as flat arrays.

    ``dist_fn(Q, G)`` → (q, g) matrix of distances; squared Euclidean by default.
    """
    from .database import squared_distances
    E = np.asarray(E)
    labels = np.asarray(labels).reshape(-1)
    D = (dist_fn or squared_distances)(E, E)
    i, j = np.triu_indices(len(labels), k=1)
    return D[i, j], (labels[i] == labels[j]).astype(np.int8)


def verification_report(distances, same, tau=None, balanced=True):
    """AUC, EER and (balanced) accuracy at ``tau`` (at the best threshold when None)."""
    auc_ = roc_auc(distances, same)
    eer, tau_eer = equal_error_rate(distances, same)
    if tau is None:
        tau, acc = best_threshold(distances, same, balanced)
    else:
        acc = accuracy_at(distances, same, tau, balanced)
    return {"auc": auc_, "eer": eer, "tau_eer": tau_eer, "tau": float(tau), "accuracy": acc}
