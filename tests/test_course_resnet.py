"""The course's ResNet API: identity_block, convolutional_block, ResNet50, checked against
the assignment's published values and against a plain-NumPy forward pass."""
from __future__ import annotations

import numpy as np
import pytest

import minicnn
from minicnn import nn
from minicnn.course import ResNet50, convolutional_block, identity_block
from minicnn.models import count_parameters

from conftest import rand


def _assignment_input():
    return np.concatenate([np.full((1, 4, 4, 3), v) for v in (-1, 1, 3)]).astype(np.float32)


def ones(shape):
    return np.ones(shape)


def test_identity_block_matches_the_assignment_inference():
    """The assignment's public test, training=False, constant-1 kernels: its expected
    ``A[:, (0, -1)].mean(axis=3)``."""
    A = identity_block(_assignment_input(), f=2, filters=[4, 4, 3], training=False,
                       initializer=ones)
    assert isinstance(A, np.ndarray) and A.shape == (3, 4, 4, 3) and A.dtype == np.float32
    resume = A[:, (0, -1)].mean(axis=3)
    expected = [[[0, 0, 0, 0], [0, 0, 0, 0]],
                [[192.71236, 192.71236, 192.71236, 96.85619],
                 [96.85619, 96.85619, 96.85619, 48.9281]],
                [[578.1371, 578.1371, 578.1371, 290.56854],
                 [290.56854, 290.56854, 290.56854, 146.78427]]]
    np.testing.assert_allclose(resume, expected, rtol=1e-6, atol=1e-4)
    # the assignment's hints: the "same" padding of f = 2 is at the bottom/right ...
    assert np.floor(resume[1, 0, 0]) == 2 * np.floor(resume[1, 0, 3])
    # ... and BatchNorm divides by √(1 + 1e-3) (no integer results)
    assert resume[1, 1, 0] - np.floor(resume[1, 1, 0]) > 0.7


def test_identity_block_matches_the_assignment_training():
    A = identity_block(_assignment_input(), f=3, filters=[3, 3, 3], training=True,
                       initializer=ones)
    resume = A[:, (0, -1)].mean(axis=3)
    expected = [[[0, 0, 0, 0], [0, 0, 0, 0]],
                [[0.37394285] * 4, [0.37394285] * 4],
                [[3.2379014, 4.1394243, 4.1394243, 3.2379014],
                 [3.2379014, 4.1394243, 4.1394243, 3.2379014]]]
    np.testing.assert_allclose(resume, expected, atol=1e-5)


# ------------------------------------------------------------------ NumPy reference
def _conv(a, W, b, s, pad):
    """The course's conv_forward with explicit loops over the output."""
    (pt, pb), (pl, pr) = pad
    a = np.pad(a, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    f, n_C = W.shape[0], W.shape[3]
    m, n_H_prev, n_W_prev, _ = a.shape
    n_H, n_W = (n_H_prev - f) // s + 1, (n_W_prev - f) // s + 1
    Z = np.zeros((m, n_H, n_W, n_C))
    for h in range(n_H):
        for w in range(n_W):
            window = a[:, h * s:h * s + f, w * s:w * s + f, :]
            Z[:, h, w, :] = np.tensordot(window, W, axes=([1, 2, 3], [0, 1, 2])) + b
    return Z


def _same(f):
    return ((f - 1) // 2, f - 1 - (f - 1) // 2)


def _bn(Z, training, eps=1e-3):
    if training:
        return (Z - Z.mean(axis=(0, 1, 2))) / np.sqrt(Z.var(axis=(0, 1, 2)) + eps)
    return Z / np.sqrt(1 + eps)


def _reference_block(X, f, filters, kernels, s, training, shortcut):
    F1, F2, F3 = filters
    relu = lambda z: np.maximum(z, 0)                      # noqa: E731
    A = relu(_bn(_conv(X, kernels[0], 0, s, ((0, 0), (0, 0))), training))
    A = relu(_bn(_conv(A, kernels[1], 0, 1, (_same(f), _same(f))), training))
    A = _bn(_conv(A, kernels[2], 0, 1, ((0, 0), (0, 0))), training)
    if shortcut:
        X = _bn(_conv(X, kernels[3], 0, s, ((0, 0), (0, 0))), training)
    return relu(A + X)


def _recording_initializer(seed):
    """Random kernels that are also kept, so the reference can use the same ones."""
    rng, kept = np.random.default_rng(seed), []

    def init(shape):
        kept.append(rng.uniform(-0.5, 0.5, shape))
        return kept[-1]
    return init, kept


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("f,s,n", [(2, 2, 5), (3, 1, 4), (3, 2, 6), (2, 4, 4)])
def test_convolutional_block_matches_numpy(f, s, n, training):
    X = rand(3, n, n, 3).astype(np.float32)
    init, kernels = _recording_initializer(seed=f + s)
    A = convolutional_block(X, f, [2, 4, 6], s=s, training=training, initializer=init)
    assert len(kernels) == 4 and [k.shape for k in kernels] == [
        (1, 1, 3, 2), (f, f, 2, 4), (1, 1, 4, 6), (1, 1, 3, 6)]
    ref = _reference_block(X.astype(np.float64), f, [2, 4, 6], kernels, s, training, True)
    assert A.shape == ref.shape == (3, -(-n // s), -(-n // s), 6)
    np.testing.assert_allclose(A, ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("training", [True, False])
def test_identity_block_matches_numpy_with_random_kernels(training):
    X = rand(2, 5, 5, 4).astype(np.float32)
    init, kernels = _recording_initializer(seed=3)
    A = identity_block(X, 3, [2, 3, 4], training=training, initializer=init)
    ref = _reference_block(X.astype(np.float64), 3, [2, 3, 4], kernels, 1, training, False)
    np.testing.assert_allclose(A, ref, rtol=1e-4, atol=1e-4)


def test_default_initializer_is_seeded_glorot_uniform():
    X = rand(2, 4, 4, 3).astype(np.float32)
    minicnn.manual_seed(7)
    a = convolutional_block(X, 3, [2, 2, 4])
    minicnn.manual_seed(7)
    b = convolutional_block(X, 3, [2, 2, 4])
    np.testing.assert_array_equal(a, b)
    assert a.shape == (2, 2, 2, 4) and np.all(a >= 0)
    # The default is Glorot uniform drawn from the seeded generator: the same block with
    # nn.init.glorot_uniform passed explicitly gives the same output, bit for bit, and
    # every kernel it draws lies within ±√(6 / (fan_in + fan_out)).
    shapes = []

    def glorot(shape):
        shapes.append(shape)
        W = nn.init.glorot_uniform(shape)
        f, _, n_C_prev, n_C = shape
        assert np.abs(W).max() <= np.sqrt(6 / (f * f * n_C_prev + f * f * n_C))
        return W
    minicnn.manual_seed(7)
    np.testing.assert_array_equal(convolutional_block(X, 3, [2, 2, 4], initializer=glorot), a)
    assert shapes == [(1, 1, 3, 2), (3, 3, 2, 2), (1, 1, 2, 4), (1, 1, 3, 4)]


def test_bad_arguments_are_named():
    X = rand(2, 4, 4, 3).astype(np.float32)
    with pytest.raises(ValueError, match="filters\\[2\\] = 4 must equal"):
        identity_block(X, 3, [2, 2, 4])
    with pytest.raises(ValueError, match="X must be"):
        identity_block(X[0], 3, [2, 2, 3])
    with pytest.raises(ValueError, match="filters must be"):
        convolutional_block(X, 3, [2, 2])
    with pytest.raises(TypeError, match="initializer"):
        convolutional_block(X, 3, [2, 2, 4], initializer="ones")


def test_resnet50_structure_and_output():
    model = ResNet50(input_shape=(64, 64, 3), classes=6)
    assert count_parameters(model, buffers=True) == 23_600_006
    stages = [model.stage2, model.stage3, model.stage4, model.stage5]
    assert [len(s) for s in stages] == [3, 4, 6, 3]
    assert [type(s[0]).__name__ for s in stages] == ["ConvolutionalBlock"] * 4
    assert [s[0].stride for s in stages] == [1, 2, 2, 2]
    model.eval()
    with minicnn.no_grad():
        p = model(minicnn.Tensor(rand(2, 64, 64, 3).astype(np.float32))).numpy()
    assert p.shape == (2, 6)
    np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-5)


def test_resnet50_intermediate_shapes_follow_the_assignment():
    model = ResNet50()
    model.eval()
    a = minicnn.Tensor(rand(1, 64, 64, 3).astype(np.float32))
    shapes = []
    with minicnn.no_grad():
        a = model.max_pool(minicnn.functional.relu(model.bn_conv1(model.conv1(
            model.zero_pad(a)))))
        shapes.append(a.shape)
        for k in range(2, 6):
            a = getattr(model, f"stage{k}")(a)
            shapes.append(a.shape)
        shapes.append(model.avg_pool(a).shape)
    assert shapes == [(1, 15, 15, 64), (1, 15, 15, 256), (1, 8, 8, 512), (1, 4, 4, 1024),
                      (1, 2, 2, 2048), (1, 1, 1, 2048)]
