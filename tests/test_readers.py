"""Dataset readers: on small files the tests write, and on the real files when present."""
from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from minicnn.data import readers
from minicnn.data import (load_digits, load_h5_dataset, load_happy_house, load_image_folder,
                          load_mnist, load_olivetti, load_signs, read_idx)

FASHION = Path(readers.FASHION_MNIST_DIR)


# ------------------------------------------------------------- idx / MNIST
def write_idx(path, array, code, gz=False):
    header = struct.pack(">BBBB", 0, 0, code, array.ndim) + struct.pack(f">{array.ndim}I",
                                                                         *array.shape)
    big = array.astype(array.dtype.newbyteorder(">"))
    data = header + big.tobytes()
    path.write_bytes(gzip.compress(data) if gz else data)


@pytest.mark.parametrize("dtype,code", [(np.uint8, 0x08), (np.int8, 0x09), (np.int16, 0x0B),
                                        (np.int32, 0x0C), (np.float32, 0x0D),
                                        (np.float64, 0x0E)])
def test_read_idx_all_types(tmp_path, dtype, code):
    a = (np.arange(24) - 5).reshape(2, 3, 4).astype(dtype)
    write_idx(tmp_path / "a", a, code)
    write_idx(tmp_path / "a.gz", a, code, gz=True)
    for name in ("a", "a.gz"):
        b = read_idx(tmp_path / name)
        assert b.dtype == np.dtype(dtype) and b.dtype.isnative
        np.testing.assert_array_equal(b, a)


@pytest.mark.parametrize("gz", [False, True])
def test_load_mnist_from_small_files(tmp_path, gz):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(7, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=7).astype(np.uint8)
    ext = ".gz" if gz else ""
    write_idx(tmp_path / f"t10k-images-idx3-ubyte{ext}", images, 0x08, gz)
    write_idx(tmp_path / f"t10k-labels-idx1-ubyte{ext}", labels, 0x08, gz)
    X, y = load_mnist(tmp_path, kind="test")
    assert X.shape == (7, 28, 28, 1) and X.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_array_equal(X[..., 0], images.astype(np.float32) / np.float32(255))
    np.testing.assert_array_equal(y, labels)
    X_raw, _ = load_mnist(tmp_path, kind="t10k", raw=True)
    assert X_raw.dtype == np.uint8
    with pytest.raises(FileNotFoundError, match="train images.*apt-get install dataset-fashion-mnist"):
        load_mnist(tmp_path, kind="train")
    with pytest.raises(ValueError, match="kind must be"):
        load_mnist(tmp_path, kind="validation")


def test_idx_errors(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x1f\x00\x08\x01\x00\x00\x00\x02ab")
    with pytest.raises(ValueError, match="not an idx file"):
        read_idx(tmp_path / "bad")
    write_idx(tmp_path / "short", np.zeros(10, np.uint8), 0x08)
    (tmp_path / "short").write_bytes((tmp_path / "short").read_bytes()[:-3])
    with pytest.raises(ValueError, match="truncated"):
        read_idx(tmp_path / "short")
    with pytest.raises(FileNotFoundError, match="nowhere.*never downloads"):
        load_mnist(tmp_path / "nowhere")


@pytest.mark.skipif(not FASHION.is_dir(), reason=f"Fashion-MNIST not installed at {FASHION} "
                    "(apt-get install dataset-fashion-mnist)")
def test_real_fashion_mnist():
    X, y = readers.load_fashion_mnist("t10k")
    assert X.shape == (10000, 28, 28, 1) and X.dtype == np.float32
    assert 0 <= X.min() and X.max() == 1.0
    np.testing.assert_array_equal(y[:10], [9, 2, 1, 1, 6, 1, 4, 6, 5, 7])
    np.testing.assert_array_equal(np.bincount(y), [1000] * 10)
    train_labels = read_idx(FASHION / "train-labels-idx1-ubyte.gz")
    assert train_labels.shape == (60000,) and list(train_labels[:5]) == [9, 0, 0, 3, 0]
    assert len(readers.FASHION_MNIST_CLASSES) == 10


# ------------------------------------------------------------- digits
def test_load_digits():
    pytest.importorskip("sklearn")
    X, y = load_digits()
    assert X.shape == (1797, 8, 8, 1) and X.dtype == np.float32 and y.dtype == np.int64
    assert X.min() == 0 and X.max() == 1 and set(y) == set(range(10))
    X_raw, _ = load_digits(raw=True)
    assert X_raw.dtype == np.uint8 and X_raw.max() == 16
    np.testing.assert_array_equal(X, X_raw / np.float32(16))
    split = load_digits(test_size=0.2, seed=0)
    assert split.X_train.shape == (1438, 8, 8, 1) and split.X_test.shape == (359, 8, 8, 1)
    again = load_digits(test_size=0.2, seed=0)
    np.testing.assert_array_equal(split.y_test, again.y_test)
    other = load_digits(test_size=0.2, seed=1)
    assert not np.array_equal(split.y_test, other.y_test)
    # A partition of the whole set: the multiset of images is unchanged.
    both = np.concatenate([split.X_train, split.X_test]).reshape(1797, -1)
    np.testing.assert_array_equal(np.sort(both, axis=0), np.sort(X.reshape(1797, -1), axis=0))
    with pytest.raises(ValueError, match="test_size"):
        load_digits(test_size=0)


# ------------------------------------------------------------- course .h5
def write_course_h5(path, split, m, n_classes, seed=0):
    h5py = pytest.importorskip("h5py")
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 256, size=(m, 4, 4, 3), dtype=np.uint8)
    y = rng.integers(0, n_classes, size=m).astype(np.int64)
    with h5py.File(path, "w") as f:
        f[f"{split}_set_x"] = X
        f[f"{split}_set_y"] = y
        f["list_classes"] = np.arange(n_classes)
    return X, y


def test_h5_reader_and_pairs(tmp_path):
    Xtr, ytr = write_course_h5(tmp_path / "train_signs.h5", "train", 9, 6, seed=1)
    Xte, yte = write_course_h5(tmp_path / "test_signs.h5", "test", 4, 6, seed=2)
    X, y, classes = load_h5_dataset(tmp_path / "train_signs.h5")
    assert X.dtype == np.float32 and X.shape == (9, 4, 4, 3) and classes == list(range(6))
    np.testing.assert_array_equal(X, Xtr / np.float32(255))
    np.testing.assert_array_equal(y, ytr)
    both = load_signs(tmp_path)
    np.testing.assert_array_equal(both.X_test, Xte / np.float32(255))
    np.testing.assert_array_equal(both.y_train, ytr)
    assert both.classes == list(range(6))
    assert load_signs(tmp_path, split="test", raw=True).X.dtype == np.uint8
    assert load_signs(tmp_path / "test_signs.h5").X.shape == (4, 4, 4, 3)

    write_course_h5(tmp_path / "train_happy.h5", "train", 5, 2)
    write_course_h5(tmp_path / "test_happy.h5", "test", 3, 2)
    happy = load_happy_house(tmp_path)
    assert happy.X_train.shape == (5, 4, 4, 3) and happy.classes == [0, 1]


def test_h5_errors(tmp_path):
    h5py = pytest.importorskip("h5py")
    write_course_h5(tmp_path / "test_signs.h5", "test", 4, 6)
    with pytest.raises(FileNotFoundError, match="train_signs.h5.*Convolutional Neural Networks"):
        load_signs(tmp_path)
    with pytest.raises(FileNotFoundError, match="no_such_dir"):
        load_signs(tmp_path / "no_such_dir")
    with h5py.File(tmp_path / "odd.h5", "w") as f:
        f["images"] = np.zeros((2, 2))
    with pytest.raises(ValueError, match="one '<split>_set_x'"):
        load_h5_dataset(tmp_path / "odd.h5")


def test_real_signs_test_split(shared_data):
    path = shared_data / "signs" / "test_signs.h5"
    if not path.exists():
        pytest.skip(f"{path} not present")
    X, y, classes = load_signs(shared_data / "signs", split="test")
    assert X.shape == (120, 64, 64, 3) and X.dtype == np.float32 and 0 <= X.min() <= X.max() <= 1
    np.testing.assert_array_equal(np.bincount(y), [20] * 6)
    assert classes == [0, 1, 2, 3, 4, 5]
    if not (shared_data / "signs" / "train_signs.h5").exists():
        with pytest.raises(FileNotFoundError, match="train_signs.h5.*deeplearning.ai"):
            load_signs(shared_data / "signs")


# ------------------------------------------------------------- image folders
def test_image_folder(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(0)
    arrays = {}
    for cls, n in (("cat", 2), ("dog", 3)):
        (tmp_path / cls).mkdir()
        for i in range(n):
            a = rng.integers(0, 256, size=(5, 6, 3), dtype=np.uint8)
            Image.fromarray(a).save(tmp_path / cls / f"{i}.png")
            arrays[(cls, i)] = a
    (tmp_path / "dog" / "notes.txt").write_text("not an image")
    X, y, classes = load_image_folder(tmp_path)
    assert classes == ["cat", "dog"] and list(y) == [0, 0, 1, 1, 1] and y.dtype == np.int64
    assert X.shape == (5, 5, 6, 3) and X.dtype == np.float32
    np.testing.assert_array_equal(X[2], arrays[("dog", 0)] / np.float32(255))
    grey = load_image_folder(tmp_path, mode="L", raw=True)
    assert grey.X.shape == (5, 5, 6, 1) and grey.X.dtype == np.uint8
    assert load_image_folder(tmp_path, size=(8, 4)).X.shape == (5, 8, 4, 3)
    Image.fromarray(np.zeros((7, 7, 3), np.uint8)).save(tmp_path / "dog" / "big.png")
    with pytest.raises(ValueError, match="pass size="):
        load_image_folder(tmp_path)
    assert load_image_folder(tmp_path, size=5).X.shape == (6, 5, 5, 3)
    with pytest.raises(FileNotFoundError, match="image folder"):
        load_image_folder(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no class sub-folders"):
        load_image_folder(tmp_path / "empty")


# ------------------------------------------------------------- Olivetti
def test_real_olivetti_matches_scikit_learn_scaling(shared_data):
    path = shared_data / "olivetti_faces.npz"
    if not path.exists():
        pytest.skip(f"{path} not present")
    X, y = load_olivetti(path)
    assert X.shape == (400, 64, 64, 1) and X.dtype == np.float32 and y.dtype == np.int64
    raw = np.load(path)["images"]
    np.testing.assert_array_equal(X[..., 0], raw.astype(np.float32) / np.float32(242))
    # scikit-learn's published values for fetch_olivetti_faces().data
    data = X.reshape(400, -1)
    np.testing.assert_array_equal(data[0][:3], np.float32([0.30991736, 0.3677686, 0.41735536]))
    np.testing.assert_array_equal(data[1][:3], np.float32([0.45454547, 0.47107437, 0.5123967]))
    np.testing.assert_array_equal(y, np.repeat(np.arange(40), 10))
    np.testing.assert_array_equal(load_olivetti(shared_data)[0], X)       # a folder works too
    assert load_olivetti(path, raw=True)[0].dtype == np.uint8


def test_olivetti_from_scikit_learn_cache(tmp_path, shared_data):
    joblib = pytest.importorskip("joblib")
    path = shared_data / "olivetti_faces.npz"
    if not path.exists():
        pytest.skip(f"{path} not present")
    raw = np.load(path)["images"]
    # scikit-learn caches mfile["faces"].T: rows are column-major (transposed) images.
    home = tmp_path / "scikit_learn_data"
    home.mkdir()
    joblib.dump(raw.transpose(0, 2, 1).reshape(400, 4096).copy(), home / "olivetti.pkz",
                compress=6)
    X, _ = load_olivetti(home)
    np.testing.assert_array_equal(X, load_olivetti(path)[0])


def test_olivetti_default_search_and_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("MINICNN_DATA", str(tmp_path))
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "sk"))
    assert readers.olivetti_search_path()[0] == tmp_path / "olivetti_faces.npz"
    with pytest.raises(FileNotFoundError, match="fetch_olivetti_faces"):
        load_olivetti(tmp_path / "absent.npz")
    faces = np.random.default_rng(0).integers(0, 243, size=(400, 64, 64), dtype=np.uint8)
    faces[0, 0, 0], faces[0, 0, 1] = 0, 242
    np.savez(tmp_path / "olivetti_faces.npz", images=faces, target=np.repeat(np.arange(40), 10))
    X, y = load_olivetti()
    np.testing.assert_array_equal(X[..., 0], faces / np.float32(242))
    os.remove(tmp_path / "olivetti_faces.npz")
    np.savez(tmp_path / "wrong.npz", images=faces[:10])
    with pytest.raises(ValueError, match=r"\(10, 64, 64\)"):
        load_olivetti(tmp_path / "wrong.npz")
