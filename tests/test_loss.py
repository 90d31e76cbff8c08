"""Losses: cross_entropy, binary_cross_entropy_with_logits, mse_loss, l1_loss."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import minicnn.functional as F
import minicnn.nn as nn
from minicnn import Tensor, gradcheck
from conftest import rand


def log_softmax_ref(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def ce_ref(z, t, reduction):
    loss = -(t * log_softmax_ref(z)).sum(axis=-1)
    return {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduction]


def one_hot(y, K):
    return np.eye(K)[y]


reductions = st.sampled_from(["mean", "sum", "none"])


# ---------------------------------------------------------------- cross-entropy
@given(m=st.integers(1, 5), K=st.integers(2, 6), reduction=reductions,
       eps=st.sampled_from([0.0, 0.1, 0.3]))
def test_cross_entropy_forward_against_numpy(m, K, reduction, eps):
    z = rand(m, K, seed=1) * 3
    y = np.random.default_rng(2).integers(0, K, m)
    t = one_hot(y, K) * (1 - eps) + eps / K
    want = ce_ref(z, t, reduction)
    got_int = F.cross_entropy(z, y, reduction=reduction, label_smoothing=eps)
    got_hot = F.cross_entropy(z, one_hot(y, K), reduction=reduction, label_smoothing=eps)
    np.testing.assert_allclose(got_int.numpy(), want, rtol=1e-12)
    np.testing.assert_allclose(got_hot.numpy(), want, rtol=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("eps", [0.0, 0.2])
def test_cross_entropy_gradcheck(reduction, eps):
    z = Tensor(rand(4, 5, seed=1), requires_grad=True)
    y = np.array([0, 3, 4, 1])
    gradcheck(lambda z: F.cross_entropy(z, y, reduction, eps), z)
    p = Tensor(np.random.default_rng(3).dirichlet(np.ones(5), 4), requires_grad=True)
    gradcheck(lambda z, p: F.cross_entropy(z, p, reduction, eps), z, p)


def test_cross_entropy_backward_is_softmax_minus_one_hot_over_m():
    z = Tensor(rand(6, 4, seed=1), requires_grad=True)
    y = np.array([0, 1, 2, 3, 0, 1])
    F.cross_entropy(z, y).backward()
    p = np.exp(log_softmax_ref(z.data))
    np.testing.assert_allclose(z.grad, (p - one_hot(y, 4)) / 6, rtol=1e-12)


def test_cross_entropy_is_stable_for_huge_logits():
    z = Tensor(np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]], np.float32), requires_grad=True)
    J = F.cross_entropy(z, np.array([0, 0]), reduction="none")
    assert np.all(np.isfinite(J.numpy()))
    np.testing.assert_allclose(J.numpy(), [0.0, 2e4 + np.log(2)], rtol=1e-6)
    J.sum().backward()
    assert np.all(np.isfinite(z.grad))
    assert J.dtype == np.float32 and z.grad.dtype == np.float32


def test_cross_entropy_per_pixel_labels():
    z = rand(2, 3, 3, 4, seed=1)
    y = np.random.default_rng(0).integers(0, 4, (2, 3, 3))
    got = F.cross_entropy(z, y, reduction="none")
    assert got.shape == (2, 3, 3)
    np.testing.assert_allclose(got.numpy(), ce_ref(z, one_hot(y, 4), "none"), rtol=1e-12)
    zt = Tensor(z, requires_grad=True)
    gradcheck(lambda z: F.cross_entropy(z, y), zt)


def test_cross_entropy_matches_torch_with_label_smoothing():
    torch = pytest.importorskip("torch")
    z = rand(5, 7, seed=1)
    y = np.array([0, 6, 3, 2, 2])
    for eps in (0.0, 0.1):
        want = torch.nn.functional.cross_entropy(torch.tensor(z), torch.tensor(y),
                                                 label_smoothing=eps).item()
        assert abs(F.cross_entropy(z, y, label_smoothing=eps).item() - want) < 1e-12


def test_cross_entropy_float32_stays_float32():
    z = Tensor(rand(3, 4, dtype=np.float32), requires_grad=True)
    J = F.cross_entropy(z, np.eye(4)[[0, 1, 2]])       # float64 one-hot targets
    assert J.dtype == np.float32
    J.backward()
    assert z.grad.dtype == np.float32


def test_cross_entropy_on_device_with_host_labels(device):
    z_host = rand(4, 3, dtype=np.float32)
    y = np.array([2, 0, 1, 1])
    z = Tensor(z_host, device=device, requires_grad=True)
    J = F.cross_entropy(z, y)
    assert J.device == device
    J.backward()
    assert z.grad.shape == (4, 3)
    np.testing.assert_allclose(J.item(), F.cross_entropy(z_host, y).item(), rtol=1e-6)


def test_cross_entropy_errors():
    z = rand(3, 4)
    with pytest.raises(ValueError, match=r"label 4 out of range: .* K=4 classes"):
        F.cross_entropy(z, np.array([0, 1, 4]))
    with pytest.raises(ValueError, match=r"label -1 out of range"):
        F.cross_entropy(z, np.array([0, -1, 2]))
    with pytest.raises(ValueError, match=r"y has shape \(2,\); .* \(3,\) or .* \(3, 4\)"):
        F.cross_entropy(z, np.array([0, 1]))
    with pytest.raises(TypeError, match="must be integers"):
        F.cross_entropy(z, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.cross_entropy(z, np.array([0, 1, 2]), reduction="avg")
    with pytest.raises(ValueError, match=r"logits must be \(m, K\)"):
        F.cross_entropy(rand(4), np.array([0]))


# ------------------------------------------------------------------------- BCE
def bce_ref(z, y):
    s = 1 / (1 + np.exp(-z))
    return -(y * np.log(s) + (1 - y) * np.log(1 - s))


@given(shape=st.sampled_from([(3,), (4, 1), (2, 3, 2)]), reduction=reductions)
def test_bce_forward_against_numpy_and_gradcheck(shape, reduction):
    z = rand(*shape, seed=1) * 3
    y = np.random.default_rng(2).random(shape)
    want = bce_ref(z, y)
    want = {"mean": want.mean(), "sum": want.sum(), "none": want}[reduction]
    np.testing.assert_allclose(F.binary_cross_entropy_with_logits(z, y, reduction).numpy(),
                               want, rtol=1e-10)
    gradcheck(lambda z, y: F.binary_cross_entropy_with_logits(z, y, reduction),
              Tensor(z, requires_grad=True), Tensor(y, requires_grad=True))


def test_bce_is_stable_and_matches_torch():
    z = np.array([1e4, -1e4, 0.0, 3.0], np.float32)
    y = np.array([0.0, 1.0, 1.0, 0.5], np.float32)
    zt = Tensor(z, requires_grad=True)
    J = F.binary_cross_entropy_with_logits(zt, y, reduction="none")
    np.testing.assert_allclose(J.numpy()[:3], [1e4, 1e4, np.log(2)], rtol=1e-6)
    J.sum().backward()
    np.testing.assert_allclose(zt.grad, [1, -1, -0.5, 1 / (1 + np.exp(-3)) - 0.5], rtol=1e-6)
    assert J.dtype == np.float32 and zt.grad.dtype == np.float32
    torch = pytest.importorskip("torch")
    want = torch.nn.functional.binary_cross_entropy_with_logits(torch.tensor(z),
                                                                torch.tensor(y)).item()
    assert abs(F.binary_cross_entropy_with_logits(z, y).item() - want) < 1e-3


def test_bce_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match=r"prediction has shape \(4, 1\) but target has "
                                         r"shape \(4,\)"):
        F.binary_cross_entropy_with_logits(rand(4, 1), np.ones(4))


# ---------------------------------------------------------------- MSE and L1
@given(shape=st.sampled_from([(5,), (2, 3), (2, 2, 2, 1)]), reduction=reductions)
def test_mse_and_l1_against_numpy_and_gradcheck(shape, reduction):
    a, y = rand(*shape, seed=1), rand(*shape, seed=2)
    red = {"mean": np.mean, "sum": np.sum, "none": lambda v: v}[reduction]
    np.testing.assert_allclose(F.mse_loss(a, y, reduction).numpy(), red((a - y) ** 2),
                               rtol=1e-12)
    np.testing.assert_allclose(F.l1_loss(a, y, reduction).numpy(), red(np.abs(a - y)),
                               rtol=1e-12)
    for fn in (F.mse_loss, F.l1_loss):
        gradcheck(lambda a, y: fn(a, y, reduction), Tensor(a, requires_grad=True),
                  Tensor(y, requires_grad=True))


def test_mse_and_l1_float32_and_errors(device):
    a = Tensor(rand(3, 2, dtype=np.float32), device=device, requires_grad=True)
    y = rand(3, 2, seed=5)                           # float64, host: moved and cast
    for fn in (F.mse_loss, F.l1_loss):
        a.grad = None
        J = fn(a, y)
        assert J.dtype == np.float32 and J.device == device
        J.backward()
        assert a.grad.dtype == np.float32
    with pytest.raises(ValueError, match="must match"):
        F.mse_loss(rand(3, 2), rand(3))


def test_loss_modules():
    z, y = rand(4, 3), np.array([0, 1, 2, 0])
    assert nn.CrossEntropyLoss(label_smoothing=0.1)(z, y).item() == \
        F.cross_entropy(z, y, label_smoothing=0.1).item()
    a, t = rand(4, 3, seed=1), rand(4, 3, seed=2)
    assert nn.MSELoss(reduction="sum")(a, t).item() == F.mse_loss(a, t, "sum").item()
    assert nn.L1Loss()(a, t).item() == F.l1_loss(a, t).item()
    assert nn.BCEWithLogitsLoss()(a, t > 0).item() == \
        F.binary_cross_entropy_with_logits(a, (t > 0).astype(float)).item()
