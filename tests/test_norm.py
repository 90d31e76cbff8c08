"""batch_norm and dropout: forward against NumPy, running statistics, gradients, devices."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import minicnn
import minicnn.functional as F
from minicnn import Tensor, backend, gradcheck
from conftest import rand


def bn_reference(x, gamma, beta, mean, var, eps):
    return gamma * (x - mean) / np.sqrt(var + eps) + beta


shapes = st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 4)).flatmap(
    lambda t: st.sampled_from([(t[0] + 1, t[2]), (t[0] + 1, t[1], t[2]),
                               (t[0], t[1] + 1, t[1], t[2])]))


# ------------------------------------------------------------------ batch norm
@given(shape=shapes, momentum=st.sampled_from([0.1, 0.01, 0.5]),
       eps=st.sampled_from([1e-5, 1e-3]))
def test_batch_norm_training_forward_and_running_stats(shape, momentum, eps):
    x = rand(*shape, seed=1)
    n_C = shape[-1]
    gamma, beta = rand(n_C, seed=2), rand(n_C, seed=3)
    rm0, rv0 = rand(n_C, seed=4), 1 + rand(n_C, seed=5) ** 2
    rm, rv = rm0.copy(), rv0.copy()
    y = F.batch_norm(Tensor(x), Tensor(gamma), Tensor(beta), rm, rv, True, momentum, eps)
    axes = tuple(range(x.ndim - 1))
    mu, var = x.mean(axis=axes), x.var(axis=axes)            # biased, as training uses
    np.testing.assert_allclose(y.numpy(), bn_reference(x, gamma, beta, mu, var, eps),
                               rtol=1e-10, atol=1e-10)
    n = x.size // n_C
    np.testing.assert_allclose(rm, (1 - momentum) * rm0 + momentum * mu, rtol=1e-12)
    np.testing.assert_allclose(rv, (1 - momentum) * rv0 + momentum * var * n / (n - 1),
                               rtol=1e-12)


@given(shape=shapes)
def test_batch_norm_eval_uses_running_stats_and_leaves_them(shape):
    x = rand(*shape, seed=1)
    n_C = shape[-1]
    gamma, beta = rand(n_C, seed=2), rand(n_C, seed=3)
    rm, rv = rand(n_C, seed=4), 1 + rand(n_C, seed=5) ** 2
    saved = rm.copy(), rv.copy()
    y = F.batch_norm(x, gamma, beta, rm, rv, False, eps=1e-3)
    np.testing.assert_allclose(y.numpy(), bn_reference(x, gamma, beta, rm, rv, 1e-3),
                               rtol=1e-10)
    np.testing.assert_array_equal(rm, saved[0])
    np.testing.assert_array_equal(rv, saved[1])


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(5, 3), (2, 3, 2, 4)])
def test_batch_norm_gradcheck(training, shape):
    n_C = shape[-1]
    x = Tensor(rand(*shape, seed=1), requires_grad=True)
    gamma = Tensor(rand(n_C, seed=2), requires_grad=True)
    beta = Tensor(rand(n_C, seed=3), requires_grad=True)
    rm, rv = rand(n_C, seed=4), 1 + rand(n_C, seed=5) ** 2
    gradcheck(lambda x, g, b: F.batch_norm(x, g, b, rm, rv, training), x, gamma, beta)


def test_batch_norm_without_affine_or_running_stats():
    x = Tensor(rand(6, 3, seed=1), requires_grad=True)
    y = F.batch_norm(x, None, None, None, None, training=False)    # batch statistics
    np.testing.assert_allclose(y.numpy(), (x.data - x.data.mean(0)) / np.sqrt(
        x.data.var(0) + 1e-5), rtol=1e-10)
    gradcheck(lambda x: F.batch_norm(x, None, None, None, None, True), x)


def test_batch_norm_compact_backward_equals_the_explicit_formula():
    """dx = γ/√(σ²+ε) · (dy − mean(dy) − x̂ · mean(dy ⊙ x̂)), written out here by hand."""
    x = Tensor(rand(7, 4, seed=1), requires_grad=True)
    gamma = rand(4, seed=2)
    dy = rand(7, 4, seed=3)
    F.batch_norm(x, Tensor(gamma), None, None, None, True).backward(dy)
    mu, var = x.data.mean(0), x.data.var(0)
    x_hat = (x.data - mu) / np.sqrt(var + 1e-5)
    dx = gamma / np.sqrt(var + 1e-5) * (dy - dy.mean(0) - x_hat * (dy * x_hat).mean(0))
    np.testing.assert_allclose(x.grad, dx, rtol=1e-10, atol=1e-12)


def test_batch_norm_keeps_float32_and_frozen_parameters_get_no_gradient():
    x = Tensor(rand(4, 3, 3, 2, dtype=np.float32), requires_grad=True)
    gamma = Tensor(np.ones(2, np.float32), requires_grad=False)
    beta = Tensor(np.zeros(2, np.float32), requires_grad=True)
    rm, rv = np.zeros(2, np.float32), np.ones(2, np.float32)
    y = F.batch_norm(x, gamma, beta, rm, rv, True, momentum=0.01, eps=1e-3)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32 and beta.grad.dtype == np.float32
    assert gamma.grad is None
    assert rm.dtype == np.float32 and rv.dtype == np.float32


def test_batch_norm_on_device_updates_running_stats_in_place(device):
    x_host = rand(8, 3, seed=1, dtype=np.float32)
    rm_host, rv_host = np.zeros(3, np.float32), np.ones(3, np.float32)
    F.batch_norm(x_host, None, None, rm_host, rv_host, True)
    x = Tensor(x_host, device=device, requires_grad=True)
    rm = backend.to_device(np.zeros(3, np.float32), device)
    rv = backend.to_device(np.ones(3, np.float32), device)
    y = F.batch_norm(x, None, None, rm, rv, True)
    assert y.device == device
    y.sum().backward()
    assert backend.device_of(x.grad) == device
    np.testing.assert_allclose(backend.to_numpy(rm), rm_host, rtol=1e-6)
    np.testing.assert_allclose(backend.to_numpy(rv), rv_host, rtol=1e-6)


def test_batch_norm_matches_torch():
    torch = pytest.importorskip("torch")
    x = rand(4, 3, 5, 2, seed=1)
    gamma, beta = rand(2, seed=2), rand(2, seed=3)
    rm, rv = np.zeros(2), np.ones(2)
    t_rm, t_rv = torch.zeros(2, dtype=torch.float64), torch.ones(2, dtype=torch.float64)
    xt = torch.tensor(x.transpose(0, 3, 1, 2), requires_grad=True)     # NHWC → NCHW
    dy = rand(*x.shape, seed=4)
    for _ in range(3):
        yt = torch.nn.functional.batch_norm(xt, t_rm, t_rv, torch.tensor(gamma),
                                            torch.tensor(beta), True, 0.01, 1e-3)
        xm = Tensor(x, requires_grad=True)
        y = F.batch_norm(xm, gamma, beta, rm, rv, True, momentum=0.01, eps=1e-3)
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy().transpose(0, 2, 3, 1), rtol=1e-9)
    np.testing.assert_allclose(rm, t_rm.numpy(), rtol=1e-12)
    np.testing.assert_allclose(rv, t_rv.numpy(), rtol=1e-12)
    y.backward(dy)
    yt.backward(torch.tensor(dy.transpose(0, 3, 1, 2)))
    np.testing.assert_allclose(xm.grad, xt.grad.numpy().transpose(0, 2, 3, 1), rtol=1e-8,
                               atol=1e-12)


def test_batch_norm_errors():
    x = rand(4, 3)
    with pytest.raises(ValueError, match=r"gamma has shape \(4,\), expected \(3,\)"):
        F.batch_norm(x, np.ones(4), None, None, None, True)
    with pytest.raises(ValueError, match="more than one value per channel"):
        F.batch_norm(rand(1, 3), None, None, np.zeros(3), np.ones(3), True)
    with pytest.raises(ValueError, match="momentum"):
        F.batch_norm(x, None, None, np.zeros(3), np.ones(3), True, momentum=0.99 * 2)
    with pytest.raises(ValueError, match="both"):
        F.batch_norm(x, None, None, np.zeros(3), None, True)


# --------------------------------------------------------------------- dropout
def test_dropout_is_inverted_and_keeps_the_mean():
    x = np.ones((200, 100), np.float32)
    y = F.dropout(x, 0.3, training=True).numpy()
    assert y.dtype == np.float32
    np.testing.assert_allclose(np.unique(y), [0, 1 / 0.7], rtol=1e-6)
    assert abs((y == 0).mean() - 0.3) < 0.01
    assert abs(y.mean() - 1) < 0.02


def test_dropout_identity_cases_and_errors():
    x = Tensor(rand(3, 4))
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0, training=True) is x
    np.testing.assert_array_equal(F.dropout(x, 1.0, training=True).numpy(), 0)
    with pytest.raises(ValueError, match=r"p is the probability .* got 1.5"):
        F.dropout(x, 1.5)


def test_dropout_gradient_is_the_scaled_mask():
    x = Tensor(rand(5, 6), requires_grad=True)

    def fn(x):
        minicnn.manual_seed(7)          # the same mask at every evaluation
        return F.dropout(x, 0.4, True)

    gradcheck(fn, x)
    y = fn(x)
    x.grad = None
    y.sum().backward()
    np.testing.assert_allclose(x.grad, (y.numpy() != 0) / 0.6)


def test_dropout_mask_is_seeded_and_the_same_on_every_device(device):
    x = rand(4, 5, dtype=np.float32)
    minicnn.manual_seed(3)
    y_cpu = F.dropout(x, 0.5).numpy()
    minicnn.manual_seed(3)
    y_dev = F.dropout(Tensor(x, device=device), 0.5)
    assert y_dev.device == device
    np.testing.assert_array_equal(y_dev.numpy(), y_cpu)
