"""Read and write ``.safetensors`` files with NumPy alone.

The format (https://github.com/huggingface/safetensors) is three parts back to back::

    N          8 bytes, unsigned little-endian: the length of the header
    header     N bytes of UTF-8 JSON, padded with spaces:
                 {"name": {"dtype": "F32", "shape": [3, 3, 16, 32],
                           "data_offsets": [begin, end]},
                  ...,
                  "__metadata__": {"key": "value", ...}}      (optional, str -> str)
    data       the raw little-endian, C-order bytes of every tensor; tensor "name" is
               data[begin:end], and the tensors tile the data exactly (no gaps, no overlap)

Nothing in it is executable, which is why it is the safe way to share weights. The
reader checks every rule above and names the tensor that breaks one. The writer keeps the
caller's order in the header, pads it to a multiple of 8 bytes and lays the data out widest
dtype first, so every tensor starts aligned to its item size; files are written atomically.

Order: files written by the ``safetensors`` package list tensors by dtype width, then by
name ("features.10" before "features.2"), not in ``state_dict()`` order, so match their
tensors to a model by name, not by position.
Arrays keep the layout they were saved in: no OIHW → HWIO conversion happens here (see
:mod:`minicnn.io.convert`).
"""
from __future__ import annotations

import json
import os
from collections import OrderedDict

import numpy as np

from ..autograd import Tensor
from ..backend import to_numpy
from .atomic import atomic_write

__all__ = ["load_safetensors", "save_safetensors", "safetensors_from_bytes",
           "safetensors_to_bytes", "read_safetensors_metadata", "SafetensorsError"]


class SafetensorsError(ValueError):
    """The file breaks the safetensors format."""


# safetensors dtype -> little-endian NumPy dtype. BF16 is read as uint16 and widened to float32.
_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2",
           "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
           "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "?",
           "C64": "<c8"}
_CODES = {np.dtype(v).newbyteorder("="): k for k, v in _DTYPES.items() if k != "BF16"}
_MAX_HEADER = 100_000_000        # the reference implementation's limit


def _parse_header(buf):
    if len(buf) < 8:
        raise SafetensorsError(f"file of {len(buf)} bytes is too short for the 8-byte header size")
    n = int.from_bytes(bytes(buf[:8]), "little")
    if n > _MAX_HEADER or 8 + n > len(buf):
        raise SafetensorsError(f"header length {n} does not fit a file of {len(buf)} bytes")
    try:
        header = json.loads(bytes(buf[8:8 + n]).decode("utf-8"), object_pairs_hook=OrderedDict)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SafetensorsError(f"the header is not valid UTF-8 JSON: {e}") from None
    if not isinstance(header, dict):
        raise SafetensorsError(f"the header is a JSON {type(header).__name__}, expected an object")
    metadata = header.pop("__metadata__", None) or OrderedDict()
    if not (isinstance(metadata, dict)
            and all(isinstance(v, str) for v in metadata.values())):
        raise SafetensorsError("__metadata__ must map strings to strings")
    return header, metadata, 8 + n


def _check_entries(header, n_data):
    """Every tensor well formed, and together they tile data[0:n_data] exactly."""
    spans = []
    for name, info in header.items():
        try:
            dtype, shape, (begin, end) = info["dtype"], info["shape"], info["data_offsets"]
        except (TypeError, KeyError, ValueError):
            raise SafetensorsError(f"tensor {name!r}: entry {info!r} needs dtype, shape and "
                                   "data_offsets [begin, end]") from None
        if dtype not in _DTYPES:
            raise SafetensorsError(f"tensor {name!r}: dtype {dtype!r} is not supported "
                                   f"(supported: {', '.join(_DTYPES)})")
        if not (isinstance(shape, list) and all(isinstance(d, int) and d >= 0 for d in shape)):
            raise SafetensorsError(f"tensor {name!r}: bad shape {shape!r}")
        nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(_DTYPES[dtype]).itemsize
        if not (isinstance(begin, int) and isinstance(end, int) and 0 <= begin <= end):
            raise SafetensorsError(f"tensor {name!r}: bad data_offsets {[begin, end]}")
        if end - begin != nbytes:
            raise SafetensorsError(f"tensor {name!r}: {dtype}{list(shape)} needs {nbytes} "
                                   f"bytes but data_offsets {[begin, end]} hold {end - begin}")
        spans.append((begin, end, name))
    position = 0
    for begin, end, name in sorted(spans):
        if begin != position:
            raise SafetensorsError(f"tensor {name!r} starts at byte {begin}, expected "
                                   f"{position}: the data has a gap or an overlap")
        position = end
    if position != n_data:
        raise SafetensorsError(f"the tensors cover {position} bytes of data but the file "
                               f"holds {n_data}")


def safetensors_from_bytes(buf):
    """Parse a whole safetensors file held in memory: ``OrderedDict`` name → array.

    Arrays are views on ``buf`` when it is a writable ``bytearray`` (no copy), else copies.
    """
    header, _, start = _parse_header(buf)
    _check_entries(header, len(buf) - start)
    writable = isinstance(buf, bytearray)
    out = OrderedDict()
    for name, info in header.items():
        begin, end = info["data_offsets"]
        dt = np.dtype(_DTYPES[info["dtype"]])
        a = np.frombuffer(buf, dtype=dt, count=(end - begin) // dt.itemsize,
                          offset=start + begin).reshape(info["shape"])
        if info["dtype"] == "BF16":
            a = (a.astype(np.uint32) << 16).view(np.float32)
        elif not dt.isnative:
            a = a.astype(dt.newbyteorder("="))
        elif not writable:
            a = a.copy()
        out[name] = a
    return out


def load_safetensors(path):
    """Read a ``.safetensors`` file: ``OrderedDict`` name → NumPy array, in header order.

    BF16 tensors come back as float32 (NumPy has no bfloat16); every other dtype as is.
    """
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        buf = bytearray(size)
        f.readinto(buf)
    try:
        return safetensors_from_bytes(buf)
    except SafetensorsError as e:
        raise SafetensorsError(f"{path}: {e}") from None


def read_safetensors_metadata(path):
    """The ``__metadata__`` dict and ``{name: (dtype, shape)}``, reading only the header."""
    with open(path, "rb") as f:
        head = f.read(8)
        n = int.from_bytes(head, "little") if len(head) == 8 else 0
        buf = head + f.read(min(n, _MAX_HEADER))
    header, metadata, _ = _parse_header(buf)
    return metadata, OrderedDict((k, (v["dtype"], tuple(v["shape"]))) for k, v in header.items())


def _as_numpy(value, name):
    if isinstance(value, Tensor):
        value = value.data
    a = to_numpy(value)                          # a GPU array is copied to the host
    if not a.dtype.isnative:
        a = a.astype(a.dtype.newbyteorder("="))
    if a.dtype not in _CODES:
        raise SafetensorsError(f"tensor {name!r}: dtype {a.dtype} cannot be stored "
                               f"(storable: {', '.join(str(d) for d in _CODES)})")
    return a


def safetensors_to_bytes(tensors, metadata=None):
    """Serialise ``{name: array}`` (NumPy arrays or minicnn Tensors) to safetensors bytes."""
    if metadata is not None and not all(isinstance(k, str) and isinstance(v, str)
                                        for k, v in metadata.items()):
        raise SafetensorsError(f"metadata must map str to str, got {metadata!r}")
    header, arrays = OrderedDict(), OrderedDict()
    if metadata:
        header["__metadata__"] = dict(metadata)
    for name, value in tensors.items():
        if not isinstance(name, str) or name == "__metadata__":
            raise SafetensorsError(f"tensor name {name!r} must be a str other than __metadata__")
        arrays[name] = _as_numpy(value, name)
        header[name] = None
    # The header keeps the caller's order; the data goes widest dtype first, so that every
    # tensor starts at a multiple of its item size (zero-copy readers need that).
    layout = sorted(arrays, key=lambda k: -arrays[k].dtype.itemsize)
    chunks, offset = [], 0
    for name in layout:
        a = arrays[name]
        raw = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": _CODES[a.dtype], "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-(8 + len(text)) % 8)          # so the data starts 8-byte aligned
    return b"".join([len(text).to_bytes(8, "little"), text] + chunks)


def save_safetensors(tensors, path, metadata=None):
    """Write ``{name: array}`` to ``path`` atomically (a crash leaves the old file intact)."""
    data = safetensors_to_bytes(tensors, metadata)
    with atomic_write(path, "save_safetensors") as f:
        f.write(data)
    return path
