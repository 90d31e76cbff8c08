"""Convolution speed: minicnn against PyTorch's CPU convolutions, in the same process.

    python benchmarks/conv.py                            # the whole table (a minute or two)
    python benchmarks/conv.py --rows resnet depthwise --repeat 11
    python benchmarks/conv.py --cold                     # first calls after a pause
    MINICNN_MALLOPT=0 python benchmarks/conv.py          # without the allocator setting

Each row times, in float32, the forward pass and the forward + backward pass (the
gradients a network needs at that layer: the first layer needs none for its input, style
transfer none for its frozen weights), as the median of ``--repeat`` runs. minicnn and
PyTorch (``--threads`` threads each, 2 by default) are timed in turn, run after run, so
load from other processes hits both alike; each timed call follows 0.1 s of untimed
ones (``--warm-seconds``): the time of a call repeated in a loop, not of the op inside a
network (``train.py`` and ``models.py`` time whole steps; ``--cold`` times the first call
after a pause instead, see ``_common.interleaved_ms``). PyTorch runs in its default NCHW layout and
in channels-last (NHWC, minicnn's layout); the ratio is minicnn over the faster of the two.
GFLOP/s counts 2 flops per multiply-add of the passes that ran. The "GEMMs" columns
time the bare matrix products of a blocked im2col + GEMM conv of that row (ready operands in
cache, NumPy's BLAS, in the same rotation): about the least time that an im2col conv's
products take on this machine.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
from dataclasses import dataclass

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import (add_timing_args, fmt, gemm_floor, import_torch,  # noqa: E402
                     interleaved_ms, limit_threads, machine, machine_check, print_table,
                     timing, traced_peak_bytes)


@dataclass
class Row:
    key: str
    name: str
    op: str                   # "conv", "transpose" or "maxpool"
    m: int
    n_H: int
    n_W: int
    n_C_prev: int
    n_C: int
    f: int
    s: int
    p: int
    groups: int = 1
    grads: tuple = ("x", "W", "b")    # inputs that need a gradient

    @property
    def shape(self) -> str:
        arrow = (f"{self.n_C_prev}→{self.n_C}" if self.groups == 1
                 else f"{self.n_C_prev}, g={self.groups}")
        return f"({self.m},{self.n_H},{self.n_W},{arrow}) f{self.f} s{self.s} p{self.p}"


ROWS = [
    Row("lenet", "LeNet conv1", "conv", 64, 28, 28, 1, 6, 5, 1, 0, grads=("W", "b")),
    Row("resnet", "ResNet 3×3", "conv", 32, 32, 32, 64, 64, 3, 1, 1),
    Row("strided", "strided 3×3/2", "conv", 32, 32, 32, 64, 128, 3, 2, 1),
    Row("1x1", "1×1", "conv", 32, 16, 16, 256, 64, 1, 1, 0),
    Row("style", "style transfer", "conv", 1, 256, 256, 64, 64, 3, 1, 1, grads=("x",)),
    Row("depthwise", "depthwise 3×3", "conv", 32, 32, 32, 128, 128, 3, 1, 1, groups=128),
    Row("transposed", "transposed 2×2/2", "transpose", 32, 16, 16, 128, 64, 2, 2, 0),
    Row("maxpool", "max-pool 2×2/2", "maxpool", 32, 32, 32, 64, 64, 2, 2, 0, grads=("x",)),
]
GEMM_BOUND = ("resnet", "strided", "1x1", "style")


def parse():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", nargs="+", default=[r.key for r in ROWS],
                   choices=[r.key for r in ROWS])
    add_timing_args(p, repeat=7)
    p.add_argument("--no-torch", action="store_true", help="time minicnn alone")
    return p.parse_args()


ARGS = parse()
limit_threads(ARGS.threads)

import numpy as np  # noqa: E402

import minicnn  # noqa: E402
import minicnn.functional as F  # noqa: E402
from minicnn import Tensor  # noqa: E402
from minicnn.functional import _workspace  # noqa: E402

torch = None if ARGS.no_torch else import_torch(ARGS.threads)
try:
    from minicnn.functional.pool import max_pool2d
except ImportError:                  # pooling lives in its own module; the row waits for it
    max_pool2d = None


def arrays(row: Row, rng):
    """x (NHWC), W (minicnn's layout), b, and the upstream gradient, float32."""
    x = rng.standard_normal((row.m, row.n_H, row.n_W, row.n_C_prev), dtype=np.float32)
    if row.op == "transpose":      # y: n_C_prev channels → n_C; W (f, f, n_C, n_C_prev)
        W = rng.standard_normal((row.f, row.f, row.n_C, row.n_C_prev), dtype=np.float32)
    else:
        W = rng.standard_normal((row.f, row.f, row.n_C_prev // row.groups, row.n_C),
                                dtype=np.float32)
    W *= math.sqrt(2 / (row.f * row.f * row.n_C_prev / row.groups))
    b = np.zeros(row.n_C, np.float32)
    return x, W, b


def minicnn_op(row: Row):
    if row.op == "conv":
        return lambda x, W, b: F.conv2d(x, W, b, stride=row.s, padding=row.p, groups=row.groups)
    if row.op == "transpose":
        return lambda x, W, b: F.conv_transpose2d(x, W, b, stride=row.s, padding=row.p)
    return None if max_pool2d is None else lambda x, W, b: max_pool2d(x, row.f, row.s, row.p)


def torch_op(row: Row):
    tF = torch.nn.functional
    if row.op == "conv":
        return lambda x, W, b: tF.conv2d(x, W, b, stride=row.s, padding=row.p, groups=row.groups)
    if row.op == "transpose":
        return lambda x, W, b: tF.conv_transpose2d(x, W, b, stride=row.s, padding=row.p)
    return lambda x, W, b: tF.max_pool2d(x, row.f, row.s, row.p)


def flops(row: Row, out_shape) -> tuple:
    """(forward, forward + backward) flops: 2 per multiply-add, per pass that runs."""
    if row.op == "maxpool":
        return None, None
    n_out = math.prod(out_shape[:-1]) if row.op == "conv" else row.m * row.n_H * row.n_W
    macs = n_out * row.f * row.f * (row.n_C_prev if row.op == "transpose" else row.n_C) \
        * (row.n_C if row.op == "transpose" else row.n_C_prev // row.groups)
    passes = 1 + ("x" in row.grads) + ("W" in row.grads)
    return 2 * macs, 2 * macs * passes


def closures(row: Row, x, W, b):
    """minicnn's forward and forward+backward closures, and PyTorch's (NCHW, NHWC)."""
    op = minicnn_op(row)
    if op is None:
        return None
    xm = Tensor(x, requires_grad="x" in row.grads)
    Wm = Tensor(W, requires_grad="W" in row.grads)
    bm = Tensor(b, requires_grad="b" in row.grads)
    with minicnn.no_grad():
        out_shape = op(xm, Wm, bm).shape
    dZ = np.random.default_rng(1).standard_normal(out_shape, dtype=np.float32)

    def fwd():
        with minicnn.no_grad():
            op(xm, Wm, bm)

    def fwd_bwd():
        for t in (xm, Wm, bm):
            t.grad = None
        op(xm, Wm, bm).backward(dZ)

    result = {"fwd": fwd, "fwd+bwd": fwd_bwd, "out_shape": out_shape}
    if torch is None:
        return result
    tW = W.transpose(3, 2, 0, 1)     # (f, f, in, out) → (out, in, f, f); transposed too
    t_op = torch_op(row)
    for layout, fmt_ in (("torch NCHW", torch.contiguous_format),
                         ("torch NHWC", torch.channels_last)):
        tx = torch.from_numpy(x.transpose(0, 3, 1, 2).copy()).contiguous(memory_format=fmt_)
        tx.requires_grad_("x" in row.grads)
        tw = torch.from_numpy(np.ascontiguousarray(tW)).requires_grad_("W" in row.grads)
        tb = torch.from_numpy(b.copy()).requires_grad_("b" in row.grads)
        with torch.no_grad():
            out = t_op(tx, tw, tb)
        tdz = torch.from_numpy(dZ.transpose(0, 3, 1, 2).copy()).contiguous(
            memory_format=torch.channels_last if fmt_ is torch.channels_last
            else torch.contiguous_format)

        def t_fwd_bwd(tx=tx, tw=tw, tb=tb, tdz=tdz):
            for t in (tx, tw, tb):
                t.grad = None
            t_op(tx, tw, tb).backward(tdz)
        result[layout] = t_fwd_bwd
        del out
    return result


def row_gemms(row: Row, out_shape):
    """The bare GEMMs of the row's conv (see ``_common.gemm_floor``); None off the GEMM path."""
    if row.op != "conv" or row.groups != 1:
        return None
    M, K = math.prod(out_shape[:-1]), row.f * row.f * row.n_C_prev
    return gemm_floor([(M, K, row.n_C, "x" in row.grads, "W" in row.grads)])


def im2col_memory(row: Row):
    """Peak traced bytes of the ResNet-shape forward and forward+backward, beyond the
    input, output and gradients, against the full column matrix."""
    x, W, b = arrays(row, np.random.default_rng(0))
    c = closures(row, x, W, b)
    c["fwd+bwd"]()
    _workspace.clear_workspaces()
    peak_f = traced_peak_bytes(c["fwd"])
    _workspace.clear_workspaces()
    peak_fb = traced_peak_bytes(c["fwd+bwd"])
    out_bytes = math.prod(c["out_shape"]) * 4
    full = math.prod(c["out_shape"][:-1]) * row.f * row.f * row.n_C_prev * 4
    extra_f = peak_f - out_bytes                                     # beyond Z
    extra_fb = peak_fb - out_bytes - x.nbytes - W.nbytes - b.nbytes  # beyond Z, dX, dW, db
    return extra_f, extra_fb, full, _workspace.workspace_nbytes()


def page_faults(row: Row, runs: int = 5) -> float:
    """Minor page faults per forward+backward: memory the allocator had to map afresh."""
    import resource
    x, W, b = arrays(row, np.random.default_rng(0))
    c = closures(row, x, W, b)
    c["fwd+bwd"]()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(runs):
        c["fwd+bwd"]()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / runs


def main():
    rng = np.random.default_rng(0)
    print(f"minicnn conv benchmark: float32, {timing(ARGS)}; "
          f"{machine()}; numpy {np.__version__}"
          + (f", torch {torch.__version__}" if torch else ", torch not installed")
          + f"; allocator tuned: {_workspace.tune_malloc()}")
    print(machine_check(ARGS.threads))
    rows = []
    for row in ROWS:
        if row.key not in ARGS.rows:
            continue
        x, W, b = arrays(row, rng)
        c = closures(row, x, W, b)
        if c is None:
            rows.append([row.name, row.shape, "missing: minicnn.functional.pool.max_pool2d"]
                        + ["—"] * 5)
            continue
        c["GEMMs"] = row_gemms(row, c["out_shape"])
        ms = interleaved_ms({k: c.get(k) for k in ("fwd", "fwd+bwd", "GEMMs", "torch NCHW",
                                                   "torch NHWC")},
                            ARGS.repeat, warm=not ARGS.cold, warm_seconds=ARGS.warm_seconds)
        _, fl = flops(row, c["out_shape"])
        best = min([ms[k] for k in ("torch NCHW", "torch NHWC") if k in ms], default=None)
        rows.append([row.name, row.shape, fmt(ms["fwd"]), fmt(ms["fwd+bwd"]),
                     fmt(None if fl is None else fl / ms["fwd+bwd"] / 1e6),
                     fmt(ms.get("torch NCHW")), fmt(ms.get("torch NHWC")),
                     fmt(None if best is None else ms["fwd+bwd"] / best, ".2f"),
                     fmt(ms.get("GEMMs")),
                     fmt(None if best is None or "GEMMs" not in ms else ms["GEMMs"] / best,
                         ".2f")])
        del c
    print_table(["layer", "shape (m,n_H,n_W,n_C_prev→n_C)", "fwd ms", "fwd+bwd ms", "GFLOP/s",
                 "torch NCHW", "torch NHWC", "ratio", "GEMMs ms", "GEMMs ratio"], rows)
    print("ratio = minicnn fwd+bwd / the faster PyTorch layout (fwd+bwd); goals: ≤ 1.3 on the "
          f"GEMM-bound rows ({', '.join(GEMM_BOUND)}), ≤ 3 on depthwise and max-pool.")
    print("GEMMs = the bare NumPy matmuls of the same passes, in blocks of columns, "
          "on ready operands in cache (no im2col, no col2im): a floor for any im2col + GEMM "
          "conv with this BLAS; GEMMs ratio = that floor / the faster PyTorch layout.")
    print(machine_check(ARGS.threads))
    if "resnet" in ARGS.rows:
        extra_f, extra_fb, full, ws = im2col_memory(ROWS[1])
        mib = 1 / 2**20
        print(f"im2col memory, ResNet shape: peak extra {extra_f * mib:.1f} MiB in the forward, "
              f"{extra_fb * mib:.1f} MiB in forward+backward (workspaces held: "
              f"{ws * mib:.1f} MiB); "
              f"the whole column matrix would be {full * mib:.1f} MiB.")
        print(f"minor page faults per ResNet-shape forward+backward: {page_faults(ROWS[1]):.0f} "
              f"(allocator tuned: {_workspace.tune_malloc()}; MINICNN_MALLOPT=0 to compare)")


if __name__ == "__main__":
    main()
