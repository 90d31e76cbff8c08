"""Run the one-shot face-recognition protocol on Olivetti and write the report and plots.

    python scripts/face_protocol.py [--splits 0 1 2] [--methods semi_hard batch_hard ...]
                                    [--steps N] [--jobs 2] [--out docs/face]

For each method and each random split of the 40 people (30 for training, 10 never
seen): train the encoder, choose τ on held-out people, then measure on the unseen
people one-shot identification, open-set rejection and verification (see
:mod:`minicnn.apps.face.protocol`). Prints a table of mean ± std over the splits, and
writes ``OUT/report.md``, ``OUT/results.json`` and PNGs: ROC curves of every method,
distance histograms and a 2-D map of the unseen people's encodings for the best one,
and the training losses.
"""
from __future__ import annotations

import argparse
import ast
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from minicnn.apps.face import plots  # noqa: E402
from minicnn.apps.face.protocol import (load_faces, pixel_baseline, roc_of,  # noqa: E402
                                        run_protocol, summarise)
from minicnn.apps.face.train import TrainConfig  # noqa: E402

METHODS = {
    "semi_hard": dict(method="triplet", mining="semi_hard"),
    "batch_hard": dict(method="triplet", mining="batch_hard"),
    "batch_all": dict(method="triplet", mining="batch_all"),
    "random": dict(method="triplet", mining="random"),
    "binary_abs": dict(method="binary", head="abs"),
    "binary_chi2": dict(method="binary", head="chi2"),
    "contrastive": dict(method="contrastive"),
    # margin softmax over the training people: the classifier keeps learning long after
    # the triplets are all satisfied, so these train 3 times longer
    "cosface": dict(method="classifier", classifier="cosface", pool="flatten", steps=1200),
    "arcface": dict(method="classifier", classifier="arcface", pool="flatten", steps=1200),
    "cosface_avg": dict(method="classifier", classifier="cosface", steps=1200),
    "batch_hard_cosface": dict(method="triplet", mining="batch_hard", classifier="cosface",
                               steps=1200),
}

COLUMNS = [("one_shot_rank1", "one-shot (rank-1)"), ("one_shot_at_tau", "one-shot at τ"),
           ("open_set_rejection", "open-set rejection"),
           ("open_set_recognised", "open-set recognised"),
           ("verification_accuracy", "verif. acc (bal.)"), ("auc", "AUC"), ("eer", "EER")]


def table(summaries, wall):
    head = "| method | " + " | ".join(c for _, c in COLUMNS) + " | train s/split |"
    rule = "|---" * (len(COLUMNS) + 2) + "|"
    rows = [head, rule]
    for label, s in summaries.items():
        cells = [f"{s[k][0]:.3f} ± {s[k][1]:.3f}" for k, _ in COLUMNS]
        rows.append(f"| {label} | " + " | ".join(cells) + f" | {s['train_seconds'][0]:.0f} |")
    return "\n".join(rows) + f"\n\nTotal wall time: {wall / 60:.1f} min."


def overrides(pairs):
    """``["erase=0.5", "pool=flatten"]`` → ``{"erase": 0.5, "pool": "flatten"}``."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key not in TrainConfig.__dataclass_fields__:
            raise SystemExit(f"--set: expected KEY=VALUE with KEY a TrainConfig field, got "
                             f"{pair!r}")
        try:
            out[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key] = value
    return out


def machine():
    import os
    import platform
    return (f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"NumPy {np.__version__}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None, help="olivetti_faces.npz (default: search)")
    ap.add_argument("--splits", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--methods", nargs="+", default=list(METHODS)[:7], choices=list(METHODS))
    ap.add_argument("--steps", type=int, default=None,
                    help="training steps of every method (default: 400, 1200 for the margin "
                    "softmax methods)")
    ap.add_argument("--time-limit", type=float, default=None, help="seconds per training run")
    ap.add_argument("--input-size", type=int, default=32)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--tau-from", default="val", choices=("val", "train"))
    ap.add_argument("--no-augment", action="store_true")
    ap.add_argument("--jobs", type=int, default=2, help="trainings run at once (processes)")
    ap.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE",
                    help="other TrainConfig fields for every method, e.g. erase=0.5 seed=1 "
                    "pool=flatten (values are Python literals; bare words are strings)")
    ap.add_argument("--seeds", type=int, nargs="+", default=None,
                    help="train every method once per seed on every split and pool the runs "
                    "(default: one run, the config's seed)")
    ap.add_argument("--out", default="docs/face")
    args = ap.parse_args(argv)

    X, y = load_faces(args.data)
    configs = {}
    for name in args.methods:
        method = {"steps": 400} | METHODS[name] | ({} if args.steps is None else
                                                    {"steps": args.steps})
        settings = dict(time_limit=args.time_limit, width=args.width,
                        input_shape=(args.input_size, args.input_size, 1),
                        augment=not args.no_augment)
        cfg = TrainConfig(**(method | settings | overrides(args.set)))
        for seed in args.seeds or [cfg.seed]:
            configs[(cfg.label, seed)] = replace(cfg, seed=seed)
    t0 = time.perf_counter()
    results = {"pixels, no training": [pixel_baseline(X, y, s) for s in args.splits]}
    runs = run_protocol(X, y, {f"{label} (seed {seed})" if args.seeds else label: cfg
                               for (label, seed), cfg in configs.items()},
                        split_seeds=args.splits, tau_from=args.tau_from, jobs=args.jobs,
                        log=lambda line: print(line, flush=True))
    for ((label, seed), _), rs in zip(configs.items(), runs.values()):
        for r in rs:
            r["train_seed"] = seed
        results.setdefault(label, []).extend(rs)     # seeds × splits pooled per method
    wall = time.perf_counter() - t0
    summaries = {label: summarise(rs) for label, rs in results.items()}
    report = table(summaries, wall)
    print("\n" + report)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    trained = [k for k in summaries if results[k][0]["steps"] > 0]
    best = max(trained, key=lambda k: (summaries[k]["one_shot_rank1"][0], summaries[k]["auc"][0]))
    first = {label: rs[0] for label, rs in results.items()}
    plots.plot_roc({label: roc_of(r) for label, r in first.items()}, out / "roc.png",
                   title=f"Verification ROC, unseen people (split {args.splits[0]})")
    r = first[best]
    d, same = r["pairs"]
    plots.plot_distance_histograms(d[same == 1], d[same == 0], out / "distances.png",
                                   tau=r["tau"], title=f"{best}: unseen people's pairs",
                                   xlabel="distance" if "binary" in best else
                                   "d = ‖f(x₁) − f(x₂)‖²")
    plots.plot_embedding_2d(r["E_test"], r["y_test"], out / "encodings.png",
                            title=f"{best}: encodings of the 10 unseen people (PCA)")
    plots.plot_training_curves({label: first[label]["history"]["loss"] for label in trained},
                               out / "training_loss.png")
    settings = vars(args) | {"tau_from": args.tau_from}
    (out / "report.md").write_text(
        "# One-shot face recognition on Olivetti\n\n"
        f"`python scripts/face_protocol.py {' '.join(sys.argv[1:] if argv is None else argv)}`"
        f"\n\nSplits {args.splits}: 30 people for training, 10 never seen; τ chosen on "
        + ("5 of the 30 held out of training" if args.tau_from == "val" else
           "pairs of the training people") +
        (f"; training seeds {args.seeds}. Mean ± std over the splits × seeds" if args.seeds
         else ". Mean ± std over the splits") +
        ". One-shot: enrol 1 photo of each of the 10, identify the other 9 (chance 0.1); "
        "open set: enrol 5, the other 5 must be turned away; "
        "verification: all 4,950 pairs of the 10 people's photos.\n\n" + report +
        f"\n\nBest: {best}.\n\n{machine()}, {args.jobs} training run(s) at a time, one BLAS "
        "thread each.\n")
    (out / "results.json").write_text(json.dumps({
        "settings": settings, "wall_seconds": wall,
        "summary": {k: {m: list(v) for m, v in s.items()} for k, s in summaries.items()},
        "per_split": {label: [{k: r[k] for k in ("split_seed", "train_seed", "one_shot_rank1",
                                                   "one_shot_at_tau", "open_set_rejection",
                                                   "open_set_recognised",
                                                   "verification_accuracy", "auc", "eer",
                                                   "tau", "steps", "train_seconds")
                               if k in r}
                              for r in rs] for label, rs in results.items()}}, indent=1))
    print(f"\nbest: {best}; wrote {out}/report.md, results.json and PNGs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
