"""Activations: forward against NumPy formulas, gradcheck, stability at extreme inputs."""
import warnings

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

import minicnn as mc
from minicnn import functional as F
from minicnn.autograd import Tensor


def ref_softmax(z, axis=-1):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


REFS = {
    "relu": (F.relu, lambda z: np.maximum(z, 0)),
    "relu6": (F.relu6, lambda z: np.clip(z, 0, 6)),
    "leaky_relu": (lambda z: F.leaky_relu(z, 0.1), lambda z: np.where(z > 0, z, 0.1 * z)),
    "sigmoid": (F.sigmoid, lambda z: 1 / (1 + np.exp(-z))),
    "tanh": (F.tanh, np.tanh),
    "softmax": (F.softmax, ref_softmax),
    "log_softmax": (F.log_softmax, lambda z: np.log(ref_softmax(z))),
    "softmax_axis0": (lambda z: F.softmax(z, axis=0), lambda z: ref_softmax(z, axis=0)),
}


@pytest.mark.parametrize("name", sorted(REFS))
@given(z=hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=5),
                    elements=st.floats(-8, 8)))
def test_forward_and_gradcheck(name, z):
    op, ref = REFS[name]
    # Finite differences are meaningless across a kink: keep away from 0 and 6.
    if name in ("relu", "relu6", "leaky_relu"):
        z = np.where(np.abs(z) < 1e-3, 0.5, z)
        z = np.where(np.abs(z - 6) < 1e-3, 5.5, z)
    np.testing.assert_allclose(op(Tensor(z)).data, ref(z), rtol=1e-12, atol=1e-12)
    mc.gradcheck(op, Tensor(z, requires_grad=True))


@pytest.mark.parametrize("op", [F.softmax, F.log_softmax, F.sigmoid, F.tanh])
def test_no_overflow_at_extreme_inputs(op):
    z = Tensor(np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4, -1e4]]),
               requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = op(z)
        (y * np.arange(9).reshape(3, 3)).sum().backward()
    assert np.isfinite(y.data).all() and np.isfinite(z.grad).all()


def test_softmax_values_at_extremes():
    z = np.array([[1e4, -1e4, 0.0]])
    np.testing.assert_allclose(F.softmax(Tensor(z)).data, [[1, 0, 0]])
    np.testing.assert_allclose(F.log_softmax(Tensor(z)).data, [[0, -2e4, -1e4]])
    np.testing.assert_allclose(F.sigmoid(Tensor(np.array([-1e4, 1e4]))).data, [0, 1])


@pytest.mark.parametrize("op", [F.relu, F.relu6, F.sigmoid, F.tanh, F.softmax, F.log_softmax,
                                F.leaky_relu])
def test_float32_stays_float32(op):
    z = Tensor(np.linspace(-3, 3, 12, dtype=np.float32).reshape(3, 4), requires_grad=True)
    y = op(z)
    assert y.dtype == np.float32
    y.backward(np.ones((3, 4), np.float32))
    assert z.grad.dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("order", ["C", "F"])
def test_relus_at_the_kinks_and_on_nan(dtype, order):
    """max(0, z), min(max(0, z), 6) and the masked gradients, on contiguous and strided
    arrays: the kinks at 0 and 6 get a zero gradient and a NaN stays NaN."""
    z = np.random.default_rng(0).normal(0, 5, size=(3, 5, 4)).astype(dtype)
    z[0, 0, :3] = [0, 6, np.nan]
    z = np.asarray(z, order=order)
    dA = np.random.default_rng(1).normal(size=z.shape).astype(dtype)
    for op, ref, inside in [(F.relu, np.maximum(z, 0), z > 0),
                            (F.relu6, np.minimum(np.maximum(z, 0), 6), (z > 0) & (z < 6))]:
        t = Tensor(z, requires_grad=True)
        a = op(t)
        a.backward(dA)
        np.testing.assert_array_equal(a.data, ref)
        np.testing.assert_array_equal(t.grad, dA * inside)
        assert a.dtype == dtype and t.grad.dtype == dtype
