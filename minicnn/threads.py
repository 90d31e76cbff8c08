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

__all__ = ["set_num_threads", "get_num_threads", "thread_check", "AdaptiveThreads",
           "apply_threads"]


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


class AdaptiveThreads:
    """One BLAS thread while multi-threaded BLAS stalls, ``threads`` the rest of the time.

    Call :meth:`step` once per training step (or pass the object to a ``Trainer`` as a
    callback: it calls :meth:`on_batch_end`). Every ``every`` seconds it runs a short
    :func:`thread_check` (``repeat`` conv pairs, some tens of milliseconds) and sets one
    thread if the check reads degraded, ``threads`` if not. On a machine without such
    stretches it never switches; its cost is the check, 4·``repeat`` runs of that conv
    (a few milliseconds each) per interval.

    ``checks``, ``switches`` and ``seconds_on_one`` say what it did; :meth:`summary` in
    a line. ``check`` and ``clock`` are for tests.

    The price: a run is no longer bit-for-bit reproducible, nor a resumed run equal to an
    uninterrupted one. The switches follow the machine, and OpenBLAS splits the long
    sums of the kernel gradients differently on one thread and on several (seed 0 of
    ``scripts/train_fashion_resnet.py``, 12 epochs, ended at 93.01 % and at 93.12 % in two
    runs with switches, at 93.09 % in every run with ``--threads 2``). Keep a fixed count
    where exact repetition matters.
    """

    def __init__(self, threads: int | None = None, every: float = 10.0, repeat: int = 3,
                 check=None, clock=time.monotonic):
        if every <= 0:
            raise ValueError(f"AdaptiveThreads: every must be a positive number of seconds, "
                             f"got {every!r}")
        self.threads = threads or get_num_threads()
        self.every, self.repeat = every, repeat
        self._check, self._clock = check or thread_check, clock
        self.checks = self.switches = 0
        self.seconds_on_one = 0.0
        self.on_one = False
        self._last = self._since = None

    def step(self) -> None:
        now = self._clock()
        if self._last is not None and now - self._last < self.every:
            return
        degraded = self._check(self.threads, self.repeat)["degraded"]
        self.checks += 1
        now = self._last = self._clock()
        if degraded != self.on_one:
            set_num_threads(1 if degraded else self.threads)
            if degraded:
                self._since = now
            else:
                self.seconds_on_one += now - self._since
            self.on_one, self.switches = degraded, self.switches + 1

    def on_batch_end(self, trainer, step) -> None:
        self.step()

    def summary(self) -> str:
        on_one = self.seconds_on_one + (self._clock() - self._since if self.on_one else 0.0)
        return (f"adaptive threads ({self.threads} or 1): {self.checks} checks, "
                f"{self.switches} switches, {on_one:.0f} s on one thread")


def apply_threads(option):
    """Carry out a ``--threads`` option: None leaves the threads as they are, a number ``n``
    calls ``set_num_threads(n)``, ``"auto"`` returns an :class:`AdaptiveThreads` that has
    already made its first check (call its ``step`` per training step, or give it to a
    ``Trainer`` as a callback). Returns that object, else None."""
    if option == "auto":
        adaptive = AdaptiveThreads()
        adaptive.step()
        return adaptive
    if option is not None:
        set_num_threads(option)
    return None
