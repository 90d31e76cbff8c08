"""``minicnn faces``: train an encoder, enrol people, verify and identify from the shell.

::

    minicnn faces train --data shared/data/olivetti_faces.npz --out runs/faces
    minicnn faces enrol alice alice1.jpg [alice2.jpg ...] --db faces.npz --model runs/faces
    minicnn faces verify photo.jpg alice --db faces.npz
    minicnn faces identify photo.jpg --db faces.npz [--top 3]

``train`` writes ``OUT/encoder.npz`` (weights, architecture, the threshold τ chosen on
held-out people, the training settings), ``OUT/report.json`` and PNG plots. ``enrol``
creates the database on first use and records the model's path in it, so ``verify``
and ``identify`` need only ``--db``. Images are read with Pillow and converted and
resized to what the encoder expects. ``--data`` is an Olivetti file (``.npz`` or
scikit-learn's ``olivetti.pkz``) or a folder with one sub-folder of photos per person.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

__all__ = ["main", "train_command", "enrol_command", "verify_command", "identify_command"]


def _parser():
    p = argparse.ArgumentParser(prog="minicnn faces", description="Face recognition from one "
                                "photo: train an encoder, enrol people, verify, identify.")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a face encoder and choose its threshold")
    t.add_argument("--data", required=True, help="Olivetti .npz/.pkz, or a folder of "
                   "<person>/<photos>")
    t.add_argument("--out", required=True, help="output folder (encoder.npz, report, plots)")
    t.add_argument("--method", default="triplet",
                   choices=("triplet", "contrastive", "binary", "classifier"),
                   help="classifier: a margin softmax over the training people "
                   "(see --classifier)")
    t.add_argument("--mining", default="batch_hard",
                   choices=("semi_hard", "batch_hard", "batch_all", "random"))
    t.add_argument("--classifier", default=None, choices=("cosface", "arcface", "softmax"),
                   help="the margin softmax of --method classifier (default cosface), or "
                   "added to the triplet loss")
    t.add_argument("--cls-margin", type=float, default=0.35, help="margin m of --classifier")
    t.add_argument("--cls-scale", type=float, default=16.0, help="scale s of --classifier")
    t.add_argument("--steps", type=int, default=400)
    t.add_argument("--time-limit", type=float, default=None, help="seconds")
    t.add_argument("--val-people", type=int, default=5, help="people held out to choose τ")
    t.add_argument("--input-size", type=int, default=32, help="images are resized to S×S")
    t.add_argument("--width", type=int, default=16)
    t.add_argument("--pool", default="avg", choices=("avg", "flatten"),
                   help="global average pooling, or the last feature map flattened (keeps "
                   "where on the face each feature is)")
    t.add_argument("--P", type=int, default=10, help="people per batch")
    t.add_argument("--K", type=int, default=4, help="photos per person per batch")
    t.add_argument("--lr", type=float, default=3e-3)
    t.add_argument("--alpha", type=float, default=0.2, help="triplet margin")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--quiet", action="store_true")

    e = sub.add_parser("enrol", help="add a person to a face database from photos")
    e.add_argument("name")
    e.add_argument("images", nargs="+")
    e.add_argument("--db", required=True)
    e.add_argument("--model", help="encoder.npz or its folder (needed to create a database)")

    v = sub.add_parser("verify", help="is this photo NAME? (1:1)")
    v.add_argument("image")
    v.add_argument("name")
    v.add_argument("--db", required=True)
    v.add_argument("--threshold", type=float, help="override the database's τ")

    i = sub.add_parser("identify", help="who is in this photo? (1:K)")
    i.add_argument("image")
    i.add_argument("--db", required=True)
    i.add_argument("--top", type=int, default=3)
    i.add_argument("--threshold", type=float, help="override the database's τ")
    return p


def main(argv=None) -> int:
    from .database import FaceDatabaseError
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    commands = {"train": train_command, "enrol": enrol_command, "verify": verify_command,
                "identify": identify_command}
    try:
        return commands[args.command](args)
    except (FileNotFoundError, FaceDatabaseError, KeyError, ValueError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"minicnn faces {args.command}: error: {msg}", file=sys.stderr)
        return 2


# ------------------------------------------------------------------ train
def _load_training_data(path):
    path = Path(path)
    from ...data import load_image_folder, load_olivetti
    if path.is_dir() and not (path / "olivetti_faces.npz").exists() and \
            not (path / "olivetti.pkz").exists():
        X, y, _ = load_image_folder(path, mode="L")
        return X, y
    return load_olivetti(path)


def train_command(args) -> int:
    from .metrics import best_threshold, pair_distances, roc_curve, verification_report
    from .plots import plot_distance_histograms, plot_embedding_2d, plot_roc, plot_training_curves
    from .train import TrainConfig, train_encoder

    X, y = _load_training_data(args.data)
    people = np.unique(y)
    n_val = args.val_people if len(people) - args.val_people >= 2 and args.val_people >= 2 else 0
    rng = np.random.default_rng(args.seed)
    val_people = rng.choice(people, size=n_val, replace=False) if n_val else people
    fit = ~np.isin(y, val_people) if n_val else np.ones(len(y), bool)
    cfg = TrainConfig(method=args.method, mining=args.mining, steps=args.steps,
                      time_limit=args.time_limit, input_shape=(args.input_size,
                                                               args.input_size, 1),
                      width=args.width, pool=args.pool,
                      P=min(args.P, len(np.unique(y[fit]))), K=args.K,
                      lr=args.lr, alpha=args.alpha, classifier=args.classifier,
                      cls_margin=args.cls_margin, cls_scale=args.cls_scale, seed=args.seed)
    say = (lambda *a: None) if args.quiet else print
    say(f"training a {cfg.label} encoder on {int(fit.sum())} photos of "
        f"{len(np.unique(y[fit]))} people; τ from {len(val_people)} "
        f"{'held-out' if n_val else 'training'} people")
    encoder, head, history = train_encoder(X[fit], y[fit], cfg, progress=not args.quiet)

    val = np.isin(y, val_people)
    E_val = encoder.encode(X[val])
    d, same = pair_distances(E_val, y[val])
    tau, _ = best_threshold(d, same, balanced=True)
    report = verification_report(d, same, tau)
    out = Path(args.out)
    encoder.save(out / "encoder.npz", threshold=tau, train_config=cfg.to_dict(),
                 val_people=[int(v) for v in np.atleast_1d(val_people)])
    fpr, tpr, _ = roc_curve(d, same)
    plot_roc({cfg.label: (fpr, tpr, report["auc"], report["eer"])}, out / "roc.png",
             title="ROC on held-out people" if n_val else "ROC on training people")
    plot_distance_histograms(d[same == 1], d[same == 0], out / "distances.png", tau=tau)
    plot_embedding_2d(E_val, y[val], out / "encodings.png")
    plot_training_curves({cfg.label: history["loss"]}, out / "loss.png")
    summary = {"threshold": tau, "auc": report["auc"], "eer": report["eer"],
               "balanced_accuracy": report["accuracy"], "steps": history["steps"],
               "seconds": history["seconds"], "config": cfg.to_dict()}
    (out / "report.json").write_text(json.dumps(summary, indent=2))
    say(f"{history['steps']} steps in {history['seconds']:.0f} s; on "
        f"{'held-out' if n_val else 'training'} people: AUC {report['auc']:.4f}, "
        f"EER {report['eer']:.3f}, τ = {tau:.3f} (balanced accuracy {report['accuracy']:.3f})")
    say(f"wrote {out / 'encoder.npz'} and plots in {out}")
    return 0


# ------------------------------------------------------------ the database
def _model_path(path):
    path = Path(path)
    return path / "encoder.npz" if path.is_dir() else path


def _open_db(db_path, model=None, create=False, threshold=None):
    """(database, encoder): the database at ``db_path`` with its encoder attached; a new
    empty one (remembering ``model``) when it does not exist and ``create``."""
    from .database import FaceDatabase, FaceDatabaseError
    from .encoder import FaceEncoder
    db_path = Path(db_path)
    db = None
    if db_path.exists():
        db = FaceDatabase.load(db_path, threshold=threshold)
        recorded = db.meta.get("model")
        if model and recorded and str(_model_path(model).resolve()) != recorded:
            raise ValueError(f"{db_path} was enrolled with the encoder {recorded}; encodings "
                             f"of {_model_path(model)} cannot be compared with them: use "
                             "another --db for this model")
        model = model or recorded
        if model is None:
            raise ValueError(f"{db_path} does not say which encoder made it; pass --model")
    elif not create:
        raise FileNotFoundError(f"face database {str(db_path)!r} does not exist; create it "
                                "with `minicnn faces enrol NAME IMAGE... --db DB --model M`")
    elif model is None:
        raise ValueError(f"--model is needed to create the database {db_path}")
    model_path = _model_path(model)
    if not model_path.exists():
        raise FileNotFoundError(f"encoder {str(model_path)!r} does not exist; train one with "
                                "`minicnn faces train --data PATH --out DIR`")
    encoder, extra = FaceEncoder.load(model_path)
    if db is None:
        tau = float(extra.get("threshold", 1.0)) if threshold is None else threshold
        db = FaceDatabase(None, tau, dim=encoder.embedding_dim)
    elif db.dim is not None and db.dim != encoder.embedding_dim:
        raise FaceDatabaseError(f"{db_path} stores encodings of size {db.dim}, but the "
                                f"encoder {model_path} makes size {encoder.embedding_dim}")
    db.encoder_fn = encoder.encode
    db.meta["model"] = str(model_path.resolve())
    return db, encoder


def enrol_command(args) -> int:
    db, _ = _open_db(args.db, args.model, create=True)
    n = db.enrol(args.name, list(args.images))
    db.save(args.db)
    print(f"enrolled {args.name}: {len(args.images)} photo(s) added, {n} stored; "
          f"{len(db)} people in {args.db}")
    return 0


def verify_command(args) -> int:
    db, _ = _open_db(args.db, threshold=args.threshold)
    dist, same = db.verify(args.image, args.name)
    verdict = f"it's {args.name}" if same else f"not {args.name}"
    print(f"{verdict} (distance {dist:.4f} {'≤' if same else '>'} τ {db.threshold:.4f})")
    return 0


def identify_command(args) -> int:
    db, _ = _open_db(args.db, threshold=args.threshold)
    r = db.identify(args.image, k=args.top)
    if r.name is None:
        print(f"not recognised (nearest: {r.nearest}, distance {r.distance:.4f} > "
              f"τ {db.threshold:.4f})")
    else:
        print(f"{r.name} (distance {r.distance:.4f} ≤ τ {db.threshold:.4f})")
    for rank, (name, d) in enumerate(r.top, 1):
        print(f"  {rank}. {name:<24} {d:.4f}")
    return 0
