"""Devices and transfers, through the CPU stand-in for a GPU (and real CuPy when present)."""
import numpy as np
import pytest

import minicnn as mc
from minicnn import backend, functional as F
from minicnn.autograd import Tensor
from minicnn.backend import DeviceError


def test_ops_stay_on_the_device_and_gradients_come_back_there(device):
    x = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True).to(device)
    w = Tensor(np.ones((3, 2)), requires_grad=True).to(device)
    assert x.device == device and x.requires_grad and x.is_leaf
    y = F.softmax(F.relu(x @ w) * 2.0 + 1.0)
    assert y.device == device
    y[:, 0].sum().backward()
    assert backend.device_of(x.grad) == device and backend.device_of(w.grad) == device
    # Same numbers as on the CPU.
    xc = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    wc = Tensor(np.ones((3, 2)), requires_grad=True)
    F.softmax(F.relu(xc @ wc) * 2.0 + 1.0)[:, 0].sum().backward()
    np.testing.assert_allclose(mc.to_numpy(x.grad), xc.grad)
    np.testing.assert_allclose(y.numpy(), F.softmax(F.relu(xc @ wc) * 2.0 + 1.0).data)


def test_to_device_is_differentiable_for_non_leaves(device):
    x = Tensor(np.ones(3), requires_grad=True)
    y = (x * 2).to(device)
    (y * y).sum().backward()
    assert backend.device_of(x.grad) == "cpu"
    np.testing.assert_allclose(x.grad, 8 * np.ones(3))


def test_mixing_devices_names_both_and_the_fix():
    with backend.use_fake_cuda():
        a = Tensor(np.ones(3)).to("cuda")
        b = Tensor(np.ones(3))
        with pytest.raises(DeviceError, match=r"'cpu'.*'cuda'|'cuda'.*'cpu'") as e:
            a + b
        assert "to('cuda')" in str(e.value)


def test_device_arrays_refuse_silent_conversion():
    with backend.use_fake_cuda():
        a = Tensor(np.ones(3)).cuda()
        with pytest.raises(TypeError, match="numpy"):
            np.asarray(a)
        with pytest.raises(TypeError):
            np.asarray(a.data)
        with pytest.raises(TypeError, match="host"):
            a.data + np.ones(3)
        np.testing.assert_array_equal(a.numpy(), np.ones(3))
        assert a.cpu().device == "cpu"


def test_seeded_random_numbers_match_across_devices():
    with backend.use_fake_cuda():
        mc.manual_seed(7)
        a = mc.randn(4, 3, device="cuda")
        mc.manual_seed(7)
        b = mc.randn(4, 3, device="cpu")
        assert a.device == "cuda" and a.dtype == np.float32
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_set_device_makes_new_tensors_on_that_device():
    with backend.use_fake_cuda():
        mc.set_device("cuda")
        assert Tensor([1.0, 2.0]).device == "cuda"
        assert mc.zeros(2, 2).device == "cuda"
        mc.set_device("cpu")
        assert Tensor([1.0]).device == "cpu"


def test_environment_variable_sets_the_default(monkeypatch):
    monkeypatch.setenv("MINICNN_DEVICE", "cpu")
    backend._default_device = None
    assert mc.get_device() == "cpu"
    monkeypatch.setenv("MINICNN_DEVICE", "tpu")
    backend._default_device = None
    with pytest.raises(DeviceError, match="MINICNN_DEVICE='tpu'"):
        mc.get_device()
    backend._default_device = None
    monkeypatch.setenv("MINICNN_DEVICE", "cpu")


def test_cuda_without_cupy_is_a_clear_error(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_cupy(name, *args, **kwargs):
        if name == "cupy":
            raise ImportError("No module named 'cupy'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_cupy)
    monkeypatch.setattr(backend, "_cuda_xp", None)
    with pytest.raises(DeviceError, match="needs CuPy"):
        Tensor(np.ones(2)).to("cuda")
    assert not backend.cuda_available()


def test_unknown_device_name():
    with pytest.raises(DeviceError, match="expected 'cpu' or 'cuda'"):
        Tensor(np.ones(2)).to("tpu")


def test_get_array_module():
    assert backend.get_array_module(np.ones(2)) is np
    assert backend.get_array_module(Tensor(np.ones(2))) is np
    with backend.use_fake_cuda() as fake:
        a = backend.to_device(np.ones(2), "cuda")
        assert backend.get_array_module(np.ones(2), a) is fake
        assert backend.get_array_module(Tensor(a)) is fake


def test_manual_seed_validates():
    with pytest.raises(ValueError, match="seed"):
        mc.manual_seed(-1)
