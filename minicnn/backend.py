"""Array backends, devices, transfers and the host-side random generator.

minicnn runs the same code on two array modules:

=========  ==============  ===========================================
device     array module    arrays
=========  ==============  ===========================================
``"cpu"``  ``numpy``       ``numpy.ndarray``
``"cuda"`` ``cupy``        ``cupy.ndarray`` (GPU memory)
=========  ==============  ===========================================

Every op finds its module with ``xp = get_array_module(x)`` and then reads as
plain NumPy. This file is the only place that knows CuPy exists.

So that the device code paths run in CI on machines without a GPU,
``use_fake_cuda()`` makes ``"cuda"`` resolve to :mod:`minicnn._fakegpu`, a CPU
stand-in whose arrays behave like a separate device: they refuse silent
conversion to NumPy arrays and refuse to mix with them, as CuPy's do.

Random numbers are always drawn on the host from one seeded
``numpy.random.Generator`` (``manual_seed``) and then moved, so a seeded run
gives the same numbers on CPU and GPU.
"""
from __future__ import annotations

import contextlib
import os

import numpy as np

__all__ = [
    "DeviceError", "get_array_module", "device_of", "to_device", "to_numpy",
    "set_device", "get_device", "normalize_device", "cuda_available",
    "use_fake_cuda", "manual_seed", "get_rng", "synchronize",
]

DEVICES = ("cpu", "cuda")
ENV_DEVICE = "MINICNN_DEVICE"


class DeviceError(RuntimeError):
    """Raised for an unknown device, a missing GPU backend or mixed devices."""


# --------------------------------------------------------------------- modules
_cuda_xp = None          # cupy, or the CPU stand-in, once asked for
_cuda_is_fake = False


def _load_cuda():
    global _cuda_xp
    if _cuda_xp is None:
        try:
            import cupy
        except ImportError as e:
            raise DeviceError(
                "device 'cuda' needs CuPy, which is not installed: "
                "pip install 'minicnn[gpu]' on a machine with an NVIDIA GPU, "
                "or use device='cpu'") from e
        try:
            n = cupy.cuda.runtime.getDeviceCount()
        except Exception as e:  # CUDA driver missing or broken
            raise DeviceError(f"device 'cuda': CuPy is installed but no GPU is usable ({e}); "
                              "use device='cpu'") from e
        if n == 0:
            raise DeviceError("device 'cuda': CuPy found no GPU; use device='cpu'")
        _cuda_xp = cupy
    return _cuda_xp


def cuda_available() -> bool:
    """True when ``"cuda"`` can be used (a real GPU, or the fake one in tests)."""
    try:
        _load_cuda()
        return True
    except DeviceError:
        return False


@contextlib.contextmanager
def use_fake_cuda():
    """Make ``"cuda"`` mean the CPU stand-in module inside this block (for tests)."""
    global _cuda_xp, _cuda_is_fake
    from . import _fakegpu
    saved = (_cuda_xp, _cuda_is_fake)
    _cuda_xp, _cuda_is_fake = _fakegpu, True
    try:
        yield _fakegpu
    finally:
        _cuda_xp, _cuda_is_fake = saved


def is_fake_cuda() -> bool:
    return _cuda_is_fake


def synchronize() -> None:
    """Wait until the GPU has finished the work queued so far (CuPy returns before its
    kernels end); nothing to wait for on the CPU or the stand-in."""
    if _cuda_xp is not None and not _cuda_is_fake:
        _cuda_xp.cuda.Device().synchronize()


def get_array_module(*arrays):
    """The array module (``numpy`` or ``cupy``) of the first non-NumPy array, else NumPy.

    Tensors are accepted too (their ``data`` is looked at).
    """
    for a in arrays:
        if getattr(type(a), "_is_minicnn_tensor", False):
            a = a.data
        if isinstance(a, (np.ndarray, np.generic)) or a is None:
            continue
        if _cuda_xp is not None and isinstance(a, _cuda_xp.ndarray):
            return _cuda_xp
    return np


def device_of(array) -> str:
    """``"cpu"`` for NumPy arrays and Python numbers, ``"cuda"`` for device arrays."""
    if isinstance(array, (np.ndarray, np.generic, int, float, bool, complex)):
        return "cpu"
    if _cuda_xp is not None and isinstance(array, _cuda_xp.ndarray):
        return "cuda"
    raise TypeError(f"expected a numpy or cupy array, got {type(array).__name__}")


def normalize_device(device) -> str:
    """Accept ``"cpu"``, ``"cuda"``, ``"cuda:0"``, ``"gpu"`` or ``None`` (the default device)."""
    if device is None:
        return get_device()
    d = str(device).lower()
    if d in ("gpu",) or d.startswith("cuda"):
        return "cuda"
    if d == "cpu":
        return "cpu"
    raise DeviceError(f"device: got {device!r}, expected 'cpu' or 'cuda'")


def to_device(array, device):
    """Copy ``array`` to ``device`` (no copy when it is already there)."""
    device = normalize_device(device)
    if device == "cpu":
        return to_numpy(array)
    xp = _load_cuda()
    if isinstance(array, xp.ndarray):
        return array
    return xp.asarray(np.asarray(array))


def to_numpy(array):
    """A NumPy array with the contents of ``array`` (a device array is copied to the host)."""
    if isinstance(array, np.ndarray):
        return array
    if isinstance(array, (np.generic, int, float, bool)):
        return np.asarray(array)
    if hasattr(array, "get"):
        return array.get()
    return np.asarray(array)


# ------------------------------------------------------------- default device
_default_device = None


def set_device(device) -> None:
    """Set the device new tensors and modules are created on (``"cpu"`` or ``"cuda"``).

    The environment variable ``MINICNN_DEVICE`` gives the starting value.
    """
    global _default_device
    device = normalize_device(device)
    if device == "cuda":
        _load_cuda()
    _default_device = device


def get_device() -> str:
    if _default_device is None:
        env = os.environ.get(ENV_DEVICE, "cpu")
        try:
            set_device(env)
        except DeviceError as e:
            raise DeviceError(f"{ENV_DEVICE}={env!r}: {e}") from e
    return _default_device


# ------------------------------------------------------------------ randomness
_rng = np.random.default_rng(0)


def manual_seed(seed: int) -> None:
    """Seed the one host generator that every initialiser, dropout mask and shuffle draws from."""
    global _rng
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed: got {seed!r}, expected a non-negative integer")
    _rng = np.random.default_rng(int(seed))


def get_rng() -> np.random.Generator:
    """The host generator set by :func:`manual_seed`."""
    return _rng
