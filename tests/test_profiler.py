"""minicnn.profile: every op's forward and backward timed, grouped by label."""
import numpy as np
import pytest

import minicnn
import minicnn.functional as F
from minicnn import Tensor, autograd, nn


def _net():
    minicnn.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.DepthwiseConv2d(8, 3, padding=1), nn.Conv2d(8, 4, 1))


def _step(model, x, y):
    model.zero_grad()
    loss = F.cross_entropy(model(x).mean(axis=(1, 2)), y)
    loss.backward()
    return loss


def test_each_op_is_timed_forward_and_backward_under_its_label(device):
    model = _net().to(device)
    x = Tensor(np.random.default_rng(0).standard_normal((2, 6, 6, 3), dtype=np.float32),
               device=device)
    y = np.array([0, 3])
    with minicnn.profile() as prof:
        for _ in range(3):
            _step(model, x, y)
    totals = prof.totals()
    for label in ("ConvNd 3×3", "ConvNd 3×3 depthwise", "ConvNd 1×1", "BatchNorm", "ReLU"):
        assert totals[label]["calls"] == 3, (label, totals)
        assert totals[label]["forward"] > 0 and totals[label]["backward"] > 0, label
        assert totals[label]["total"] == totals[label]["forward"] + totals[label]["backward"]
    assert ("CrossEntropy", "forward") in prof.records
    assert 0 < prof.ops_seconds() <= prof.wall
    assert autograd._profile is None


def test_profiling_changes_no_result():
    x = Tensor(np.random.default_rng(1).standard_normal((2, 6, 6, 3), dtype=np.float32))
    y = np.array([1, 2])
    plain, profiled = _net(), _net()
    loss = _step(plain, x, y)
    with minicnn.profile():
        loss_p = _step(profiled, x, y)
    assert loss.item() == loss_p.item()
    for p, q in zip(plain.parameters(), profiled.parameters()):
        np.testing.assert_array_equal(p.grad, q.grad)


def test_nothing_is_recorded_outside_the_block():
    x = Tensor(np.ones((2, 3), np.float32), requires_grad=True)
    prof = minicnn.profile()
    with prof:
        (x * 2).sum().backward()
    before = {k: list(v) for k, v in prof.records.items()}
    wall = prof.wall
    (x * 3).sum().backward()
    assert {k: list(v) for k, v in prof.records.items()} == before
    assert prof.wall == wall
    assert before[("Mul", "forward")][0] == 1 and before[("Sum", "backward")][0] == 1


def test_a_block_can_be_entered_again_and_adds_up():
    x = Tensor(np.ones((2, 3), np.float32))
    prof = minicnn.profile()
    for _ in range(2):
        with prof:
            x * 2
    assert prof.records[("Mul", "forward")][0] == 2


def test_key_groups_ops_your_way():
    x = Tensor(np.ones((2, 3), np.float32), requires_grad=True)
    with minicnn.profile(key=lambda fn: "elementwise") as prof:
        ((x * 2) + 1).sum().backward()
    assert set(prof.totals()) == {"elementwise"}
    assert prof.totals()["elementwise"]["calls"] == 3


def test_table_per_step_and_limit():
    x = Tensor(np.ones((4, 4), np.float32), requires_grad=True)
    with minicnn.profile() as prof:
        for _ in range(4):
            (F.relu(x) * 2 + 1).sum().backward()
    lines = prof.table(steps=4).splitlines()
    assert lines[0].split()[:2] == ["op", "calls"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert rows["ReLU"][1] == "1"                       # calls per step
    assert {"(outside", "(wall)"} <= set(rows)
    limited = prof.table(steps=4, limit=2).splitlines()
    assert len(limited) == 1 + 2 + 1 + 2               # header, 2 ops, the rest, 2 totals
    assert limited[3].startswith("(2 more)")       # of ReLU, Mul, Add, Sum


def test_bad_use_is_refused_clearly():
    with pytest.raises(TypeError, match="key must be a callable"):
        minicnn.profile(key="name")
    with pytest.raises(ValueError, match="steps must be a positive int"):
        minicnn.profile().table(steps=0)
    with pytest.raises(ValueError, match="limit must be None or a positive int"):
        minicnn.profile().table(limit=0)
    with minicnn.profile():
        with pytest.raises(RuntimeError, match="already active"):
            with minicnn.profile():
                pass
    assert autograd._profile is None


def test_an_error_inside_the_block_still_ends_the_profile():
    with pytest.raises(ValueError):
        with minicnn.profile():
            F.conv2d(np.ones((1, 4, 4, 3), np.float32), np.ones((3, 3, 2, 4), np.float32))
    assert autograd._profile is None


def test_a_device_error_on_leaving_still_ends_the_profile(monkeypatch):
    """The wait for the GPU at the end of the block can fail (a CUDA error surfaces
    there); the profile must not stay switched on for every later op."""
    from minicnn import backend

    def fail():
        raise RuntimeError("device error")
    prof = minicnn.profile()
    with pytest.raises(RuntimeError, match="device error"):
        with prof:
            monkeypatch.setattr(backend, "synchronize", fail)
    assert autograd._profile is None and prof.wall > 0
