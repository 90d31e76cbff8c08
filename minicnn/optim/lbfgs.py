"""L-BFGS: a quasi-Newton method that builds curvature from the last few steps.

Gradient descent moves along −∇J. Newton's method moves along −H⁻¹∇J, which takes
the curvature into account but needs the Hessian H. BFGS builds an approximation of
H⁻¹ from what the steps taught: after a step s_k = x_{k+1} − x_k the gradient changed
by y_k = ∇J_{k+1} − ∇J_k, and a good H⁻¹ maps y_k to s_k. L-BFGS ("limited memory")
keeps only the last ``history_size`` pairs (s_k, y_k) and applies H⁻¹ to the gradient
with the *two-loop recursion* (Nocedal & Wright, *Numerical Optimization*, Alg. 7.4):

    q ← ∇J
    for i = k−1 … k−m (newest first):  ρ_i = 1/(y_iᵀs_i);  α_i = ρ_i·s_iᵀq;  q ← q − α_i·y_i
    r ← γ·q,  γ = s_{k−1}ᵀy_{k−1} / y_{k−1}ᵀy_{k−1}      (the scale of the initial H⁻¹)
    for i = k−m … k−1 (oldest first):  β = ρ_i·y_iᵀr;  r ← r + s_i·(α_i − β)
    direction d = −r

A step length t along d is then chosen by a *line search*: ``"strong_wolfe"`` finds t
with sufficient decrease (Armijo: J(x + t·d) ≤ J(x) + c₁·t·∇Jᵀd) and a flat enough
slope (|∇J(x + t·d)ᵀd| ≤ c₂·|∇Jᵀd|), by bracketing and cubic interpolation
(Nocedal & Wright Alg. 3.5 and 3.6); ``"backtracking"`` halves t until Armijo holds;
``None`` takes the fixed step t = lr.

It is used like ``torch.optim.LBFGS``: one ``step(closure)`` runs up to ``max_iter``
iterations, calling ``closure()`` (which zeroes the gradients, computes the loss,
calls ``backward()`` and returns the loss) whenever it needs J and ∇J::

    opt = LBFGS([G], max_iter=20)
    def closure():
        opt.zero_grad()
        J = cost(G)
        J.backward()
        return J
    for _ in range(10):
        opt.step(closure)

The parameters are treated as one flat vector x (all of them, concatenated). The
vectors stay on the parameters' device and in their dtype; dot products are taken as
Python floats.
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..autograd import enable_grad, no_grad
from ..backend import get_array_module
from .optimizer import Optimizer

__all__ = ["LBFGS"]

_LINE_SEARCHES = (None, "strong_wolfe", "backtracking")


class LBFGS(Optimizer):
    """Limited-memory BFGS over all parameters as one vector.

    Parameters
    ----------
    params : iterable of tensors (e.g. ``[G]`` for the pixels of an image).
    lr : initial step length tried by the line search (the step itself without one).
    max_iter : iterations per ``step(closure)``.
    max_eval : closure evaluations per ``step`` (default ``1.25·max_iter``).
    tolerance_grad : stop when max |∇J| ≤ this.
    tolerance_change : stop when J or the step changes by less than this.
    history_size : the number m of (s, y) pairs kept.
    line_search_fn : ``"strong_wolfe"`` (default), ``"backtracking"`` or ``None``.
    """

    def __init__(self, params, lr=1.0, max_iter=20, max_eval=None, tolerance_grad=1e-7,
                 tolerance_change=1e-9, history_size=100, line_search_fn="strong_wolfe"):
        if lr <= 0:
            raise ValueError(f"LBFGS: lr must be > 0, got {lr}")
        if max_iter < 1:
            raise ValueError(f"LBFGS: max_iter must be ≥ 1, got {max_iter}")
        if history_size < 1:
            raise ValueError(f"LBFGS: history_size must be ≥ 1, got {history_size}")
        if line_search_fn not in _LINE_SEARCHES:
            raise ValueError(f"LBFGS: line_search_fn={line_search_fn!r}, expected one of "
                             f"{_LINE_SEARCHES}")
        max_eval = max_iter * 5 // 4 if max_eval is None else max_eval
        super().__init__(params, dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                                      tolerance_grad=tolerance_grad,
                                      tolerance_change=tolerance_change,
                                      history_size=history_size, line_search_fn=line_search_fn))
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS: takes one parameter group (all parameters form one vector)")
        self._params_list = self.param_groups[0]["params"]
        self._memory = {"s": [], "y": [], "rho": [], "n_iter": 0, "func_evals": 0}

    # ------------------------------------------------------ flat vectors
    def _flat_grad(self):
        xp = get_array_module(self._params_list[0].data)
        parts = [xp.zeros(p.size, p.dtype) if p.grad is None else p.grad.reshape(-1)
                 for p in self._params_list]
        return parts[0].copy() if len(parts) == 1 else xp.concatenate(parts)

    def _flat_params(self):
        xp = get_array_module(self._params_list[0].data)
        parts = [p.data.reshape(-1) for p in self._params_list]
        return parts[0].copy() if len(parts) == 1 else xp.concatenate(parts)

    def _set_params(self, x):
        offset = 0
        for p in self._params_list:
            p.data = x[offset:offset + p.size].reshape(p.shape).astype(p.dtype, copy=True)
            offset += p.size

    def _evaluate(self, closure, x):
        """J and ∇J at x (the parameters are left at x)."""
        self._set_params(x)
        with enable_grad():
            loss = closure()
        self._memory["func_evals"] += 1
        return float(loss.item() if hasattr(loss, "item") else loss), self._flat_grad()

    # ------------------------------------------------------ the iteration
    def _direction(self, g):
        """d = −H⁻¹·g by the two-loop recursion over the stored (s, y) pairs."""
        mem = self._memory
        q = -g
        if not mem["s"]:
            return q
        alphas = []
        for s, y, rho in zip(reversed(mem["s"]), reversed(mem["y"]), reversed(mem["rho"])):
            a = rho * _dot(s, q)
            q = q - a * y
            alphas.append(a)
        s, y = mem["s"][-1], mem["y"][-1]
        r = q * (_dot(s, y) / _dot(y, y))
        for (s, y, rho), a in zip(zip(mem["s"], mem["y"], mem["rho"]), reversed(alphas)):
            b = rho * _dot(y, r)
            r = r + s * (a - b)
        return r

    def _remember(self, s, y, history_size):
        ys = _dot(y, s)
        if ys > 1e-10:           # keep H⁻¹ positive definite: only pairs with curvature
            mem = self._memory
            if len(mem["s"]) == history_size:
                for k in ("s", "y", "rho"):
                    mem[k].pop(0)
            mem["s"].append(s)
            mem["y"].append(y)
            mem["rho"].append(1.0 / ys)

    def step(self, closure=None):
        """Run up to ``max_iter`` L-BFGS iterations; return the loss at the start."""
        if closure is None:
            raise ValueError("LBFGS.step needs a closure: a function that zeroes the "
                             "gradients, computes the loss, calls backward() and returns it")
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tol_grad, tol_change = group["tolerance_grad"], group["tolerance_change"]
        mem = self._memory

        with no_grad():
            x = self._flat_params()
            loss, g = self._evaluate(closure, x)
            first_loss, evals = loss, 1
            if _max_abs(g) <= tol_grad:
                return first_loss
            for it in range(max_iter):
                mem["n_iter"] += 1
                d = self._direction(g)
                gtd = _dot(g, d)
                if gtd > -tol_change:          # not a descent direction: start afresh
                    mem["s"].clear(), mem["y"].clear(), mem["rho"].clear()
                    d, gtd = -g, -_dot(g, g)
                    if gtd > -tol_change:
                        break
                # The first step ever is scaled so that it moves by at most lr in L1.
                t = min(1.0, 1.0 / _abs_sum(g)) * lr if mem["n_iter"] == 1 else lr
                prev_loss = loss
                search = group["line_search_fn"]
                if search == "strong_wolfe":
                    t, loss, g_new, n = _strong_wolfe(
                        lambda t_: self._evaluate(closure, x + t_ * d), t, d, loss, g, gtd,
                        tol_change)
                elif search == "backtracking":
                    t, loss, g_new, n = _backtracking(
                        lambda t_: self._evaluate(closure, x + t_ * d), t, loss, gtd)
                else:
                    loss, g_new = self._evaluate(closure, x + t * d)
                    n = 1
                evals += n
                s = t * d
                x = x + s
                self._set_params(x)
                self._remember(s, g_new - g, group["history_size"])
                g = g_new
                if evals >= max_eval or _max_abs(g) <= tol_grad:
                    break
                if _max_abs(s) <= tol_change or abs(loss - prev_loss) < tol_change:
                    break
        return first_loss

    # ------------------------------------------------------ state
    def state_dict(self):
        mem = self._memory
        host = lambda vs: [backend.to_numpy(v).copy() for v in vs]  # noqa: E731
        out = super().state_dict()
        out["lbfgs"] = {"s": host(mem["s"]), "y": host(mem["y"]), "rho": list(mem["rho"]),
                        "n_iter": mem["n_iter"], "func_evals": mem["func_evals"]}
        return out

    def load_state_dict(self, state_dict):
        state_dict = dict(state_dict)
        saved = state_dict.pop("lbfgs", None)
        super().load_state_dict(state_dict)
        if saved is not None:
            p = self._params_list[0]
            dev = lambda vs: [backend.to_device(np.asarray(v, dtype=p.dtype), p.device)  # noqa
                              for v in vs]
            self._memory = {"s": dev(saved["s"]), "y": dev(saved["y"]),
                            "rho": [float(r) for r in saved["rho"]],
                            "n_iter": int(saved["n_iter"]),
                            "func_evals": int(saved["func_evals"])}


# ----------------------------------------------------------------- helpers
def _dot(a, b) -> float:
    return float(get_array_module(a).vdot(a, b))


def _max_abs(v) -> float:
    return float(get_array_module(v).abs(v).max())


def _abs_sum(v) -> float:
    return float(get_array_module(v).abs(v).sum())


def _backtracking(phi, t, f0, gtd0, c1=1e-4, max_ls=30):
    """Halve t until the Armijo condition J(x + t·d) ≤ J(x) + c₁·t·∇Jᵀd holds."""
    for n in range(1, max_ls + 1):
        f, g = phi(t)
        if f <= f0 + c1 * t * gtd0 or n == max_ls:
            return t, f, g, n
        t *= 0.5


def _cubic_min(t1, f1, d1, t2, f2, d2, lo, hi):
    """Minimiser in [lo, hi] of the cubic through (t1, f1) and (t2, f2) with slopes d1, d2
    (Nocedal & Wright eq. 3.59); the midpoint when the cubic has no minimum."""
    e1 = d1 + d2 - 3 * (f1 - f2) / (t1 - t2)
    disc = e1 * e1 - d1 * d2
    if disc >= 0:
        e2 = math.copysign(math.sqrt(disc), t2 - t1)
        t = t2 - (t2 - t1) * (d2 + e2 - e1) / (d2 - d1 + 2 * e2)
        if math.isfinite(t):
            return min(max(t, lo), hi)
    return (lo + hi) / 2


def _strong_wolfe(phi, t, d, f0, g0, gtd0, tol_change, c1=1e-4, c2=0.9, max_ls=25):
    """Find t with J(t) ≤ J(0) + c₁·t·J'(0) and |J'(t)| ≤ c₂·|J'(0)| (J'(t) = ∇J(x+td)ᵀd).

    Phase 1 (N&W Alg. 3.5) grows t until an interval [lo, hi] surely holds such a t;
    phase 2 (``zoom``, Alg. 3.6) shrinks it by cubic interpolation. Returns
    ``(t, J(t), ∇J(x + t·d), evaluations)``.
    """
    n = 0
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f0, g0, gtd0
    bracket = None
    while n < max_ls:
        f, g = phi(t)
        n += 1
        gtd = _dot(g, d)
        if f > f0 + c1 * t * gtd0 or (n > 1 and f >= f_prev):
            bracket = [(t_prev, f_prev, g_prev, gtd_prev), (t, f, g, gtd)]
            break
        if abs(gtd) <= -c2 * gtd0:
            return t, f, g, n
        if gtd >= 0:
            bracket = [(t, f, g, gtd), (t_prev, f_prev, g_prev, gtd_prev)]
            break
        # Extrapolate: the next trial lies beyond t, between 1.01·t-ish and 10·t.
        t_next = _cubic_min(t_prev, f_prev, gtd_prev, t, f, gtd,
                            t + 0.01 * (t - t_prev), t * 10)
        t_prev, f_prev, g_prev, gtd_prev = t, f, g, gtd
        t = t_next
    if bracket is None:                  # out of evaluations while still descending
        return t_prev, f_prev, g_prev, n

    # zoom: lo is the best point so far (satisfies Armijo), hi the other end.
    (t_lo, f_lo, g_lo, gtd_lo), (t_hi, f_hi, g_hi, gtd_hi) = bracket
    d_scale = _max_abs(d)
    while n < max_ls:
        if abs(t_hi - t_lo) * d_scale < tol_change:
            break
        a, b = min(t_lo, t_hi), max(t_lo, t_hi)
        t = _cubic_min(t_lo, f_lo, gtd_lo, t_hi, f_hi, gtd_hi, a, b)
        # Safeguard: a trial too close to an end makes no progress; take a point inside.
        margin = 0.1 * (b - a)
        if t - a < margin or b - t < margin:
            t = (a + b) / 2
        f, g = phi(t)
        n += 1
        gtd = _dot(g, d)
        if f > f0 + c1 * t * gtd0 or f >= f_lo:
            t_hi, f_hi, g_hi, gtd_hi = t, f, g, gtd
        else:
            if abs(gtd) <= -c2 * gtd0:
                return t, f, g, n
            if gtd * (t_hi - t_lo) >= 0:
                t_hi, f_hi, g_hi, gtd_hi = t_lo, f_lo, g_lo, gtd_lo
            t_lo, f_lo, g_lo, gtd_lo = t, f, g, gtd
    return t_lo, f_lo, g_lo, n           # the best point found (t = 0: no progress)
