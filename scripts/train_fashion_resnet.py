"""Train a ResNet on Fashion-MNIST from scratch, on the CPU, and plot the curves.

Fashion-MNIST: 60,000 training and 10,000 test images of clothes, 28×28 grey, 10 classes.
Debian's ``dataset-fashion-mnist`` package puts the idx files in
``/usr/share/datasets/fashion-mnist/`` (``--data-dir`` for another place).

The recipe:

* model: ``minicnn.models.fashion_resnet`` (151 K parameters, 10.3 M multiply-adds per
  image): 3×3 conv + 2×2 max-pool, one basic block at 14×14 (32 channels), two at 7×7
  (64), global average pool, dense 10;
* data: pixels scaled to [0, 1] and standardised with the training set's mean and
  standard deviation; augmentation: a random shift of up to 2 pixels (pad 2, crop 28)
  (``--flip`` adds random horizontal flips, which slowed this short schedule down);
* optimiser: SGD with Nesterov momentum 0.9, weight decay 5e-4 (not on BN and biases),
  batch 128, the learning rate warming up linearly to 0.1 over the first epoch, then a
  cosine down to 0 (one cycle) over 12 epochs; cross-entropy with label smoothing 0.1;
* threads: ``--threads auto`` by default, which checks every 10 s whether two BLAS threads
  are stalling on this shared machine and uses one meanwhile
  (:class:`minicnn.threads.AdaptiveThreads`). The switches change the order of a few float
  sums, so two runs of the same seed differ by up to about a tenth of a point; ``--threads 2``
  makes a run repeat to the last digit, and on these machines it sometimes took longer
  than 15 minutes.

    python scripts/train_fashion_resnet.py                 # the default run
    python scripts/train_fashion_resnet.py --threads 2     # reproducible to the last digit
    python scripts/train_fashion_resnet.py --epochs 2 --limit 5000    # a quick look

Writes ``docs/fashion_resnet_curves.png`` and prints a table per epoch. The test set is
evaluated after every epoch for the curves; that time is reported apart from the training's.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, REPO)

import minicnn  # noqa: E402
import minicnn.functional as F  # noqa: E402
import minicnn.models as M  # noqa: E402
from minicnn import Tensor, no_grad  # noqa: E402
from minicnn.data import (FASHION_MNIST_DIR, Compose, RandomCrop,  # noqa: E402
                          RandomHorizontalFlip, load_mnist)
from minicnn.optim import SGD, CosineAnnealingLR, LinearWarmup  # noqa: E402
from minicnn.cli.train import threads_option  # noqa: E402
from minicnn.threads import apply_threads  # noqa: E402


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default=FASHION_MNIST_DIR)
    p.add_argument("--model", default="fashion_resnet", help="a name from minicnn.models")
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--label-smoothing", type=float, default=0.1)
    p.add_argument("--no-augment", action="store_true")
    p.add_argument("--flip", action="store_true", help="add random horizontal flips")
    p.add_argument("--limit", type=int, default=None, help="use only this many training images")
    p.add_argument("--test-limit", type=int, default=None, help="and this many test images")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=os.path.join(REPO, "docs", "fashion_resnet_curves.png"))
    p.add_argument("--save", default=None, help="write the trained weights here (.npz)")
    p.add_argument("--threads", type=threads_option, default="auto",
                   help="N, or auto (the default): one thread while multi-threaded BLAS "
                        "stalls on a shared machine (see minicnn.threads.AdaptiveThreads)")
    return p.parse_args(argv)


def evaluate(model, X, y, batch=500):
    """(mean cross-entropy, accuracy) over (X, y), in evaluation mode."""
    model.eval()
    loss, correct = 0.0, 0
    with no_grad():
        for i in range(0, len(X), batch):
            z = model(Tensor(X[i:i + batch]))
            loss += F.cross_entropy(z, y[i:i + batch], reduction="sum").item()
            correct += int((z.numpy().argmax(axis=1) == y[i:i + batch]).sum())
    return loss / len(X), correct / len(X)


def param_groups(model, weight_decay):
    """Weight decay on the conv and dense kernels only: decaying BN's γ, β or a bias
    only fights the normalisation."""
    decay = [p for n, p in model.named_parameters() if n.endswith(".W")]
    rest = [p for n, p in model.named_parameters() if not n.endswith(".W")]
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": rest, "weight_decay": 0.0}]


def train(args):
    minicnn.manual_seed(args.seed)
    adaptive = apply_threads(args.threads)
    X, y = load_mnist(args.data_dir, "train")
    X_test, y_test = load_mnist(args.data_dir, "t10k")
    if args.limit:
        X, y = X[:args.limit], y[:args.limit]
    if args.test_limit:
        X_test, y_test = X_test[:args.test_limit], y_test[:args.test_limit]
    mean, std = float(X.mean()), float(X.std())
    X, X_test = (X - mean) / std, (X_test - mean) / std       # float32 stays float32
    X, X_test = X.astype(np.float32), X_test.astype(np.float32)

    model = M.get_model(args.model, num_classes=10, input_shape=X.shape[1:])
    n_params = M.count_parameters(model)
    augment = None if args.no_augment else Compose(
        [RandomCrop(padding=2, rng=args.seed)]
        + ([RandomHorizontalFlip(rng=args.seed + 1)] if args.flip else []))
    opt = SGD(param_groups(model, args.weight_decay), lr=args.lr, momentum=0.9,
              nesterov=True)
    steps_per_epoch = len(X) // args.batch_size
    total = args.epochs * steps_per_epoch
    warmup = min(steps_per_epoch, total // 4)
    sched = LinearWarmup(opt, warmup, after=CosineAnnealingLR(opt, T_max=total - warmup))
    rng = np.random.default_rng(args.seed)
    print(f"{args.model}: {n_params:,} parameters; {len(X):,} training images, "
          f"{len(X_test):,} test; {args.epochs} epochs of {steps_per_epoch} steps")
    print(f"{'epoch':>5} {'train loss':>10} {'train acc':>9} {'test loss':>9} {'test acc':>8} "
          f"{'time':>7} {'training':>8}")

    # The per-epoch test evaluation only draws the curves: its time is kept apart
    # (eval_s), so train_s is the training alone and time_s everything.
    history, t0, cpu0, eval_s = [], time.time(), time.process_time(), 0.0
    for epoch in range(1, args.epochs + 1):
        model.train()
        order = rng.permutation(len(X))
        loss_sum = correct = seen = 0
        for k in range(steps_per_epoch):
            idx = order[k * args.batch_size:(k + 1) * args.batch_size]
            xb = X[idx] if augment is None else augment(X[idx])
            opt.zero_grad()
            z = model(Tensor(xb))
            loss = F.cross_entropy(z, y[idx], label_smoothing=args.label_smoothing)
            loss.backward()
            opt.step()
            sched.step()
            if adaptive:
                adaptive.step()
            loss_sum += loss.item() * len(idx)
            correct += int((z.numpy().argmax(axis=1) == y[idx]).sum())
            seen += len(idx)
        t_eval = time.time()
        test_loss, test_acc = evaluate(model, X_test, y_test)
        eval_s += time.time() - t_eval
        history.append({"epoch": epoch, "train_loss": loss_sum / seen, "train_acc": correct / seen,
                        "test_loss": test_loss, "test_acc": test_acc,
                        "time_s": time.time() - t0, "train_s": time.time() - t0 - eval_s,
                        "cpu_s": time.process_time() - cpu0})
        h = history[-1]
        if adaptive:
            h["threads"] = adaptive.summary()
        print(f"{epoch:5d} {h['train_loss']:10.4f} {h['train_acc']:9.4f} {test_loss:9.4f} "
              f"{test_acc:8.4f} {h['time_s']:6.0f}s {h['train_s']:7.0f}s", flush=True)
    if args.save:
        minicnn.save(model.state_dict(), args.save)
    return model, history, n_params


def plot(history, args, n_params):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    e = [h["epoch"] for h in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    ax1.plot(e, [h["train_loss"] for h in history], "o-", label="train (augmented, smoothed "
             "labels)")
    ax1.plot(e, [h["test_loss"] for h in history], "o-", label="test")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("cross-entropy")
    ax1.legend()
    ax2.plot(e, [100 * h["train_acc"] for h in history], "o-", label="train (augmented)")
    ax2.plot(e, [100 * h["test_acc"] for h in history], "o-", label="test")
    ax2.axhline(93, color="gray", ls="--", lw=1, label="93 %")
    last = history[-1]
    ax2.text(0.03, 0.96, f"test: {100 * last['test_acc']:.2f} % after {last['epoch']} epochs,"
             f"\n{last['train_s'] / 60:.1f} min of training ({last['time_s'] / 60:.1f} min with "
             "the evaluations)", transform=ax2.transAxes, va="top")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("accuracy (%)")
    low = min(100 * min(h["test_acc"] for h in history), 100 * history[1]["train_acc"]
              if len(history) > 1 else 100)
    ax2.set_ylim(max(50, 5 * int(low // 5)), 100)
    ax2.legend(loc="lower right")
    fig.suptitle(f"Fashion-MNIST, {args.model} ({n_params:,} parameters), minicnn on "
                 f"{os.cpu_count()} CPU cores")
    fig.tight_layout()
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    fig.savefig(args.out, dpi=110)
    with open(os.path.splitext(args.out)[0] + ".json", "w") as f:
        json.dump({"args": vars(args), "history": history}, f, indent=1)
    print(f"figure: {args.out}")


def main(argv=None):
    args = parse(argv)
    _, history, n_params = train(args)
    best = history[-1]
    print(f"\nfinal test accuracy {100 * best['test_acc']:.2f} % after {best['train_s']:.0f} s "
          f"({best['train_s'] / 60:.1f} min) of training; {best['time_s']:.0f} s "
          f"({best['time_s'] / 60:.1f} min) of wall time with the per-epoch evaluations, "
          f"{best['cpu_s']:.0f} s of CPU time (all threads; on a busy machine wall time > CPU "
          "time / cores)" + (f"; {best['threads']}" if "threads" in best else ""))
    plot(history, args, n_params)
    return history


if __name__ == "__main__":
    main()
