"""Transforms and augmentation on NHWC images and batches."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minicnn
from minicnn.data import transforms as T

from conftest import rand

images = st.tuples(st.integers(1, 4), st.integers(2, 7), st.integers(2, 7), st.integers(1, 3))


def _batch(shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).random(shape).astype(dtype)


RANDOM = {
    "flip": lambda rng: T.RandomHorizontalFlip(0.5, rng=rng),
    "crop": lambda rng: T.RandomCrop(padding=2, rng=rng),
    "shift": lambda rng: T.ColorShift(0.2, rng=rng),
    "rotation": lambda rng: T.RandomRotation(15, rng=rng),
    "erasing": lambda rng: T.RandomErasing(0.9, value="random", rng=rng),
    "pca": lambda rng: T.PCAColorAugmentation(rng=rng).fit(_batch((4, 3, 3, 3), seed=1)),
}


@pytest.mark.parametrize("name", sorted(RANDOM))
@given(shape=images)
def test_shapes_dtypes_and_single_images(name, shape):
    if name == "pca":
        shape = shape[:3] + (3,)
    x = _batch(shape)
    make = RANDOM[name]
    out = make(0)(x)
    assert out.shape == x.shape and out.dtype == np.float32
    np.testing.assert_array_equal(make(0)(x), out)             # seeded: reproducible
    one = make(0)(x[0])                                          # an image is a batch of one
    assert one.shape == x[0].shape
    np.testing.assert_array_equal(one, make(0)(x[:1])[0])


@pytest.mark.parametrize("name", sorted(RANDOM))
def test_host_generator_when_no_rng(name):
    x = _batch((8, 5, 5, 3))
    minicnn.manual_seed(3)
    a = RANDOM[name](None)(x)
    minicnn.manual_seed(3)
    np.testing.assert_array_equal(RANDOM[name](None)(x), a)
    assert not np.array_equal(RANDOM[name](None)(x), a)


def test_bad_shapes_are_reported():
    with pytest.raises(ValueError, match=r"got shape \(3, 3\)"):
        T.RandomHorizontalFlip()(np.zeros((3, 3)))


def test_to_float_and_normalize():
    x = np.array([[[[0, 255], [51, 102]]]], dtype=np.uint8)        # (1, 1, 2, 2)
    f = T.ToFloat()(x)
    assert f.dtype == np.float32
    np.testing.assert_allclose(f[0, 0], [[0, 1], [0.2, 0.4]], rtol=1e-6)
    norm = T.Normalize(mean=[0.1, 0.5], std=[2.0, 0.5])
    np.testing.assert_allclose(norm(f)[0, 0], [[-0.05, 1.0], [0.05, -0.2]], rtol=1e-6, atol=1e-7)
    X = rand(10, 4, 4, 3, seed=2).astype(np.float32) * 3 + 1
    fitted = T.Normalize.fit(X)
    Z = fitted(X)
    np.testing.assert_allclose(Z.mean(axis=(0, 1, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(Z.std(axis=(0, 1, 2)), 1, rtol=1e-4)
    assert Z.dtype == np.float32
    with pytest.raises(ValueError, match="do not match n_C = 3"):
        T.Normalize([0, 0], [1, 1])(X)
    with pytest.raises(ValueError, match="std must be > 0"):
        T.Normalize(0, 0)


def test_horizontal_flip():
    x = np.arange(2 * 2 * 3 * 1, dtype=np.uint8).reshape(2, 2, 3, 1)
    np.testing.assert_array_equal(T.RandomHorizontalFlip(1.0)(x), x[:, :, ::-1])
    np.testing.assert_array_equal(T.RandomHorizontalFlip(0.0)(x), x)
    assert T.RandomHorizontalFlip(1.0)(x).dtype == np.uint8
    x = _batch((200, 2, 3, 1))
    out = T.RandomHorizontalFlip(0.5, rng=0)(x)
    flipped = np.array([np.array_equal(o, xi[:, ::-1]) for o, xi in zip(out, x)])
    kept = np.array([np.array_equal(o, xi) for o, xi in zip(out, x)])
    assert np.all(flipped ^ kept) and 70 < flipped.sum() < 130


def test_random_crop_cuts_windows_of_the_padded_images():
    x = _batch((30, 5, 6, 2))
    out = T.RandomCrop(size=(4, 3), padding=2, fill=-1, rng=1)(x)
    assert out.shape == (30, 4, 3, 2)
    padded = np.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0)), constant_values=-1)
    offsets = set()
    for o, p in zip(out, padded):
        where = [(t, l) for t in range(9 - 4 + 1) for l in range(10 - 3 + 1)
                 if np.array_equal(p[t:t + 4, l:l + 3], o)]
        assert where, "output is not a window of the padded image"
        offsets.add(where[0])
    assert len(offsets) > 10
    np.testing.assert_array_equal(T.RandomCrop()(x), x)            # no padding, same size
    edge = T.RandomCrop(padding=1, padding_mode="edge", rng=0)(x)
    assert edge.shape == x.shape and set(np.unique(edge)) <= set(np.unique(x))
    with pytest.raises(ValueError, match="larger than the padded image"):
        T.RandomCrop(size=8)(x)


def test_random_erasing_blanks_one_rectangle_of_the_asked_size():
    x = np.ones((200, 20, 30, 2), np.float32)
    out = T.RandomErasing(0.5, scale=(0.05, 0.2), ratio=(0.5, 2.0), value=0.0, rng=0)(x)
    assert np.array_equal(x, np.ones_like(x))                    # the input is left alone
    erased = out == 0
    hit = erased.any(axis=(1, 2, 3))
    assert 0.35 < hit.mean() < 0.65                              # p = 0.5
    for e in erased[hit]:
        rows, cols = np.nonzero(e[..., 0])
        h, w = np.ptp(rows) + 1, np.ptp(cols) + 1
        assert e[..., 0].sum() == h * w and (e[..., 0] == e[..., 1]).all()   # one rectangle
        assert 0.5 * 0.05 <= h * w / 600 <= 1.5 * 0.2 and 0.3 <= h / w <= 3.5
    assert T.RandomErasing(1.0, rng=0)(np.zeros((1, 4, 4, 1), np.uint8)).dtype == np.float32
    with pytest.raises(ValueError, match="p must be in"):
        T.RandomErasing(2)
    with pytest.raises(ValueError, match="scale must be"):
        T.RandomErasing(scale=(0.5, 0.1))
    with pytest.raises(ValueError, match="ratio must be"):
        T.RandomErasing(ratio=(0, 1))
    with pytest.raises(ValueError, match="value must be"):
        T.RandomErasing(value="noise")


def test_zoom_reads_the_scaled_source_point():
    """On a ramp I[i, j] = j the bilinear read is exact: the output at column j is
    c + (j − c)/scale, clamped to the image (edges repeated)."""
    ramp = np.tile(np.arange(9, dtype=np.float64), (5, 1))[None, :, :, None].repeat(2, 0)
    out = T.zoom(ramp, [2.0, 0.5])
    c = 4.0
    np.testing.assert_allclose(out[0, 2, :, 0], c + (np.arange(9) - c) / 2, atol=1e-12)
    np.testing.assert_allclose(out[1, 2, :, 0], np.clip(c + (np.arange(9) - c) * 2, 0, 8),
                               atol=1e-12)
    np.testing.assert_allclose(T.zoom(ramp, 1.0), ramp, atol=1e-12)


def test_color_shift_adds_one_offset_per_channel():
    x = _batch((50, 4, 4, 3))
    out = T.ColorShift(0.1, rng=0)(x)
    d = out - x
    np.testing.assert_allclose(d, d[:, :1, :1, :] * np.ones_like(d), atol=1e-6)
    assert np.abs(d).max() <= 0.1 + 1e-6 and np.abs(d).max() > 0.05
    clipped = T.ColorShift(0.5, clip=(0, 1), rng=0)(x)
    assert clipped.min() >= 0 and clipped.max() <= 1


def test_pca_color_augmentation():
    # Colours with a known covariance: most variance along (1, 1, 1)/√3.
    rng = np.random.default_rng(0)
    C = np.array([[1.0, 0.9, 0.9], [0.9, 1.0, 0.9], [0.9, 0.9, 1.0]]) * 0.01
    pixels = rng.multivariate_normal([0.5, 0.4, 0.3], C, size=20000)
    X = pixels.reshape(20, 20, 50, 3).astype(np.float32)
    pca = T.PCAColorAugmentation(std=0.1, rng=0).fit(X)
    lam, P = np.linalg.eigh(np.cov(pixels, rowvar=False))
    np.testing.assert_allclose(pca.eigvals, lam, rtol=1e-4)
    np.testing.assert_allclose(np.abs(pca.eigvecs[:, 2]), np.ones(3) / np.sqrt(3), atol=1e-2)
    many = np.zeros((4000, 1, 2, 3), np.float32)
    d = pca(many)
    np.testing.assert_array_equal(d[:, :, 0], d[:, :, 1])        # the same colour per image
    alpha = (d[:, 0, 0].astype(np.float64) @ pca.eigvecs) / pca.eigvals    # recover α_i
    np.testing.assert_allclose(alpha.std(axis=0), 0.1, rtol=0.1)
    np.testing.assert_allclose(alpha.mean(axis=0), 0, atol=0.01)
    with pytest.raises(RuntimeError, match="fit"):
        T.PCAColorAugmentation()(X)
    with pytest.raises(ValueError, match="n_C = 1"):
        pca(np.zeros((1, 2, 2, 1)))


def test_rotate_quarter_turns_and_identity():
    for n in (5, 6):
        x = _batch((2, n, n, 3))
        np.testing.assert_array_equal(T.rotate(x, [0, 0]), x)
        np.testing.assert_array_equal(T.rotate(x, [90, 90]), np.rot90(x, axes=(1, 2)))
        np.testing.assert_array_equal(T.rotate(x, [-90, 180]),
                                      np.stack([np.rot90(x[0], -1), x[1, ::-1, ::-1]]))
    x = _batch((1, 4, 7, 1))
    np.testing.assert_array_equal(T.RandomRotation(0)(x), x)


def test_rotate_is_bilinear_and_fills_the_corners():
    # A linear ramp is reproduced exactly by bilinear interpolation away from the border.
    n = 21
    yy, xx = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    ramp = (2.0 * xx + 3.0 * yy)[None, :, :, None]
    out = T.rotate(ramp, [10.0], fill=-5.0)[0, :, :, 0]
    th = np.deg2rad(10.0)
    c = (n - 1) / 2
    x_s = (xx - c) * np.cos(th) - (yy - c) * np.sin(th) + c
    y_s = (xx - c) * np.sin(th) + (yy - c) * np.cos(th) + c
    inside = (x_s >= 0) & (x_s <= n - 1) & (y_s >= 0) & (y_s <= n - 1)
    np.testing.assert_allclose(out[inside], (2 * x_s + 3 * y_s)[inside], atol=1e-9)
    assert out[0, 0] == -5.0 and out[n - 1, n - 1] == -5.0            # corners: fill


def test_rotate_matches_scipy():
    ndi = pytest.importorskip("scipy.ndimage")
    x = rand(3, 9, 12, 2, seed=4)
    angles = [7.0, -13.0, 30.0]
    ours = T.rotate(x, angles)
    for o, img, a in zip(ours, x, angles):
        ref = ndi.rotate(img, a, axes=(1, 0), reshape=False, order=1, mode="grid-constant")
        np.testing.assert_allclose(o, ref, atol=1e-12)


def test_compose_applies_in_order():
    x = np.ones((2, 3, 3, 1), np.float32)
    out = T.Compose([lambda a: a + 1, T.Normalize(1.0, 2.0), lambda a: a * 3])(x)
    np.testing.assert_allclose(out, 1.5)
    pipeline = T.Compose([T.RandomCrop(padding=1, rng=0), T.RandomHorizontalFlip(rng=0),
                          T.RandomRotation(5, rng=0), T.ColorShift(0.05, rng=0)])
    assert pipeline(_batch((4, 8, 8, 3))).shape == (4, 8, 8, 3)
    with pytest.raises(TypeError, match="not callable"):
        T.Compose([1])
