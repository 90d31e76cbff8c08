"""conv1d/2d/3d and conv_transpose1d/2d/3d: explicit loops, gradient checks, identities."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minicnn
import minicnn.functional as F
from minicnn import Tensor, gradcheck
from minicnn.functional import _workspace
from minicnn.functional import conv as conv_module

import reference as ref
from conftest import rand

CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


@st.composite
def conv_cases(draw, nd, kind, transpose=False, small=False):
    """(nd, x_shape, W_shape, stride, padding, dilation, groups, output_padding) that fit.

    Even kernels with "same" padding, strides, dilations, groups and depthwise
    (groups = n_C_prev, with a depth multiplier of 1 or 2) all come up.
    """
    f = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    s = tuple(draw(st.integers(1, 3 if not small else 2)) for _ in range(nd))
    d = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    if kind == "depthwise":
        groups = draw(st.integers(2, 3))
        c_in, c_out = groups, groups * draw(st.integers(1, 2))
    else:
        groups = 2 if kind == "grouped" else 1
        c_in = groups * draw(st.integers(1, 2))
        c_out = groups * draw(st.integers(1, 2))
    extra = 1 if nd == 3 and small else 2 if nd == 3 or small else 4
    if transpose:     # y (m, *n, c_in) → (m, *n', c_out), W (*f, c_out // groups, c_in)
        padding = draw(st.one_of(st.just("same"), st.just("valid"), st.integers(0, 1)))
        op = tuple(draw(st.integers(0, s_ - 1)) for s_ in s) if padding != "same" else 0
        lower = 2 + (2 * padding if isinstance(padding, int) else 0)
        n = tuple(draw(st.integers(lower, lower + extra)) for _ in range(nd))
        y_shape = (draw(st.integers(1, 2)),) + n + (c_in,)
        return nd, y_shape, f + (c_out // groups, c_in), s, padding, d, groups, op
    padding = draw(st.one_of(st.just("same"), st.just("valid"), st.integers(0, 2),
                             st.tuples(*[st.tuples(st.integers(0, 2), st.integers(0, 2))] * nd)))
    pads = {"same": ((99, 0),) * nd, "valid": ((0, 0),) * nd}.get(padding, padding) \
        if not isinstance(padding, int) else ((padding, padding),) * nd
    lower = [max(2, d_ * (f_ - 1) + 1 - pb - pa) for f_, d_, (pb, pa) in zip(f, d, pads)]
    n = tuple(draw(st.integers(lo, lo + extra)) for lo in lower)
    x_shape = (draw(st.integers(1, 2)),) + n + (c_in,)
    W_shape = f + (c_in // groups, c_out)
    return nd, x_shape, W_shape, s, padding, d, groups, 0


def ref_padding(x_shape, f, s, padding, d):
    if padding == "same":
        return ref.same_pads(x_shape[1:-1], f, s, d)
    return 0 if padding == "valid" else padding


def ref_transpose(y, W, s, padding, d, groups, op):
    """The reference transposed conv, with "same" as Keras: output n·s."""
    nd = y.ndim - 2
    f = W.shape[:nd]
    if padding == "same":
        n_out = tuple(n * s_ for n, s_ in zip(y.shape[1:-1], s))
        pads = ref.same_pads(n_out, f, s, d)
        op = tuple(n_o - ((n - 1) * s_ - pb - pa + d_ * (f_ - 1) + 1)
                   for n_o, n, s_, (pb, pa), d_, f_ in zip(n_out, y.shape[1:-1], s, pads, d, f))
        padding = pads
    elif padding == "valid":
        padding = 0
    return ref.conv_transpose(y, W, None, s, padding, op, d, groups)


# ------------------------------------------------------------------ forward
@pytest.mark.parametrize("kind", ["plain", "grouped", "depthwise"])
@pytest.mark.parametrize("nd", [1, 2, 3])
@given(data=st.data())
def test_conv_matches_explicit_loops(nd, kind, data):
    case = data.draw(conv_cases(nd, kind))
    _, x_shape, W_shape, s, padding, d, groups, _ = case
    x, W, b = rand(*x_shape), rand(*W_shape, seed=1), rand(W_shape[-1], seed=2)
    Z = CONV[nd](Tensor(x), Tensor(W), Tensor(b), stride=s, padding=padding, dilation=d,
                 groups=groups)
    expected = ref.conv(x, W, b, s, ref_padding(x_shape, W_shape[:nd], s, padding, d), d, groups)
    assert Z.shape == expected.shape
    np.testing.assert_allclose(Z.numpy(), expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kind", ["plain", "grouped", "depthwise"])
@pytest.mark.parametrize("nd", [1, 2, 3])
@given(data=st.data())
def test_conv_transpose_matches_its_definition(nd, kind, data):
    case = data.draw(conv_cases(nd, kind, transpose=True))
    _, y_shape, W_shape, s, padding, d, groups, op = case
    y, W, b = rand(*y_shape), rand(*W_shape, seed=1), rand(W_shape[-2] * groups, seed=2)
    out = CONV_T[nd](Tensor(y), Tensor(W), Tensor(b), stride=s, padding=padding,
                     output_padding=op, dilation=d, groups=groups)
    expected = ref_transpose(y, W, s, padding, d, groups, op) + b
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kind", ["plain", "grouped", "depthwise"])
@pytest.mark.parametrize("nd", [1, 2, 3])
@given(data=st.data())
def test_conv_transpose_is_the_adjoint_of_conv(nd, kind, data):
    case = data.draw(conv_cases(nd, kind))
    """⟨conv(x, W), y⟩ = ⟨x, conv_transpose(y, W)⟩ with the same W and hyper-parameters."""
    _, x_shape, W_shape, s, padding, d, groups, _ = case
    x, W = rand(*x_shape), rand(*W_shape, seed=1)
    Z = CONV[nd](Tensor(x), Tensor(W), stride=s, padding=padding, dilation=d, groups=groups)
    y = rand(*Z.shape, seed=3)
    pads = ref_padding(x_shape, W_shape[:nd], s, padding, d)
    # output_padding recovers the input size the stride rounded away
    n_back = [(n - 1) * s_ - (2 * p if isinstance(p, int) else sum(p)) + d_ * (f_ - 1) + 1
              for n, s_, p, d_, f_ in zip(Z.shape[1:-1], s,
                                          pads if not isinstance(pads, int) else [pads] * nd,
                                          d, W_shape[:nd])]
    op = tuple(n - nb for n, nb in zip(x_shape[1:-1], n_back))
    xt = CONV_T[nd](Tensor(y), Tensor(W), stride=s, padding=pads, output_padding=op,
                    dilation=d, groups=groups)
    assert xt.shape == x.shape
    np.testing.assert_allclose(np.sum(Z.numpy() * y), np.sum(x * xt.numpy()), rtol=1e-10)


# ----------------------------------------------------------------- backward
@pytest.mark.parametrize("kind", ["plain", "grouped", "depthwise"])
@pytest.mark.parametrize("nd", [1, 2, 3])
@given(data=st.data())
def test_conv_gradients(nd, kind, data):
    case = data.draw(conv_cases(nd, kind, small=True))
    _, x_shape, W_shape, s, padding, d, groups, _ = case
    x = Tensor(rand(*x_shape), requires_grad=True)
    W = Tensor(rand(*W_shape, seed=1), requires_grad=True)
    b = Tensor(rand(W_shape[-1], seed=2), requires_grad=True)
    gradcheck(lambda x, W, b: CONV[nd](x, W, b, s, padding, d, groups), x, W, b)


@pytest.mark.parametrize("kind", ["plain", "grouped", "depthwise"])
@pytest.mark.parametrize("nd", [1, 2, 3])
@given(data=st.data())
def test_conv_transpose_gradients(nd, kind, data):
    case = data.draw(conv_cases(nd, kind, transpose=True, small=True))
    _, y_shape, W_shape, s, padding, d, groups, op = case
    y = Tensor(rand(*y_shape), requires_grad=True)
    W = Tensor(rand(*W_shape, seed=1), requires_grad=True)
    b = Tensor(rand(W_shape[-2] * groups, seed=2), requires_grad=True)
    gradcheck(lambda y, W, b: CONV_T[nd](y, W, b, s, padding, op, d, groups), y, W, b)


def test_gradients_through_blocks_and_threads(monkeypatch):
    """Tiny blocks: by example, by rows of one example, and depthwise blocks on two threads."""
    monkeypatch.setattr(_workspace, "BLOCK_BYTES", 600)
    monkeypatch.setattr(_workspace, "ELEMENTWISE_BLOCK_BYTES", 150)
    monkeypatch.setattr(conv_module, "KEEP_COLS_BYTES", 0)      # dW through the blocks too
    monkeypatch.setenv("MINICNN_NUM_THREADS", "2")
    for x_shape, W_shape, s, groups in [((3, 4, 4, 2), (3, 3, 2, 3), 1, 1),
                                        ((1, 7, 5, 2), (3, 2, 1, 4), 2, 2),
                                        ((2, 7, 5, 2), (2, 3, 2, 2), 2, 1),
                                        ((4, 4, 5, 2), (3, 3, 1, 2), 1, 2)]:
        x = Tensor(rand(*x_shape), requires_grad=True)
        W = Tensor(rand(*W_shape, seed=1), requires_grad=True)
        Z = F.conv2d(x, W, stride=s, padding=1, groups=groups)
        np.testing.assert_allclose(Z.numpy(), ref.conv(x.numpy(), W.numpy(), None, s, 1, 1,
                                                       groups), atol=1e-12)
        gradcheck(lambda x, W: F.conv2d(x, W, stride=s, padding=1, groups=groups), x, W)
        y = Tensor(rand(*Z.shape, seed=4), requires_grad=True)
        gradcheck(lambda y, W: F.conv_transpose2d(y, W, stride=s, padding=1, groups=groups), y, W)


def test_only_the_needed_gradients_are_computed(monkeypatch):
    """A frozen W costs no dW GEMM; an input that needs no gradient costs no dA_prev."""
    monkeypatch.setattr(conv_module, "KEEP_COLS_BYTES", 0)      # every dW by conv_gemm
    calls = []
    real_gemm, real_t = conv_module.conv_gemm, conv_module.conv_transpose_gemm
    monkeypatch.setattr(conv_module, "conv_gemm",
                        lambda *a, **k: calls.append("dW" if k.get("dZ") is not None else "Z")
                        or real_gemm(*a, **k))
    monkeypatch.setattr(conv_module, "conv_transpose_gemm",
                        lambda *a, **k: calls.append("dX") or real_t(*a, **k))
    x, W = rand(2, 5, 5, 3), rand(3, 3, 3, 4, seed=1)
    # style transfer: the image is optimised, the network is frozen
    img, Wf = Tensor(x, requires_grad=True), Tensor(W)
    F.conv2d(img, Wf, padding=1).sum().backward()
    assert calls == ["Z", "dX"] and Wf.grad is None and img.grad is not None
    # the first layer of a network: no gradient for the pixels
    calls.clear()
    Wt = Tensor(W, requires_grad=True)
    F.conv2d(Tensor(x), Wt, padding=1).sum().backward()
    assert calls == ["Z", "dW"] and Wt.grad is not None


def test_small_columns_are_kept_for_dW(monkeypatch):
    """A small conv keeps its im2col from the forward pass for dW (no second im2col);
    the gradients are those of the blocked path; 1×1, grouped and frozen-W convs keep none."""
    calls = []
    real_gemm = conv_module.conv_gemm
    monkeypatch.setattr(conv_module, "conv_gemm",
                        lambda *a, **k: calls.append("dW" if k.get("dZ") is not None else "Z")
                        or real_gemm(*a, **k))
    for x_shape, W_shape, s, p, groups, kept in [((2, 7, 6, 3), (3, 3, 3, 4), 1, 1, 1, True),
                                                ((2, 9, 8, 2), (5, 3, 2, 3), 2, 1, 1, True),
                                                ((2, 5, 5, 4), (1, 1, 4, 3), 1, 0, 1, False),
                                                ((2, 6, 6, 4), (3, 3, 2, 4), 1, 1, 2, False)]:
        grads = []
        for budget in (8 << 20, 0):
            monkeypatch.setattr(conv_module, "KEEP_COLS_BYTES", budget)
            x = Tensor(rand(*x_shape), requires_grad=True)
            W = Tensor(rand(*W_shape, seed=1), requires_grad=True)
            calls.clear()
            Z = F.conv2d(x, W, stride=s, padding=p, groups=groups)
            fn = Z.creator
            assert (fn.cols is not None) == (kept and budget > 0)
            (Z * Tensor(rand(*Z.shape, seed=2))).sum().backward()
            assert getattr(fn, "cols", None) is None        # freed by the backward
            assert calls == ([] if kept and budget else ["Z", "dW"])
            grads.append((x.grad, W.grad))
        np.testing.assert_allclose(grads[0][1], grads[1][1], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(grads[0][0], grads[1][0], rtol=1e-12, atol=1e-12)
    with minicnn.no_grad():                                   # inference keeps nothing
        monkeypatch.setattr(conv_module, "KEEP_COLS_BYTES", 8 << 20)
        Z = F.conv2d(Tensor(rand(2, 7, 6, 3)), Tensor(rand(3, 3, 3, 4), requires_grad=True))
        assert Z.creator is None or Z.creator.cols is None


# --------------------------------------------------------------- identities
def test_1x1_conv_is_a_matmul():
    x, W, b = rand(2, 4, 5, 6), rand(1, 1, 6, 3, seed=1), rand(3, seed=2)
    Z = F.conv2d(Tensor(x), Tensor(W), Tensor(b))
    np.testing.assert_allclose(Z.numpy(), x @ W[0, 0] + b, atol=1e-12)
    Z2 = F.conv2d(Tensor(x), Tensor(W), stride=2)
    np.testing.assert_allclose(Z2.numpy(), x[:, ::2, ::2] @ W[0, 0], atol=1e-12)


@pytest.mark.parametrize("mult,stride,padding", [(1, 1, "same"), (2, 2, 1), (1, 2, "valid")])
def test_depthwise_is_one_conv_per_channel(mult, stride, padding):
    """groups = n_C: each channel convolved with its own filters; equal to a dense conv whose
    W is zero off the diagonal, and to n_C separate single-channel convolutions."""
    n_C = 3
    x, W = rand(2, 6, 7, n_C), rand(3, 3, 1, n_C * mult, seed=1)
    Z = F.conv2d(Tensor(x), Tensor(W), stride=stride, padding=padding, groups=n_C).numpy()
    dense = np.zeros((3, 3, n_C, n_C * mult))
    for c in range(n_C):
        dense[:, :, c, c * mult:(c + 1) * mult] = W[:, :, 0, c * mult:(c + 1) * mult]
    np.testing.assert_allclose(Z, F.conv2d(Tensor(x), Tensor(dense), stride=stride,
                                           padding=padding).numpy(), atol=1e-12)
    per_channel = [F.conv2d(Tensor(x[..., c:c + 1]), Tensor(W[..., c * mult:(c + 1) * mult]),
                            stride=stride, padding=padding).numpy() for c in range(n_C)]
    np.testing.assert_allclose(Z, np.concatenate(per_channel, axis=-1), atol=1e-12)


def test_conv3d_with_depth_1_is_conv2d():
    x, W, b = rand(2, 1, 6, 5, 3), rand(1, 3, 2, 3, 4, seed=1), rand(4, seed=2)
    Z3 = F.conv3d(Tensor(x), Tensor(W), Tensor(b), stride=(1, 2, 1), padding=(0, 1, 1))
    Z2 = F.conv2d(Tensor(x[:, 0]), Tensor(W[0]), Tensor(b), stride=(2, 1), padding=1)
    np.testing.assert_allclose(Z3.numpy()[:, 0], Z2.numpy(), atol=1e-12)


def test_conv1d_is_conv2d_on_a_one_high_image():
    x, W = rand(2, 9, 3), rand(4, 3, 5, seed=1)
    Z1 = F.conv1d(Tensor(x), Tensor(W), stride=2, padding="same", dilation=2)
    Z2 = F.conv2d(Tensor(x[:, None]), Tensor(W[None]), stride=(1, 2), padding="same",
                  dilation=(1, 2))
    np.testing.assert_allclose(Z1.numpy(), Z2.numpy()[:, 0], atol=1e-12)


def test_same_padding_puts_the_odd_row_at_the_bottom_right():
    """Keras: a 2×2 kernel with "same" pads 0 before and 1 after."""
    x, W = rand(1, 4, 4, 1), rand(2, 2, 1, 1, seed=1)
    Z = F.conv2d(Tensor(x), Tensor(W), padding="same")
    assert Z.shape == (1, 4, 4, 1)
    np.testing.assert_allclose(Z.numpy(), ref.conv(x, W, padding=((0, 1), (0, 1))), atol=1e-12)
    assert F.conv2d(Tensor(rand(1, 7, 7, 1)), Tensor(W), stride=2, padding="same").shape \
        == (1, 4, 4, 1)


def test_conv_transpose_doubles_the_size_as_unet_does():
    y, W = rand(2, 4, 3, 6), rand(2, 2, 5, 6, seed=1)
    out = F.conv_transpose2d(Tensor(y), Tensor(W), stride=2)
    assert out.shape == (2, 8, 6, 5)
    # non-overlapping 2×2 windows: each input pixel paints its own 2×2 block
    np.testing.assert_allclose(out.numpy()[:, 2:4, 0:2], np.einsum("ic,hwoc->ihwo", y[:, 1, 0], W),
                               atol=1e-12)
    assert F.conv_transpose2d(Tensor(y), Tensor(rand(3, 3, 5, 6)), stride=2,
                              padding="same").shape == (2, 8, 6, 5)


# -------------------------------------------------------- dtype and devices
@pytest.mark.parametrize("groups,stride", [(1, 1), (1, 2), (4, 1), (2, 2)])
def test_float32_stays_float32(groups, stride):
    x = Tensor(rand(2, 6, 6, 4).astype(np.float32), requires_grad=True)
    W = Tensor(rand(3, 3, 4 // groups, 4, seed=1).astype(np.float32), requires_grad=True)
    b = Tensor(np.zeros(4, np.float32), requires_grad=True)
    Z = F.conv2d(x, W, b, stride=stride, padding=1, groups=groups)
    out = F.conv_transpose2d(Z, W, b, stride=stride, padding=1, groups=groups)
    assert Z.dtype == np.float32 and out.dtype == np.float32
    out.sum().backward()
    assert x.grad.dtype == W.grad.dtype == b.grad.dtype == np.float32


@pytest.mark.parametrize("op,stride,groups", [("conv", 1, 1), ("conv", 2, 2), ("conv", 1, 4),
                                              ("conv", 2, 4), ("transpose", 2, 1),
                                              ("transpose", 1, 2)])
def test_same_results_on_every_device(device, op, stride, groups):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 7, 6, 4)).astype(np.float32)
    W = rng.standard_normal((3, 3, 4 // groups, 4)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    fn = F.conv2d if op == "conv" else F.conv_transpose2d

    def run(dev):
        xs = [Tensor(a, device=dev, requires_grad=True) for a in (x, W, b)]
        out = fn(*xs, stride=stride, padding=1, groups=groups)
        (out * out).sum().backward()
        return [out.numpy()] + [t.grad if dev == "cpu" else minicnn.to_numpy(t.grad) for t in xs]

    for got, expected in zip(run(device), run("cpu")):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


# ------------------------------------------------------------------- errors
def test_bad_hyper_parameters_raise_clear_errors():
    x, W = Tensor(rand(1, 4, 4, 6)), Tensor(rand(3, 3, 6, 2))
    with pytest.raises(ValueError, match="kernel is larger than the padded input along n_H"):
        F.conv2d(Tensor(rand(1, 2, 4, 6)), W)
    with pytest.raises(ValueError, match="n_C_prev = 6 channels of x are not divisible by "
                                         "groups = 4"):
        F.conv2d(x, Tensor(rand(3, 3, 1, 4)), groups=4)
    with pytest.raises(ValueError, match="output channels .* not divisible by groups = 2"):
        F.conv2d(x, Tensor(rand(3, 3, 3, 3)), groups=2)
    with pytest.raises(ValueError, match=r"W must have shape \(f_H, f_W, n_C_prev // groups, "
                                         r"n_C\), rank 4, got shape \(3, 6, 2\)"):
        F.conv2d(x, Tensor(rand(3, 6, 2)))
    with pytest.raises(ValueError, match=r"W.shape\[-2\] should be 6 // 1 = 6"):
        F.conv2d(x, Tensor(rand(3, 3, 5, 2)))
    with pytest.raises(ValueError, match="padding must be non-negative"):
        F.conv2d(x, W, padding=-1)
    with pytest.raises(ValueError, match="padding must be non-negative"):
        F.conv2d(x, W, padding=(1, (0, -2)))
    with pytest.raises(ValueError, match="stride must be at least 1"):
        F.conv2d(x, W, stride=(1, 0))
    with pytest.raises(ValueError, match="x must have shape"):
        F.conv2d(Tensor(rand(4, 4, 6)), W)
    with pytest.raises(ValueError, match=r"b must have shape \(2,\)"):
        F.conv2d(x, W, Tensor(rand(3)), padding=1)
    with pytest.raises(ValueError, match="groups must be a positive int"):
        F.conv2d(x, W, groups=0)
    with pytest.raises(TypeError, match="x has dtype float32 but W has dtype float64"):
        F.conv2d(Tensor(rand(1, 4, 4, 6).astype(np.float32)), W, padding=1)
    with pytest.raises(ValueError, match="output_padding must be smaller than stride"):
        F.conv_transpose2d(Tensor(rand(1, 3, 3, 2)), W, stride=2, output_padding=2)
    with pytest.raises(ValueError, match=r"W.shape\[-1\] should be the 4 channels of y"):
        F.conv_transpose2d(Tensor(rand(1, 3, 3, 4)), W)
    with pytest.raises(ValueError, match="padding 2 \\+ 2 along n_H is larger"):
        F.conv_transpose2d(Tensor(rand(1, 1, 3, 2)), Tensor(rand(1, 1, 6, 2)), padding=2)


def test_depthwise_rows_view_is_the_windows_with_pixels_and_channels_merged():
    """Stride 1 along n_W: the windows as rows of n_W'·C values (einsum's fast loop);
    stride 2: no such view, and the per-pixel path runs (both checked against the loops)."""
    from minicnn.functional._conv_engine import _row_windows
    from minicnn.functional.im2col import conv_geometry, pad_into, window_view
    x = rand(2, 6, 7, 3)
    for s, expect_rows in ((1, True), ((1, 2), False)):
        g = conv_geometry(x.shape[1:-1], 3, s, 1, 1, "test")
        win = window_view(pad_into(x, g.pads, "pad"), g)
        rows = _row_windows(win, g)
        assert (rows is not None) == expect_rows
        if rows is not None:           # rows[i, h, u, v, w·C + c] = win[i, h, w, u, v, c]
            np.testing.assert_array_equal(
                rows, win.transpose(0, 1, 3, 4, 2, 5).reshape(rows.shape))
        W = rand(3, 3, 1, 3, seed=1)
        np.testing.assert_allclose(
            F.conv2d(Tensor(x), Tensor(W), stride=s, padding=1, groups=3).numpy(),
            ref.conv(x, W, None, s if isinstance(s, tuple) else (s, s), 1, 1, 3), atol=1e-12)


@pytest.mark.parametrize("groups", [1, 3])
def test_an_empty_batch_has_zero_gradients(groups):
    """m = 0: plain and depthwise convs give empty outputs and zero dW, db."""
    x = Tensor(np.zeros((0, 5, 5, 3)), requires_grad=True)
    W = Tensor(rand(3, 3, 3 // groups, 3, seed=1), requires_grad=True)
    b = Tensor(rand(3, seed=2), requires_grad=True)
    Z = F.conv2d(x, W, b, padding=1, groups=groups)
    assert Z.shape == (0, 5, 5, 3)
    Z.sum().backward()
    assert x.grad.shape == (0, 5, 5, 3)
    np.testing.assert_array_equal(W.grad, np.zeros(W.shape))
    np.testing.assert_array_equal(b.grad, np.zeros(3))
