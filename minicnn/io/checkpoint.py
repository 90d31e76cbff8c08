"""Checkpoints: ``minicnn.save(obj, path)`` and ``minicnn.load(path)``.

``obj`` is a (possibly nested) dict — or list/tuple — of arrays, Tensors, numbers,
strings, booleans and None, typically::

    minicnn.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                  "scheduler": sched.state_dict(), "epoch": 7}, "ckpt.npz")
    ckpt = minicnn.load("ckpt.npz")
    model.load_state_dict(ckpt["model"]); opt.load_state_dict(ckpt["optimizer"])

The file is an ordinary ``.npz`` (a zip of ``.npy`` files): every array is stored under
its path in the tree joined by ``/`` (``model/conv1.W``, ``optimizer/state/0/exp_avg``),
so ``numpy.load`` can read the weights without minicnn. Everything else (the tree's
shape, key types, tuples, numbers, strings) is one JSON document stored as the string
array ``__minicnn__``. ``load`` rebuilds the same tree with NumPy arrays: the round trip
is bit-exact and keeps dtypes; Tensors come back as arrays; integer dict keys stay ints.
Objects with a ``state_dict()`` method (a Module, an optimiser) are saved as their state.
Nothing is pickled, so loading a file cannot run code.

Writing is atomic: the data go to a temporary file in the same directory, which is
flushed, ``fsync``'d and then renamed over ``path`` with ``os.replace``. A crash or an
error while writing leaves any previous ``path`` intact, never a half-written file.
"""
from __future__ import annotations

import json
import math
import numbers
import os
import zipfile

import numpy as np

from .. import backend
from .atomic import atomic_write

__all__ = ["save", "load"]

META_KEY = "__minicnn__"
FORMAT = 1


# ------------------------------------------------------------------ encoding
def _is_array(x) -> bool:
    return (getattr(type(x), "_is_minicnn_tensor", False) or isinstance(x, np.ndarray)
            or (hasattr(x, "shape") and hasattr(x, "dtype") and hasattr(x, "get")))


def _encode(obj, path: str, arrays: dict):
    """The JSON node for ``obj``; arrays go into ``arrays`` under their path."""
    if hasattr(obj, "state_dict") and callable(obj.state_dict) and not _is_array(obj):
        obj = obj.state_dict()
    if obj is None or isinstance(obj, (bool, str)):
        return {"t": "value", "v": obj}
    if isinstance(obj, numbers.Integral) and not isinstance(obj, np.generic):
        return {"t": "value", "v": int(obj)}
    if isinstance(obj, float):
        # JSON has no inf/nan; a float's repr round-trips exactly.
        return {"t": "float", "v": repr(obj)} if not math.isfinite(obj) else {"t": "value", "v": obj}
    if isinstance(obj, np.generic) or _is_array(obj):
        a = obj.data if getattr(type(obj), "_is_minicnn_tensor", False) else obj
        a = np.asarray(backend.to_numpy(a))
        if a.dtype == object:
            raise TypeError(f"save: {path or 'obj'} is an object array, which cannot be saved "
                            "without pickling; convert it to a numeric or string dtype")
        key = path or "array"
        while key in arrays or key == META_KEY:
            key += "_"
        arrays[key] = a
        return {"t": "scalar" if isinstance(obj, np.generic) else "array", "k": key}
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            if isinstance(k, bool) or not isinstance(k, (str, numbers.Integral)):
                raise TypeError(f"save: dict keys must be str or int, got {k!r} "
                                f"({type(k).__name__}) under {path or 'the top level'}")
            k = k if isinstance(k, str) else int(k)
            items.append([k, _encode(v, f"{path}/{k}" if path else str(k), arrays)])
        return {"t": "dict", "items": items}
    if isinstance(obj, (list, tuple)):
        return {"t": type(obj).__name__,
                "items": [_encode(v, f"{path}/{i}" if path else str(i), arrays)
                          for i, v in enumerate(obj)]}
    raise TypeError(f"save: cannot save {path or 'obj'} of type {type(obj).__name__}; "
                    "expected dicts, lists, tuples, arrays, Tensors, numbers, strings or None")


def _decode(node, arrays):
    t = node["t"]
    if t == "value":
        return node["v"]
    if t == "float":
        return float(node["v"])
    if t == "array":
        return arrays[node["k"]]
    if t == "scalar":
        return arrays[node["k"]][()]
    if t == "dict":
        return {k: _decode(v, arrays) for k, v in node["items"]}
    if t in ("list", "tuple"):
        items = [_decode(v, arrays) for v in node["items"]]
        return items if t == "list" else tuple(items)
    raise ValueError(f"load: unknown node type {t!r} in the checkpoint's metadata")


# ------------------------------------------------------------------ save / load
def save(obj, path) -> None:
    """Write ``obj`` to ``path`` as an ``.npz`` file, atomically.

    The name is used as given (no ``.npz`` is appended). Arrays are stored uncompressed,
    so saving and loading cost little more than copying the bytes.
    """
    path = os.fspath(path)
    arrays: dict = {}
    tree = _encode(obj, "", arrays)
    meta = json.dumps({"format": FORMAT, "tree": tree})
    with atomic_write(path, "save") as f:
        _write_npz(f, arrays, meta)


def _write_npz(f, arrays: dict, meta: str) -> None:
    np.savez(f, allow_pickle=False, **arrays, **{META_KEY: np.array(meta)})


def load(path):
    """Read a checkpoint written by :func:`save` and return the same tree with NumPy arrays.

    A plain ``.npz`` without minicnn's metadata comes back as a flat dict of arrays.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"load: no checkpoint at {path!r}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (zipfile.BadZipFile, ValueError, OSError) as e:
        raise ValueError(f"load: {path!r} is not a readable .npz checkpoint ({e})") from e
    if META_KEY not in arrays:
        return arrays
    meta = json.loads(str(arrays.pop(META_KEY)))
    if meta.get("format", 0) > FORMAT:
        raise ValueError(f"load: {path!r} was written in checkpoint format {meta['format']}, "
                         f"newer than this minicnn reads ({FORMAT}); upgrade minicnn")
    return _decode(meta["tree"], arrays)
