"""Checkpoints: bit-exact round trips, atomic writes, and resuming a run exactly."""
from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

import minicnn
import minicnn.optim as optim
from minicnn.data import DataLoader, TensorDataset
from minicnn.io import checkpoint
from minicnn.nn import Module, Parameter

from conftest import rand


def assert_same_tree(a, b):
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            assert type(k) is type(next(kk for kk in b if kk == k))
            assert_same_tree(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same_tree(x, y)
    elif isinstance(a, (np.ndarray, np.generic)):
        assert a.dtype == b.dtype and np.shape(a) == np.shape(b)
        assert np.asarray(a).tobytes() == np.asarray(b).tobytes()        # bit-exact, NaNs too
    elif isinstance(a, float) and a != a:
        assert b != b
    else:
        assert a == b


def test_round_trip_is_bit_exact(tmp_path):
    obj = {
        "model": {"conv1.W": rand(3, 3, 2, 4, dtype=np.float32), "conv1.b": np.zeros(4, np.float32),
                  "bn.running_var": np.array([1.5, np.nan, -np.inf], np.float64)},
        "optimizer": {"state": {0: {"step": 12, "exp_avg": rand(2, dtype=np.float32)}},
                      "param_groups": [{"lr": 0.1 + 0.2, "betas": (0.9, 0.999), "params": [0]}]},
        "ints": np.arange(5, dtype=np.int8), "flags": np.array([True, False]),
        "u8": np.arange(256, dtype=np.uint8).reshape(16, 16), "scalar0d": np.array(3.25),
        "np_scalar": np.float32(1.1), "np_int": np.int64(-3), "big": 2 ** 100, "neg": -0.0,
        "inf": float("inf"), "nan": float("nan"), "text": "héllo / wörld", "none": None,
        "yes": True, "empty": [], "nested": [1, (2.5, "x"), {"k": np.ones((0, 3))}],
        "half": np.array([1, 2], np.float16), "cplx": np.array([1 + 2j], np.complex64),
        "strings": np.array(["a", "bc"]),
    }
    minicnn.save(obj, tmp_path / "ck.npz")
    back = minicnn.load(tmp_path / "ck.npz")
    assert_same_tree(back, obj)
    assert str(back["neg"]) == "-0.0"


@given(hnp.arrays(st.sampled_from([np.float32, np.float64, np.int32, np.uint8, np.bool_]),
                  hnp.array_shapes(min_dims=0, max_dims=4, max_side=5)))
def test_round_trip_of_drawn_arrays(tmp_path_factory, a):
    path = tmp_path_factory.mktemp("ck") / "a.npz"
    minicnn.save({"a": a, "list": [a]}, path)
    back = minicnn.load(path)
    assert_same_tree(back, {"a": a, "list": [a]})


def test_tensors_and_device_arrays_come_back_as_numpy(device, tmp_path):
    t = minicnn.tensor(rand(2, 3, dtype=np.float32), device=device)
    minicnn.save({"t": t, "raw": t.data}, tmp_path / "t.npz")
    back = minicnn.load(tmp_path / "t.npz")
    for k in ("t", "raw"):
        assert type(back[k]) is np.ndarray and back[k].dtype == np.float32
        np.testing.assert_array_equal(back[k], t.numpy())


def test_file_is_a_plain_npz_with_flattened_keys(tmp_path):
    W = rand(2, 2, dtype=np.float32)
    minicnn.save({"model": {"conv1.W": W}, "optimizer": {"state": {0: {"v": W}}}}, tmp_path / "c.npz")
    with np.load(tmp_path / "c.npz", allow_pickle=False) as f:
        assert set(f.files) == {"model/conv1.W", "optimizer/state/0/v", checkpoint.META_KEY}
        np.testing.assert_array_equal(f["model/conv1.W"], W)
    np.savez(tmp_path / "plain.npz", x=np.arange(3))
    assert list(minicnn.load(tmp_path / "plain.npz")) == ["x"]


class TinyNet(Module):
    def __init__(self, n_in=4, n_out=3):
        super().__init__()
        rng = minicnn.backend.get_rng()
        self.W = Parameter(rng.standard_normal((n_in, n_out)).astype(np.float32) * 0.5)
        self.b = Parameter(np.zeros(n_out, np.float32))
        self.register_buffer("count", np.zeros(1, np.int64))

    def forward(self, x):
        return x @ self.W + self.b


def test_module_and_optimizer_state_round_trip(tmp_path):
    net = TinyNet()
    opt = optim.Adam(net.parameters(), lr=0.01)
    for p in net.parameters():
        p.grad = np.ones(p.shape, np.float32)
    opt.step()
    net.count.data[:] = 5
    minicnn.save({"model": net, "optimizer": opt}, tmp_path / "ck.npz")   # via state_dict()
    ck = minicnn.load(tmp_path / "ck.npz")
    assert_same_tree(ck["model"], dict(net.state_dict()))
    assert_same_tree(ck["optimizer"], opt.state_dict())
    net2 = TinyNet()
    net2.load_state_dict(ck["model"])
    for (k, a), (_, b) in zip(net.state_dict().items(), net2.state_dict().items()):
        assert a.tobytes() == b.tobytes() and a.dtype == b.dtype, k


def test_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "ck.npz"
    minicnn.save({"W": np.ones(3)}, path)
    good = path.read_bytes()

    real_write = np.lib.format.write_array
    calls = []

    def failing_write(fp, array, *args, **kwargs):      # dies after writing one array
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk full (simulated)")
        return real_write(fp, array, *args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", failing_write)
    with pytest.raises(OSError, match="simulated"):
        minicnn.save({"W": np.zeros(1000), "b": np.zeros(10)}, path)
    monkeypatch.undo()
    assert len(calls) == 2
    assert path.read_bytes() == good
    np.testing.assert_array_equal(minicnn.load(path)["W"], np.ones(3))
    assert sorted(os.listdir(tmp_path)) == ["ck.npz"]            # no temporary file left

    # Interrupted at the last moment, before the rename: the old file is still whole.
    def power_cut(*args):
        raise KeyboardInterrupt("power cut (simulated)")

    monkeypatch.setattr(checkpoint.os, "replace", power_cut)
    with pytest.raises(KeyboardInterrupt):
        minicnn.save({"W": np.zeros(3)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == good
    assert sorted(os.listdir(tmp_path)) == ["ck.npz"]


def test_file_mode_is_not_the_temp_files(tmp_path):
    minicnn.save({"x": 1}, tmp_path / "x.npz")
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "x.npz").stat().st_mode & 0o777 == 0o666 & ~umask
    os.chmod(tmp_path / "x.npz", 0o640)
    minicnn.save({"x": 2}, tmp_path / "x.npz")
    assert (tmp_path / "x.npz").stat().st_mode & 0o777 == 0o640


def test_fsync_happens_before_the_rename(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(checkpoint.os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd)))
    monkeypatch.setattr(checkpoint.os, "replace",
                        lambda a, b: (events.append("replace"), real_replace(a, b)))
    minicnn.save({"x": 1}, tmp_path / "x.npz")
    assert events[:2] == ["fsync", "replace"]


def test_errors_name_the_problem(tmp_path):
    with pytest.raises(TypeError, match="object array"):
        minicnn.save({"bad": np.array([{}, 1], dtype=object)}, tmp_path / "a.npz")
    with pytest.raises(TypeError, match="dict keys must be str or int"):
        minicnn.save({(1, 2): 3}, tmp_path / "a.npz")
    with pytest.raises(TypeError, match="cannot save w of type set"):
        minicnn.save({"w": {1, 2}}, tmp_path / "a.npz")
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        minicnn.load(tmp_path / "missing.npz")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        minicnn.save({}, tmp_path / "nodir" / "a.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="not a readable .npz"):
        minicnn.load(tmp_path / "junk.npz")
    assert not any(p.name.endswith(".tmp") for p in tmp_path.iterdir())


# ---------------------------------------------------------------- resume equality
def _training(device, seed=0):
    """A tiny regression model, Adam, a warm-up then StepLR per iteration, a shuffled loader."""
    minicnn.manual_seed(seed)
    data_rng = np.random.default_rng(1)
    X = data_rng.standard_normal((40, 4)).astype(np.float32)
    y = (X @ data_rng.standard_normal((4, 3)) + 0.1).astype(np.float32)
    net = TinyNet().to(device)
    opt = optim.Adam(net.parameters(), lr=0.05, weight_decay=1e-4)
    sched = optim.LinearWarmup(opt, 3, after=optim.StepLR(opt, step_size=4, gamma=0.5))
    loader = DataLoader(TensorDataset(X, y), batch_size=16, shuffle=True, device=device)
    return net, opt, sched, loader


def _train(net, opt, sched, loader, n_steps, losses):
    """Run ``n_steps`` iterations (crossing epoch boundaries); return True if stopped mid-epoch."""
    while True:
        for X, y in loader:
            loss = ((net(X) - y) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            optim.clip_grad_norm_(net.parameters(), 5.0)
            opt.step()
            sched.step()
            losses.append(loss.item())
            if len(losses) == n_steps:
                return


def test_resume_gives_the_same_losses_as_an_uninterrupted_run(device, tmp_path):
    N, k = 14, 5                    # 3 batches per epoch: k = 5 stops in the middle of epoch 2
    straight = []
    net, opt, sched, loader = _training(device)
    _train(net, opt, sched, loader, N, straight)

    first = []
    net, opt, sched, loader = _training(device)
    _train(net, opt, sched, loader, k, first)
    minicnn.save({"model": net.state_dict(), "optimizer": opt.state_dict(),
                  "scheduler": sched.state_dict(), "loader": loader.state_dict(),
                  "losses": first}, tmp_path / "ck.npz")
    del net, opt, sched, loader

    net, opt, sched, loader = _training(device, seed=123)     # different initial weights
    ck = minicnn.load(tmp_path / "ck.npz")
    net.load_state_dict(ck["model"])
    opt.load_state_dict(ck["optimizer"])
    sched.load_state_dict(ck["scheduler"])
    loader.load_state_dict(ck["loader"])
    resumed = list(ck["losses"])
    _train(net, opt, sched, loader, N, resumed)

    assert resumed == straight                      # bit-exact, every step
    assert len(set(straight)) == N                  # and the run really trained
    assert straight[-1] < straight[0]
