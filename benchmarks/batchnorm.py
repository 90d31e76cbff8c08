"""BatchNorm speed: forward + backward of ``F.batch_norm`` in training mode against
PyTorch's BatchNorm2d, in the same run.

    python benchmarks/batchnorm.py                      # 1 thread, median of 15
    python benchmarks/batchnorm.py --threads 2 --repeat 25

Shapes are those of MobileNetV2 at 96×96 (batch 8), of a CIFAR-size ResNet stage
(batch 32) and of the first stage of benchmarks/train.py's small ResNet (batch 64). The
ratio is minicnn over PyTorch's faster layout (NCHW or channels-last).

"one pass" is the unit of BatchNorm's work in NumPy: one per-channel multiply over the
array (``_reduce.per_channel``); "passes" = minicnn's forward + backward in those units.
"on 2 threads" is that pass split in two halves over minicnn's pool (the caller and one
pool thread, as the depthwise convolution and pooling run): where it is not faster than
one thread, a BatchNorm split over threads would not be either.
"""
from __future__ import annotations

import argparse

import _common as C


def parse():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeat", type=int, default=15)
    return p.parse_args()


ARGS = parse()
C.limit_threads(ARGS.threads)

import numpy as np  # noqa: E402

import minicnn.functional as F  # noqa: E402
from minicnn import Tensor  # noqa: E402
from minicnn.functional import _workspace  # noqa: E402
from minicnn.functional._reduce import per_channel  # noqa: E402

torch = C.import_torch(ARGS.threads)

SHAPES = [(8, 48, 48, 16), (8, 48, 48, 96), (8, 24, 24, 144), (8, 12, 12, 384),
          (32, 32, 32, 64), (64, 28, 28, 16)]


def minicnn_step(shape):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    dy = rng.standard_normal(shape).astype(np.float32)
    n_C = shape[-1]
    gamma, beta = np.ones(n_C, np.float32), np.zeros(n_C, np.float32)
    rm, rv = np.zeros(n_C, np.float32), np.ones(n_C, np.float32)

    def step():
        t = [Tensor(a, requires_grad=True) for a in (x, gamma, beta)]
        F.batch_norm(*t, rm, rv, True).backward(dy)
    return step


def one_pass(shape, threads):
    """y = x ⊙ s per channel over the whole array, on one thread or in two halves on two."""
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32).reshape(-1, shape[-1])
    s, y = np.full(shape[-1], 1.5, np.float32), np.empty_like(x)
    if threads == 1:
        return lambda: per_channel(np.multiply, x, s, out=y)
    half = len(x) // 2
    halves = [slice(0, half), slice(half, None)]

    def split():
        before, _workspace.threads_set = _workspace.threads_set, 2   # for this call only
        try:
            _workspace.parallel_map(lambda rows: per_channel(np.multiply, x[rows], s,
                                                             out=y[rows]), halves)
        finally:
            _workspace.threads_set = before
    return split


def torch_step(shape, channels_last):
    m, n_H, n_W, n_C = shape
    bn = torch.nn.BatchNorm2d(n_C)
    x = torch.randn(m, n_C, n_H, n_W)
    dy = torch.randn(m, n_C, n_H, n_W)
    if channels_last:
        x, dy = (a.contiguous(memory_format=torch.channels_last) for a in (x, dy))
    x.requires_grad_(True)

    def step():
        bn(x).backward(dy)
    return step


def main():
    print(f"batch norm, training mode, forward + backward, float32, {ARGS.threads} thread(s), "
          f"median of {ARGS.repeat}; {C.machine()}")
    # Two BLAS threads against one even when BatchNorm runs on one: the check is of the
    # machine, and one against one would say nothing.
    print(C.machine_check(2))
    rows = []
    for shape in SHAPES:
        fns = {"minicnn": minicnn_step(shape), "pass": one_pass(shape, 1),
               "pass 2": one_pass(shape, 2)}
        if torch is not None:
            fns["torch NCHW"] = torch_step(shape, False)
            fns["torch NHWC"] = torch_step(shape, True)
        ms = C.interleaved_ms(fns, repeat=ARGS.repeat, warmup=2, cooldown=0.02)
        best_torch = min((v for k, v in ms.items() if k.startswith("torch")), default=None)
        rows.append(["×".join(map(str, shape)), C.fmt(ms["minicnn"], ".2f"),
                     C.fmt(best_torch, ".2f"),
                     C.fmt(None if best_torch is None else ms["minicnn"] / best_torch, ".2f"),
                     C.fmt(ms["pass"], ".3f"), C.fmt(ms["minicnn"] / ms["pass"], ".1f"),
                     C.fmt(ms["pass 2"], ".3f")])
    C.print_table(["x (m, n_H, n_W, n_C)", "minicnn ms", "torch ms", "ratio to torch",
                   "one pass ms", "passes", "on 2 threads ms"], rows)
    print(C.machine_check(2))


if __name__ == "__main__":
    main()
