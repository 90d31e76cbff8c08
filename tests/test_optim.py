"""Optimisers, schedulers and clipping against plain-NumPy transcriptions of their formulas
(and against torch.optim when torch is installed)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minicnn
import minicnn.optim as optim
from minicnn.nn import Module, Parameter

from conftest import rand


# ------------------------------------------------------------- references
def ref_sgd(w, grads, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    v = None
    for g in grads:
        g = g + weight_decay * w
        if momentum:
            v = g.copy() if v is None else momentum * v + (1 - dampening) * g
            g = g + momentum * v if nesterov else v
        w = w - lr * g
    return w


def ref_rmsprop(w, grads, lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                centered=False):
    s, g_avg, b = np.zeros_like(w), np.zeros_like(w), np.zeros_like(w)
    for g in grads:
        g = g + weight_decay * w
        s = alpha * s + (1 - alpha) * g ** 2
        if centered:
            g_avg = alpha * g_avg + (1 - alpha) * g
            r = np.sqrt(s - g_avg ** 2) + eps
        else:
            r = np.sqrt(s) + eps
        if momentum:
            b = momentum * b + g / r
            w = w - lr * b
        else:
            w = w - lr * g / r
    return w


def ref_adam(w, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
             amsgrad=False, decoupled=False):
    (b1, b2), v, s, s_max = betas, np.zeros_like(w), np.zeros_like(w), np.zeros_like(w)
    for t, g in enumerate(grads, start=1):
        if decoupled:
            w = w * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * w
        v = b1 * v + (1 - b1) * g
        s = b2 * s + (1 - b2) * g ** 2
        s_max = np.maximum(s_max, s)
        v_hat = v / (1 - b1 ** t)
        s_hat = (s_max if amsgrad else s) / (1 - b2 ** t)
        w = w - lr * v_hat / (np.sqrt(s_hat) + eps)
    return w


def _run(make_opt, w0, grads, device="cpu"):
    W = Parameter(w0.copy(), device=device)
    opt = make_opt([W])
    for g in grads:
        W.grad = minicnn.to_device(g.copy(), device)
        opt.step()
    return W


hp = st.floats(0.0, 0.95)
shape = st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple)


@given(shape, st.floats(1e-3, 1.0), hp, hp, st.sampled_from([0.0, 1e-2]), st.booleans())
def test_sgd_matches_formula(shape, lr, momentum, dampening, wd, nesterov):
    if nesterov:
        dampening, momentum = 0.0, max(momentum, 0.1)
    w0, grads = rand(*shape, seed=1), [rand(*shape, seed=s) for s in range(2, 7)]
    W = _run(lambda p: optim.SGD(p, lr=lr, momentum=momentum, nesterov=nesterov,
                                 weight_decay=wd, dampening=dampening), w0, grads)
    np.testing.assert_allclose(W.data, ref_sgd(w0, grads, lr, momentum, dampening, wd, nesterov),
                               rtol=1e-12, atol=1e-12)


@given(shape, st.floats(1e-3, 0.1), st.floats(0.5, 0.999), st.sampled_from([0.0, 0.9]),
       st.booleans(), st.sampled_from([0.0, 1e-2]))
def test_rmsprop_matches_formula(shape, lr, alpha, momentum, centered, wd):
    w0, grads = rand(*shape, seed=1), [rand(*shape, seed=s) for s in range(2, 7)]
    kw = dict(lr=lr, alpha=alpha, momentum=momentum, centered=centered, weight_decay=wd)
    W = _run(lambda p: optim.RMSprop(p, **kw), w0, grads)
    np.testing.assert_allclose(W.data, ref_rmsprop(w0, grads, **kw), rtol=1e-12, atol=1e-12)


@given(shape, st.floats(1e-4, 0.1), st.floats(0.0, 0.99), st.floats(0.9, 0.9999),
       st.sampled_from([0.0, 1e-2]), st.booleans(), st.booleans())
def test_adam_and_adamw_match_formula(shape, lr, b1, b2, wd, amsgrad, decoupled):
    w0, grads = rand(*shape, seed=1), [rand(*shape, seed=s) for s in range(2, 7)]
    cls = optim.AdamW if decoupled else optim.Adam
    W = _run(lambda p: cls(p, lr=lr, betas=(b1, b2), weight_decay=wd, amsgrad=amsgrad), w0, grads)
    expected = ref_adam(w0, grads, lr, (b1, b2), 1e-8, wd, amsgrad, decoupled)
    np.testing.assert_allclose(W.data, expected, rtol=1e-12, atol=1e-12)


def test_defaults_are_pytorchs():
    W = [Parameter(np.zeros(2, np.float32))]
    assert optim.RMSprop(W).defaults == dict(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0,
                                             momentum=0.0, centered=False)
    assert optim.Adam(W).defaults["betas"] == (0.9, 0.999)
    assert optim.AdamW(W).defaults["weight_decay"] == 1e-2
    assert optim.Adam(W).defaults["weight_decay"] == 0


TORCH_CASES = [
    ("SGD", dict(lr=0.1)), ("SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.01)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True, weight_decay=0.1)),
    ("Adam", dict(lr=0.01)), ("Adam", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1)),
]


@pytest.mark.torch
@pytest.mark.parametrize("name,kw", TORCH_CASES)
def test_matches_torch_optim(name, kw):
    torch = pytest.importorskip("torch")
    w0 = rand(4, 5, seed=1, dtype=np.float32)
    grads = [rand(4, 5, seed=s, dtype=np.float32) for s in range(2, 8)]
    W = _run(lambda p: getattr(optim, name)(p, **kw), w0, grads)
    T = torch.tensor(w0.copy(), requires_grad=True)
    topt = getattr(torch.optim, name)([T], **kw)
    for g in grads:
        T.grad = torch.tensor(g.copy())
        topt.step()
    # float32 rounding differs by an ulp or two (fused multiply-adds in torch's kernels).
    np.testing.assert_allclose(W.data, T.detach().numpy(), rtol=1e-6, atol=1e-6)


ALL = [lambda p: optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
       lambda p: optim.RMSprop(p, momentum=0.5, centered=True, weight_decay=1e-3),
       lambda p: optim.Adam(p, lr=0.01, weight_decay=1e-3, amsgrad=True),
       lambda p: optim.AdamW(p, lr=0.01)]


@pytest.mark.parametrize("make", ALL, ids=["sgd", "rmsprop", "adam", "adamw"])
def test_float32_stays_float32_on_every_device(make, device):
    W = Parameter(rand(3, 4, dtype=np.float32), device=device)
    opt = make([W])
    sched = optim.CosineAnnealingLR(opt, T_max=10)          # lr becomes a math.cos float
    xp = minicnn.get_array_module(W.data)
    for s in range(3):
        W.grad = xp.asarray(rand(3, 4, seed=s + 5, dtype=np.float32))
        opt.step()
        sched.step()
    assert W.data.dtype == np.float32 and W.device == device
    for v in opt.state[W].values():
        if hasattr(v, "dtype"):
            assert v.dtype == np.float32 and minicnn.get_array_module(v) is xp


@pytest.mark.parametrize("make", ALL, ids=["sgd", "rmsprop", "adam", "adamw"])
def test_skips_frozen_and_gradless_params(make):
    a, b, c = (Parameter(np.ones(3, np.float32)) for _ in range(3))
    opt = make([a, b, c])
    b.requires_grad = False
    a.grad = b.grad = np.ones(3, np.float32)      # c.grad stays None
    opt.step()
    assert not np.array_equal(a.data, np.ones(3))
    np.testing.assert_array_equal(b.data, np.ones(3))
    np.testing.assert_array_equal(c.data, np.ones(3))
    assert b not in opt.state and c not in opt.state


def test_update_is_in_place_and_records_no_graph():
    W = Parameter(np.ones(3, np.float32))
    before = W.data
    W.grad = np.ones(3, np.float32)
    optim.SGD([W], lr=0.5).step()
    assert W.data is before and W.is_leaf
    np.testing.assert_array_equal(before, [0.5, 0.5, 0.5])


def test_param_groups_have_their_own_lr_and_zero_grad():
    a, b = Parameter(np.zeros(2, np.float32)), Parameter(np.zeros(2, np.float32))
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.01}], lr=1.0)
    a.grad = b.grad = np.ones(2, np.float32)
    opt.step()
    np.testing.assert_allclose(a.data, [-1, -1])
    np.testing.assert_allclose(b.data, [-0.01, -0.01], rtol=1e-6)
    opt.zero_grad()
    assert a.grad is None and b.grad is None
    assert [g["lr"] for g in opt.param_groups] == [1.0, 0.01]


def test_bad_arguments_are_named():
    W = [Parameter(np.zeros(2, np.float32))]
    with pytest.raises(ValueError, match="lr must be >= 0"):
        optim.SGD(W, lr=-1)
    with pytest.raises(ValueError, match="nesterov=True needs momentum > 0"):
        optim.SGD(W, lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="betas"):
        optim.Adam(W, betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adam([])
    with pytest.raises(ValueError, match="more than one group"):
        optim.Adam([{"params": W}, {"params": W}])
    with pytest.raises(ValueError, match="unknown hyper-parameter"):
        optim.Adam([{"params": W, "momentum": 0.9}])
    with pytest.raises(TypeError, match="params\\[0\\] is a ndarray"):
        optim.SGD([np.zeros(2)], lr=0.1)

    class Net(Module):
        def __init__(self):
            super().__init__()
            self.W = Parameter(np.zeros(2, np.float32))
    with pytest.raises(TypeError, match="model.parameters()"):
        optim.SGD(Net(), lr=0.1)


# ------------------------------------------------------------- state dicts
@pytest.mark.parametrize("make", ALL, ids=["sgd", "rmsprop", "adam", "adamw"])
def test_state_dict_resumes_exactly_through_a_checkpoint(make, device, tmp_path):
    grads = [rand(2, 3, seed=s, dtype=np.float32) for s in range(6)]
    w0 = rand(2, 3, seed=9, dtype=np.float32)

    def steps(W, opt, gs):
        xp = minicnn.get_array_module(W.data)
        for g in gs:
            W.grad = xp.asarray(g)
            opt.step()

    W = Parameter(w0.copy(), device=device)
    opt = make([W])
    steps(W, opt, grads[:3])
    minicnn.save({"W": W, "opt": opt.state_dict()}, tmp_path / "ck.npz")
    steps(W, opt, grads[3:])

    ck = minicnn.load(tmp_path / "ck.npz")
    W2 = Parameter(ck["W"], device=device)
    opt2 = make([W2])
    opt2.load_state_dict(ck["opt"])
    assert all(minicnn.get_array_module(v) is minicnn.get_array_module(W2.data)
               for v in opt2.state[W2].values() if hasattr(v, "shape"))
    steps(W2, opt2, grads[3:])
    np.testing.assert_array_equal(W2.numpy(), W.numpy())


def test_load_state_dict_restores_hyper_parameters_and_checks_structure():
    a, b = Parameter(np.zeros(2, np.float32)), Parameter(np.zeros(3, np.float32))
    opt = optim.Adam([a, b], lr=0.5, betas=(0.8, 0.9))
    a.grad, b.grad = np.ones(2, np.float32), np.ones(3, np.float32)
    opt.step()
    sd = opt.state_dict()
    assert sd["param_groups"][0]["params"] == [0, 1] and sd["state"][0]["step"] == 1
    sd["state"][0]["exp_avg"][:] = 7          # a copy: the optimiser is not changed
    assert opt.state[a]["exp_avg"][0] != 7

    fresh = optim.Adam([Parameter(np.zeros(2, np.float32)), Parameter(np.zeros(3, np.float32))])
    fresh.load_state_dict(opt.state_dict())
    assert fresh.param_groups[0]["lr"] == 0.5 and fresh.param_groups[0]["betas"] == (0.8, 0.9)

    with pytest.raises(ValueError, match="group 0 has 2 parameter"):
        optim.Adam([a]).load_state_dict(opt.state_dict())
    with pytest.raises(ValueError, match="shape"):
        optim.Adam([Parameter(np.zeros(3, np.float32)),
                    Parameter(np.zeros(3, np.float32))]).load_state_dict(opt.state_dict())


# ------------------------------------------------------------- schedulers
def _opt(lr=0.1, n_groups=1):
    return optim.SGD([{"params": [Parameter(np.zeros(1, np.float32))]} for _ in range(n_groups)],
                     lr=lr)


def _lrs(sched, n):
    out = [sched.get_last_lr()[0]]
    for _ in range(n):
        sched.optimizer.step()
        sched.step()
        out.append(sched.get_last_lr()[0])
    return out


def test_step_lr():
    sched = optim.StepLR(_opt(1.0), step_size=3, gamma=0.5)
    assert _lrs(sched, 7) == [1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25]
    assert sched.optimizer.param_groups[0]["lr"] == 0.25


def test_cosine_annealing():
    sched = optim.CosineAnnealingLR(_opt(0.1), T_max=10, eta_min=0.001)
    lrs = _lrs(sched, 10)
    expected = [0.001 + 0.099 * (1 + math.cos(math.pi * t / 10)) / 2 for t in range(11)]
    np.testing.assert_allclose(lrs, expected, rtol=1e-15)
    assert lrs[0] == pytest.approx(0.1) and lrs[10] == pytest.approx(0.001)


def test_linear_warmup_then_hands_over():
    opt = _opt(0.1, n_groups=2)
    opt.param_groups[1]["lr"] = 1.0
    sched = optim.LinearWarmup(opt, warmup_steps=4, after=optim.StepLR(opt, step_size=2))
    lrs = _lrs(sched, 7)
    np.testing.assert_allclose(lrs, [0.025, 0.05, 0.075, 0.1, 0.1, 0.1, 0.01, 0.01], rtol=1e-12)
    assert sched.get_last_lr()[1] == pytest.approx(0.1)       # the second group: 1.0 · γ
    alone = optim.LinearWarmup(_opt(0.2), warmup_steps=2)
    np.testing.assert_allclose(_lrs(alone, 3), [0.1, 0.2, 0.2, 0.2])
    with pytest.raises(ValueError, match="same optimizer"):
        optim.LinearWarmup(_opt(), 2, after=optim.StepLR(_opt(), 1))


@pytest.mark.torch
def test_schedules_match_torch():
    torch = pytest.importorskip("torch")
    for ours, theirs in [
            (lambda o: optim.StepLR(o, step_size=3, gamma=0.3),
             lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.3)),
            (lambda o: optim.CosineAnnealingLR(o, T_max=8, eta_min=0.01),
             lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=8, eta_min=0.01))]:
        sched = ours(_opt(0.5))
        topt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.5)
        tsched = theirs(topt)
        expected = [tsched.get_last_lr()[0]]
        for _ in range(8):
            topt.step()
            tsched.step()
            expected.append(tsched.get_last_lr()[0])
        np.testing.assert_allclose(_lrs(sched, 8), expected, rtol=1e-12, atol=1e-15)


def test_scheduler_state_dict_resumes(tmp_path):
    def make():
        opt = _opt(0.3)
        return optim.LinearWarmup(opt, 3, after=optim.CosineAnnealingLR(opt, T_max=5))
    a = make()
    _lrs(a, 4)
    minicnn.save({"s": a.state_dict(), "o": a.optimizer.state_dict()}, tmp_path / "s.npz")
    rest = _lrs(a, 5)
    b = make()
    ck = minicnn.load(tmp_path / "s.npz")
    b.optimizer.load_state_dict(ck["o"])
    b.load_state_dict(ck["s"])
    assert b.after.last_epoch == 1 and b.get_last_lr() == [rest[0]]
    assert _lrs(b, 5) == rest


def test_scheduler_arguments_are_checked():
    with pytest.raises(ValueError, match="step_size must be a positive int"):
        optim.StepLR(_opt(), step_size=0)
    with pytest.raises(ValueError, match="T_max"):
        optim.CosineAnnealingLR(_opt(), T_max=0)
    with pytest.raises(TypeError, match="optimizer must be an Optimizer"):
        optim.StepLR([1, 2], step_size=1)


# ------------------------------------------------------------- clipping
def test_clip_grad_norm(device):
    ps = [Parameter(np.zeros(s, np.float32), device=device) for s in [(3,), (2, 2)]]
    xp = minicnn.get_array_module(ps[0].data)
    gs = [rand(3, seed=1, dtype=np.float32) * 10, rand(2, 2, seed=2, dtype=np.float32) * 10]
    for p, g in zip(ps, gs):
        p.grad = xp.asarray(g)
    expected = math.sqrt(sum(float((g.astype(np.float64) ** 2).sum()) for g in gs))
    total = optim.clip_grad_norm_(ps, max_norm=1.0)
    assert total == pytest.approx(expected, rel=1e-6)
    grad = [minicnn.to_numpy(p.grad) for p in ps]
    after = math.sqrt(sum(float((g.astype(np.float64) ** 2).sum()) for g in grad))
    assert after == pytest.approx(1.0, rel=1e-5)
    assert all(p.grad.dtype == np.float32 for p in ps)
    # Already small: untouched.
    optim.clip_grad_norm_(ps, max_norm=10.0)
    for p, g in zip(ps, grad):
        np.testing.assert_array_equal(minicnn.to_numpy(p.grad), g)
    # Direction kept.
    np.testing.assert_allclose(grad[0] / np.linalg.norm(grad[0]), gs[0] / np.linalg.norm(gs[0]),
                               rtol=1e-5)


def test_clip_grad_norm_inf_and_value():
    p = Parameter(np.zeros(3, np.float32))
    p.grad = np.array([1.0, -4.0, 2.0], np.float32)
    assert optim.clip_grad_norm_([p], 2.0, norm_type=math.inf) == 4.0
    np.testing.assert_allclose(p.grad, np.array([1, -4, 2]) * 2 / (4 + 1e-6), rtol=1e-6)
    p.grad = np.array([1.0, -4.0, 2.0], np.float32)
    optim.clip_grad_value_(p, 1.5)
    np.testing.assert_array_equal(p.grad, [1.0, -1.5, 1.5])
    assert optim.clip_grad_norm_([Parameter(np.zeros(2, np.float32))], 1.0) == 0.0


@pytest.mark.torch
def test_clip_grad_norm_matches_torch():
    torch = pytest.importorskip("torch")
    g = rand(5, 4, seed=3, dtype=np.float32)
    p = Parameter(np.zeros((5, 4), np.float32))
    p.grad = g.copy()
    t = torch.zeros(5, 4, requires_grad=True)
    t.grad = torch.tensor(g.copy())
    ours = optim.clip_grad_norm_([p], 0.5)
    theirs = float(torch.nn.utils.clip_grad_norm_([t], 0.5))
    assert ours == pytest.approx(theirs, rel=1e-6)
    np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=1e-6)
