"""Pretrained weights from PyTorch and Keras into minicnn modules: layouts and names.

Three steps, each usable alone.

1. **Layout and role** (:func:`convert_weights`): every source tensor gets minicnn's layout
   and parameter name. Conversion happens once, here, at load time, never per call.

   source                     stored as                        minicnn
   -------------------------  -------------------------------  ------------------------------
   torch Conv1d/2d/3d weight  (n_C, n_C_prev/g, f...)          W (f..., n_C_prev/g, n_C)
   torch depthwise weight     (n_C·k, 1, f_H, f_W)             W (f_H, f_W, 1, n_C·k)
   torch ConvTranspose2d      (n_C_in, n_C_out, f_H, f_W)      W (f_H, f_W, n_C_out, n_C_in)
   torch Linear weight        (out, in)                        W (in, out)
   torch bias                 (n,)                             b  (beta in a norm layer)
   torch BatchNorm            weight, bias, running_mean/var   gamma, beta, running_mean/var
   torch num_batches_tracked  ()                               dropped
   Keras Conv / Dense kernel  HWIO / (in, out)                 W, unchanged
   Keras DepthwiseConv2D      (f_H, f_W, n_C, k)               W (f_H, f_W, 1, n_C·k), reshaped
   Keras BatchNormalization   gamma, beta, moving_mean/var     gamma, beta, running_mean/var

   A torch module counts as a norm layer when it has running statistics or a 1-D weight.
   torch names keep their module path (``features.0.weight`` → ``features.0.W``). Keras 2
   names become ``layer.W``; Keras 3 files number their variables, so roles are inferred
   per layer from the shapes (kernel + bias, or the four BatchNorm vectors) and the module
   path drops the ``layers``/``vars`` levels (``block1/layers/conv2d/vars/0`` →
   ``block1.conv2d.W``). Random-seed state of Keras 3 dropout layers is dropped.

2. **Names** (``mapping``): ``None`` keeps the converted names; a dict maps full names
   (source ``features.0.weight`` or converted ``features.0.W``) or module prefixes
   (``{"features.0": "conv1"}``; ``None`` drops); a callable maps each converted name to
   the model's name (or ``None`` to drop it); ``"order"`` pairs the i-th source tensor
   with the i-th tensor of the model.

   Matching by order is how weights move between frameworks when the two models are built
   the same way: torch lists a module's parameters then its buffers, module by module in
   registration order; Keras lists each layer's variables in the order it created them
   (kernel, bias; gamma, beta, moving mean, moving variance), layers in model order; a
   minicnn module lists them as torch does. Every pair is checked for shape after
   conversion, so a model built differently fails loudly instead of loading nonsense.
   (safetensors files written by the ``safetensors`` package are sorted by dtype and name,
   so match those by name.)

3. **Loading** (:func:`load_into`): into a :class:`~minicnn.nn.Module` (through its
   parameters and buffers) or into a plain dict name → array. Every problem is reported in
   one :class:`WeightMismatchError`: the missing, the unexpected and the wrong-shaped keys.

One thing conversion cannot know: the first Linear after a Flatten. torch flattens
``(n_C, n_H, n_W)`` and minicnn ``(n_H, n_W, n_C)``, so that Linear's rows must be
reordered once: :func:`nchw_flatten_to_nhwc`. Keras flattens channels-last already.
BatchNorm ``eps`` is not a weight: Keras uses 1e-3, torch 1e-5; build the layer to match.
"""
from __future__ import annotations

import re
from collections import OrderedDict, namedtuple

import numpy as np

from ..autograd import Tensor
from ..backend import to_numpy

__all__ = ["convert_weights", "rename", "load_into", "nchw_flatten_to_nhwc", "describe",
           "target_order", "LoadReport", "WeightMismatchError", "LAYOUTS"]

LAYOUTS = ("torch", "keras", "minicnn")

# torch weight (out, in, f...) -> minicnn (f..., in, out), by number of dimensions
_TORCH_TO_MINICNN = {2: (1, 0), 3: (2, 1, 0), 4: (2, 3, 1, 0), 5: (2, 3, 4, 1, 0)}
_KERAS_ROLES = {"kernel": "W", "depthwise_kernel": "W", "bias": "b", "gamma": "gamma",
                "beta": "beta", "moving_mean": "running_mean",
                "moving_variance": "running_var"}
_KERAS_CONTAINERS = ("layers", "_layer_checkpoint_dependencies")
_KERAS_SKIP = ("seed_generator", "_seed_generator")


class WeightMismatchError(KeyError):
    """Source and model disagree: missing, unexpected or wrong-shaped keys (all listed)."""

    def __str__(self):                        # KeyError would print the message quoted
        return str(self.args[0]) if self.args else ""


LoadReport = namedtuple("LoadReport", ["loaded", "missing", "unexpected"])
LoadReport.__doc__ = ("What load_into did: loaded (model name -> source name), missing "
                      "(model names not loaded), unexpected (source names not used).")


class _Entry:
    """One converted tensor and where it came from (for error messages)."""
    __slots__ = ("name", "array", "source", "source_shape")

    def __init__(self, name, array, source, source_shape):
        self.name, self.array, self.source, self.source_shape = name, array, source, source_shape

    def origin(self):
        return f"{self.source} {tuple(self.source_shape)}"


def _as_array(value):
    if isinstance(value, Tensor):
        value = value.data
    return to_numpy(value)


# ------------------------------------------------------------------ step 1: layout and role
def _split(name, sep="."):
    head, _, leaf = name.rpartition(sep)
    return head, leaf


def _torch_entries(weights):
    by_module = OrderedDict()
    for name, value in weights.items():
        by_module.setdefault(_split(name)[0], {})[_split(name)[1]] = _as_array(value)
    out = []
    for name, value in weights.items():
        module, leaf = _split(name)
        a = _as_array(value)
        siblings = by_module[module]
        is_norm = ("running_mean" in siblings or "running_var" in siblings
                   or np.ndim(siblings.get("weight", np.zeros((0, 0)))) == 1)
        new = leaf
        if leaf == "num_batches_tracked":
            continue
        if leaf == "weight" and is_norm:
            new = "gamma"
        elif leaf == "bias" and is_norm:
            new = "beta"
        elif leaf == "weight":
            new = "W"
            if a.ndim in _TORCH_TO_MINICNN:
                a = np.ascontiguousarray(a.transpose(_TORCH_TO_MINICNN[a.ndim]))
        elif leaf == "bias":
            new = "b"
        out.append(_Entry(f"{module}.{new}" if module else new, a, name, np.shape(value)))
    return out


def _keras3_roles(shapes):
    """Roles of a Keras 3 layer's numbered variables, inferred from their shapes."""
    n = len(shapes)
    if n == 2 and len(shapes[0]) >= 2 and len(shapes[1]) == 1:
        return ["W", "b"]
    if n == 1 and len(shapes[0]) >= 2:
        return ["W"]
    if n == 4 and all(len(s) == 1 and s == shapes[0] for s in shapes):
        return ["gamma", "beta", "running_mean", "running_var"]
    return None


def _keras_entries(weights):
    out, groups = [], OrderedDict()
    for name, value in weights.items():
        parts = name.split("/")
        if any(p in _KERAS_SKIP for p in parts):
            continue
        a = _as_array(value)
        if "vars" in parts[:-1]:                         # Keras 3: .../vars/<i>
            i = len(parts) - 1 - parts[::-1].index("vars")
            module = [p for p in parts[:i] if p not in _KERAS_CONTAINERS]
            groups.setdefault("/".join(parts[:i]), []).append(len(out))
            out.append(_Entry(".".join(module + parts[i + 1:]), a, name, a.shape))
            continue
        layer, rest = parts[0], parts[1:]                # Keras 2: layer/layer/kernel:0
        if rest and rest[0] == layer:
            rest = rest[1:]
        rest = [re.sub(r":\d+$", "", p) for p in rest] or [""]
        role = _KERAS_ROLES.get(rest[-1], rest[-1])
        if rest[-1] == "depthwise_kernel" and a.ndim == 4:       # (f, f, C, k) -> (f, f, 1, C·k)
            a = a.reshape(a.shape[0], a.shape[1], 1, a.shape[2] * a.shape[3])
        out.append(_Entry(".".join([layer] + rest[:-1] + [role]), a, name, np.shape(value)))
    for members in groups.values():
        roles = _keras3_roles([out[j].array.shape for j in members])
        if roles:
            for j, role in zip(members, roles):
                out[j].name = _split(out[j].name)[0] + "." + role
    return out


def _entries(weights, layout):
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    if not hasattr(weights, "items"):
        raise TypeError(f"weights must be a dict name -> array, got {type(weights).__name__}")
    if layout == "torch":
        return _torch_entries(weights)
    if layout == "keras":
        return _keras_entries(weights)
    return [_Entry(k, _as_array(v), k, np.shape(v)) for k, v in weights.items()]


def convert_weights(weights, layout="torch"):
    """Source ``{name: array}`` → ``OrderedDict`` in minicnn's names and layouts (step 1)."""
    out = OrderedDict()
    for e in _entries(weights, layout):
        out[e.name] = e.array
    return out


# ------------------------------------------------------------------ step 2: names
def _rename_entries(entries, mapping):
    if mapping is None:
        return entries
    if callable(mapping):
        for e in entries:
            e.name = mapping(e.name)
        return [e for e in entries if e.name is not None]
    if not isinstance(mapping, dict):
        raise TypeError(f"mapping must be None, 'order', a dict or a callable, got {mapping!r}")
    prefixes = sorted(mapping, key=len, reverse=True)
    kept = []
    for e in entries:
        if e.source in mapping:
            e.name = mapping[e.source]
        elif e.name in mapping:
            e.name = mapping[e.name]
        else:
            for p in prefixes:
                if e.name.startswith(p + "."):
                    e.name = None if mapping[p] is None else mapping[p] + e.name[len(p):]
                    break
        if e.name is not None:
            kept.append(e)
    return kept


def rename(weights, mapping, layout="minicnn"):
    """``weights`` converted (``layout``) and renamed by ``mapping`` (dict or callable)."""
    return OrderedDict((e.name, e.array)
                       for e in _rename_entries(_entries(weights, layout), mapping))


# ------------------------------------------------------------------ step 3: loading
def target_order(module):
    """A module's parameters and buffers in torch's ``state_dict`` order: module by module
    (depth first, in registration order), each module's parameters then its buffers."""
    own = OrderedDict(list(module.named_parameters()) + list(module.named_buffers()))
    ordered = OrderedDict()
    for prefix, m in module.named_modules():
        for table in (m._parameters, m._buffers):
            for k, t in table.items():
                name = f"{prefix}.{k}" if prefix else k
                if t is not None and name in own and name not in ordered:
                    ordered[name] = own[name]
    return ordered


def _fit(e, shape, layout):
    """The array reshaped to ``shape`` where a known layout difference allows, else None."""
    a = e.array
    if a.shape == shape:
        return a
    # Keras 3 depthwise kernels (f, f, C, k) carry no name to recognise them by, only shape.
    if (layout == "keras" and a.ndim == 4 and len(shape) == 4 and shape[2] == 1
            and a.shape[:2] == shape[:2] and a.shape[2] * a.shape[3] == shape[3]):
        return a.reshape(shape)
    return None


def _mismatch(kind, missing, unexpected, wrong, hint=None):
    lines = [f"loading weights into {kind} failed:"]
    if missing:
        lines.append(f"  missing keys ({len(missing)}): " + ", ".join(missing[:20])
                     + (" ..." if len(missing) > 20 else ""))
    if unexpected:
        lines.append(f"  unexpected keys ({len(unexpected)}): " + ", ".join(unexpected[:20])
                     + (" ..." if len(unexpected) > 20 else ""))
    if wrong:
        lines.append(f"  wrong shapes ({len(wrong)}):")
        lines.extend("    " + w for w in wrong[:20])
    if hint:
        lines.append("  " + hint)
    return WeightMismatchError("\n".join(lines))


def load_into(module, weights, mapping=None, strict=True, layout="torch"):
    """Convert ``weights`` and copy them into ``module``; returns a :class:`LoadReport`.

    module   a minicnn ``Module``, or a dict name → array (its values are replaced by
             the converted arrays, cast to each entry's dtype)
    weights  dict name → array as read from a file (``read_pth_state_dict``,
             ``read_keras_h5``, ``load_safetensors``)
    mapping  None (names as converted), a dict, a callable, or ``"order"`` (see the
             module docstring)
    strict   missing or unexpected keys are errors; with ``strict=False`` they are
             skipped (by order: the shorter list decides). Wrong shapes are always errors.
    layout   ``"torch"``, ``"keras"`` or ``"minicnn"`` (already converted)

    Values are cast to the model's dtype (float16 weights load into a float32 model).
    """
    is_module = hasattr(module, "named_parameters")
    if is_module:
        target = target_order(module)
        shapes = OrderedDict((k, tuple(t.shape)) for k, t in target.items())
        kind = type(module).__name__
    elif isinstance(module, dict):
        shapes = OrderedDict((k, tuple(np.shape(v))) for k, v in module.items())
        kind = "a dict"
    else:
        raise TypeError(f"load_into: module must be a Module or a dict, got "
                        f"{type(module).__name__}")
    entries = _entries(weights, layout)
    by_order = isinstance(mapping, str)
    if by_order:
        if mapping != "order":
            raise ValueError(f"mapping must be None, 'order', a dict or a callable, "
                             f"got {mapping!r}")
        pairs, missing, unexpected = _pair_by_order(entries, shapes, strict, kind, layout)
    else:
        pairs, missing, unexpected = _pair_by_name(_rename_entries(entries, mapping), shapes)

    wrong, values = [], OrderedDict()
    for i, (name, e) in enumerate(pairs):
        a = _fit(e, shapes[name], layout)
        if a is None:
            wrong.append((f"#{i} " if by_order else "") + f"{name}: model {shapes[name]}, got "
                         f"{tuple(e.array.shape)} from {e.origin()}")
        else:
            values[name] = a
    if wrong or (strict and (missing or unexpected)):
        hint = None
        if mapping is None and missing and unexpected:
            hint = ("the names differ: pass mapping= (a dict of prefixes, a callable) or "
                    "mapping='order' if both models list their tensors in the same order")
        raise _mismatch(kind + (" by order" if by_order else ""), missing, unexpected, wrong,
                        hint)

    if is_module:
        module.load_state_dict(values, strict=False)
    else:
        for name, a in values.items():
            module[name] = np.array(a, dtype=np.asarray(module[name]).dtype)
    loaded = OrderedDict((name, e.source) for name, e in pairs)
    return LoadReport(loaded, missing, unexpected)


def _pair_by_name(entries, shapes):
    seen, pairs, unexpected = {}, [], []
    for e in entries:
        if e.name in seen:
            raise WeightMismatchError(f"load_into: {e.source} and {seen[e.name]} both map to "
                                      f"{e.name!r}")
        seen[e.name] = e.source
        if e.name in shapes:
            pairs.append((e.name, e))
        else:
            unexpected.append(e.name if e.name == e.source else f"{e.name} (from {e.source})")
    missing = [k for k in shapes if k not in seen]
    return pairs, missing, unexpected


def _pair_by_order(entries, shapes, strict, kind, layout):
    names = list(shapes)
    n = min(len(entries), len(names))
    pairs = list(zip(names[:n], entries[:n]))
    missing = names[n:]
    unexpected = [e.source for e in entries[n:]]
    if strict and (missing or unexpected):
        wrong = [f"#{i} {name}: model {shapes[name]}, got {tuple(e.array.shape)} from "
                 f"{e.origin()}"
                 for i, (name, e) in enumerate(pairs) if _fit(e, shapes[name], layout) is None]
        raise _mismatch(f"{kind} by order", missing, unexpected, wrong[:5],
                        f"the source has {len(entries)} tensors, the model {len(names)}; "
                        "with strict=False the first "
                        f"{n} are paired")
    return pairs, missing, unexpected


# ------------------------------------------------------------------ helpers
def nchw_flatten_to_nhwc(W, n_C, n_H, n_W):
    """Reorder the rows of a Linear ``W (n_C·n_H·n_W, out)`` that follows a Flatten.

    torch flattens ``(n_C, n_H, n_W)``: row ``c·n_H·n_W + h·n_W + w``. minicnn flattens
    ``(n_H, n_W, n_C)``: row ``(h·n_W + w)·n_C + c``. Same weights, rows permuted once.
    """
    W = _as_array(W)
    if W.ndim != 2 or W.shape[0] != n_C * n_H * n_W:
        raise ValueError(f"nchw_flatten_to_nhwc: W must be (n_C*n_H*n_W={n_C * n_H * n_W}, "
                         f"out) in minicnn layout, got {W.shape}")
    out = W.shape[1]
    return np.ascontiguousarray(W.reshape(n_C, n_H, n_W, out).transpose(1, 2, 0, 3)
                                .reshape(n_H * n_W * n_C, out))


def describe(weights, limit=None):
    """A readable table of names, shapes and dtypes (what a file holds)."""
    items = list(weights.items())
    rows = [f"{name:<50} {str(tuple(np.shape(a))):<22} {np.asarray(a).dtype}"
            for name, a in items[:limit]]
    total = sum(int(np.prod(np.shape(a))) for _, a in items)
    if limit is not None and len(items) > limit:
        rows.append(f"... {len(items) - limit} more")
    rows.append(f"{len(items)} tensors, {total:,} numbers")
    return "\n".join(rows)
