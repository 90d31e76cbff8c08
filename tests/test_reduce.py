"""column_sum, column_dot and per_channel: per-channel work, whichever way the rows are grouped."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st

from minicnn.functional._reduce import (SUM_ROW, _rows_per_row, _wide, add_bias, column_dot,
                                        column_sum, per_channel)


@settings(max_examples=60, deadline=None)
@given(N=st.integers(1, 700), n_C=st.integers(1, 40),
       dtype=st.sampled_from(["float32", "float64"]), transposed=st.booleans())
def test_column_sums_equal_numpy(N, n_C, dtype, transposed):
    """Prime and composite N, few and many channels, contiguous or not (no regrouping then)."""
    rng = np.random.default_rng(N * 41 + n_C)
    a = rng.standard_normal((n_C, N) if transposed else (N, n_C)).astype(dtype)
    b = rng.standard_normal(a.shape).astype(dtype)
    if transposed:
        a, b = a.T, b.T
    rtol = 1e-5 if dtype == "float32" else 1e-12
    s, d = column_sum(a), column_dot(a, b)
    assert s.dtype == a.dtype and d.dtype == a.dtype and s.shape == d.shape == (n_C,)
    np.testing.assert_allclose(s, a.astype(np.float64).sum(axis=0), rtol=rtol, atol=rtol * N)
    np.testing.assert_allclose(d, (a.astype(np.float64) * b).sum(axis=0), rtol=rtol,
                               atol=rtol * N)


def test_rows_are_grouped_when_channels_are_few():
    """16 channels: 128 rows per wide row of 2,048 values, the 1,021 - 7·128 = 125 rows
    left over summed as they are; the exact sums of small integers."""
    a = np.arange(1024 * 16, dtype=np.float32).reshape(1024, 16) % 7
    assert _rows_per_row(a, SUM_ROW) == 128 and _rows_per_row(a[:500], SUM_ROW) == 1
    wide, rest = _wide(a[:1021], 128)
    assert wide.shape == (7, 2048) and rest.shape == (125, 16)
    for b in (a, a[:1021]):
        np.testing.assert_array_equal(column_sum(b), b.astype(np.int64).sum(axis=0))
        np.testing.assert_array_equal(column_dot(b, b), (b.astype(np.int64) ** 2).sum(axis=0))


@settings(max_examples=60, deadline=None)
@given(N=st.integers(1, 3000), n_C=st.integers(1, 200),
       op=st.sampled_from([np.subtract, np.multiply, np.add]),
       dtype=st.sampled_from(["float32", "float64"]),
       layout=st.sampled_from(["contiguous", "transposed", "in place"]))
def test_per_channel_ops_equal_broadcasting(N, n_C, op, dtype, layout):
    """op(a, v) with v per channel, exactly as NumPy broadcasts it: grouped rows or not,
    a new array or in place (out=a), a strided a (no grouping then)."""
    rng = np.random.default_rng(N * 7 + n_C)
    a = rng.standard_normal((n_C, N) if layout == "transposed" else (N, n_C)).astype(dtype)
    if layout == "transposed":
        a = a.T
    v = rng.standard_normal(n_C).astype(dtype)
    expect = op(a, v)
    out = per_channel(op, a, v, out=a if layout == "in place" else None)
    assert out.dtype == a.dtype and out.shape == (N, n_C)
    np.testing.assert_array_equal(out, expect)
    if layout == "in place":
        assert out is a


def test_per_channel_rows_are_longer_than_half_a_buffer():
    """96 channels, 18,432 rows (MobileNetV2's 8×48×48): NumPy buffers a broadcast op whose
    rows hold at most half of np.getbufsize() values, so rows of 43 pixels (4,128 values);
    the threshold follows np.setbufsize."""
    a = np.zeros((18432, 96), np.float32)
    assert _rows_per_row(a, np.getbufsize() // 2 + 1) == 43
    old = np.setbufsize(2048)
    try:
        v = np.arange(96, dtype=np.float32)
        np.testing.assert_array_equal(per_channel(np.add, a, v), a + v)
        assert _rows_per_row(a, np.getbufsize() // 2 + 1) == 11
    finally:
        np.setbufsize(old)


@settings(max_examples=30, deadline=None)
@given(m=st.integers(1, 40), n_W=st.integers(1, 30), n_C=st.integers(1, 70),
       strided=st.booleans(), b_dtype=st.sampled_from(["float32", "float64"]))
def test_add_bias_adds_in_place(m, n_W, n_C, strided, b_dtype):
    """Z += b along the channels, in Z's own memory, contiguous Z or a strided view."""
    rng = np.random.default_rng(m * 31 + n_W * 7 + n_C)
    base = rng.standard_normal((m, n_W * (2 if strided else 1), n_C)).astype(np.float32)
    Z = base[:, ::2] if strided else base
    b = rng.standard_normal(n_C).astype(b_dtype)
    expect = Z + b.astype(np.float32)
    assert add_bias(Z, b) is Z
    np.testing.assert_allclose(Z, expect, rtol=1e-6, atol=1e-6)
    assert Z.dtype == np.float32
