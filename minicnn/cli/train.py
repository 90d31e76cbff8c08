"""``minicnn train``, ``minicnn evaluate`` and ``minicnn summary``."""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from .. import backend
from .datasets import DATASETS, fit_to_shape, load_dataset

# Models that want a fixed spatial input (the channels come from the dataset).
MODEL_INPUT = {"lenet5": (32, 32)}


def add_train_args(p):
    p.add_argument("--model", default="lenet5", help="a name from minicnn.models.list_models()")
    p.add_argument("--dataset", default="digits", choices=sorted(DATASETS))
    p.add_argument("--data-dir", default=None, help="folder with the dataset's files")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--optimizer", default="adam", choices=["adam", "adamw", "sgd"])
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--schedule", default="cosine", choices=["cosine", "step", "none"])
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                   help="random crop (pad 2) and, for photos, horizontal flips (default: on "
                   "for the small digits set, where it lifts test accuracy from 97.2 to "
                   "98.3 %%; off for the others, where it slowed LeNet-5's few epochs down)")
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--limit", type=positive_int, default=None, metavar="N",
                   help="use at most N training images (a seeded random subset, from which "
                        "--val-fraction is then held out) and the first N test images: a "
                        "quick check of a set-up")
    p.add_argument("--input-shape", type=int, nargs=3, metavar=("H", "W", "C"),
                   help="resize the images to this shape (default: the dataset's, or the "
                        "smallest the model takes when the images are smaller)")
    p.add_argument("--device", default=None, help="cpu or cuda (default: MINICNN_DEVICE or cpu)")
    add_threads_arg(p)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/latest", help="folder for the checkpoint, curves "
                   "and metrics")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.npz")
    p.add_argument("--no-progress", action="store_true")


def add_evaluate_args(p):
    p.add_argument("checkpoint")
    p.add_argument("--dataset", default=None, help="default: the one it was trained on")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--device", default=None)
    add_threads_arg(p)
    p.add_argument("--batch-size", type=int, default=256)


def positive_int(value: str) -> int:
    """argparse type: an int ≥ 1."""
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}")
    return n


def threads_option(value: str):
    """argparse type of ``--threads``: a positive int or ``"auto"``."""
    if value == "auto":
        return value
    try:
        return positive_int(value)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected a positive number of threads or 'auto', "
                                         f"got {value!r}") from None


def add_threads_arg(p):
    p.add_argument("--threads", type=threads_option, default=None,
                   help="CPU threads: N (BLAS's and minicnn's own; default: BLAS's default "
                        "and the usable cores), or auto: one while multi-threaded BLAS "
                        "stalls on a shared machine (minicnn info --check), all otherwise; "
                        "auto runs are not bit-for-bit reproducible")


def _setup(args):
    """The device and threads asked for on the command line; an AdaptiveThreads for
    ``--threads auto`` (a callback for the Trainer), else None."""
    from ..threads import apply_threads
    if args.device:
        backend.set_device(args.device)
    return apply_threads(args.threads)


def _input_shape(model_name, dataset_shape, override):
    if override:
        return tuple(override)
    if model_name in MODEL_INPUT:
        return MODEL_INPUT[model_name] + (dataset_shape[2],)
    return tuple(dataset_shape)


def _model_for(name, num_classes, shape, grow=True):
    """The model and the image shape it is built for: ``shape``, or, when the network
    needs larger images than that (EfficientNet, VGG… on 28×28 Fashion-MNIST) and
    ``grow``, the smallest it takes; the caller brings the images to it. Without
    ``grow`` (a shape the user chose) a too small shape is an error that says so."""
    from ..models import get_model
    from ..models._common import InputTooSmall
    try:
        return get_model(name, num_classes=num_classes, input_shape=shape), tuple(shape)
    except InputTooSmall as e:
        if not grow:
            raise SystemExit(f"--input-shape {' '.join(map(str, shape))}: {name} needs images "
                             f"of at least {e.min_size}×{e.min_size}") from None
        bigger = (max(shape[0], e.min_size), max(shape[1], e.min_size), shape[2])
        print(f"{name} takes images of at least {e.min_size}×{e.min_size}: the "
              f"{shape[0]}×{shape[1]} images are brought to {bigger[0]}×{bigger[1]} "
              "(--input-shape chooses another size)")
        return get_model(name, num_classes=num_classes, input_shape=bigger), bigger


# What a checkpoint's run must share with the run that resumes it: the model, the data and
# its order, the optimiser's kind. (More epochs, say, are fine: that is what resuming is for.)
RESUME_KEYS = ("model", "dataset", "input_shape", "batch_size", "limit", "seed", "augment",
               "optimizer")


def _check_resume(saved, config, path):
    """Refuse to resume a run whose data or model differ from the checkpoint's: the loader's
    position, the schedule and the weights would no longer mean what they did."""
    changed = [f"{k}: {saved.get(k)!r} in the checkpoint, {config.get(k)!r} now"
               for k in RESUME_KEYS if k in saved and saved[k] != config.get(k)]
    if changed:
        raise SystemExit(f"--resume: {path} was written by a different run ("
                         + "; ".join(changed) + "); give the same options, or another --out")


def _build(config):
    from ..models import get_model
    return get_model(config["model"], num_classes=config["num_classes"],
                     input_shape=tuple(config["input_shape"]))


def _optimizer(name, params, lr, weight_decay):
    from .. import optim
    if name == "sgd":
        return optim.SGD(params, lr=lr, momentum=0.9, nesterov=True, weight_decay=weight_decay)
    if name == "adamw":
        return optim.AdamW(params, lr=lr, weight_decay=weight_decay or 1e-2)
    return optim.Adam(params, lr=lr, weight_decay=weight_decay)


def run_train(args) -> int:
    import minicnn
    from .. import optim
    from ..data import DataLoader, TensorDataset, transforms as T
    from ..train import Callback, Trainer

    minicnn.manual_seed(args.seed)
    adaptive = _setup(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    X_tr, y_tr, X_te, y_te, natural, k = load_dataset(args.dataset, args.data_dir, args.seed)
    if args.limit:
        keep = np.random.default_rng(args.seed).permutation(len(X_tr))[:args.limit]
        X_tr, y_tr, X_te, y_te = X_tr[keep], y_tr[keep], X_te[:args.limit], y_te[:args.limit]
    model, shape = _model_for(args.model, k, _input_shape(args.model, natural, args.input_shape),
                              grow=args.input_shape is None)
    X_tr, X_te = fit_to_shape(X_tr, shape), fit_to_shape(X_te, shape)
    n_val = int(round(args.val_fraction * len(X_tr)))
    order = np.random.default_rng(args.seed).permutation(len(X_tr))
    val_idx, tr_idx = order[:n_val], order[n_val:]
    if args.augment is None:
        args.augment = args.dataset == "digits"
    augment = None
    if args.augment:
        steps = [T.RandomCrop(shape[:2], padding=2)]
        if shape[2] == 3:
            steps.append(T.RandomHorizontalFlip())
        augment = T.Compose(steps)
    train_set = TensorDataset(X_tr[tr_idx], y_tr[tr_idx], transform=augment)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True,
                              seed=args.seed)
    val_loader = DataLoader(TensorDataset(X_tr[val_idx], y_tr[val_idx]), batch_size=256) \
        if n_val else None
    test_loader = DataLoader(TensorDataset(X_te, y_te), batch_size=256)

    config = {"model": args.model, "dataset": args.dataset, "num_classes": k,
              "input_shape": list(shape), "epochs": args.epochs, "batch_size": args.batch_size,
              "lr": args.lr, "optimizer": args.optimizer, "seed": args.seed,
              "augment": args.augment, "limit": args.limit}
    opt = _optimizer(args.optimizer, model.parameters(), args.lr, args.weight_decay)
    steps_per_epoch = len(train_loader)
    sched = None
    if args.schedule == "cosine":
        sched = optim.CosineAnnealingLR(opt, T_max=args.epochs * steps_per_epoch)
    elif args.schedule == "step":
        sched = optim.StepLR(opt, step_size=max(args.epochs // 3, 1) * steps_per_epoch,
                             gamma=0.1)
    ckpt_path = out / "checkpoint.npz"

    class SaveEveryEpoch(Callback):
        def on_epoch_end(self, trainer, epoch, logs):
            minicnn.save({"config": config, **trainer.state_dict()}, ckpt_path)

    trainer = Trainer(model, opt, scheduler=sched, scheduler_step="batch",
                      callbacks=[SaveEveryEpoch()] + ([adaptive] if adaptive else []),
                      progress=not args.no_progress)
    if args.resume and ckpt_path.exists():
        state = minicnn.load(ckpt_path)
        _check_resume(state.get("config", {}), config, ckpt_path)
        trainer.load_state_dict(state, train_loader)
        print(f"resumed from {ckpt_path} after epoch {trainer.epoch}")
    n_params = sum(p.size for p in model.parameters())
    print(f"{args.model} ({n_params:,} parameters) on {args.dataset}: {len(tr_idx)} train, "
          f"{n_val} validation, {len(X_te)} test images of {shape}; device "
          f"{backend.get_device()}")
    start = time.perf_counter()
    history = trainer.fit(train_loader, epochs=args.epochs, val_loader=val_loader)
    wall = time.perf_counter() - start
    test = trainer.evaluate(test_loader)
    print(f"test loss {test['loss']:.4f}  test accuracy {test['accuracy']:.4f}  "
          f"({wall:.1f} s of training)")
    if adaptive:
        print(adaptive.summary())
    history.plot(out / "curves.png", title=f"{args.model} on {args.dataset}")
    with open(out / "metrics.json", "w") as f:
        json.dump({"config": config, "test": test, "train_seconds": wall,
                   "history": history.rows()}, f, indent=1)
    print(f"saved {ckpt_path}, {out / 'curves.png'}, {out / 'metrics.json'}")
    return 0


def run_evaluate(args) -> int:
    import minicnn
    from ..data import DataLoader, TensorDataset
    from ..train import Trainer

    _setup(args)
    ckpt = minicnn.load(args.checkpoint)
    if "config" not in ckpt:
        raise SystemExit(f"{args.checkpoint}: not a checkpoint written by `minicnn train` "
                         "(it has no 'config' entry)")
    config = ckpt["config"]
    model = _build(config)
    model.load_state_dict(ckpt["model"])
    name = args.dataset or config["dataset"]
    _, _, X_te, y_te, _, k = load_dataset(name, args.data_dir, config.get("seed", 0))
    if k != config["num_classes"]:
        raise SystemExit(f"--dataset {name} has {k} classes, the model was trained for "
                         f"{config['num_classes']}")
    X_te = fit_to_shape(X_te, tuple(config["input_shape"]))
    from ..optim import SGD
    trainer = Trainer(model, SGD(model.parameters(), lr=0.0), progress=False)
    result = trainer.evaluate(DataLoader(TensorDataset(X_te, y_te), batch_size=args.batch_size))
    print(f"{config['model']} on {name} ({len(X_te)} test images): loss {result['loss']:.4f}, "
          f"accuracy {result['accuracy']:.4f}")
    return 0


def run_summary(args) -> int:
    from ..models import get_model
    from ..nn import summary
    shape = _input_shape(args.model, (32, 32, 3), args.input_shape)
    model = get_model(args.model, num_classes=args.num_classes, input_shape=shape)
    print(summary(model, shape))
    return 0
