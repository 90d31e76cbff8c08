"""Module, Parameter, Sequential, ModuleList: registration, modes, devices, state_dict, hooks."""
from collections import OrderedDict

import numpy as np
import pytest

import minicnn
import minicnn.functional as F
import minicnn.nn as nn
from minicnn import Tensor
from conftest import rand


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 6)
        self.bn = nn.BatchNorm1d(6)
        self.fc2 = nn.Linear(6, 3, bias=False)
        self.scale = nn.Parameter(np.ones(3, np.float32))
        self.register_buffer("steps", np.zeros((), np.int64))
        self.note = "plain attribute"

    def forward(self, x):
        return self.fc2(F.relu(self.bn(self.fc1(x)))) * self.scale


def test_registration_and_names():
    b = Block()
    names = [n for n, _ in b.named_parameters()]
    assert names == ["scale", "fc1.W", "fc1.b", "bn.gamma", "bn.beta", "fc2.W"]
    assert [n for n, _ in b.named_buffers()] == ["steps", "bn.running_mean", "bn.running_var"]
    assert [n for n, _ in b.named_children()] == ["fc1", "bn", "fc2"]
    assert b.note == "plain attribute" and "note" not in b.state_dict()
    assert b.fc2.b is None
    b.fc1 = nn.Linear(4, 6)                  # replacing a sub-module re-registers it
    assert len(b.parameters()) == 6
    del b.scale
    assert "scale" not in dict(b.named_parameters())


def test_shared_parameters_are_listed_once():
    lin = nn.Linear(3, 3)
    seq = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(seq.parameters()) == 2
    assert [n for n, _ in seq.named_parameters()] == ["0.W", "0.b"]


def test_forgetting_super_init_is_a_clear_error():
    class Bad(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match=r"call super\(\).__init__\(\)"):
        Bad()


def test_sequential_and_module_list():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert len(seq) == 3 and isinstance(seq[1], nn.ReLU)
    assert isinstance(seq[:2], nn.Sequential) and len(seq[:2]) == 2
    x = rand(5, 2, dtype=np.float32)
    np.testing.assert_allclose(seq(x).numpy(), seq[2](seq[1](seq[0](x))).numpy())
    named = nn.Sequential(OrderedDict([("conv", nn.Linear(2, 2)), ("act", nn.Tanh())]))
    assert [n for n, _ in named.named_parameters()] == ["conv.W", "conv.b"]
    seq.append(nn.Sigmoid())
    assert len(seq) == 4
    ml = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(ml) == 3 and len(ml.parameters()) == 6 and len(list(ml)) == 3
    assert [n for n, _ in ml.named_parameters()][-1] == "2.b"


def test_train_eval_reach_the_whole_tree():
    model = nn.Sequential(Block(), nn.Dropout(0.5))
    assert all(m.training for m in model.modules())
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    x = rand(4, 4, dtype=np.float32)
    np.testing.assert_array_equal(model(x).numpy(), model(x).numpy())   # dropout off
    model.train()
    assert all(m.training for m in model.modules())


def test_zero_grad_and_freeze():
    b = Block()
    F.mse_loss(b(rand(5, 4, dtype=np.float32)), np.zeros((5, 3), np.float32)).backward()
    assert all(p.grad is not None for p in b.parameters())
    b.zero_grad()
    assert all(p.grad is None for p in b.parameters())
    b.fc1.freeze()
    F.mse_loss(b(rand(5, 4, dtype=np.float32)), np.zeros((5, 3), np.float32)).backward()
    assert b.fc1.W.grad is None and b.fc1.b.grad is None and b.fc2.W.grad is not None
    b.unfreeze()
    assert all(p.requires_grad for p in b.parameters())


def test_float32_policy_parameters_and_gradients_stay_float32():
    b = Block()
    assert all(p.dtype == np.float32 for p in b.parameters())
    assert b.bn.running_mean.dtype == np.float32
    x = rand(5, 4)                                              # a float64 input
    y = b(x.astype(np.float32))
    assert y.dtype == np.float32
    F.mse_loss(y, np.zeros((5, 3))).backward()
    assert all(p.grad.dtype == np.float32 for p in b.parameters())
    b.zero_grad()
    b(x).sum().backward()                                       # even if the input is float64
    assert all(p.grad.dtype == np.float32 for p in b.parameters())
    assert b.double().fc1.W.dtype == np.float64 and b.bn.running_var.dtype == np.float64
    assert b.steps.dtype == np.int64                            # integers are not cast
    assert b.float().fc1.W.dtype == np.float32


def test_to_device_moves_everything_and_keeps_the_objects(device):
    b = Block()
    x = rand(6, 4, dtype=np.float32)
    y_cpu = b(x).numpy()
    params = b.parameters()
    b.to(device)
    assert b.device == device
    assert all(p is q for p, q in zip(b.parameters(), params))
    assert all(p.device == device for p in b.parameters())
    assert all(t.device == device for t in b.buffers())
    y = b(Tensor(x, device=device))
    assert y.device == device
    np.testing.assert_allclose(y.numpy(), y_cpu, rtol=1e-5, atol=1e-6)
    y.sum().backward()
    assert all(minicnn.backend.device_of(p.grad) == device for p in b.parameters())
    b.to("cpu")
    assert all(p.device == "cpu" for p in b.parameters())


def test_state_dict_round_trip(device):
    minicnn.manual_seed(1)
    a = Block()
    a(rand(8, 4, dtype=np.float32))                # changes BatchNorm's running stats
    state = a.state_dict()
    assert list(state) == ["scale", "fc1.W", "fc1.b", "bn.gamma", "bn.beta", "fc2.W",
                           "steps", "bn.running_mean", "bn.running_var"]
    assert all(isinstance(v, np.ndarray) for v in state.values())
    state["fc1.W"][...] = 0                        # a copy: the model is untouched
    assert np.abs(a.fc1.W.numpy()).sum() > 0
    state = a.state_dict()
    minicnn.manual_seed(2)
    b = Block().to(device)
    assert b.load_state_dict(state) is b
    assert b.fc1.W.device == device and b.fc1.W.dtype == np.float32
    for k, v in b.state_dict().items():
        np.testing.assert_array_equal(v, state[k])
    a.eval(), b.eval()
    x = rand(3, 4, dtype=np.float32)
    np.testing.assert_allclose(b(Tensor(x, device=device)).numpy(), a(x).numpy(), rtol=1e-6)


def test_load_state_dict_strict_errors_list_every_problem():
    state = Block().state_dict()
    del state["fc1.b"]
    del state["bn.running_var"]
    state["fc3.W"] = np.zeros((2, 2))
    state["fc2.W"] = np.zeros((3, 6))
    with pytest.raises(KeyError) as e:
        Block().load_state_dict(state)
    msg = str(e.value)
    assert "missing keys (2): fc1.b, bn.running_var" in msg
    assert "unexpected keys (1): fc3.W" in msg
    assert "wrong shapes (1): fc2.W: checkpoint (3, 6) vs model (6, 3)" in msg


def test_load_state_dict_non_strict_skips_keys_but_not_shapes():
    good = Block().state_dict()
    b = Block()
    partial = {"fc1.W": good["fc1.W"], "extra": np.ones(2)}
    b.load_state_dict(partial, strict=False)
    np.testing.assert_array_equal(b.fc1.W.numpy(), good["fc1.W"])
    with pytest.raises(KeyError, match="wrong shapes"):
        b.load_state_dict({"fc1.W": np.zeros((4, 5))}, strict=False)


def test_forward_hooks_see_inputs_and_outputs_and_can_be_removed():
    seq = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
    seen = []
    h1 = seq[0].register_forward_pre_hook(lambda m, inp: seen.append(("pre", inp[0].shape)))
    h2 = seq[0].register_forward_hook(lambda m, inp, out: seen.append(("post", out.shape)))
    seq(rand(2, 3, dtype=np.float32))
    assert seen == [("pre", (2, 3)), ("post", (2, 4))]
    h1.remove(), h2.remove()
    seq(rand(2, 3, dtype=np.float32))
    assert len(seen) == 2
    h = seq.register_forward_hook(lambda m, inp, out: out * 0)     # replaces the output
    assert (seq(rand(2, 3, dtype=np.float32)).numpy() == 0).all()
    h.remove()


def test_repr_shows_the_tree():
    text = repr(nn.Sequential(nn.Linear(2, 3), nn.Dropout(0.2)))
    assert "(0): Linear(2, 3)" in text and "(1): Dropout(p=0.2)" in text
