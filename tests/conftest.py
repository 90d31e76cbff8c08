"""Shared test set-up: hypothesis profiles, the device fixture, paths to shared data."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import minicnn
from minicnn import backend

# A noisy 2-core CI machine must never turn a correct op red: no deadline, derandomised,
# a bounded number of examples. `HYPOTHESIS_PROFILE=dev` draws more and at random.
settings.register_profile("ci", deadline=None, derandomize=True, max_examples=25,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", deadline=None, max_examples=60,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _real_cuda() -> bool:
    try:
        import cupy  # noqa: F401
        return backend.cuda_available()
    except Exception:
        return False


DEVICE_PARAMS = ["cpu", "fake-cuda"] + (["cuda"] if _real_cuda() else [])


@pytest.fixture(params=DEVICE_PARAMS)
def device(request):
    """Run a test on the CPU, on the CPU stand-in for a GPU, and on a real GPU when present.

    Yields the device name to pass to ``.to()`` / ``device=``: "cpu" or "cuda".
    """
    if request.param == "fake-cuda":
        with backend.use_fake_cuda():
            yield "cuda"
    else:
        yield request.param


@pytest.fixture(autouse=True)
def _seed_and_default_device():
    minicnn.manual_seed(0)
    saved = backend._default_device
    yield
    backend._default_device = saved


def blas_threads():
    """NumPy's BLAS threads (other BLAS libraries that SciPy & co. load later keep theirs:
    minicnn's products all go through NumPy)."""
    from threadpoolctl import threadpool_info
    libs = [i for i in threadpool_info() if i["user_api"] == "blas"]
    return [i["num_threads"] for i in [i for i in libs if "numpy" in i["filepath"]] or libs[:1]]


@pytest.fixture
def restore_threads():
    """Leaves BLAS's threads and minicnn's pool as the test found them (tests that change
    them share the process with others)."""
    from threadpoolctl import threadpool_limits

    from minicnn.functional import _workspace
    before, pool = blas_threads(), _workspace.threads_set
    yield
    threadpool_limits(limits=before[0] if before else None, user_api="blas")
    _workspace.threads_set = pool


@pytest.fixture
def shared_data():
    if not SHARED_DATA.exists():
        pytest.skip(f"shared data folder not found at {SHARED_DATA}")
    return SHARED_DATA


def rand(*shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)
