"""im2col / col2im: against explicit loops, as adjoints, on every device, and their errors."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minicnn
from minicnn import Tensor, gradcheck
from minicnn.functional import _workspace, col2im, im2col
from minicnn.functional.im2col import Windows, col2im_array, conv_geometry

import reference as ref
from conftest import rand


@st.composite
def windows(draw):
    """A random window geometry that fits: (x_shape, f, stride, padding, dilation)."""
    nd = draw(st.sampled_from([1, 2, 2, 3]))
    f = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    s = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    d = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    padding = draw(st.one_of(st.just("same"), st.just("valid"),
                             st.tuples(*[st.tuples(st.integers(0, 2), st.integers(0, 2))] * nd)))
    # "same" fits any size; otherwise the padded input must hold one window, d(f − 1) + 1
    pads = ((99, 0),) * nd if padding == "same" else ((0, 0),) * nd if padding == "valid" \
        else padding
    top = 4 if nd == 3 else 7
    n = tuple(draw(st.integers(max(1, d_ * (f_ - 1) + 1 - pb - pa), max(top, d_ * (f_ - 1) + 1)))
              for f_, d_, (pb, pa) in zip(f, d, pads))
    x_shape = (draw(st.integers(1, 2)),) + n + (draw(st.integers(1, 3)),)
    return x_shape, f, s, padding, d


def _pads(x_shape, f, s, padding, d):
    if padding == "same":
        return ref.same_pads(x_shape[1:-1], f, s, d)
    return 0 if padding == "valid" else padding


@given(windows())
def test_im2col_matches_explicit_loops(case):
    x_shape, f, s, padding, d = case
    x = rand(*x_shape)
    cols = im2col(Tensor(x), f, s, padding, d)
    expected = ref.im2col(x, f, s, _pads(x_shape, f, s, padding, d), d)
    assert cols.shape == expected.shape
    np.testing.assert_array_equal(cols.numpy(), expected)


@given(windows())
def test_col2im_is_the_adjoint_of_im2col(case):
    """⟨im2col(x), c⟩ = ⟨x, col2im(c)⟩: col2im adds every entry back, it never overwrites."""
    x_shape, f, s, padding, d = case
    x = rand(*x_shape, seed=1)
    cols_shape = im2col(Tensor(x), f, s, padding, d).shape
    c = rand(*cols_shape, seed=2)
    lhs = np.sum(im2col(Tensor(x), f, s, padding, d).numpy() * c)
    rhs = np.sum(x * col2im(Tensor(c), x_shape, f, s, padding, d).numpy())
    np.testing.assert_allclose(lhs, rhs, rtol=1e-12, atol=1e-12)


def test_col2im_of_ones_counts_the_windows_over_each_pixel():
    # 1-D, n = 7, f = 3, stride 1, no padding: the ends are in fewer windows than the middle
    x_shape = (1, 7, 1)
    counts = col2im(Tensor(np.ones((1, 5, 3, 1))), x_shape, 3).numpy()[0, :, 0]
    np.testing.assert_array_equal(counts, [1, 2, 3, 3, 3, 2, 1])
    # 2-D, stride 2 with 3×3 windows: the shared row/column is counted twice, the corner 4 times
    counts = col2im(Tensor(np.ones((1, 2, 2, 3, 3, 1))), (1, 5, 5, 1), 3, stride=2).numpy()
    assert counts[0, 2, 2, 0] == 4 and counts[0, 2, 0, 0] == 2 and counts[0, 0, 0, 0] == 1


def test_im2col_times_W_is_the_convolution():
    x, W = rand(2, 6, 5, 3), rand(3, 2, 3, 4, seed=1)
    cols = im2col(Tensor(x), (3, 2), stride=1, padding=1).numpy()
    Z = cols.reshape(-1, 3 * 2 * 3) @ W.reshape(-1, 4)
    np.testing.assert_allclose(Z.reshape(2, 6, 6, 4), ref.conv(x, W, padding=1), atol=1e-12)


def test_im2col_and_col2im_gradients():
    x = Tensor(rand(2, 5, 4, 2), requires_grad=True)
    gradcheck(lambda x: im2col(x, (3, 2), stride=(2, 1), padding="same", dilation=(1, 2)), x)
    c = Tensor(rand(1, 3, 3, 2, 2, 2, seed=3), requires_grad=True)
    gradcheck(lambda c: col2im(c, (1, 4, 4, 2), 2, stride=1, padding=0), c)


def test_blocks_give_the_same_columns(monkeypatch):
    """The engine copies windows a block at a time; tiny blocks (by rows) change nothing."""
    x = rand(3, 9, 8, 2)
    g = conv_geometry(x.shape[1:-1], 3, 2, 1, 1, "test")
    monkeypatch.setattr(_workspace, "BLOCK_BYTES", 3 * 3 * 2 * 8 * 4 * 2)   # 2 output rows
    win = Windows.of(x, g)
    blocks = win.blocks()
    assert len(blocks) > x.shape[0] and len(blocks[0]) == 2
    cols = np.concatenate([win.take(b).copy().reshape(-1, 18) for b in blocks])
    np.testing.assert_array_equal(cols, ref.im2col(x, (3, 3), 2, 1).reshape(-1, 18))


@given(geometry=windows(), split=st.booleans())
def test_one_channel_columns_by_offset_are_the_columns(geometry, split):
    """One input channel: the block's column matrix is built transposed, one kernel offset
    at a time; it holds the same values as im2col, whole examples or rows of one, in a
    workspace or a fresh array."""
    x_shape, f, s, padding, d = geometry
    x = rand(*x_shape[:-1], 1)
    g = conv_geometry(x.shape[1:-1], f, s, padding, d, "test")
    win = Windows.of(x, g)
    K = int(np.prod(f))
    row_bytes = K * 8
    with pytest.MonkeyPatch.context() as mp:
        if split:                                # about one output row per block
            mp.setattr(_workspace, "BLOCK_BYTES", row_bytes * g.n_out[-1])
        blocks = win.blocks()
        cols = np.concatenate([win.take(b).copy().reshape(-1, K) for b in blocks])
    expect = ref.im2col(x, f, s, _pads(x.shape, f, s, padding, d), d).reshape(-1, K)
    np.testing.assert_array_equal(cols, expect)
    fresh = Windows.of(x, g).take((slice(None),), fresh=True)
    np.testing.assert_array_equal(fresh.reshape(-1, K), expect)
    assert Windows.of(x, g)._by_offset() == (s[-1] == 1 and g.n_out[-1] > f[-1])


def test_pointwise_windows_are_the_input_itself():
    """1×1, stride 1, no padding: the 'columns' are x's own memory, no copy."""
    x = rand(2, 4, 4, 8)
    g = conv_geometry(x.shape[1:-1], 1, 1, 0, 1, "test")
    win = Windows.of(x, g)
    assert win.blocks() == [(slice(None),)]
    assert np.shares_memory(win.take(win.blocks()[0]), x)


def test_results_are_not_workspaces():
    """A second call must not change the first call's result (no reused buffer escapes)."""
    x1, x2 = rand(2, 5, 5, 3), rand(2, 5, 5, 3, seed=9)
    a = im2col(Tensor(x1), 3, padding=1)
    before = a.numpy().copy()
    im2col(Tensor(x2), 3, padding=1)
    c = col2im(a, x1.shape, 3, padding=1)
    c_before = c.numpy().copy()
    col2im(Tensor(before * 2), x1.shape, 3, padding=1)
    np.testing.assert_array_equal(a.numpy(), before)
    np.testing.assert_array_equal(c.numpy(), c_before)


@pytest.mark.parametrize("padding,stride", [(1, 1), ("same", 2), (((0, 2), (1, 0)), (2, 1))])
def test_same_on_every_device(device, padding, stride):
    x = rand(2, 6, 5, 3).astype(np.float32)
    expected = im2col(Tensor(x), (3, 2), stride, padding).numpy()
    xd = Tensor(x, device=device, requires_grad=True)
    cols = im2col(xd, (3, 2), stride, padding)
    assert cols.device == device and cols.dtype == np.float32
    np.testing.assert_array_equal(cols.numpy(), expected)
    back = col2im(cols, x.shape, (3, 2), stride, padding)
    np.testing.assert_allclose(back.numpy(), col2im(Tensor(expected), x.shape, (3, 2), stride,
                                                     padding).numpy(), rtol=1e-6)
    cols.backward(minicnn.ones(*cols.shape, device=device))
    assert xd.grad is not None and xd.grad.dtype == np.float32


def test_errors_name_the_argument():
    x = Tensor(rand(1, 4, 4, 2))
    with pytest.raises(ValueError, match="kernel is larger than the padded input"):
        im2col(x, 5)
    with pytest.raises(ValueError, match="padding must be non-negative"):
        im2col(x, 3, padding=-1)
    with pytest.raises(ValueError, match="stride must be at least 1"):
        im2col(x, 3, stride=0)
    with pytest.raises(ValueError, match="kernel_size must be an int or a tuple of 2 ints"):
        im2col(x, (3, 3, 3))
    with pytest.raises(ValueError, match="padding must be an int, a tuple"):
        im2col(x, 3, padding="full")
    with pytest.raises(ValueError, match=r"x must have shape"):
        im2col(Tensor(rand(4, 4)), 3)
    with pytest.raises(ValueError, match=r"cols must have shape"):
        col2im(Tensor(rand(1, 2, 2, 3, 3, 2)), (1, 4, 4, 2), 2)


@pytest.mark.parametrize("nd,groups,f,s,d,padding", [
    (2, 1, 3, 1, 1, 1), (2, 2, (3, 2), (2, 1), (1, 2), "same"), (1, 1, 4, 3, 2, ((2, 1),)),
    (3, 1, (2, 3, 1), (1, 2, 1), 1, 1), (3, 2, 2, 1, (1, 2, 1), "same")])
def test_gpu_kernels_compiled_as_c_agree_with_the_cpu(tmp_path, nd, groups, f, s, d, padding):
    """The CuPy kernels' bodies, compiled by the C compiler as one loop over the output
    index, give the CPU path's columns and col2im: their index arithmetic is checked
    even where there is no GPU."""
    import ctypes
    import shutil
    import subprocess
    from minicnn.functional import _im2col_cuda as K
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    sig = ", ".join(f"int {p.split()[1]}" for p in K._PARAMS.split(", "))
    (tmp_path / "k.c").write_text(
        "#include <stddef.h>\ntypedef float T;\n"
        f"void im2col(const T* x, T* out, ptrdiff_t n, {sig}) {{\n"
        f"  for (ptrdiff_t i = 0; i < n; ++i) {{ T col; {K._IM2COL_CUDA} out[i] = col; }} }}\n"
        f"void col2im(const T* cols, T* out, ptrdiff_t n, {sig}) {{\n"
        f"  for (ptrdiff_t i = 0; i < n; ++i) {{ T dx; {K._COL2IM_CUDA} out[i] = dx; }} }}\n")
    subprocess.run([cc, "-O1", "-shared", "-fPIC", "-o", str(tmp_path / "k.so"),
                    str(tmp_path / "k.c")], check=True, capture_output=True)
    lib = ctypes.CDLL(str(tmp_path / "k.so"))
    x = rand(2, *(5, 6, 7)[:nd], 4, dtype=np.float32)
    g = conv_geometry(x.shape[1:-1], f, s, padding, d, "test")
    args = K._CudaKernels._args(g, x.shape[-1], groups)
    win = Windows.of(x, g, groups)
    expected = win.take((slice(None),), out=np.empty(win.cols_shape, np.float32))
    cols = np.empty(win.cols_shape, np.float32)
    lib.im2col(x.ctypes.data_as(ctypes.c_void_p), cols.ctypes.data_as(ctypes.c_void_p),
               ctypes.c_ssize_t(cols.size), *args)
    np.testing.assert_array_equal(cols, expected)
    dcols = rand(*win.cols_shape, seed=1, dtype=np.float32)
    target = Windows.zeros(x.shape, np.float32, np, g, groups)
    target.add((slice(None),), dcols)
    dx = np.empty(x.shape, np.float32)
    lib.col2im(dcols.ctypes.data_as(ctypes.c_void_p), dx.ctypes.data_as(ctypes.c_void_p),
               ctypes.c_ssize_t(dx.size), *args)
    np.testing.assert_allclose(dx, target.result(), rtol=1e-5, atol=1e-5)


@given(geometry=windows(), groups=st.sampled_from([1, 2]), n_C=st.sampled_from([2, 4]),
       split=st.booleans())
def test_col2im_by_offset_equals_one_gemm_per_block(geometry, groups, n_C, split):
    """dx = col2im(dZ @ Wᵀ) with the columns offset-major (a batch of GEMMs, one per kernel
    offset) equals the one-GEMM layout, grouped or not, whole examples or rows per block."""
    from minicnn.functional import _conv_engine as engine
    x_shape, f, s, padding, d = geometry
    x_shape = x_shape[:-1] + (x_shape[-1] * groups,)
    g = conv_geometry(x_shape[1:-1], f, s, padding, d, "test")
    dZ = rand(x_shape[0], *g.n_out, n_C)
    W = rand(*f, x_shape[-1] // groups, n_C)
    results = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(engine, "_full_padding", lambda g: None)          # col2im, stride 1 too
        if split:
            mp.setattr(_workspace, "BLOCK_BYTES", int(np.prod(f)) * x_shape[-1] * 8
                       * g.n_out[-1])
        for channels in (0, 10**6):
            mp.setattr(engine, "BY_OFFSET_MAX_CHANNELS", channels)
            results.append(engine.conv_transpose_gemm(dZ, W, g, x_shape, groups))
    np.testing.assert_allclose(results[0], results[1], rtol=1e-12, atol=1e-12)
    if groups == 1:      # the public col2im (itself checked against the loops above)
        cols = (dZ @ W.reshape(-1, n_C).T).reshape(dZ.shape[:-1] + f + (x_shape[-1],))
        np.testing.assert_allclose(results[0], col2im_array(cols, x_shape, g), rtol=1e-12,
                                   atol=1e-12)
