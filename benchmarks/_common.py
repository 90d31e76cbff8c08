"""Timing helpers shared by the benchmarks.

Import this module *before* NumPy or PyTorch and call :func:`limit_threads` first: BLAS
reads its thread count when it loads. Timings are medians of repeated runs after a
warm-up; :func:`interleaved_ms` runs the contenders in turn (minicnn, torch, minicnn,
torch, …) so that a burst of load from other processes hits all of them alike and the
ratio stays fair even when the absolute times are noisy.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import tracemalloc

REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
if REPO not in sys.path:
    sys.path.insert(0, REPO)

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def limit_threads(n: int) -> None:
    """Give BLAS (NumPy's and PyTorch's) ``n`` threads; call before importing them."""
    for var in THREAD_VARS:
        os.environ[var] = str(n)


def import_torch(threads: int):
    """``torch`` with ``threads`` intra-op threads, or None when it is not installed."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    return torch


#: Seconds of untimed calls before each warm timed call (see :func:`interleaved_ms`).
WARM_SECONDS = 0.1


def add_timing_args(p, repeat: int = 7) -> None:
    """The timing options of the benchmarks against PyTorch: --repeat, --threads, --cold,
    --warm-seconds."""
    p.add_argument("--repeat", type=int, default=repeat)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--cold", action="store_true",
                   help="time the first call after each pause instead of a warm call "
                        "(see interleaved_ms)")
    p.add_argument("--warm-seconds", type=seconds, default=WARM_SECONDS,
                   help="untimed calls for at least this long before each warm timed call "
                        "(0: one untimed call; see interleaved_ms)")


def timing(args) -> str:
    """How the medians were taken, for a table's header line."""
    if args.cold:
        how = "first calls after a pause"
    elif args.warm_seconds > 0:
        how = f"warm calls (after {args.warm_seconds:g} s of calls)"
    else:
        how = "warm calls (after one untimed call)"
    return f"{args.threads} threads, median of {args.repeat} {how}"


def seconds(text: str) -> float:
    """An argparse type: a number of seconds, 0 or more."""
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more seconds, got {text}")
    return value


def median_ms(fn, repeat: int = 7, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` in milliseconds, after ``warmup`` untimed calls."""
    return interleaved_ms({"fn": fn}, repeat, warmup, cooldown=0, warm=False)["fn"]


def interleaved_ms(fns: dict, repeat: int = 7, warmup: int = 1, cooldown: float = 0.15,
                   warm: bool = True, warm_seconds: float = WARM_SECONDS) -> dict:
    """Median milliseconds of each function in ``fns`` (name → callable; None is skipped),
    timed in turn, round after round.

    ``cooldown`` seconds pass before each contender's turn: after a call, OpenBLAS's and
    OpenMP's worker threads keep spinning for a while (OpenBLAS: ~0.1 s), and would
    otherwise slow down whichever contender runs next. With ``warm`` (the default) each
    turn first calls the function, untimed, for at least ``warm_seconds`` (at least
    once), then times one call: the time of a call repeated in a loop, with the cores
    busy. One untimed call is not always enough on a virtual machine: after the pause, a
    pool whose threads sleep between tasks (minicnn's; OpenMP's and OpenBLAS's spin
    instead) can run its next one or two calls much slower than in a loop (compare a
    benchmark's figures with ``--warm-seconds 0``, one untimed call). In a whole network
    the ops alternate instead; ``train.py`` and ``models.py`` time whole steps.
    With ``warm=False`` the time is that of the first call after the pause, which can
    cost a threaded op many milliseconds more (idle cores take a while to run again).
    """
    fns = {k: f for k, f in fns.items() if f is not None}
    for f in fns.values():
        for _ in range(warmup):
            f()
    times = {k: [] for k in fns}
    for _ in range(repeat):
        for k, f in fns.items():
            time.sleep(cooldown)
            if warm:
                start = time.perf_counter()
                f()
                while time.perf_counter() - start < warm_seconds:
                    f()
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
    return {k: 1e3 * statistics.median(v) for k, v in times.items()}


def gemm_floor(convs, seed: int = 0):
    """The bare GEMMs of blocked im2col + GEMM convolutions, and nothing else.

    ``convs`` lists ``(M, K, N, need_dx, need_dW)`` per convolution: output pixels,
    f·f·n_C_prev and n_C, and which gradients its backward computes. The returned callable
    runs, for each, the forward cols @ W, dx's dZ @ Wᵀ and dW's colsᵀ @ dZ (those needed),
    in blocks of about ``_workspace.BLOCK_BYTES`` of columns, each block on ready operands
    (in cache: no im2col, no col2im, no framework, no memory traffic beyond the GEMMs').
    minicnn's engine cuts its blocks by whole rows of output and computes some products in
    another form with the same multiply-adds (dx of a stride-1 conv as a convolution of the
    padded dZ), so this is not a replay of it but about the least time that those
    multiply-adds take with this BLAS. None when ``convs`` is empty.
    """
    import numpy as np

    from minicnn.functional import _workspace
    convs = list(convs)
    if not convs:
        return None
    rng = np.random.default_rng(seed)
    plans = []
    for M, K, N, need_dx, need_dW in convs:
        M_b = min(M, max(1, _workspace.BLOCK_BYTES // (K * 4)))
        plans.append((M_b, K, N, [min(M_b, M - i) for i in range(0, M, M_b)], need_dx, need_dW))
    # One buffer per operand, sliced for every convolution: random data, as in any block.
    buf_cols = rng.standard_normal(max(p[0] * p[1] for p in plans), dtype=np.float32)
    buf_W = rng.standard_normal(max(p[1] * p[2] for p in plans), dtype=np.float32)
    buf_dZ = rng.standard_normal(max(p[0] * p[2] for p in plans), dtype=np.float32)

    def run():
        for M_b, K, N, blocks, need_dx, need_dW in plans:
            cols = buf_cols[:M_b * K].reshape(M_b, K)
            W = buf_W[:K * N].reshape(K, N)
            dZ = buf_dZ[:M_b * N].reshape(M_b, N)
            for rows in blocks:
                c, d = cols[:rows], dZ[:rows]
                c @ W
                if need_dx:
                    d @ W.T
                if need_dW:
                    c.T @ d
    return run


def conv_layers(model, x_shape) -> list:
    """The convolutions of ``model`` that minicnn runs as im2col + GEMM (Conv1d/2d/3d with
    one group: not depthwise), as met in one forward pass on zeros of ``x_shape``: for
    each, ``{"x_shape", "geometry", "gemm": (M, K, N, need_dx, need_dW)}``, for
    :func:`gemm_floor` and :func:`im2col_pass`."""
    import math

    import numpy as np

    from minicnn import Tensor
    from minicnn.functional.im2col import conv_geometry
    from minicnn.nn.conv import _ConvNd
    layers, handles = [], []

    def record(module, inputs, out):
        x, W = inputs[0], module.W
        layers.append({
            "x_shape": tuple(x.shape),
            "geometry": conv_geometry(x.shape[1:-1], module.kernel_size, module.stride,
                                      module.padding, module.dilation),
            "gemm": (math.prod(out.shape[:-1]), math.prod(W.shape[:-1]), W.shape[-1],
                     bool(x.requires_grad), bool(W.requires_grad))})
    for m in model.modules():
        if isinstance(m, _ConvNd) and m.groups == 1:
            handles.append(m.register_forward_hook(record))
    try:
        model(Tensor(np.zeros(x_shape, np.float32)))
    finally:
        for h in handles:
            h.remove()
    return layers


def im2col_pass(layers, seed: int = 0):
    """One im2col of each of ``layers`` (:func:`conv_layers`), block after block into
    minicnn's workspace, as its forward pass copies the windows: a floor for the copies
    of a training step, whose backward needs at least one more window pass per layer
    (dW's im2col) besides dx's. Pointwise layers (1×1, stride 1, no padding: no copy) are
    skipped. None when no layer copies."""
    import numpy as np

    from minicnn.functional.im2col import Windows
    rng = np.random.default_rng(seed)
    xs = [(rng.standard_normal(layer["x_shape"], dtype=np.float32), layer["geometry"])
          for layer in layers if not layer["geometry"].pointwise]
    if not xs:
        return None

    def run():
        for x, g in xs:
            windows = Windows.of(x, g)
            for block in windows.blocks():
                windows.take(block)
    return run


def conv_floors(model, x_shape) -> dict:
    """``{"GEMMs": gemm_floor(...), "im2col": im2col_pass(...)}`` for the im2col + GEMM
    convolutions of ``model`` on inputs of ``x_shape`` (see :func:`conv_layers`)."""
    layers = conv_layers(model, x_shape)
    return {"GEMMs": gemm_floor([layer["gemm"] for layer in layers]),
            "im2col": im2col_pass(layers)}


def traced_peak_bytes(fn) -> int:
    """Peak bytes allocated (and traced: NumPy reports its arrays) while ``fn()`` runs,
    above what was allocated when it started."""
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        fn()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def fmt(value, spec: str = ".1f") -> str:
    return "—" if value is None else format(value, spec)


def print_table(headers, rows, out=sys.stdout) -> None:
    """Rows of strings as aligned columns: the first left-aligned, the others right-aligned."""
    rows = [[str(c) for c in r] for r in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells):
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths)))
    print(line(headers), file=out)
    print("  ".join("-" * w for w in widths), file=out)
    for r in rows:
        print(line(r), file=out)
    out.flush()


def machine_check(threads: int = 2) -> str:
    """One line on the state of the machine, for the top and the bottom of a table: see
    :func:`minicnn.threads.thread_check`. Timings taken while it reads DEGRADED (a shared
    virtual machine's stretch when multi-threaded BLAS stalls) are not comparable with the
    others."""
    try:
        from minicnn.threads import thread_check
        c = thread_check(threads)
    except ImportError as e:
        return f"machine check: skipped ({e})"
    state = ("DEGRADED: the figures taken now are not representative" if c["degraded"]
             else "normal")
    return (f"machine check (minicnn 3×3 conv 16→16 on 64×28×28, forward, warm): "
            f"{c['ms']:.1f} ms on {c['threads']} BLAS threads, {c['ms_one_thread']:.1f} ms "
            f"on 1 (ratio {c['ratio']:.2f}) → {state}")


def machine() -> str:
    import platform
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{platform.processor() or platform.machine()}, {cores} usable cores"
