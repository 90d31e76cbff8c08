"""Training a face encoder: P people × K photos per batch, one of three objectives.

=================  ============================================================
``method``         what one step minimises, on a batch of P·K encodings
=================  ============================================================
``"triplet"``      max(d(a, p) − d(a, n) + α, 0) on the triplets ``mining``
                   picks inside the batch: "semi_hard" (FaceNet), "batch_hard",
                   "batch_all", or "random" (offline: chosen without looking)
``"contrastive"``  y·d² + (1 − y)·max(margin − d, 0)² on the batch's same-person
                   pairs and as many random different-person pairs
``"binary"``       logistic loss of the Siamese head σ(Σ_k w_k φ_k + b) on the
                   same pairs, φ = |f_i − f_j| (``head="abs"``) or χ² (``"chi2"``)
``"classifier"``   softmax cross-entropy over the training identities, from a
                   :class:`MarginClassifier` on the encodings (``classifier``:
                   "cosface", "arcface" or "softmax" — no margin)
=================  ============================================================

``classifier`` set with ``method="triplet"`` gives the joint objective
J = J_triplet + ``cls_weight`` · J_classifier. Why both: on 25 training people the
batch-hard triplets are all past the margin after a few hundred steps and the
triplet loss stops teaching; the classifier's margin keeps asking every encoding to
sit closer to its own identity's direction than to all the others', so the encoder
goes on learning (the encodings are still compared by distance, the classifier is
thrown away after training).

Why P × K: a triplet needs two photos of one person and one of another, and mining
needs choice; sampling P people and K photos of each gives every anchor K − 1
positives and (P − 1)·K negatives in the batch (Hermans et al., 2017).

The learning rate follows a short linear warm-up and then half a cosine down to 0
over the run; the run ends after ``steps`` steps or ``time_limit`` seconds, whichever
comes first (the cosine follows whichever is nearer its end, so a time-limited run
still ends at a low rate).
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from ... import functional as F
from ... import nn
from ...autograd import Tensor
from ...data.transforms import (RandomCrop, RandomErasing, RandomHorizontalFlip, RandomRotation,
                                zoom as zoom_images)
from ...optim import Adam
from .encoder import FaceEncoder

__all__ = ["TrainConfig", "SiameseHead", "MarginClassifier", "pk_batch",
           "same_and_different_pairs", "augment", "random_zoom", "train_encoder", "METHODS"]

METHODS = ("triplet", "contrastive", "binary", "classifier")


@dataclass
class TrainConfig:
    """Everything a training run depends on (saved with the model)."""
    method: str = "triplet"
    mining: str = "batch_hard"         # triplet only (the best in the protocol)
    head: str = "abs"                  # binary only: "abs" or "chi2"
    alpha: float = 0.2                 # triplet margin, on d = ‖f₁ − f₂‖² ∈ [0, 4]
    margin: float = 1.0                # contrastive margin, on ‖f₁ − f₂‖ ∈ [0, 2]
    P: int = 10                        # people per batch
    K: int = 4                         # photos per person
    steps: int = 400
    time_limit: float | None = None    # seconds
    lr: float = 3e-3
    weight_decay: float = 5e-4
    warmup: int = 20
    augment: bool = True               # flips, shifts, rotations, brightness/contrast
    shift: int = 2                     # pixels
    rotate: float = 0.0                # degrees
    jitter: float = 0.0                # brightness and contrast change, ±jitter
    input_shape: tuple = (32, 32, 1)
    width: int = 16
    blocks: tuple = (1, 1, 1)
    pool: str = "avg"
    dropout: float = 0.0
    neck: bool = True                  # see FaceEncoder
    embedding_dim: int = 128
    classifier: str | None = None      # "cosface", "arcface", "softmax": see MarginClassifier
    cls_weight: float = 1.0            # weight of the classifier's loss next to the triplet's
    cls_scale: float = 16.0            # s of the margin softmax
    cls_margin: float = 0.35           # m (a cosine for CosFace, an angle for ArcFace)
    zoom: float = 0.0                  # random resized crops: scale in [1 − zoom, 1 + zoom]
    erase: float = 0.0                 # probability of random erasing (see augment)
    flip_test: bool = False            # encode x and its mirror image, average (evaluation)
    ema: float = 0.0                   # > 0: keep w̄ ← ema·w̄ + (1 − ema)·w, end with w̄
    seed: int = 0
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"TrainConfig: method must be one of {METHODS}, got {self.method!r}")
        if self.method == "triplet" and self.mining not in F.MINING_STRATEGIES:
            raise ValueError(f"TrainConfig: mining must be one of {F.MINING_STRATEGIES}, got "
                             f"{self.mining!r}")
        if self.method == "classifier" and self.classifier is None:
            self.classifier = "cosface"
        if self.classifier is not None and self.classifier not in F.MARGIN_KINDS:
            raise ValueError(f"TrainConfig: classifier must be None or one of {F.MARGIN_KINDS}, "
                             f"got {self.classifier!r}")
        if not 0 <= self.ema < 1:
            raise ValueError(f"TrainConfig: ema must be in [0, 1), got {self.ema!r}")
        if self.P < 2 or self.K < 2:
            raise ValueError(f"TrainConfig: need P ≥ 2 people and K ≥ 2 photos per batch, got "
                             f"P={self.P}, K={self.K}")

    @property
    def label(self):
        if self.method == "classifier":
            base = self.classifier
        else:
            base = {"triplet": f"triplet/{self.mining}", "contrastive": "contrastive",
                    "binary": f"binary head ({self.head})"}[self.method]
            base = base if self.classifier is None else f"{base} + {self.classifier}"
        return base if self.pool == "avg" else f"{base}, {self.pool}"

    def to_dict(self):
        d = asdict(self)
        d["input_shape"], d["blocks"] = list(self.input_shape), list(self.blocks)
        return d


class SiameseHead(nn.Module):
    """ŷ = σ(Σ_k w_k φ(f_i, f_j)_k + b): P(the two faces are the same person).

    w starts at −10/d and b at 1: for two random unit vectors Σ_k |f_ik − f_jk| ≈ 0.1·d,
    so every pair starts near ŷ = ½ and a larger difference already means "different".
    """

    def __init__(self, dim=128, kind="abs"):
        super().__init__()
        if kind not in F.face_loss.PAIR_FEATURES:
            raise ValueError(f"SiameseHead: kind must be one of {F.face_loss.PAIR_FEATURES}, "
                             f"got {kind!r}")
        self.kind = kind
        self.w = nn.Parameter(np.full(dim, -10.0 / dim, np.float32))
        self.b = nn.Parameter(np.array(1.0, np.float32))

    def forward(self, f1, f2):
        return F.siamese_logits(f1, f2, self.w, self.b, self.kind)

    def distance(self, Q, G):
        """A (q, n) "distance" for evaluation: −logit, so smaller means more alike and the
        rule "same when −z ≤ τ" is ŷ ≥ σ(−τ). NumPy, the whole grid at once."""
        w, b = self.w.numpy(), float(self.b.numpy())
        Q, G = np.asarray(Q, np.float32)[:, None, :], np.asarray(G, np.float32)[None, :, :]
        delta = Q - G
        phi = np.abs(delta) if self.kind == "abs" else \
            delta * delta / (np.abs(Q) + np.abs(G) + 1e-6)
        return -(phi @ w + b)


class MarginClassifier(nn.Module):
    """A classifier over the C training identities that lives on the sphere: one learned
    direction w_j per identity (the columns of W, ``(d, C)``), logits from the cosines
    between an encoding and each w_j, with a margin on the true class (see
    :func:`minicnn.functional.margin_softmax_loss`). Used only while training."""

    def __init__(self, dim, n_classes, kind="cosface", s=16.0, m=0.2):
        super().__init__()
        if kind not in F.MARGIN_KINDS:
            raise ValueError(f"MarginClassifier: kind must be one of {F.MARGIN_KINDS}, got "
                             f"{kind!r}")
        if n_classes < 2:
            raise ValueError(f"MarginClassifier: need at least 2 identities, got {n_classes}")
        self.kind, self.s, self.m = kind, float(s), float(m)
        self.W = nn.Parameter(nn.init.glorot_uniform((dim, n_classes)))

    def forward(self, f, y):
        """The loss J of encodings ``f`` ``(m, d)`` with identities ``y`` ``(m,)`` in [0, C)."""
        return F.margin_softmax_loss(f, self.W, y, self.s, self.m, self.kind)


# ------------------------------------------------------------------ batches
def pk_batch(y, P, K, rng):
    """Indices of P people × K photos each (people chosen among those with ≥ 2 photos;
    photos without replacement when a person has at least K)."""
    people, counts = np.unique(y, return_counts=True)
    people = people[counts >= 2]
    if len(people) < 2:
        raise ValueError(f"pk_batch: need at least 2 people with 2 or more photos, got "
                         f"{len(people)}")
    chosen = rng.choice(people, size=min(P, len(people)), replace=False)
    idx = []
    for person in chosen:
        photos = np.nonzero(y == person)[0]
        idx.append(rng.choice(photos, size=K, replace=len(photos) < K))
    return np.concatenate(idx)


def same_and_different_pairs(labels, rng):
    """(i, j, same): every same-person pair of the batch and as many different-person
    pairs drawn at random, so that both classes weigh the same."""
    labels = np.asarray(labels)
    i, j = np.triu_indices(len(labels), k=1)
    same = labels[i] == labels[j]
    pos, neg = np.nonzero(same)[0], np.nonzero(~same)[0]
    neg = rng.choice(neg, size=min(len(pos), len(neg)), replace=False)
    keep = np.concatenate([pos, neg])
    return i[keep], j[keep], same[keep].astype(np.float32)


def augment(X, rng, shift=2, rotate=0.0, jitter=0.0, zoom=0.0, erase=0.0):
    """Random left–right flips, rescaling by up to ±``zoom`` (:func:`random_zoom`), shifts
    of up to ``shift`` pixels (edges repeated), rotations
    of up to ``rotate`` degrees, and brightness/contrast changes x → c·(x − x̄) + x̄ + β with
    c ∈ [1 − jitter, 1 + jitter], β ∈ [−jitter/2, jitter/2]: a face stays the same person
    under all of them, and Olivetti's photos vary in exactly these ways. With ``erase``
    > 0, that fraction of the images also gets a random rectangle blanked
    (:class:`~minicnn.data.RandomErasing`)."""
    X = RandomHorizontalFlip(0.5, rng=rng)(X)
    if zoom:
        X = random_zoom(X, rng, zoom)
    if rotate:
        X = RandomRotation(rotate, fill=0.0, rng=rng)(X)
    if shift:
        X = RandomCrop(None, padding=shift, padding_mode="edge", rng=rng)(X)
    if jitter:
        m = len(X)
        c = rng.uniform(1 - jitter, 1 + jitter, (m, 1, 1, 1)).astype(X.dtype)
        beta = rng.uniform(-jitter / 2, jitter / 2, (m, 1, 1, 1)).astype(X.dtype)
        mean = X.mean(axis=(1, 2, 3), keepdims=True)
        X = np.clip(c * (X - mean) + mean + beta, 0, 1)
    if erase:
        X = RandomErasing(erase, value="random", rng=rng)(X)
    return X


def random_zoom(X, rng, zoom=0.1):
    """Random resized crops: each image scaled about its centre by a factor drawn from
    [1 − zoom, 1 + zoom] (> 1: a smaller window blown up to the full size; < 1: the face
    shrinks, edges repeated); see :func:`minicnn.data.transforms.zoom`."""
    return zoom_images(X, rng.uniform(1 - zoom, 1 + zoom, size=len(X))).astype(X.dtype)


# ------------------------------------------------------------------ the loop
def _lr_at(cfg, step, elapsed):
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    frac = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    if cfg.time_limit:
        frac = max(frac, elapsed / cfg.time_limit)
    return cfg.lr * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0)))


def _loss(cfg, f, labels, head, rng, classifier=None, classes=None):
    if cfg.method == "classifier":
        return classifier(f, np.searchsorted(classes, labels)), float("nan")
    if cfg.method == "triplet":
        reduction = "mean_active" if cfg.mining == "batch_all" else "mean"
        loss, info = F.batch_triplet_loss(f, labels, cfg.alpha, cfg.mining, reduction, rng)
        if classifier is not None:
            loss = loss + cfg.cls_weight * classifier(f, np.searchsorted(classes, labels))
        return loss, info["active"] / max(1, info["triplets"])
    i, j, same = same_and_different_pairs(labels, rng)
    f1, f2 = f[i], f[j]
    if cfg.method == "contrastive":
        return F.contrastive_loss(f1, f2, same, cfg.margin), float("nan")
    z = head(f1, f2)
    loss = F.binary_cross_entropy_with_logits(z, same)
    return loss, float(np.mean((z.numpy() > 0) == (same > 0)))


def train_encoder(X, y, config=None, encoder=None, progress=False, callback=None, **overrides):
    """Train a :class:`FaceEncoder` on images ``X`` ``(m, n_H, n_W, n_C)`` of people ``y``.

    ``config``: a :class:`TrainConfig` (keyword ``overrides`` change its fields).
    Returns ``(encoder, head, history)``; ``head`` is the :class:`SiameseHead` for
    ``method="binary"`` and None otherwise; ``history`` has per-step ``loss``, ``stat``
    (fraction of active triplets, or the head's pair accuracy), ``lr``, and ``seconds``.
    """
    cfg = config or TrainConfig()
    if overrides:
        cfg = TrainConfig(**{**asdict(cfg), **overrides})
    rng = np.random.default_rng(cfg.seed)
    if encoder is None:
        from ...backend import manual_seed
        manual_seed(cfg.seed)                 # the initial weights depend on the seed only
        encoder = FaceEncoder(cfg.input_shape, cfg.width, cfg.blocks, cfg.embedding_dim,
                              pool=cfg.pool, dropout=cfg.dropout, neck=cfg.neck,
                              flip_test=cfg.flip_test)
    X = encoder.prepare(X)
    y = np.asarray(y)
    if len(X) != len(y):
        raise ValueError(f"train_encoder: {len(X)} images but {len(y)} labels")
    head = SiameseHead(encoder.embedding_dim, cfg.head) if cfg.method == "binary" else None
    classes = np.unique(y)
    classifier = None
    if cfg.method == "classifier" or (cfg.method == "triplet" and cfg.classifier is not None):
        classifier = MarginClassifier(encoder.embedding_dim, len(classes), cfg.classifier,
                                      cfg.cls_scale, cfg.cls_margin)
    params = encoder.parameters() + (head.parameters() if head is not None else []) + \
        (classifier.parameters() if classifier is not None else [])
    opt = Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    encoder.train()
    history = {"loss": [], "stat": [], "lr": [], "seconds": 0.0, "steps": 0}
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=cfg.steps, desc=cfg.label, leave=False)
    # An exponential moving average of the encoder's weights over the last ~1/(1 − ema)
    # steps: the weights the run ends with, averaged over the noise of the last batches.
    shadow = [p.data.copy() for p in encoder.parameters()] if cfg.ema else None
    t0 = time.perf_counter()
    for step in range(cfg.steps):
        elapsed = time.perf_counter() - t0
        if cfg.time_limit and elapsed > cfg.time_limit:
            break
        lr = _lr_at(cfg, step, elapsed)
        for g in opt.param_groups:
            g["lr"] = lr
        idx = pk_batch(y, cfg.P, cfg.K, rng)
        xb = augment(X[idx], rng, cfg.shift, cfg.rotate, cfg.jitter, cfg.zoom, cfg.erase) \
            if cfg.augment else X[idx]
        f = encoder(Tensor(xb))
        loss, stat = _loss(cfg, f, y[idx], head, rng, classifier, classes)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if shadow is not None:
            for w_bar, p in zip(shadow, encoder.parameters()):
                w_bar *= cfg.ema
                w_bar += (1 - cfg.ema) * p.data
        history["loss"].append(float(loss.item()))
        history["stat"].append(stat)
        history["lr"].append(lr)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{history['loss'][-1]:.4f}")
        if callback is not None:
            callback(step, history)
    if bar is not None:
        bar.close()
    history["seconds"] = time.perf_counter() - t0
    history["steps"] = len(history["loss"])
    if shadow is not None:
        for w_bar, p in zip(shadow, encoder.parameters()):
            p.data[...] = w_bar
    encoder.eval()
    return encoder, head, history
