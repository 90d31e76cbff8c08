"""``summary(model, input_shape)``: a table of layers, output shapes, parameters and FLOPs.

How it works: a forward and a post hook are put on every module
(:meth:`Module.register_forward_pre_hook`), one batch of random inputs is run under
``no_grad`` in evaluation mode, and each call of a module becomes a row. The model's
modes (train/eval) are restored afterwards and its running statistics are untouched.

Conventions (state them when quoting numbers):

- ``input_shape`` is the shape of **one example, without the batch axis**, e.g.
  ``(32, 32, 3)``; the forward runs on a batch of ``batch_size`` (default 1). A model
  that takes several inputs gets a list of shapes.
- **FLOPs are per example, and a multiply-add counts as 2 FLOPs** (FLOPs = 2·MACs).
  Conv: 2·n_H·n_W·n_C·f_H·f_W·n_C_prev/groups; Linear: 2·n_in·n_out. Bias adds are
  not counted; pooling counts one operation per window element and output,
  activations one per value, BatchNorm two per value (its evaluation-mode scale and
  shift); reshapes, padding, dropout count 0. A layer tells its cost through a
  ``flops(x_shape, y_shape)`` method; a custom layer without one shows "?" and is left
  out of the total. Ops written directly in a block's ``forward`` (e.g. the residual
  addition) are not counted.
- **Non-trainable parameters** are frozen parameters plus floating-point buffers (such
  as BatchNorm's running mean and variance), as Keras counts them.

Rows are the leaf modules (those without sub-modules) by default; ``depth=d`` shows
the modules d levels down instead, each with the parameters and FLOPs of its whole
subtree. A module may add columns to its row with a ``summary_notes(x_shape, y_shape)
-> dict`` method (e.g. a depthwise-separable block's cost ratio); the table shows every
key any row has. In the default leaf view such a block also gets a header row just
before its layers, with its notes and output shape but no counts of its own (its
layers carry them), so sums over ``r.is_leaf`` rows stay exact.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..autograd import Tensor, no_grad
from .module import Module

__all__ = ["summary", "Summary", "SummaryRow"]


@dataclass
class SummaryRow:
    """One call of one module. Shapes include the batch axis; ``flops`` is per example
    (None when unknown); ``notes`` holds any extra columns."""
    name: str
    type: str
    depth: int
    is_leaf: bool
    input_shape: object
    output_shape: object
    trainable: int = 0
    non_trainable: int = 0
    flops: int | None = None
    notes: dict = field(default_factory=dict)
    has_notes: bool = False     # the module defines summary_notes()

    @property
    def params(self) -> int:
        return self.trainable + self.non_trainable


@dataclass
class Summary:
    """What :func:`summary` found: ``rows`` (the shown ones, in call order), all the
    ``calls`` recorded, and the totals. ``str(s)`` is the table."""
    rows: list
    calls: list
    depth: int | None
    input_shape: object
    batch_size: int
    trainable_params: int
    non_trainable_params: int
    total_flops: int
    flops_unknown: list

    @property
    def total_params(self) -> int:
        return self.trainable_params + self.non_trainable_params

    def __repr__(self):
        return (f"<Summary: {len(self.rows)} rows, {self.total_params:,} parameters, "
                f"{_si(self.total_flops)} FLOPs per example>")

    def __str__(self):
        m = self.batch_size
        note_keys = list(dict.fromkeys(k for r in self.rows for k in r.notes))
        head = ["Layer (type)", "Output shape", "Trainable", "Non-trainable", "FLOPs"] + note_keys
        body = [[f"{r.name} ({r.type})" if r.name else r.type,
                 _shape_str(r.output_shape, m)]
                + (["", "", ""] if self.depth is None and not r.is_leaf else   # a header row
                   [f"{r.trainable:,}", f"{r.non_trainable:,}",
                    "?" if r.flops is None else _si(r.flops)])
                + [str(r.notes.get(k, "")) for k in note_keys] for r in self.rows]
        widths = [max(len(row[i]) for row in [head] + body) for i in range(len(head))]
        left = {0, 1}

        def line(cells):
            return "  ".join(c.ljust(w) if i in left else c.rjust(w)
                             for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

        rule = "=" * len(line(head))
        out = [line(head), rule] + [line(b) for b in body] + [rule]
        out.append(f"Total params: {self.total_params:,} (trainable {self.trainable_params:,},"
                   f" non-trainable {self.non_trainable_params:,})")
        exact = f" = {self.total_flops:,}" if self.total_flops >= 1000 else ""
        out.append(f"FLOPs per example: {_si(self.total_flops)}{exact} (a multiply-add "
                   "counts as 2)")
        if self.flops_unknown:
            out.append("FLOPs unknown (no flops() method, not in the total): "
                       + ", ".join(self.flops_unknown))
        out.append(f"Input: {_shape_str(_batched(self.input_shape, m), m)}, m = {m}")
        return "\n".join(out)


def _si(n) -> str:
    for unit, k in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= k:
            return f"{n / k:.2f}{unit}"
    return f"{int(n)}"


def _shapes(out):
    if isinstance(out, Tensor):
        return tuple(out.shape)
    if isinstance(out, (tuple, list)):
        return [_shapes(o) for o in out]
    if isinstance(out, dict):
        return {k: _shapes(v) for k, v in out.items()}
    return tuple(getattr(out, "shape", ())) or None


def _shape_str(shape, m) -> str:
    """(1, 16, 16, 8) → "(m, 16, 16, 8)": the batch axis in course notation."""
    if isinstance(shape, list):
        return "[" + ", ".join(_shape_str(s, m) for s in shape) + "]"
    if isinstance(shape, dict):
        return "{" + ", ".join(f"{k}: {_shape_str(s, m)}" for k, s in shape.items()) + "}"
    if not shape:
        return str(shape)
    dims = ["m" if (i == 0 and n == m) else str(n) for i, n in enumerate(shape)]
    return "(" + ", ".join(dims) + ")"


def _batched(input_shape, m):
    if input_shape and isinstance(input_shape[0], (tuple, list)):
        return [(m,) + tuple(s) for s in input_shape]
    return (m,) + tuple(input_shape)


def _count(module: Module):
    """(trainable, non-trainable) over a module's subtree."""
    trainable = non_trainable = 0
    for p in module.parameters():
        if p.requires_grad:
            trainable += p.size
        else:
            non_trainable += p.size
    for b in module.buffers():
        if np.issubdtype(b.dtype, np.floating):
            non_trainable += b.size
    return trainable, non_trainable


def summary(model: Module, input_shape, batch_size=1, depth=None, dtype=None, device=None,
            print_fn=print) -> Summary:
    """Run one batch through ``model`` and tabulate every layer (see the module docstring).

    Parameters
    ----------
    input_shape : one example's shape, without the batch axis, e.g. ``(32, 32, 3)``; a
        list of shapes for a model with several inputs.
    batch_size : the m of the batch that is run (output shapes are shown with "m").
    depth : None for the leaf layers; an int for the modules that many levels down.
    dtype, device : of the random input; default the model's first parameter's.
    print_fn : called with the table (default ``print``); None prints nothing.

    Returns a :class:`Summary` (rows and totals; ``str()`` gives the table again).
    """
    if not isinstance(model, Module):
        raise TypeError(f"summary: model must be a minicnn.nn.Module, got "
                        f"{type(model).__name__}")
    multi = bool(input_shape) and isinstance(input_shape[0], (tuple, list))
    shapes = [tuple(s) for s in input_shape] if multi else [tuple(input_shape)]
    for s in shapes:
        if not all(isinstance(n, (int, np.integer)) and n > 0 for n in s):
            raise ValueError(f"summary: input_shape must be one example's shape (positive "
                             f"ints, no batch axis), e.g. (32, 32, 3); got {input_shape!r}")
    params = model.parameters()
    if dtype is None:
        dtype = params[0].dtype if params else np.float32
    if device is None:
        device = model.device
    rng = np.random.default_rng(0)      # not the global generator: summary changes no state
    xs = [Tensor(rng.standard_normal((batch_size,) + s).astype(dtype), device=device)
          for s in shapes]

    names = {id(mod): name for name, mod in model.named_modules()}
    calls, stack, seen = [], [], set()

    def pre(mod, inputs):
        stack.append({"flops": 0, "unknown": False, "index": len(calls)})
        calls.append(None)          # keeps rows in call order (a container before its layers)

    def post(mod, inputs, out):
        frame = stack.pop()
        leaf = next(mod.children(), None) is None
        x_shape = _shapes(inputs[0]) if inputs else None
        y_shape = _shapes(out)
        if leaf:
            fn = getattr(mod, "flops", None)
            flops = fn(x_shape, y_shape) if fn is not None else None
            unknown = flops is None
            if unknown:
                flops_unknown.append(names.get(id(mod)) or type(mod).__name__)
        else:    # a container: the sum over the layers it called
            flops, unknown = frame["flops"], frame["unknown"]
        if stack:
            stack[-1]["flops"] += flops or 0
            stack[-1]["unknown"] |= unknown
        shared = id(mod) in seen
        seen.add(id(mod))
        trainable, non_trainable = (0, 0) if shared else _count(mod)
        notes = {"shared": "yes"} if shared else {}
        if hasattr(mod, "summary_notes"):
            notes.update(mod.summary_notes(x_shape, y_shape))
        calls[frame["index"]] = SummaryRow(
            names.get(id(mod), ""), type(mod).__name__, len(stack), leaf, x_shape, y_shape,
            trainable, non_trainable, None if unknown else flops, notes,
            hasattr(mod, "summary_notes"))

    flops_unknown = []
    modes = [(mod, mod.training) for mod in model.modules()]
    handles = []
    try:
        for mod in model.modules():
            handles.append(mod.register_forward_pre_hook(pre))
            handles.append(mod.register_forward_hook(post))
        model.eval()
        with no_grad():
            try:
                model(*xs)
            except (ValueError, TypeError) as e:
                raise type(e)(f"summary: the forward of a batch of shape "
                              f"{_batched(input_shape, batch_size)} failed: {e}\n(input_shape "
                              "is the shape of one example without the batch axis)") from e
    finally:
        for h in handles:
            h.remove()
        for mod, mode in modes:
            object.__setattr__(mod, "training", mode)

    # Every call of a leaf counts (a layer used twice costs twice); unknown ones are left out.
    total_flops = sum(r.flops for r in calls if r.is_leaf and r.flops is not None)
    if depth is None:
        rows = [r for r in calls if r.is_leaf or r.has_notes]
    else:
        rows = [r for r in calls if r.depth == depth or (r.is_leaf and r.depth < depth)]
    trainable, non_trainable = _count(model)
    result = Summary(rows, calls, depth, tuple(input_shape) if not multi else shapes, batch_size,
                     trainable, non_trainable, total_flops, flops_unknown)
    if print_fn is not None:
        print_fn(str(result))
    return result

