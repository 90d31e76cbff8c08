"""``Module``, ``Parameter``, ``Sequential``, ``ModuleList``: the containers of a network.

A ``Module`` owns parameters (tensors the optimiser updates), buffers (state that is
saved but not trained, such as BatchNorm's running mean) and sub-modules. Assigning
one as an attribute registers it, so ``parameters()``, ``state_dict()``, ``to()``
and ``train()``/``eval()`` reach the whole tree, as in PyTorch.
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

from .. import backend
from ..autograd import Tensor

__all__ = ["Parameter", "Module", "Sequential", "ModuleList"]


class Parameter(Tensor):
    """A tensor that is a learnable weight of a module (``requires_grad=True`` by default)."""

    def __init__(self, data, requires_grad=True, dtype=None, device=None):
        super().__init__(data, requires_grad=requires_grad, dtype=dtype, device=device)

    def __repr__(self):
        return "Parameter" + super().__repr__()[len("Tensor"):]


class Module:
    """Base class of every layer, block and model.

    Subclasses set parameters and sub-modules as attributes in ``__init__`` and define
    ``forward``. Calling the module calls ``forward``.
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())

    # ------------------------------------------------------------ registry
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before "
                                 "assigning attributes")
        for table in (self._parameters, self._buffers, self._modules):
            table.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        else:
            object.__setattr__(self, name, value)
            return
        self.__dict__.pop(name, None)

    def __getattr__(self, name):
        d = self.__dict__
        for table in ("_parameters", "_buffers", "_modules"):
            if table in d and name in d[table]:
                return d[table][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for table in (self._parameters, self._buffers, self._modules):
            if name in table:
                del table[name]
                return
        object.__delattr__(self, name)

    def register_buffer(self, name, value):
        """Keep ``value`` (an array or Tensor, or None) as saved, untrained state."""
        if value is not None and not isinstance(value, Tensor):
            value = Tensor(value)
        self.__dict__.pop(name, None)
        self._buffers[name] = value

    def add_module(self, name, module):
        if not isinstance(module, Module) and module is not None:
            raise TypeError(f"add_module: {name} must be a Module, got {type(module).__name__}")
        self._modules[name] = module

    # ------------------------------------------------------------ traversal
    def named_modules(self, prefix=""):
        """(name, module) for this module and every sub-module, depth first."""
        stack = [(prefix, self)]
        seen = set()
        while stack:
            name, m = stack.pop()
            if id(m) in seen:
                continue
            seen.add(id(m))
            yield name, m
            children = [(f"{name}.{k}" if name else k, c) for k, c in m._modules.items()
                        if c is not None]
            stack.extend(reversed(children))

    def modules(self):
        return (m for _, m in self.named_modules())

    def children(self):
        return (m for m in self._modules.values() if m is not None)

    def named_children(self):
        return ((k, m) for k, m in self._modules.items() if m is not None)

    def named_parameters(self, prefix="", recurse=True):
        seen = set()
        mods = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mname, m in mods:
            for pname, p in m._parameters.items():
                if p is not None and id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{mname}.{pname}" if mname else pname), p

    def parameters(self, recurse=True):
        return [p for _, p in self.named_parameters(recurse=recurse)]

    def named_buffers(self, prefix=""):
        for mname, m in self.named_modules(prefix):
            for bname, b in m._buffers.items():
                if b is not None:
                    yield (f"{mname}.{bname}" if mname else bname), b

    def buffers(self):
        return [b for _, b in self.named_buffers()]

    # ------------------------------------------------------------ modes
    def train(self, mode=True):
        """Training mode (dropout on, BatchNorm uses batch statistics) for the whole tree.
        Frozen sub-modules (see :meth:`freeze`) stay in evaluation mode."""
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode) and not m.__dict__.get("_frozen"))
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self):
        for p in self.parameters():
            p.grad = None

    def freeze(self):
        """Stop training this module: ``backward`` skips its parameters' gradients, and it
        stays in evaluation mode even under ``train()`` (as Keras treats a non-trainable
        layer), so a frozen BatchNorm keeps normalising with, and never updates, its
        running statistics. Transfer learning: ``model.features.freeze()``, new head."""
        for m in self.modules():
            object.__setattr__(m, "_frozen", True)
            object.__setattr__(m, "training", False)
        for p in self.parameters():
            p.requires_grad = False
        return self

    def unfreeze(self):
        """Train this module again (its mode follows the next ``train()``/``eval()``)."""
        for m in self.modules():
            object.__setattr__(m, "_frozen", False)
        for p in self.parameters():
            p.requires_grad = True
        return self

    # ------------------------------------------------------------ devices, dtypes
    def _apply(self, fn):
        for m in self.modules():
            for table in (m._parameters, m._buffers):
                for k, t in table.items():
                    if t is not None:
                        t.data = fn(t.data)
                        if t.grad is not None:
                            t.grad = fn(t.grad)
        return self

    def to(self, device=None, dtype=None):
        """Move every parameter and buffer to ``device`` and/or cast floats to ``dtype``.
        Parameters stay the same objects, so an optimiser made before still holds them."""
        if device is not None:
            device = backend.normalize_device(device)
            self._apply(lambda a: backend.to_device(a, device))
        if dtype is not None:
            self._apply(lambda a: a.astype(dtype) if np.issubdtype(a.dtype, np.floating) else a)
        return self

    def cuda(self):
        return self.to("cuda")

    def cpu(self):
        return self.to("cpu")

    def double(self):
        return self.to(dtype=np.float64)

    def float(self):
        return self.to(dtype=np.float32)

    @property
    def device(self) -> str:
        for p in self.parameters():
            return p.device
        return backend.get_device()

    # ------------------------------------------------------------ state
    def state_dict(self):
        """Name → NumPy array (a host copy) for every parameter and buffer."""
        out = OrderedDict()
        for name, p in self.named_parameters():
            out[name] = backend.to_numpy(p.data).copy()
        for name, b in self.named_buffers():
            out[name] = backend.to_numpy(b.data).copy()
        return out

    def load_state_dict(self, state, strict=True):
        """Copy arrays from ``state`` into this module's parameters and buffers.

        With ``strict`` (default) every key must match and every shape agree; the error
        lists the missing, unexpected and wrong-shaped keys together.
        """
        own = OrderedDict(list(self.named_parameters()) + list(self.named_buffers()))
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        wrong = [f"{k}: checkpoint {tuple(np.shape(state[k]))} vs model {own[k].shape}"
                 for k in own if k in state and tuple(np.shape(state[k])) != own[k].shape]
        if wrong or (strict and (missing or unexpected)):
            lines = [f"load_state_dict into {type(self).__name__} failed:"]
            if missing:
                lines.append(f"  missing keys ({len(missing)}): {', '.join(missing[:20])}")
            if unexpected:
                lines.append(f"  unexpected keys ({len(unexpected)}): "
                             f"{', '.join(unexpected[:20])}")
            if wrong:
                lines.append(f"  wrong shapes ({len(wrong)}): " + "; ".join(wrong[:20]))
            raise KeyError("\n".join(lines))
        for k, t in own.items():
            if k in state:
                value = backend.to_numpy(getattr(state[k], "data", state[k]))
                value = np.asarray(value, dtype=t.dtype)
                t.data = backend.to_device(value.copy(), t.device)
        return self

    # ------------------------------------------------------------ calling
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        pre, post = self.__dict__.get("_forward_pre_hooks"), self.__dict__.get("_forward_hooks")
        for hook in (pre.values() if pre else ()):
            hook(self, args)
        out = self.forward(*args, **kwargs)
        for hook in (post.values() if post else ()):
            result = hook(self, args, out)
            if result is not None:
                out = result
        return out

    # ------------------------------------------------------------ hooks
    def register_forward_pre_hook(self, hook):
        """Call ``hook(module, inputs)`` before every ``forward``; returns a handle whose
        ``remove()`` takes it off again."""
        return _HookHandle(self._forward_pre_hooks, hook)

    def register_forward_hook(self, hook):
        """Call ``hook(module, inputs, output)`` after every ``forward`` (a non-None return
        value replaces the output); returns a handle whose ``remove()`` takes it off again.
        :func:`minicnn.nn.summary` uses these to see each layer's output shape."""
        return _HookHandle(self._forward_hooks, hook)

    def extra_repr(self) -> str:
        return ""

    def __repr__(self):
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        children = list(self.named_children())
        if not children:
            return lines[0] + ")"
        for name, m in children:
            sub = repr(m).replace("\n", "\n  ")
            lines.append(f"  ({name}): {sub}")
        return "\n".join(lines) + "\n)"


class _HookHandle:
    _next_id = 0

    def __init__(self, table, hook):
        _HookHandle._next_id += 1
        self.table, self.id = table, _HookHandle._next_id
        table[self.id] = hook

    def remove(self):
        self.table.pop(self.id, None)


class Sequential(Module):
    """Modules applied one after the other: ``Sequential(conv, relu, pool)(x)``.

    Accepts modules, or one ``OrderedDict`` of name → module.
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], (dict, OrderedDict)):
            for name, m in modules[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(modules):
                self.add_module(str(i), m)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def __getitem__(self, i):
        mods = list(self._modules.values())
        if isinstance(i, slice):
            return Sequential(*mods[i])
        return mods[i]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module):
        self.add_module(str(len(self._modules)), module)
        return self


class ModuleList(Module):
    """A list of modules whose parameters are registered (``forward`` is yours to write)."""

    def __init__(self, modules=()):
        super().__init__()
        for m in modules:
            self.append(m)

    def append(self, module):
        self.add_module(str(len(self._modules)), module)
        return self

    def extend(self, modules):
        for m in modules:
            self.append(m)
        return self

    def __getitem__(self, i):
        mods = list(self._modules.values())
        return ModuleList(mods[i]) if isinstance(i, slice) else mods[i]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())
