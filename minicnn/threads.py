"""How many CPU threads minicnn runs on: :func:`set_num_threads`, :func:`get_num_threads`.

minicnn's CPU work runs on two kinds of threads:

- **BLAS's** (OpenBLAS or MKL, under NumPy): every matrix product, so the convolutions'
  im2col GEMMs and the dense layers;
- **minicnn's own** small pool: the elementwise passes that are split into blocks of
  examples (the depthwise convolution, pooling).

``set_num_threads(n)`` sets both, as ``torch.set_num_threads`` does for PyTorch. Without
it, BLAS uses its own default (``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS`` or the
cores) and the pool ``MINICNN_NUM_THREADS`` or the usable cores. One thread gives up the
second core's speed-up but none of the stalls that a shared virtual machine sometimes
adds to multi-threaded BLAS (the README's "machine check"). On the GPU neither applies:
CuPy runs each op as device kernels.

BLAS's threads are set through threadpoolctl, which knows how to reach each BLAS library
that NumPy may be built with. It sets the BLAS libraries loaded at the time of the call;
one that SciPy, say, loads later keeps its own count, which does not matter to minicnn,
whose products all go through NumPy.
"""
from __future__ import annotations

import numbers
import statistics
import time

from .functional import _workspace

__all__ = ["set_num_threads", "get_num_threads", "thread_check"]


def set_num_threads(n: int) -> None:
    """Run minicnn's CPU work on ``n`` threads: BLAS's and minicnn's own (see above)."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"set_num_threads: n must be a positive int (the number of "
                         f"threads), got {n!r}")
    from threadpoolctl import threadpool_limits
    threadpool_limits(limits=int(n), user_api="blas")   # called, not entered: it stays
    _workspace.threads_set = int(n)


def get_num_threads() -> int:
    """The threads of minicnn's own pool: what :func:`set_num_threads` set, else
    ``MINICNN_NUM_THREADS``, else the usable cores. (``minicnn info`` shows BLAS's.)"""
    return _workspace.num_threads()


def thread_check(threads: int | None = None, repeat: int = 15) -> dict:
    """Is multi-threaded BLAS paying on this machine right now? A quick measurement.

    Times minicnn's 3×3 conv 16 → 16 on a (64, 28, 28, 16) batch (forward: im2col copies
    alternating with GEMMs), float32, on ``threads`` BLAS threads (default: the current
    count) and on one, in turn, ``repeat`` times each after a warm-up; returns the
    medians::

        {"threads": n, "ms": …, "ms_one_thread": …, "ratio": ms / ms_one_thread,
         "degraded": ratio > 1.5}

    Normally n threads are faster (ratio below 1). On shared virtual machines there are
    stretches, seconds to minutes long, when every copy that follows a multi-threaded
    GEMM runs several times slower and the ratio climbs to 2–3: ``degraded``. While that
    lasts, ``set_num_threads(1)`` is the faster setting. The BLAS thread count is left as
    it was found.
    """
    import numpy as np
    from threadpoolctl import ThreadpoolController
    from .functional._conv_engine import conv_gemm
    from .functional.im2col import conv_geometry
    blas = ThreadpoolController().select(user_api="blas")
    n = threads or max((c.num_threads for c in blas.lib_controllers), default=1)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 28, 28, 16), dtype=np.float32)
    W = rng.standard_normal((3, 3, 16, 16), dtype=np.float32)
    g = conv_geometry((28, 28), 3, 1, 1, 1, "thread_check")
    times = {n: [], 1: []}
    for _ in range(repeat):
        for k in times:                 # in turn, so that a burst of load hits both alike
            with blas.limit(limits=k):
                conv_gemm(x, W, g)                      # untimed: wakes BLAS's threads
                t0 = time.perf_counter()
                conv_gemm(x, W, g)
                times[k].append(time.perf_counter() - t0)
    ms, ms_one = (1e3 * statistics.median(times[k]) for k in (n, 1))
    return {"threads": n, "ms": ms, "ms_one_thread": ms_one, "ratio": ms / ms_one,
            "degraded": ms / ms_one > 1.5}
