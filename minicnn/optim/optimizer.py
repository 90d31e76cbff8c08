"""``Optimizer``: the base class of SGD, RMSprop, Adam and AdamW.

An optimiser holds *parameter groups* (a list of dicts, each with its own ``"params"``
and hyper-parameters such as ``"lr"``) and a per-parameter *state* (momentum buffers,
moment estimates, step counts). ``step()`` reads each parameter's ``grad`` and updates
its ``data`` in place; no graph is recorded, because updating weights is not part of
the function being differentiated.

A learning-rate scheduler changes ``optimizer.param_groups[i]["lr"]`` between steps.

``state_dict()`` is what a checkpoint stores::

    {"state": {0: {"step": 3, "exp_avg": array, ...}, 1: {...}},      # by parameter index
     "param_groups": [{"lr": 0.001, "betas": (0.9, 0.999), ..., "params": [0, 1]}]}

Parameters are numbered in the order of the groups, so the same model built again gets
the same numbers. Arrays in it are host (NumPy) copies; ``load_state_dict`` moves them
back onto each parameter's device.
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import backend
from ..autograd import Tensor

__all__ = ["Optimizer"]


class Optimizer:
    """Base class. Subclasses call ``super().__init__(params, defaults)`` and define
    ``update(p, dW, state, group)``, which changes ``p.data`` in place.

    ``params`` is an iterable of parameters (``model.parameters()``) or of dicts, each one
    parameter group: ``[{"params": backbone.parameters(), "lr": 1e-4}, {"params": head.parameters()}]``;
    keys a group leaves out take the values given to the constructor.
    """

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        self.param_groups: list[dict] = []
        self.state: dict = {}        # parameter -> its state dict (Tensors hash by identity)
        if isinstance(params, Tensor):
            raise TypeError(f"{type(self).__name__}: params must be an iterable of parameters "
                            "(e.g. model.parameters() or [W, b]), got one Tensor")
        if hasattr(params, "parameters") and hasattr(params, "state_dict"):
            raise TypeError(f"{type(self).__name__}: params got a {type(params).__name__} "
                            "module; pass model.parameters()")
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        for group in groups:
            self.add_param_group(group)

    # ------------------------------------------------------------ groups
    def add_param_group(self, group: dict) -> None:
        """Add a group of parameters with its own hyper-parameters (e.g. a smaller lr)."""
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError(f"{type(self).__name__}: a parameter group must be a dict with a "
                            f"'params' key, got {type(group).__name__}")
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{type(self).__name__}: params[{i}] is a "
                                f"{type(p).__name__}, expected a Parameter or Tensor")
            if not np.issubdtype(p.dtype, np.floating):
                raise TypeError(f"{type(self).__name__}: params[{i}] has dtype {p.dtype}; only "
                                "floating-point tensors can be optimised")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params) or len({id(p) for p in params}) != len(params):
            raise ValueError(f"{type(self).__name__}: a parameter appears in more than one "
                             "group (or twice in one); each parameter must be listed once")
        unknown = set(group) - set(self.defaults) - {"params", "initial_lr"}
        if unknown:
            raise ValueError(f"{type(self).__name__}: unknown hyper-parameter(s) "
                             f"{sorted(unknown)} in a parameter group; expected some of "
                             f"{sorted(self.defaults)}")
        full = dict(self.defaults)
        full.update({k: v for k, v in group.items() if k != "params"})
        full["params"] = params
        self.param_groups.append(full)

    def _params(self):
        for group in self.param_groups:
            for p in group["params"]:
                yield group, p

    # ------------------------------------------------------------ stepping
    def zero_grad(self) -> None:
        """Forget every parameter's gradient (``grad = None``) before the next backward."""
        for _, p in self._params():
            p.grad = None

    def step(self) -> None:
        """Update every trainable parameter that has a gradient, in place.

        Frozen parameters (``requires_grad`` False) and those whose ``grad`` is None
        (not reached by the last backward) are skipped and their state is untouched.
        """
        for group, p in self._params():
            if p.grad is None or not p.requires_grad:
                continue
            self.update(p, p.grad, self.state.setdefault(p, {}), group)

    def update(self, p: Tensor, dW, state: dict, group: dict) -> None:
        raise NotImplementedError(f"{type(self).__name__} must define update()")

    # ------------------------------------------------------------ state
    def state_dict(self) -> dict:
        """Hyper-parameters and per-parameter state, with arrays copied to the host."""
        index = {}
        groups = []
        for group in self.param_groups:
            g = {k: v for k, v in group.items() if k != "params"}
            g["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(g)
        state = {}
        for _, p in self._params():
            if p in self.state:
                state[index[id(p)]] = {k: (backend.to_numpy(v).copy() if _is_array(v) else v)
                                       for k, v in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore hyper-parameters and state saved by :meth:`state_dict`.

        The optimiser must have been built over parameters of the same shapes, in the same
        group structure. Arrays go to each parameter's device, floating ones in its dtype.
        """
        name = type(self).__name__
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{name}.load_state_dict: the state has {len(saved_groups)} "
                             f"parameter group(s), this optimiser {len(self.param_groups)}")
        params = {}
        for i, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"{name}.load_state_dict: group {i} has "
                                 f"{len(saved['params'])} parameter(s) in the state, "
                                 f"{len(group['params'])} here")
            params.update({int(k): p for k, p in zip(saved["params"], group["params"])})
        new_state = {}
        for key, s in state_dict["state"].items():
            p = params[int(key)]          # keys may be strings after other serialisers
            restored = {}
            for k, v in s.items():
                if _is_array(v) or isinstance(v, Tensor):
                    v = backend.to_numpy(v.data if isinstance(v, Tensor) else v)
                    if np.ndim(v) and tuple(np.shape(v)) != p.shape:
                        raise ValueError(f"{name}.load_state_dict: state '{k}' of parameter "
                                         f"{key} has shape {np.shape(v)}, the parameter {p.shape}")
                    if np.issubdtype(v.dtype, np.floating):
                        v = v.astype(p.dtype)
                    v = backend.to_device(np.array(v, copy=True), p.device)
                restored[k] = v
            new_state[p] = restored
        for saved, group in zip(saved_groups, self.param_groups):
            group.update({k: _plain(v) for k, v in saved.items() if k != "params"})
        self.state = new_state

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"  group {i}: {len(group['params'])} parameter(s)")
            lines.extend(f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params")
        return "\n".join(lines) + "\n)"


def _is_array(v) -> bool:
    return hasattr(v, "shape") and hasattr(v, "dtype") and not isinstance(v, numbers.Number)


def _plain(v):
    """Hyper-parameters as Python numbers (a NumPy float64 scalar would upcast float32)."""
    if isinstance(v, list):
        return tuple(_plain(x) for x in v)       # betas come back from JSON as lists
    if isinstance(v, tuple):
        return tuple(_plain(x) for x in v)
    if isinstance(v, np.generic):
        return v.item()
    return v
