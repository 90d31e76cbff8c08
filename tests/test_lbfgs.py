"""L-BFGS on functions whose minimum is known: Rosenbrock and quadratics."""
from __future__ import annotations

import numpy as np
import pytest

from minicnn import Tensor
from minicnn.optim import LBFGS


def rosenbrock(x):
    """Σ_i 100·(x_{i+1} − x_i²)² + (1 − x_i)², minimum 0 at x = (1, …, 1)."""
    a, b = x[:-1], x[1:]
    return (100 * (b - a * a) ** 2 + (1 - a) ** 2).sum()


def minimise(params, fn, steps, **kw):
    opt = LBFGS(params, **kw)
    losses = []

    def closure():
        opt.zero_grad()
        J = fn()
        J.backward()
        return J

    for _ in range(steps):
        losses.append(opt.step(closure))
    return opt, losses


@pytest.mark.parametrize("line_search_fn, lr", [("strong_wolfe", 1.0), ("backtracking", 1.0),
                                                 (None, 0.5)])
def test_rosenbrock_2d(line_search_fn, lr):
    x = Tensor(np.array([-1.5, 2.0]), requires_grad=True)
    opt, losses = minimise([x], lambda: rosenbrock(x), 10, lr=lr, max_iter=30,
                           history_size=10, line_search_fn=line_search_fn)
    np.testing.assert_allclose(x.numpy(), [1.0, 1.0], atol=1e-4)
    assert rosenbrock(x).item() < 1e-8
    assert losses[0] > 10 and losses[-1] < 1e-6


def test_rosenbrock_10d_over_two_parameters():
    # Two parameters form one vector: the optimiser must flatten and split them correctly.
    rng = np.random.default_rng(0)
    p, q = (Tensor(rng.uniform(-2, 2, 5), requires_grad=True) for _ in range(2))
    from minicnn.functional import concatenate
    opt, _ = minimise([p, q], lambda: rosenbrock(concatenate([p, q])), 20, max_iter=50)
    np.testing.assert_allclose(np.concatenate([p.numpy(), q.numpy()]), np.ones(10), atol=1e-4)
    # the strong-Wolfe line search keeps the evaluations per iteration low
    mem = opt._memory
    assert mem["func_evals"] < 2.0 * mem["n_iter"] + 20


def test_quadratic_reaches_the_solution_of_the_linear_system():
    # J(x) = ½xᵀAx − bᵀx with A symmetric positive definite: minimum at A⁻¹b.
    rng = np.random.default_rng(1)
    n = 30
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    A = Q @ np.diag(np.logspace(0, 2, n)) @ Q.T               # condition number 100
    b = rng.standard_normal(n)
    x = Tensor(np.zeros(n), requires_grad=True)
    At, bt = Tensor(A), Tensor(b)
    f = lambda: 0.5 * (x * (At @ x)).sum() - (bt * x).sum()  # noqa: E731
    opt, _ = minimise([x], f, 1, max_iter=100, tolerance_grad=1e-10, tolerance_change=1e-14)
    np.testing.assert_allclose(x.numpy(), np.linalg.solve(A, b), rtol=1e-6, atol=1e-8)
    # Far fewer iterations than gradient descent would need at condition number 100.
    assert opt._memory["n_iter"] <= 2 * n


def test_float32_image_on_every_device(device):
    target = np.random.default_rng(2).uniform(0, 1, (1, 6, 6, 3)).astype(np.float32)
    G = Tensor(np.zeros_like(target), requires_grad=True, device=device)
    t = Tensor(target, device=device)
    _, losses = minimise([G], lambda: ((G - t) ** 2).sum(), 2, max_iter=10)
    assert G.dtype == np.float32 and G.device == device
    np.testing.assert_allclose(G.numpy(), target, atol=1e-4)


def test_state_dict_round_trip_continues_identically():
    def run(split):
        x = Tensor(np.array([-1.2, 1.0]), requires_grad=True)
        opt, _ = minimise([x], lambda: rosenbrock(x), 1, max_iter=5, history_size=4)
        if split:
            state = opt.state_dict()
            x2 = Tensor(x.numpy(), requires_grad=True)
            opt2 = LBFGS([x2], max_iter=5, history_size=4)
            opt2.load_state_dict(state)
            x, opt = x2, opt2

        def closure():
            opt.zero_grad()
            J = rosenbrock(x)
            J.backward()
            return J
        opt.step(closure)
        return x.numpy()

    np.testing.assert_array_equal(run(False), run(True))


def test_errors():
    x = Tensor(np.zeros(2), requires_grad=True)
    with pytest.raises(ValueError, match="needs a closure"):
        LBFGS([x]).step()
    with pytest.raises(ValueError, match="line_search_fn"):
        LBFGS([x], line_search_fn="wolfe")
    with pytest.raises(ValueError, match="lr"):
        LBFGS([x], lr=0)
