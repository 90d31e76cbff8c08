"""``minicnn info``: what this installation runs on."""
from __future__ import annotations

import os
import platform

import numpy as np

from .. import __version__, backend
from ..threads import get_num_threads


def _blas() -> str:
    try:
        from threadpoolctl import threadpool_info
        libs = [f"{i['internal_api']} {i.get('version') or ''} ({i['num_threads']} threads)"
                for i in threadpool_info() if i.get("user_api") == "blas"]
        if libs:
            return ", ".join(libs)
    except ImportError:
        pass
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg["Build Dependencies"]["blas"]
        return f"{blas.get('name')} {blas.get('version', '')}"
    except Exception:
        return "unknown"


def run_info(check: bool = False) -> int:
    lines = [
        f"minicnn       {__version__}",
        f"python        {platform.python_version()} ({platform.machine()})",
        f"numpy         {np.__version__}",
        f"BLAS          {_blas()}",
        f"CPU cores     {os.cpu_count()}",
        f"threads       {get_num_threads()} in minicnn's own pool, BLAS's as above  "
        f"(minicnn.set_num_threads or --threads sets both)",
        f"default device {backend.get_device()}  (set with minicnn.set_device or "
        f"{backend.ENV_DEVICE})",
    ]
    try:
        import cupy
        n = cupy.cuda.runtime.getDeviceCount()
        names = [cupy.cuda.runtime.getDeviceProperties(i)["name"].decode() for i in range(n)]
        lines.append(f"cupy          {cupy.__version__}: {n} GPU(s) {', '.join(names)}")
    except ImportError:
        lines.append("cupy          not installed (pip install 'minicnn[gpu]' for device='cuda')")
    except Exception as e:  # installed but no usable GPU
        lines.append(f"cupy          installed, no usable GPU ({e})")
    if check:
        lines.append(_thread_check())
    print("\n".join(lines))
    return 0


def _thread_check() -> str:
    from ..threads import thread_check
    c = thread_check()
    line = (f"thread check  3×3 conv 16→16 on 64×28×28: {c['ms']:.1f} ms on "
            f"{c['threads']} BLAS threads, {c['ms_one_thread']:.1f} ms on 1")
    if c["degraded"]:
        return (line + "\n              multi-threaded BLAS is stalling on this machine "
                "right now: minicnn.set_num_threads(1) or --threads 1 runs faster")
    return line
