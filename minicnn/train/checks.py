"""Finding where a NaN or an Inf came from, so training stops with the layer's name."""
from __future__ import annotations

from .. import backend
from ..autograd import no_grad

__all__ = ["NonFiniteError", "find_non_finite_layer", "check_gradients"]


class NonFiniteError(FloatingPointError):
    """The loss or a gradient became NaN or Inf; the message names the layer."""


def _finite(array) -> bool:
    xp = backend.get_array_module(array)
    return bool(xp.isfinite(array).all())


def find_non_finite_layer(model, X) -> str:
    """Run ``model(X)`` again with forward hooks and name the first leaf module whose
    output is not finite (or say that all outputs are finite: then the loss itself is)."""
    found = []

    def hook(module, inputs, output):
        if not found and hasattr(output, "data") and not _finite(output.data):
            inputs_finite = all(_finite(x.data) for x in inputs if hasattr(x, "data"))
            found.append((module, inputs_finite))

    names = {id(m): name for name, m in model.named_modules()}
    leaves = [m for _, m in model.named_modules() if not any(True for _ in m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    try:
        with no_grad():
            model(X)
    finally:
        for h in handles:
            h.remove()
    if not found:
        return "every layer's output is finite: the loss function produced it"
    module, inputs_finite = found[0]
    name = names.get(id(module), "?") or type(module).__name__
    origin = "from finite inputs" if inputs_finite else "(its input was already non-finite)"
    return f"first non-finite output: layer '{name}' ({type(module).__name__}) {origin}"


def check_gradients(model, when: str) -> None:
    """Raise :class:`NonFiniteError` naming every parameter whose gradient is NaN/Inf."""
    bad = [name for name, p in model.named_parameters()
           if p.grad is not None and not _finite(p.grad)]
    if bad:
        raise NonFiniteError(f"non-finite gradient at {when} in parameter(s): "
                             f"{', '.join(bad[:10])}" + (" ..." if len(bad) > 10 else ""))
