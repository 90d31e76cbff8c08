"""Pictures of a face encoding's quality, saved as PNG.

Figures are made with ``matplotlib.figure.Figure`` and rendered by the Agg canvas: no
display is needed and pyplot's global state (and backend) is left alone.

- ``plot_roc``: the ROC curve(s) with AUC and the equal-error point;
- ``plot_distance_histograms``: distances of same-person and different-person pairs,
  with the threshold τ between them;
- ``plot_embedding_2d``: the encodings projected to 2-D (PCA), coloured by person;
- ``plot_training_curves``: loss per step for one or more runs.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["plot_roc", "plot_distance_histograms", "plot_embedding_2d", "pca_2d",
           "plot_training_curves"]


def _figure(figsize):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig, fig.subplots()


def _save(fig, path):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90, bbox_inches="tight")
    return path


def plot_roc(curves, path, title="Verification ROC on unseen people"):
    """``curves``: {label: (fpr, tpr)} or {label: (fpr, tpr, auc, eer)}."""
    fig, ax = _figure((5, 5))
    for label, c in curves.items():
        fpr, tpr = c[0], c[1]
        extra = f" (AUC {c[2]:.3f}, EER {c[3]:.3f})" if len(c) >= 4 else ""
        line, = ax.plot(fpr, tpr, lw=1.5, label=f"{label}{extra}")
        if len(c) >= 4:
            ax.plot([c[3]], [1 - c[3]], "o", color=line.get_color(), ms=4)
    ax.plot([0, 1], [0, 1], ":", color="grey", lw=1)
    ax.plot([0, 1], [1, 0], ":", color="lightgrey", lw=1)     # FPR = 1 − TPR: the EER line
    ax.set(xlabel="false accept rate (FPR)", ylabel="true accept rate (TPR)", title=title,
           xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(loc="lower right", fontsize=7)
    return _save(fig, path)


def plot_distance_histograms(d_same, d_diff, path, tau=None, title="Pair distances",
                             xlabel="d = ‖f(x₁) − f(x₂)‖²"):
    fig, ax = _figure((6, 3.5))
    d_same, d_diff = np.asarray(d_same), np.asarray(d_diff)
    hi = float(max(d_same.max(initial=0), d_diff.max(initial=0)))
    lo = float(min(d_same.min(initial=0), d_diff.min(initial=0)))
    bins = np.linspace(lo, hi if hi > lo else lo + 1, 50)
    ax.hist(d_same, bins, density=True, alpha=0.6, label=f"same person ({d_same.size})")
    ax.hist(d_diff, bins, density=True, alpha=0.6, label=f"different people ({d_diff.size})")
    if tau is not None:
        ax.axvline(tau, color="k", ls="--", lw=1, label=f"τ = {tau:.3f}")
    ax.set(xlabel=xlabel, ylabel="density", title=title)
    ax.legend(fontsize=7)
    return _save(fig, path)


def pca_2d(E):
    """The encodings projected on their two principal directions (SVD of the centred rows)."""
    E = np.asarray(E, np.float64)
    Ec = E - E.mean(axis=0)
    _, _, Vt = np.linalg.svd(Ec, full_matrices=False)
    return Ec @ Vt[:2].T


def plot_embedding_2d(E, labels, path, title="Encodings (PCA), one colour per person"):
    from matplotlib import colormaps
    Z = pca_2d(E)
    labels = np.asarray(labels)
    people = np.unique(labels)
    cmap = colormaps["tab20" if len(people) > 10 else "tab10"]
    fig, ax = _figure((5.5, 5))
    for i, who in enumerate(people):
        pts = Z[labels == who]
        ax.scatter(pts[:, 0], pts[:, 1], s=14, color=cmap(i % cmap.N), label=str(who))
    ax.set(title=title, xlabel="PC 1", ylabel="PC 2")
    if len(people) <= 12:
        ax.legend(fontsize=6, ncol=2, markerscale=0.8)
    return _save(fig, path)


def plot_training_curves(histories, path, title="Training loss"):
    """``histories``: {label: sequence of per-step losses} (smoothed over 10 steps)."""
    fig, ax = _figure((6, 3.5))
    for label, h in histories.items():
        h = np.asarray(h, float)
        if h.size == 0:
            continue
        k = min(10, h.size)
        smooth = np.convolve(h, np.ones(k) / k, mode="valid")
        ax.plot(np.arange(smooth.size) + k - 1, smooth, lw=1.2, label=label)
    ax.set(xlabel="step", ylabel="loss", title=title)
    ax.legend(fontsize=7)
    return _save(fig, path)
