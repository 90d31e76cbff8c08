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

from .functional import _workspace

__all__ = ["set_num_threads", "get_num_threads"]


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
