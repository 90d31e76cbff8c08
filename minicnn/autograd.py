"""Reverse-mode automatic differentiation: ``Tensor``, ``Function``, ``backward``.

How it works, in four sentences. A ``Tensor`` wraps an array (``data``) and, when it
was produced by an op while gradients were recorded, the ``Function`` that made it
(``creator``). A ``Function`` computes ``forward`` on raw arrays and keeps what its
``backward`` needs; ``backward`` turns the gradient of the loss with respect to the
outputs, ∂J/∂out, into ∂J/∂in for each input. ``Tensor.backward()`` visits the
functions of the graph from the loss back to the leaves in decreasing *generation*
(a function's generation is one more than its inputs'), so that every function runs
once, after all the gradients flowing into its outputs have been summed.

The graph is released after ``backward`` (unless ``retain_graph=True``), and only
leaves (tensors no op made, such as parameters) keep their ``grad``; intermediate
tensors keep theirs only after ``retain_grad()``.
"""
from __future__ import annotations

import contextlib
import heapq
import weakref

import numpy as np

from . import backend
from .backend import DeviceError, get_array_module

__all__ = ["Tensor", "Function", "no_grad", "enable_grad", "is_grad_enabled", "tensor",
           "as_tensor", "sum_to"]

DEFAULT_DTYPE = np.float32

# ----------------------------------------------------------------- grad mode
_grad_enabled = True
_profile = None       # the active minicnn.profile() block, which times every op; or None


def is_grad_enabled() -> bool:
    return _grad_enabled


class _GradMode(contextlib.ContextDecorator):
    def __init__(self, enabled):
        self.enabled = enabled

    def __enter__(self):
        global _grad_enabled
        self.prev, _grad_enabled = _grad_enabled, self.enabled

    def __exit__(self, *exc):
        global _grad_enabled
        _grad_enabled = self.prev
        return False


def no_grad():
    """Context manager and decorator: ops inside record no graph (inference, updates)."""
    return _GradMode(False)


def enable_grad():
    """Context manager and decorator: record the graph again inside a ``no_grad`` block."""
    return _GradMode(True)


# --------------------------------------------------------------------- helpers
def sum_to(grad, shape):
    """Sum ``grad`` over the axes that broadcasting added or stretched, to get ``shape``.

    This is the backward of broadcasting: an input of shape ``(1, n)`` used against
    ``(m, n)`` received the same value in every row, so its gradient is the row sum.
    """
    if grad.shape == tuple(shape):
        return grad
    xp = get_array_module(grad)
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1)
    out = grad.sum(axis=axes, keepdims=True) if axes else grad
    if lead:
        out = out.reshape(out.shape[lead:])
    return xp.reshape(out, shape)


def _is_float(dtype) -> bool:
    return dtype.kind == "f"


def _to_array(data, dtype=None, device=None):
    """The array behind ``Tensor(data)``: Python numbers and lists become ``DEFAULT_DTYPE``."""
    if isinstance(data, Tensor):
        data = data.data
    xp_in = get_array_module(data)
    if xp_in is np and not isinstance(data, np.ndarray):
        arr = np.asarray(data)
        if dtype is None and (arr.dtype == np.float64 and not isinstance(data, np.floating)):
            arr = arr.astype(DEFAULT_DTYPE)   # Python floats mean "the default dtype"
        data = arr
    if dtype is not None and data.dtype != np.dtype(dtype):
        data = data.astype(dtype)
    if device is not None:
        data = backend.to_device(data, device)
    elif xp_in is np and backend.get_device() != "cpu":
        data = backend.to_device(data, backend.get_device())
    return data


# ---------------------------------------------------------------------- Tensor
class Tensor:
    """An array that remembers how it was computed, so gradients can flow back to it.

    ==================  =========================================================
    attribute           meaning
    ==================  =========================================================
    ``data``            the raw array (``numpy.ndarray`` or ``cupy.ndarray``)
    ``grad``            ∂J/∂self as a raw array of the same shape and dtype, or None
    ``requires_grad``   whether ``backward`` computes ``grad`` for this tensor
    ``creator``         the ``Function`` that produced it (None for leaves)
    ==================  =========================================================

    ``Tensor(data)`` keeps the dtype of a NumPy array and makes Python numbers and
    lists float32. Only floating-point tensors may require gradients.
    """

    _is_minicnn_tensor = True
    __array_priority__ = 1000    # so that ndarray (op) Tensor defers to Tensor's operators

    def __init__(self, data, requires_grad=False, dtype=None, device=None):
        self.data = _to_array(data, dtype, device)
        self.grad = None
        self.creator = None
        self.generation = 0
        self._retain = False
        self._released = False
        self._output_index = 0
        self.requires_grad = requires_grad

    @classmethod
    def _wrap(cls, array, record):
        """An op's output: no conversion, no checks (the fast path of Function.__call__)."""
        if isinstance(array, np.generic):        # NumPy reductions return scalars
            array = np.asarray(array)
        t = cls.__new__(cls)
        t.data, t.grad, t.creator, t.generation = array, None, None, 0
        t._retain = t._released = False
        t._output_index = 0
        t._requires_grad = record and array.dtype.kind == "f"
        return t

    # -------------------------------------------------------------- properties
    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        if value and not _is_float(self.data.dtype):
            raise TypeError(f"requires_grad=True needs a floating-point tensor, got dtype "
                            f"{self.data.dtype}: gradients of integer or boolean values are "
                            "not defined; convert with .astype('float32')")
        self._requires_grad = bool(value)

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def shape(self):
        return tuple(self.data.shape)

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def size(self):
        return int(self.data.size)

    @property
    def device(self) -> str:
        return backend.device_of(self.data)

    @property
    def is_leaf(self) -> bool:
        return self.creator is None

    def __len__(self):
        return self.shape[0]

    def __repr__(self):
        body = np.array2string(backend.to_numpy(self.data), separator=", ", threshold=20,
                               prefix="Tensor(")
        extra = [f"dtype={self.dtype}"]
        if self.device != "cpu":
            extra.append(f"device='{self.device}'")
        if self.requires_grad:
            extra.append("requires_grad=True")
        return f"Tensor({body}, {', '.join(extra)})"

    def __array__(self, dtype=None, copy=None):
        if self.device != "cpu":
            raise TypeError(f"a tensor on device '{self.device}' cannot be converted to a "
                            "NumPy array implicitly; call .numpy() (it copies to the host)")
        return self.data if dtype is None else self.data.astype(dtype)

    # ---------------------------------------------------------- conversions
    def numpy(self) -> np.ndarray:
        """The data as a NumPy array on the host (a copy when on the GPU)."""
        return backend.to_numpy(self.data)

    def item(self):
        if self.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        return self.data.item()

    def tolist(self):
        return self.numpy().tolist()

    def detach(self) -> "Tensor":
        """The same data, cut from the graph (no gradient flows through it)."""
        return Tensor(self.data)

    def to(self, device) -> "Tensor":
        """This tensor on ``device``; a leaf that required gradients still does."""
        device = backend.normalize_device(device)
        if device == self.device:
            return self
        from .functional.math import to_device as _to_device
        return _to_device(self, device)

    def cuda(self):
        return self.to("cuda")

    def cpu(self):
        return self.to("cpu")

    def astype(self, dtype) -> "Tensor":
        from .functional.math import astype
        return astype(self, dtype)

    def float(self):
        return self.astype(np.float32)

    def double(self):
        return self.astype(np.float64)

    # ------------------------------------------------------------ gradients
    def zero_grad(self):
        self.grad = None

    def retain_grad(self):
        """Keep ``grad`` on this intermediate tensor after ``backward``."""
        self._retain = True
        return self

    def backward(self, grad=None, retain_graph=False):
        """Compute ∂self/∂leaf for every leaf that requires grad, accumulating into ``.grad``.

        ``grad`` is ∂J/∂self; it may be left out only when ``self`` has one element
        (a scalar loss), where it is 1.
        """
        if not self.requires_grad:
            raise RuntimeError("backward(): this tensor does not require grad; no op that "
                               "produced it had an input with requires_grad=True")
        if self._released:
            raise RuntimeError("backward(): the graph behind this tensor was already freed by "
                               "an earlier backward(); pass retain_graph=True to that call to "
                               "backpropagate twice")
        xp = get_array_module(self.data)
        if grad is None:
            if self.size != 1:
                raise RuntimeError(f"backward() on a tensor of shape {self.shape} needs an "
                                   "explicit gradient: call y.backward(dy) with dy of the "
                                   "same shape (the gradient of the loss with respect to y)")
            grad = xp.ones_like(self.data)
        else:
            grad = grad.data if isinstance(grad, Tensor) else grad
            grad = xp.asarray(grad, dtype=self.dtype) if not hasattr(grad, "shape") else grad
            if tuple(grad.shape) != self.shape:
                raise ValueError(f"backward(grad): got grad of shape {tuple(grad.shape)}, "
                                 f"expected the tensor's shape {self.shape}")
        _run_backward(self, grad, retain_graph)

    # ----------------------------------------------------- operators (lazy)
    def __add__(self, o):
        return _m().add(self, o)

    def __radd__(self, o):
        return _m().add(o, self)

    def __sub__(self, o):
        return _m().sub(self, o)

    def __rsub__(self, o):
        return _m().sub(o, self)

    def __mul__(self, o):
        return _m().mul(self, o)

    def __rmul__(self, o):
        return _m().mul(o, self)

    def __truediv__(self, o):
        return _m().div(self, o)

    def __rtruediv__(self, o):
        return _m().div(o, self)

    def __pow__(self, o):
        return _m().pow(self, o)

    def __rpow__(self, o):
        return _m().pow(o, self)

    def __matmul__(self, o):
        return _m().matmul(self, o)

    def __rmatmul__(self, o):
        return _m().matmul(o, self)

    def __neg__(self):
        return _m().neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _m().abs(self)

    def __getitem__(self, index):
        return _m().getitem(self, index)

    # Comparisons give plain arrays: they have no gradient.
    def __lt__(self, o):
        return self.data < _raw(o)

    def __le__(self, o):
        return self.data <= _raw(o)

    def __gt__(self, o):
        return self.data > _raw(o)

    def __ge__(self, o):
        return self.data >= _raw(o)

    def __eq__(self, o):
        return self.data == _raw(o)

    def __ne__(self, o):
        return self.data != _raw(o)

    __hash__ = object.__hash__

    # ------------------------------------------------------ methods (lazy)
    def reshape(self, *shape):
        return _m().reshape(self, *shape)

    def transpose(self, *axes):
        return _m().transpose(self, *axes)

    @property
    def T(self):
        return _m().transpose(self)

    def flatten(self, start_axis=0):
        return _m().flatten(self, start_axis)

    def sum(self, axis=None, keepdims=False):
        return _m().sum(self, axis, keepdims)

    def mean(self, axis=None, keepdims=False):
        return _m().mean(self, axis, keepdims)

    def max(self, axis=None, keepdims=False):
        return _m().max(self, axis, keepdims)

    def min(self, axis=None, keepdims=False):
        return _m().min(self, axis, keepdims)

    def exp(self):
        return _m().exp(self)

    def log(self):
        return _m().log(self)

    def sqrt(self):
        return _m().sqrt(self)

    def abs(self):
        return _m().abs(self)

    def clip(self, a_min=None, a_max=None):
        return _m().clip(self, a_min, a_max)

    def broadcast_to(self, shape):
        return _m().broadcast_to(self, shape)

    def relu(self):
        from .functional.activation import relu
        return relu(self)


_math = None


def _m():
    global _math
    if _math is None:
        from .functional import math
        _math = math
    return _math


def _raw(x):
    return x.data if isinstance(x, Tensor) else x


def tensor(data, requires_grad=False, dtype=None, device=None) -> Tensor:
    """Make a tensor (a copy of ``data``); lists and Python numbers become float32."""
    if isinstance(data, Tensor):
        data = data.data
    xp = get_array_module(data)
    data = xp.array(data, copy=True) if isinstance(data, xp.ndarray) else data
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, device=device)


def as_tensor(x, like: Tensor | None = None) -> Tensor:
    """``x`` as a Tensor without copying; a Python or NumPy scalar takes ``like``'s dtype
    and device, so that ``t * 2.0`` never changes ``t``'s dtype."""
    if isinstance(x, Tensor):
        return x
    if like is not None and (np.isscalar(x) or (isinstance(x, np.ndarray) and x.ndim == 0)):
        xp = get_array_module(like.data)
        dtype = like.dtype if _is_float(like.dtype) or not isinstance(x, float) else None
        return Tensor(xp.asarray(x, dtype=dtype))
    return Tensor(x)


def _check_same_device(fn, tensors):
    devices = {x.device for x in tensors}
    if len(devices) > 1:
        names = ", ".join(f"{type(x).__name__}{x.shape} on '{x.device}'" for x in tensors)
        raise DeviceError(f"{type(fn).__name__}: inputs are on different devices ({names}); "
                          "move them to one device first, e.g. x.to('cuda') or "
                          "model.to('cuda')")


# -------------------------------------------------------------------- Function
class Function:
    """One differentiable op. Subclasses define ``forward`` and ``backward`` on raw arrays.

    - ``forward(*arrays) -> array | tuple of arrays``: compute the output(s) and save
      on ``self`` only what ``backward`` needs.
    - ``backward(*grads) -> grad | tuple of grads``: given ∂J/∂output for each output,
      return ∂J/∂input for each input (``None`` for inputs that need none, such as an
      absent bias or a frozen weight: ``self.needs_input_grad[i]`` says which are needed).
      Broadcasting is undone by the engine: a gradient may have the broadcast shape.

    Hyper-parameters go to ``__init__``; tensors go to the call: ``Sum(axis=0)(x)``.
    """

    needs_input_grad: tuple = ()

    def forward(self, *xs):
        raise NotImplementedError

    def backward(self, *grads):
        raise NotImplementedError

    def label(self) -> str:
        """The op's name in a :func:`minicnn.profile` table: its class name."""
        return type(self).__name__

    def __call__(self, *inputs):
        inputs = [x if x is None or type(x) is Tensor or isinstance(x, Tensor) else as_tensor(x)
                  for x in inputs]
        present = [x for x in inputs if x is not None]
        if backend._cuda_xp is not None:      # only then can two devices meet
            _check_same_device(self, present)
        arrays = [None if x is None else x.data for x in inputs]
        self.needs_input_grad = needs = tuple(x is not None and x._requires_grad for x in inputs)
        if _profile is None:
            outs = self.forward(*arrays)
        else:
            outs = _profile.run(self, "forward", self.forward, arrays)
        single = not isinstance(outs, tuple)
        outs = (outs,) if single else outs
        record = _grad_enabled and any(needs)
        results = tuple(Tensor._wrap(o, record) for o in outs)
        if record:
            self.inputs = inputs
            self.generation = gen = max(x.generation for x in present)
            self.outputs = [weakref.ref(r) for r in results]
            self.output_meta = [(r.data.shape, r.data.dtype) for r in results]
            for i, r in enumerate(results):
                r.creator = self
                r.generation = gen + 1
                r._output_index = i
        return results[0] if single else results

    def _release(self):
        """Drop inputs and saved arrays: after this the graph behind the outputs is gone."""
        outputs = self.outputs
        self.__dict__.clear()
        for ref in outputs:
            out = ref()
            if out is not None:
                out.creator = None
                out._released = True


def _fit(t: Tensor, g):
    """``g`` with ``t``'s dtype and shape: keeps float32 networks float32 whatever flowed
    in, and undoes broadcasting."""
    if g.dtype != t.dtype:
        g = g.astype(t.dtype)
    if tuple(g.shape) != t.shape:
        g = sum_to(g, t.shape)
    return g


def _run_backward(root: Tensor, grad, retain_graph: bool):
    """Visit the graph in decreasing generation: each function after all its consumers.

    Gradients waiting for a function are kept in ``pending`` (keyed by the function,
    one slot per output), not on the output tensors, so an intermediate tensor can be
    freed as soon as the function that consumed it has run.
    """
    grad = _fit(root, grad)
    if root._retain or root.creator is None:
        root.grad = grad if root.grad is None else root.grad + grad
    if root.creator is None:
        return
    heap, pending, counter = [], {}, 0

    def send(x: Tensor, g):
        nonlocal counter
        fn = x.creator
        slots = pending.get(id(fn))
        if slots is None:
            slots = pending[id(fn)] = [None] * len(fn.outputs)
            heapq.heappush(heap, (-fn.generation, counter, fn))
            counter += 1
        i = x._output_index
        slots[i] = g if slots[i] is None else slots[i] + g

    send(root, grad)
    while heap:
        _, _, fn = heapq.heappop(heap)
        grads_out = pending.pop(id(fn))
        if any(g is None for g in grads_out):     # an unused output of a multi-output op
            xp = get_array_module(*[g for g in grads_out if g is not None])
            grads_out = [xp.zeros(shape, dtype) if g is None else g
                         for g, (shape, dtype) in zip(grads_out, fn.output_meta)]
        if _profile is None:
            grads_in = fn.backward(*grads_out)
        else:
            grads_in = _profile.run(fn, "backward", fn.backward, grads_out)
        if not isinstance(grads_in, tuple):
            grads_in = (grads_in,)
        if len(grads_in) != len(fn.inputs):
            raise RuntimeError(f"{type(fn).__name__}.backward returned {len(grads_in)} "
                               f"gradients for {len(fn.inputs)} inputs")
        for x, gx in zip(fn.inputs, grads_in):
            if x is None or gx is None or not x.requires_grad:
                continue
            gx = _fit(x, gx)
            if x.creator is None or x._retain:
                x.grad = gx if x.grad is None else x.grad + gx
            if x.creator is not None:
                send(x, gx)
        if not retain_graph:
            fn._release()
