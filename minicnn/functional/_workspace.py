"""Scratch memory and threads for the convolution engine.

Why this file exists: on the CPU, a NumPy convolution spends as much time
*getting memory* as computing. Every large temporary is a fresh ``malloc``; glibc
serves big ones with ``mmap`` and gives them back with ``munmap``, so each call
page-faults its way through memory the previous call just returned. Three
habits fix it:

- **Workspaces.** Scratch arrays (a block of im2col columns, a padded copy of
  the input) come from :func:`workspace`, which keeps one growing buffer per
  name and per thread and hands out views of it. Nothing that leaves an op is
  ever a workspace: outputs and gradients are fresh arrays.
- **Blocks.** The engine walks the batch in blocks whose columns take at most
  about ``BLOCK_BYTES``, so the extra memory of im2col is one block, not the
  whole (m·n_H·n_W, f_H·f_W·n_C_prev) matrix.
- **Allocator thresholds.** :func:`tune_malloc` raises glibc's mmap and trim
  thresholds once, so the fresh outputs of one step reuse the heap memory freed
  by the previous one instead of faulting in new pages. ``MINICNN_MALLOPT=0``
  turns it off (to measure the difference, or on a system where it misbehaves).
  Measured on a 2-core machine: a training step of a small 5-conv network went
  from about 8,200 minor page faults to 4, and ran 15–20 % faster.

Elementwise work (the depthwise path) is also split over threads: NumPy
releases the GIL inside its loops, so two threads on two cores run two blocks
at once. ``MINICNN_NUM_THREADS`` sets how many (default: the usable cores).

On the GPU none of this applies: CuPy has its own memory pool and one kernel
already uses the whole device, so workspaces are plain ``xp.empty`` and there
is one block and one thread.
"""
from __future__ import annotations

import ctypes
import math
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

__all__ = ["workspace", "clear_workspaces", "workspace_nbytes", "tune_malloc", "parallel_map",
           "num_threads", "BLOCK_BYTES", "ELEMENTWISE_BLOCK_BYTES"]

#: Size in bytes of one block of im2col columns on the CPU. Each block is copied out and
#: then read by its GEMM: a block that still sits in the cache when the GEMM packs it makes
#: the GEMM faster, while each GEMM also wakes and joins BLAS's threads, so blocks should not
#: be tiny. On the 2-core development machine (1 MiB L2 per core), 4 MiB blocks ran the
#: GEMM-bound rows of benchmarks/conv.py 10–25 % faster than 16 MiB ones (strided 3×3/2
#: 34.1 / 45.0 ms → 27.1 / 28.6 ms forward + backward); 2 to 6 MiB were alike within noise.
BLOCK_BYTES = int(os.environ.get("MINICNN_BLOCK_BYTES", 4 << 20))
#: Size in bytes of one block of depthwise output: small enough to stay in the cache
#: between the multiply-adds of successive kernel offsets (no BLAS calls there).
ELEMENTWISE_BLOCK_BYTES = int(os.environ.get("MINICNN_ELEMENTWISE_BLOCK_BYTES", 1 << 20))

_local = threading.local()


def _buffers() -> dict:
    bufs = getattr(_local, "bufs", None)
    if bufs is None:
        bufs = _local.bufs = {}
    return bufs


def workspace(name: str, shape, dtype, xp=np):
    """An uninitialised array of ``shape``, backed by a buffer reused between calls.

    Two calls with the same ``name`` (in the same thread) return views of the same
    memory, so a caller must be done with the first before asking again. The buffer
    grows to the largest size asked for and stays (:func:`clear_workspaces` frees it).
    """
    if xp is not np:
        return xp.empty(shape, dtype)
    dtype = np.dtype(dtype)
    n = math.prod(shape)
    bufs = _buffers()
    buf = bufs.get((name, dtype))
    if buf is None or buf.size < n:
        buf = bufs[(name, dtype)] = np.empty(n, dtype)
    return buf[:n].reshape(shape)


def clear_workspaces() -> None:
    """Free this thread's workspace buffers."""
    _buffers().clear()


def workspace_nbytes() -> int:
    """Bytes held by this thread's workspace buffers."""
    return sum(b.nbytes for b in _buffers().values())


# ------------------------------------------------------------------- allocator
_malloc_tuned = None


def tune_malloc(mmap_threshold: int = 32 << 20, trim_threshold: int = 1 << 30) -> bool:
    """Raise glibc's ``M_MMAP_THRESHOLD`` and ``M_TRIM_THRESHOLD`` (once per process).

    Blocks up to ``mmap_threshold`` bytes (32 MiB is glibc's maximum) then come from
    the heap, and up to ``trim_threshold`` bytes of freed heap stay mapped for the
    next request. Returns True when the setting is in effect; does nothing (and
    returns False) off glibc or with ``MINICNN_MALLOPT=0``.
    """
    global _malloc_tuned
    if _malloc_tuned is not None:
        return _malloc_tuned
    _malloc_tuned = False
    if os.environ.get("MINICNN_MALLOPT", "1") == "0":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3      # from <malloc.h>
        _malloc_tuned = bool(libc.mallopt(M_MMAP_THRESHOLD, mmap_threshold)
                             and libc.mallopt(M_TRIM_THRESHOLD, trim_threshold))
    except (OSError, AttributeError):
        pass
    return _malloc_tuned


# --------------------------------------------------------------------- threads
_pool = None
_pool_pid = None


#: Set by :func:`minicnn.set_num_threads`; None: ``MINICNN_NUM_THREADS`` or the cores.
threads_set = None


def num_threads() -> int:
    """Threads for elementwise blocks: what :func:`minicnn.set_num_threads` set, else
    ``MINICNN_NUM_THREADS``, else the usable cores."""
    if threads_set is not None:
        return threads_set
    env = os.environ.get("MINICNN_NUM_THREADS")
    if env:
        return max(1, int(env))
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def parallel_map(fn, items) -> list:
    """``[fn(item) for item in items]``, run on up to :func:`num_threads` threads.

    The items must touch disjoint parts of any array they write. The calling thread
    works too: it and n − 1 pool threads take the next item in turn until none is
    left, and the caller waits once, at the end. (Handing each item to the pool
    and waiting for each result in order woke the caller once per item: about three
    times the context switches, and slower depthwise convolutions and pooling on the
    2-core development machine.) So ``fn`` may run on the caller's thread, with the
    caller's :func:`workspace` buffers: it must not ask for a workspace name whose
    view the caller still uses after the call.

    Results come back in the order of ``items`` whichever thread ran them. If ``fn``
    raises, no thread starts a new item once it sees the failure, the items already
    running finish, and an error is raised (the caller's own first, else a helper's).
    """
    global _pool, _pool_pid
    items = list(items)
    n = min(num_threads(), len(items))
    if n <= 1:
        return [fn(item) for item in items]
    if _pool is None or _pool_pid != os.getpid() or _pool._max_workers < n - 1:
        _pool, _pool_pid = ThreadPoolExecutor(n - 1, thread_name_prefix="minicnn"), os.getpid()
    results = [None] * len(items)
    next_item = iter(range(len(items)))
    lock, failed = threading.Lock(), threading.Event()

    def work():
        while not failed.is_set():
            with lock:
                i = next(next_item, None)
            if i is None:
                return
            try:
                results[i] = fn(items[i])
            except BaseException:
                failed.set()
                raise
    helpers = [_pool.submit(work) for _ in range(n - 1)]
    try:
        work()
    finally:
        # A helper that has not started by now has nothing left to do: cancel every such
        # one first, rather than wait for its thread to wake (this also keeps a nested
        # call from waiting on a pool that its own caller occupies); then wait for those
        # already running.
        running = [h for h in helpers if not h.cancel()]
        error = next((e for e in map(Future.exception, running) if e is not None), None)
    if error is not None:
        try:
            raise error
        finally:
            error = None                # no cycle: this frame → error → traceback → frame
    return results
