"""The convolution assignment's API (minicnn.course) and its explicit loops (minicnn.course.loops).

Two kinds of check:

- the course's own expected outputs. The seeded inputs and the numbers below are those printed
  or asserted in the assignment "Convolution model - Step by Step" (deeplearning.ai,
  Convolutional Neural Networks, week 1): the notebook's expected-output cells and its
  ``public_tests.py`` (``zero_pad_test``, ``conv_single_step_test``, ``conv_forward_test_1/2``,
  ``pool_forward_test_1/2``), with ``np.random.seed`` exactly as there. Both the adapters and
  the loops must reproduce them;
- hypothesis: the adapters (thin wrappers of conv2d / max_pool2d / avg_pool2d) against the
  loops over shapes, strides and padding.
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minicnn.course as course
from minicnn.course import loops

IMPLEMENTATIONS = {"adapters": course, "loops": loops}
PRINTED = 1e-8          # the notebook prints 8 decimals: its rounding error is at most 5e-9
impl = pytest.mark.parametrize("C", IMPLEMENTATIONS.values(), ids=IMPLEMENTATIONS.keys())


# -------------------------------------------- the course's expected outputs
@impl
def test_zero_pad_course_values(C):
    # public_tests.zero_pad_test
    np.random.seed(1)
    x = np.random.randn(4, 3, 3, 2)
    x_pad = C.zero_pad(x, 3)
    assert type(x_pad) == np.ndarray and x_pad.shape == (4, 9, 9, 2)
    np.testing.assert_array_equal(x_pad[0, 0:2, :, 0], np.zeros((2, 9)))
    np.testing.assert_array_equal(x_pad[0, :, 7:9, 1], np.zeros((9, 2)))
    np.testing.assert_array_equal(x_pad[:, 3:6, 3:6, :], x)
    np.random.seed(1)
    x = np.random.randn(5, 4, 4, 3)
    x_pad = C.zero_pad(x, 2)
    assert x_pad.shape == (5, 8, 8, 3)
    np.testing.assert_array_equal(x_pad[:, 2:6, 2:6, :], x)


@impl
def test_conv_single_step_course_value(C):
    # public_tests.conv_single_step_test: expected -3.5443670581382474, a numpy float64
    np.random.seed(3)
    a_slice_prev = np.random.randn(5, 5, 3)
    W = np.random.randn(5, 5, 3)
    b = np.random.randn(1, 1, 1)
    Z = C.conv_single_step(a_slice_prev, W, b)
    assert type(Z) == np.float64
    assert np.isclose(Z, -3.5443670581382474)


@impl
def test_conv_forward_course_values(C):
    # Notebook cell after conv_forward and public_tests.conv_forward_test_1
    np.random.seed(1)
    A_prev = np.random.randn(2, 5, 7, 4)
    W = np.random.randn(3, 3, 4, 8)
    b = np.random.randn(1, 1, 1, 8)
    hparameters = {"pad": 1, "stride": 2}
    Z, cache_conv = C.conv_forward(A_prev, W, b, hparameters)
    assert type(Z) == np.ndarray and Z.shape == (2, 3, 4, 8) and Z.dtype == np.float64
    assert np.isclose(np.mean(Z), 0.5511276474566768)
    np.testing.assert_allclose(Z[0, 2, 1], [-2.17796037, 8.07171329, -0.5772704, 3.36286738,
                                            4.48113645, -2.89198428, 10.99288867, 3.03171932],
                               atol=PRINTED)
    np.testing.assert_allclose(cache_conv[0][1][2][3],
                               [-1.1191154, 1.9560789, -0.3264995, -1.34267579], atol=PRINTED)
    assert cache_conv[0] is A_prev and cache_conv[1] is W and cache_conv[2] is b
    assert cache_conv[3] is hparameters


@impl
def test_conv_forward_course_shapes_and_mean(C):
    # public_tests.conv_forward_test_2 (there the function returns Z alone; here (Z, cache))
    np.random.seed(3)
    A_prev = np.random.randn(2, 5, 7, 4)
    W = np.random.randn(3, 3, 4, 8)
    b = np.random.randn(1, 1, 1, 8)
    assert C.conv_forward(A_prev, W, b, {"pad": 3, "stride": 1})[0].shape == (2, 9, 11, 8)
    assert C.conv_forward(A_prev, W, b, {"pad": 0, "stride": 2})[0].shape == (2, 2, 3, 8)
    W = np.random.randn(5, 5, 4, 8)
    b = np.random.randn(1, 1, 1, 8)
    Z3, _ = C.conv_forward(A_prev, W, b, {"pad": 6, "stride": 1})
    assert Z3.shape == (2, 13, 15, 8)
    assert np.isclose(np.mean(Z3), -0.5384027772160062)


@impl
def test_conv_backward_course_values(C):
    # Notebook cell after conv_backward: dA_mean = 1.4524377775388075,
    # dW_mean = 1.7269914583139097, db_mean = 7.839232564616838
    np.random.seed(1)
    A_prev = np.random.randn(10, 4, 4, 3)
    W = np.random.randn(2, 2, 3, 8)
    b = np.random.randn(1, 1, 1, 8)
    Z, cache_conv = C.conv_forward(A_prev, W, b, {"pad": 2, "stride": 2})
    dA, dW, db = C.conv_backward(Z, cache_conv)
    assert dA.shape == (10, 4, 4, 3) and dW.shape == (2, 2, 3, 8) and db.shape == (1, 1, 1, 8)
    assert all(type(g) == np.ndarray and g.dtype == np.float64 for g in (dA, dW, db))
    assert np.isclose(np.mean(dA), 1.4524377775388075)
    assert np.isclose(np.mean(dW), 1.7269914583139097)
    assert np.isclose(np.mean(db), 7.839232564616838)


@impl
def test_pool_forward_course_values(C):
    # Notebook cells after pool_forward (case 1: stride 1, case 2: stride 2)
    np.random.seed(1)
    A_prev = np.random.randn(2, 5, 5, 3)
    A, cache = C.pool_forward(A_prev, {"stride": 1, "f": 3}, mode="max")
    assert A.shape == (2, 3, 3, 3) and cache[0] is A_prev
    np.testing.assert_allclose(A[1, 1], [[1.96710175, 0.84616065, 1.27375593],
                                         [1.96710175, 0.84616065, 1.23616403],
                                         [1.62765075, 1.12141771, 1.2245077]], atol=PRINTED)
    A, _ = C.pool_forward(A_prev, {"stride": 1, "f": 3}, mode="average")
    np.testing.assert_allclose(A[1, 1], [[0.44497696, -0.00261695, -0.31040307],
                                         [0.50811474, -0.23493734, -0.23961183],
                                         [0.11872677, 0.17255229, -0.22112197]], atol=PRINTED)
    A, _ = C.pool_forward(A_prev, {"stride": 2, "f": 3})          # mode defaults to "max"
    assert A.shape == (2, 2, 2, 3)
    np.testing.assert_allclose(A[0], [[[1.74481176, 0.90159072, 1.65980218],
                                       [1.74481176, 1.6924546, 1.65980218]],
                                      [[1.13162939, 1.51981682, 2.18557541],
                                       [1.13162939, 1.6924546, 2.18557541]]], atol=PRINTED)
    A, _ = C.pool_forward(A_prev, {"stride": 2, "f": 3}, mode="average")
    np.testing.assert_allclose(A[1], [[[-0.17313416, 0.32377198, -0.34317572],
                                       [0.02030094, 0.14141479, -0.01231585]],
                                      [[0.42944926, 0.08446996, -0.27290905],
                                       [0.15077452, 0.28911175, 0.00123239]]], atol=PRINTED)


@impl
def test_pool_forward_public_tests(C):
    # public_tests.pool_forward_test_1
    rng = np.random.RandomState(0)
    assert C.pool_forward(rng.randn(2, 5, 7, 3), {"stride": 2, "f": 2}, "average")[0].shape \
        == (2, 2, 3, 3)
    assert C.pool_forward(rng.randn(4, 5, 7, 4), {"stride": 1, "f": 5}, "max")[0].shape \
        == (4, 1, 3, 4)
    np.random.seed(1)
    A_prev = np.random.randn(2, 5, 5, 3)
    A, _ = C.pool_forward(A_prev, {"stride": 1, "f": 2}, mode="max")
    np.testing.assert_allclose(A[1, 1], [[1.19891788, 0.74055645, 0.07734007],
                                         [0.31515939, 0.84616065, 0.07734007],
                                         [0.69803203, 0.84616065, 1.2245077],
                                         [0.69803203, 1.12141771, 1.2245077]], atol=PRINTED)
    A, _ = C.pool_forward(A_prev, {"stride": 1, "f": 2}, mode="average")
    np.testing.assert_allclose(A[1, 1], [[0.11583785, 0.34545544, -0.6561907],
                                         [-0.2334108, 0.3364666, -0.69382351],
                                         [0.25497093, -0.21741362, -0.07342615],
                                         [-0.04092568, -0.01110394, 0.12495022]], atol=PRINTED)


@impl
def test_create_mask_from_window_course_values(C):
    # Notebook cells after create_mask_from_window
    np.random.seed(1)
    x = np.random.randn(2, 3)
    mask = C.create_mask_from_window(x)
    assert type(mask) == np.ndarray and mask.dtype == bool
    np.testing.assert_array_equal(mask, [[True, False, False], [False, False, False]])
    x = np.array([[-1, 2, 3], [2, -3, 2], [1, 5, -2]])
    np.testing.assert_array_equal(C.create_mask_from_window(x),
                                  [[False, False, False], [False, False, False],
                                   [False, True, False]])


@impl
def test_distribute_value_course_values(C):
    # Notebook cells after distribute_value
    a = C.distribute_value(2, (2, 2))
    assert type(a) == np.ndarray and a.shape == (2, 2)
    np.testing.assert_array_equal(a, [[0.5, 0.5], [0.5, 0.5]])
    a = C.distribute_value(100, (10, 10))
    assert a.shape == (10, 10) and np.sum(a) == 100


@impl
def test_pool_backward_course_values(C):
    # Notebook cell after pool_backward: mean of dA = 0.145713902729 and dA_prev[1, 1]
    np.random.seed(1)
    A_prev = np.random.randn(5, 5, 3, 2)
    A, cache = C.pool_forward(A_prev, {"stride": 1, "f": 2})
    dA = np.random.randn(5, 4, 2, 2)
    assert np.isclose(np.mean(dA), 0.145713902729)
    dA_prev1 = C.pool_backward(dA, cache, mode="max")
    assert type(dA_prev1) == np.ndarray and dA_prev1.shape == (5, 5, 3, 2)
    np.testing.assert_allclose(dA_prev1[1, 1], [[0, 0], [5.05844394, -1.68282702], [0, 0]],
                               atol=PRINTED)
    dA_prev2 = C.pool_backward(dA, cache, mode="average")
    np.testing.assert_allclose(dA_prev2[1, 1], [[0.08485462, 0.2787552],
                                                [1.26461098, -0.25749373],
                                                [1.17975636, -0.53624893]], atol=PRINTED)


# ------------------------------------------------ adapters against the loops
@st.composite
def conv_cases(draw):
    f = draw(st.integers(1, 3))
    pad = draw(st.integers(0, 2))
    stride = draw(st.integers(1, 3))
    n_H = draw(st.integers(max(1, f - 2 * pad), 6))
    n_W = draw(st.integers(max(1, f - 2 * pad), 6))
    m, n_C_prev, n_C = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    return (m, n_H, n_W, n_C_prev), (f, f, n_C_prev, n_C), {"stride": stride, "pad": pad}


@given(case=conv_cases(), seed=st.integers(0, 999))
@settings(max_examples=20)
def test_conv_adapters_match_the_loops(case, seed):
    a_shape, w_shape, hparameters = case
    rng = np.random.default_rng(seed)
    A_prev, W = rng.standard_normal(a_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal((1, 1, 1, w_shape[3]))
    Z, cache = course.conv_forward(A_prev, W, b, hparameters)
    Z_ref, cache_ref = loops.conv_forward(A_prev, W, b, hparameters)
    np.testing.assert_allclose(Z, Z_ref, rtol=1e-10, atol=1e-12)
    dZ = rng.standard_normal(Z.shape)
    for ours, ref in zip(course.conv_backward(dZ, cache), loops.conv_backward(dZ, cache_ref)):
        assert ours.shape == ref.shape and ours.dtype == np.float64
        np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-12)


@given(f=st.integers(1, 3), stride=st.integers(1, 3), n_H=st.integers(3, 6),
       n_W=st.integers(3, 6), mode=st.sampled_from(["max", "average"]), seed=st.integers(0, 999))
def test_pool_adapters_match_the_loops(f, stride, n_H, n_W, mode, seed):
    rng = np.random.default_rng(seed)
    A_prev = rng.standard_normal((2, n_H, n_W, 3))
    hparameters = {"f": f, "stride": stride}
    A, cache = course.pool_forward(A_prev, hparameters, mode)
    A_ref, _ = loops.pool_forward(A_prev, hparameters, mode)
    np.testing.assert_allclose(A, A_ref, rtol=1e-12)
    dA = rng.standard_normal(A.shape)
    np.testing.assert_allclose(course.pool_backward(dA, cache, mode),
                               loops.pool_backward(dA, cache, mode), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("x", [np.array([[2.0, 1.0], [2.0, 2.0]]), np.zeros((3, 3)),
                               np.array([1.0, 4.0, 4.0]), np.full((2, 2, 2), -1.0)])
def test_mask_marks_only_the_first_of_tied_maxima(x):
    for C in IMPLEMENTATIONS.values():
        mask = C.create_mask_from_window(x)
        assert mask.shape == x.shape and mask.sum() == 1
        assert mask.reshape(-1)[np.argmax(x)]


def test_pool_backward_with_ties_matches_the_loops():
    A_prev = np.random.default_rng(0).integers(0, 2, size=(2, 5, 6, 2)).astype(float)
    for hparameters in ({"f": 2, "stride": 2}, {"f": 3, "stride": 1}):
        A, cache = course.pool_forward(A_prev, hparameters, "max")
        dA = np.random.default_rng(1).standard_normal(A.shape)
        np.testing.assert_allclose(course.pool_backward(dA, cache, "max"),
                                   loops.pool_backward(dA, cache, "max"))


def test_adapters_accept_integers_and_lists_and_return_float64():
    Z, _ = course.conv_forward(np.ones((1, 3, 3, 1), dtype=int), [[[[1]]]], [[[[0]]]],
                               {"stride": 1, "pad": 0})
    assert Z.dtype == np.float64
    np.testing.assert_array_equal(Z, np.ones((1, 3, 3, 1)))
    A, _ = course.pool_forward(np.arange(16).reshape(1, 4, 4, 1), {"f": 2, "stride": 2})
    assert A.dtype == np.float64
    np.testing.assert_array_equal(A[0, :, :, 0], [[5, 7], [13, 15]])


def test_adapters_are_thin_wrappers_of_the_ops(monkeypatch):
    # conv_forward/backward must go through functional.conv2d, pooling through max/avg_pool2d.
    from minicnn import functional as F
    calls = []
    for name in ("conv2d", "max_pool2d", "avg_pool2d"):
        real = getattr(F, name)
        monkeypatch.setattr(F, name, lambda *a, _real=real, _name=name, **k:
                            calls.append(_name) or _real(*a, **k))
    x = np.random.default_rng(0).standard_normal((1, 4, 4, 2))
    Z, cache = course.conv_forward(x, np.ones((2, 2, 2, 1)), np.zeros((1, 1, 1, 1)),
                                   {"stride": 1, "pad": 0})
    course.conv_backward(Z, cache)
    A, pcache = course.pool_forward(x, {"f": 2, "stride": 2}, "average")
    course.pool_backward(A, pcache, "max")
    assert calls == ["conv2d", "conv2d", "avg_pool2d", "max_pool2d"]


@pytest.mark.parametrize("call, words", [
    (lambda: course.pool_forward(np.ones((1, 4, 4, 1)), {"f": 2, "stride": 2}, "min"),
     ["pool_forward", "'min'"]),
    (lambda: course.pool_backward(np.ones((1, 2, 2, 1)), (np.ones((1, 4, 4, 1)),
                                                          {"f": 2, "stride": 2}), "mean"),
     ["pool_backward", "'mean'"]),
    (lambda: course.pool_forward(np.ones((1, 4, 4, 1)), {"f": 2}), ["'stride'"]),
    (lambda: course.conv_forward(np.ones((1, 4, 4, 2)), np.ones((2, 2, 3, 1)),
                                 np.zeros((1, 1, 1, 1)), {"stride": 1, "pad": 0}),
     ["n_C_prev", "(1, 4, 4, 2)"]),
    (lambda: course.conv_forward(np.ones((1, 4, 4, 2)), np.ones((2, 2, 2, 3)),
                                 np.zeros((1, 1, 1, 2)), {"stride": 1, "pad": 0}),
     ["b", "(1, 1, 1, 3)"]),
    (lambda: course.conv_forward(np.ones((4, 4, 2)), np.ones((2, 2, 2, 3)),
                                 np.zeros((1, 1, 1, 3)), {"stride": 1, "pad": 0}),
     ["A_prev", "4 axes"]),
    (lambda: course.conv_backward(np.ones((1, 2, 2, 1)), (np.ones((1, 4, 4, 1)),
                                                          np.ones((2, 2, 1, 1)),
                                                          np.zeros((1, 1, 1, 1)),
                                                          {"stride": 1, "pad": 0})),
     ["dZ", "(1, 3, 3, 1)"]),
    (lambda: course.conv_single_step(np.ones((2, 2, 3)), np.ones((3, 3, 3)), np.zeros((1, 1, 1))),
     ["same shape"]),
    (lambda: course.conv_backward(np.ones((1, 2, 2, 1)), (1, 2)), ["cache"])])
def test_bad_input_gets_a_clear_error(call, words):
    with pytest.raises(ValueError) as info:
        call()
    for w in words:
        assert w in str(info.value), (w, str(info.value))
