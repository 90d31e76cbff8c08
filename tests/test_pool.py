"""Pooling, global pooling, upsampling and zero-padding (minicnn/functional/pool.py, upsample.py).

Forward against the explicit-loop reference (minicnn.course.loops), backward against the
reference's routing and against float64 finite differences, with hypothesis-drawn shapes,
windows, strides and padding, on the CPU and on the GPU stand-in.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import minicnn as mc
from minicnn import backend
from minicnn import functional as F
from minicnn.autograd import Tensor, no_grad
from minicnn.course import loops
from conftest import rand

MAX = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
AVG = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}
MODE = {"max": MAX, "average": AVG}

# The device fixture is entered once per test, not per example: safe to share.
on_device = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


@st.composite
def pool_cases(draw, min_dims=1, max_dims=3, padding=True):
    """(x shape, kernel f, stride s, per-side padding) with at least one output cell."""
    d = draw(st.integers(min_dims, max_dims))
    max_side = {1: 9, 2: 6, 3: 4}[d]
    f = tuple(draw(st.integers(1, 3)) for _ in range(d))
    s = tuple(draw(st.integers(1, 3)) for _ in range(d))
    pads = tuple((draw(st.integers(0, fd - 1)), draw(st.integers(0, fd - 1))) if padding
                 else (0, 0) for fd in f)
    n = tuple(draw(st.integers(max(1, fd - lo - hi), max_side)) for fd, (lo, hi) in zip(f, pads))
    m, n_C = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    return (m,) + n + (n_C,), f, s, pads


def on(device, a, requires_grad=False):
    return Tensor(a, device=device, requires_grad=requires_grad)


# ------------------------------------------------------------------ forward
@on_device
@given(case=pool_cases(), mode=st.sampled_from(["max", "average"]), seed=st.integers(0, 999))
def test_pooling_forward_matches_the_loops(device, case, mode, seed):
    shape, f, s, pads = case
    x = rand(*shape, seed=seed)
    A = MODE[mode][len(f)](on(device, x), f, s, pads)
    assert A.device == device
    expected = loops.pool_forward_nd(x, f, s, pads, mode)
    np.testing.assert_allclose(A.numpy(), expected, rtol=1e-12, atol=1e-12)


@given(f=st.integers(1, 3), s=st.integers(1, 3), n_H=st.integers(3, 6), n_W=st.integers(3, 6),
       mode=st.sampled_from(["max", "average"]))
def test_course_loops_agree_with_the_nd_reference(f, s, n_H, n_W, mode):
    # pool_forward/backward (the assignment's four loops) are the 2-D, unpadded case of the
    # N-D reference: the two references check each other.
    x = rand(2, n_H, n_W, 3, seed=1)
    A, cache = loops.pool_forward(x, {"f": f, "stride": s}, mode)
    geometry = ((f, f), (s, s), ((0, 0), (0, 0)))
    np.testing.assert_allclose(A, loops.pool_forward_nd(x, *geometry, mode))
    dA = rand(*A.shape, seed=2)
    np.testing.assert_allclose(loops.pool_backward(dA, cache, mode),
                               loops.pool_backward_nd(dA, x, *geometry, mode))


# ----------------------------------------------------------------- backward
@on_device
@given(case=pool_cases(), mode=st.sampled_from(["max", "average"]), seed=st.integers(0, 999))
def test_pooling_backward_matches_the_loops(device, case, mode, seed):
    shape, f, s, pads = case
    x = rand(*shape, seed=seed)
    xt = on(device, x, requires_grad=True)
    A = MODE[mode][len(f)](xt, f, s, pads)
    dA = rand(*A.shape, seed=seed + 1)
    A.backward(backend.to_device(dA, device))
    assert backend.device_of(xt.grad) == device
    expected = loops.pool_backward_nd(dA, x, f, s, pads, mode)
    np.testing.assert_allclose(backend.to_numpy(xt.grad), expected, rtol=1e-12, atol=1e-12)


@given(case=pool_cases(), mode=st.sampled_from(["max", "average"]), seed=st.integers(0, 999))
@settings(max_examples=15)
def test_pooling_gradcheck(case, mode, seed):
    shape, f, s, pads = case
    x = Tensor(rand(*shape, seed=seed), requires_grad=True)
    mc.gradcheck(lambda a: MODE[mode][len(f)](a, f, s, pads), x)


@pytest.mark.parametrize("f, s, pad", [(2, 2, 0), (3, 1, 1), (3, 2, 1), (2, 1, 0)])
def test_max_pool_ties_go_to_the_first_maximum(device, f, s, pad):
    # Small integers: most windows hold several equal maxima (as after a ReLU).
    x = np.random.default_rng(3).integers(0, 3, size=(2, 6, 7, 2)).astype(np.float64)
    xt = on(device, x, requires_grad=True)
    A = F.max_pool2d(xt, f, s, pad)
    dA = rand(*A.shape, seed=4)
    A.backward(backend.to_device(dA, device))
    pads = ((pad, pad), (pad, pad))
    expected = loops.pool_backward_nd(dA, x, (f, f), (s, s), pads, "max")
    np.testing.assert_allclose(backend.to_numpy(xt.grad), expected, rtol=1e-12, atol=1e-12)


def test_a_window_of_equal_values_sends_everything_to_its_first_cell():
    x = Tensor(np.array([[[[5.0], [5.0]], [[5.0], [5.0]]]]), requires_grad=True)  # (1, 2, 2, 1)
    F.max_pool2d(x, 2).backward(np.array([[[[3.0]]]]))
    np.testing.assert_array_equal(x.grad[0, :, :, 0], [[3.0, 0.0], [0.0, 0.0]])
    x3 = Tensor(np.zeros((1, 2, 2, 2, 1)), requires_grad=True)
    F.max_pool3d(x3, 2).backward(np.ones((1, 1, 1, 1, 1)))
    assert x3.grad[0, 0, 0, 0, 0] == 1 and x3.grad.sum() == 1


def test_overlapping_windows_accumulate():
    # 1-D, f = 3, s = 1: the middle value 9 is the max of all three windows.
    x = Tensor(np.array([[[0.0], [1.0], [9.0], [2.0], [0.5]]]), requires_grad=True)
    F.max_pool1d(x, 3, 1).backward(np.array([[[1.0], [10.0], [100.0]]]))
    np.testing.assert_array_equal(x.grad[0, :, 0], [0, 0, 111, 0, 0])


# ------------------------------------------------------------------ padding
def test_max_pool_pads_with_minus_infinity():
    x = -1.0 - rand(1, 4, 4, 2, seed=5) ** 2             # all negative: a 0 pad would win
    A = F.max_pool2d(x, 3, 1, padding=1).numpy()
    assert (A < 0).all()
    np.testing.assert_allclose(A, loops.pool_forward_nd(x, (3, 3), (1, 1), ((1, 1),) * 2, "max"))


def test_average_pool_leaves_padding_out_of_the_divisor():
    x = np.ones((1, 4, 5, 1))
    A = F.avg_pool2d(x, 3, 1, padding=1).numpy()
    np.testing.assert_allclose(A, 1.0)                   # a corner window has 4 real cells
    x = np.arange(4.0).reshape(1, 4, 1)
    np.testing.assert_allclose(F.avg_pool1d(x, 3, 2, padding=1).numpy()[0, :, 0],
                               [(0 + 1) / 2, (1 + 2 + 3) / 3])


@pytest.mark.parametrize("n, f, s", [(5, 2, 2), (6, 3, 2), (7, 3, 3), (4, 1, 1), (5, 4, 1)])
def test_same_padding_follows_keras(n, f, s):
    # Keras/TensorFlow "same": n_out = ceil(n / s), the odd extra cell of padding at the end.
    x = rand(1, n, n, 1, seed=6)
    total = max((-(-n // s) - 1) * s + f - n, 0)
    pads = ((total // 2, total - total // 2),) * 2
    for mode in ("max", "average"):
        A = MODE[mode][2](x, f, s, "same").numpy()
        assert A.shape == (1, -(-n // s), -(-n // s), 1)
        np.testing.assert_allclose(A, loops.pool_forward_nd(x, (f, f), (s, s), pads, mode))


def test_padding_forms_agree():
    x = rand(2, 5, 6, 3, seed=7)
    ref = F.avg_pool2d(x, (3, 2), 2, padding=((1, 1), (1, 1))).numpy()
    np.testing.assert_array_equal(F.avg_pool2d(x, (3, 2), 2, padding=1).numpy(), ref)
    np.testing.assert_array_equal(F.avg_pool2d(x, (3, 2), 2, padding=(1, 1)).numpy(), ref)
    np.testing.assert_array_equal(F.max_pool2d(x, 2, padding="valid").numpy(),
                                  F.max_pool2d(x, 2).numpy())


# ---------------------------------------------------------------- oracles
@pytest.mark.parametrize("d", [1, 2, 3])
@pytest.mark.parametrize("f, s, p", [(2, 2, 0), (3, 2, 1), (3, 1, 1), (2, 3, 1)])
def test_pooling_matches_torch(d, f, s, p):
    torch = pytest.importorskip("torch")
    shape = {1: (2, 9, 3), 2: (2, 7, 6, 3), 3: (2, 5, 6, 4, 3)}[d]
    x = rand(*shape, seed=8)
    to_first = (0, d + 1) + tuple(range(1, d + 1))            # channels-last → channels-first
    to_last = (0,) + tuple(range(2, d + 2)) + (1,)
    tf = torch.nn.functional
    for mode, ours, theirs in [
            ("max", MAX[d], getattr(tf, f"max_pool{d}d")),
            ("average", AVG[d], lambda a, *args: getattr(tf, f"avg_pool{d}d")(
                a, *args, count_include_pad=False))]:
        xt = torch.tensor(x.transpose(to_first), requires_grad=True)
        yt = theirs(xt, f, s, p)
        dA = rand(*yt.shape, seed=9)
        yt.backward(torch.tensor(dA))
        x_ours = Tensor(x, requires_grad=True)
        y = ours(x_ours, f, s, p)
        y.backward(dA.transpose(to_last))
        np.testing.assert_allclose(y.numpy(), yt.detach().numpy().transpose(to_last),
                                   rtol=1e-12, atol=1e-12, err_msg=mode)
        np.testing.assert_allclose(x_ours.grad, xt.grad.numpy().transpose(to_last),
                                   rtol=1e-12, atol=1e-12, err_msg=mode)


# ------------------------------------------------------------ dtype, modes
@pytest.mark.parametrize("op", [
    lambda x: F.max_pool2d(x, 2), lambda x: F.max_pool2d(x, 3, 2, 1),
    lambda x: F.avg_pool2d(x, 2), lambda x: F.avg_pool2d(x, 3, 2, "same"),
    F.global_avg_pool2d, F.global_max_pool2d,
    lambda x: F.upsample2d(x, 2), lambda x: F.upsample2d(x, 2, "bilinear"),
    lambda x: F.zero_pad(x, 1)])
def test_float32_stays_float32(device, op):
    x = on(device, rand(2, 6, 6, 3, dtype=np.float32), requires_grad=True)
    y = op(x)
    assert y.dtype == np.float32 and y.device == device
    y.backward(backend.to_device(np.ones(y.shape, np.float32), device))
    assert x.grad.dtype == np.float32


def test_no_grad_forward_is_the_same():
    x = rand(2, 6, 6, 3, seed=10)
    with no_grad():
        A = F.max_pool2d(x, 3, 2, 1)
    assert not A.requires_grad
    np.testing.assert_array_equal(A.numpy(), F.max_pool2d(Tensor(x, requires_grad=True),
                                                          3, 2, 1).numpy())


def test_integer_input_max_pool():
    x = np.arange(16).reshape(1, 4, 4, 1)
    np.testing.assert_array_equal(F.max_pool2d(x, 2, padding=1).numpy()[0, :, :, 0],
                                  [[0, 2, 3], [8, 10, 11], [12, 14, 15]])


# ----------------------------------------------------------- global pooling
@on_device
@given(m=st.integers(1, 3), n_H=st.integers(1, 5), n_W=st.integers(1, 5), n_C=st.integers(1, 3),
       keepdims=st.booleans())
def test_global_pooling(device, m, n_H, n_W, n_C, keepdims):
    x = rand(m, n_H, n_W, n_C, seed=n_H * 7 + n_W)
    out_shape = (m, 1, 1, n_C) if keepdims else (m, n_C)
    for op, ref, mode in [(F.global_avg_pool2d, np.mean, "average"),
                          (F.global_max_pool2d, np.max, "max")]:
        xt = on(device, x, requires_grad=True)
        A = op(xt, keepdims=keepdims)
        assert A.shape == out_shape
        np.testing.assert_allclose(A.numpy(), ref(x, axis=(1, 2), keepdims=keepdims))
        # The global pool is the pool whose window is the whole image.
        dA = rand(*out_shape, seed=2)
        A.backward(backend.to_device(dA, device))
        expected = loops.pool_backward_nd(dA.reshape(m, 1, 1, n_C), x, (n_H, n_W), (1, 1),
                                          ((0, 0), (0, 0)), mode)
        np.testing.assert_allclose(backend.to_numpy(xt.grad), expected, rtol=1e-12)


def test_global_pooling_gradcheck_and_ties():
    x = Tensor(rand(2, 3, 4, 2, seed=11), requires_grad=True)
    mc.gradcheck(F.global_avg_pool2d, x)
    mc.gradcheck(F.global_max_pool2d, x)
    t = Tensor(np.full((1, 2, 2, 1), 7.0), requires_grad=True)
    F.global_max_pool2d(t).backward(np.ones((1, 1)))
    np.testing.assert_array_equal(t.grad[0, :, :, 0], [[1, 0], [0, 0]])


# ---------------------------------------------------------------- upsample
@on_device
@given(m=st.integers(1, 2), n_H=st.integers(1, 4), n_W=st.integers(1, 4), n_C=st.integers(1, 3),
       s_H=st.integers(1, 3), s_W=st.integers(1, 3))
def test_upsample_nearest(device, m, n_H, n_W, n_C, s_H, s_W):
    x = rand(m, n_H, n_W, n_C, seed=n_H + 5 * n_W)
    xt = on(device, x, requires_grad=True)
    A = F.upsample2d(xt, (s_H, s_W))
    np.testing.assert_array_equal(A.numpy(), x.repeat(s_H, axis=1).repeat(s_W, axis=2))
    dA = rand(*A.shape, seed=1)
    A.backward(backend.to_device(dA, device))
    block_sums = dA.reshape(m, n_H, s_H, n_W, s_W, n_C).sum(axis=(2, 4))
    np.testing.assert_allclose(backend.to_numpy(xt.grad), block_sums)


@given(m=st.integers(1, 2), n_H=st.integers(1, 4), n_W=st.integers(1, 4), scale=st.integers(1, 3),
       mode=st.sampled_from(["nearest", "bilinear"]))
@settings(max_examples=15)
def test_upsample_gradcheck(m, n_H, n_W, scale, mode):
    x = Tensor(rand(m, n_H, n_W, 2, seed=scale), requires_grad=True)
    mc.gradcheck(lambda a: F.upsample2d(a, scale, mode), x)


def test_upsample_bilinear_reference():
    # 1 × 2 image [0, 4] upsampled ×2 along W at half-pixel centres: x = (o + ½)/2 − ½ =
    # −¼ (clamped to 0), ¼, ¾, 1¼ (clamped to 1).
    x = np.array([0.0, 4.0]).reshape(1, 1, 2, 1)
    A = F.upsample2d(x, (1, 2), "bilinear").numpy()
    np.testing.assert_allclose(A[0, 0, :, 0], [0.0, 1.0, 3.0, 4.0])
    c = np.full((2, 3, 4, 2), 2.5)
    np.testing.assert_allclose(F.upsample2d(c, 3, "bilinear").numpy(), 2.5)


@pytest.mark.parametrize("scale", [2, 3, (2, 3)])
def test_upsample_matches_torch(scale, device):
    torch = pytest.importorskip("torch")
    x = rand(2, 4, 5, 3, seed=12)
    sh, sw = (scale, scale) if isinstance(scale, int) else scale
    for mode in ("nearest", "bilinear"):
        xt = torch.tensor(x.transpose(0, 3, 1, 2), requires_grad=True)
        kw = {"align_corners": False} if mode == "bilinear" else {}
        yt = torch.nn.functional.interpolate(xt, scale_factor=(sh, sw), mode=mode, **kw)
        dA = rand(*yt.shape, seed=13)
        yt.backward(torch.tensor(dA))
        ours = on(device, x, requires_grad=True)
        y = F.upsample2d(ours, scale, mode)
        y.backward(backend.to_device(dA.transpose(0, 2, 3, 1), device))
        np.testing.assert_allclose(y.numpy(), yt.detach().numpy().transpose(0, 2, 3, 1),
                                   rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(backend.to_numpy(ours.grad),
                                   xt.grad.numpy().transpose(0, 2, 3, 1), rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- zero_pad
@pytest.mark.parametrize("shape, pad, width", [
    ((2, 3, 4, 2), 2, ((2, 2), (2, 2))),
    ((2, 3, 4, 2), (1, 0), ((1, 1), (0, 0))),
    ((2, 3, 4, 2), ((0, 1), (2, 3)), ((0, 1), (2, 3))),
    ((2, 5, 3), 1, ((1, 1),)),
    ((1, 2, 3, 2, 2), (1, 0, 2), ((1, 1), (0, 0), (2, 2)))])
def test_zero_pad(device, shape, pad, width):
    x = rand(*shape, seed=14)
    xt = on(device, x, requires_grad=True)
    y = F.zero_pad(xt, pad)
    full = ((0, 0),) + width + ((0, 0),)
    np.testing.assert_array_equal(y.numpy(), np.pad(x, full))
    dy = rand(*y.shape, seed=15)
    y.backward(backend.to_device(dy, device))
    inner = tuple(slice(lo, lo + n) for (lo, _), n in zip(full, shape))
    np.testing.assert_array_equal(backend.to_numpy(xt.grad), dy[inner])


def test_zero_pad_gradcheck():
    mc.gradcheck(lambda a: F.zero_pad(a, ((1, 0), (2, 1))),
                 Tensor(rand(2, 3, 2, 2, seed=16), requires_grad=True))


# ----------------------------------------------------------- bad input
@pytest.mark.parametrize("call, words", [
    (lambda x: F.max_pool2d(x[0], 2), ["max_pool2d", "4-D", "(3, 4, 2)"]),
    (lambda x: F.max_pool1d(x, 2), ["max_pool1d", "3-D"]),
    (lambda x: F.avg_pool2d(x, 0), ["kernel_size", "0"]),
    (lambda x: F.avg_pool2d(x, (2, 2, 2)), ["kernel_size", "2 positive ints"]),
    (lambda x: F.max_pool2d(x, 2, stride=-1), ["stride"]),
    (lambda x: F.max_pool2d(x, 2, padding=2), ["padding", "smaller than the window"]),
    (lambda x: F.max_pool2d(x, 2, padding="full"), ["padding", "'same'"]),
    (lambda x: F.max_pool2d(x, 5), ["smaller than the window"]),
    (lambda x: F.global_max_pool2d(x[0]), ["global_max_pool2d", "4-D"]),
    (lambda x: F.upsample2d(x, 0), ["scale"]),
    (lambda x: F.upsample2d(x, 2, "cubic"), ["mode", "'cubic'"]),
    (lambda x: F.zero_pad(x, -1), ["pad", "negative"]),
    (lambda x: F.zero_pad(x, (1, 2, 3)), ["pad", "2 ints"])])
def test_bad_input_gets_a_clear_error(call, words):
    x = rand(2, 3, 4, 2)
    with pytest.raises(ValueError) as info:
        call(x)
    for w in words:
        assert w in str(info.value), (w, str(info.value))


@pytest.mark.parametrize("mode", ["max", "average"])
@pytest.mark.parametrize("f, s, p", [(2, 2, 0), (3, 2, 1), (2, 1, 0)])
def test_batch_blocks_give_the_same_result(monkeypatch, mode, f, s, p):
    # On the CPU the batch is split into blocks run on threads; one example per block here.
    from minicnn.functional import _workspace
    x = rand(5, 6, 7, 3, seed=17)
    dA = rand(*MODE[mode][2](x, f, s, p).shape, seed=18)
    results = []
    for block_bytes in (1 << 30, 1):
        monkeypatch.setattr(_workspace, "ELEMENTWISE_BLOCK_BYTES", block_bytes)
        xt = Tensor(x, requires_grad=True)
        A = MODE[mode][2](xt, f, s, p)
        A.backward(dA)
        results.append((A.numpy(), xt.grad))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])
    np.testing.assert_allclose(results[1][1], loops.pool_backward_nd(
        dA, x, (f, f), (s, s), ((p, p), (p, p)), mode), rtol=1e-12, atol=1e-12)
