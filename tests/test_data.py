"""Dataset, TensorDataset, DataLoader, random_split and collation."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minicnn
from minicnn.autograd import Tensor
from minicnn.data import (DataLoader, Dataset, Subset, TensorDataset, default_collate,
                          random_split)


def _data(m=10):
    X = np.arange(m * 2 * 2 * 1, dtype=np.float32).reshape(m, 2, 2, 1)
    return X, np.arange(m, dtype=np.int64)


def _epoch(loader):
    return [tuple(t.numpy() for t in batch) for batch in loader]


class PerItem(Dataset):
    """A dataset without get_batch: examples one at a time."""

    def __init__(self, m):
        self.m = m

    def __len__(self):
        return self.m

    def __getitem__(self, i):
        return np.full((2, 2, 1), float(i)), int(i)


# ------------------------------------------------------------- datasets
def test_tensor_dataset_indexing_and_transform():
    X, y = _data()
    ds = TensorDataset(X, y)
    assert len(ds) == 10
    xi, yi = ds[3]
    np.testing.assert_array_equal(xi, X[3])
    assert yi == 3
    xb, yb = ds.get_batch(np.array([4, 1]))
    np.testing.assert_array_equal(yb, [4, 1])
    flipped = TensorDataset(X, y, transform=lambda a: -a)
    np.testing.assert_array_equal(flipped[2][0], -X[2])
    np.testing.assert_array_equal(flipped.get_batch(np.arange(3))[0], -X[:3])
    from_tensors = TensorDataset(minicnn.tensor(X), minicnn.tensor(y))
    assert isinstance(from_tensors.arrays[0], np.ndarray)
    with pytest.raises(ValueError, match=r"same first dimension.*\(10, 2, 2, 1\), \(9,\)"):
        TensorDataset(X, y[:9])


@given(st.lists(st.integers(0, 10), min_size=1, max_size=4).filter(lambda p: sum(p) > 0),
       st.integers(0, 2 ** 32), st.sampled_from([0, 0, 0, 1, -1]))
def test_random_split_is_a_seeded_partition(parts, seed, off):
    m = sum(parts) + off
    if off:
        with pytest.raises(ValueError, match=f"summing to len\\(dataset\\) = {m}"):
            random_split(TensorDataset(np.arange(m)), parts, seed=seed)
        return
    ds = TensorDataset(np.arange(m))
    subsets = random_split(ds, parts, seed=seed)
    assert [len(s) for s in subsets] == parts
    everything = np.concatenate([s.indices for s in subsets])
    np.testing.assert_array_equal(np.sort(everything), np.arange(m))
    again = random_split(ds, parts, seed=seed)
    assert all(np.array_equal(a.indices, b.indices) for a, b in zip(subsets, again))


def test_random_split_fractions_and_host_seed():
    ds = TensorDataset(np.arange(11))
    a, b = random_split(ds, [0.8, 0.2], seed=0)
    assert (len(a), len(b)) == (9, 2)
    minicnn.manual_seed(5)
    first = random_split(ds, [5, 6])[0].indices
    minicnn.manual_seed(5)
    np.testing.assert_array_equal(random_split(ds, [5, 6])[0].indices, first)
    assert a[0] == ds[int(a.indices[0])]


def test_default_collate():
    batch = default_collate([(np.ones((2, 2)), 1, 0.5, "a", {"k": True}),
                             (np.zeros((2, 2)), 2, 1.5, "b", {"k": False})])
    X, y, f, s, d = batch
    assert X.shape == (2, 2, 2) and y.dtype == np.int64 and f.dtype == np.float32
    assert s == ["a", "b"] and d["k"].dtype == bool
    with pytest.raises(ValueError, match="different shapes"):
        default_collate([np.ones(2), np.ones(3)])


# ------------------------------------------------------------- loader
def test_loader_batches_len_and_drop_last():
    X, y = _data(10)
    loader = DataLoader(TensorDataset(X, y), batch_size=4)
    assert len(loader) == 3
    batches = _epoch(loader)
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), y)
    np.testing.assert_array_equal(np.concatenate([b[0] for b in batches]), X)
    dropping = DataLoader(TensorDataset(X, y), batch_size=4, drop_last=True)
    assert len(dropping) == 2 and [len(b[1]) for b in _epoch(dropping)] == [4, 4]
    with pytest.raises(ValueError, match="batch_size must be a positive int, got 0"):
        DataLoader(TensorDataset(X, y), batch_size=0)


def test_loader_determinism():
    X, y = _data(23)
    ds = TensorDataset(X, y)
    a = DataLoader(ds, batch_size=5, shuffle=True, seed=7)
    b = DataLoader(ds, batch_size=5, shuffle=True, seed=7)
    epochs_a = [np.concatenate([yb for _, yb in _epoch(a)]) for _ in range(3)]
    epochs_b = [np.concatenate([yb for _, yb in _epoch(b)]) for _ in range(3)]
    for ea, eb in zip(epochs_a, epochs_b):
        np.testing.assert_array_equal(ea, eb)
        np.testing.assert_array_equal(np.sort(ea), np.arange(23))     # each example once
    assert not np.array_equal(epochs_a[0], epochs_a[1])               # a new order each epoch
    assert not np.array_equal(epochs_a[0], np.arange(23))
    other = DataLoader(ds, batch_size=5, shuffle=True, seed=8)
    assert not np.array_equal(np.concatenate([yb for _, yb in _epoch(other)]), epochs_a[0])


def test_loader_without_seed_follows_manual_seed():
    ds = TensorDataset(*_data(30))

    def order():
        return np.concatenate([yb for _, yb in _epoch(DataLoader(ds, 7, shuffle=True))])

    minicnn.manual_seed(11)
    first = order()
    minicnn.manual_seed(11)
    np.testing.assert_array_equal(order(), first)
    assert not np.array_equal(order(), first)          # the host generator moved on


def test_loader_dtypes_and_device(device):
    X = np.random.default_rng(0).random((6, 3, 3, 2))           # float64 on purpose
    y = np.arange(6, dtype=np.int64)
    X_b, y_b = next(iter(DataLoader(TensorDataset(X, y), batch_size=4, device=device)))
    assert isinstance(X_b, Tensor) and X_b.device == device and y_b.device == device
    assert X_b.dtype == np.float32 and y_b.dtype == np.int64 and not X_b.requires_grad
    np.testing.assert_array_equal(X_b.numpy(), X[:4].astype(np.float32))
    minicnn.set_device(device)
    X_b, _ = next(iter(DataLoader(TensorDataset(X, y), batch_size=4, dtype=None)))
    assert X_b.device == device and X_b.dtype == np.float64


def test_loader_with_per_item_dataset_subset_and_collate_fn():
    loader = DataLoader(PerItem(5), batch_size=2)
    X_b, y_b = next(iter(loader))
    assert X_b.shape == (2, 2, 2, 1) and X_b.dtype == np.float32 and y_b.dtype == np.int64
    sub = Subset(PerItem(5), [4, 0, 2])
    np.testing.assert_array_equal(np.concatenate([yb for _, yb in _epoch(DataLoader(sub, 2))]),
                                  [4, 0, 2])
    sub2 = Subset(TensorDataset(*_data()), [9, 1])
    np.testing.assert_array_equal(next(iter(DataLoader(sub2, 2)))[1].numpy(), [9, 1])

    def collate(samples):
        return {"images": np.stack([s[0] for s in samples]), "n": len(samples)}
    batch = next(iter(DataLoader(PerItem(5), batch_size=3, collate_fn=collate)))
    assert isinstance(batch["images"], Tensor) and batch["n"] == 3


def test_loader_state_resumes_mid_epoch():
    ds = TensorDataset(*_data(17))
    ref = DataLoader(ds, batch_size=3, shuffle=True, seed=2)
    expected = [yb for _ in range(3) for _, yb in _epoch(ref)]

    a = DataLoader(ds, batch_size=3, shuffle=True, seed=2)
    got = [yb for _, yb in _epoch(a)]
    it = iter(a)
    got += [next(it)[1].numpy() for _ in range(2)]            # two batches into epoch 2
    state = a.state_dict()
    assert state["batches_done"] == 2
    b = DataLoader(ds, batch_size=3, shuffle=True, seed=99)
    b.load_state_dict(state)
    got += [yb for _, yb in _epoch(b)] + [yb for _, yb in _epoch(b)]
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        np.testing.assert_array_equal(g, e)
    with pytest.raises(ValueError, match="shuffle=False"):
        DataLoader(ds).load_state_dict(state)
