"""Style-transfer costs: hand-computed values, NumPy references, gradient checks, devices."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minicnn.functional as F
from minicnn import Tensor, gradcheck
from conftest import rand


# ------------------------------------------------------------ NumPy references
def np_unroll(a):
    """(n_H, n_W, n_C) → (n_C, n_H·n_W) by explicit loops: row c = channel c, positions
    in row-major order."""
    n_H, n_W, n_C = a.shape
    A = np.empty((n_C, n_H * n_W), a.dtype)
    for c in range(n_C):
        for h in range(n_H):
            for w in range(n_W):
                A[c, h * n_W + w] = a[h, w, c]
    return A


def np_content(a_C, a_G):
    n_H, n_W, n_C = a_G.shape[-3:]
    return ((a_C - a_G) ** 2).sum() / (4 * n_H * n_W * n_C)


def np_layer_style(a_S, a_G):
    """The course's formula for equal sizes; for different sizes each Gram / its n_H·n_W."""
    a_S, a_G = a_S.reshape(a_S.shape[-3:]), a_G.reshape(a_G.shape[-3:])
    A_S, A_G = np_unroll(a_S), np_unroll(a_G)
    M_S, M_G, n_C = A_S.shape[1], A_G.shape[1], a_G.shape[-1]
    if M_S == M_G:
        return ((A_S @ A_S.T - A_G @ A_G.T) ** 2).sum() / (2 * M_G * n_C) ** 2
    return ((A_S @ A_S.T / M_S - A_G @ A_G.T / M_G) ** 2).sum() / (4 * n_C ** 2)


def np_tv(G, p):
    d_h, d_w = np.diff(G, axis=-3), np.diff(G, axis=-2)
    return (np.abs(d_h) ** p).sum() + (np.abs(d_w) ** p).sum()


def T(x, grad=True):
    return Tensor(np.asarray(x, np.float64), requires_grad=grad)


# ------------------------------------------------------------ hand-computed cases
def test_content_cost_hand_computed():
    a_C = np.arange(1.0, 5.0).reshape(1, 2, 2, 1)          # Σ (a_C − 0)² = 1+4+9+16 = 30
    a_G = np.zeros_like(a_C)
    assert F.content_cost(a_C, a_G).item() == pytest.approx(30 / (4 * 2 * 2 * 1))
    assert F.content_cost(a_C, a_G, norm="lecture").item() == pytest.approx(15.0)
    with pytest.raises(ValueError, match="norm"):
        F.content_cost(a_C, a_G, norm="mean")
    with pytest.raises(ValueError, match=r"a_C has shape \(1, 2, 2, 1\) but a_G"):
        F.content_cost(a_C, np.zeros((1, 2, 3, 1)))


def test_gram_matrix_hand_computed():
    A = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])        # rows: channels
    np.testing.assert_array_equal(F.gram_matrix(A).numpy(), [[14, 32], [32, 77]])


def test_layer_style_cost_hand_computed():
    # One channel, two positions: G_S = 1² + 2² = 5, G_G = 0² + 1² = 1,
    # J = (5 − 1)² / (2·1·2·1)² = 16 / 16.
    a_S = np.array([1.0, 2.0]).reshape(1, 1, 2, 1)
    a_G = np.array([0.0, 1.0]).reshape(1, 1, 2, 1)
    assert F.layer_style_cost(a_S, a_G).item() == pytest.approx(1.0)
    # Two channels at one position: G = a aᵀ. a_S = (1, 2), a_G = (1, 0):
    # G_S − G_G = [[0, 2], [2, 4]], Σ² = 24, J = 24 / (2·1·1·2)² = 1.5.
    a_S = np.array([1.0, 2.0]).reshape(1, 1, 1, 2)
    a_G = np.array([1.0, 0.0]).reshape(1, 1, 1, 2)
    assert F.layer_style_cost(a_S, a_G).item() == pytest.approx(1.5)
    # A style image twice the size with the same texture has the same style: 0 cost.
    a_G = rand(1, 3, 4, 2)
    a_S = np.concatenate([a_G, a_G], axis=1)
    assert F.layer_style_cost(a_S, a_G).item() == pytest.approx(0.0, abs=1e-12)


def test_total_variation_hand_computed():
    G = np.array([[0.0, 1.0], [3.0, 5.0]]).reshape(1, 2, 2, 1)
    # vertical differences 3, 4; horizontal 1, 2
    assert F.total_variation(G).item() == pytest.approx(10.0)
    assert F.total_variation(G, p=2).item() == pytest.approx(9 + 16 + 1 + 4)
    with pytest.raises(ValueError, match="p=3"):
        F.total_variation(G, p=3)


def test_total_cost_values_and_gradient():
    assert F.total_cost(0.2, 0.8) == pytest.approx(34)
    assert F.total_cost(0.3, 0.5, alpha=3, beta=8) == pytest.approx(4.9)
    J_c, J_s = T(0.2), T(0.8)
    J = F.total_cost(J_c, J_s)
    J.backward()
    assert J.item() == pytest.approx(34) and J_c.grad == 10 and J_s.grad == 40


# ------------------------------------------------------------ unrolling order
def test_unroll_order_matches_explicit_loops_and_direct_reshape_does_not():
    n_H, n_W, n_C = 3, 4, 5
    # a[h, w, c] = 100·c + 10·h + w makes every value say where it came from.
    h, w, c = np.meshgrid(np.arange(n_H), np.arange(n_W), np.arange(n_C), indexing="ij")
    a = (100 * c + 10 * h + w).astype(np.float64)
    A = F.unroll(a[None]).numpy()[0]
    np.testing.assert_array_equal(A, np_unroll(a))
    assert set(A[2] // 100) == {2}                          # row 2 is channel 2 only
    wrong = a.reshape(n_C, n_H * n_W)                       # the tempting one-liner
    assert not np.array_equal(wrong, A)
    assert len(set(wrong[0] // 100)) > 1                    # its "channel 0" mixes channels
    # The Gram of the unrolled activation is Σ over positions of the channel outer products.
    G = F.gram_matrix(F.unroll(a)).numpy()
    G_loops = sum(np.outer(a[i, j], a[i, j]) for i in range(n_H) for j in range(n_W))
    np.testing.assert_allclose(G, G_loops)
    assert not np.allclose(wrong @ wrong.T, G_loops)


# ------------------------------------------------------------ several layers
def test_style_cost_over_several_layers_lists_dicts_and_pairs():
    shapes_S = [(1, 8, 8, 2), (1, 4, 4, 3), (1, 2, 3, 4)]
    shapes_G = [(1, 6, 6, 2), (1, 4, 4, 3), (1, 2, 3, 4)]   # first layer: different size
    outs_S = [rand(*s, seed=i) for i, s in enumerate(shapes_S)]
    outs_G = [rand(*s, seed=10 + i) for i, s in enumerate(shapes_G)]
    lambdas = [0.5, 0.3, 0.2]
    expected = sum(lam * np_layer_style(s, g) for lam, s, g in zip(lambdas, outs_S, outs_G))
    assert F.style_cost(outs_S, outs_G, lambdas).item() == pytest.approx(expected, rel=1e-12)
    names = ["conv1_1", "conv2_1", "conv3_1"]
    pairs = list(zip(names, lambdas))
    assert F.style_cost(outs_S, outs_G, pairs).item() == pytest.approx(expected, rel=1e-12)
    dict_S, dict_G = dict(zip(names, outs_S)), dict(zip(names, outs_G))
    assert F.style_cost(dict_S, dict_G, dict(pairs)).item() == pytest.approx(expected, rel=1e-12)
    # only the named layers count
    one = F.style_cost(dict_S, dict_G, {"conv2_1": 1.0}).item()
    assert one == pytest.approx(np_layer_style(outs_S[1], outs_G[1]), rel=1e-12)
    with pytest.raises(ValueError, match="3 outputs but 2 layer weights"):
        F.style_cost(outs_S, outs_G, [0.5, 0.5])
    with pytest.raises(KeyError, match="conv9_9"):
        F.style_cost(dict_S, dict_G, {"conv9_9": 1.0})
    with pytest.raises(ValueError, match="same layer"):
        F.layer_style_cost(outs_S[0], outs_G[1])


def test_layer_style_cost_with_a_precomputed_gram():
    a_S, a_G = rand(1, 4, 5, 3, seed=1), rand(1, 4, 5, 3, seed=2)
    G_S = F.style_gram(a_S)
    np.testing.assert_allclose(G_S.numpy()[0], np_unroll(a_S[0]) @ np_unroll(a_S[0]).T / 20)
    assert F.layer_style_cost(None, a_G, gram_S=G_S).item() == \
        pytest.approx(F.layer_style_cost(a_S, a_G).item(), rel=1e-12)


# ------------------------------------------------------------ forward + gradcheck
shape3 = st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4))


@given(shape=shape3, batch=st.booleans(), seed=st.integers(0, 100))
def test_content_cost_forward_and_gradcheck(shape, batch, seed):
    shape = ((1,) + shape) if batch else shape
    a_C, a_G = rand(*shape, seed=seed), rand(*shape, seed=seed + 1)
    assert F.content_cost(a_C, a_G).item() == pytest.approx(np_content(a_C, a_G), rel=1e-12)
    assert F.content_cost(a_C, a_G, "lecture").item() == \
        pytest.approx(0.5 * ((a_C - a_G) ** 2).sum(), rel=1e-12)
    gradcheck(F.content_cost, T(a_C), T(a_G))


@given(n_C=st.integers(1, 5), n_L=st.integers(1, 6), seed=st.integers(0, 100))
def test_gram_matrix_forward_and_gradcheck(n_C, n_L, seed):
    A = rand(n_C, n_L, seed=seed)
    np.testing.assert_allclose(F.gram_matrix(A).numpy(), A @ A.T)
    gradcheck(F.gram_matrix, T(A))
    gradcheck(F.gram_matrix, T(rand(2, n_C, n_L, seed=seed)))           # batched


@given(shape_S=shape3, hw_G=st.tuples(st.integers(1, 4), st.integers(1, 4)),
       same=st.booleans(), seed=st.integers(0, 100))
def test_layer_style_cost_forward_and_gradcheck(shape_S, hw_G, same, seed):
    shape_G = shape_S if same else hw_G + shape_S[-1:]
    a_S, a_G = rand(1, *shape_S, seed=seed), rand(1, *shape_G, seed=seed + 1)
    assert F.layer_style_cost(a_S, a_G).item() == \
        pytest.approx(np_layer_style(a_S, a_G), rel=1e-10, abs=1e-14)
    gradcheck(F.layer_style_cost, T(a_S), T(a_G))
    gradcheck(lambda g, a: F.layer_style_cost(None, a, gram_S=g), T(F.style_gram(a_S).numpy()),
              T(a_G))


def test_style_cost_gradcheck_several_layers():
    outs_S = [T(rand(1, 4, 4, 2, seed=1)), T(rand(1, 2, 2, 3, seed=2))]
    outs_G = [T(rand(1, 3, 4, 2, seed=3)), T(rand(1, 2, 2, 3, seed=4))]
    gradcheck(lambda s1, s2, g1, g2: F.style_cost([s1, s2], [g1, g2], [0.7, 0.3]),
              *outs_S, *outs_G)


@given(shape=shape3, batch=st.booleans(), p=st.sampled_from([1, 2]), seed=st.integers(0, 100))
def test_total_variation_forward_and_gradcheck(shape, batch, p, seed):
    shape = ((2,) + shape) if batch else shape
    G = rand(*shape, seed=seed)
    assert F.total_variation(G, p).item() == pytest.approx(np_tv(G, p), rel=1e-12, abs=1e-14)
    gradcheck(lambda g: F.total_variation(g, p), T(G))


# ------------------------------------------------------------ dtypes and devices
def test_costs_keep_float32_and_run_on_every_device(device):
    a_C = rand(1, 5, 6, 4, seed=1, dtype=np.float32)
    a_S = rand(1, 7, 3, 4, seed=2, dtype=np.float32)
    a_G = rand(1, 5, 6, 4, seed=3, dtype=np.float32)
    results = {}
    for dev in ("cpu", device):
        g = Tensor(a_G, requires_grad=True, device=dev)
        J = F.total_cost(F.content_cost(Tensor(a_C, device=dev), g),
                         F.layer_style_cost(Tensor(a_S, device=dev), g)) \
            + 1e-3 * F.total_variation(g) + 1e-3 * F.total_variation(g, p=2)
        J.backward()
        assert J.dtype == np.float32 and g.grad.dtype == np.float32
        assert J.device == g.device == dev
        results[dev] = (J.item(), g.numpy(), Tensor(g.grad).numpy())
    np.testing.assert_allclose(results[device][0], results["cpu"][0], rtol=1e-6)
    np.testing.assert_allclose(results[device][2], results["cpu"][2], rtol=1e-5, atol=1e-7)


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match=r"a_G: expected an activation .* got shape \(3, 4\)"):
        F.layer_style_cost(rand(1, 2, 2, 4), rand(3, 4))
    with pytest.raises(ValueError, match="give a_S"):
        F.layer_style_cost(None, rand(1, 2, 2, 4))
    with pytest.raises(ValueError, match="gram_matrix"):
        F.gram_matrix(rand(3))
