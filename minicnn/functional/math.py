"""Elementwise arithmetic, reductions, matmul and shape ops, each a ``Function``.

Notation: ``x``, ``a``, ``b`` are inputs, ``y`` the output, ``dy`` = ∂J/∂y the
gradient arriving from above; each ``backward`` returns ∂J/∂input. Broadcast
inputs get their gradient summed back to their own shape by the engine
(:func:`minicnn.autograd.sum_to`), so elementwise backwards here are one line.
"""
from __future__ import annotations

import builtins

import numpy as np

from .. import backend
from ..autograd import Function, Tensor, as_tensor
from ..backend import get_array_module

__all__ = ["add", "sub", "mul", "div", "neg", "pow", "matmul", "exp", "log", "sqrt", "abs",
           "clip", "maximum", "minimum", "where", "sum", "mean", "max", "min", "reshape",
           "transpose", "flatten", "broadcast_to", "getitem", "concatenate", "stack", "split",
           "pad", "astype", "to_device"]


def _pair(a, b):
    """Both operands as tensors; a Python scalar takes the other operand's dtype."""
    if isinstance(a, Tensor):
        return a, as_tensor(b, like=a)
    b = as_tensor(b)
    return as_tensor(a, like=b), b


# ------------------------------------------------------------------ arithmetic
class Add(Function):
    """y = a + b.  ∂J/∂a = dy, ∂J/∂b = dy (summed over broadcast axes)."""

    def forward(self, a, b):
        return a + b

    def backward(self, dy):
        return dy, dy


class Sub(Function):
    """y = a − b.  ∂J/∂a = dy, ∂J/∂b = −dy."""

    def forward(self, a, b):
        return a - b

    def backward(self, dy):
        return dy, -dy


class Mul(Function):
    """y = a ⊙ b.  ∂J/∂a = dy ⊙ b, ∂J/∂b = dy ⊙ a."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, dy):
        da = dy * self.b if self.needs_input_grad[0] else None
        db = dy * self.a if self.needs_input_grad[1] else None
        return da, db


class Div(Function):
    """y = a / b.  ∂J/∂a = dy / b, ∂J/∂b = −dy ⊙ a / b²."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return a / b

    def backward(self, dy):
        da = dy / self.b if self.needs_input_grad[0] else None
        db = -dy * self.a / (self.b * self.b) if self.needs_input_grad[1] else None
        return da, db


class Neg(Function):
    """y = −x.  ∂J/∂x = −dy."""

    def forward(self, x):
        return -x

    def backward(self, dy):
        return -dy


class Pow(Function):
    """y = a^b.  ∂J/∂a = dy ⊙ b·a^(b−1), ∂J/∂b = dy ⊙ y·ln a (a > 0)."""

    def forward(self, a, b):
        self.a, self.b = a, b
        self.y = a ** b
        return self.y

    def backward(self, dy):
        xp = get_array_module(dy)
        da = dy * self.b * self.a ** (self.b - 1) if self.needs_input_grad[0] else None
        db = None
        if self.needs_input_grad[1]:
            db = dy * self.y * xp.log(xp.where(self.a > 0, self.a, 1))
        return da, db


class MatMul(Function):
    """y = a @ b, batched over leading axes as ``numpy.matmul``.

    ∂J/∂a = dy @ bᵀ,  ∂J/∂b = aᵀ @ dy  (ᵀ swaps the last two axes).

    ======  ======================  ===================
    a       ``(..., n, k)`` or (k,)
    b       ``(..., k, p)`` or (k,)
    y       ``(..., n, p)``
    ======  ======================  ===================
    """

    def forward(self, a, b):
        self.a_shape, self.b_shape = a.shape, b.shape
        # 1-D operands are promoted to matrices, as numpy.matmul does, and squeezed back.
        self.a = a[None, :] if a.ndim == 1 else a
        self.b = b[:, None] if b.ndim == 1 else b
        y = self.a @ self.b
        self.y_shape = y.shape
        return (a @ b) if (a.ndim == 1 or b.ndim == 1) else y

    def backward(self, dy):
        xp = get_array_module(dy)
        dy = dy.reshape(self.y_shape)
        da = db = None
        if self.needs_input_grad[0]:
            da = _sum_batch(dy @ xp.swapaxes(self.b, -1, -2), self.a.shape).reshape(self.a_shape)
        if self.needs_input_grad[1]:
            db = _sum_batch(xp.swapaxes(self.a, -1, -2) @ dy, self.b.shape).reshape(self.b_shape)
        return da, db


def _sum_batch(g, shape):
    """Sum a matmul gradient over the batch axes the operand did not have or broadcast."""
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    axes = tuple(i for i in range(g.ndim - 2) if shape[i] == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True) if axes else g


# -------------------------------------------------------------------- unary
class Exp(Function):
    """y = eˣ.  ∂J/∂x = dy ⊙ y."""

    def forward(self, x):
        self.y = get_array_module(x).exp(x)
        return self.y

    def backward(self, dy):
        return dy * self.y


class Log(Function):
    """y = ln x.  ∂J/∂x = dy / x."""

    def forward(self, x):
        self.x = x
        return get_array_module(x).log(x)

    def backward(self, dy):
        return dy / self.x


class Sqrt(Function):
    """y = √x.  ∂J/∂x = dy / (2y)."""

    def forward(self, x):
        self.y = get_array_module(x).sqrt(x)
        return self.y

    def backward(self, dy):
        return dy / (2 * self.y)


class Abs(Function):
    """y = |x|.  ∂J/∂x = dy ⊙ sign(x) (0 at x = 0)."""

    def forward(self, x):
        self.x = x
        return get_array_module(x).abs(x)

    def backward(self, dy):
        return dy * get_array_module(dy).sign(self.x)


class Clip(Function):
    """y = min(max(x, lo), hi).  ∂J/∂x = dy where lo ≤ x ≤ hi, else 0."""

    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    def forward(self, x):
        xp = get_array_module(x)
        self.mask = xp.ones(x.shape, bool)
        if self.lo is not None:
            self.mask &= x >= self.lo
        if self.hi is not None:
            self.mask &= x <= self.hi
        return xp.clip(x, self.lo, self.hi)

    def backward(self, dy):
        return dy * self.mask


class Maximum(Function):
    """y = max(a, b) elementwise.  The gradient goes to the larger; a tie goes to ``a``."""

    def __init__(self, take_max=True):
        self.take_max = take_max

    def forward(self, a, b):
        xp = get_array_module(a, b)
        self.a_wins = (a >= b) if self.take_max else (a <= b)
        return xp.where(self.a_wins, a, b)

    def backward(self, dy):
        return dy * self.a_wins, dy * ~self.a_wins


class Where(Function):
    """y = a where cond else b.  ∂J/∂a = dy ⊙ cond, ∂J/∂b = dy ⊙ ¬cond."""

    def __init__(self, cond):
        self.cond = cond

    def forward(self, a, b):
        return get_array_module(a, b).where(self.cond, a, b)

    def backward(self, dy):
        return dy * self.cond, dy * ~self.cond


# --------------------------------------------------------------- reductions
def _axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < builtins.max(ndim, 1):
            raise ValueError(f"axis: got {a}, expected an axis of a {ndim}-D tensor")
        out.append(a % builtins.max(ndim, 1))
    return tuple(out)


def _expand(dy, x_shape, axes, keepdims):
    """Put back the reduced axes (size 1) so ``dy`` broadcasts against the input."""
    if keepdims:
        return dy
    shape = tuple(1 if i in axes else n for i, n in enumerate(x_shape))
    return dy.reshape(shape)


class Sum(Function):
    """y = Σ_axes x.  ∂J/∂x = dy broadcast back over the summed axes."""

    def __init__(self, axis=None, keepdims=False):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        self.x_shape = x.shape
        self.axes = _axes(self.axis, x.ndim)
        return x.sum(axis=self.axes, keepdims=self.keepdims)

    def backward(self, dy):
        xp = get_array_module(dy)
        return xp.broadcast_to(_expand(dy, self.x_shape, self.axes, self.keepdims), self.x_shape)


class Max(Function):
    """y = max_axes x (or min).  ∂J/∂x = dy at the positions holding the extremum;
    when several positions tie, the gradient is shared equally among them (the
    average of the sub-gradients, which is what a finite difference sees)."""

    def __init__(self, axis=None, keepdims=False, take_max=True):
        self.axis, self.keepdims, self.take_max = axis, keepdims, take_max

    def forward(self, x):
        self.x = x
        self.axes = _axes(self.axis, x.ndim)
        if x.size == 0:
            raise ValueError("max/min of an empty tensor is not defined")
        red = x.max if self.take_max else x.min
        self.y = red(axis=self.axes, keepdims=True)
        return self.y if self.keepdims else self.y.reshape(
            tuple(n for i, n in enumerate(x.shape) if i not in self.axes))

    def backward(self, dy):
        mask = (self.x == self.y)
        count = mask.sum(axis=self.axes, keepdims=True)
        return _expand(dy, self.x.shape, self.axes, self.keepdims) * mask / count


# ------------------------------------------------------------- shape ops
class Reshape(Function):
    """y = x viewed with a new shape.  ∂J/∂x = dy reshaped back."""

    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        self.x_shape = x.shape
        return x.reshape(self.shape)

    def backward(self, dy):
        return dy.reshape(self.x_shape)


class Transpose(Function):
    """y = x with axes permuted.  ∂J/∂x = dy permuted by the inverse permutation."""

    def __init__(self, axes=None):
        self.axes = axes

    def forward(self, x):
        self.perm = tuple(self.axes) if self.axes else tuple(reversed(range(x.ndim)))
        return x.transpose(self.perm)

    def backward(self, dy):
        return dy.transpose(tuple(np.argsort(self.perm)))


class BroadcastTo(Function):
    """y = x repeated to ``shape``.  ∂J/∂x = dy summed over the repeated axes (engine)."""

    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, x):
        return get_array_module(x).broadcast_to(x, self.shape)

    def backward(self, dy):
        return dy


def _is_basic_index(index) -> bool:
    index = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, (int, np.integer, slice))
               for i in index)


class GetItem(Function):
    """y = x[index].  ∂J/∂x = zeros with dy placed at ``index``; for integer-array
    indexing, repeated indices accumulate (``x[[0, 0]]`` sends 2·dy to ``x[0]``)."""

    def __init__(self, index):
        self.index = index

    def forward(self, x):
        self.x_shape, self.x_dtype = x.shape, x.dtype
        return x[self.index]

    def backward(self, dy):
        xp = get_array_module(dy)
        dx = xp.zeros(self.x_shape, dtype=dy.dtype)
        if _is_basic_index(self.index):
            dx[self.index] = dy
        else:
            xp.add.at(dx, self.index, dy)
        return dx


class Concatenate(Function):
    """y = [x₁, x₂, ...] joined along ``axis``.  ∂J/∂xᵢ = the slice of dy that came from xᵢ."""

    def __init__(self, axis=0):
        self.axis = axis

    def forward(self, *xs):
        self.sizes = [x.shape[self.axis] for x in xs]
        return get_array_module(*xs).concatenate(xs, axis=self.axis)

    def backward(self, dy):
        xp = get_array_module(dy)
        bounds = np.cumsum(self.sizes)[:-1].tolist()
        return tuple(xp.split(dy, bounds, axis=self.axis))


class Stack(Function):
    """y = [x₁, x₂, ...] stacked on a new ``axis``.  ∂J/∂xᵢ = dy taken at index i of ``axis``."""

    def __init__(self, axis=0):
        self.axis = axis

    def forward(self, *xs):
        return get_array_module(*xs).stack(xs, axis=self.axis)

    def backward(self, dy):
        xp = get_array_module(dy)
        return tuple(xp.take(dy, i, axis=self.axis) for i in range(dy.shape[self.axis]))


class Split(Function):
    """(y₁, y₂, ...) = x cut along ``axis``.  ∂J/∂x = [dy₁, dy₂, ...] joined back."""

    def __init__(self, indices_or_sections, axis=0):
        self.sections, self.axis = indices_or_sections, axis

    def forward(self, x):
        return tuple(get_array_module(x).split(x, self.sections, axis=self.axis))

    def backward(self, *dys):
        return get_array_module(*dys).concatenate(dys, axis=self.axis)


class Pad(Function):
    """y = x surrounded by constant ``value``; ``pad_width`` as in ``numpy.pad``.
    ∂J/∂x = dy with the border cut off."""

    def __init__(self, pad_width, value=0.0):
        self.pad_width, self.value = pad_width, value

    def forward(self, x):
        self.pw = np.broadcast_to(np.asarray(self.pad_width, dtype=int), (x.ndim, 2))
        if (self.pw < 0).any():
            raise ValueError(f"pad_width: got {self.pad_width!r}, expected non-negative sizes")
        return get_array_module(x).pad(x, self.pw.tolist(), constant_values=self.value)

    def backward(self, dy):
        index = tuple(slice(lo, n - hi) for (lo, hi), n in zip(self.pw, dy.shape))
        return dy[index]


class AsType(Function):
    """y = x converted to ``dtype``.  ∂J/∂x = dy converted back (by the engine)."""

    def __init__(self, dtype):
        self.dtype = dtype

    def forward(self, x):
        return x.astype(self.dtype)

    def backward(self, dy):
        return dy


class ToDevice(Function):
    """y = x copied to ``device``.  ∂J/∂x = dy copied back to x's device."""

    def __init__(self, device):
        self.device = device

    def forward(self, x):
        self.src = backend.device_of(x)
        return backend.to_device(x, self.device)

    def backward(self, dy):
        return backend.to_device(dy, self.src)

    def __call__(self, x):
        # The one op whose input and output live on different devices.
        arr = self.forward(x.data)
        out = Tensor(arr)
        if x.requires_grad and is_recording():
            if x.creator is None:   # a leaf stays a leaf on its new device (like .cuda())
                out.requires_grad = True
                return out
            self.needs_input_grad = (True,)
            self.inputs, self.generation = [x], x.generation
            import weakref
            self.outputs = [weakref.ref(out)]
            self.output_meta = [(out.shape, out.dtype)]
            out.requires_grad, out.creator, out.generation = True, self, x.generation + 1
        return out


def is_recording():
    from ..autograd import is_grad_enabled
    return is_grad_enabled()


# ------------------------------------------------------------- wrappers
def add(a, b):
    return Add()(*_pair(a, b))


def sub(a, b):
    return Sub()(*_pair(a, b))


def mul(a, b):
    return Mul()(*_pair(a, b))


def div(a, b):
    return Div()(*_pair(a, b))


def neg(x):
    return Neg()(x)


def pow(a, b):
    return Pow()(*_pair(a, b))


def matmul(a, b):
    a, b = as_tensor(a), as_tensor(b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: operands must have at least 1 dimension, got shapes "
                         f"{a.shape} and {b.shape}")
    k_a = a.shape[-1]
    k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if k_a != k_b:
        raise ValueError(f"matmul: inner dimensions differ: a {a.shape} has {k_a} columns, "
                         f"b {b.shape} has {k_b} rows")
    return MatMul()(a, b)


def exp(x):
    return Exp()(x)


def log(x):
    return Log()(x)


def sqrt(x):
    return Sqrt()(x)


def abs(x):
    return Abs()(x)


def clip(x, a_min=None, a_max=None):
    return Clip(a_min, a_max)(x)


def maximum(a, b):
    return Maximum(True)(*_pair(a, b))


def minimum(a, b):
    return Maximum(False)(*_pair(a, b))


def where(cond, a, b):
    """``a`` where ``cond`` (a boolean array or tensor, no gradient) else ``b``."""
    cond = cond.data if isinstance(cond, Tensor) else cond
    return Where(cond)(*_pair(a, b))


def sum(x, axis=None, keepdims=False):
    return Sum(axis, keepdims)(x)


def mean(x, axis=None, keepdims=False):
    """Σ x / n, with n the number of elements reduced."""
    x = as_tensor(x)
    axes = _axes(axis, x.ndim)
    n = int(np.prod([x.shape[a] for a in axes])) if axes else 1
    return Sum(axis, keepdims)(x) * (1.0 / n)


def max(x, axis=None, keepdims=False):
    return Max(axis, keepdims, True)(x)


def min(x, axis=None, keepdims=False):
    return Max(axis, keepdims, False)(x)


def reshape(x, *shape):
    shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
    x = as_tensor(x)
    known = int(np.prod([n for n in shape if n != -1]))
    if (-1 not in shape and known != x.size) or (-1 in shape and (known == 0 or x.size % known)):
        raise ValueError(f"reshape: cannot reshape a tensor of shape {x.shape} ({x.size} "
                         f"elements) into {shape}")
    return Reshape(shape)(x)


def transpose(x, *axes):
    axes = tuple(axes[0]) if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
    return Transpose(axes or None)(x)


def flatten(x, start_axis=1):
    """Merge the axes from ``start_axis`` on: ``(m, n_H, n_W, n_C) → (m, n_H·n_W·n_C)``."""
    x = as_tensor(x)
    return reshape(x, x.shape[:start_axis] + (-1,))


def broadcast_to(x, shape):
    return BroadcastTo(shape)(x)


def getitem(x, index):
    if isinstance(index, Tensor):
        index = index.data
    elif isinstance(index, tuple):
        index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
    elif isinstance(index, list):
        index = np.asarray(index)
    return GetItem(index)(x)


def concatenate(xs, axis=0):
    return Concatenate(axis)(*xs)


def stack(xs, axis=0):
    return Stack(axis)(*xs)


def split(x, indices_or_sections, axis=0):
    return Split(indices_or_sections, axis)(x)


def pad(x, pad_width, value=0.0):
    return Pad(pad_width, value)(x)


def astype(x, dtype):
    x = as_tensor(x)
    if x.dtype == np.dtype(dtype):
        return x
    return AsType(dtype)(x)


def to_device(x, device):
    return ToDevice(backend.normalize_device(device))(as_tensor(x))
