"""The course API for neural style transfer against the assignment's own expected values.

The assignment's checks draw their activations with ``tf.random.set_seed(1)`` and
``tf.random.normal(shape, mean=1, stddev=4)`` and compare with printed numbers
(J_content = 7.0568767, GA[0] = [63.193256, -26.729713, -7.732155],
J_style_layer = 14.01649). To use those numbers here without TensorFlow, the helpers
below reproduce TensorFlow's random stream exactly:

- after ``tf.random.set_seed(g)``, eager op number k gets the op seed
  ``random.Random(g)``'s k-th ``randint(0, 2**31 - 1)``;
- ``RandomStandardNormal`` runs Philox-4x32-10 with key = global seed and counter words
  2-3 = op seed, turns each pair of 32-bit outputs into two normals by Box-Muller
  (``u1 = max(float(x0), 1e-7)``, ``v = 2π·float(x1)``, normals ``√(−2 ln u1)·(sin v, cos v)``,
  ``float(x)`` = 23 mantissa bits of x as a float in [0, 1)), then ``mean + stddev·z``.

This reproduces J_content to all printed digits. The Gram and layer-style values were
printed from a run whose matmuls used TF32 (the default on Ampere GPUs: inputs rounded
to 10 mantissa bits); rounding the inputs so reproduces them to all printed digits,
and plain float32 agrees with them to 5e-4 relative.
"""
from __future__ import annotations

import random

import numpy as np
import pytest

from minicnn import Tensor
from minicnn.course import style as course

MAX_INT32 = 2 ** 31 - 1


def _philox4x32_10(counter, key):
    """One Philox-4x32 block (10 rounds): four 32-bit outputs."""
    c, k = list(counter), list(key)
    for _ in range(10):
        p0, p1 = 0xD2511F53 * c[0], 0xCD9E8D57 * c[2]
        c = [(p1 >> 32) ^ c[1] ^ k[0], p1 & 0xFFFFFFFF, (p0 >> 32) ^ c[3] ^ k[1], p0 & 0xFFFFFFFF]
        k = [(k[0] + 0x9E3779B9) & 0xFFFFFFFF, (k[1] + 0xBB67AE85) & 0xFFFFFFFF]
    return c


def _uint32_to_float(x):
    return np.uint32((127 << 23) | (x & 0x7FFFFF)).view(np.float32) - np.float32(1.0)


class _TFSeed:
    """``tf.random.set_seed(seed)`` followed by eager ``tf.random.normal`` calls."""

    def __init__(self, seed):
        self.seed = seed
        self.op_seeds = random.Random(seed)

    def normal(self, shape, mean=0.0, stddev=1.0):
        op_seed = self.op_seeds.randint(0, MAX_INT32) % MAX_INT32
        key = [self.seed % MAX_INT32, 0]
        n, z, block = int(np.prod(shape)), [], 0
        while len(z) < n:
            x = _philox4x32_10([block, 0, op_seed, 0], key)
            block += 1
            for x0, x1 in ((x[0], x[1]), (x[2], x[3])):
                u1 = max(_uint32_to_float(x0), np.float32(1e-7))
                v = np.float32(2 * np.pi) * _uint32_to_float(x1)
                r = np.sqrt(np.float32(-2.0) * np.log(u1))
                z += [np.sin(v) * r, np.cos(v) * r]
        z = np.array(z[:n], np.float32).reshape(shape)
        return z * np.float32(stddev) + np.float32(mean)


def _tf32(x):
    """Round float32 to TF32 (10 mantissa bits, round to nearest)."""
    bits = np.asarray(x, np.float32).view(np.uint32).astype(np.uint64)
    return ((bits + 0x1000) & ~np.uint64(0x1FFF)).astype(np.uint32).view(np.float32)


# ------------------------------------------------------- the assignment's numbers
def test_compute_content_cost_matches_the_assignment():
    tf = _TFSeed(1)
    a_C = tf.normal([1, 1, 4, 4, 3], mean=1, stddev=4)     # the assignment's 5-D shape
    a_G = tf.normal([1, 1, 4, 4, 3], mean=1, stddev=4)
    assert course.compute_content_cost(a_C, a_C) == 0.0
    J = course.compute_content_cost(a_C, a_G)
    assert isinstance(J, float)
    assert J == pytest.approx(7.0568767, rel=1e-6)
    assert J == pytest.approx(((a_C - a_G) ** 2).sum() / (4 * 4 * 4 * 3), rel=1e-6)


def test_gram_matrix_matches_the_assignment():
    A = _TFSeed(1).normal([3, 2 * 1], mean=1, stddev=4)
    GA = course.gram_matrix(A)
    assert isinstance(GA, np.ndarray) and GA.shape == (3, 3)
    np.testing.assert_allclose(GA, A @ A.T, rtol=1e-6)
    np.testing.assert_allclose(GA[0], [63.193256, -26.729713, -7.732155], rtol=5e-4)
    np.testing.assert_allclose(course.gram_matrix(_tf32(A))[0],
                               [63.193256, -26.729713, -7.732155], rtol=1e-6)


def test_compute_layer_style_cost_matches_the_assignment():
    tf = _TFSeed(1)
    a_S = tf.normal([1, 4, 4, 3], mean=1, stddev=4)
    a_G = tf.normal([1, 4, 4, 3], mean=1, stddev=4)
    assert course.compute_layer_style_cost(a_G, a_G) == pytest.approx(0.0, abs=1e-6)
    J = course.compute_layer_style_cost(a_S, a_G)
    assert isinstance(J, float) and J > 0
    assert J == pytest.approx(14.01649, rel=2e-4)
    assert course.compute_layer_style_cost(_tf32(a_S), _tf32(a_G)) == \
        pytest.approx(14.01649, rel=1e-6)


def test_total_cost_matches_the_assignment():
    assert course.total_cost(0.2, 0.8) == pytest.approx(34)
    assert course.total_cost(0.3, 0.5, 3, 8) == pytest.approx(4.9)
    assert isinstance(course.total_cost(Tensor(0.2), Tensor(0.8)), float)


# ----------------------------------------------------------- plain NumPy formulas
def _np_layer_style(a_S, a_G):
    _, n_H, n_W, n_C = a_G.shape
    A_S = a_S.reshape(n_H * n_W, n_C).T
    A_G = a_G.reshape(n_H * n_W, n_C).T
    return ((A_S @ A_S.T - A_G @ A_G.T) ** 2).sum() / (2 * n_H * n_W * n_C) ** 2


def test_compute_style_cost_is_the_weighted_sum_over_layers():
    rng = np.random.default_rng(0)
    shapes = [(1, 8, 8, 3), (1, 4, 4, 5), (1, 2, 2, 7)]
    outs_S = [rng.standard_normal(s) for s in shapes]
    outs_G = [rng.standard_normal(s) for s in shapes]
    layers = [("block1_conv1", 0.5), ("block2_conv1", 0.3), ("block3_conv1", 0.2)]
    expected = sum(w * _np_layer_style(s, g) for (_, w), s, g in zip(layers, outs_S, outs_G))
    assert course.compute_style_cost(outs_S, outs_G, layers) == pytest.approx(expected, rel=1e-10)
    # The assignment's model outputs the content layer last; it is left out.
    content = rng.standard_normal((1, 2, 2, 7))
    assert course.compute_style_cost(outs_S + [content], outs_G + [content + 1], layers) == \
        pytest.approx(expected, rel=1e-10)
    with pytest.raises(ValueError, match="expected 3"):
        course.compute_style_cost(outs_S[:2], outs_G[:2], layers)


def test_course_functions_on_hand_computed_values():
    a_C = np.arange(1.0, 5.0).reshape(1, 2, 2, 1)           # Σ a_C² = 30
    assert course.compute_content_cost(a_C, np.zeros_like(a_C)) == pytest.approx(30 / 16)
    A = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    np.testing.assert_array_equal(course.gram_matrix(A), [[14, 32], [32, 77]])
    a_S = np.array([1.0, 2.0]).reshape(1, 1, 2, 1)          # G_S = 5
    a_G = np.array([0.0, 1.0]).reshape(1, 1, 2, 1)          # G_G = 1
    assert course.compute_layer_style_cost(a_S, a_G) == pytest.approx(16 / 16)
