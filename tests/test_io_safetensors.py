"""minicnn.io.safetensors_io: the hand-written reader/writer, cross-checked with the
``safetensors`` package (and with torch for bfloat16 when it is installed)."""
from __future__ import annotations

import json
import os
from collections import OrderedDict

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minicnn
from minicnn.io.safetensors_io import (SafetensorsError, load_safetensors,
                                       read_safetensors_metadata, safetensors_from_bytes,
                                       safetensors_to_bytes, save_safetensors)

DTYPES = ["float64", "float32", "float16", "int64", "int32", "int16", "int8",
          "uint64", "uint32", "uint16", "uint8", "bool", "complex64"]


def make(dtype, shape, seed=0):
    return np.asarray(_make(dtype, tuple(shape), seed))


def _make(dtype, shape, seed):
    rng = np.random.default_rng(seed)
    if dtype == "bool":
        return rng.integers(0, 2, shape).astype(bool)
    if dtype == "complex64":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)
    if dtype.startswith("float"):
        return rng.standard_normal(shape).astype(dtype)
    info = np.iinfo(dtype)
    low, high = max(info.min, -1000), min(info.max, 1000)
    return rng.integers(low, high, shape, endpoint=True).astype(dtype)


def assert_same(got, want):
    assert list(got) == list(want)
    for k in want:
        assert got[k].dtype == want[k].dtype, k
        assert got[k].shape == want[k].shape, k
        np.testing.assert_array_equal(got[k], want[k], err_msg=k)


@settings(max_examples=20)
@given(specs=st.lists(st.tuples(st.sampled_from(DTYPES),
                                st.lists(st.integers(0, 4), min_size=0, max_size=4)),
                      min_size=1, max_size=6))
def test_round_trip_and_cross_check(specs):
    from safetensors.numpy import load as st_load, save as st_save
    tensors = OrderedDict((f"t{i}.{d}", make(d, s, seed=i)) for i, (d, s) in enumerate(specs))
    raw = safetensors_to_bytes(tensors, metadata={"format": "np"})
    assert_same(safetensors_from_bytes(raw), tensors)           # ours -> ours, order kept
    theirs = st_load(raw)                                        # ours -> the package
    assert_same(OrderedDict((k, theirs[k]) for k in tensors), tensors)
    back = safetensors_from_bytes(st_save(dict(tensors), metadata={"format": "np"}))
    assert_same(OrderedDict((k, back[k]) for k in tensors), tensors)   # the package -> ours
    header = json.loads(raw[8:8 + int.from_bytes(raw[:8], "little")])
    assert header["__metadata__"] == {"format": "np"}
    assert (8 + int.from_bytes(raw[:8], "little")) % 8 == 0      # data starts 8-aligned
    for name, info in header.items():
        if name != "__metadata__":                               # each tensor item-aligned
            assert info["data_offsets"][0] % tensors[name].dtype.itemsize == 0, name


def test_files_and_the_package(tmp_path):
    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file
    w = OrderedDict([("conv.W", make("float32", (3, 3, 2, 4))), ("conv.b", make("float32", (4,))),
                     ("bn.running_var", make("float64", (4,))), ("steps", np.array(7))])
    save_safetensors(w, tmp_path / "ours.safetensors", metadata={"epoch": "3"})
    assert_same(load_safetensors(tmp_path / "ours.safetensors"), w)
    ref = load_file(tmp_path / "ours.safetensors")
    for k in w:
        np.testing.assert_array_equal(ref[k], w[k])
    with safe_open(tmp_path / "ours.safetensors", framework="np") as f:
        assert f.metadata() == {"epoch": "3"}
    save_file(dict(w), tmp_path / "theirs.safetensors")
    got = load_safetensors(tmp_path / "theirs.safetensors")
    for k in w:
        np.testing.assert_array_equal(got[k], w[k])
    meta, shapes = read_safetensors_metadata(tmp_path / "ours.safetensors")
    assert meta == {"epoch": "3"}
    assert shapes == OrderedDict([("conv.W", ("F32", (3, 3, 2, 4))), ("conv.b", ("F32", (4,))),
                                  ("bn.running_var", ("F64", (4,))), ("steps", ("I64", ()))])
    arrays = load_safetensors(tmp_path / "ours.safetensors")
    arrays["conv.b"][0] = 123.0                                 # arrays are writable


def test_views_big_endian_and_tensors(tmp_path, device):
    base = make("float32", (4, 6))
    x = minicnn.tensor(make("float32", (2, 3))).to(device)
    w = {"view": base[::2, 1::2], "T": base.T, "be": base.astype(">f4"), "tensor": x}
    save_safetensors(w, tmp_path / "w.safetensors")
    got = load_safetensors(tmp_path / "w.safetensors")
    np.testing.assert_array_equal(got["view"], base[::2, 1::2])
    np.testing.assert_array_equal(got["T"], base.T)
    assert got["be"].dtype == np.float32 and got["be"].dtype.isnative
    np.testing.assert_array_equal(got["be"], base)
    np.testing.assert_array_equal(got["tensor"], minicnn.to_numpy(x.data))


@pytest.mark.torch
def test_bfloat16_from_torch(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file
    t = torch.tensor([[1.0, -2.5], [0.15625, 2.0 ** 100]], dtype=torch.bfloat16)
    save_file({"w": t, "h": t.half()}, tmp_path / "bf16.safetensors")
    got = load_safetensors(tmp_path / "bf16.safetensors")
    assert got["w"].dtype == np.float32
    np.testing.assert_array_equal(got["w"], t.float().numpy())
    np.testing.assert_array_equal(got["h"], t.half().numpy())


def _file(header, data=b"", pad=True):
    text = json.dumps(header).encode()
    return len(text).to_bytes(8, "little") + text + data


@pytest.mark.parametrize("raw, message", [
    (b"\x01\x02", "too short"),
    ((10 ** 6).to_bytes(8, "little") + b"{}", "does not fit"),
    ((4).to_bytes(8, "little") + b"{,,}", "not valid UTF-8 JSON"),
    (_file([1, 2]), "JSON list"),
    (_file({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, b"\0" * 4),
     "needs 8 bytes"),
    (_file({"a": {"dtype": "F8_E4M3", "shape": [1], "data_offsets": [0, 1]}}, b"\0"),
     "not supported"),
    (_file({"a": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]},
            "b": {"dtype": "U8", "shape": [2], "data_offsets": [1, 3]}}, b"\0" * 3),
     "gap or an overlap"),
    (_file({"a": {"dtype": "U8", "shape": [2], "data_offsets": [2, 4]}}, b"\0" * 4),
     "starts at byte 2"),
    (_file({"a": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]}}, b"\0" * 5),
     "cover 2 bytes of data but the file holds 5"),
    (_file({"a": {"dtype": "U8", "shape": [2]}}, b"\0" * 2), "needs dtype, shape and data_offsets"),
    (_file({"__metadata__": {"k": 1}}), "__metadata__ must map strings"),
])
def test_malformed_files_are_refused(raw, message):
    with pytest.raises(SafetensorsError, match=message):
        safetensors_from_bytes(raw)


def test_bad_inputs_to_the_writer(tmp_path):
    with pytest.raises(SafetensorsError, match="dtype object cannot be stored"):
        safetensors_to_bytes({"a": np.array(["x"], dtype=object)})
    with pytest.raises(SafetensorsError, match="must be a str"):
        safetensors_to_bytes({3: np.zeros(2)})
    with pytest.raises(SafetensorsError, match="metadata must map str to str"):
        safetensors_to_bytes({"a": np.zeros(2)}, metadata={"epoch": 3})


def test_atomic_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "w.safetensors"
    save_safetensors({"a": np.arange(3.0)}, path)
    before = path.read_bytes()
    with pytest.raises(SafetensorsError):
        save_safetensors({"a": np.arange(3.0), "bad": np.array([None])}, path)

    def crash(fd):
        raise OSError("disk full")
    monkeypatch.setattr(os, "fsync", crash)                      # fails mid-write
    with pytest.raises(OSError, match="disk full"):
        save_safetensors({"a": np.arange(1000.0)}, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["w.safetensors"]              # no temporary left behind
