"""The one-shot protocol: recognise people the encoder has never seen, from one photo.

On the Olivetti faces (40 people × 10 photos), for each random split:

1. **train** the encoder on 30 people; the other 10 are never seen in training.
   The threshold τ is chosen on validation pairs (``tau_from``): pairs of
   ``n_val`` people held out of the 30 ("val", so the encoder is fitted on 30 − n_val
   people), or pairs of the training people's own photos ("train", biased: seen
   people are tighter than new ones).
2. **one-shot identification** (closed set, 1:10): enrol one photo of each unseen
   person and identify their other 9 photos; repeated with each of the 10 photos as
   the enrolment photo. Reported: rank-1 accuracy (the nearest is the right person)
   and the accuracy at τ (the right person *and* within τ).
3. **open set**: enrol one photo of only 5 of the 10; the photos of the other 5
   must come back "not recognised" (rejection rate), while the enrolled people's other
   photos must still be recognised (detection-and-identification rate at τ).
   Repeated over ``n_open_draws`` random choices of the 5.
4. **verification** (1:1) on all 4,950 pairs of the unseen people's photos:
   AUC, equal-error rate and the balanced accuracy at τ.

Identification goes through :class:`~minicnn.apps.face.database.FaceDatabase`, the
same code a user's ``identify`` runs.
"""
from __future__ import annotations

import numpy as np

from .database import FaceDatabase, squared_distances
from .metrics import best_threshold, pair_distances, roc_curve, verification_report
from .train import TrainConfig, train_encoder

__all__ = ["load_faces", "split_people", "evaluate_unseen", "run_split", "pixel_baseline",
           "run_protocol", "summarise", "roc_of"]


def load_faces(path=None):
    """``(X, y)``: the Olivetti faces ``(400, 64, 64, 1)`` float32 in [0, 1] and the person
    of each. ``path``: the ``.npz`` of ``shared/data`` or scikit-learn's ``olivetti.pkz``
    (or a folder holding one); None searches the usual places."""
    from ...data import load_olivetti
    return load_olivetti(path)


def split_people(y, n_train=30, seed=0):
    """(train_people, test_people): a random split of the people of ``y``."""
    people = np.unique(y)
    if not 1 < n_train < len(people) - 1:
        raise ValueError(f"split_people: n_train must leave at least 2 people on each side, "
                         f"got {n_train} of {len(people)}")
    perm = np.random.default_rng(seed).permutation(people)
    return np.sort(perm[:n_train]), np.sort(perm[n_train:])


def _identify(E_gallery, names, E_query, tau, dist_fn):
    db = FaceDatabase(None, tau, distance_fn=dist_fn)
    db.add_encodings([str(n) for n in names], E_gallery)
    return db.identify_encodings(E_query, k=1)


def evaluate_unseen(E, y, tau, dist_fn=None, n_open=5, n_open_draws=20, seed=0):
    """The protocol's numbers for encodings ``E`` of photos of unseen people ``y``."""
    dist_fn = dist_fn or squared_distances
    rng = np.random.default_rng(seed)
    people = np.unique(y)
    photos = [np.nonzero(y == p)[0] for p in people]
    n_photos = min(len(ph) for ph in photos)

    # one-shot identification, each photo index in turn as the enrolment photo
    rank1, at_tau = [], []
    for r in range(n_photos):
        gallery = np.array([ph[r] for ph in photos])
        query = np.concatenate([np.delete(ph, r) for ph in photos])
        res = _identify(E[gallery], people, E[query], tau, dist_fn)
        truth = [str(v) for v in y[query]]
        rank1 += [a.nearest == t for a, t in zip(res, truth)]
        at_tau += [a.name == t for a, t in zip(res, truth)]

    # open set: half the people enrolled, the other half must be turned away
    rejected, recognised = [], []
    for _ in range(n_open_draws):
        enrolled = rng.choice(len(people), size=n_open, replace=False)
        gallery = np.array([rng.choice(photos[i]) for i in enrolled])
        strangers = np.concatenate([photos[i] for i in range(len(people)) if i not in enrolled])
        known = np.concatenate([np.setdiff1d(photos[i], gallery) for i in enrolled])
        res = _identify(E[gallery], people[enrolled], E[strangers], tau, dist_fn)
        rejected += [a.name is None for a in res]
        res = _identify(E[gallery], people[enrolled], E[known], tau, dist_fn)
        recognised += [a.name == str(t) for a, t in zip(res, y[known])]

    d, same = pair_distances(E, y, dist_fn)
    ver = verification_report(d, same, tau)
    return {"one_shot_rank1": float(np.mean(rank1)), "one_shot_at_tau": float(np.mean(at_tau)),
            "open_set_rejection": float(np.mean(rejected)),
            "open_set_recognised": float(np.mean(recognised)),
            "verification_accuracy": ver["accuracy"], "auc": ver["auc"], "eer": ver["eer"],
            "tau": float(tau), "pairs": (d, same)}


def _dist_fn(head):
    return None if head is None else head.distance


def run_split(X, y, config, split_seed=0, n_train=30, n_val=5, tau_from="val",
              n_open_draws=20, progress=False):
    """Train on one random split and evaluate on its unseen people. Returns a dict of the
    protocol's numbers plus what the plots need (encodings, pair distances, history)."""
    train_people, test_people = split_people(y, n_train, split_seed)
    if tau_from == "val":
        if not 2 <= n_val < n_train - 1:
            raise ValueError(f"run_split: n_val must be in [2, {n_train - 2}], got {n_val}")
        rng = np.random.default_rng(split_seed + 10_000)
        val_people = np.sort(rng.choice(train_people, size=n_val, replace=False))
        fit_people = np.setdiff1d(train_people, val_people)
    elif tau_from == "train":
        val_people = fit_people = train_people
    else:
        raise ValueError(f"run_split: tau_from must be 'val' or 'train', got {tau_from!r}")
    config = config or TrainConfig()
    fit = np.isin(y, fit_people)
    encoder, head, history = train_encoder(X[fit], y[fit], config, progress=progress)
    dist_fn = _dist_fn(head)

    val = np.isin(y, val_people)
    d_val, same_val = pair_distances(encoder.encode(X[val]), y[val], dist_fn)
    tau, _ = best_threshold(d_val, same_val, balanced=True)

    test = np.isin(y, test_people)
    E_test = encoder.encode(X[test])
    out = evaluate_unseen(E_test, y[test], tau, dist_fn, n_open_draws=n_open_draws,
                          seed=split_seed)
    out.update(split_seed=split_seed, train_seconds=history["seconds"],
               steps=history["steps"], history=history, E_test=E_test, y_test=y[test],
               encoder=encoder, head=head)
    return out


def pixel_baseline(X, y, split_seed=0, n_train=30, n_val=5, size=(32, 32), n_open_draws=20):
    """The same protocol with no learning at all: f(x) = the centred, normalised pixels of
    the downscaled image. What the trained encoders must beat."""
    from .images import prepare_images
    Z = prepare_images(X, size).reshape(len(X), -1)
    Z = Z - Z.mean(axis=1, keepdims=True)
    E = Z / np.linalg.norm(Z, axis=1, keepdims=True)
    train_people, test_people = split_people(y, n_train, split_seed)
    rng = np.random.default_rng(split_seed + 10_000)
    val = np.isin(y, rng.choice(train_people, size=n_val, replace=False))
    tau, _ = best_threshold(*pair_distances(E[val], y[val]), balanced=True)
    test = np.isin(y, test_people)
    out = evaluate_unseen(E[test], y[test], tau, n_open_draws=n_open_draws, seed=split_seed)
    out.update(split_seed=split_seed, train_seconds=0.0, steps=0, history={"loss": []},
               E_test=E[test], y_test=y[test], encoder=None, head=None)
    return out


METRICS = ("one_shot_rank1", "one_shot_at_tau", "open_set_rejection", "open_set_recognised",
           "verification_accuracy", "auc", "eer")


def summarise(results):
    """{metric: (mean, std)} over the splits of one method."""
    return {k: (float(np.mean([r[k] for r in results])), float(np.std([r[k] for r in results])))
            for k in METRICS + ("train_seconds", "steps")}


def _run_one(args):
    """One (config, split) run in a worker process: the trained modules stay there."""
    X, y, cfg, seed, kw = args
    r = run_split(X, y, cfg, split_seed=seed, **kw)
    r.pop("encoder"), r.pop("head")
    return r


def run_protocol(X, y, configs, split_seeds=(0, 1, 2), log=print, jobs=1, **kw):
    """Every config on every split. ``configs``: {label: TrainConfig}. Returns
    {label: [result per split]}; ``log`` gets a line per run.

    ``jobs`` > 1 runs that many trainings at once in separate processes, each with one
    BLAS thread (set before the workers start): on a 2-core machine two single-threaded
    runs finish sooner than two runs one after the other with two threads each. The
    results from workers have no ``encoder``/``head`` entries.
    """
    for label, cfg in configs.items():
        if not isinstance(cfg, TrainConfig):
            raise TypeError(f"run_protocol: configs[{label!r}] must be a TrainConfig")
    runs = [(label, cfg, s) for label, cfg in configs.items() for s in split_seeds]

    def report(label, r):
        if log:
            log(f"{label:<26} split {r['split_seed']}: one-shot {r['one_shot_rank1']:.3f} "
                f"(at τ {r['one_shot_at_tau']:.3f}), open-set rejection "
                f"{r['open_set_rejection']:.3f}, verification acc "
                f"{r['verification_accuracy']:.3f}, AUC {r['auc']:.4f}  "
                f"[{r['steps']} steps, {r['train_seconds']:.0f} s]")

    results = {label: [None] * len(split_seeds) for label in configs}
    if jobs <= 1:
        for label, cfg, s in runs:
            r = run_split(X, y, cfg, split_seed=s, **kw)
            results[label][list(split_seeds).index(s)] = r
            report(label, r)
        return results
    import multiprocessing as mp
    import os
    from concurrent.futures import ProcessPoolExecutor, as_completed
    saved = {k: os.environ.get(k) for k in _THREAD_VARS}
    os.environ.update({k: "1" for k in _THREAD_VARS})
    try:
        with ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn")) as pool:
            futures = {pool.submit(_run_one, (X, y, cfg, s, kw)): (label, s)
                       for label, cfg, s in runs}
            for fut in as_completed(futures):
                label, s = futures[fut]
                r = fut.result()
                results[label][list(split_seeds).index(s)] = r
                report(label, r)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return results


_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                "MINICNN_NUM_THREADS")


def roc_of(result):
    """(fpr, tpr, auc, eer) of one split's verification pairs, for ``plot_roc``."""
    d, same = result["pairs"]
    fpr, tpr, _ = roc_curve(d, same)
    return fpr, tpr, result["auc"], result["eer"]
