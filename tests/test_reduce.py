"""column_sum, column_dot and per_channel: per-channel work, whichever way the rows are grouped."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st

from minicnn.functional._reduce import WIDE_ROW, _rows_per_row, column_dot, column_sum, per_channel


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
    """16 channels, 1,024 rows: 32 rows per wide row; the exact sum of small integers."""
    a = np.arange(1024 * 16, dtype=np.float32).reshape(1024, 16) % 7
    assert _rows_per_row(a) == 32 and _rows_per_row(a[:1021]) == 1      # 1,021 is prime
    np.testing.assert_array_equal(column_sum(a), a.astype(np.int64).sum(axis=0))
    np.testing.assert_array_equal(column_dot(a, a), (a.astype(np.int64) ** 2).sum(axis=0))


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


def test_per_channel_rows_are_long():
    """96 channels, 18,432 rows (MobileNetV2's 8×48×48): rows of 36 pixels, 3,456 values."""
    a = np.zeros((18432, 96), np.float32)
    assert _rows_per_row(a, WIDE_ROW) == 36
