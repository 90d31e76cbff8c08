"""Numerical gradient checking: compare ``backward`` with central finite differences.

For a function f of tensors x₁..x_k with output y, draw a random cotangent v of
y's shape and look at the scalar L = Σ v ⊙ f(x). Backpropagation gives ∂L/∂xᵢ;
the central difference

    ∂L/∂x[j] ≈ (L(x + ε·e_j) − L(x − ε·e_j)) / 2ε

approximates it with an error of order ε². Small inputs are checked element by
element; for large ones each check is along a random direction u,
⟨∂L/∂x, u⟩ ≈ (L(x + εu) − L(x − εu)) / 2ε, which needs two evaluations rather
than two per element and still catches a wrong transpose or a missing sum.

Use float64 inputs: in float32, ε² and rounding error are of the same size.
"""
from __future__ import annotations

import numpy as np

from . import backend
from .autograd import Tensor, no_grad

__all__ = ["gradcheck", "GradcheckError", "numerical_grad"]


class GradcheckError(AssertionError):
    """The analytic gradient disagrees with the finite difference.

    Attributes (None where they do not apply): ``input_index``, ``index`` (the worst
    element, or None for a random-direction check), ``analytic``, ``numeric``.
    """

    def __init__(self, msg, input_index=None, index=None, analytic=None, numeric=None):
        super().__init__(msg)
        self.input_index, self.index = input_index, index
        self.analytic, self.numeric = analytic, numeric


def _loss(fn, inputs, v):
    with no_grad():
        out = fn(*inputs)
    out = out.data if isinstance(out, Tensor) else out
    xp = backend.get_array_module(out)
    return float(xp.sum(out * v))


def numerical_grad(fn, inputs, i, v, eps):
    """Central-difference gradient of Σ v ⊙ fn(*inputs) with respect to ``inputs[i]``."""
    if not inputs[i].data.flags.c_contiguous:
        inputs[i].data = inputs[i].data.copy()      # so that reshape(-1) is a view
    x = inputs[i].data
    flat = x.reshape(-1)
    grad = np.zeros(x.size)
    for j in range(x.size):
        old = flat[j].item()
        flat[j] = old + eps
        plus = _loss(fn, inputs, v)
        flat[j] = old - eps
        minus = _loss(fn, inputs, v)
        flat[j] = old
        grad[j] = (plus - minus) / (2 * eps)
    return grad.reshape(x.shape)


def gradcheck(fn, *inputs, eps=1e-6, atol=1e-5, rtol=1e-3, max_elements=2048,
              n_directions=16, seed=0, raise_exception=True) -> bool:
    """Check ``fn``'s backward against finite differences for every input that requires grad.

    Parameters
    ----------
    fn : callable taking the tensors in ``inputs`` and returning a Tensor.
    inputs : Tensors; those with ``requires_grad=True`` are checked (float64 expected).
    eps, atol, rtol : step and tolerances: |analytic − numeric| ≤ atol + rtol·|numeric|.
    max_elements : inputs up to this size are checked element by element; larger ones
        along ``n_directions`` random directions.
    seed : for the cotangent and the directions, so a failure reproduces.

    Returns True, or raises :class:`GradcheckError` naming the input, the worst
    index and both values (returns False instead with ``raise_exception=False``).
    """
    inputs = [x if isinstance(x, Tensor) else Tensor(x) for x in inputs]
    checked = [i for i, x in enumerate(inputs) if x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input has requires_grad=True, nothing to check")
    for i in checked:
        if inputs[i].dtype != np.float64:
            raise TypeError(f"gradcheck: input {i} has dtype {inputs[i].dtype}; use float64 "
                            "(finite differences in float32 are dominated by rounding error)")
    rng = np.random.default_rng(seed)

    for x in inputs:
        x.grad = None
    out = fn(*inputs)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    xp = backend.get_array_module(out.data)
    v = xp.asarray(rng.standard_normal(out.shape))
    if not out.requires_grad:
        raise GradcheckError("gradcheck: the output does not depend on any input that "
                             "requires grad (was the graph cut by detach() or no_grad?)")
    out.backward(v)

    for i in checked:
        x = inputs[i]
        analytic = np.zeros(x.shape) if x.grad is None else backend.to_numpy(x.grad)
        if analytic.shape != x.shape:
            return _fail(raise_exception, dict(input_index=i),
                         f"input {i}: gradient has shape {analytic.shape}, expected {x.shape}")
        if x.size <= max_elements:
            numeric = numerical_grad(fn, inputs, i, v, eps)
            err = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
            j = np.unravel_index(int(np.argmax(err)), x.shape) if x.size else ()
            if x.size and err[j] > 0:
                return _fail(raise_exception, dict(input_index=i, index=tuple(int(k) for k in j),
                                                   analytic=float(analytic[j]),
                                                   numeric=float(numeric[j])),
                             f"gradcheck failed for input {i} (shape {x.shape}): at index "
                             f"{tuple(int(k) for k in j)} analytic {analytic[j]:.8g} vs numeric "
                             f"{numeric[j]:.8g} (|diff| {abs(analytic[j] - numeric[j]):.3g}, "
                             f"allowed {atol + rtol * abs(numeric[j]):.3g})")
        else:
            for k in range(n_directions):
                u = rng.standard_normal(x.shape)
                u_dev = xp.asarray(u)
                saved = x.data.copy()
                x.data = saved + eps * u_dev
                plus = _loss(fn, inputs, v)
                x.data = saved - eps * u_dev
                minus = _loss(fn, inputs, v)
                x.data = saved
                numeric = (plus - minus) / (2 * eps)
                ana = float(np.sum(analytic * u))
                if abs(ana - numeric) > atol * np.sqrt(x.size) + rtol * abs(numeric):
                    return _fail(raise_exception, dict(input_index=i, analytic=ana,
                                                       numeric=numeric),
                                 f"gradcheck failed for input {i} (shape {x.shape}) along "
                                 f"random direction {k}: analytic {ana:.8g} vs numeric "
                                 f"{numeric:.8g}")
    return True


def _fail(raise_exception, details, msg):
    if raise_exception:
        raise GradcheckError(msg, **details)
    return False
