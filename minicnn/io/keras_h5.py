"""Read Keras weight files (``.h5``, ``.weights.h5``, ``.keras``) with h5py.

Two layouts exist.

**Keras 2** (``model.save_weights("w.h5")`` and ``model.save("m.h5")`` in TF-Keras)::

    /                                   attrs: layer_names = [b"conv1", b"bn1", ...]
    /model_weights/...                  (model.save: the same one level down)
    /conv1                              attrs: weight_names = [b"conv1/kernel:0",
                                                               b"conv1/bias:0"]
    /conv1/conv1/kernel:0               (f_H, f_W, n_C_prev, n_C)
    /conv1/conv1/bias:0                 (n_C,)

  ``layer_names`` and ``weight_names`` give the model's order. (Attributes over 64 KB are
  split into ``layer_names0``, ``layer_names1``, ...)

**Keras 3** (``model.save_weights("m.weights.h5")``, and ``model.weights.h5`` inside a
``.keras`` zip): one group per object, its variables numbered in ``vars``::

    /vars                               the model's own variables (usually none)
    /block1/layers/conv2d/vars/0        kernel (3, 3, 3, 64)       attrs of vars: name
    /block1/layers/conv2d/vars/1        bias (64,)
    /dsn1/vars/0, /dsn1/vars/1          an attribute ``self.dsn1`` of a subclassed model

  A subclassed model's attributes appear under their attribute names; the layers of a
  Sequential or Functional model under ``layers/`` with names made from the *class*
  (``conv2d``, ``conv2d_1``, ``batch_normalization``, ...), so the names alone lose the
  model's order (conv, bn, conv, bn reads back as bn, bn, conv, conv). Keras writes in
  the model's order: ``vars`` first, then ``layers`` in list order, then attributes sorted
  by name (private ones last). With ``order="file"`` (the default) the reader walks the
  groups the same way and orders the members of a layer list by where their datasets sit
  in the file, which is the order they were written. ``order="name"`` sorts every level by
  name, numbers numerically (``conv2d_2`` before ``conv2d_10``).

Top-level groups that hold training state, not weights (``optimizer``, metrics), are skipped.
Kernels are returned as stored: Keras already uses HWIO ``(f_H, f_W, n_C_prev, n_C)`` and
Dense ``(in, out)``, the layouts minicnn uses; see :mod:`minicnn.io.convert`.
"""
from __future__ import annotations

import io
import os
import re
import zipfile
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

__all__ = ["read_keras_h5", "keras_h5_layers", "keras_h5_format", "KerasLayer",
           "KerasFormatError"]

TRAINING_STATE = ("optimizer", "_optimizer", "compile_metrics", "_compile_metrics",
                  "_compile_loss", "_loss_tracker", "metrics", "_metrics")
_CONTAINERS = ("layers", "_layer_checkpoint_dependencies")   # the latter: Keras 2.13


class KerasFormatError(ValueError):
    """The file is not a Keras weights file in a layout we know."""


@dataclass
class KerasLayer:
    """One layer of a Keras file: where it is, its Keras name, its weights in order."""
    path: str
    name: str
    weights: "OrderedDict[str, np.ndarray]" = field(default_factory=OrderedDict)

    def __repr__(self):
        shapes = ", ".join(str(tuple(a.shape)) for a in self.weights.values())
        return f"KerasLayer({self.path!r}, name={self.name!r}, [{shapes}])"


def _h5py():
    try:
        import h5py
    except ImportError:  # pragma: no cover - h5py is in the data/test extras
        raise ImportError("reading Keras .h5 files needs h5py: pip install h5py") from None
    return h5py


@contextmanager
def _open(path):
    """An h5py.File for a path, a binary file object, or a ``.keras`` zip archive."""
    h5py = _h5py()
    if isinstance(path, (str, os.PathLike)) and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            inner = [n for n in zf.namelist() if n.endswith(".weights.h5")]
            if not inner:
                raise KerasFormatError(f"{path}: zip archive without a *.weights.h5 inside")
            buf = io.BytesIO(zf.read(inner[0]))
        with h5py.File(buf, "r") as f:
            yield f
        return
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise KerasFormatError(f"{path}: not an HDF5 file ({e})") from None
    with f:
        yield f


def _natural(name):
    """Sort key that puts conv2d_2 before conv2d_10 and vars/2 before vars/10."""
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", name)]


def _attr_list(obj, name):
    """A list-of-strings attribute, joined back if Keras split it (name0, name1, ...)."""
    if name in obj.attrs:
        values = list(obj.attrs[name])
    else:
        values, i = [], 0
        while f"{name}{i}" in obj.attrs:
            values.extend(obj.attrs[f"{name}{i}"])
            i += 1
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values]


def _read(ds):
    a = np.asarray(ds[()])
    if ds.attrs.get("dtype") in ("bfloat16", b"bfloat16"):    # Keras 3 marks bfloat16 this way
        u16 = np.frombuffer(a.tobytes(), dtype="<u2").reshape(a.shape)
        return (u16.astype(np.uint32) << 16).view(np.float32)
    return a


def keras_h5_format(f_or_path):
    """``"keras2"`` or ``"keras3"``."""
    h5py = _h5py()
    if not isinstance(f_or_path, h5py.Group):
        with _open(f_or_path) as f:
            return keras_h5_format(f)
    f = f_or_path
    if _attr_list(f, "layer_names") or ("model_weights" in f and
                                        _attr_list(f["model_weights"], "layer_names")):
        return "keras2"
    found = []
    f.visit(lambda name: found.append(name) if name.split("/")[-1] == "vars" else None)
    if found:
        return "keras3"
    raise KerasFormatError(f"{f.filename}: neither a Keras 2 file (no layer_names attribute) "
                           f"nor a Keras 3 file (no vars groups); top level: {list(f)}")


# ------------------------------------------------------------------ Keras 2
def _layers_keras2(f, order):
    # save_weights puts the layers at the top; model.save one level down, in model_weights
    root = f if _attr_list(f, "layer_names") else f["model_weights"]
    names = _attr_list(root, "layer_names")
    if order == "name":
        names = sorted(names, key=_natural)
    for layer in names:
        g = root[layer]
        weight_names = _attr_list(g, "weight_names")
        if order == "name":
            weight_names = sorted(weight_names, key=_natural)
        yield layer, layer, [(f"{layer}/{w}", g[w]) for w in weight_names]


# ------------------------------------------------------------------ Keras 3
def _first_written(f):
    """Group path -> the smallest object-header address of a dataset below it.

    Keras writes datasets in the model's order and HDF5 places each new object after the
    previous ones, so this recovers the order of the layers in a list. None if h5py can't
    tell (then names decide)."""
    h5py = _h5py()
    first = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            try:
                addr = h5py.h5o.get_info(obj.id).addr
            except Exception:  # pragma: no cover - depends on the HDF5 build
                return
            parts = name.split("/")
            for i in range(len(parts)):
                prefix = "/".join(parts[:i])
                first[prefix] = min(first.get(prefix, addr), addr)

    f.visititems(visit)
    return first


def _layers_keras3(f, order, skip):
    h5py = _h5py()
    first = _first_written(f) if order == "file" else {}

    def walk(group, path):
        children = [k for k in group if isinstance(group[k], h5py.Group) and k != "vars"]
        if not path:
            children = [k for k in children if k not in skip]
        if "vars" in group:
            v = group["vars"]
            keys = sorted((k for k in v if isinstance(v[k], h5py.Dataset)), key=_natural)
            prefix = f"{path}/vars" if path else "vars"
            name = v.attrs.get("name", path.split("/")[-1] if path else "")
            name = name.decode() if isinstance(name, bytes) else str(name)
            yield path, name, [(f"{prefix}/{k}", v[k]) for k in keys]
        if order == "name":
            children.sort(key=_natural)
        elif "vars" in group:      # an object: its layer list first, then attributes A-Z
            children.sort(key=lambda k: (k not in _CONTAINERS,
                                         "~" + k if k.startswith("_") else k))
        else:                      # a list of layers: in the order they were written
            children.sort(key=lambda k: (first.get(f"{path}/{k}" if path else k, np.inf),
                                         _natural(k)))
        for k in children:
            yield from walk(group[k], f"{path}/{k}" if path else k)

    yield from walk(f, "")


def _layers(f, order, skip):
    if order not in ("file", "name"):
        raise ValueError(f"order must be 'file' or 'name', got {order!r}")
    if keras_h5_format(f) == "keras2":
        return _layers_keras2(f, order)
    return _layers_keras3(f, order, skip)


def keras_h5_layers(path, order="file", skip=TRAINING_STATE, with_empty=False):
    """The layers of a Keras weights file, each with its weights in order.

    ``name`` is the Keras layer name (``block1_conv1``) when the file records it, ``path``
    the group in the file. Layers without weights (pooling) are left out unless
    ``with_empty``.
    """
    out = []
    with _open(path) as f:
        for group_path, name, items in _layers(f, order, skip):
            if items or with_empty:
                out.append(KerasLayer(group_path, name,
                                      OrderedDict((k, _read(ds)) for k, ds in items)))
    return out


def read_keras_h5(path, order="file", skip=TRAINING_STATE):
    """Every weight of a Keras file: ``OrderedDict`` path-in-file → NumPy array.

    Keys are the dataset paths (``conv1/conv1/kernel:0`` in Keras 2,
    ``block1/layers/conv2d/vars/0`` in Keras 3), in the model's order (see the module
    docstring for ``order``). ``skip``: top-level groups left out (training state).
    """
    out = OrderedDict()
    with _open(path) as f:
        for _, _, items in _layers(f, order, skip):
            for key, ds in items:
                out[key] = _read(ds)
    if not out:
        raise KerasFormatError(f"{path}: no weights found")
    return out
