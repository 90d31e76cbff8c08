"""Read PyTorch ``.pth`` / ``.pt`` state dicts with NumPy alone (torch is never imported).

``torch.save`` writes one of two formats.

**Zip** (the default since PyTorch 1.6): an uncompressed zip archive whose entries share
one top folder (``archive/`` or the file's stem)::

    archive/data.pkl      the pickled object; every storage is a *persistent id*
                          ('storage', storage_type, key, location, numel)
    archive/data/<key>    the raw bytes of storage <key>
    archive/byteorder     "little" or "big" (absent in old files: little)
    archive/version ...   bookkeeping we don't need

**Legacy** (``_use_new_zipfile_serialization=False``, and every file before 1.6): five
things back to back in one stream::

    pickle(MAGIC_NUMBER)  pickle(1001)  pickle(sys_info)  pickle(obj)  pickle(storage keys)
    then, for each key in that order: int64 numel, numel * element_size raw bytes

    persistent id: ('storage', storage_type, key, location, numel, view_metadata)

In both, a tensor is pickled as a call
``torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, ...)``:
element ``[i_0, ..., i_k]`` of the tensor is element
``storage_offset + sum_j i_j * stride_j`` of its storage (strides in elements), so a
transposed or sliced view is read exactly as torch would read it. Here each tensor becomes
a C-contiguous NumPy array of its own (two tensors sharing one storage come back as two
independent arrays).

Security. Unpickling calls whatever global the pickle names, so a ``.pth`` from the
internet could run any code under ``pickle.load``. The unpickler here resolves only the
handful of globals a state dict needs, each to a stand-in written below (torch's real
functions are never looked up), and refuses any other global with
:class:`UnsafePickleError`.

dtypes: float16/32/64, bfloat16 (returned as float32: NumPy has no bfloat16),
int8/16/32/64, uint8/16/32/64, bool, complex64/128. Quantised and float8 tensors are refused.
"""
from __future__ import annotations

import io
import os
import pickle
import tarfile
import zipfile
from collections import Counter, OrderedDict

import numpy as np

__all__ = ["load_pth", "read_pth_state_dict", "PthFormatError", "UnsafePickleError",
           "MAGIC_NUMBER", "PROTOCOL_VERSION"]

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C   # first pickle of a legacy file
PROTOCOL_VERSION = 1001                  # second pickle of a legacy file


class PthFormatError(ValueError):
    """The file is not a PyTorch file we can read (or it is damaged)."""


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle names a global that a state dict does not need."""


# ------------------------------------------------------------------ dtypes
class _Dtype:
    """Stand-in for ``torch.float32`` etc.: the NumPy dtype its bytes are read as."""

    def __init__(self, name, np_dtype):
        self.name, self.np_dtype = name, np.dtype(np_dtype)

    def __repr__(self):
        return f"torch.{self.name}"


# torch name -> NumPy dtype of the stored bytes. bfloat16 is read as uint16 and widened.
_NP_OF = {"float64": "f8", "float32": "f4", "float16": "f2", "bfloat16": "u2",
          "int64": "i8", "int32": "i4", "int16": "i2", "int8": "i1",
          "uint64": "u8", "uint32": "u4", "uint16": "u2", "uint8": "u1",
          "bool": "?", "complex64": "c8", "complex128": "c16"}
_ALIASES = {"double": "float64", "float": "float32", "half": "float16", "long": "int64",
            "int": "int32", "short": "int16", "cfloat": "complex64", "cdouble": "complex128"}
_DTYPES = {name: _Dtype(name, np_dt) for name, np_dt in _NP_OF.items()}
_DTYPES.update({alias: _DTYPES[name] for alias, name in _ALIASES.items()})

_STORAGE_OF = {"DoubleStorage": "float64", "FloatStorage": "float32",
               "HalfStorage": "float16", "BFloat16Storage": "bfloat16",
               "LongStorage": "int64", "IntStorage": "int32", "ShortStorage": "int16",
               "CharStorage": "int8", "ByteStorage": "uint8", "BoolStorage": "bool",
               "ComplexFloatStorage": "complex64", "ComplexDoubleStorage": "complex128",
               "UntypedStorage": "uint8"}


class _StorageType:
    """Stand-in for ``torch.FloatStorage`` etc.: only its element dtype matters."""

    def __init__(self, name):
        self.name, self.dtype = name, _DTYPES[_STORAGE_OF[name]]

    def __repr__(self):
        return f"torch.{self.name}"


# ------------------------------------------------------------------ lazy storages and tensors
class _Storage:
    """A storage whose bytes arrive later (legacy files store them after the pickle)."""

    def __init__(self, key, dtype, numel):
        self.key, self.dtype, self.numel = key, dtype, int(numel)
        self.data = None          # 1-D array of dtype.np_dtype, set by the reader

    def array(self):
        if self.data is None:
            raise PthFormatError(f"storage {self.key!r} is referenced but its bytes are missing")
        return self.data


class _StorageView(_Storage):
    """Storage ``root[offset : offset + numel]`` (files written before PyTorch 0.4)."""

    def __init__(self, root, offset, numel):
        super().__init__(f"{root.key}[{offset}:]", root.dtype, numel)
        self.root, self.offset = root, int(offset)

    def array(self):
        return self.root.array()[self.offset:self.offset + self.numel]


class _TensorRef:
    """What ``_rebuild_tensor_v2`` records: storage, offset, size, stride (in elements)."""

    def __init__(self, storage, storage_offset, size, stride, dtype=None):
        if not isinstance(storage, _Storage):
            raise PthFormatError(f"tensor built on {type(storage).__name__}, not a storage")
        self.storage, self.offset = storage, int(storage_offset)
        self.size = tuple(int(n) for n in size)
        self.stride = tuple(int(s) for s in stride)
        self.dtype = dtype if dtype is not None else storage.dtype

    def to_numpy(self, big_endian):
        dt = self.dtype
        want = dt.np_dtype.newbyteorder(">" if big_endian else "<")
        data = self.storage.array()
        if data.dtype != want:                   # an untyped (byte) storage viewed as dt
            usable = data.size - data.size % want.itemsize
            data = data[:usable].view(want)
        if len(self.size) != len(self.stride):
            raise PthFormatError(f"tensor size {self.size} and stride {self.stride} differ "
                                 "in length")
        if any(n < 0 for n in self.size) or any(s < 0 for s in self.stride) or self.offset < 0:
            raise PthFormatError(f"negative size/stride/offset: size {self.size}, "
                                 f"stride {self.stride}, offset {self.offset}")
        if 0 in self.size:
            out = np.empty(self.size, dtype=data.dtype)
        else:
            # as_strided trusts its arguments: a damaged file must not read past the storage.
            last = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride))
            if last >= data.size:
                raise PthFormatError(
                    f"tensor of size {self.size}, stride {self.stride}, offset {self.offset} "
                    f"reaches element {last} of a storage of {data.size} elements")
            strides = tuple(s * data.itemsize for s in self.stride)
            view = np.lib.stride_tricks.as_strided(data[self.offset:], self.size, strides,
                                                   writeable=False)
            out = np.array(view, order="C")      # own, contiguous, writable copy
        if big_endian and out.dtype.itemsize > 1:
            out = out.astype(out.dtype.newbyteorder("="))
        if dt.name == "bfloat16":
            out = _bfloat16_to_float32(out)
        return out


def _bfloat16_to_float32(u16):
    """bfloat16 is the top half of a float32: shift its 16 bits up."""
    return (u16.astype(np.uint32) << 16).view(np.float32)


# ------------------------------------------------------------------ the allowed globals
def _rebuild_tensor(storage, storage_offset, size, stride):
    return _TensorRef(storage, storage_offset, size, stride)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
    return _TensorRef(storage, storage_offset, size, stride)


def _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks,
                       dtype, metadata=None):
    if not isinstance(dtype, _Dtype):
        raise PthFormatError(f"_rebuild_tensor_v3: dtype {dtype!r} is not a torch dtype")
    return _TensorRef(storage, storage_offset, size, stride, dtype)


def _rebuild_parameter(data, requires_grad, backward_hooks):
    return data                                  # a Parameter is its tensor here


def _rebuild_parameter_with_state(data, requires_grad, backward_hooks, state):
    return data


_REBUILDERS = (_rebuild_tensor, _rebuild_tensor_v2, _rebuild_tensor_v3, _rebuild_parameter,
               _rebuild_parameter_with_state)


def _rebuild_from_type_v2(func, new_type, args, state):
    # Tensors with Python attributes (or Parameters in some versions) are wrapped in this.
    if func not in _REBUILDERS or new_type not in (_TENSOR_CLASS, _PARAMETER_CLASS):
        raise UnsafePickleError(f"_rebuild_from_type_v2 with {func!r}, {new_type!r}: only "
                                "plain tensors and parameters are allowed")
    return func(*args)


class _TensorClass:
    """Stand-in for ``torch.Tensor`` / ``torch.nn.Parameter`` as a type argument."""

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return self.name


_TENSOR_CLASS = _TensorClass("torch.Tensor")
_PARAMETER_CLASS = _TensorClass("torch.nn.parameter.Parameter")


def _device(spec, index=None):
    return str(spec) if index is None else f"{spec}:{index}"


def _codecs_encode(text, encoding="utf-8"):
    # Protocol-2 pickles (torch.save's default) spell `bytes` as _codecs.encode(str, "latin1").
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1", "utf-8", "utf8"):
        raise UnsafePickleError(f"_codecs.encode({type(text).__name__}, {encoding!r}) refused")
    return text.encode(encoding)


def _allowed_globals():
    allowed = {
        "collections.OrderedDict": OrderedDict,
        "collections.Counter": Counter,
        "torch._utils._rebuild_tensor": _rebuild_tensor,
        "torch._utils._rebuild_tensor_v2": _rebuild_tensor_v2,
        "torch._utils._rebuild_tensor_v3": _rebuild_tensor_v3,
        "torch._utils._rebuild_parameter": _rebuild_parameter,
        "torch._utils._rebuild_parameter_with_state": _rebuild_parameter_with_state,
        "torch._tensor._rebuild_from_type_v2": _rebuild_from_type_v2,
        "torch.Tensor": _TENSOR_CLASS,
        "torch.nn.parameter.Parameter": _PARAMETER_CLASS,
        "torch.Size": tuple,
        "torch.device": _device,
        "_codecs.encode": _codecs_encode,
        "builtins.set": set,
        "builtins.frozenset": frozenset,
        "builtins.complex": complex,
        "builtins.bytearray": bytearray,
        "torch.storage.UntypedStorage": _StorageType("UntypedStorage"),
    }
    for name in _STORAGE_OF:
        allowed[f"torch.{name}"] = _StorageType(name)
    for name, dt in _DTYPES.items():
        allowed[f"torch.{name}"] = dt
    return allowed


_ALLOWED = _allowed_globals()


class _StateDictUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` that resolves only :data:`_ALLOWED` globals and torch storages."""

    def __init__(self, file, storages, storage_loader=None, extra_globals=None):
        super().__init__(file)
        self._storages = storages            # key -> _Storage, shared with the reader
        self._storage_loader = storage_loader
        self._allowed = dict(_ALLOWED, **(extra_globals or {}))

    def find_class(self, module, name):
        if module == "__builtin__":           # protocol-2 pickles spell builtins the Python 2 way
            module = "builtins"
        full = f"{module}.{name}"
        if full in self._allowed:
            return self._allowed[full]
        raise UnsafePickleError(
            f"refusing to unpickle the global {full!r}: a state dict needs only tensors, "
            "containers and torch dtypes, and calling an arbitrary global could run any "
            f"code. If you trust this file, pass extra_globals={{{full!r}: <object>}}.")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise PthFormatError(f"unknown persistent id {pid!r} (expected a torch storage)")
        storage_type, key, _location, numel = pid[1:5]
        if not isinstance(storage_type, _StorageType):
            raise PthFormatError(f"persistent id names {storage_type!r}, not a storage type")
        key = str(key)
        if key not in self._storages:
            storage = _Storage(key, storage_type.dtype, numel)
            if self._storage_loader is not None:
                storage.data = self._storage_loader(key, storage)
            self._storages[key] = storage
        storage = self._storages[key]
        view = pid[5] if len(pid) > 5 else None
        if view is not None:                     # (view_key, offset, view_numel)
            view_key, offset, view_numel = view
            if view_key not in self._storages:
                self._storages[view_key] = _StorageView(storage, offset, view_numel)
            return self._storages[view_key]
        return storage


# ------------------------------------------------------------------ the two formats
def _read_zip(f, extra_globals):
    with zipfile.ZipFile(f) as zf:
        names = zf.namelist()
        pkl = [n for n in names if n.endswith("data.pkl") and n.count("/") == 1]
        if not pkl:
            raise PthFormatError("zip archive without <folder>/data.pkl: not a torch.save file")
        if any(n.endswith("/constants.pkl") for n in names):
            raise PthFormatError("this is a TorchScript archive (torch.jit.save), not a "
                                 "torch.save state dict: save model.state_dict() instead")
        prefix = pkl[0][:-len("data.pkl")]
        byteorder = (zf.read(prefix + "byteorder").decode().strip()
                     if prefix + "byteorder" in names else "little")
        big = byteorder == "big"

        def load_storage(key, storage):
            record = f"{prefix}data/{key}"
            if record not in names:
                raise PthFormatError(f"storage record {record!r} is missing from the archive")
            raw = zf.read(record)
            np_dtype = storage.dtype.np_dtype.newbyteorder(">" if big else "<")
            need = storage.numel * np_dtype.itemsize
            if len(raw) < need:
                raise PthFormatError(f"storage {key!r}: {len(raw)} bytes, expected {need}")
            return np.frombuffer(raw, dtype=np_dtype, count=storage.numel)

        storages = {}
        unpickler = _StateDictUnpickler(io.BytesIO(zf.read(pkl[0])), storages, load_storage,
                                        extra_globals)
        obj = unpickler.load()
    return obj, big


def _read_legacy(f, extra_globals):
    def small_pickle():
        return _StateDictUnpickler(f, {}, extra_globals=extra_globals).load()

    try:
        magic = small_pickle()
    except (pickle.UnpicklingError, EOFError, ValueError, IndexError) as e:
        if isinstance(e, UnsafePickleError):
            raise
        raise PthFormatError(f"not a PyTorch file (neither a zip archive nor a pickle): {e}")
    if magic != MAGIC_NUMBER:
        raise PthFormatError(f"not a torch.save file: the first pickle is {magic!r:.60}, "
                             f"expected the magic number {MAGIC_NUMBER:#x}")
    protocol = small_pickle()
    if protocol != PROTOCOL_VERSION:
        raise PthFormatError(f"legacy protocol {protocol!r} is not supported "
                             f"(expected {PROTOCOL_VERSION})")
    sys_info = small_pickle()
    big = not sys_info.get("little_endian", True)
    storages = {}
    obj = _StateDictUnpickler(f, storages, extra_globals=extra_globals).load()
    keys = small_pickle()
    for key in keys:
        storage = storages.get(str(key))
        if storage is None:
            raise PthFormatError(f"storage key {key!r} is listed but no tensor refers to it")
        header = f.read(8)
        if len(header) < 8:
            raise PthFormatError(f"file ends before storage {key!r}")
        numel = int.from_bytes(header, "big" if big else "little", signed=True)
        np_dtype = storage.dtype.np_dtype.newbyteorder(">" if big else "<")
        raw = f.read(numel * np_dtype.itemsize)
        if len(raw) < numel * np_dtype.itemsize:
            raise PthFormatError(f"file ends inside storage {key!r}")
        storage.data = np.frombuffer(raw, dtype=np_dtype)
    return obj, big


def _to_arrays(obj, big, memo):
    """Replace every tensor in ``obj`` (dicts, lists, tuples, in place where possible)."""
    if id(obj) in memo:
        return memo[id(obj)]
    if isinstance(obj, _TensorRef):
        out = obj.to_numpy(big)
    elif isinstance(obj, _Storage):
        out = np.array(obj.array(), dtype=obj.array().dtype.newbyteorder("="))
    elif isinstance(obj, dict):
        memo[id(obj)] = obj
        for k in obj:
            obj[k] = _to_arrays(obj[k], big, memo)
        return obj
    elif isinstance(obj, list):
        memo[id(obj)] = obj
        obj[:] = [_to_arrays(v, big, memo) for v in obj]
        return obj
    elif isinstance(obj, tuple):
        out = tuple(_to_arrays(v, big, memo) for v in obj)
    else:
        return obj
    memo[id(obj)] = out
    return out


def load_pth(path, extra_globals=None):
    """Load what ``torch.save`` wrote, with every tensor as a NumPy array.

    ``path``: a file name or a binary file object. Containers come back as they were
    saved (``OrderedDict`` state dicts stay ordered, nested dicts stay nested).
    ``extra_globals``: ``{"module.name": object}`` to allow more globals; only for files
    you trust.
    """
    if isinstance(path, (str, os.PathLike)):
        with open(path, "rb") as f:
            return load_pth(f, extra_globals)
    f = path
    start = f.tell()
    if zipfile.is_zipfile(f):
        f.seek(start)
        obj, big = _read_zip(f, extra_globals)
    else:
        f.seek(start)
        try:
            is_tar = tarfile.is_tarfile(f) if hasattr(f, "name") else False
        except (OSError, tarfile.TarError):
            is_tar = False
        if is_tar:
            raise PthFormatError("tar-based .pth files (PyTorch < 0.4) are not supported")
        f.seek(start)
        obj, big = _read_legacy(f, extra_globals)
    return _to_arrays(obj, big, {})


_WRAPPER_KEYS = ("state_dict", "model_state_dict", "model", "net", "ema", "params")


def read_pth_state_dict(path, key=None, extra_globals=None):
    """A flat ``OrderedDict`` name → NumPy array from a ``.pth`` file.

    Nested dicts are joined with ``"."`` (as ``state_dict()`` names are); values that are
    not arrays (``_metadata``, an epoch count) are left out. ``key`` picks one entry of a
    training checkpoint (``key="state_dict"``); without it, a checkpoint whose top level
    holds no tensors is unwrapped through its first entry among ``state_dict``,
    ``model_state_dict``, ``model``, ``net``, ``ema``, ``params``.
    """
    obj = load_pth(path, extra_globals)
    if key is not None:
        for part in str(key).split("."):
            if not isinstance(obj, dict) or part not in obj:
                have = list(obj) if isinstance(obj, dict) else type(obj).__name__
                raise KeyError(f"read_pth_state_dict: key {key!r} not found (have {have})")
            obj = obj[part]
    elif isinstance(obj, dict) and not any(isinstance(v, np.ndarray) for v in obj.values()):
        for k in _WRAPPER_KEYS:
            if isinstance(obj.get(k), dict):
                obj = obj[k]
                break
    flat = OrderedDict()
    _flatten(obj, "", flat)
    if not flat:
        raise PthFormatError(f"{path}: no tensors found (top level is "
                             f"{type(obj).__name__}); pass key= to pick the state dict")
    return flat


def _flatten(obj, prefix, out):
    if isinstance(obj, np.ndarray):
        out[prefix] = obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            _flatten(v, f"{prefix}.{k}" if prefix else str(k), out)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            _flatten(v, f"{prefix}.{i}" if prefix else str(i), out)
